"""The programs of chapter 2 (docs/02-coroutines.md) do what the chapter says."""

import re
import subprocess
import sys

from conftest import ROOT, line_number_of, run_example

CHAPTER = ROOT / "docs" / "02-coroutines.md"
NEVER_AWAITED = "RuntimeWarning: coroutine '{}' was never awaited"
NESTED_RUN = "RuntimeError: asyncio.run() cannot be called from a running event loop"
# Where a warning raised while Python shuts down says it comes from.
AT_EXIT = "<sys>:0: " if sys.version_info >= (3, 13) else "sys:1: "


def test_forgot_await_warns_and_skips_the_work():
    result = run_example("examples/coroutines/forgot_await.py")
    assert result.returncode == 0  # only a warning: the program carries on
    assert result.stdout == "main finished\n"  # and "saved ..." never happens
    assert "Traceback" not in result.stderr
    # The warning names the file and the line that made the coroutine.
    line = line_number_of(
        "examples/coroutines/forgot_await.py", 'save_score("Ada", 10)  # the mistake'
    )
    warning = f"forgot_await.py:{line}: " + NEVER_AWAITED.format("save_score")
    assert warning in result.stderr
    # The chapter shows that same line.
    assert warning in CHAPTER.read_text()


def test_forgot_await_in_dev_mode_says_where_the_coroutine_was_created():
    result = run_example("examples/coroutines/forgot_await.py")  # -X dev by default
    assert "Coroutine created at (most recent call last)" in result.stderr


def test_forgot_await_without_dev_mode_suggests_tracemalloc():
    result = run_example("examples/coroutines/forgot_await.py", python_flags=())
    assert result.returncode == 0
    assert NEVER_AWAITED.format("save_score") in result.stderr
    assert "Enable tracemalloc to get the object allocation traceback" in result.stderr


def test_nested_run_raises_then_warns_at_exit():
    result = run_example("examples/coroutines/nested_run.py")
    assert result.returncode == 1
    assert result.stdout == ""  # main never reaches its print
    last_lines = result.stderr.rstrip().splitlines()[-2:]
    assert last_lines == [NESTED_RUN, AT_EXIT + NEVER_AWAITED.format("fetch_answer")]
    # The traceback, and the chapter's copy of it, point at the nested call.
    line = line_number_of(
        "examples/coroutines/nested_run.py", "answer = asyncio.run(fetch_answer())"
    )
    frame = f'nested_run.py", line {line}, in main'
    assert frame in result.stderr
    assert frame in CHAPTER.read_text()


def test_hand_driven_coroutines_take_turns():
    result = run_example("examples/coroutines/hand_driven.py")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = [line for line in result.stdout.splitlines() if line.startswith("loop:")]
    whose_turn = [event.split()[1] for event in events]
    assert whose_turn == ["first", "second"] * 3


def test_run_cleanup_happens_in_the_documented_order():
    result = run_example("examples/coroutines/run_cleanup.py")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "main: first number is 0",
        "main: returning, long_job done? False",
        "long_job: cancelled by asyncio.run()",  # step 4: leftover tasks
        "numbers: closed by asyncio.run()",  # step 5: async generators
        "after asyncio.run(): loop closed? True",  # step 7: the loop
    ]


def test_top_level_await_in_a_script_is_a_syntax_error(tmp_path):
    """The chapter's console session with top_level_await.py."""
    script = tmp_path / "top_level_await.py"
    script.write_text("import asyncio\n\nawait asyncio.sleep(0.1)\n")
    result = run_example(script)
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith("SyntaxError: 'await' outside function")
    assert 'top_level_await.py", line 3' in result.stderr


def test_the_asyncio_repl_accepts_top_level_await():
    """The chapter's `python -m asyncio` session, fed through stdin."""
    result = subprocess.run(
        [sys.executable, "-m", "asyncio"],
        input='await asyncio.sleep(0.1, result="done")\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(r"^asyncio REPL 3\.\d+", result.stderr)
    assert 'Use "await" directly instead of "asyncio.run()".' in result.stderr
    assert "'done'" in result.stdout


def test_three_scores_never_awaited_warn_once():
    """Exercise 1: three coroutines thrown away together give one warning, not three.

    Run without -X dev, with Python's default warning filters, as a reader runs it.
    """
    result = run_example("examples/coroutines/scores_never_arrived.py", python_flags=())
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("<coroutine object fetch_score at 0x") == 3
    assert result.stderr.count(NEVER_AWAITED.format("fetch_score")) == 1
    # The one warning names a place inside asyncio, not the reader's file.
    lines = result.stderr.splitlines()
    (warning,) = [line for line in lines if "never awaited" in line]
    assert "asyncio" in warning and "events.py:" in warning
    assert "scores_never_arrived.py" not in result.stderr
    # The chapter says once, and no longer says three times.
    chapter = CHAPTER.read_text()
    assert "warns three times" not in chapter
    assert "It warns **once**" in chapter


def test_drive_without_a_loop_finds_no_running_loop():
    """Exercise 2 as a script: no loop runs, so sleep(0.1) cannot find one."""
    result = run_example("examples/coroutines/drive.py")
    assert result.returncode == 1
    assert result.stdout == "('well rested', 3)\n"
    assert result.stderr.rstrip().endswith("RuntimeError: no running event loop")


def test_drive_at_the_asyncio_prompt_resumes_before_the_future_is_done():
    """Exercise 2 at `python -m asyncio`: a loop runs, so the message differs."""
    result = subprocess.run(
        [sys.executable, "-m", "asyncio"],
        input="from examples.coroutines.drive import drive\n"
        "drive(asyncio.sleep(0.1))\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "RuntimeError: await wasn't used with future" in result.stderr
    assert "no running event loop" not in result.stderr
