"""examples/older/legacy_style.py, modernised for Python 3.11 and newer.

    python examples/older/modern_style.py

It downloads three pages at once, each with a time limit, and hands each page
to a blocking parser in a thread, exactly as the legacy version does, and
prints the same thing. What changed: asyncio.run instead of get_event_loop and
run_until_complete, a TaskGroup instead of ensure_future and gather,
asyncio.timeout instead of wait_for, asyncio.to_thread instead of
run_in_executor, and no event loop passed around.
"""

import asyncio
import time

PAGES = {"home": 0.03, "news": 0.01, "about": 0.02}  # seconds each download takes


def parse(page):
    """A blocking call, as from a library that knows nothing of asyncio."""
    time.sleep(0.01)
    return page.upper()


async def download(name, seconds):
    await asyncio.sleep(seconds)  # stands in for a network call
    return f"<{name} page>"


async def fetch(name, seconds):
    try:
        async with asyncio.timeout(1):
            page = await download(name, seconds)
    except TimeoutError:
        return None
    return await asyncio.to_thread(parse, page)


async def main():
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(fetch(name, seconds)) for name, seconds in PAGES.items()
        ]
    print([task.result() for task in tasks])


if __name__ == "__main__":
    asyncio.run(main())
