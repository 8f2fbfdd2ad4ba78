"""One blocking call inside a task stops every other task: a ticker shows it.

    python examples/intro/blocking.py          # time.sleep(), then asyncio.to_thread()
    python -X dev examples/intro/blocking.py   # debug mode also names the culprit

A ticker task wants to wake up every 0.1 s. A second task makes a slow call that
takes 0.5 s: first a blocking one, `time.sleep(0.5)`, standing for any synchronous
library call; then the same call handed to a worker thread with
`asyncio.to_thread()`, which the task awaits.
"""

import asyncio
import time

TICK = 0.1  # seconds between the ticker's wake-ups
TICKS = 6
SLOW_CALL = 0.5  # seconds


async def ticker(started):
    """Wake up every TICK seconds; return the longest gap between two wake-ups."""
    longest = 0.0
    last = started
    for _ in range(TICKS):
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        gap = now - last
        longest = max(longest, gap)
        late = "  <- late!" if gap > 2 * TICK else ""
        print(f"  tick at {now - started:.2f} s, {gap:.2f} s after the last one{late}")
        last = now
    return longest


async def blocking_call():
    await asyncio.sleep(0.15)
    time.sleep(SLOW_CALL)  # blocks the thread, and with it the event loop


async def call_in_thread():
    await asyncio.sleep(0.15)
    await asyncio.to_thread(time.sleep, SLOW_CALL)  # waits without blocking


async def run_beside_ticker(slow_call):
    started = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        ticks = tasks.create_task(ticker(started), name="ticker")
        tasks.create_task(slow_call(), name="slow call")
    print(f"  longest gap between ticks: {ticks.result():.2f} s (asked for {TICK} s)")


def main():
    print("time.sleep() inside a task:")
    asyncio.run(run_beside_ticker(blocking_call))
    print("asyncio.to_thread(time.sleep, ...):")
    asyncio.run(run_beside_ticker(call_in_thread))


if __name__ == "__main__":
    main()
