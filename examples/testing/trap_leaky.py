"""Two tests that fail on purpose: a leaked connection, and a leaked task.

python -m pytest examples/testing/trap_leaky.py
"""

import asyncio

import pytest
from queries import Connections, query_leaky
from test_cleanup import no_leaked_tasks, waits_until_cancelled  # noqa: F401


@pytest.mark.asyncio
async def test_a_cancelled_leaky_query_closes_its_connection():
    connections = Connections()
    run, started = waits_until_cancelled()
    task = asyncio.create_task(query_leaky(connections, run))
    async with asyncio.timeout(5):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert connections.open == 0  # fails: query_leaky has no finally


async def heartbeat(beats):
    while True:
        beats.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
@pytest.mark.usefixtures("no_leaked_tasks")
async def test_forgets_its_heartbeat():
    asyncio.create_task(heartbeat([]))  # noqa: RUF006 (the mistake: never stopped)
    await asyncio.sleep(0.05)
