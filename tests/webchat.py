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
