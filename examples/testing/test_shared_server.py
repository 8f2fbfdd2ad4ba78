"""One server and one connection for a whole module, done right.

    python -m pytest examples/testing/test_shared_server.py

The fixtures run on the module's event loop, and so do the tests: the marker at
module level gives every test in the file loop_scope="module". Objects that belong
to a loop (streams, tasks, queues, locks) may then be shared between the tests.
"""

import asyncio

import pytest
import pytest_asyncio
from echo_server import EchoServer

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the tests' loop, too


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server():
    async with EchoServer() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server):
    reader, writer = await asyncio.open_connection(*server.address)
    yield reader, writer
    writer.close()
    await writer.wait_closed()


async def ask(client, line):
    reader, writer = client
    writer.write(line)
    await writer.drain()
    return await reader.readline()


async def test_echoes_a_line(client):
    async with asyncio.timeout(5):
        assert await ask(client, b"hello\n") == b"hello\n"


async def test_the_same_connection_goes_on(client):
    async with asyncio.timeout(5):
        assert await ask(client, b"hello again\n") == b"hello again\n"


async def test_all_on_one_loop(client):
    reader, _ = client
    # StreamReader keeps the loop it was made on in a private attribute: peek at it
    # here only to show that the fixture's loop and the test's are the same.
    assert reader._loop is asyncio.get_running_loop()
