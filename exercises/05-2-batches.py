"""Chapter 5, exercise 2: a pipeline step that makes batches.

Write the asynchronous generator `batched(source, size)`: lists of `size` items
of `source`, then the last, shorter one if there is one. Closing `batched` early
must close its source at once. Check it with: python exercises/check.py 05-2
"""

import asyncio
from contextlib import aclosing


async def read_lines(count):
    """The source: lines arriving over time, as from a socket or a log file."""
    try:
        for number in range(1, count + 1):
            await asyncio.sleep(0.001)  # waiting for the next line
            yield f"reading {number * 7}"
    finally:
        print("read_lines: connection closed")


async def batched(source, size):
    raise NotImplementedError("your code here")
    yield  # the yield makes batched an asynchronous generator


async def main():
    async with aclosing(batched(read_lines(7), 3)) as batches:
        async for batch in batches:
            print(batch)


if __name__ == "__main__":
    asyncio.run(main())
