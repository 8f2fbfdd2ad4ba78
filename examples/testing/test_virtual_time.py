"""Virtual time: sleeps and timeouts tested at full length, in no time at all.

    python -m pytest examples/testing/test_virtual_time.py

These are plain (synchronous) test functions: each runs its coroutine on a
VirtualTimeLoop with asyncio.Runner's loop_factory (Python 3.11+).
"""

import asyncio
import time

import pytest
from backoff import retry
from test_backoff import fails
from virtual_time import run_in_virtual_time


async def sleep_an_hour():
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(3600)
    return loop.time() - started


def test_an_hour_of_sleep_takes_no_real_time():
    started = time.perf_counter()
    assert run_in_virtual_time(sleep_an_hour()) == 3600
    assert time.perf_counter() - started < 1


async def attempt_times(operation, attempts):
    """The loop's time at each attempt that retry() makes."""
    loop = asyncio.get_running_loop()
    times = []

    async def timed():
        times.append(loop.time())
        return await operation()

    await retry(timed, attempts=attempts)  # with the real asyncio.sleep
    return times


def test_retry_backs_off_with_the_real_sleep():
    times = run_in_virtual_time(attempt_times(fails(4), attempts=5))
    assert times == pytest.approx([0, 0.1, 0.3, 0.7, 1.5])


async def wait_for_a_reply_that_never_comes():
    async with asyncio.timeout(30):
        await asyncio.Event().wait()


def test_a_30_second_timeout_fires_at_30_seconds():
    async def timed():
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await wait_for_a_reply_that_never_comes()
        return loop.time()

    assert run_in_virtual_time(timed()) == 30


async def heartbeat(beats, every):
    """Record the loop's time every `every` seconds, forever."""
    while True:
        await asyncio.sleep(every)
        beats.append(asyncio.get_running_loop().time())


async def beats_in(seconds):
    beats = []
    async with asyncio.TaskGroup() as group:
        beating = group.create_task(heartbeat(beats, every=10))
        await asyncio.sleep(seconds)
        beating.cancel()
    return beats


def test_a_heartbeat_beats_six_times_a_minute():
    assert run_in_virtual_time(beats_in(65)) == [10, 20, 30, 40, 50, 60]
