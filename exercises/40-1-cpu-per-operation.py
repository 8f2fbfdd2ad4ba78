"""Chapter 40, exercise 1: CPU per operation, not wall time.

Write `cpu_per_operation(work, count)`: await `work()` `count` times, and return
how many microseconds of this process's CPU time each call took, on average.
Check it with: python exercises/check.py 40-1
"""

import asyncio
import time


async def cpu_per_operation(work, count):
    raise NotImplementedError("your code here")


async def nap():
    await asyncio.sleep(0.01)  # 10 ms of waiting


async def spin():
    done = time.process_time() + 0.002  # 2 ms of computing
    while time.process_time() < done:
        pass


async def main():
    for work in (nap, spin):
        microseconds = await cpu_per_operation(work, 20)
        print(f"{work.__name__}: {microseconds:,.0f} us of CPU per call")


if __name__ == "__main__":
    asyncio.run(main())
