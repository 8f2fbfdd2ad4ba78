"""Record when `main` and each task of its task group run, and show it.

    python examples/running/timeline.py          # a text timeline
    python examples/running/timeline.py --fail   # one download fails midway
    python examples/running/timeline.py --json   # the raw slices, as JSON

`main` starts three downloads in an asyncio.TaskGroup, then waits at the end of
its `async with` block. Each download waits for chunks of data and spends a few
milliseconds on each chunk. The program records every stretch of time a task
runs, from the moment the event loop resumes it to its next `await`: a slice.
With --fail, download-c raises an exception at its first chunk, and the group
cancels the other two. The book draws its taskgroup-timeline figure from the
--json output of a normal run.
"""

import asyncio
import json
import sys
import time


class Timeline:
    """Notes the slices of each coroutine it runs, in seconds since it was made."""

    def __init__(self):
        self.origin = time.perf_counter()
        self.slices = []  # {"task": name, "start": seconds, "end": seconds}
        self.outcomes = {}  # task name -> "finished", "cancelled" or "failed: ..."

    def seconds(self):
        return round(time.perf_counter() - self.origin, 6)

    async def run(self, name, coro):
        """Await `coro` in the current task, noting each slice it runs."""
        try:
            result = await Sliced(coro, name, self)
        except asyncio.CancelledError:
            self.outcomes[name] = "cancelled"
            raise
        except Exception as error:
            self.outcomes[name] = f"failed: {error}"
            raise
        self.outcomes[name] = "finished"
        return result


class Sliced:
    """Steps a coroutine as its task would, timing each step.

    Chapter 2 shows the machinery: each `send` runs the coroutine up to its
    next pause, and what it yields goes up to the event loop.
    """

    def __init__(self, coro, name, timeline):
        self.coro, self.name, self.timeline = coro, name, timeline

    def __await__(self):
        resume, value = self.coro.send, None
        while True:
            start = self.timeline.seconds()
            try:
                waiting_for = resume(value)
            except StopIteration as finished:
                return finished.value
            finally:
                end = self.timeline.seconds()
                self.timeline.slices.append(
                    {"task": self.name, "start": start, "end": end}
                )
            try:
                value = yield waiting_for  # wait, as the coroutine asked to
            except BaseException as error:  # a cancellation, for one: pass it in
                resume, value = self.coro.throw, error
            else:
                resume = self.coro.send


def work_on(seconds):
    """Keep the processor busy, as parsing a chunk would: no await, no switch."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def download(chunks, every, fail_at=None):
    for chunk in range(1, chunks + 1):
        await asyncio.sleep(every)  # wait for the next chunk to arrive
        if chunk == fail_at:
            raise ConnectionError(f"connection lost at chunk {chunk}")
        work_on(0.004)  # then handle it


async def main(timeline, fail):
    work_on(0.002)  # getting ready
    async with asyncio.TaskGroup() as downloads:
        for name, chunks, every in [("a", 4, 0.04), ("b", 3, 0.05), ("c", 2, 0.09)]:
            fail_at = 1 if fail and name == "c" else None
            coro = download(chunks, every, fail_at)
            downloads.create_task(timeline.run(f"download-{name}", coro))
        work_on(0.002)  # the tasks exist, but none of them has started yet
    work_on(0.002)  # every download is done


async def record(fail):
    timeline = Timeline()
    try:
        await timeline.run("main", main(timeline, fail))
    except* ConnectionError:
        pass  # the outcome is noted in the timeline
    return timeline


def print_timeline(timeline, width=60):
    """One line per slice in time order, a chart with one row per task, outcomes."""
    slices = sorted(timeline.slices, key=lambda piece: piece["start"])
    names = list(dict.fromkeys(piece["task"] for piece in slices))
    print(" from      to      task")
    for piece in slices:
        start, end = piece["start"] * 1000, piece["end"] * 1000
        print(f"{start:3.0f} ms  {end:3.0f} ms  {piece['task']}")
    total = max(piece["end"] for piece in slices)
    print()
    for name in names:
        row = [" "] * width
        for piece in slices:
            if piece["task"] == name:  # mark the columns it covers, at least one
                first = min(int(piece["start"] / total * width), width - 1)
                last = max(first + 1, round(piece["end"] / total * width))
                row[first:last] = "#" * (last - first)
        print(f"{name:>10} |{''.join(row)}|")
    print(f"{'0 ms':>16}{f'{total * 1000:.0f} ms':>{width - 3}}")
    print()
    for name in names:
        print(f"{name}: {timeline.outcomes[name]}")


def main_program():
    fail = "--fail" in sys.argv[1:]
    timeline = asyncio.run(record(fail))
    if "--json" in sys.argv[1:]:
        slices = sorted(timeline.slices, key=lambda piece: piece["start"])
        print(json.dumps(slices, indent=1))
    else:
        print_timeline(timeline)


if __name__ == "__main__":
    main_program()
