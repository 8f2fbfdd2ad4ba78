"""Chapter 5, exercise 7: finish the job in hand, within a grace period.

Write `serve_until_sigterm(job_seconds, grace)`: do jobs (an
`await asyncio.sleep(job_seconds)` each) one after the other until SIGTERM; then
finish the job in hand, start no new one, and report how many jobs were done. If the
job in hand is not finished within `grace` seconds, cancel it. It sends itself
SIGTERM after 0.5 s, as `kill -TERM` would from outside.
Check it with: python exercises/check.py 05-7
"""

import asyncio
import signal


async def serve_until_sigterm(job_seconds, grace):
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, signal.raise_signal, signal.SIGTERM)  # as `kill -TERM` would
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    asyncio.run(serve_until_sigterm(0.2, grace=1))
    asyncio.run(serve_until_sigterm(2, grace=0.2))
