"""The programs of chapter 4 (docs/04-running.md) do what the chapter says."""

import asyncio
import gc
import itertools
import json
import logging
import re
import weakref

from conftest import ROOT, check_clean, run_example

CHAPTER = ROOT / "docs" / "04-running.md"
CHUNKS = {"download-a": 4, "download-b": 3, "download-c": 2}


def slices_of(*args):
    run = run_example("examples/running/timeline.py", "--json", *args)
    check_clean(run)
    slices = json.loads(run.stdout)
    assert slices, "no slices recorded"
    for piece in slices:
        assert set(piece) == {"task", "start", "end"}
        assert 0 <= piece["start"] <= piece["end"]
    return slices


def by_task(slices):
    tasks = {}
    for piece in slices:
        tasks.setdefault(piece["task"], []).append(piece)
    return tasks


def test_timeline_slices_never_overlap():
    slices = slices_of()
    for earlier, later in itertools.pairwise(slices):
        assert earlier["end"] <= later["start"], (earlier, later)


def test_timeline_tasks_start_when_main_waits_and_main_resumes_last():
    slices = slices_of()
    tasks = by_task(slices)
    assert list(tasks) == ["main", "download-a", "download-b", "download-c"]
    first_of_main, last_of_main = tasks["main"]
    assert slices[0] == first_of_main  # main runs alone first
    assert slices[-1] == last_of_main  # and resumes only after every download
    for name, chunks in CHUNKS.items():
        # One slice up to the first sleep, then one per chunk.
        assert len(tasks[name]) == chunks + 1
        assert tasks[name][0]["start"] >= first_of_main["end"]
        assert tasks[name][-1]["end"] <= last_of_main["start"]
    # The downloads get their first turns in the order they were created.
    firsts = [tasks[name][0]["start"] for name in CHUNKS]
    assert firsts == sorted(firsts)


def test_timeline_text_output_as_in_the_chapter():
    run = run_example("examples/running/timeline.py")
    check_clean(run)
    lines = run.stdout.splitlines()
    assert lines[0] == " from      to      task"
    assert lines[-4:] == [
        "main: finished",
        "download-a: finished",
        "download-b: finished",
        "download-c: finished",
    ]
    assert "\n".join(lines[-4:]) in CHAPTER.read_text()
    chart = [line for line in lines if "|" in line]
    assert [line.split("|")[0].strip() for line in chart] == ["main", *CHUNKS]


def test_timeline_failure_cancels_the_other_downloads():
    run = run_example("examples/running/timeline.py", "--fail")
    check_clean(run)
    assert run.stdout.splitlines()[-4:] == [
        "main: failed: unhandled errors in a TaskGroup (1 sub-exception)",
        "download-a: cancelled",
        "download-b: cancelled",
        "download-c: failed: connection lost at chunk 1",
    ]
    tasks = by_task(slices_of("--fail"))
    failure = tasks["download-c"][-1]
    for name in ["download-a", "download-b"]:
        # Cut short: fewer slices than a full run, the last one right after
        # download-c failed (the task handling its cancellation).
        assert len(tasks[name]) < CHUNKS[name] + 1
        assert tasks[name][-1]["start"] >= failure["end"]
    downloads_ended = max(tasks[name][-1]["end"] for name in CHUNKS)
    assert tasks["main"][-1]["start"] >= downloads_ended


def test_vanishing_task_is_destroyed_without_a_reference_only():
    run = run_example("examples/running/vanishing_task.py")
    assert run.returncode == 0, run.stderr  # asyncio's complaint is the point
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stdout.splitlines() == [
        "without a reference:",
        "  wait_for_go: stopped",
        "  main: still running, returning now",
        "with a reference:",
        "  main: still running, returning now",
        "  wait_for_go: stopped",
    ]
    assert run.stderr.count("Task was destroyed but it is pending!") == 1
    assert "coro=<wait_for_go() done" in run.stderr
    chapter = CHAPTER.read_text()
    assert "Task was destroyed but it is pending!\ntask: <Task pending" in chapter


def test_deadline_uses_answers_as_they_come_and_gives_up_in_time():
    run = run_example(
        "examples/running/deadline.py", python_flags=("-X", "dev", "-W", "error")
    )
    check_clean(run)
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    pattern = re.compile(r"(\d+\.\d\d) s  (.*)")
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    times = [float(match[1]) for match in matches]
    texts = [match[2] for match in matches]
    assert texts == [
        "the weather is fine",
        "the traffic is fine",
        "gave up on: stocks",
    ]
    weather, traffic, gave_up = times
    assert 0.1 <= weather < traffic < gave_up
    assert 0.5 <= gave_up < 0.8  # at the deadline, before stocks could answer
    for text in texts:
        assert f"  {text}\n" in CHAPTER.read_text()


def test_what_keeps_an_unreferenced_task_alive_is_what_it_waits_on():
    """Notebook 4, "Tasks outside a group": a sleeping task survives the garbage
    collector without a reference (its timer leads back to it); a task waiting on an
    event only it can reach does not. So the reference is what to rely on."""

    async def wait_for_go():
        await asyncio.Event().wait()

    async def alive_after_gc(coroutine):
        task = asyncio.create_task(coroutine)
        await asyncio.sleep(0)  # let it start waiting
        watcher = weakref.ref(task)
        del task, coroutine  # the coroutine leads to what it waits on, and back
        gc.collect()
        alive = watcher() is not None
        if alive:
            watcher().cancel()
        return alive

    async def main():
        return (
            await alive_after_gc(asyncio.sleep(0.2)),
            await alive_after_gc(wait_for_go()),
        )

    # The destroyed task is logged ("Task was destroyed but it is pending!").
    logging.getLogger("asyncio").disabled = True
    try:
        assert asyncio.run(main()) == (True, False)
    finally:
        logging.getLogger("asyncio").disabled = False
