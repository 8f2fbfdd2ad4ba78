"""A task nobody keeps a reference to can be garbage-collected while it waits.

    python examples/mistakes/forgotten_task.py           # the task vanishes
    python -X dev examples/mistakes/forgotten_task.py    # ... and where it was made
    python examples/mistakes/forgotten_task.py --fixed   # a reference keeps it alive

The event loop holds only weak references to tasks. A task that waits is kept alive
by whatever will wake it up: a timer, a socket, a queue that someone else holds.
`listen` waits on an inbox queue that nothing else can reach, so once the task is
waiting, the task, its coroutine and the queue are garbage that refers only to
itself. `gc.collect()` makes the collection happen at a known moment; in a real
program it happens whenever the garbage collector decides to run.
"""

import asyncio
import gc
import sys


async def listen(name):
    inbox = asyncio.Queue()  # the only reference to it is in this coroutine
    print(f"{name}: listening")
    try:
        message = await inbox.get()
        print(f"{name}: got {message}")
    finally:
        print(f"{name}: stopped")  # runs when the coroutine is thrown away


background_tasks = set()


async def main(fixed):
    if fixed:
        task = asyncio.create_task(listen("kept"))
        background_tasks.add(task)  # a strong reference keeps the task alive
        task.add_done_callback(background_tasks.discard)  # let go when it is done
    else:
        asyncio.create_task(listen("forgotten"))  # noqa: RUF006 (the mistake)
    await asyncio.sleep(0)  # let the task start and begin waiting
    gc.collect()
    await asyncio.sleep(0.05)
    print("main: done")


if __name__ == "__main__":
    asyncio.run(main(fixed="--fixed" in sys.argv))
