"""Testing clean-up on cancellation, and checking that no task is left behind.

python -m pytest examples/testing/test_cleanup.py
"""

import asyncio

import pytest
import pytest_asyncio
from echo_server import EchoServer
from queries import Connections, query

TIMEOUT = 5  # seconds: a test that waits longer than this has hung


@pytest_asyncio.fixture
async def no_leaked_tasks():
    """Fail the test if it leaves a task running on the loop."""
    yield
    leaked = asyncio.all_tasks() - {asyncio.current_task()}
    assert not leaked, f"tasks left running: {leaked}"  # the loop's close cancels them


pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("no_leaked_tasks")]


def waits_until_cancelled():
    """A `run` for query(): it says when it has started, then waits forever."""
    started = asyncio.Event()

    async def run():
        started.set()
        await asyncio.Event().wait()  # nobody sets it: only a cancellation ends this

    return run, started


async def test_a_cancelled_query_closes_its_connection():
    connections = Connections()
    run, started = waits_until_cancelled()
    task = asyncio.create_task(query(connections, run))
    async with asyncio.timeout(TIMEOUT):
        await started.wait()  # the query is now inside its await
    assert connections.open == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # let it run its clean-up, and check it really was cancelled
    assert connections.open == 0


async def test_a_query_that_times_out_closes_its_connection():
    connections = Connections()
    run, _ = waits_until_cancelled()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await query(connections, run)
    assert connections.open == 0


async def test_the_echo_server_leaves_no_task_behind():
    async with EchoServer() as server:
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(b"hello\n")
        async with asyncio.timeout(TIMEOUT):
            assert await reader.readline() == b"hello\n"
    # Leaving the block closed the connection; the fixture checks the handler ended.
    writer.close()
    await writer.wait_closed()
