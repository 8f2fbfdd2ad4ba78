"""Exercise 7's trap: a queue made by a module-scoped synchronous fixture.

    python -m pytest examples/testing/trap_queue_fixture.py

The first test passes; the second fails with "is bound to a different event loop".
"""

import asyncio

import pytest


@pytest.fixture(scope="module")
def jobs():
    return asyncio.Queue()  # the mistake: one queue for the loops of many tests


async def take_one(jobs):
    """Wait for a job on an empty queue, and put one in: the queue has to wait."""
    waiting = asyncio.create_task(jobs.get())
    await asyncio.sleep(0)  # the task now waits on the queue, which binds it to a loop
    jobs.put_nowait("a job")
    return await waiting


@pytest.mark.asyncio
async def test_first_take(jobs):
    assert await take_one(jobs) == "a job"


@pytest.mark.asyncio
async def test_second_take(jobs):
    assert await take_one(jobs) == "a job"
