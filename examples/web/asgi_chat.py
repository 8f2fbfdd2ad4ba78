"""The web chat as a bare ASGI application: no framework, only uvicorn.

    python examples/web/asgi_chat.py               # then open http://127.0.0.1:8000/
    python examples/web/asgi_chat.py --port 0      # any free port
    python examples/web/asgi_chat.py --allow http://localhost:8000   # also there

or with uvicorn's own command line, from this folder (add --ws-max-size 4096 to
get the same cap on messages as above; without it uvicorn allows 16 MiB):

    uvicorn asgi_chat:application

`application` is one coroutine that the server calls once per connection. It
handles the three kinds of connection ASGI knows:

- "lifespan": the server starting and stopping;
- "http": a request for the chat page, or for one of its files in static/
  (anything else gets 404, and no path can climb out of static/);
- "websocket": the chat itself, at /chat.

The chat speaks JSON, {"sender": ..., "message": ...}, both ways. Right after
connecting, a client gets {"sender": "server", "message": "You are connected"};
then every message a client sends goes to every client, the sender included, in
the same order for all. A message that is not what the chat expects is answered
with an error message from "server"; one larger than MAX_MESSAGE_BYTES ends the
connection (close code 1009, message too big). The server answers only for its
own addresses: the one it listens on, and those given with --allow (a request
with another Host gets 400), and a WebSocket opened by a page of another site is
refused (HTTP 403). Each client has an outbox, a queue that one
task empties, so a slow client delays nobody else. On SIGTERM or Ctrl-C every
client is closed with code 1001 (going away) and the program exits with status 0.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

STATIC = (Path(__file__).parent / "static").resolve()  # the page and its files
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
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        (
            b"default-src 'self'; img-src 'self' data:; base-uri 'none';"
            b" form-action 'self'; frame-ancestors 'none'"
        ),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]
MAX_MESSAGE_BYTES = 4096  # larger WebSocket messages end the connection (1009)
MAX_BACKLOG = 1000  # messages waiting for one client before it counts as too slow
SEND_TIMEOUT = 10.0  # seconds one message may wait to go out before we give up
MAX_RATE = 20.0  # messages a second that one client may send, on average...
BURST = 200  # ...and how many at once (a pasted text, say)
GOODBYE_TIMEOUT = 3.0  # seconds the clients get to answer our goodbye
DROP_AFTER = 2.0  # seconds a closing connection gets to send what it holds
KERNEL_SEND_BUFFER = 64 * 1024  # bytes the system may hold for each connection
WELCOME = {"sender": "server", "message": "You are connected"}
# Where else the page may be served, as origins such as "http://localhost:8000" or
# "https://chat.example.com": main() adds those given with --allow. The address
# the server listens on is always allowed (see allowed_origins).
ALLOWED_ORIGINS = set()
# WebSocket close codes (RFC 6455, section 7.4.1)
GOING_AWAY = 1001
POLICY_VIOLATION = 1008


async def application(scope, receive, send):
    """The ASGI application: the server calls it for every connection."""
    match scope["type"]:
        case "lifespan":
            await lifespan(receive, send)
        case "http":
            await serve_http(scope, send)
        case "websocket":
            await chat_websocket(scope, receive, send)


# --- lifespan: the server starting and stopping ---------------------------------


async def lifespan(receive, send):
    """Refuse to start without the chat page; there is nothing to clean up."""
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            if (STATIC / "index.html").is_file():
                await send({"type": "lifespan.startup.complete"})
            else:
                message = f"the chat page is missing from {STATIC}"
                await send({"type": "lifespan.startup.failed", "message": message})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- http: the page and its files -----------------------------------------------


async def serve_http(scope, send):
    """Answer a GET for the page or one of its files; anything else is refused.

    A HEAD gets what a GET would get, headers and all, but no body.
    """
    # We never call receive(): a GET has no body to read.
    if scope["method"] == "HEAD":
        send = without_body(send)
    if not addressed_to_us(scope):
        await respond(send, 400, b"Unknown host\n")
        return
    if scope["method"] not in ("GET", "HEAD"):
        await respond(
            send,
            405,
            b"Only GET or HEAD, please\n",
            extra_headers=[(b"allow", b"GET, HEAD")],
        )
        return
    # Finding and reading a file blocks on the disk: do it outside the event loop.
    file = await asyncio.to_thread(find_static_file, scope["path"])
    if file is None:
        await respond(send, 404, b"Not found\n")
        return
    body = await asyncio.to_thread(file.read_bytes)
    content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
    await respond(send, 200, body, content_type)


def without_body(send):
    """A send() that passes every event on, but with empty response bodies.

    The answer to a HEAD: the status and headers of the GET, Content-Length
    included (the length of the body it would have), and nothing after them.
    """

    async def send_headers_only(event):
        if event["type"] == "http.response.body":
            event = {**event, "body": b""}
        await send(event)

    return send_headers_only


def find_static_file(path):
    """The file in STATIC that a URL path names, or None.

    The server has already decoded the path, so "/static/%2e%2e/asgi_chat.py"
    arrives as "/static/../asgi_chat.py": resolve() follows every ".." (and
    symbolic link), and whatever it finds must still be inside STATIC.
    """
    if path == "/":
        path = "/static/index.html"
    if not path.startswith("/static/") or "\0" in path:  # resolve() rejects NUL
        return None
    file = (STATIC / path.removeprefix("/static/")).resolve()
    if file.is_relative_to(STATIC) and file.is_file():
        return file
    return None


async def respond(
    send, status, body, content_type="text/plain; charset=utf-8", extra_headers=()
):
    """Send a whole HTTP response: first the status and headers, then the body."""
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- websocket: the chat ----------------------------------------------------------


async def chat_websocket(scope, receive, send):
    """One WebSocket connection, from the handshake until the client leaves."""
    await receive()  # the first event is always "websocket.connect"
    if scope["path"] != "/chat" or not from_our_own_page(scope):
        # Closing instead of accepting refuses the handshake: HTTP 403.
        await send({"type": "websocket.close"})
        return
    await send({"type": "websocket.accept"})
    client = Client(send, CHAT.send_timeout)
    client.deliver(WELCOME)
    CHAT.join(client)
    try:
        async with asyncio.TaskGroup() as tasks:
            writer = tasks.create_task(client.write_outbox())
            reader = tasks.create_task(relay_messages(client, receive))
            # When one ends, so does the other. The reader ends when the client
            # leaves: what it has not got is moot. The writer ends once it has
            # sent our close, or found the client gone: there is nobody to
            # read for (and what it sent before may still be queued for us).
            reader.add_done_callback(lambda _: writer.cancel())
            writer.add_done_callback(lambda _: reader.cancel())
    except* TooSlow:
        pass  # we gave up on it; ChatServer drops the connection (see there)
    finally:
        CHAT.leave(client)


def from_our_own_page(scope):
    """False if a browser opened this WebSocket from a page of another site.

    A browser sends the origin of the page with every WebSocket handshake, and
    may send the user's cookies too: without this check, any site the user
    visits could read the chat and write to it (cross-site WebSocket hijacking).
    Programs that are not browsers send no Origin; no web page can make them
    connect, so they are let in, if they ask for one of our addresses.
    """
    if not addressed_to_us(scope):
        return False
    origin = request_header(scope, b"origin")
    return origin is None or origin.lower() in allowed_origins(scope)


def addressed_to_us(scope):
    """True if the Host header names one of the addresses in allowed_origins.

    A page of evil.example whose name its owner has pointed at our address (DNS
    rebinding) would reach us with "Host: evil.example", and its own Origin: a
    name we never allowed, so it is refused.
    """
    host = (request_header(scope, b"host") or "").lower()
    return host in {urlsplit(origin).netloc for origin in allowed_origins(scope)}


def allowed_origins(scope):
    """The origins our page may come from: our own address, and ALLOWED_ORIGINS.

    scope["server"] is the address the client reached, read from the socket: no
    header can change it. (It is None on a Unix socket.)
    """
    if scope.get("server") is None:
        return ALLOWED_ORIGINS
    return ALLOWED_ORIGINS | {origin_of(*scope["server"])}


def origin_of(host, port):
    """The origin of a page served over HTTP at this host and port."""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as URLs write it
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def request_header(scope, name):
    """A request header's value as text, or None if the request has none."""
    value = dict(scope["headers"]).get(name)  # names arrive in lower case, as bytes
    return None if value is None else value.decode("latin-1")


async def relay_messages(client, receive):
    """Broadcast each message the client sends, until it disconnects."""
    budget = TokenBucket(CHAT.max_rate, CHAT.burst)
    while (event := await receive())["type"] == "websocket.receive":
        try:
            message = parse_chat_message(event.get("text"))
        except ValueError as error:
            client.deliver({"sender": "server", "message": f"error: {error}"})
        else:
            CHAT.broadcast(message)
        # Always a pause, if only to let the writers run: one read from the
        # network may hold a thousand messages, and receive() hands us each of
        # them without waiting. A longer one if this client is over its budget.
        await budget.spend()
    # The loop ends on "websocket.disconnect": the client left, or we closed it.


def parse_chat_message(text):
    """The {"sender", "message"} dict in `text`; ValueError says what is wrong."""
    if text is None:
        raise ValueError("send text, not binary data")
    try:
        data = json.loads(text)
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


class TokenBucket:
    """A budget of messages: `burst` at once, then `rate` a second on average.

    Spending waits while the budget is spent. A client's reader spends before
    reading the next message: a flooder is slowed to its budget, and since it
    is not read, its own socket fills up, and its writes wait (backpressure).
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


class TooSlow(Exception):
    """A client took more than its send timeout to accept one message."""


class Client:
    """One WebSocket connection at /chat, and its outbox.

    The outbox holds ASGI events waiting to be sent. Only `write_outbox`, the
    connection's writer task, calls `send`: events go out one at a time and in
    order, and nothing is sent after the close.
    """

    def __init__(self, send, send_timeout=SEND_TIMEOUT):
        self.send = send
        self.send_timeout = send_timeout
        self.outbox = asyncio.Queue()
        self.closing = False

    def deliver(self, message):
        """Queue a chat message (a dict) for this client; this never waits."""
        if self.closing:
            return
        if self.outbox.qsize() >= MAX_BACKLOG:
            self.close(POLICY_VIOLATION, "too slow")
        else:
            # ensure_ascii=False: the text as it came, not as \uXXXX escapes,
            # which would make Chinese three times longer, and emoji more.
            text = json.dumps(message, ensure_ascii=False)
            self.outbox.put_nowait({"type": "websocket.send", "text": text})

    def close(self, code, reason):
        """Close the connection once what is queued has been sent."""
        if not self.closing:
            self.closing = True
            event = {"type": "websocket.close", "code": code, "reason": reason}
            self.outbox.put_nowait(event)

    async def write_outbox(self):
        """Send the queued events in order, until the close.

        A client that has stopped reading makes send() wait for good: its close
        would never get through either. So past the send timeout, give up on it
        (TooSlow ends the connection's handler).
        """
        while True:
            event = await self.outbox.get()
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self.send(event)
            except TimeoutError:  # (first: TimeoutError is a kind of OSError)
                raise TooSlow from None
            except OSError:  # the client is gone; the server tells the reader too
                return
            if event["type"] == "websocket.close":
                return


class Chat:
    """Everyone connected to /chat."""

    def __init__(self):
        self.clients = set()
        self.everyone_left = asyncio.Event()
        self.everyone_left.set()
        # The limits for each client; main() sets them from the command line.
        self.set_limits(MAX_RATE, BURST, SEND_TIMEOUT)

    def set_limits(self, max_rate, burst, send_timeout):
        """What one client may send (see TokenBucket), and how long it may
        take to receive one message before we give up on it."""
        self.max_rate, self.burst = max_rate, burst
        self.send_timeout = send_timeout

    def join(self, client):
        self.clients.add(client)
        self.everyone_left.clear()

    def leave(self, client):
        self.clients.discard(client)
        if not self.clients:
            self.everyone_left.set()

    def broadcast(self, message):
        """Queue a message for every client. Nothing here waits, so no other
        message can come in between: every client gets messages in one order."""
        for client in self.clients:
            client.deliver(message)

    def close_everyone(self, code, reason):
        """Close every connection once what is queued for it has been sent."""
        for client in self.clients:
            client.close(code, reason)


CHAT = Chat()


# --- running it under uvicorn -----------------------------------------------------


class ChatServer(uvicorn.Server):
    """uvicorn's server, which prints its address and says goodbye when stopping."""

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started:  # False if, say, the port was taken
            # With --port 0 the system picks the port: ask the listening socket.
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            limit_kernel_buffers(self.servers[0].sockets)
            print(f"listening on {host}:{port}", flush=True)
            self.dropper = asyncio.create_task(self.drop_stuck_connections())

    async def drop_stuck_connections(self):
        """Drop the connections that were closed but cannot finish closing.

        uvicorn closes a connection with transport.close(), which first sends
        whatever is buffered: to a client that has stopped reading, never. Such a
        connection would stay open for good (and SIGTERM wait for it). The
        application cannot end a connection, only ask; the server can: abort()
        drops it at once, with what is buffered.
        """
        closing_since = {}
        while True:
            await asyncio.sleep(DROP_AFTER / 4)
            now = time.monotonic()
            closing = [
                connection.transport
                for connection in self.server_state.connections
                if connection.transport.is_closing()
            ]
            closing_since = {t: closing_since.get(t, now) for t in closing}
            for transport, since in closing_since.items():
                if now - since >= DROP_AFTER:
                    transport.abort()

    async def shutdown(self, sockets=None):
        # uvicorn would close every WebSocket with code 1012 (service restart).
        # Stop accepting, then close them ourselves with 1001 (going away).
        for server in self.servers:
            server.close()
        CHAT.close_everyone(GOING_AWAY, "server shutting down")
        # Give the clients a moment to answer; uvicorn closes the stragglers.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_TIMEOUT):
                await CHAT.everyone_left.wait()
        await super().shutdown(sockets=sockets)
        self.dropper.cancel()


def limit_kernel_buffers(listening_sockets):
    """Cap what the system buffers for each connection these sockets accept.

    By default Linux lets a connection's send buffer grow to 4 MiB: a client
    that stops reading can be sent that much before send() waits, and it can
    take minutes at chat speed. A chat needs far less in flight. (Connections
    inherit the option from the listening socket.)
    """
    for listening in listening_sockets:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)


def exit_quietly_after_signals():
    """Let the program end normally once uvicorn has stopped after a signal.

    uvicorn catches SIGINT and SIGTERM to shut down gracefully, then raises the
    signal again for whatever handler was there before. The default ones would
    end the program with a KeyboardInterrupt traceback (SIGINT) or kill it
    (SIGTERM, exit status -15); this one does nothing, so the program ends.
    """
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda number, frame: None)


def run_server(app, host, port):
    """Serve an ASGI application with uvicorn until SIGINT or SIGTERM."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=MAX_MESSAGE_BYTES,
        # How long shutdown waits for the connections to end before it gives
        # up on them and cancels their handlers. uvicorn's default is to wait
        # for ever; it comes after our goodbye, see ChatServer.shutdown().
        timeout_graceful_shutdown=GOODBYE_TIMEOUT,
    )
    exit_quietly_after_signals()
    ChatServer(config).run()


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
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
    add_limit_options(parser)
    return parser.parse_args()


def add_limit_options(parser):
    limits = parser.add_argument_group("limits for each client")
    limits.add_argument(
        "--max-rate",
        type=float,
        default=MAX_RATE,
        help=f"messages a second, on average (default {MAX_RATE:g})",
    )
    limits.add_argument(
        "--burst", type=int, default=BURST, help=f"messages at once (default {BURST})"
    )
    limits.add_argument(
        "--send-timeout",
        type=float,
        default=SEND_TIMEOUT,
        help=f"seconds a client may take to accept one message ({SEND_TIMEOUT:g})",
    )


def origin_argument(text):
    """An origin given on the command line, written as browsers send it."""
    parts = urlsplit(text.lower())
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"not an origin like http://host:port: {text}")
    return f"{parts.scheme}://{parts.netloc}"


def main():
    args = parse_args(description=__doc__.splitlines()[0])
    ALLOWED_ORIGINS.update(args.allow)
    CHAT.set_limits(args.max_rate, args.burst, args.send_timeout)
    run_server(application, args.host, args.port)


if __name__ == "__main__":
    main()
