"""Chapter 3, exercise 2: a sleep that cannot go wrong.

Fix the home-made `sleep` so that `cut_short` prints `timed out` and `done` and
nothing else. Keep `call_later`. Check it with: python exercises/check.py 03-2
"""

import asyncio


async def sleep(delay, result=None):
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(delay, future.set_result, result)
    return await future


def show(loop, context):
    print("the loop caught:", context["message"], repr(context["exception"]))


async def cut_short():
    try:
        async with asyncio.timeout(0.01):
            await sleep(0.05)
    except TimeoutError:
        print("timed out")
    await asyncio.sleep(0.1)  # stay around until the timer fires
    print("done")


async def main():
    asyncio.get_running_loop().set_exception_handler(show)
    await cut_short()


if __name__ == "__main__":
    asyncio.run(main())
