"""A task nobody keeps a reference to can be destroyed mid-flight.

    python examples/running/vanishing_task.py

The event loop holds only weak references to tasks. A task that waits for
something only it can reach is garbage as far as Python can tell, and the
garbage collector destroys it: asyncio logs "Task was destroyed but it is
pending!". The program shows that happening, then the usual cure: a set of
background tasks that holds a strong reference to each task until it is done.
"""

import asyncio
import gc

background_tasks = set()


def start_in_background(coro):
    task = asyncio.create_task(coro)
    background_tasks.add(task)  # a strong reference keeps the task alive...
    task.add_done_callback(background_tasks.discard)  # ...until it is done
    return task


async def wait_for_go():
    go = asyncio.Event()  # stands in for something only this task refers to
    try:
        await go.wait()
    finally:
        print("  wait_for_go: stopped")


async def main(keep_reference):
    if keep_reference:
        start_in_background(wait_for_go())
    else:
        # The mistake, on purpose (linters such as ruff flag it: RUF006).
        asyncio.create_task(wait_for_go())  # noqa: RUF006
    await asyncio.sleep(0)  # let the task start
    gc.collect()  # the garbage collector runs, as it does now and then
    print("  main: still running, returning now")


if __name__ == "__main__":
    print("without a reference:")
    asyncio.run(main(keep_reference=False))
    print("with a reference:")
    asyncio.run(main(keep_reference=True))
