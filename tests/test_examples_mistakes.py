"""The programs of the mistakes gallery (docs/06-mistakes.md) show what it says.

Most of these messages are logged or printed when an object is destroyed or when
the program ends, so each example runs as a real program and its stderr is read.
What the chapter's console blocks show, word for word, is checked on every Python by
tests/test_docs_console.py; the tests here check the behaviour behind it.
"""

import asyncio
import inspect
import os
import re
import socket
import sys

import pytest
from conftest import ROOT, line_number_of, run_example

CHAPTER = ROOT / "docs" / "06-mistakes.md"
NO_DEV = ()  # python_flags for a run without development mode


def chapter():
    return CHAPTER.read_text()


def asyncio_debug_env():
    """The environment with PYTHONASYNCIODEBUG=1 and nothing else turned on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONDEV")}
    return {**env, "PYTHONASYNCIODEBUG": "1"}


# Forgetting await


def test_stored_coroutines_warning_points_into_asyncio_without_debug_mode():
    result = run_example("examples/mistakes/stored_coroutines.py", python_flags=NO_DEV)
    assert result.returncode == 0
    assert result.stdout == "2 saves scheduled\n"
    assert "saved" not in result.stdout  # the work never happened
    warning = "RuntimeWarning: coroutine 'save_score' was never awaited"
    first = result.stderr.splitlines()[0]
    assert first.endswith(warning)
    assert "asyncio" in first and "stored_coroutines.py" not in first
    assert result.stderr.count("never awaited") == 1  # once, not once per coroutine
    assert "Coroutine created at" not in result.stderr


@pytest.mark.parametrize("how", ["-X dev", "PYTHONASYNCIODEBUG=1"])
def test_stored_coroutines_debug_mode_says_where_they_were_made(how):
    if how == "-X dev":
        result = run_example("examples/mistakes/stored_coroutines.py")
    else:
        result = run_example(
            "examples/mistakes/stored_coroutines.py",
            python_flags=NO_DEV,
            env=asyncio_debug_env(),
        )
    assert "Coroutine created at (most recent call last)" in result.stderr
    made_here = "return [save_score(player, points) for player, points in"
    assert made_here in result.stderr
    assert "in schedule_saves" in result.stderr
    # Since 3.12 a list comprehension runs inline, in its function's frame (PEP 709).
    assert (", in <listcomp>" in result.stderr) == (sys.version_info < (3, 12))


# A task that vanishes


def test_forgotten_task_is_destroyed_while_pending():
    result = run_example("examples/mistakes/forgotten_task.py", python_flags=NO_DEV)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "forgotten: listening",
        "forgotten: stopped",  # its finally ran inside gc.collect()
        "main: done",
    ]
    lines = result.stderr.splitlines()
    assert lines[0] == "Task was destroyed but it is pending!"
    assert lines[1].startswith("task: <Task pending name='Task-2' coro=<listen() done")


def test_forgotten_task_in_debug_mode_shows_the_create_task_call():
    result = run_example("examples/mistakes/forgotten_task.py")
    assert "Task was destroyed but it is pending!" in result.stderr
    assert "source_traceback: Object created at (most recent call last):" in (
        result.stderr
    )
    assert 'asyncio.create_task(listen("forgotten"))' in result.stderr


def test_forgotten_task_with_a_reference_survives():
    result = run_example("examples/mistakes/forgotten_task.py", "--fixed")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "kept: listening",
        "main: done",
        "kept: stopped",
    ]


# Task exception was never retrieved


def test_never_retrieved_is_logged_and_the_program_exits_0():
    result = run_example("examples/mistakes/never_retrieved.py", python_flags=NO_DEV)
    assert result.returncode == 0  # nobody noticed
    assert result.stdout == "main: all done, or so it thinks\n"
    assert result.stderr.startswith("Task exception was never retrieved\n")
    assert "ConnectionError: mail server refused the connection" in result.stderr


def test_never_retrieved_in_debug_mode_shows_where_the_task_was_made():
    result = run_example("examples/mistakes/never_retrieved.py")
    assert "Task exception was never retrieved" in result.stderr
    assert "source_traceback: Object created at" in result.stderr
    assert "asyncio.create_task(send_report())" in result.stderr


# Blocking the event loop

SLOW_STEP = re.compile(
    r"Executing <Task finished name='Task-\d+' coro=<check_password\(\) done, .*> "
    r"took (\d+\.\d+) seconds"
)
LONGEST_GAP = re.compile(r"longest gap between heartbeats: (\d+\.\d+) s")


def test_slow_login_stalls_the_heartbeat_silently():
    result = run_example("examples/mistakes/slow_login.py", python_flags=NO_DEV)
    assert result.returncode == 0
    assert result.stderr == ""  # no message at all without debug mode
    assert float(LONGEST_GAP.search(result.stdout)[1]) >= 0.09  # asked for 0.05


def test_slow_login_in_debug_mode_logs_the_slow_step():
    result = run_example("examples/mistakes/slow_login.py")
    assert result.returncode == 0
    match = SLOW_STEP.search(result.stderr)
    assert match, result.stderr
    assert float(match[1]) >= 0.1  # only steps over slow_callback_duration are logged
    assert float(LONGEST_GAP.search(result.stdout)[1]) >= float(match[1]) - 0.02


def test_slow_login_in_a_thread_keeps_the_heartbeat():
    blocked = run_example("examples/mistakes/slow_login.py")
    fixed = run_example("examples/mistakes/slow_login.py", "--fixed")
    assert fixed.returncode == 0
    assert "Executing" not in fixed.stderr
    gap = float(LONGEST_GAP.search(fixed.stdout)[1])
    assert gap < float(LONGEST_GAP.search(blocked.stdout)[1])
    assert "digest 6e310eee80f4..." in fixed.stdout  # the same digest either way


# Streams

BUFFERED = re.compile(r"without drain: wrote 64 MiB, (\d+\.\d) MiB in memory")
DRAINED = re.compile(r"with drain: +drain\(\) held the sender after (\d+) MiB, ")


def test_no_drain_buffers_in_memory_and_drain_does_not():
    # Without -X dev: copying 64 MiB into the buffer is slow enough under the
    # development mode's memory checks for debug mode to log it as a slow step.
    result = run_example("examples/mistakes/no_drain.py", python_flags=NO_DEV)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    without = float(BUFFERED.search(result.stdout)[1])
    assert without > 32  # most of the 64 MiB waits in the sender's memory
    with_drain = re.search(r"after \d+ MiB, (\d+\.\d) MiB in memory", result.stdout)
    assert float(with_drain[1]) <= 1.1  # at most one 1 MiB write plus the high mark
    assert int(DRAINED.search(result.stdout)[1]) < 64  # drain() held the sender


def test_no_wait_closed_loses_the_end_of_the_data():
    result = run_example("examples/mistakes/no_wait_closed.py", python_flags=NO_DEV)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # lost data, and not a word about it
    received = re.search(
        r"server: received (\d+\.\d) MiB, then the upload stalled", result.stdout
    )
    assert received, result.stdout
    assert float(received[1]) < 20


def test_no_wait_closed_in_dev_mode_reports_the_unclosed_transport():
    result = run_example("examples/mistakes/no_wait_closed.py")
    assert "ResourceWarning: unclosed transport <_SelectorSocketTransport closing" in (
        result.stderr
    )
    assert "ResourceWarning: unclosed <socket.socket" in result.stderr


def test_asyncio_debug_mode_alone_does_not_show_resource_warnings():
    result = run_example(
        "examples/mistakes/no_wait_closed.py",
        python_flags=NO_DEV,
        env=asyncio_debug_env(),
    )
    assert "then the upload stalled" in result.stdout
    assert "ResourceWarning" not in result.stderr


def test_wait_closed_delivers_every_byte():
    result = run_example("examples/mistakes/no_wait_closed.py", "--fixed")
    assert result.returncode == 0
    # -X dev finds no leak. (On a busy machine, debug mode may log the 20 MiB
    # write() as a slow step: copying that much is real work.)
    assert "ResourceWarning" not in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        "client: wrote 20 MiB, closed, and returned",
        "server: received 20.0 MiB, the upload ended properly",
    ]


def test_drain_waits_from_the_high_mark_down_to_the_low_mark():
    """The chapter's figures: pause above 64 KiB, resume at 16 KiB (a quarter)."""

    async def limits_of_a_new_stream():
        here, there = socket.socketpair()
        with there:
            _, writer = await asyncio.open_connection(sock=here)
            limits = writer.transport.get_write_buffer_limits()
            writer.close()
            await writer.wait_closed()
        return limits

    assert asyncio.run(limits_of_a_new_stream()) == (16 * 1024, 64 * 1024)
    assert "quarter of the high one, 16 KiB by default" in chapter()


# Event loop is closed, at exit


def test_proactor_transports_no_longer_close_through_their_loop():
    """The chapter's history: the Windows socket transports were fixed, the
    subprocess transports still call close(), which goes through the loop."""
    from asyncio import base_subprocess, proactor_events

    socket_del = inspect.getsource(proactor_events._ProactorBasePipeTransport.__del__)
    assert "self._sock.close()" in socket_del
    assert "self.close()" not in socket_del
    process_del = inspect.getsource(base_subprocess.BaseSubprocessTransport.__del__)
    assert "self.close()" in process_del


def test_unclosed_client_says_nothing_without_dev_mode():
    result = run_example("examples/mistakes/unclosed_client.py", python_flags=NO_DEV)
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == "Ada: 12\nGrace: 10\nasyncio.run() returned\n"


def test_unclosed_client_in_dev_mode_warns_at_exit():
    result = run_example("examples/mistakes/unclosed_client.py")
    assert result.returncode == 0
    assert "Event loop is closed" not in result.stderr  # not for sockets, since 3.11
    assert "ResourceWarning: unclosed <socket.socket fd=" in result.stderr
    assert "ResourceWarning: unclosed transport <_" in result.stderr


def test_asyncio_debug_mode_alone_does_not_show_the_unclosed_client():
    result = run_example(
        "examples/mistakes/unclosed_client.py",
        python_flags=NO_DEV,
        env=asyncio_debug_env(),
    )
    assert result.returncode == 0
    assert result.stderr == ""


def test_unclosed_client_with_tracemalloc_says_where_the_socket_was_opened():
    result = run_example(
        "examples/mistakes/unclosed_client.py",
        python_flags=("-X", "dev", "-X", "tracemalloc=20"),
    )
    opened = line_number_of(
        "examples/mistakes/unclosed_client.py", "await asyncio.open_connection("
    )
    assert (
        f'unclosed_client.py", lineno {opened}\n'
        "    self.reader, self.writer = await asyncio.open_connection(\n"
    ) in result.stderr


def test_unclosed_client_closed_with_async_with_is_clean():
    result = run_example("examples/mistakes/unclosed_client.py", "--fixed")
    assert result.returncode == 0
    assert result.stderr == ""  # -X dev finds nothing left open
    assert result.stdout == "Ada: 12\nGrace: 10\nasyncio.run() returned\n"


def test_forgotten_process_prints_event_loop_is_closed_at_exit():
    result = run_example("examples/mistakes/forgotten_process.py", python_flags=NO_DEV)
    assert result.returncode == 0  # only printed, never raised
    assert result.stdout.splitlines() == [
        "found converter 2.1; asyncio.run() returned",
        "the program is done",
    ]
    assert "Exception ignored in: <function BaseSubprocessTransport.__del__" in (
        result.stderr
    )
    assert result.stderr.splitlines()[-1] == "RuntimeError: Event loop is closed"
    # Python 3.11's child watcher, a thread, also finds the loop closed (Linux).
    watcher_line = "that handles pid" in result.stderr.splitlines()[0]
    if sys.platform == "linux":
        assert watcher_line == (sys.version_info < (3, 12))


def test_forgotten_process_in_dev_mode_names_the_unclosed_transport():
    result = run_example("examples/mistakes/forgotten_process.py")
    assert result.returncode == 0
    warning = "ResourceWarning: unclosed transport <_UnixSubprocessTransport pid="
    if sys.platform != "win32":
        assert warning in result.stderr
        assert result.stderr.index(warning) < result.stderr.index("Exception ignored")
    assert "RuntimeError: Event loop is closed" in result.stderr


def test_forgotten_process_waited_for_is_clean():
    result = run_example("examples/mistakes/forgotten_process.py", "--fixed")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "found converter 2.1; asyncio.run() returned",
        "the program is done",
    ]


def test_chapter_never_advises_wait_after_kill():
    """kill() then wait() can hang on a full pipe (the chapter's own block shows
    it): wherever the chapter pairs kill() with a way to reap, it is communicate()."""
    text = " ".join(chapter().split())
    assert not re.search(
        r"kill\(\)`? (and )?then `await (helper|process)\.wait\(\)", text
    )
    assert "stop it with `helper.kill()` and then `await helper.communicate()`" in text
    assert "wait() after kill(): still waiting after 0.5 s" in text


# get_event_loop()


def test_get_event_loop_note_agrees_with_chapter_90():
    """The releases that warned, said the same way in both chapters."""
    releases = "3.10.0 to 3.10.9, 3.11.0 and 3.11.1"
    older = (ROOT / "docs" / "90-reading-older-code.md").read_text()
    assert releases in " ".join(chapter().split())
    assert releases in " ".join(older.split())


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14 raises at once")
def test_get_event_loop_makes_a_loop_then_refuses():
    result = run_example("examples/mistakes/get_event_loop.py")
    assert result.returncode == 0, result.stderr
    assert "ResourceWarning: unclosed event loop" in result.stderr  # -X dev
    top_level, in_coroutine, after_run = result.stdout.splitlines()
    assert top_level.startswith("at the top level: ")  # the class depends on the OS
    assert top_level.endswith("EventLoop, running: False")
    assert in_coroutine == "inside a coroutine: the running loop? True"
    assert after_run == (
        "after asyncio.run(): There is no current event loop in thread 'MainThread'."
    )
    # -X dev shows DeprecationWarnings: 3.11 (from 3.11.2 on) has none to show.
    deprecation = "DeprecationWarning: There is no current event loop"
    if sys.version_info >= (3, 12):
        assert deprecation in result.stderr
    else:
        assert "DeprecationWarning" not in result.stderr


@pytest.mark.skipif(sys.version_info < (3, 14), reason="the 3.14 behaviour")
def test_get_event_loop_raises_from_python_3_14():
    result = run_example("examples/mistakes/get_event_loop.py")
    assert result.returncode == 1
    assert "RuntimeError: There is no current event loop" in result.stderr


def test_chapter_quotes_the_exact_messages():
    """Messages the chapter shows in text blocks, as this Python prints them."""
    text = chapter()
    for message in [
        "Task was destroyed but it is pending!",
        "Task exception was never retrieved",
        "RuntimeError: asyncio.run() cannot be called from a running event loop",
        "TypeError: Passing coroutines is forbidden, use tasks explicitly.",
        "TypeError: object NoneType can't be used in 'await' expression",
        "RuntimeError: There is no current event loop in thread 'MainThread'.",
        "got Future <Future pending> attached to a different loop",
        "RuntimeError: Event loop is closed",
    ]:
        assert message in text, message
