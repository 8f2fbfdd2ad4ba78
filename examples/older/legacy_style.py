"""A small program written the way asyncio code was written around Python 3.6.

    python examples/older/legacy_style.py

It downloads three pages at once, each with a time limit, and hands each page
to a blocking parser in a thread. Everything it uses still exists in Python
3.11, where it runs without a warning. Python 3.12 and 3.13 warn about its
first line ("There is no current event loop"), and Python 3.14 refuses it
with a RuntimeError. examples/older/modern_style.py is the same program,
modernised; both print the same thing.
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


async def fetch(name, seconds, loop):
    try:
        page = await asyncio.wait_for(download(name, seconds), timeout=1)
    except asyncio.TimeoutError:  # noqa: UP041 (the pre-3.11 name, on purpose)
        return None
    return await loop.run_in_executor(None, parse, page)


def main():
    loop = asyncio.get_event_loop()
    try:
        futures = [
            asyncio.ensure_future(fetch(name, seconds, loop))
            for name, seconds in PAGES.items()
        ]
        pages = loop.run_until_complete(asyncio.gather(*futures))
    finally:
        loop.close()
    print(pages)


if __name__ == "__main__":
    main()
