"""Checks for chapter 5, the cookbook."""

import asyncio
import concurrent.futures
import contextlib
import inspect
import itertools
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import (
    Stopwatch,
    Verdict,
    captured,
    exercise,
    tasks_left_behind,
    ticks_during,
)


class Fetches:
    """A fetch that notes how many downloads are in progress at once."""

    def __init__(self):
        self.now = self.peak = 0

    async def fetch(self, page):
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            # Later pages are quicker, so they finish first when they overlap.
            await asyncio.sleep(0.05 - 0.003 * int(page.split("-")[1]))
        finally:
            self.now -= 1
        return f"<html of {page}>"


@exercise("05-1", "05-1-four-at-a-time.py")
def check_fetch_all(answer, report, attempt):
    pages = [f"page-{number}" for number in range(12)]
    for at_most in (4, 2):
        fetches = Fetches()
        answer.fetch = fetches.fetch
        with captured():
            results = attempt.run(
                f"fetch_all(pages, at_most={at_most})", answer.fetch_all, pages, at_most
            )
        wanted = [f"<html of {page}>" for page in pages]
        report.expect(
            results == wanted,
            f"with at_most={at_most}, the results come in the order of the pages",
            f"with at_most={at_most}, the results should be the pages' html in the"
            f" order of the pages; they were {results}",
        )
        report.expect(
            fetches.peak <= at_most,
            f"with at_most={at_most}, no more than {at_most} downloads run at once",
            f"with at_most={at_most}, {fetches.peak} downloads ran at once",
        )
        report.expect(
            fetches.peak == at_most,
            f"with at_most={at_most}, {at_most} downloads do run at once",
            f"with at_most={at_most}, only {fetches.peak} ran at once: up to"
            f" {at_most} should overlap",
        )


async def counted_lines(count, closed):
    """A source like read_lines, which notes when it is closed."""
    try:
        for number in range(1, count + 1):
            await asyncio.sleep(0.001)
            yield number
    finally:
        closed.append(True)


@exercise("05-2", "05-2-batches.py")
def check_batched(answer, report, attempt):
    report.expect(
        inspect.isasyncgenfunction(answer.batched),
        "batched is an asynchronous generator",
        "batched is not an asynchronous generator (an async def that yields)",
    )

    async def all_batches(count, size):
        closed = []
        batches = [
            batch async for batch in answer.batched(counted_lines(count, closed), size)
        ]
        return batches

    for count, size, wanted in (
        (7, 3, [[1, 2, 3], [4, 5, 6], [7]]),
        (6, 3, [[1, 2, 3], [4, 5, 6]]),
        (3, 1, [[1], [2], [3]]),
        (0, 2, []),
    ):
        got = attempt.run(
            f"batched(source of {count}, {size})", all_batches, count, size
        )
        report.expect(
            got == wanted,
            f"{count} items in batches of {size} give {wanted}",
            f"{count} items in batches of {size} should give {wanted}, not {got}",
        )

    async def close_early():
        closed = []
        batches = answer.batched(counted_lines(10, closed), 3)
        first = await anext(batches)
        await batches.aclose()
        return first, bool(closed)

    _, closed = attempt.run("closing batched after one batch", close_early)
    report.expect(
        closed,
        "closing batched early closes its source at once",
        "when batched is closed early, its source is left open (until the garbage"
        " collector gets to it): batched must close it",
    )


CHILD = """
import pathlib, sys, os, time
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(30)
"""


def gone(pid):
    """Has process `pid` ended and been reaped (no zombie left)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def wait_for_file(path, seconds=10):
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("the child program did not start")
        await asyncio.sleep(0.02)
    return int(path.read_text())


def ended(timed_out, seconds):
    return f"it did, but after {seconds:.1f} s" if timed_out else "it did not"


@exercise("05-3", "05-3-subprocess-deadline.py", seconds=60)
def check_deadline(answer, report, attempt):
    quick = [sys.executable, "-c", "print('hello')"]
    got = attempt.run(
        "run_with_deadline(quick program, 10)", answer.run_with_deadline, quick, 10
    )
    report.expect(
        got == (0, b"hello\n"),
        "a quick program gives its exit status and output: (0, b'hello\\n')",
        f"a program printing hello should give (0, b'hello\\n'), not {got!r}",
    )
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    got = attempt.run(
        "run_with_deadline(failing program, 10)", answer.run_with_deadline, failing, 10
    )
    report.expect(
        got == (3, b""),
        "a program that exits with status 3 gives (3, b'')",
        f"a program that exits with status 3 should give (3, b''), not {got!r}",
    )
    with tempfile.TemporaryDirectory() as folder:
        pid_file = Path(folder, "pid")
        sleepy = [sys.executable, "-c", CHILD, str(pid_file)]

        async def too_slow():
            call = asyncio.create_task(answer.run_with_deadline(sleepy, 2))
            pid = await wait_for_file(pid_file)
            with Stopwatch() as watch:
                try:
                    await call
                    timed_out = False
                except TimeoutError:
                    timed_out = True
            return pid, timed_out, watch.seconds

        pid, timed_out, seconds = attempt.run("run_with_deadline(sleepy, 2)", too_slow)
        report.expect(
            timed_out and seconds < 8,
            "a program that takes too long ends in TimeoutError, in time",
            "a program that sleeps for 30 s, given 2 s, should end in TimeoutError"
            f" after about 2 s; {ended(timed_out, seconds)}",
        )
        report.expect(
            gone(pid),
            "after the timeout, the program has been killed and reaped",
            "after the timeout, the program is still there (running, or a zombie"
            " nobody waited for)",
        )
        pid_file.unlink()

        async def cancelled():
            call = asyncio.create_task(answer.run_with_deadline(sleepy, 60))
            pid = await wait_for_file(pid_file)
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            return pid, call.cancelled()

        pid, was_cancelled = attempt.run("cancelling run_with_deadline", cancelled)
        report.expect(
            was_cancelled,
            "cancelling the task running it cancels it",
            "the task running it was cancelled, but did not end cancelled",
        )
        report.expect(
            gone(pid),
            "after a cancellation, the program has been killed and reaped",
            "after a cancellation, the program is still there (running, or a zombie"
            " nobody waited for)",
        )


@exercise("05-4", "05-4-context-in-executor.py")
def check_context(answer, report, attempt):
    loop_thread = threading.get_ident()

    def where_and_what(*args):
        time.sleep(0.4)  # a blocking call, as in a real executor job
        return threading.get_ident(), answer.request_id.get(), args

    async def in_executor():
        answer.request_id.set("req-99")
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            call = answer.run_in_executor_with_context(
                executor, where_and_what, 1, "two"
            )
            return await ticks_during(call)

    (thread, seen, args), gap = attempt.run("run_in_executor_with_context", in_executor)
    report.expect(
        seen == "req-99",
        "the function sees the caller's request id",
        f"the function saw the request id {seen!r}, not the caller's 'req-99'",
    )
    report.expect(
        args == (1, "two"),
        "the function gets the arguments",
        f"the function was given {args!r}, not (1, 'two')",
    )
    report.expect(
        thread != loop_thread and gap < 0.3,
        "the function runs in the executor's thread, not blocking the loop",
        f"the function ran in the event loop's thread, blocking it for {gap:.2f} s",
    )

    async def outside_untouched():
        answer.request_id.set("req-1")

        def change():
            answer.request_id.set("changed in the thread")

        await answer.run_in_executor_with_context(None, change)
        return answer.request_id.get()

    after = attempt.run("a function that sets the request id", outside_untouched)
    report.expect(
        after == "req-1",
        "a change made by the function does not leak back into the caller",
        f"the function's change leaked into the caller: it now sees {after!r}",
    )


@exercise("05-5", "05-5-both-limits.py")
def check_both_limits(answer, report, attempt):
    async def eight():
        at_once = asyncio.Semaphore(2)
        per_second = answer.TokenBucket(rate=10, capacity=1)
        gauge, starts = answer.Gauge(), []
        with Stopwatch() as watch:
            async with asyncio.TaskGroup() as tasks:
                for _ in range(8):
                    tasks.create_task(
                        answer.limited_request(at_once, per_second, gauge, starts)
                    )
        return gauge.peak, starts, watch.seconds

    peak, starts, seconds = attempt.run("eight limited_request tasks", eight)
    report.expect(
        len(starts) == 8,
        "each request notes its start",
        f"8 requests noted {len(starts)} start times",
    )
    report.expect(
        peak <= 2,
        "no more than two requests run at once",
        f"{peak} requests ran at once; the limit is two",
    )
    report.expect(
        peak == 2,
        "two requests do run at once",
        f"only {peak} ran at once: two should overlap",
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    closest = min(gaps, default=1)
    report.expect(
        closest > 0.099,
        "no two requests start less than 0.1 s apart",
        f"two requests started {closest:.3f} s apart; at most ten per second means"
        " at least 0.1 s",
    )
    report.expect(
        seconds < 2.5,
        "the eight requests take about a second, as the limits allow",
        f"the eight requests took {seconds:.1f} s; the limits allow about 1 s",
    )
    with captured():
        attempt.run("both_limits()", answer.both_limits)
    report.right("both_limits() runs")


@exercise("05-6", "05-6-queue-of-a-condition.py")
def check_rail(answer, report, attempt):
    source = inspect.getsource(answer.Rail)
    report.expect(
        "Queue" not in source and not issubclass(answer.Rail, asyncio.Queue),
        "Rail is built without a queue",
        "Rail uses a queue: the exercise asks for a Condition and a deque",
    )

    async def first_in_first_out():
        rail = answer.Rail(capacity=3)
        for item in "abc":
            await rail.put(item)
        size = rail.qsize()
        return size, [await rail.get() for _ in range(3)], rail.qsize()

    size, got, empty = attempt.run("put and get", first_in_first_out)
    report.expect(
        size == 3 and empty == 0,
        "qsize counts the items on the rail",
        f"after three puts qsize() gave {size}, and after three gets {empty}",
    )
    report.expect(
        got == ["a", "b", "c"],
        "items come out in the order they went in",
        f"put a, b, c came out as {got}",
    )

    async def get_waits():
        rail = answer.Rail(capacity=2)
        getter = asyncio.create_task(rail.get())
        await asyncio.sleep(0.05)
        waited = not getter.done()
        await rail.put("late")
        return waited, await asyncio.wait_for(getter, 5)

    waited, item = attempt.run("get on an empty rail", get_waits)
    report.expect(
        waited and item == "late",
        "get waits while the rail is empty, and gets the next item put",
        "get on an empty rail should wait for the next put, then return it"
        f" (it {'waited' if waited else 'did not wait'} and returned {item!r})",
    )

    async def put_waits():
        rail = answer.Rail(capacity=2)
        await rail.put(1)
        await rail.put(2)
        putter = asyncio.create_task(rail.put(3))
        await asyncio.sleep(0.05)
        waited = not putter.done()
        first = await rail.get()
        await asyncio.wait_for(putter, 5)
        return waited, first, rail.qsize()

    waited, first, size = attempt.run("put on a full rail", put_waits)
    report.expect(
        waited,
        "put waits while the rail is full",
        "a third put on a rail of capacity 2 did not wait",
    )
    report.expect(
        first == 1 and size == 2,
        "a get makes room, and the waiting put goes on",
        f"after a get on the full rail, it held {size} items (the get gave {first!r})",
    )

    async def cafe_with(make_rail):
        with captured() as lines:
            await answer.cafe_on(make_rail(), ["tea", "coffee", "cocoa", "juice"])
        return lines

    with_queue = asyncio.run(cafe_with(lambda: asyncio.Queue(maxsize=2)))
    with_rail = attempt.run(
        "the café on a Rail", cafe_with, lambda: answer.Rail(capacity=2)
    )
    report.expect(
        with_rail == with_queue,
        "the café runs on the Rail exactly as on asyncio.Queue(maxsize=2)",
        f"the café on a Rail printed {with_rail}, but on a queue {with_queue}",
    )


def jobs_reported(returned, lines):
    """How many jobs it says it did: its return value, or the last number printed."""
    if isinstance(returned, int) and not isinstance(returned, bool):
        return returned
    numbers = re.findall(r"(?<![\d.])\d+(?![\d.])", lines[-1] if lines else "")
    return int(numbers[-1]) if numbers else None


def until_sigterm(answer, attempt, job_seconds, grace):
    """Run serve_until_sigterm; what it returned and printed, its time, tasks left."""
    unhandled = []

    def default_handler(number, frame):  # what would have killed the process
        unhandled.append(number)

    async def timed():
        started = time.monotonic()
        with captured() as lines:
            try:
                async with asyncio.timeout(5) as deadline:
                    returned = await answer.serve_until_sigterm(job_seconds, grace)
            except TimeoutError:
                if not deadline.expired():
                    raise
                if unhandled:
                    raise Verdict(
                        "SIGTERM came, and nothing in your code handled it: without"
                        " the check, it would have ended the process at once"
                    ) from None
                raise Verdict("it had not returned 5 s after the start") from None
        seconds = time.monotonic() - started
        return returned, lines, seconds, tasks_left_behind()

    previous = signal.signal(signal.SIGTERM, default_handler)
    try:
        return attempt.run(f"serve_until_sigterm({job_seconds}, grace={grace})", timed)
    finally:
        signal.signal(signal.SIGTERM, previous)


@exercise("05-7", "05-7-grace-period.py")
def check_grace_period(answer, report, attempt):
    returned, lines, seconds, left = until_sigterm(answer, attempt, 0.2, 1)
    report.right("with jobs of 0.2 s, it handles SIGTERM and returns")
    report.expect(
        seconds >= 0.58,
        "with jobs of 0.2 s, the job in hand when SIGTERM comes is finished",
        f"with jobs of 0.2 s, it returned {seconds:.2f} s after the start: SIGTERM"
        " came at 0.5 s, in the middle of a job that should have been finished",
    )
    done = jobs_reported(returned, lines)
    last = lines[-1] if lines else ""
    report.expect(
        done == 3,
        "with jobs of 0.2 s, it reports 3 jobs done, and no new one started",
        f"with jobs of 0.2 s, SIGTERM came during job 3, so 3 jobs should be done;"
        f" it returned {returned!r} and its last line was {last!r}. Finish the job in"
        " hand, start no new one, and report the number",
    )
    report.expect(
        not left,
        "with jobs of 0.2 s, nothing is left running",
        f"with jobs of 0.2 s, {len(left)} task(s) were still running after it returned",
    )
    returned, lines, seconds, left = until_sigterm(answer, attempt, 2, 0.2)
    report.expect(
        seconds < 1.5,
        "with jobs of 2 s and a grace period of 0.2 s, the job in hand is cut short",
        f"with jobs of 2 s and a grace period of 0.2 s, it took {seconds:.1f} s: the"
        " job in hand should be cancelled when the grace period ends, 0.7 s after"
        " the start",
    )
    report.expect(
        seconds >= 0.65,
        "the job in hand gets its whole grace period",
        f"with jobs of 2 s and a grace period of 0.2 s, it returned {seconds:.2f} s"
        " after the start: the job in hand should have had 0.2 s after SIGTERM",
    )
    report.expect(
        not left,
        "when the grace period is over, the job in hand is stopped, not abandoned",
        "when the grace period was over, the job in hand was still running after"
        " serve_until_sigterm returned: cancel it, and wait until it has stopped",
    )
