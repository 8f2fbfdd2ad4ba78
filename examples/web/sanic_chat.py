"""The web chat with Sanic: a Room that members join and leave.

    python examples/web/sanic_chat.py                 # http://127.0.0.1:8000/
    python examples/web/sanic_chat.py --port 0        # any free port
    python examples/web/sanic_chat.py --allow http://localhost:8000  # also there

The same page and the same protocol as asgi_chat.py. Sanic is the server and
the framework: it routes requests, serves the static files, does the WebSocket
handshake (with the websockets library underneath), caps message size (close
code 1009), pings idle clients, and calls our listeners when it starts and
stops. Our part is the Room: the members of the chat, and how to send something
to all of them. Sending awaits each member in turn; a member whose connection
has died is found out there, and removed.
"""

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sanic import Sanic
from sanic.exceptions import RequestCancelled, WebsocketClosed
from sanic.log import LOGGING_CONFIG_DEFAULTS
from sanic.response import text
from websockets.exceptions import ConnectionClosed

STATIC = Path(__file__).parent / "static"
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
GOING_AWAY = 1001  # the WebSocket close code for a server that shuts down
SEND_TIMEOUT = 10.0  # seconds one send may wait before we drop that client
MAX_RATE = 20.0  # messages a second that one client may send, on average...
BURST = 200  # ...and how many at once (a pasted text, say)
GOODBYE_TIMEOUT = 3.0  # seconds the clients get to answer our goodbye
KERNEL_SEND_BUFFER = 64 * 1024  # bytes the system may hold for each connection
# Where else the page may be served, as origins ("http://localhost:8000"), from
# --allow; the address the server listens on is always allowed.
ALLOWED_ORIGINS = set()


class Room:
    """The WebSockets in the chat."""

    def __init__(self, send_timeout=SEND_TIMEOUT):
        self.members = set()
        self.send_timeout = send_timeout
        self.empty = asyncio.Event()  # set while nobody is in the room
        self.empty.set()

    def __len__(self):
        return len(self.members)

    def join(self, ws):
        self.members.add(ws)
        self.empty.clear()

    def leave(self, ws):
        self.members.discard(ws)
        if not self.members:
            self.empty.set()

    async def broadcast(self, message):
        """Send a message to every member, one after another.

        A member that has stopped reading holds up everyone after it, and the
        sender: for `send_timeout` at most, then it is dropped.
        """
        text = json.dumps(message, ensure_ascii=False)
        for ws in list(self.members):  # a copy: members come and go as we wait
            try:
                async with asyncio.timeout(self.send_timeout):
                    await ws.send(text)
            except TimeoutError:
                self.drop(ws)
            # RequestCancelled: the connection was lost while the send waited
            # (Sanic makes it a kind of asyncio.CancelledError).
            except (WebsocketClosed, ConnectionClosed, RequestCancelled):
                self.leave(ws)  # a dead connection: its handler may not know yet

    def drop(self, ws):
        """End a member's connection at once, with whatever it has not taken.

        Closing it would mean sending a close frame, which waits behind what
        is already waiting: abort() the connection instead.
        """
        self.leave(ws)
        if ws.io_proto and ws.io_proto.transport:
            ws.io_proto.transport.abort()

    async def close_all(self, code, reason):
        """Start the closing handshake with every member. One that has not
        taken what it was sent would not get it: drop it instead."""
        for ws in list(self.members):
            if ws.io_proto and ws.io_proto.transport.get_write_buffer_size() > 0:
                self.drop(ws)
            else:
                await ws.close(code, reason)
        # Give the handlers a moment to see the close and return.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_TIMEOUT):
                await self.empty.wait()


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


# Sanic logs to standard output, where the chat prints "listening on HOST:PORT";
# this is Sanic's own logging configuration with every log sent to stderr.
LOGGING = {
    **LOGGING_CONFIG_DEFAULTS,
    "handlers": {
        name: {**handler, "stream": sys.stderr}
        for name, handler in LOGGING_CONFIG_DEFAULTS["handlers"].items()
    },
}

app = Sanic("chat", log_config=LOGGING)
app.config.WEBSOCKET_MAX_SIZE = MAX_MESSAGE_BYTES
app.config.GRACEFUL_SHUTDOWN_TIMEOUT = GOODBYE_TIMEOUT  # after say_goodbye; 15 s
app.ctx.room = Room()
app.ctx.limits = argparse.Namespace(max_rate=MAX_RATE, burst=BURST)
# use_content_range: Sanic then also gives a HEAD the file's Content-Length
# (without it, "Content-Length: 0"), and honours a GET for part of a file.
app.static("/", STATIC / "index.html", name="index", use_content_range=True)
app.static("/static/", STATIC, name="static", use_content_range=True)


@app.on_request
async def refuse_other_sites(request):
    """Middleware: refuse requests for other hosts, and WebSockets from their pages.

    It runs before the handler, hence before the handshake, which Sanic does
    just before calling a websocket handler. A request whose Host is not one of
    our addresses gets 400: a page of evil.example whose name now leads to our
    address (DNS rebinding) sends its own name. Browsers send the page's origin
    with every WebSocket handshake; other programs send none, and no web page
    can steer them, so a missing Origin is let in (see asgi_chat.py).
    """
    origins = allowed_origins(request)
    if request.host.lower() not in {urlsplit(origin).netloc for origin in origins}:
        return text("Unknown host\n", status=400)
    origin = request.headers.get("origin")
    if request.path == "/chat" and origin is not None and origin.lower() not in origins:
        return text("WebSockets from other sites are refused\n", status=403)
    return None  # None: carry on


def allowed_origins(request):
    """The origins our page may come from: our own address, and ALLOWED_ORIGINS.

    The address the client reached comes from the socket, not from a header.
    """
    host, port = request.conn_info.sockname[:2]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as URLs write it
    own = f"http://{host}" if port == 80 else f"http://{host}:{port}"
    return ALLOWED_ORIGINS | {own}


@app.on_request
async def refuse_nul_in_paths(request):
    """Middleware: answer 404 for a path holding a NUL character ("%00").

    Sanic's static handler would fail on it with a traceback and a 500
    (Sanic 25.12): frameworks have bugs too, and tests find them. It fails in
    the same way on a folder, "/static/", which gets 404 here too.
    """
    if "\0" in unquote(request.path) or request.path == "/static/":
        return text("Not found\n", status=404)
    return None


@app.on_response
async def add_security_headers(request, response):
    """Middleware: the headers go with every response, files included."""
    response.headers.update(SECURITY_HEADERS)


@app.websocket("/chat")
async def chat(request, ws):
    """One WebSocket connection at /chat, until the client leaves."""
    room = request.app.ctx.room
    limits = request.app.ctx.limits
    budget = TokenBucket(limits.max_rate, limits.burst)
    await ws.send(json.dumps(WELCOME))
    room.join(ws)
    try:
        async for data in ws:  # ends when the client closes the connection
            try:
                message = parse_chat_message(data)
            except ValueError as error:
                reply = {"sender": "server", "message": f"error: {error}"}
                await ws.send(json.dumps(reply))
            else:
                await room.broadcast(message)
            # Let the others run between messages, and wait if over budget
            # (Sanic then stops reading this client: backpressure).
            await budget.spend()
    except ConnectionClosed:
        pass  # closed without a proper goodbye, or after a message too big
    finally:
        room.leave(ws)


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


@app.after_server_start
async def start_announcing(app):
    app.add_task(announce_when_running(app))  # a task that Sanic keeps track of


async def announce_when_running(app):
    """Print the address, once Sanic is ready to stop on a signal.

    Sanic ignores a SIGTERM that arrives before its event loop has settled into
    serving (Sanic 25.12), and whoever started the chat may send one as soon as
    it reads "listening on": wait for that moment before printing.
    """
    while not app.state.is_running:  # noqa: ASYNC110 (a flag: no event to wait on)
        await asyncio.sleep(0.01)
    host, port = app.ctx.socket.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)


@app.before_server_stop
async def say_goodbye(app):
    """Close every WebSocket with 1001 (going away) while the server still runs."""
    await app.ctx.room.close_all(GOING_AWAY, "server shutting down")


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
    # Sanic reads port 0 as "the default port", 8000, so we bind the socket
    # ourselves (the system picks a free port) and hand it over.
    app.ctx.socket = socket.create_server((args.host, args.port))
    # See asgi_chat.limit_kernel_buffers: connections inherit this.
    app.ctx.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)
    app.ctx.limits = args
    app.ctx.room.send_timeout = args.send_timeout
    # single_process: no worker processes, so the chat and its Room live in this
    # process; Sanic still stops gracefully on SIGINT and SIGTERM.
    app.run(sock=app.ctx.socket, single_process=True, motd=False)


if __name__ == "__main__":
    main()
