"""The web chat with aiohttp, and three ways to publish a message to everyone.

    python examples/web/aiohttp_chat.py                   # http://127.0.0.1:8000/
    python examples/web/aiohttp_chat.py --publish each    # or gather, or tasks
    python examples/web/aiohttp_chat.py --allow http://localhost:8000  # also there

The same page and the same protocol as asgi_chat.py. aiohttp is both the server
and the framework: it routes requests, serves the static files (refusing paths
that climb out of their folder), does the WebSocket handshake, caps message size
(close code 1009), and runs our `on_shutdown` hook when the server stops.

Publishing one message to many WebSockets, chosen with --publish:

- each: await each send in turn. The simplest, and the least CPU, but one client
  that reads slowly holds up the message for everyone after it in the set.
- gather (the default): start every send at once, then wait until all are done.
  A slow client delays only the sender's next message; one that has left makes
  its send fail without stopping the others.
- tasks: a task per send, and do not wait for any. The sender carries on at
  once; the tasks must be kept in a set, or they may be garbage-collected before
  they finish, and their errors must be collected by hand.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

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
PING_INTERVAL = 20  # seconds; a client that misses a ping is disconnected
WELCOME = {"sender": "server", "message": "You are connected"}
SEND_TIMEOUT = 10.0  # seconds a client's data may wait to go out before we drop it
MAX_RATE = 20.0  # messages a second that one client may send, on average...
BURST = 200  # ...and how many at once (a pasted text, say)
GOODBYE_TIMEOUT = 3.0  # seconds the clients get to answer our goodbye
KERNEL_SEND_BUFFER = 64 * 1024  # bytes the system may hold for each connection
# Where else the page may be served, as origins ("http://localhost:8000"), from
# --allow; the address the server listens on is always allowed.
ALLOWED_ORIGINS = set()

log = logging.getLogger("chat")


# --- three ways to publish ------------------------------------------------------


async def publish_awaiting_each(clients, text):
    """Send to one client after another."""
    for ws in list(clients):  # a copy: clients may come and go while we wait
        with contextlib.suppress(ConnectionResetError):  # it has just left
            await ws.send_str(text)


async def publish_with_gather(clients, text):
    """Send to everyone at once, and wait until every send is done."""
    # return_exceptions=True: a client that has left returns its error instead of
    # raising it; its own handler sees the disconnection and removes it.
    await asyncio.gather(*(ws.send_str(text) for ws in clients), return_exceptions=True)


sending = set()  # the send tasks in flight, which the event loop does not keep


async def publish_with_tasks(clients, text):
    """Start a task per send, and return without waiting for any of them."""
    for ws in clients:
        task = asyncio.create_task(ws.send_str(text))
        sending.add(task)
        task.add_done_callback(forget_send)


def forget_send(task):
    """A send task is done: drop our reference, and report a real failure."""
    sending.discard(task)
    if task.cancelled():
        return
    # Calling exception() tells asyncio we have seen the error. A client that
    # left (ConnectionResetError) is expected; anything else is a bug.
    error = task.exception()
    if error is not None and not isinstance(error, ConnectionResetError):
        log.error("sending a message failed", exc_info=error)


PUBLISHERS = {
    "each": publish_awaiting_each,
    "gather": publish_with_gather,
    "tasks": publish_with_tasks,
}

# Keys for what the application keeps (aiohttp warns about plain string keys).
CLIENTS = web.AppKey("clients", dict)  # each WebSocket, and its connection
PUBLISH = web.AppKey("publish", object)
LIMITS = web.AppKey("limits", argparse.Namespace)  # max_rate, burst, send_timeout


# --- the handlers ---------------------------------------------------------------


async def index(request):
    return web.FileResponse(STATIC / "index.html")


async def chat(request):
    """One WebSocket connection at /chat, until the client leaves."""
    if not from_our_own_page(request):
        raise web.HTTPForbidden(text="WebSockets from other sites are refused\n")
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=PING_INTERVAL)
    transport = request.transport  # None once the connection is lost: keep it
    await ws.prepare(request)  # the handshake
    clients, publish = request.app[CLIENTS], request.app[PUBLISH]
    limits = request.app[LIMITS]
    budget = TokenBucket(limits.max_rate, limits.burst)
    try:
        await ws.send_json(WELCOME)
        clients[ws] = transport  # for drop_stuck_clients
        async for msg in ws:  # ends when the connection closes
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue  # WSMsgType.ERROR: too big, say; the connection is closing
            try:
                message = parse_chat_message(msg.data)
            except ValueError as error:
                await ws.send_json({"sender": "server", "message": f"error: {error}"})
            else:
                await publish(clients, json.dumps(message, ensure_ascii=False))
            # Let the others run between messages, and wait if over budget
            # (aiohttp then stops reading this client: backpressure).
            await budget.spend()
            if ws.closed:
                break  # it left, or we are closing: relay no more of its backlog
    except ConnectionResetError:
        pass  # the client left while we were writing to it
    finally:
        clients.pop(ws, None)
    return ws


def from_our_own_page(request):
    """False if a browser opened this WebSocket from a page of another site.

    Browsers send the page's origin with every WebSocket handshake (and may
    send the user's cookies). Other programs send none, and no web page can
    steer them, so a missing Origin is let in. See asgi_chat.py for the story.
    """
    origin = request.headers.get("Origin")
    return origin is None or origin.lower() in allowed_origins(request)


@web.middleware
async def refuse_other_hosts(request, handler):
    """Middleware: answer 400 to a request for a name that is not one of ours.

    Such as a page of evil.example whose name now leads to our address (DNS
    rebinding): its Origin would be its own Host, and both are foreign.
    """
    hosts = {urlsplit(origin).netloc for origin in allowed_origins(request)}
    if request.host.lower() not in hosts:
        raise web.HTTPBadRequest(text="Unknown host\n")
    return await handler(request)


def allowed_origins(request):
    """The origins our page may come from: our own address, and ALLOWED_ORIGINS.

    The address the client reached comes from the socket, not from a header.
    """
    host, port = request.transport.get_extra_info("sockname")[:2]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as URLs write it
    own = f"http://{host}" if port == 80 else f"http://{host}:{port}"
    return ALLOWED_ORIGINS | {own}


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


async def say_goodbye(app):
    """on_shutdown: close every WebSocket with 1001 (going away), all at once."""
    clients = app[CLIENTS]
    try:
        async with asyncio.timeout(GOODBYE_TIMEOUT), asyncio.TaskGroup() as tasks:
            for ws in list(clients):
                tasks.create_task(
                    ws.close(
                        code=WSCloseCode.GOING_AWAY, message=b"server shutting down"
                    )
                )
    except TimeoutError:
        # Our close waits behind what a client that stopped reading never took.
        for transport in clients.values():
            transport.abort()


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


async def dropping_stuck_clients(app):
    """cleanup_ctx: run drop_stuck_clients while the application runs."""
    dropper = asyncio.create_task(
        drop_stuck_clients(app[CLIENTS], app[LIMITS].send_timeout)
    )
    yield
    dropper.cancel()


async def drop_stuck_clients(clients, send_timeout):
    """Abort the connections whose data has waited to go out for too long.

    A client that has stopped reading makes every send to it wait, and its
    close too; aiohttp's heartbeat only marks it closed, with transport.close(),
    which waits to send what is buffered. abort() drops it, buffer and all.
    """
    waiting_since = {}
    while True:
        await asyncio.sleep(send_timeout / 4)
        now = time.monotonic()
        waiting = [t for t in clients.values() if t.get_write_buffer_size() > 0]
        waiting_since = {t: waiting_since.get(t, now) for t in waiting}
        for transport, since in waiting_since.items():
            if now - since >= send_timeout:
                transport.abort()


async def add_security_headers(request, response):
    """on_response_prepare: the headers go with every response, files included."""
    response.headers.update(SECURITY_HEADERS)


def make_app(publish, limits=None):
    app = web.Application(middlewares=[refuse_other_hosts])
    app[CLIENTS] = {}
    app[PUBLISH] = publish
    app[LIMITS] = limits or argparse.Namespace(
        max_rate=MAX_RATE, burst=BURST, send_timeout=SEND_TIMEOUT
    )
    app.router.add_get("/", index)
    app.router.add_get("/chat", chat)
    app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(say_goodbye)
    app.cleanup_ctx.append(dropping_stuck_clients)
    return app


# --- running it -------------------------------------------------------------------


async def serve(host, port, publish, limits=None):
    """Serve the chat until SIGINT or SIGTERM, then shut down cleanly."""
    # Catch the signals before saying we listen: one sent right after that line
    # must stop the server cleanly, not kill it.
    stop = event_set_by_signals(signal.SIGINT, signal.SIGTERM)
    # shutdown_timeout: how long cleanup() waits for the handlers (default 60 s).
    runner = web.AppRunner(make_app(publish, limits), shutdown_timeout=GOODBYE_TIMEOUT)
    await runner.setup()
    listening = socket.create_server((host, port))
    # See asgi_chat.limit_kernel_buffers: connections inherit this.
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)
    site = web.SockSite(runner, listening)
    await site.start()
    host, port = runner.addresses[0][:2]  # the real port, even with --port 0
    print(f"listening on {host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        # Stop listening, run on_shutdown, wait for the handlers to return.
        await runner.cleanup()


def event_set_by_signals(*signals):
    """An asyncio.Event that the first of these signals sets."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in signals:
        loop.add_signal_handler(signal_number, event.set)
    return event


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument(
        "--publish",
        choices=PUBLISHERS,
        default="gather",
        help="how to send a message to every client (default gather)",
    )
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
    logging.basicConfig(level=logging.INFO)  # aiohttp logs each request
    asyncio.run(serve(args.host, args.port, PUBLISHERS[args.publish], args))


if __name__ == "__main__":
    main()
