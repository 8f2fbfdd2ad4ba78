"""Record when each task runs between two awaits, and print it as a timeline.

    python examples/intro/timeline.py          # a text timeline
    python examples/intro/timeline.py --json   # the raw slices, as JSON

Two downloads receive chunks of data and parse each one; a ticker wakes up
regularly to redraw a progress display. Each task runs in slices: from the moment
the event loop resumes it to its next `await` (or its end). The program records
every slice (task name, start, end, in seconds since the start) and prints them.
The book draws its task-timeline figure from the `--json` output.
"""

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass


@dataclass
class Slice:
    task: str
    start: float
    end: float


class Recorder:
    """Collects the slices of every task it runs."""

    def __init__(self):
        self.started = time.perf_counter()
        self.slices = []

    def now(self):
        """Seconds since the recorder was made, to the microsecond."""
        return round(time.perf_counter() - self.started, 6)

    async def run(self, coro):
        """Run `coro` in the current task, recording each slice it runs."""
        return await Stepped(coro, self)


class Stepped:
    """Drive a coroutine one step at a time, as a task does, timing each step.

    A step is what a coroutine runs when resumed, up to where it next waits.
    Chapter 2 shows the machinery (`send`, `yield`); here, only the timing matters.
    """

    def __init__(self, coro, recorder):
        self.coro = coro
        self.recorder = recorder

    def __await__(self):
        name = asyncio.current_task().get_name()
        step, value = self.coro.send, None
        while True:
            start = self.recorder.now()
            try:
                waiting_for = step(value)  # run until the coroutine's next wait
            except StopIteration as finished:
                return finished.value
            finally:
                self.recorder.slices.append(Slice(name, start, self.recorder.now()))
            try:
                value = yield waiting_for  # the event loop resumes us when it is done
            except BaseException as error:  # cancellation, for one: pass it on
                step, value = self.coro.throw, error
            else:
                step = self.coro.send


def parse(seconds):
    """Busy the CPU for a while, as parsing data would: no await, no switch."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def download(chunks, arrives_every, parse_time):
    for _ in range(chunks):
        await asyncio.sleep(arrives_every)  # wait for the next chunk to arrive
        parse(parse_time)  # then work on it: nobody else runs meanwhile


async def ticker(ticks, every):
    for _ in range(ticks):
        await asyncio.sleep(every)
        parse(0.003)  # redraw the progress display


async def record_run():
    recorder = Recorder()
    async with asyncio.TaskGroup() as tasks:
        for name, coro in [
            ("download-a", download(chunks=5, arrives_every=0.06, parse_time=0.015)),
            ("download-b", download(chunks=4, arrives_every=0.08, parse_time=0.025)),
            ("ticker", ticker(ticks=5, every=0.1)),
        ]:
            tasks.create_task(recorder.run(coro), name=name)
    return recorder.slices


def print_timeline(slices, width=60):
    """One line per slice in time order, then a chart: one row per task."""
    print(" from      to      task")
    for piece in slices:
        print(f"{piece.start * 1000:3.0f} ms  {piece.end * 1000:3.0f} ms  {piece.task}")
    total = max(piece.end for piece in slices)
    print()
    for name in sorted({piece.task for piece in slices}):
        row = [" "] * width
        for piece in slices:
            if piece.task == name:  # mark the columns this slice covers, at least one
                first = min(int(piece.start / total * width), width - 1)
                last = max(first + 1, round(piece.end / total * width))
                row[first:last] = "#" * (last - first)
        print(f"{name:>10} |{''.join(row)}|")
    print(f"{'0 ms':>16}{f'{total * 1000:.0f} ms':>{width - 3}}")


def main():
    slices = asyncio.run(record_run())
    slices.sort(key=lambda piece: piece.start)
    if "--json" in sys.argv[1:]:
        print(json.dumps([asdict(piece) for piece in slices], indent=1))
    else:
        print_timeline(slices)


if __name__ == "__main__":
    main()
