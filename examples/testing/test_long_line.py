"""Exercise 3 of chapter 7: what the echo server does with a line that is too long.

    python -m pytest examples/testing/test_long_line.py

A StreamReader refuses to buffer a line longer than its limit, 64 KiB by default.
These tests pin down what the echo server does then: it hangs up on that client,
asyncio logs the error, and the server goes on serving everyone else.
"""

import asyncio
import contextlib
import logging

import pytest
import pytest_asyncio
from echo_server import EchoServer

LONG_LINE = b"x" * 100_000 + b"\n"  # over the 64 KiB limit


@pytest_asyncio.fixture
async def server():
    async with EchoServer() as server:
        yield server


async def ask(address, line):
    """Send a line on a new connection; the reply, or b"" if the server hung up."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(line)
        await writer.drain()
        return await reader.readline()
    except ConnectionResetError:
        # A server that hangs up before reading everything sent to it may make the
        # operating system reset the connection rather than close it: a hang-up too.
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()


@pytest.mark.asyncio
async def test_a_too_long_line_ends_the_conversation(server, caplog):
    async with asyncio.timeout(5):
        assert await ask(server.address, LONG_LINE) == b""  # end of file: hung up
    (error,) = [
        record
        for record in caplog.records
        if record.name == "asyncio" and record.levelno == logging.ERROR
    ]
    assert error.getMessage().startswith("Unhandled exception in client_connected_cb")
    assert isinstance(error.exc_info[1], ValueError)  # raised by readline()


@pytest.mark.asyncio
async def test_the_server_survives_a_too_long_line(server):
    async with asyncio.timeout(5):
        await ask(server.address, LONG_LINE)
        assert await ask(server.address, b"short\n") == b"short\n"
