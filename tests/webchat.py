"""Helpers for the web chat's tests (examples/web/): servers, clients, a browser.

The tests talk to each server as a stranger would: the websockets library as
the WebSocket client, http.client for the page, and headless Chromium (driven
by Playwright) for the page itself. Nothing here imports the examples. Every
wait is bounded, so a hung server fails a test instead of hanging it.
"""

import asyncio
import contextlib
import http.client
import json
import os
import re
import socket
import time
from pathlib import Path

from conftest import ServerProcess
from websockets.asyncio.client import connect

WELCOME = {"sender": "server", "message": "You are connected"}
TIMEOUT = 10.0  # seconds to wait for any one message
GOING_AWAY = 1001
MESSAGE_TOO_BIG = 1009
MAX_MESSAGE_BYTES = 4096  # what every server allows


# The five web chat servers, by the framework each one uses.
SERVERS = {
    "asgi": "examples/web/asgi_chat.py",
    "aiohttp": "examples/web/aiohttp_chat.py",
    "sanic": "examples/web/sanic_chat.py",
    "django": "examples/web/django_chat.py",
    "websockets": "examples/web/websockets_chat.py",
}


def run(coroutine, timeout=60):
    """Run a test's async part on a fresh event loop, bounded in time."""

    async def bounded():
        async with asyncio.timeout(timeout):
            return await coroutine

    return asyncio.run(bounded())


@contextlib.contextmanager
def chat_server(path, *args):
    """Run a chat server; on the way out, it must exit with 0 and a clean stderr."""
    with ServerProcess(path, *args) as server:
        yield server
        status = server.stop()
        assert status == 0, f"exit status {status}, stderr:\n{server.stderr()}"
        server.assert_clean()


def chat_url(server):
    return f"ws://{server.host}:{server.port}/chat"


def own_origin(server):
    """The Origin a browser sends from the server's own page."""
    return f"http://{server.host}:{server.port}"


async def join(server, **options):
    """A WebSocket client at /chat that has received its welcome."""
    ws = await connect(chat_url(server), open_timeout=TIMEOUT, **options)
    assert await receive(ws) == WELCOME
    return ws


def say(sender, message):
    """A chat message as the text a client sends."""
    return json.dumps({"sender": sender, "message": message})


async def receive(ws):
    """The next message the client receives, decoded."""
    async with asyncio.timeout(TIMEOUT):
        return json.loads(await ws.recv())


async def receive_many(ws, count):
    """The next `count` messages, as (sender, message) pairs."""
    async with asyncio.timeout(TIMEOUT):
        received = [json.loads(await ws.recv()) for _ in range(count)]
    return [(m["sender"], m["message"]) for m in received]


async def close_all(clients):
    await asyncio.gather(*(ws.close() for ws in clients))


def http_get(server, path):
    """GET `path` exactly as written (no normalizing): (status, headers, body)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.headers, response.read()  # headers: any case
    finally:
        connection.close()


def http_request(server, path, headers):
    """GET `path` with these headers, Host included: (status, headers, body)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers=headers)  # our Host, not its own
        response = connection.getresponse()
        return response.status, response.headers, response.read()  # 101: no body
    finally:
        connection.close()


def handshake_status(server, host, origin=None):
    """The HTTP status that a WebSocket handshake at /chat gets, with this Host
    and Origin (101 Switching Protocols if accepted; then we hang up)."""
    headers = {
        "Host": host,
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    if origin is not None:
        headers["Origin"] = origin
    return http_request(server, "/chat", headers)[0]


async def chat_in_order(server, clients=3, messages=20):
    """Everyone talks at once; everyone hears everything, in one same order."""
    names = [f"user{n}" for n in range(clients)]
    sockets = [await join(server) for _ in names]
    plans = {name: [f"{name} says {n}" for n in range(messages)] for name in names}

    async def talk(ws, name):
        for text in plans[name]:
            await ws.send(say(name, text))

    async with asyncio.TaskGroup() as tasks:
        for ws, name in zip(sockets, names, strict=True):
            tasks.create_task(talk(ws, name))
        heard = [
            tasks.create_task(receive_many(ws, clients * messages)) for ws in sockets
        ]
    heard = [task.result() for task in heard]

    # The sender is among those who hear; everyone hears the same sequence...
    assert all(sequence == heard[0] for sequence in heard)
    # ...made of every message, each sender's in the order it sent them.
    for name in names:
        assert [text for sender, text in heard[0] if sender == name] == plans[name]
    await close_all(sockets)


async def crowd_chat(server, clients=200):
    """`clients` connect at once; one speaks; all of them hear it."""
    crowd = await asyncio.gather(*(join(server) for _ in range(clients)))
    await crowd[0].send(say("first", "hello, everyone"))
    heard = await asyncio.gather(*(receive(ws) for ws in crowd))
    assert heard == [{"sender": "first", "message": "hello, everyone"}] * clients
    await close_all(crowd)


# --- raw clients, for what the websockets client would not do -------------------
# A client that never reads, and one that writes a thousand frames in one go:
# the websockets client reads whatever arrives, and writes frame by frame.


def handshake_request(server):
    """The HTTP request that opens a WebSocket at /chat, as bytes."""
    return (
        f"GET /chat HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def masked_frame(text):
    """A text frame as a client must send it: masked (RFC 6455, section 5.3)."""
    payload = text.encode()
    assert len(payload) < 126, "a short frame: a one-byte length"
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[n % 4] for n, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def stuck_client(server):
    """A client that completes the handshake and then never reads.

    Its receive buffer is 4 KiB, set before connecting (the TCP window is
    agreed then): what the server sends soon fills it, then the server's own
    buffers. Returns the blocking socket; the caller closes it.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect((server.host, server.port))
    sock.sendall(handshake_request(server))
    response = b""
    while b"\r\n\r\n" not in response:  # the 101 response, and maybe more
        chunk = sock.recv(1)  # byte by byte: read nothing past the headers
        assert chunk, "the server closed the connection during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_until_closed(sock, timeout=TIMEOUT):
    """Everything the server sends until it ends the connection (EOF or reset).

    Raises TimeoutError if the connection is still open after `timeout`.
    """
    received = bytearray()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(received)
        except TimeoutError:
            break
        if not chunk:
            return bytes(received)
        received += chunk
    raise TimeoutError(f"still open after {timeout} s ({len(received)} bytes read)")


def close_code_in(data):
    """The code of the close frame among the server's frames in `data`, or None.

    Server frames are not masked: a header of 2 bytes, then 2 or 8 more for a
    length over 125, then the payload. A close frame's payload starts with the
    code, 2 bytes.
    """
    position = 0
    while position + 2 <= len(data):
        opcode, length = data[position] & 0x0F, data[position + 1] & 0x7F
        position += 2
        if length == 126:
            length = int.from_bytes(data[position : position + 2], "big")
            position += 2
        elif length == 127:
            length = int.from_bytes(data[position : position + 8], "big")
            position += 8
        if opcode == 0x8 and length >= 2 and position + 2 <= len(data):
            return int.from_bytes(data[position : position + 2], "big")
        position += length
    return None


def server_side_state(server, client_sock):
    """The TCP state of the server's end of this client's connection, or None.

    Read from /proc/net/tcp (Linux): "ESTABLISHED" while the server keeps the
    connection; once the server has dropped it, the end lingers a while as
    "FIN_WAIT1" (the kernel still tries to deliver what was sent), or is gone.
    """
    states = {"01": "ESTABLISHED", "04": "FIN_WAIT1", "05": "FIN_WAIT2", "07": "CLOSE"}
    client_port = client_sock.getsockname()[1]
    with open("/proc/net/tcp") as table:
        next(table)  # the column names
        for line in table:
            local, remote, state = line.split()[1:4]
            if local.endswith(f":{server.port:04X}") and remote.endswith(
                f":{client_port:04X}"
            ):
                return states.get(state, state)
    return None


def send_queue_bytes(server, client_sock):
    """Bytes the server's kernel holds for this client, not yet acknowledged."""
    client_port = client_sock.getsockname()[1]
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1].endswith(f":{server.port:04X}") and fields[2].endswith(
                f":{client_port:04X}"
            ):
                return int(fields[4].split(":")[0], 16)  # tx_queue
    return 0


def memory_kib(server):
    """The server process's resident memory (VmRSS, Linux), in KiB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)[1])


async def raw_client(server):
    """An asyncio stream at /chat, past the handshake: (reader, writer)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(handshake_request(server))
    async with asyncio.timeout(TIMEOUT):
        response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101"), response
    return reader, writer
