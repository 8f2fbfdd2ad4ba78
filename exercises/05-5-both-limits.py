"""Chapter 5, exercise 5: both limits at once.

At most two requests in progress and at most ten per second; each request takes
0.25 s. Write `limited_request(at_once, per_second, gauge, starts)`, which waits
for both limits, then notes its start time in `starts` and its presence with the
gauge, and `both_limits()`, which runs eight of them.
Check it with: python exercises/check.py 05-5
"""

import asyncio
import time


class Gauge:
    """How many tasks are inside a section now, and the most there ever were."""

    def __init__(self):
        self.now = self.peak = 0

    def enter(self):
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self):
        self.now -= 1


class TokenBucket:
    """Lets `rate` requests start per second on average, and bursts of `capacity`."""

    def __init__(self, rate, capacity):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity  # a full bucket: a first burst may start at once
        self.updated = time.monotonic()
        self.turn = asyncio.Lock()  # the waiters queue here, first come, first served

    def _refill(self):
        now = time.monotonic()
        earned = (now - self.updated) * self.rate
        # A full bucket overflows: quiet time does not save up more than `capacity`.
        self.tokens = min(self.capacity, self.tokens + earned)
        self.updated = now

    async def acquire(self):
        async with self.turn:
            self._refill()
            while self.tokens < 1:
                # Sleep until the missing part of a token has been earned.
                await asyncio.sleep((1 - self.tokens) / self.rate)
                self._refill()
            self.tokens -= 1

    async def __aenter__(self):  # so that `async with bucket:` takes a token
        await self.acquire()

    async def __aexit__(self, *exc_info):
        return None  # a token is spent, not given back


async def limited_request(at_once, per_second, gauge, starts):
    raise NotImplementedError("your code here")


async def both_limits():
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    asyncio.run(both_limits())
