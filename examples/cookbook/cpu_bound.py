"""CPU-heavy work: in the event loop, in threads, and in a process pool.

    python examples/cookbook/cpu_bound.py           # three ways, one after another
    python examples/cookbook/cpu_bound.py --lambda  # a classic process pool mistake

`count_primes` is pure Python arithmetic: it never waits, it only computes. The
program counts the primes below 240,000 in eight chunks, three ways, while a ticker
task asks to wake up every 50 ms. For each way it prints how long the count took
and the longest gap between two ticks: a long gap means the event loop was stuck.

1. Calling `count_primes` from a coroutine blocks the loop for the whole count.
2. `asyncio.to_thread` keeps the loop going, but the threads take turns holding
   the GIL, so the count takes as long as before.
3. `loop.run_in_executor` with a `ProcessPoolExecutor` runs the chunks in other
   processes, on other cores if the machine has them.

With `--lambda`, the work is handed to the process pool as a lambda, which cannot
be pickled, and the program fails with the error that mistake gives.
"""

import asyncio
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

LIMIT = 240_000
CHUNKS = 8
WORKERS = 2  # processes in the pool
TICK = 0.05  # seconds


def count_primes(start, stop):
    """How many primes in range(start, stop): a top-level function, so picklable."""
    count = 0
    for number in range(max(start, 2), stop):
        if all(number % divisor for divisor in range(2, int(number**0.5) + 1)):
            count += 1
    return count


def chunks():
    size = LIMIT // CHUNKS
    return [(start, start + size) for start in range(0, LIMIT, size)]


async def in_the_loop():
    return sum(count_primes(start, stop) for start, stop in chunks())


async def in_threads():
    async with asyncio.TaskGroup() as tasks:
        counts = [
            tasks.create_task(asyncio.to_thread(count_primes, start, stop))
            for start, stop in chunks()
        ]
    return sum(count.result() for count in counts)


async def in_processes(pool):
    loop = asyncio.get_running_loop()
    counts = [
        loop.run_in_executor(pool, count_primes, start, stop)  # returns a future
        for start, stop in chunks()
    ]
    return sum(await asyncio.gather(*counts))


async def ticker(done):
    """Wake up every TICK seconds until `done` is set; return the longest gap."""
    longest = 0.0
    last = time.perf_counter()
    while not done.is_set():
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    return longest


async def measure(label, work):
    done = asyncio.Event()
    async with asyncio.TaskGroup() as tasks:
        ticks = tasks.create_task(ticker(done))
        await asyncio.sleep(0)  # let the ticker start its first sleep
        started = time.perf_counter()
        total = await work
        elapsed = time.perf_counter() - started
        done.set()
    print(
        f"{label:<20} {total} primes in {elapsed:.2f} s,"
        f" longest gap between ticks {ticks.result():.2f} s"
    )


async def compare(pool):
    await measure("in the event loop:", in_the_loop())
    await measure("asyncio.to_thread:", in_threads())
    await measure("process pool:", in_processes(pool))


async def hand_over_a_lambda(pool):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, lambda: count_primes(0, 100))


def main():
    # "spawn" starts fresh interpreters, as on Windows and macOS: the same everywhere.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        # Start the worker processes now rather than during the measurement: the
        # pool starts one whenever a job arrives and no process is free.
        list(pool.map(time.sleep, [0.05] * WORKERS))
        if "--lambda" in sys.argv:
            asyncio.run(hand_over_a_lambda(pool))
        else:
            asyncio.run(compare(pool))


if __name__ == "__main__":  # required: spawned workers import this file
    main()
