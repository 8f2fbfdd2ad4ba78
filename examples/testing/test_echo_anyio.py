"""Testing the echo server with AnyIO's pytest plugin instead of pytest-asyncio.

    python -m pytest examples/testing/test_echo_anyio.py

The plugin comes with AnyIO. Tests marked with @pytest.mark.anyio run on the
backend that the `anyio_backend` fixture names; plain async fixtures that such a
test requests run on the same event loop. pytest-asyncio, in strict mode, leaves
these tests alone.
"""

import asyncio

import anyio
import pytest
from echo_server import EchoServer


@pytest.fixture
def anyio_backend():
    return "asyncio"  # "trio" would run the tests on Trio, if it were installed


@pytest.fixture
async def server():
    async with EchoServer() as server:
        yield server


@pytest.mark.anyio
async def test_echoes_a_line(server):
    with anyio.fail_after(5):  # AnyIO's timeout: raises TimeoutError
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(b"hello\n")
        await writer.drain()
        assert await reader.readline() == b"hello\n"
        writer.close()
        await writer.wait_closed()


@pytest.mark.anyio
async def test_with_anyio_streams(server):
    with anyio.fail_after(5):
        async with await anyio.connect_tcp(*server.address) as stream:
            await stream.send(b"hello\n")
            assert await stream.receive() == b"hello\n"
