"""Testing code that waits, without waiting: a fake sleep records the delays.

python -m pytest examples/testing/test_backoff.py
"""

import pytest
from backoff import retry


class FakeSleep:
    """Stands in for asyncio.sleep: remembers each delay and returns at once."""

    def __init__(self):
        self.delays = []

    async def __call__(self, seconds):
        self.delays.append(seconds)


def fails(times, then="ok"):
    """An operation that raises ConnectionError `times` times, then returns `then`."""
    outcomes = [ConnectionError(f"failure {n}") for n in range(1, times + 1)]
    outcomes.append(then)

    async def operation():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return operation


@pytest.mark.asyncio
async def test_no_wait_when_the_first_attempt_succeeds():
    sleep = FakeSleep()
    assert await retry(fails(0), sleep=sleep) == "ok"
    assert sleep.delays == []


@pytest.mark.asyncio
async def test_waits_twice_as_long_after_each_failure():
    sleep = FakeSleep()
    assert await retry(fails(3), sleep=sleep) == "ok"
    assert sleep.delays == [0.1, 0.2, 0.4]


@pytest.mark.asyncio
async def test_gives_up_after_the_last_attempt():
    sleep = FakeSleep()
    with pytest.raises(ConnectionError, match="failure 5"):
        await retry(fails(10), attempts=5, sleep=sleep)
    assert sleep.delays == [0.1, 0.2, 0.4, 0.8]  # no wait after the last attempt
