"""Chapter 2, Exercise 1: three coroutines made, none awaited, one warning.

Run it with:  python examples/coroutines/scores_never_arrived.py

The list holds three coroutine objects instead of three scores. They are all
thrown away at the same place, when the list is freed at the end of `main`, and
Python shows a given warning once per place: so one "never awaited" warning
appears, not three, and the place it names is inside asyncio, not this file.
"""

import asyncio


async def fetch_score(player):
    await asyncio.sleep(0.01)
    return len(player) * 10


async def main():
    scores = [fetch_score(player) for player in ["Ada", "Grace", "Linus"]]
    print(scores)


if __name__ == "__main__":
    asyncio.run(main())
