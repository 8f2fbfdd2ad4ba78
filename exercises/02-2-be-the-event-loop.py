"""Chapter 2, exercise 2: be the event loop.

Write `drive(coroutine)`: run the coroutine to completion by calling `send(None)`
over and over, and return its result and the number of times it paused.
Check it with: python exercises/check.py 02-2
"""

import asyncio


async def three_naps():
    for _ in range(3):
        await asyncio.sleep(0)
    return "well rested"


def drive(coroutine):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    print(drive(three_naps()))  # should print ('well rested', 3)
