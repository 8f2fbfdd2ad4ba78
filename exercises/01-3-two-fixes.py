"""Chapter 1, exercise 3: two fixes for the asyncio race.

`count_visit_await_between` loses updates, because it awaits between its read and
its write. Fix it twice: `count_visit_locked` holds the asyncio.Lock it is given
across the round trip; `count_visit_reordered` uses no lock, keeps the round trip,
but moves it so that the update is safe.
Check it with: python exercises/check.py 01-3
"""

import asyncio

ROUND_TRIP = 0.001  # seconds
database = {"visits": 0}


async def count_visit_await_between(lock):
    visits = database["visits"]  # read...
    await asyncio.sleep(ROUND_TRIP)  # ...a round trip: other tasks run here...
    database["visits"] = visits + 1  # ...and write back a value that may be stale


async def count_visit_locked(lock):
    raise NotImplementedError("your code here")


async def count_visit_reordered(lock):
    raise NotImplementedError("your code here")


async def serve_visits(count, lock):
    for _ in range(100):
        await count(lock)


async def count_all(count):
    database["visits"] = 0
    lock = asyncio.Lock()
    async with asyncio.TaskGroup() as tasks:
        for _ in range(4):
            tasks.create_task(serve_visits(count, lock))
    print(f"{count.__name__}: stored {database['visits']} visits")


if __name__ == "__main__":
    asyncio.run(count_all(count_visit_await_between))
    asyncio.run(count_all(count_visit_locked))
    asyncio.run(count_all(count_visit_reordered))
