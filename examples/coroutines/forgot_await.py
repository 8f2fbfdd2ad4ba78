"""The classic mistake: calling a coroutine function without awaiting it.

Run it with:  python examples/coroutines/forgot_await.py

`save_score("Ada", 10)` only *creates* a coroutine object; nothing runs it. When
the object is thrown away, Python warns that it "was never awaited", and the
score is never saved. The program still exits normally: it is a warning, not an
error, which is why this mistake is so easy to miss.
"""

import asyncio


async def save_score(player, points):
    await asyncio.sleep(0.01)  # stands in for a write to a database
    print(f"saved {points} points for {player}")


async def main():
    save_score("Ada", 10)  # the mistake: no await, so this line does nothing
    print("main finished")


if __name__ == "__main__":
    asyncio.run(main())
