"""A trap: a fixture on one event loop, the tests on others.

    python -m pytest examples/testing/trap_shared_connection.py   # fails on purpose

To save time, the server and the client connection are made once for the whole
module, so their fixtures run on a module-wide event loop. But the tests still get
the default: a fresh event loop per test. The client's streams belong to the
module's loop, and the first read in a test's loop fails.
"""

import asyncio

import pytest
import pytest_asyncio
from echo_server import EchoServer


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


@pytest.mark.asyncio  # the mistake: this test runs on a loop of its own
async def test_echoes_a_line(client):
    reader, writer = client
    writer.write(b"hello\n")
    await writer.drain()
    assert await reader.readline() == b"hello\n"
