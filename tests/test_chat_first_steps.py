"""Chat steps 1 to 4: greeting, echo, framing, JSON messages.

Each step runs as a process (`python -X dev -W error`), and real sockets check
what its chapter says it does; its standard error must stay clean.
"""

import asyncio
import contextlib
import socket
import struct

from chatwire import ChatClient, assert_quiet, frame, raw_frame, run
from conftest import ServerProcess

STEP01 = "examples/chat/server01.py"
STEP02 = "examples/chat/server02.py"
STEP03 = "examples/chat/server03.py"
STEP04 = "examples/chat/server04.py"


async def read_to_end(server):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    async with asyncio.timeout(5):
        data = await reader.read()  # everything until the server hangs up
    writer.close()
    await writer.wait_closed()
    return data


def test_step01_greets_and_hangs_up():
    with ServerProcess(STEP01) as server:
        for _ in range(2):  # it keeps serving after the first
            greeting = run(read_to_end(server))
            assert greeting.startswith(b"Hello!")
            assert greeting.endswith(b"\n")
        assert_quiet(server)


async def echo_two_at_once(server):
    first = await asyncio.open_connection(server.host, server.port)
    second = await asyncio.open_connection(server.host, server.port)
    # The first client waits, connected; the second is served all the same.
    for reader, writer in (second, first):
        for line in (b"hello\n", b"and again\n"):
            writer.write(line)
            async with asyncio.timeout(5):
                assert await reader.readexactly(len(line)) == line
    for reader, writer in (first, second):
        writer.write_eof()  # "I am done": the server's read() gets b""
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # and it hangs up in turn
        writer.close()
        await writer.wait_closed()


async def vanish(server):
    """Connect, send something, and reset the connection instead of closing it."""
    _, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"x" * 100_000)
    await writer.drain()
    sock = writer.get_extra_info("socket")
    # SO_LINGER with a zero timeout: close() sends a reset (RST), not a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    await asyncio.sleep(0.2)


def test_step02_echoes_two_clients_at_once_and_shrugs_off_a_reset():
    with ServerProcess(STEP02) as server:
        run(echo_two_at_once(server))
        run(vanish(server))
        run(echo_two_at_once(server))
        assert_quiet(server)


async def echo_frames(server):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    payloads = [b"hello", b"", b"x" * 64 * 1024, "\u00e9t\u00e9".encode()]
    # Byte by byte: readexactly() waits for each frame to be whole.
    for byte in b"".join(raw_frame(p) for p in payloads[:2]):
        writer.write(bytes([byte]))
        await writer.drain()
    # And several frames in a single write.
    writer.write(b"".join(raw_frame(p) for p in payloads[2:]))
    async with asyncio.timeout(5):
        for payload in payloads:
            (size,) = struct.unpack("<I", await reader.readexactly(4))
            assert await reader.readexactly(size) == payload
    writer.close()
    await writer.wait_closed()


async def hang_up_on(server, data):
    """Send `data`; check the server ends the connection without a reply."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(data)
    try:
        async with asyncio.timeout(5):
            assert await reader.read() == b""
    except ConnectionResetError:
        pass  # closed with our bytes unread: the system sends a reset
    writer.close()
    with contextlib.suppress(ConnectionResetError):
        await writer.wait_closed()


async def leave_mid_frame(server):
    for cut_short in (b"\x05\x00", raw_frame(b"hello")[:7]):
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(cut_short)
        writer.close()
        await writer.wait_closed()


def test_step03_echoes_whole_frames_and_refuses_oversized_ones():
    with ServerProcess(STEP03) as server:
        run(echo_frames(server))
        # A header announcing 64 KiB + 1 bytes: the server hangs up at once,
        # without waiting for a body that never comes.
        run(hang_up_on(server, struct.pack("<I", 64 * 1024 + 1)))
        run(hang_up_on(server, b"\xff\xff\xff\xff"))
        run(leave_mid_frame(server))
        run(echo_frames(server))  # still serving
        assert_quiet(server)


DECODE_ERRORS = [
    raw_frame(b'{"action": "chat",'),  # invalid JSON
    raw_frame(b'{"action": "\xff\xfe"}'),  # invalid UTF-8
    raw_frame(b""),
    raw_frame(b'["a", "list"]'),
    raw_frame(b'"a string"'),
    raw_frame(b"42"),
    raw_frame(b"null"),
    raw_frame(b"[" * 5000 + b"]" * 5000),
    raw_frame(b'{"n": ' + b"9" * 5000 + b"}"),
]


async def echo_messages_and_refuse_bad_ones(server):
    client = await ChatClient.open(server)
    for message in ({"action": "hello"}, {"any": ["json", {"object": None}]}):
        await client.send(message)
        assert await client.receive() == message
    for bad in DECODE_ERRORS:
        await client.send_bytes(bad)
        await client.expect_error()
    await client.send({"still": "open"})
    assert await client.receive() == {"still": "open"}
    # Too large: an error, then the server hangs up.
    await client.send_bytes(struct.pack("<I", 64 * 1024 + 1))
    assert "limit" in await client.expect_error()
    assert await client.is_closed_by_server()
    await client.close()


def test_step04_echoes_json_objects_and_answers_bad_input_with_errors():
    with ServerProcess(STEP04) as server:
        run(echo_messages_and_refuse_bad_ones(server))
        run(echo_messages_and_refuse_bad_ones(server))
        assert_quiet(server)


def test_step04_frames_are_little_endian_length_then_json():
    async def exchange(server):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(frame({"action": "ping"}))
        async with asyncio.timeout(5):
            header = await reader.readexactly(4)
            payload = await reader.readexactly(int.from_bytes(header, "little"))
        writer.close()
        await writer.wait_closed()
        return payload

    with ServerProcess(STEP04) as server:
        assert run(exchange(server)).replace(b" ", b"") == b'{"action":"ping"}'
        assert_quiet(server)
