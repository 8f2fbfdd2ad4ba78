"""Testing the echo server with pytest and pytest-asyncio.

    python -m pytest examples/testing/test_echo_pytest.py

Each test gets a fresh event loop (the default, function loop scope), a server of
its own on a free port, and a real client connected to it over 127.0.0.1.
"""

import asyncio

import pytest
import pytest_asyncio
from echo_server import EchoServer

TIMEOUT = 5  # seconds: a test that waits longer than this has hung


@pytest_asyncio.fixture
async def server():
    async with EchoServer() as server:  # port 0: a free port, every time
        yield server


@pytest_asyncio.fixture
async def client(server):
    reader, writer = await asyncio.open_connection(*server.address)
    yield reader, writer
    writer.close()
    await writer.wait_closed()


async def ask(client, line):
    """Send one line, return the line that comes back."""
    reader, writer = client
    writer.write(line)
    await writer.drain()
    return await reader.readline()


@pytest.mark.asyncio
async def test_echoes_a_line(client):
    async with asyncio.timeout(TIMEOUT):
        assert await ask(client, b"hello\n") == b"hello\n"


@pytest.mark.asyncio
async def test_echoes_lines_in_order(client):
    async with asyncio.timeout(TIMEOUT):
        for number in range(100):
            line = f"line {number}\n".encode()
            assert await ask(client, line) == line


@pytest.mark.asyncio
async def test_serves_two_clients_at_once(server, client):
    other = await asyncio.open_connection(*server.address)
    try:
        async with asyncio.timeout(TIMEOUT):
            # The first client's conversation is still open while the second talks.
            assert await ask(client, b"first\n") == b"first\n"
            assert await ask(other, b"second\n") == b"second\n"
            assert await ask(client, b"first again\n") == b"first again\n"
    finally:
        other[1].close()
        await other[1].wait_closed()


@pytest.mark.asyncio
async def test_a_client_may_hang_up_mid_line(server, client):
    _, rude_writer = await asyncio.open_connection(*server.address)
    rude_writer.write(b"no newline, and goodbye")
    rude_writer.close()
    await rude_writer.wait_closed()
    async with asyncio.timeout(TIMEOUT):
        assert await ask(client, b"still there?\n") == b"still there?\n"
