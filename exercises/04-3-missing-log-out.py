"""Chapter 4, exercise 3: the missing log-out.

Fix `session` so that the user is always logged out, even when the session is
cut short by the timeout in `main`. Check it with: python exercises/check.py 04-3
"""

import asyncio


async def session(user):
    print(f"{user}: logged in")
    await asyncio.sleep(0.1)  # the user's work
    print(f"{user}: logged out")


async def main():
    try:
        async with asyncio.timeout(0.05):
            await session("ada")
    except TimeoutError:
        print("main: the session timed out")


if __name__ == "__main__":
    asyncio.run(main())
