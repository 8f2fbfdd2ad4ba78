"""_static/looptrace.py, the recorder behind "Watch the loop", on CPython.

The page runs it on Pyodide (tests/test_loopview.py); here it records real task
groups on this Python's own event loop, and each test reads back what it posted.
"""

import asyncio
import importlib.util
import itertools
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location(
    "looptrace", ROOT / "_static/looptrace.py"
)
looptrace = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(looptrace)


class Posts:
    """What the recorder posted: JSON texts, each a list of events."""

    def __init__(self):
        self.texts = []

    def __call__(self, text):
        self.texts.append(text)

    def events(self, kind=None, task=None):
        found = [event for text in self.texts for event in json.loads(text)]
        return [
            event
            for event in found
            if kind in (None, event["kind"]) and task in (None, event.get("task"))
        ]


async def recorded(coroutine_function):
    """Run coroutine_function() while the recorder is started: what it posted."""
    posts = Posts()
    looptrace.start(posts)
    try:
        await coroutine_function()
    finally:
        looptrace.stop()
    return posts


async def download(name, chunks):
    for _ in range(chunks):
        await asyncio.sleep(0.01)
    return name


async def three_downloads():
    async with asyncio.TaskGroup() as group:
        group.create_task(download("a", 3), name="download-a")
        group.create_task(download("b", 3), name="download-b")
        group.create_task(download("c", 3), name="download-c")


def test_a_task_group_of_three_gives_three_interleaved_rows():
    posts = asyncio.run(recorded(three_downloads))
    steps = posts.events("step")
    names = ["download-a", "download-b", "download-c"]
    assert sorted({step["task"] for step in steps}) == names
    for name in names:
        # One step to the first sleep, one after each of the three.
        assert len(posts.events("step", name)) == 4
    # The tasks take turns: one round of a, b, c after each sleep, in time order.
    order = [step["task"] for step in sorted(steps, key=lambda step: step["t0"])]
    assert order == names * 4
    for earlier, later in itertools.pairwise(steps):
        assert earlier["t0"] <= earlier["t1"] <= later["t0"]  # no two overlap
    assert {step["name"] for step in steps} == {"download"}


def test_each_pause_names_what_the_task_awaits_and_each_wake_follows_it():
    posts = asyncio.run(recorded(three_downloads))
    for name in ["download-a", "download-b", "download-c"]:
        awaits, wakes = posts.events("await", name), posts.events("wake", name)
        assert [event["on"] for event in awaits] == ["sleep 0.01"] * 3
        assert [event["how"] for event in wakes] == ["done"] * 3
        for paused, woken in zip(awaits, wakes, strict=True):
            assert woken["t"] - paused["t"] >= 0.009  # the sleep, give or take
        (done,) = posts.events("done", name)
        assert done["how"] == "returned"


async def waits_of_every_kind():
    queue, event, lock = asyncio.Queue(), asyncio.Event(), asyncio.Lock()

    async def consumer():
        await queue.get()
        await event.wait()
        async with lock:
            await asyncio.sleep(0)

    async def producer(consuming):
        await asyncio.sleep(0.01)
        queue.put_nowait("item")
        await asyncio.sleep(0.01)
        async with lock:
            event.set()
            await asyncio.sleep(0.01)
        await consuming

    async with asyncio.TaskGroup() as group:
        consuming = group.create_task(consumer(), name="consumer")
        group.create_task(producer(consuming), name="producer")


def test_the_awaits_are_named_by_what_they_wait_for():
    posts = asyncio.run(recorded(waits_of_every_kind))
    consumer = [event["on"] for event in posts.events("await", "consumer")]
    assert consumer == ["queue get", "event wait", "lock acquire", "a turn"]
    producer = [event["on"] for event in posts.events("await", "producer")]
    assert producer == ["sleep 0.01", "sleep 0.01", "sleep 0.01", "task consumer"]


async def group_that_waits():
    async def outer():
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(0.01))

    await asyncio.create_task(outer(), name="outer")


def test_a_task_waiting_at_the_end_of_its_group_says_so():
    posts = asyncio.run(recorded(group_that_waits))
    assert [event["on"] for event in posts.events("await", "outer")] == [
        "its task group"
    ]


async def one_fails_one_is_cancelled():
    async def fail():
        await asyncio.sleep(0.01)
        raise ValueError("no")

    with pytest.raises(ExceptionGroup):
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(1), name="sleeper")
            group.create_task(fail(), name="failing")


def test_how_each_task_ended_is_recorded():
    posts = asyncio.run(recorded(one_fails_one_is_cancelled))
    assert [event["how"] for event in posts.events("done", "failing")] == [
        "raised ValueError"
    ]
    assert [event["how"] for event in posts.events("done", "sleeper")] == ["cancelled"]
    assert [event["how"] for event in posts.events("wake", "sleeper")] == ["cancelled"]


def test_events_come_in_batches_at_most_every_50_ms():
    async def many_short_steps():
        for _ in range(20):
            await asyncio.sleep(0.01)

    async def main():
        started = asyncio.get_running_loop().time()
        posts = await recorded(lambda: asyncio.create_task(many_short_steps()))
        return posts, asyncio.get_running_loop().time() - started

    posts, took = asyncio.run(main())
    assert len(posts.events("step")) == 21
    # One batch per 50 ms at most, and one more for what stop() sent.
    assert len(posts.texts) <= took / looptrace.FLUSH_EVERY + 2
    assert len(posts.texts) < 21


def own_factory(loop, coro, **options):
    """A task factory of the program's own, which the recorder must keep."""
    return asyncio.Task(coro, loop=loop, **options)


def test_stop_gives_the_loop_back_its_task_factory_and_records_no_more():
    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(own_factory)
        posts = Posts()
        looptrace.start(posts)
        assert loop.get_task_factory() is not own_factory
        during = asyncio.create_task(asyncio.sleep(0.01), name="during")
        await asyncio.sleep(0)  # its first step, up to the timer
        looptrace.stop()
        assert loop.get_task_factory() is own_factory
        after = asyncio.create_task(asyncio.sleep(0), name="after")
        await asyncio.gather(during, after)
        return posts

    posts = asyncio.run(main())
    # The step before stop() is noted; the wake and the end after it are not.
    assert [event["kind"] for event in posts.events()] == ["step", "await"]
    assert posts.events(task="after") == []


def test_a_loop_made_while_recording_is_watched_too():
    # The page runs each asyncio.run on a fresh loop of the page loop's class, and
    # Pyodide's loops take turns at being the running loop: so do these two.
    async def main():
        posts = Posts()
        looptrace.start(posts)
        page_loop = asyncio.get_running_loop()
        fresh = asyncio.new_event_loop()
        asyncio.events._set_running_loop(None)
        try:
            fresh.run_until_complete(
                fresh.create_task(download("fresh", 1), name="on-the-fresh-loop")
            )
        finally:
            asyncio.events._set_running_loop(page_loop)
            looptrace.stop()
            fresh.close()
        assert fresh.get_task_factory() is None  # given back, as the page loop's
        assert "create_task" not in type(fresh).__dict__
        return posts

    posts = asyncio.run(main())
    steps = posts.events("step", "on-the-fresh-loop")
    assert [step["name"] for step in steps] == ["download", "download"]


def test_a_block_that_never_stops_switching_is_recorded_up_to_a_limit():
    async def switch_forever(times):
        for _ in range(times):
            await asyncio.sleep(0)

    async def main():
        return await recorded(lambda: asyncio.create_task(switch_forever(3000)))

    posts = asyncio.run(main())
    *events, last = posts.events()
    assert len(events) == looptrace.MAX_EVENTS
    assert last["kind"] == "full" and last["events"] == looptrace.MAX_EVENTS


def test_the_page_runners_own_tasks_are_left_out():
    # Pyodide runs the page's runner from a string: its code's file is "<exec>".
    runner = {}
    source = "async def outcome(job):\n    return await job\n"
    exec(compile(source, "<exec>", "exec"), runner)

    async def main():
        await asyncio.gather(
            asyncio.create_task(runner["outcome"](download("a", 1)), name="runner"),
            asyncio.create_task(download("b", 1), name="reader"),
        )

    posts = asyncio.run(recorded(main))
    assert {event["task"] for event in posts.events()} == {"reader"}


def test_a_recorded_task_looks_as_it_would_unrecorded():
    async def main():
        looptrace.start(Posts())
        try:
            task = asyncio.create_task(download("a", 1), name="looked-at")
            coroutine, shown = repr(task.get_coro()), repr(task)
            await task
        finally:
            looptrace.stop()
        return coroutine, shown

    coroutine, shown = asyncio.run(main())
    assert coroutine.startswith("<coroutine object download at ")
    assert shown.startswith("<Task pending name='looked-at' coro=<download() running")
