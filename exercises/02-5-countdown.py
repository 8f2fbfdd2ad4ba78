"""Chapter 2, exercise 5: a countdown you can loop over.

Write the asynchronous generator `countdown(start, interval)`, the asynchronous
context manager `launch_pad()`, and a `main` that uses them together to print:

    on the pad
    3
    2
    1
    lift-off!

Check it with: python exercises/check.py 02-5
"""

import asyncio
from contextlib import asynccontextmanager


async def countdown(start, interval):
    raise NotImplementedError("your code here")
    yield  # the yield makes countdown an asynchronous generator


@asynccontextmanager
async def launch_pad():
    raise NotImplementedError("your code here")
    yield  # the yield makes launch_pad a generator, as asynccontextmanager needs


async def main():
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    asyncio.run(main())
