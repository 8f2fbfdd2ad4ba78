"""Retrying with exponential backoff: code that waits, and that tests must not.

    python examples/testing/backoff.py

`retry` calls an async operation until it succeeds, waiting longer after each
failure: 0.1 s, then 0.2 s, 0.4 s, and so on. Real waits would make its tests slow,
so the function that waits is a parameter: `asyncio.sleep` by default, a fake that
only records the delays in the tests (examples/testing/test_backoff.py).
"""

import asyncio


async def retry(operation, *, attempts=5, first_delay=0.1, sleep=asyncio.sleep):
    """Await `operation()` until it succeeds; after the last failure, raise."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts:
                raise
            await sleep(delay)
            delay *= 2


async def main():
    failures = iter([ConnectionError("refused"), ConnectionError("reset")])

    async def flaky_connect():
        if error := next(failures, None):
            print("attempt failed:", error)
            raise error
        return "connected"

    print(await retry(flaky_connect))


if __name__ == "__main__":
    asyncio.run(main())
