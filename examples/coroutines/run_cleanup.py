"""What asyncio.run() tidies up after the main coroutine returns.

Run it with:  python examples/coroutines/run_cleanup.py

`main` returns while a background task is still running and an asynchronous
generator is only half consumed. asyncio.run() cancels the task, closes the
generator (so its `finally` block runs), shuts down the default thread pool
that asyncio.to_thread() used, and closes the event loop. Each step prints a
line, so the output shows the order in which asyncio.run() does its clean-up.
"""

import asyncio
import time


async def long_job():
    try:
        await asyncio.sleep(3600)  # an hour of work: still going when main returns
    except asyncio.CancelledError:
        print("long_job: cancelled by asyncio.run()")
        raise  # let the cancellation finish; never swallow it


async def numbers():
    try:
        number = 0
        while True:
            yield number
            number += 1
    finally:
        print("numbers: closed by asyncio.run()")


async def main():
    job = asyncio.create_task(long_job())
    stream = numbers()
    print("main: first number is", await anext(stream))
    await asyncio.to_thread(time.sleep, 0.01)  # starts the default thread pool
    print("main: returning, long_job done?", job.done())
    # Returning the generator keeps it alive, so asyncio.run() must close it.
    return asyncio.get_running_loop(), stream


if __name__ == "__main__":
    loop, stream = asyncio.run(main())
    print("after asyncio.run(): loop closed?", loop.is_closed())
