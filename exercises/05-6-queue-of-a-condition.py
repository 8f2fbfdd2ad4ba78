"""Chapter 5, exercise 6: a queue made of a Condition.

Write the class `Rail`: `await put(item)` waits while the rail holds `capacity`
items, `await get()` waits while it is empty, and `qsize()` says how many it
holds. Use one asyncio.Condition and a collections.deque, and no queue.
Check it with: python exercises/check.py 05-6
"""

import asyncio


class Rail:
    """A queue of at most `capacity` items, built on one Condition."""

    def __init__(self, capacity):
        raise NotImplementedError("your code here")

    def qsize(self):
        raise NotImplementedError("your code here")

    async def put(self, item):
        raise NotImplementedError("your code here")

    async def get(self):
        raise NotImplementedError("your code here")


async def take_orders(queue, orders):
    for order in orders:
        await queue.put(order)  # waits while the rail is full
        print(f"counter: queued {order}, {queue.qsize()} waiting")
    await queue.put(None)  # "no more orders": the barista stops on this


async def make_drinks(queue):
    while (order := await queue.get()) is not None:
        await asyncio.sleep(0.01)  # making a drink takes a while
        print(f"barista: served {order}")


async def cafe_on(rail, orders):
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(take_orders(rail, orders))
        tasks.create_task(make_drinks(rail))


ORDERS = ["tea", "coffee", "cocoa", "juice"]

if __name__ == "__main__":
    asyncio.run(cafe_on(Rail(capacity=2), ORDERS))
