"""The web chat with the websockets library, and its broadcast().

    python examples/web/websockets_chat.py            # http://127.0.0.1:8000/
    python examples/web/websockets_chat.py --port 0   # any free port
    python examples/web/websockets_chat.py --allow http://localhost:8000  # also

The same page and the same protocol as asgi_chat.py. websockets is a WebSocket
server, not a web framework: it speaks just enough HTTP for the handshake. A
`process_request` hook sees every request before the handshake; ours serves the
page and its files, which it read once at startup, refuses requests for hosts
that are not ours, and WebSockets from other sites. websockets caps message
size (close code 1009), pings idle clients, and closes every connection with
1001 (going away) when the server closes. Its broadcast() writes a message to
every connection at once, without waiting for any of them: every client gets
messages in the same order.
"""

import argparse
import asyncio
import dataclasses
import functools
import json
import logging
import signal
import socket
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from websockets.asyncio.server import broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError
from websockets.http11 import Response
from websockets.protocol import State

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Sent with every page and file. The Content-Security-Policy lets the page load
# scripts, styles and WebSockets from this server only (no inline scripts, no
# other sites: an injected <script> would not run), and no site frame it;
# nosniff makes browsers go by our Content-Type, never guess one; no-referrer
# keeps the chat's address out of requests to other sites; no-cache makes them
# ask for a new version each time (the files are small).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MAX_MESSAGE_BYTES = 4096  # larger WebSocket messages end the connection (1009)
WELCOME = {"sender": "server", "message": "You are connected"}
SEND_TIMEOUT = 10.0  # seconds a client's data may wait to go out before we drop it
MAX_RATE = 20.0  # messages a second that one client may send, on average...
BURST = 200  # ...and how many at once (a pasted text, say)
GOODBYE_TIMEOUT = 3.0  # seconds the clients get to answer our goodbye
KERNEL_SEND_BUFFER = 64 * 1024  # bytes the system may hold for each connection
# Where else the page may be served, as origins ("http://localhost:8000"), from
# --allow; the address the server listens on is always allowed.
ALLOWED_ORIGINS = set()

clients = set()  # the open connections at /chat


async def chat(connection, max_rate=MAX_RATE, burst=BURST):
    """One WebSocket connection at /chat, until the client leaves."""
    budget = TokenBucket(max_rate, burst)
    try:
        await connection.send(json.dumps(WELCOME))
        clients.add(connection)
        async for data in connection:  # ends when the client closes properly
            if connection.state is not State.OPEN:
                continue  # closing: read on to the close, at once, relaying nothing
            try:
                message = parse_chat_message(data)
            except ValueError as error:
                reply = {"sender": "server", "message": f"error: {error}"}
                await connection.send(json.dumps(reply))
            else:
                broadcast(clients, json.dumps(message, ensure_ascii=False))
            # Let the others run between messages, and wait if over budget
            # (websockets then stops reading this client: backpressure).
            await budget.spend()
    except ConnectionClosedError:
        pass  # closed without a proper goodbye, or after a message too big
    finally:
        clients.discard(connection)


class TokenBucket:
    """A budget of messages: `burst` at once, then `rate` a second on average.

    The same as in asgi_chat.py: spending waits while the budget is spent.
    """

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens = burst  # what can be spent now; negative: owed
        self.updated = time.monotonic()

    async def spend(self):
        """Take one token; wait until it has been earned, if need be."""
        now = time.monotonic()
        earned = (now - self.updated) * self.rate
        self.tokens = min(self.burst, self.tokens + earned) - 1
        self.updated = now
        await asyncio.sleep(max(0.0, -self.tokens / self.rate))


async def drop_stuck_connections(send_timeout):
    """Abort the connections whose data has waited to go out for too long.

    broadcast() writes to every connection without waiting: what a client that
    has stopped reading cannot take piles up in its write buffer, without end.
    websockets' keepalive cannot help: its ping waits behind the pile. So look
    at the pile: a connection with data waiting at every look for longer than
    `send_timeout` is dropped. abort(), not close(): close() would wait to send
    the pile first.
    """
    waiting_since = {}
    while True:
        await asyncio.sleep(send_timeout / 4)
        now = time.monotonic()
        waiting = [c for c in clients if c.transport.get_write_buffer_size() > 0]
        waiting_since = {c: waiting_since.get(c, now) for c in waiting}
        for connection, since in waiting_since.items():
            if now - since >= send_timeout:
                connection.transport.abort()


def parse_chat_message(data):
    """The {"sender", "message"} dict in `data`; ValueError says what is wrong."""
    if not isinstance(data, str):
        raise ValueError("send text, not binary data")
    try:
        data = json.loads(data)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError('expected an object like {"sender": ..., "message": ...}')
    sender, message = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not sender.strip():
        raise ValueError('"sender" must be a name')
    if sender.strip().lower() == "server":
        raise ValueError('the name "server" is taken')
    if not isinstance(message, str):
        raise ValueError('"message" must be a string')
    return {"sender": sender, "message": message}


def read_static_files():
    """URL path -> (content type, bytes) for the page and each file in STATIC.

    Serving is then a dictionary lookup: a path that is not a key, such as
    "/static/../websockets_chat.py", finds nothing.
    """
    files = {}
    for file in STATIC.iterdir():
        if file.is_file():
            content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
            files[f"/static/{file.name}"] = (content_type, file.read_bytes())
    files["/"] = files["/static/index.html"]
    return files


def make_request_processor(files):
    """The process_request hook: what to do with a request before the handshake."""

    def process_request(connection, request):
        response = answer(connection, request)
        if request.method == "HEAD" and response is not None:
            # What a GET would get, Content-Length included, without the body.
            response = dataclasses.replace(response, body=b"")
        return response

    def answer(connection, request):
        path = urlsplit(request.path).path  # without "?query"
        origins = allowed_origins(connection)
        if not addressed_to_us(request.headers, origins):
            return connection.respond(HTTPStatus.BAD_REQUEST, "Unknown host\n")
        if request.method not in ("GET", "HEAD"):  # websockets parses any method
            return connection.respond(
                HTTPStatus.METHOD_NOT_ALLOWED, "Only GET or HEAD\n"
            )
        if path == "/chat":
            if from_our_own_page(request.headers, origins):
                return None  # None: go on with the WebSocket handshake
            return connection.respond(
                HTTPStatus.FORBIDDEN, "WebSockets from other sites are refused\n"
            )
        if path not in files:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        content_type, body = files[path]
        headers = Headers(
            [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        headers.update(SECURITY_HEADERS)
        return Response(HTTPStatus.OK, "OK", headers, body)

    return process_request


def from_our_own_page(headers, origins):
    """False if a browser opened this WebSocket from a page of another site.

    Browsers send the page's origin with every WebSocket handshake (and may
    send the user's cookies). Other programs send none, and no web page can
    steer them, so a missing Origin is let in. See asgi_chat.py for the story.
    (websockets can check this itself, with serve(..., origins=[...]), when the
    list is known before the server starts: not ours, with --port 0.)
    """
    origin = headers.get("Origin")
    return origin is None or origin.lower() in origins


def addressed_to_us(headers, origins):
    """True if the Host header names one of our addresses.

    A page of evil.example whose name now leads to our address (DNS rebinding)
    sends its own name as Host, and the same as Origin: both foreign.
    """
    host = headers.get("Host", "").lower()
    return host in {urlsplit(origin).netloc for origin in origins}


def allowed_origins(connection):
    """The origins our page may come from: our own address, and ALLOWED_ORIGINS.

    The address the client reached comes from the socket, not from a header.
    """
    host, port = connection.local_address[:2]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as URLs write it
    own = f"http://{host}" if port == 80 else f"http://{host}:{port}"
    return ALLOWED_ORIGINS | {own}


async def serve_chat(host, port, limits):
    """Serve the chat until SIGINT or SIGTERM, then close every connection."""
    process_request = make_request_processor(read_static_files())
    handler = functools.partial(chat, max_rate=limits.max_rate, burst=limits.burst)
    async with serve(
        handler, host, port, process_request=process_request, max_size=MAX_MESSAGE_BYTES
    ) as server:
        for listening in server.sockets:  # see asgi_chat.limit_kernel_buffers
            listening.setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
        # Only now, so that a signal sent as soon as we say it finds its handler.
        host, port = server.sockets[0].getsockname()[:2]  # the real port
        print(f"listening on {host}:{port}", flush=True)
        async with asyncio.TaskGroup() as tasks:
            dropper = tasks.create_task(drop_stuck_connections(limits.send_timeout))
            await stop.wait()
            await close_everyone(server)
            dropper.cancel()


async def close_everyone(server):
    """Stop listening, close each connection with 1001 (going away), and wait
    for the handlers to return; drop the clients that cannot take the close."""
    server.close(reason="server shutting down")
    try:
        async with asyncio.timeout(GOODBYE_TIMEOUT):
            await server.wait_closed()
    except TimeoutError:
        # Our close waits behind what a client that stopped reading never took.
        for connection in clients:
            connection.transport.abort()
        await server.wait_closed()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument(
        "--allow",
        type=origin_argument,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another address of the page, such as http://localhost:8000 (repeatable)",
    )
    limits = parser.add_argument_group("limits for each client")
    limits.add_argument("--max-rate", type=float, default=MAX_RATE, help="messages/s")
    limits.add_argument("--burst", type=int, default=BURST, help="messages at once")
    limits.add_argument(
        "--send-timeout", type=float, default=SEND_TIMEOUT, help="seconds"
    )
    return parser.parse_args()


def origin_argument(text):
    """An origin given on the command line, written as browsers send it."""
    parts = urlsplit(text.lower())
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"not an origin like http://host:port: {text}")
    return f"{parts.scheme}://{parts.netloc}"


def main():
    args = parse_args()
    ALLOWED_ORIGINS.update(args.allow)
    logging.basicConfig(level=logging.INFO)  # websockets logs each connection
    asyncio.run(serve_chat(args.host, args.port, args))


if __name__ == "__main__":
    main()
