"""A task fails and nobody looks at its exception.

    python examples/mistakes/never_retrieved.py           # logged when the task dies
    python -X dev examples/mistakes/never_retrieved.py    # ... with where it was made

`send_report` raises, but `main` started it with create_task and never awaited it,
so the exception has nowhere to go. asyncio can only notice that when the task
object is destroyed, and then it logs "Task exception was never retrieved". The
program itself carries on as if all was well, and exits with status 0.
"""

import asyncio


async def send_report():
    await asyncio.sleep(0.01)
    raise ConnectionError("mail server refused the connection")


async def main():
    asyncio.create_task(send_report())  # noqa: RUF006 (the mistake: no await)
    await asyncio.sleep(0.1)
    print("main: all done, or so it thinks")


if __name__ == "__main__":
    asyncio.run(main())
