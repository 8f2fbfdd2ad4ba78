"""Exercise 7's solution: the queue made by an async fixture, on the test's loop.

python -m pytest examples/testing/test_queue_fixture.py
"""

import asyncio

import pytest
import pytest_asyncio
from trap_queue_fixture import take_one


@pytest_asyncio.fixture
async def jobs():
    return asyncio.Queue()  # made on the loop of the test that asks for it


@pytest.mark.asyncio
async def test_first_take(jobs):
    assert await take_one(jobs) == "a job"


@pytest.mark.asyncio
async def test_second_take(jobs):
    assert await take_one(jobs) == "a job"
