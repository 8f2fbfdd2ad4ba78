"""Step 18, TLS: the chat, encrypted, with a certificate that proves who we are.

    python examples/chat/server18.py --port 0 --certfile cert.pem --keyfile key.pem

Without --certfile, nothing changes. With it, every connection begins with a TLS
handshake, and everything after it is encrypted. The streams hide the rest:
`reader` and `writer` carry plain bytes as before, so no line of the chat
itself changes. All it takes is an `ssl.SSLContext` given to `start_server()`:

- `ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)`: the safe defaults for
  the server side of TLS (modern protocol versions and ciphers only);
- `load_cert_chain(certfile, keyfile)`: our certificate, and its private key.

A test certificate for 127.0.0.1 can be made with the `trustme` package (the
tests do), or with `openssl req -x509 ...`; clients must then trust it.

A client that does not speak TLS, or does not trust our certificate, fails the
handshake before serve_client() ever sees it; `ssl_handshake_timeout` bounds how
long one may take. In debug mode asyncio reports each failure with a traceback;
`log_failed_handshakes()` turns that into one line of log.

A connection in the middle of its handshake is not in `self.clients` yet, but
on Python 3.12 and later the server waits for it when it closes. So main()
calls `loop.create_server()` with a protocol factory of our own,
`ChatServer.new_connection()`, which notes the task making each handshake;
shutdown() cancels those still in progress, which closes their connections.
"""

import asyncio
import logging
import ssl
from collections import defaultdict

from utils import (
    DEFAULT_MAX_MESSAGE_BYTES,
    FrameTooLarge,
    ProtocolError,
    announce,
    argument_parser,
    close_writer,
    decode_message,
    encode_frame,
    error_message,
    on_shutdown_signal,
    positive_int,
    read_frame,
    seconds,
    validate_request,
)

log = logging.getLogger("chat")

GOODBYE = {"action": "goodbye", "reason": "server shutting down"}
SEND_TIMEOUT = 10.0  # seconds a client may take to accept what we send it
CLOSE_TIMEOUT = 3.0  # seconds to flush and close a connection before aborting it
WRITE_BUFFER_HIGH = 64 * 1024  # bytes a transport holds before drain() waits


class Client:
    """One connection: its streams, who it is, its rooms, and its outbox."""

    def __init__(self, reader, writer, queue_size):
        self.reader = reader
        self.writer = writer
        self.address = writer.get_extra_info("peername")
        self.task = asyncio.current_task()  # the task that serves this connection
        self.receiver = None  # its two tasks, while it is served: one reads...
        self.sender = None  # ...and one writes
        self.username = None  # set by a successful "connect"
        self.rooms = set()
        # Every message for this client waits here for its sender task. Bounded:
        # a client with `queue_size` messages waiting is too slow, and is dropped.
        self.outbox = asyncio.Queue(queue_size)
        self.last_word = None  # a goodbye or an error to send before closing
        self.dropped = False  # dropped: what it has not received is thrown away
        self.closing = False

    def __str__(self):
        host, port = self.address[:2]
        return repr(self.username) if self.username else f"{host}:{port}"

    def hang_up(self):
        """Stop reading from and writing to this client; closing comes next."""
        for task in (self.receiver, self.sender):
            if task is not None:
                task.cancel()

    def deliver(self, frame):
        """Queue a frame (bytes) for this client; False if its outbox is full."""
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True


class ChatServer:
    """The chat's state and rules, and the life of every connection."""

    def __init__(self, *, max_message_bytes, idle_timeout, queue_size, tls=None):
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout or None  # None: wait as long as it takes
        self.queue_size = queue_size
        self.clients = set()  # every open connection
        self.stopping = False  # set by shutdown(): from then on, only goodbyes
        self.tls = tls  # an ssl.SSLContext, or None: plain TCP
        # Connections accepted that have not reached serve_client() yet (with TLS,
        # for as long as their handshake lasts): StreamReader -> asyncio's task
        # accepting each one.
        self.arriving = {}
        self.users = {}  # username -> Client
        self.rooms = defaultdict(set)  # room name -> the Clients in it

    # --- one connection, from start to end ------------------------------------

    def new_connection(self):
        """A protocol for a connection just accepted; create_server() calls this.

        It makes what start_server() would: streams, and serve_client() to run
        once the connection is ready. It also notes the task it runs in,
        asyncio's task for the new connection, which makes the TLS handshake, if
        any, before serve_client() is called: shutdown() waits for those tasks,
        and cancels the handshakes.
        """
        reader = asyncio.StreamReader()
        task = asyncio.current_task()  # None on Windows: it accepts elsewhere
        if task is not None:
            self.arriving[reader] = task
            task.add_done_callback(lambda _: self.arriving.pop(reader, None))
        return asyncio.StreamReaderProtocol(reader, self.serve_client)

    async def serve_client(self, reader, writer):
        """Serve one connection until it ends; its protocol calls this."""
        self.arriving.pop(reader, None)  # it has arrived (TLS: handshake done)
        client = Client(reader, writer, self.queue_size)
        self.clients.add(client)
        try:
            if self.stopping:  # it came too late to be served: only a goodbye
                client.last_word = GOODBYE
            else:
                await self.converse(client)
        finally:
            try:
                self.forget(client)
                await self.close_connection(client)
            finally:  # whatever happens, the shutdown must not wait for it again
                self.clients.discard(client)
                log.info("%s disconnected", client)

    async def converse(self, client):
        """Serve a client with two tasks: one reads requests, one writes replies."""
        log.info("%s connected", client)
        # drain() waits once the transport holds this much for the client: with
        # the bounded outbox, that bounds the memory one client can hold.
        client.writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        try:
            async with asyncio.TaskGroup() as tasks:
                client.sender = tasks.create_task(self.send_outbox(client))
                client.receiver = tasks.create_task(self.receive_requests(client))
        except* OSError as errors:  # a reset, a broken pipe, a TLS error
            log.info("%s: connection lost: %r", client, errors.exceptions[0])
        except* Exception as errors:  # a bug: log it, and keep serving the others
            log.error("%s: unexpected error", client, exc_info=errors)

    async def receive_requests(self, client):
        """Handle the client's frames until it leaves or has to be cut off."""
        try:
            turn = max(1, self.queue_size // 2)  # frames in a row, at most
            handled = 0
            while (payload := await self.next_frame(client)) is not None:
                self.handle_frame(client, payload)
                handled += 1
                # A read may hold many frames, and reading a buffered one does not
                # pause: let the senders run before the frames can fill an outbox.
                if handled % turn == 0:
                    await asyncio.sleep(0)
        finally:
            # No more requests, so no more replies: the sender can stop, and
            # close_connection() will flush whatever is still in the outbox.
            client.sender.cancel()

    async def next_frame(self, client):
        """The client's next frame; None when it is gone or must be cut off."""
        try:
            async with asyncio.timeout(self.idle_timeout):
                return await read_frame(client.reader, self.max_message_bytes)
        except TimeoutError:
            reason = f"idle for more than {self.idle_timeout:g} s"
        except FrameTooLarge as error:
            reason = error.reason
        client.last_word = error_message(reason)
        return None

    async def send_outbox(self, client):
        """Write the client's messages in order, waiting each time it lags behind."""
        while True:
            client.writer.write(await client.outbox.get())
            if client.writer.transport.get_write_buffer_size() <= WRITE_BUFFER_HIGH:
                await client.writer.drain()  # returns at once: no deadline needed
                continue
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await client.writer.drain()
            except TimeoutError:
                # drain() waits from over WRITE_BUFFER_HIGH down to its low-water
                # mark, a quarter of it: the client took less than 48 KiB in time.
                taken = (WRITE_BUFFER_HIGH - WRITE_BUFFER_HIGH // 4) // 1024
                reason = f"too slow: could not take {taken} KiB in {SEND_TIMEOUT:g} s"
                self.drop(client, reason)
                return

    async def close_connection(self, client):
        """Flush what is queued, add the last word, and close (or give up)."""
        client.closing = True
        writer = client.writer
        if not writer.transport.is_closing():  # else it is gone: write nothing
            while not (client.dropped or client.outbox.empty()):
                writer.write(client.outbox.get_nowait())  # bytes already
            if client.last_word is not None:
                writer.write(encode_frame(client.last_word))
        await close_writer(writer, CLOSE_TIMEOUT, client.reader)

    # --- requests -------------------------------------------------------------

    def handle_frame(self, client, payload):
        """Carry out one frame's request, and queue the reply if there is one."""
        try:
            request = validate_request(decode_message(payload))
            reply = self.perform(client, request)
        except ProtocolError as error:
            reply = error_message(error.reason)
        if reply is not None:
            self.post(client, encode_frame(reply))

    def perform(self, client, request):
        """Do what a valid request asks; the reply, or None (a chat is its own)."""
        action = request["action"]
        if action == "connect":
            return self.connect(client, request["username"])
        if client.username is None:
            raise ProtocolError('send "connect" with your username first')
        if action == "joinroom":
            return self.join(client, request["room"])
        if action == "leaveroom":
            return self.leave(client, request["room"])
        return self.chat(client, request["room"], request["message"])

    def connect(self, client, username):
        if client.username is not None:
            raise ProtocolError(f"already connected as {client.username!r}")
        if username in self.users:
            raise ProtocolError(f"username {username!r} is taken")
        log.info("%s is %r", client, username)
        client.username = username
        self.users[username] = client
        return {"action": "connect", "username": username, "ok": True}

    def join(self, client, room):
        client.rooms.add(room)
        self.rooms[room].add(client)
        return {"action": "joinroom", "room": room, "ok": True}

    def leave(self, client, room):
        if room not in client.rooms:
            raise ProtocolError(f"not in room {room!r}")
        self.remove_from_room(client, room)
        return {"action": "leaveroom", "room": room, "ok": True}

    def chat(self, client, room, text):
        if room not in client.rooms:
            raise ProtocolError(f"join room {room!r} before chatting in it")
        message = {"action": "chat", "room": room, "message": text}
        self.broadcast(room, {**message, "from": client.username})

    # --- fan-out and its casualties -------------------------------------------

    def broadcast(self, room, message):
        """Queue a message for every member of a room, the sender included."""
        frame = encode_frame(message)  # once: the same bytes for everyone
        # No await in this loop: all members get the message in the same step of
        # the event loop, so they all see the room's messages in the same order.
        for member in list(self.rooms[room]):  # a copy: post() may drop a member
            self.post(member, frame)

    def post(self, client, frame):
        """Queue a frame for a client, or drop the client if it is too far behind."""
        if not client.deliver(frame):
            self.drop(client, f"too slow: {self.queue_size} messages waiting")

    def drop(self, client, reason):
        """Cut off a client that the server cannot serve any more, saying why."""
        if client.closing or client.dropped:
            return
        log.warning("dropping %s: %s", client, reason)
        self.forget(client)  # no more messages for it
        client.dropped = True
        client.last_word = error_message(reason)
        client.hang_up()  # its converse() ends, then close_connection() runs

    def forget(self, client):
        """Take a leaving client out of its rooms and out of the user list."""
        for room in list(client.rooms):
            self.remove_from_room(client, room)
        if self.users.get(client.username) is client:
            del self.users[client.username]

    def remove_from_room(self, client, room):
        client.rooms.discard(room)
        self.rooms[room].discard(client)
        if not self.rooms[room]:
            del self.rooms[room]  # an empty room costs nothing

    # --- shutdown -------------------------------------------------------------

    async def shutdown(self, server):
        """Say goodbye to every client and wait until every connection is closed."""
        self.stopping = True  # from now on, serve_client() only says goodbye
        if self.tls:  # cut the handshakes short: cancelled, each one closes
            for task in self.arriving.values():
                task.cancel()
        # A loop: a connection may arrive while we wait. The arriving ones, soon
        # in serve_client(), only get a goodbye there: wait for them too.
        while self.clients or self.arriving:
            for client in self.clients:
                if not client.closing:
                    client.last_word = GOODBYE
                    client.hang_up()  # it stops reading, flushes, says goodbye
            serving = [client.task for client in self.clients]
            await asyncio.wait(serving + list(self.arriving.values()))
        # On Python 3.12 and later, wait_closed() also waits for connections we
        # could not see (on Windows, the arriving ones): CLOSE_TIMEOUT, no more.
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await server.wait_closed()
        except TimeoutError:
            if hasattr(server, "abort_clients"):  # new in Python 3.13
                server.abort_clients()


def tls_context(certfile, keyfile):
    """The TLS settings of a server that proves who it is with a certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def log_failed_handshakes(loop, context):
    """The event loop's exception handler: a failed TLS handshake in one line.

    In debug mode (`python -X dev`) asyncio reports each connection that failed
    before it reached serve_client(), traceback and all, as if the server were at
    fault. With TLS that is mostly a client that does not speak TLS, or does not
    trust our certificate: worth a line in the log, no more. Anything else goes to
    the default handler, which logs it in full.
    """
    exception = context.get("exception")
    if context["message"].startswith("Error on transport creation") and isinstance(
        exception, (OSError, asyncio.CancelledError)
    ):
        log.info("a connection failed before it started: %r", exception)
    else:
        loop.default_exception_handler(context)


def parse_command_line():
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--max-message-bytes",
        metavar="BYTES",
        type=positive_int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest frame a client may send (default %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        metavar="SECONDS",
        type=seconds,
        default=3600.0,
        help="how long a client may stay silent; 0: forever (default %(default)s)",
    )
    parser.add_argument(
        "--queue-size",
        metavar="N",
        type=positive_int,
        default=100,
        help="messages waiting for a client before it is dropped (default %(default)s)",
    )
    parser.add_argument(
        "--certfile", metavar="PEM", help="serve TLS with this certificate"
    )
    parser.add_argument(
        "--keyfile", metavar="PEM", help="the certificate's private key"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (default %(default)s)",
    )
    args = parser.parse_args()
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    return args


async def main():
    args = parse_command_line()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    log.setLevel(args.log_level)  # only our logger: asyncio's stays at WARNING
    tls = None
    if args.certfile:
        tls = tls_context(args.certfile, args.keyfile)
        asyncio.get_running_loop().set_exception_handler(log_failed_handshakes)
    chat = ChatServer(
        max_message_bytes=args.max_message_bytes,
        idle_timeout=args.idle_timeout,
        queue_size=args.queue_size,
        tls=tls,
    )
    server = await asyncio.get_running_loop().create_server(
        chat.new_connection,
        args.host,
        args.port,
        ssl=tls,
        ssl_handshake_timeout=10.0 if tls else None,  # not the default 60 s
    )
    stop = asyncio.Event()
    on_shutdown_signal(stop.set)
    async with server:
        announce(server)
        log.info("serving %s", "TLS" if tls else "plain TCP")
        await stop.wait()
        log.info("shutting down")
        server.close()  # stop accepting; the open connections are ours to close
        await chat.shutdown(server)
    # Leaving `async with server` waits for the server to close. (On Python 3.12
    # and later that includes every connection: which is why we closed them.)
    log.info("stopped")


if __name__ == "__main__":
    asyncio.run(main())
