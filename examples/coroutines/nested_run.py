"""The other classic mistake: calling asyncio.run() from inside a coroutine.

Run it with:  python examples/coroutines/nested_run.py

`main` is already running on the event loop that `asyncio.run(main())` created,
so the inner `asyncio.run(fetch_answer())` refuses to start a second loop and
raises RuntimeError. The coroutine object it was given never runs, so at exit
Python also warns that `fetch_answer` was never awaited. The fix is one word:
`answer = await fetch_answer()`.
"""

import asyncio


async def fetch_answer():
    await asyncio.sleep(0.01)
    return 42


async def main():
    answer = asyncio.run(fetch_answer())  # the mistake: a loop is already running
    print("the answer is", answer)


if __name__ == "__main__":
    asyncio.run(main())
