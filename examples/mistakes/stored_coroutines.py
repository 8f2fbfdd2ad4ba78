"""A never-awaited coroutine whose warning points at the wrong place.

    python examples/mistakes/stored_coroutines.py          # the warning is no help
    python -X dev examples/mistakes/stored_coroutines.py   # it says where it came from

`schedule_saves` builds a list of coroutine objects and `main` forgets to await
them. The coroutines are thrown away only when `main` returns, deep inside asyncio,
so the RuntimeWarning names a line of asyncio's own code. In debug mode it also
prints where each coroutine was created, which is the line to fix.
"""

import asyncio


async def save_score(player, points):
    await asyncio.sleep(0.01)  # stands in for a write to a database
    print(f"saved {points} points for {player}")


def schedule_saves(scores):
    return [save_score(player, points) for player, points in scores.items()]


async def main():
    saves = schedule_saves({"Ada": 10, "Grace": 12})
    print(f"{len(saves)} saves scheduled")
    # The mistake: nothing awaits the coroutines in `saves`. The fix would be
    #     async with asyncio.TaskGroup() as group:
    #         for save in saves:
    #             group.create_task(save)


if __name__ == "__main__":
    asyncio.run(main())
