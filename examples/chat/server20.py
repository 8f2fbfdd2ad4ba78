"""Step 20, the finished chat server: every earlier step, plus statistics.

    python examples/chat/server20.py                    # plain TCP on 127.0.0.1:8888
    python examples/chat/server20.py --port 0           # on any free port
    python examples/chat/server20.py --certfile cert.pem --keyfile key.pem   # TLS
    python examples/chat/server20.py --status-every 60  # figures in the log
    python examples/chat/server20.py --help             # every option

What it does, and the step that taught it:

- frames (a 4-byte length, then UTF-8 JSON) read with readexactly (3, 4)
- connect, joinroom, leaveroom and chat, with an error for anything wrong (5)
- unique usernames and rooms, forgotten when a client leaves (6, 7)
- an outbox and a sender task per client (here, only while it lags behind), so
  that one slow client never delays the others, and every member of a room sees
  its messages in one order (8, 9)
- a client that cannot keep up is dropped with a reason (10); so is an idle one
  (11)
- a TaskGroup per connection, errors sorted out with except* (12, 13)
- SIGINT or SIGTERM: stop accepting, say goodbye to everyone, flush, exit 0 (14)
- logging (15), a ChatServer class (16), command-line options (17), TLS (18),
  limits on connections (in all, per address, time to log in), open files,
  rooms and each sender's rate (19)

New here: statistics. The server counts what it does (connections, messages
queued, requests refused, clients dropped, failed TLS handshakes);
`--status-every SECONDS` logs those figures regularly, from a task that runs
beside the server in main()'s TaskGroup, and the totals are logged when the
server stops. The shutdown runs in a `finally`: if that task failed, the
connections are still closed (Python 3.12 and later would wait for them).

And a cheaper path for every message, with the same behaviour: a frame goes
straight to the client's transport when nothing waits before it and the
transport is not full; only what the client could not take waits in its outbox,
for a sender task that exists only while there is a backlog, and writes it all
at once. The task that serves a connection reads its requests itself, and one
task for the whole server checks every client's deadlines once a second,
instead of a timer for each client and each frame.
"""

import asyncio
import logging
import ssl
import time
from collections import Counter, defaultdict

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
    raise_open_file_limit,
    read_frame,
    seconds,
    validate_request,
)

log = logging.getLogger("chat")

GOODBYE = {"action": "goodbye", "reason": "server shutting down"}
SEND_TIMEOUT = 10.0  # seconds a client may take to accept what we send it
CLOSE_TIMEOUT = 3.0  # seconds to flush and close a connection before aborting it
WRITE_BUFFER_HIGH = 64 * 1024  # bytes a transport holds before drain() waits
MAX_ROOMS_PER_CLIENT = 100
LOGIN_TIMEOUT = 10.0  # seconds a newcomer has to send "connect" (--login-timeout)
MAX_PER_ADDRESS = 32  # connections from one address at once (--max-per-address)
BACKLOG = 128  # connections the system queues for us before we accept them
# Open files kept for other uses: one accept burst (up to BACKLOG sockets,
# taken before serve_client() can refuse any), logs, TLS certificates...
SPARE_FILES = BACKLOG + 64
MAX_RATE = 50  # frames a second a client may send, on average (--max-rate)...
BURST = 200  # ...and at once (--burst): a pasted page of text goes through
TICK = 1.0  # seconds between two checks of every client's deadlines


class Client:
    """One connection: its streams, who it is, its rooms, and its outbox."""

    def __init__(self, reader, writer, queue_size):
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport  # deliver() writes to it directly
        self.address = writer.get_extra_info("peername")
        self.host = self.address[0]  # its IP address, without the port
        # The task that serves this connection, and reads its requests; and a
        # sender task, only while the client has a backlog.
        self.task = asyncio.current_task()
        self.sender = None
        self.username = None  # set by a successful "connect"
        self.rooms = set()
        # For its deadlines (see watch_deadlines): when it arrived, and since
        # when the server has been waiting for its next frame (None: it is not).
        self.arrived = time.monotonic()
        self.silent_since = None
        # The frames that the transport could not take at once wait here, in
        # order, for the sender task. Bounded: a client with `queue_size` frames
        # waiting, over and above a full transport, is too slow, and is dropped.
        self.outbox = []
        self.queue_size = queue_size
        self.last_word = None  # a goodbye or an error to send before closing
        self.dropped = False  # dropped: what it has not received is thrown away
        self.hung_up = False  # told to stop reading and writing
        self.closing = False

    def __str__(self):
        host, port = self.address[:2]
        return repr(self.username) if self.username else f"{host}:{port}"

    def hang_up(self):
        """Stop reading from and writing to this client; closing comes next."""
        if self.hung_up:
            return  # once is enough: converse() takes back one cancellation
        self.hung_up = True
        for task in (self.task, self.sender):
            # A task that hangs up on its own client stops by itself: it checks
            # `hung_up` before it waits again.
            if task not in (None, asyncio.current_task()):
                task.cancel()

    def deliver(self, frame):
        """Send a frame (bytes) now, or queue it; False if the outbox is full."""
        transport = self.transport
        if transport.is_closing():
            return True  # the connection is ending: nothing more can reach it
        if not self.outbox and transport.get_write_buffer_size() <= WRITE_BUFFER_HIGH:
            transport.write(frame)  # it takes the bytes at once: no queue, no task
            return True
        if len(self.outbox) >= self.queue_size:
            return False
        self.outbox.append(frame)  # behind the others: the order stays the same
        return True


class TokenBucket:
    """A budget for one sender: `rate` frames a second, and `burst` at once.

    The bucket holds up to `burst` tokens and refills at `rate` tokens a second.
    Each frame spends one; a frame that finds the bucket empty spends one on
    credit, and spend() says how long to wait until the debt is paid back.

    >>> budget = TokenBucket(rate=10, burst=3, now=0.0)
    >>> [budget.spend(now=0.0) for _ in range(3)]  # a burst: no waiting
    [0.0, 0.0, 0.0]
    >>> budget.spend(now=0.0)  # the bucket is empty: wait for the next token
    0.1
    >>> budget.spend(now=0.1)  # and from then on, one frame every 1/10 s
    0.1
    >>> [budget.spend(now=60.0) for _ in range(4)]  # a pause refills it, up to 3
    [0.0, 0.0, 0.0, 0.1]
    """

    def __init__(self, rate, burst, now):
        self.rate = rate
        self.burst = burst
        self.tokens = burst  # a newcomer starts with a full bucket
        self.updated = now

    def spend(self, now):
        """Spend a token on one frame: seconds to wait before reading the next."""
        refilled = self.tokens + (now - self.updated) * self.rate
        self.tokens = min(refilled, self.burst) - 1
        self.updated = now
        return max(0.0, -self.tokens / self.rate)


class ChatServer:
    """The chat's state and rules, and the life of every connection."""

    def __init__(
        self,
        *,
        max_message_bytes,
        idle_timeout,
        queue_size,
        max_clients,
        max_rate=MAX_RATE,
        burst=BURST,
        login_timeout=LOGIN_TIMEOUT,
        max_per_address=MAX_PER_ADDRESS,
        tls=None,
    ):
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout or None  # None: wait as long as it takes
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.max_rate = max_rate  # frames a second, for each client
        self.burst = burst
        self.clients = set()  # every open connection
        self.login_timeout = login_timeout or None  # None: no deadline
        self.max_per_address = max_per_address
        self.stopping = False  # set by shutdown(): from then on, only goodbyes
        self.tls = tls  # an ssl.SSLContext, or None: plain TCP
        # Connections accepted that have not reached serve_client() yet (with TLS,
        # for as long as their handshake lasts): StreamReader -> asyncio's task
        # accepting each one.
        self.arriving = {}
        self.connections_from = Counter()  # host -> its open connections
        self.users = {}  # username -> Client
        self.rooms = defaultdict(set)  # room name -> the Clients in it
        self.stats = Counter()

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
            task.add_done_callback(lambda _: self.arrival_ended(reader))
            # A TLS handshake holds an open file and about 300 kB: it counts as a
            # client. Past the limit, cancelling it closes the connection.
            if self.tls and len(self.clients) + len(self.arriving) > self.max_clients:
                log.warning("server full: refused a connection before its handshake")
                task.cancel()
        return asyncio.StreamReaderProtocol(reader, self.serve_client)

    async def serve_client(self, reader, writer):
        """Serve one connection until it ends; its protocol calls this."""
        self.arriving.pop(reader, None)  # it has arrived (TLS: handshake done)
        client = Client(reader, writer, self.queue_size)
        self.clients.add(client)
        self.connections_from[client.host] += 1
        try:
            if self.stopping:  # it came too late to be served: only a goodbye
                client.last_word = GOODBYE
            elif reason := self.refusal(client):
                self.stats["refused"] += 1
                log.warning("refused %s: %s", client, reason)
                client.last_word = error_message(reason)
            else:
                await self.converse(client)
        finally:
            try:
                self.forget(client)
                await self.close_connection(client)
            finally:  # whatever happens, the shutdown must not wait for it again
                self.clients.discard(client)
                self.connections_from[client.host] -= 1
                if not self.connections_from[client.host]:
                    del self.connections_from[client.host]
                log.info("%s disconnected", client)

    def arrival_ended(self, reader):
        """Forget an arrival; count it if it was a TLS handshake that failed."""
        if self.arriving.pop(reader, None) is not None and self.tls:
            self.stats["failed handshakes"] += 1

    def refusal(self, client):
        """Why a new connection cannot be served, or None if it can."""
        if len(self.clients) + len(self.arriving) > self.max_clients:
            return "server full, try again later"
        if self.connections_from[client.host] > self.max_per_address:
            return "too many connections from your address"
        return None

    async def watch_deadlines(self):
        """Every TICK, drop the clients late to log in, or silent for too long.

        One timer for the whole server, rather than one per client and one more
        for each frame it reads: a client is dropped at most a TICK late.
        """
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for client in list(self.clients):  # a copy: drop() may change it
                if reason := self.missed_deadline(client, now):
                    self.drop(client, reason)

    def missed_deadline(self, client, now):
        """Why a client has to go, if it missed a deadline; None if it did not."""
        if client.dropped or client.closing:
            return None  # on its way out already
        waited = now - client.arrived  # since it connected
        if (
            client.username is None
            and self.login_timeout
            and waited > self.login_timeout
        ):
            return f'no "connect" within {self.login_timeout:g} s'
        if client.silent_since is None or not self.idle_timeout:
            return None  # not waiting for a frame now: not silent
        if now - client.silent_since > self.idle_timeout:
            return f"idle for more than {self.idle_timeout:g} s"
        return None

    async def converse(self, client):
        """Serve a client: read its requests here; its replies are written through."""
        self.stats["connections"] += 1
        log.info("%s connected", client)
        # Frames are written through to the transport while it holds less than
        # this for the client; past it, they wait in the bounded outbox, and
        # drain() waits. Together, they bound the memory one client can hold.
        client.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        try:
            await self.receive_requests(client)
        except asyncio.CancelledError:
            if not client.hung_up:
                raise  # cancelled from outside: not ours to stop
            # hang_up() cancelled it: it goes on, to close the connection.
            asyncio.current_task().uncancel()
        except OSError as error:  # a reset, a broken pipe, a TLS error
            log.info("%s: connection lost: %r", client, error)
        except Exception:  # a bug: log it, and keep serving the others
            log.exception("%s: unexpected error", client)

    async def receive_requests(self, client):
        """Handle the client's frames until it leaves or has to be cut off."""
        budget = TokenBucket(self.max_rate, self.burst, time.monotonic())
        turn = max(1, self.queue_size // 2)  # frames in a row, at most
        handled = 0
        while not client.hung_up:
            client.silent_since = time.monotonic()  # the idle clock runs from here
            try:
                payload = await read_frame(client.reader, self.max_message_bytes)
            except FrameTooLarge as error:
                client.last_word = error_message(error.reason)
                return
            client.silent_since = None  # not while it waits out its budget
            if payload is None:
                return  # the client has gone
            self.handle_frame(client, payload)
            handled += 1
            # A read may hold many frames, and reading a buffered one does not
            # pause: let the others run before the frames can fill an outbox.
            # A client over its budget waits longer, its bytes left unread.
            delay = budget.spend(time.monotonic())
            if delay or handled % turn == 0:
                await asyncio.sleep(delay)

    async def send_backlog(self, client):
        """Write the client's outbox as the client takes it, all of it each time.

        post() starts this task when a frame has to wait, and it ends once the
        outbox is empty: a client that keeps up never has one.
        """
        try:
            while client.outbox:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await client.writer.drain()
                client.writer.write(b"".join(client.outbox))  # one write for all
                client.outbox.clear()
        except TimeoutError:
            # drain() waits from over WRITE_BUFFER_HIGH down to its low-water
            # mark, a quarter of it: the client took less than 48 KiB in time.
            taken = (WRITE_BUFFER_HIGH - WRITE_BUFFER_HIGH // 4) // 1024
            self.drop(
                client, f"too slow: could not take {taken} KiB in {SEND_TIMEOUT:g} s"
            )
        except OSError:
            pass  # the connection is lost: its serving task finds out, and closes
        except Exception:  # a bug: log it, and end this connection only
            log.exception("%s: unexpected error", client)
            client.hang_up()
        finally:
            client.sender = None

    async def close_connection(self, client):
        """Flush what is queued, add the last word, and close (or give up)."""
        client.closing = True
        if client.sender is not None:
            client.sender.cancel()  # from now on, only this writes
        writer = client.writer
        if not client.transport.is_closing():  # else it is gone: write nothing
            if client.outbox and not client.dropped:
                writer.write(b"".join(client.outbox))
            if client.last_word is not None:
                writer.write(encode_frame(client.last_word))
        if client.reader.at_eof() and not client.transport.get_write_buffer_size():
            # The client hung up, we read all it sent, and nothing of ours is
            # left to send: no need to linger or wait, closing loses nothing.
            writer.close()
            return
        await close_writer(writer, CLOSE_TIMEOUT, client.reader)

    # --- requests -------------------------------------------------------------

    def handle_frame(self, client, payload):
        """Carry out one frame's request, and queue the reply if there is one."""
        try:
            request = validate_request(decode_message(payload))
            reply = self.perform(client, request)
        except ProtocolError as error:
            self.stats["refused requests"] += 1
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
        if room not in client.rooms and len(client.rooms) >= MAX_ROOMS_PER_CLIENT:
            raise ProtocolError(f"already in {MAX_ROOMS_PER_CLIENT} rooms")
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
        """Send a message to every member of a room, the sender included."""
        frame = encode_frame(message)  # once: the same bytes for everyone
        # No await in this loop: all members get the message in the same step of
        # the event loop, so they all see the room's messages in the same order.
        for member in list(self.rooms[room]):  # a copy: post() may drop a member
            self.post(member, frame)

    def post(self, client, frame):
        """Send a frame to a client, or drop the client if it is too far behind."""
        if not client.deliver(frame):
            self.drop(client, f"too slow: {self.queue_size} messages waiting")
            return
        self.stats["messages queued"] += 1  # in the transport or in the outbox
        if client.outbox and client.sender is None:  # the first to wait
            client.sender = asyncio.create_task(self.send_backlog(client))

    def drop(self, client, reason):
        """Cut off a client that the server cannot serve any more, saying why."""
        if client.closing or client.dropped:
            return
        log.warning("dropping %s: %s", client, reason)
        self.stats["dropped"] += 1
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

    # --- statistics -----------------------------------------------------------

    def status(self):
        """The server's figures now: who is here, and what it has done so far."""
        clients, users, rooms = len(self.clients), len(self.users), len(self.rooms)
        return f"{clients} open, {users} users, {rooms} rooms; {self.summary()}"

    def summary(self):
        """What the server has done: how many connections, messages, drops...

        >>> chat = ChatServer(
        ...     max_message_bytes=1024, idle_timeout=60, queue_size=10, max_clients=10
        ... )
        >>> chat.summary()
        'nothing yet'
        >>> chat.stats.update({"messages queued": 9, "connections": 2})
        >>> chat.summary()
        '2 connections, 9 messages queued'
        """
        counts = sorted(self.stats.items())
        return ", ".join(f"{count} {what}" for what, count in counts) or "nothing yet"


async def report_status(chat, interval):
    """Log the server's figures every `interval` seconds (0: never), until cancelled."""
    while interval:
        await asyncio.sleep(interval)
        log.info("status: %s", chat.status())


def tls_context(certfile, keyfile):
    """The TLS settings of a server that proves who it is with a certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


class LoopErrors:
    """The event loop's exception handler: its reports, in fewer words.

    - In debug mode (`python -X dev`) asyncio reports each connection that failed
      before it reached serve_client(), traceback and all, as if the server were
      at fault. With TLS that is mostly a client that does not speak TLS, or does
      not trust our certificate: worth a line in the log, no more.
    - Out of open files, asyncio's accept loop reports every failed accept(),
      traceback and all: thousands a second. We log the first, then one line
      per `interval` seconds with the number of failures, while they go on.

    Anything else goes to the default handler, which logs it in full.
    """

    def __init__(self, interval=1.0):
        self.interval = interval
        self.failures = None  # accept() failures not logged yet; None: none lately

    def __call__(self, loop, context):
        exception = context.get("exception")
        if context["message"] == "socket.accept() out of system resource":
            self.accept_failed(loop, exception)
        elif context["message"].startswith("Error on transport creation") and (
            isinstance(exception, (OSError, asyncio.CancelledError))
        ):
            log.info("a connection failed before it started: %r", exception)
        else:
            loop.default_exception_handler(context)

    def accept_failed(self, loop, exception):
        if self.failures is None:  # the first in a while: say so now
            log.error("cannot accept connections: %s", exception)
            self.failures = 0
            loop.call_later(self.interval, self.log_failures, loop)
        else:
            self.failures += 1

    def log_failures(self, loop):
        if not self.failures:  # over: the next one is logged at once again
            self.failures = None
            return
        log.error(
            "cannot accept connections: %d more failures in %g s",
            self.failures,
            self.interval,
        )
        self.failures = 0
        loop.call_later(self.interval, self.log_failures, loop)


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
        help="messages waiting for a slow client before it is dropped "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--max-clients",
        metavar="N",
        type=positive_int,
        default=10_000,
        help="connections served at once (default %(default)s)",
    )
    parser.add_argument(
        "--max-per-address",
        metavar="N",
        type=positive_int,
        default=MAX_PER_ADDRESS,
        help="connections from one IP address at once (default %(default)s)",
    )
    parser.add_argument(
        "--login-timeout",
        metavar="SECONDS",
        type=seconds,
        default=LOGIN_TIMEOUT,
        help='time a newcomer has to send "connect"; 0: forever (default %(default)s)',
    )
    parser.add_argument(
        "--max-rate",
        metavar="FRAMES",
        type=positive_int,
        default=MAX_RATE,
        help="frames a second a client may send, on average (default %(default)s)",
    )
    parser.add_argument(
        "--burst",
        metavar="FRAMES",
        type=positive_int,
        default=BURST,
        help="frames a client may send at once (default %(default)s)",
    )
    parser.add_argument(
        "--status-every",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="log the server's figures this often; 0: never (default %(default)s)",
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


def affordable_clients(wanted):
    """As many clients as asked for, or as many as the open-file limit allows."""
    open_files = raise_open_file_limit()
    if open_files is None or wanted + SPARE_FILES <= open_files:
        return wanted
    affordable = max(1, open_files - SPARE_FILES)
    log.warning("at most %d open files: serving %d clients", open_files, affordable)
    return affordable


async def main():
    args = parse_command_line()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    log.setLevel(args.log_level)  # only our logger: asyncio's stays at WARNING
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(LoopErrors())
    tls = tls_context(args.certfile, args.keyfile) if args.certfile else None
    chat = ChatServer(
        max_message_bytes=args.max_message_bytes,
        idle_timeout=args.idle_timeout,
        queue_size=args.queue_size,
        max_clients=affordable_clients(args.max_clients),
        max_rate=args.max_rate,
        burst=args.burst,
        login_timeout=args.login_timeout,
        max_per_address=args.max_per_address,
        tls=tls,
    )
    server = await loop.create_server(
        chat.new_connection,
        args.host,
        args.port,
        ssl=tls,
        ssl_handshake_timeout=10.0 if tls else None,  # not the default 60 s
        backlog=BACKLOG,
    )
    stop = asyncio.Event()
    on_shutdown_signal(stop.set)
    async with server:
        announce(server)
        log.info("serving %s", "TLS" if tls else "plain TCP")
        try:
            async with asyncio.TaskGroup() as tasks:
                helpers = [
                    tasks.create_task(report_status(chat, args.status_every)),
                    tasks.create_task(chat.watch_deadlines()),
                ]
                await stop.wait()
                for helper in helpers:
                    helper.cancel()  # the group then ends: it has no other task
        finally:  # even if a task failed: Python 3.12+ waits for the connections
            log.info("shutting down")
            server.close()  # stop accepting; the open connections are ours to close
            await chat.shutdown(server)
    # Leaving `async with server` waits for the server to close. (On Python 3.12
    # and later that includes every connection: which is why we closed them.)
    log.info("stopped: %s", chat.summary())


if __name__ == "__main__":
    asyncio.run(main())
