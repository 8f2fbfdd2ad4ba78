"""The programs of chapter 3 (docs/03-event-loop.md) do what the chapter says."""

import ast
import itertools
import json
import re
import runpy

from conftest import ROOT, check_clean, run_example

CHAPTER = ROOT / "docs" / "03-event-loop.md"
TIMERS = "examples/loop/timers.py"
SOCKETS = "examples/loop/sockets.py"
ON_ASYNCIO = "examples/loop/on_asyncio.py"
NUMBER = re.compile(r"\d+ ms")


def without_times(lines):
    """The trace with its times blanked: what every run prints, however fast."""
    return [NUMBER.sub("N ms", line) for line in lines]


def iterations(lines):
    """The trace cut into iterations: lists of lines, each opened by its header."""
    cut = []
    for line in lines:
        if line.startswith("iteration "):
            cut.append([])
        cut[-1].append(line)
    return cut


def test_timers_loop_runs_the_countdowns_in_time_order():
    run = run_example(TIMERS)
    check_clean(run)
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    said = [line.strip() for line in lines if line.startswith("    ")]
    assert said == [
        "main: waiting for both",
        "fast: 3",
        "slow: 2",
        "fast: 2",  # 30 ms
        "fast: 1",  # 60 ms
        "slow: 1",  # 80 ms
    ]
    assert lines[-1] == "result: ['fast done', 'slow done']"
    # Each wake-up takes two turns: the timer's set_result, then the task's step.
    trace = without_times(lines)
    wake_up = [
        "  nothing ready: sleep N ms until the next timer",
        "  timer due: Future.set_result is ready",
        "  run Future.set_result",
    ]
    assert [trace[i : i + 3] == wake_up for i in range(len(trace))].count(True) == 5
    assert len(iterations(lines[:-1])) == 14


def test_timers_loop_sleeps_until_the_nearest_timer():
    lines = run_example(TIMERS).stdout.splitlines()
    sleeps = [int(s) for s in re.findall(r"sleep (\d+) ms", "\n".join(lines))]
    # Timers at 30, 60, 90 (fast) and 80, 160 (slow): the gaps between them.
    expected = [30, 30, 20, 10, 70]
    assert len(sleeps) == len(expected), sleeps
    pairs = zip(sleeps, expected, strict=True)
    assert all(abs(got - want) <= 5 for got, want in pairs), sleeps


def test_sockets_loop_echoes_and_shows_each_iteration():
    run = run_example(SOCKETS)
    check_clean(run)
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    said = [line.strip() for line in lines if line.startswith("    ")]
    assert said == ["client got 'hi' back", "client got 'bye' back"]
    assert lines[-1] == "result: all echoed"
    for iteration in iterations(lines[:-1]):
        # select() first, then what it made ready, then the ready callbacks.
        assert iteration[1].startswith("  select(timeout=")
        kinds = [line.split()[0] for line in iteration[2:] if line.startswith("  ")]
        kinds = [kind for kind in kinds if kind != "client"]
        assert kinds == sorted(kinds, key=["socket", "timer", "run"].index)
    # Nothing ready and no timer: select() waits for a socket, as long as it takes.
    assert "  select(timeout=None (no timer))" in lines
    # After each reply the client sleeps: select() waits for that timer.
    for reply in ("'hi'", "'bye'"):
        after = lines[lines.index(f"    client got {reply} back") + 1 :]
        assert after[0].startswith("iteration ")
        assert re.fullmatch(r"  select\(timeout=(29|30) ms\)", after[1]), after[1]
        assert after[2] == "  timer due: Future.set_result is ready"
    reads = [line for line in lines if line.startswith("  socket of ")]
    assert "  socket of Task(server) can read: Future.set_result is ready" in reads
    assert "  socket of Task(main) can read: Future.set_result is ready" in reads


def test_sockets_loop_itself_is_well_under_200_lines():
    source = (ROOT / SOCKETS).read_text().splitlines()
    start = source.index("class Future:")
    end = source.index("# The program uses only what asyncio's loop has too.")
    assert end - start < 160


def test_sockets_json_records_what_ran_when():
    run = run_example(SOCKETS, "--json")
    check_clean(run)
    slices = json.loads(run.stdout)
    names = {piece["task"] for piece in slices}
    assert {"select()", "Task(main).step", "Task(server).step"} <= names
    assert "Future.set_result" in names
    starts = [piece["start"] for piece in slices]
    assert starts == sorted(starts)
    assert all(piece["end"] >= piece["start"] for piece in slices)
    # The two 30 ms sleeps are spent waiting in select().
    waits = sorted(p["end"] - p["start"] for p in slices if p["task"] == "select()")
    assert waits[-2] > 0.025


def test_sockets_json_busiest_is_one_iteration_from_its_select():
    run = run_example(SOCKETS, "--json", "--busiest")
    check_clean(run)
    slices = json.loads(run.stdout)
    assert slices[0]["task"] == "select()" and slices[0]["start"] == 0
    assert [piece["task"] for piece in slices].count("select()") == 1
    assert len(slices) >= 3  # the busiest iteration ran at least two callbacks
    for before, after in itertools.pairwise(slices):
        assert before["end"] <= after["start"]  # one at a time, in order


def functions(path, names):
    tree = ast.parse((ROOT / path).read_text())
    return {
        node.name: ast.unparse(node)
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name in names
    }


def test_the_program_on_asyncio_is_the_same_program():
    names = {"sleep", "serve", "client", "main"}
    copied = functions(ON_ASYNCIO, names)
    assert set(copied) == names
    assert copied == functions(SOCKETS, names)


def test_on_asyncio_runs_it_and_shows_what_the_real_loop_adds():
    run = run_example(ON_ASYNCIO, python_flags=())  # debug mode comes from Runner
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "loop: _UnixSelectorEventLoop",
        "    client got 'hi' back",
        "    client got 'bye' back",
        "result: all echoed",
        "hello from a thread",
        "sum from the thread pool: 45",
    ]
    # Debug mode names the task that held the loop up, and for how long.
    slow = re.search(
        r"Executing <Task finished name='Task-2' "
        r"coro=<what_the_real_loop_adds\(\) done, .*> took (\d\.\d+) seconds",
        run.stderr,
    )
    assert slow, run.stderr
    assert float(slow[1]) >= 0.15


def test_exercise_4_awaiting_a_done_future_costs_no_iteration(capsys):
    """Chapter 3, exercise 4: `main` awaits `slow` first; the trace the page shows."""
    program = runpy.run_path(str(ROOT / TIMERS))

    async def main(loop):
        fast = loop.create_task(
            program["countdown"](loop, "fast", 3, 0.03), name="fast"
        )
        slow = loop.create_task(
            program["countdown"](loop, "slow", 2, 0.08), name="slow"
        )
        print("    main: waiting for both")
        return [await slow, await fast]

    loop = program["Loop"]()
    print("result:", loop.run_until_complete(main(loop)))
    lines = capsys.readouterr().out.splitlines()
    assert lines.count("  run Task(main).step") == 2
    assert len(iterations(lines[:-1])) == 13
    shown = re.search(r"```text\n(iteration 10 .*?)```", CHAPTER.read_text(), re.S)
    tenth = [line.startswith("iteration 10 ") for line in lines].index(True)
    assert without_times(shown[1].splitlines()) == without_times(lines[tenth:])
