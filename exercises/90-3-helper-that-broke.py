"""Appendix, exercise 3: the helper that broke.

A test suite runs coroutines from ordinary test functions with `run`. After a
test that uses asyncio.run, every test that calls `run` fails. Fix `run` so that
it works whatever ran before it.
Check it with: python exercises/check.py 90-3
"""

import asyncio


def run(coro):
    return asyncio.get_event_loop().run_until_complete(coro)


async def answer():
    await asyncio.sleep(0.01)
    return 42


if __name__ == "__main__":
    print(asyncio.run(answer()))  # the new test
    print(run(answer()))  # every test after it
