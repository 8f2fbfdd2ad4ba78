"""Four asyncio tasks count page visits in a shared "database".

    python examples/intro/race_asyncio.py                  # no update is lost
    python examples/intro/race_asyncio.py --await-between  # updates are lost

All tasks share one thread, and the event loop switches tasks only where a task
awaits. With no `await` between reading the counter and writing it, no other task
can run in between, so no update can be lost. Move the round trip between the
read and the write, and the race of the threaded version is back.
"""

import asyncio
import sys

TASKS = 4
VISITS_PER_TASK = 100
ROUND_TRIP = 0.001  # seconds

database = {"visits": 0}


async def count_visit():
    await asyncio.sleep(ROUND_TRIP)  # a round trip first: other tasks run here
    visits = database["visits"]  # read...
    database["visits"] = visits + 1  # ...and write, with no await in between


async def count_visit_await_between():
    visits = database["visits"]  # read...
    await asyncio.sleep(ROUND_TRIP)  # ...a round trip: other tasks run here...
    database["visits"] = visits + 1  # ...and write back a value that may be stale


async def serve_visits(count):
    for _ in range(VISITS_PER_TASK):
        await count()


async def main(count):
    async with asyncio.TaskGroup() as tasks:
        for _ in range(TASKS):
            tasks.create_task(serve_visits(count))
    expected = TASKS * VISITS_PER_TASK
    stored = database["visits"]
    lost = expected - stored
    print(f"expected {expected} visits, stored {stored}: lost {lost} updates")


if __name__ == "__main__":
    if "--await-between" in sys.argv[1:]:
        asyncio.run(main(count_visit_await_between))
    else:
        asyncio.run(main(count_visit))
