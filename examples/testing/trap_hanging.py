"""A trap: tests that wait forever, and two ways to make them fail instead.

    python -m pytest examples/testing/trap_hanging.py     # fails on purpose, fast

The first test forgets the newline at the end of its line, so the server, which
answers whole lines, never replies and `readline()` waits forever. The second waits
for an event that nothing will ever set. Without a time limit, either would block
the whole run until someone killed it.
"""

import asyncio

import pytest
import pytest_asyncio
from echo_server import EchoServer


@pytest_asyncio.fixture
async def client():
    async with EchoServer() as server:
        reader, writer = await asyncio.open_connection(*server.address)
        yield reader, writer
        writer.close()
        await writer.wait_closed()


@pytest.mark.asyncio
async def test_with_a_timeout_inside(client):
    reader, writer = client
    writer.write(b"hello")  # the mistake: no newline
    await writer.drain()
    async with asyncio.timeout(0.5):  # the test fails with TimeoutError after 0.5 s
        assert await reader.readline() == b"hello\n"


@pytest.mark.asyncio
@pytest.mark.timeout(1)  # pytest-timeout fails the test after 1 s
async def test_with_pytest_timeout():
    reply = asyncio.Event()
    await reply.wait()  # the mistake: nothing will ever set it
