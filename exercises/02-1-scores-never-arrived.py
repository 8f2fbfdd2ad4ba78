"""Chapter 2, exercise 1: the scores that never arrived.

`main` should print the three scores, [30, 50, 50]. Fix it.
Check it with: python exercises/check.py 02-1
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
