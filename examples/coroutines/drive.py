"""Chapter 2, Exercise 2: a hand-made driver meets a real asyncio.sleep.

Run it with:  python examples/coroutines/drive.py

`drive` calls send(None) until the coroutine returns. That is enough for
asyncio.sleep(0), which hands up a bare None, but asyncio.sleep(0.1) first asks
for the running event loop, and a script that has not called asyncio.run() has
none, so it fails with "no running event loop".
"""

import asyncio


def drive(coroutine):
    """Run `coroutine` to its end by hand; return its result and how often it paused."""
    pauses = 0
    while True:
        try:
            coroutine.send(None)
        except StopIteration as finished:
            return finished.value, pauses
        pauses += 1


async def three_naps():
    for _ in range(3):
        await asyncio.sleep(0)
    return "well rested"


if __name__ == "__main__":
    print(drive(three_naps()))
    drive(asyncio.sleep(0.1))
