"""Step 14, graceful shutdown: on SIGINT or SIGTERM, say goodbye and exit cleanly.

    python examples/chat/server14.py --port 0     # then Ctrl-C, or kill PID

Up to step 13, Ctrl-C makes asyncio.run() cancel `serve_forever()` and every
task still running: the clients are cut off mid-sentence, and the program ends
with a KeyboardInterrupt traceback (on some Python versions, with more about
the connection tasks it cancelled). SIGTERM kills the process outright. Now
either signal starts an orderly shutdown:

1. `on_shutdown_signal()` (in utils.py) makes SIGINT and SIGTERM set an
   `asyncio.Event`, which `main()` is waiting for. This replaces
   `serve_forever()`: `start_server()` was already accepting connections, and
   `serve_forever()` only ever waited.
2. `server.close()` stops accepting new connections.
3. Every client gets `{"action": "goodbye", "reason": "server shutting down"}`
   after whatever its outbox still held, and its connection is closed, in
   CLOSE_TIMEOUT seconds at most (close_connection(), as for any client).
4. main() returns once every connection is closed, and the process exits 0.
   A connection that reaches serve_client() after the signal (accepted just
   before server.close()) gets the goodbye at once: SHUTTING_DOWN is set.

CLIENTS holds every connection, named or not, and the task serving it, so that
the goodbyes reach every client, and main() can wait for them all.

On Windows the event loop cannot watch signals (`add_signal_handler()` raises
NotImplementedError); on_shutdown_signal() then falls back to a plain
`signal.signal()` handler that hands over to the loop. Ctrl-C works the same;
SIGTERM is seldom sent to a program there.
"""

import asyncio
import functools
import sys
import traceback
from collections import defaultdict

from utils import (
    FrameTooLarge,
    ProtocolError,
    announce,
    argument_parser,
    close_writer,
    decode_message,
    encode_frame,
    error_message,
    on_shutdown_signal,
    read_frame,
    seconds,
    validate_request,
)

QUEUE_SIZE = 100  # messages waiting for a client before it is dropped
FRAMES_PER_TURN = QUEUE_SIZE // 2  # frames handled in a row, at most
WRITE_BUFFER_HIGH = 64 * 1024  # bytes a transport holds before drain() waits
SEND_TIMEOUT = 10.0  # seconds a client may take to accept what we send it
CLOSE_TIMEOUT = 3.0  # seconds to flush and close a connection before aborting it
GOODBYE = {"action": "goodbye", "reason": "server shutting down"}

CLIENTS = set()  # every open connection, connected user or not
SHUTTING_DOWN = asyncio.Event()  # set by SIGINT or SIGTERM
USERS = {}  # username -> Client, for every connected user
ROOMS = defaultdict(set)  # room name -> the Clients in it


class Client:
    """One connection: its streams, who it is, its rooms, and its outbox."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.address = writer.get_extra_info("peername")
        self.task = asyncio.current_task()  # the task that serves this connection
        self.username = None
        self.rooms = set()
        self.outbox = asyncio.Queue(QUEUE_SIZE)
        self.receiver = None  # its two tasks, while it is served: one reads...
        self.sender = None  # ...and one writes
        self.last_word = None  # a last message (an error) to send before closing
        self.dropped = False  # dropped: its outbox is thrown away
        self.closing = False  # closing: past saving, or saying goodbye

    def __str__(self):
        return self.username or str(self.address)

    def hang_up(self):
        """Stop this client's tasks; serve_client() then closes the connection."""
        for task in (self.receiver, self.sender):
            if task is not None:
                task.cancel()


# --- sending: into the outbox, and out of it ----------------------------------


def post(client, frame):
    """Queue a frame for a client, or drop the client if it is too far behind."""
    try:
        client.outbox.put_nowait(frame)  # never waits
    except asyncio.QueueFull:
        drop(client, f"too slow: {QUEUE_SIZE} messages waiting")


def drop(client, reason):
    """Cut off a client that the server cannot serve any more, saying why."""
    if client.closing or client.dropped:
        return
    print(f"dropping {client}: {reason}", file=sys.stderr)
    forget(client)  # no more messages for it
    client.dropped = True
    client.last_word = error_message(reason)
    client.hang_up()


def broadcast(room, message):
    """Queue a message for every member of a room, the sender included."""
    frame = encode_frame(message)  # once: the same bytes for everyone
    # No await in this loop: every member gets the message in the same step of
    # the event loop, so all of them see the room's messages in the same order.
    for member in list(ROOMS[room]):  # a copy: post() may remove a member
        post(member, frame)


async def send_outbox(client):
    """The sender task: write the client's messages one at a time, in order."""
    while True:
        client.writer.write(await client.outbox.get())
        if client.writer.transport.get_write_buffer_size() <= WRITE_BUFFER_HIGH:
            await client.writer.drain()  # returns at once: no deadline needed
            continue
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await client.writer.drain()  # only this task waits for this client
        except TimeoutError:
            # drain() waits from over WRITE_BUFFER_HIGH down to its low-water
            # mark, a quarter of it: the client took less than 48 KiB in time.
            taken = (WRITE_BUFFER_HIGH - WRITE_BUFFER_HIGH // 4) // 1024
            reason = f"too slow: could not take {taken} KiB in {SEND_TIMEOUT:g} s"
            drop(client, reason)
            return


async def close_connection(client):
    """Flush what is queued, add the last word, and close (or give up)."""
    client.closing = True
    writer = client.writer
    if not writer.transport.is_closing():  # else it is gone: write nothing
        while not (client.dropped or client.outbox.empty()):
            writer.write(client.outbox.get_nowait())  # bytes already
        if client.last_word is not None:
            writer.write(encode_frame(client.last_word))
    await close_writer(writer, CLOSE_TIMEOUT, client.reader)


# --- the protocol -------------------------------------------------------------


def perform(client, request):
    """Do what a valid request asks; the reply to send back, if any."""
    action = request["action"]
    if action == "connect":
        return connect(client, request["username"])
    if client.username is None:
        raise ProtocolError('send "connect" with your username first')
    if action == "joinroom":
        return join(client, request["room"])
    if action == "leaveroom":
        return leave(client, request["room"])
    return chat(client, request["room"], request["message"])


def connect(client, username):
    if client.username is not None:
        raise ProtocolError(f"already connected as {client.username!r}")
    if username in USERS:
        raise ProtocolError(f"username {username!r} is taken")
    client.username = username
    USERS[username] = client
    return {"action": "connect", "username": username, "ok": True}


def join(client, room):
    client.rooms.add(room)
    ROOMS[room].add(client)
    return {"action": "joinroom", "room": room, "ok": True}


def leave(client, room):
    if room not in client.rooms:
        raise ProtocolError(f"not in room {room!r}")
    remove_from_room(client, room)
    return {"action": "leaveroom", "room": room, "ok": True}


def chat(client, room, text):
    if room not in client.rooms:
        raise ProtocolError(f"join room {room!r} before chatting in it")
    message = {"action": "chat", "room": room, "message": text}
    broadcast(room, {**message, "from": client.username})


def remove_from_room(client, room):
    client.rooms.discard(room)
    ROOMS[room].discard(client)
    if not ROOMS[room]:
        del ROOMS[room]


def forget(client):
    """Take a leaving client out of its rooms, and free its username."""
    for room in list(client.rooms):
        remove_from_room(client, room)
    if USERS.get(client.username) is client:
        del USERS[client.username]


def handle_frame(client, payload):
    """Carry out one frame's request, and queue the reply or the refusal."""
    try:
        request = validate_request(decode_message(payload))
        reply = perform(client, request)
    except ProtocolError as error:
        reply = error_message(error.reason)
    if reply is not None:
        post(client, encode_frame(reply))


async def receive_requests(client, idle_timeout):
    """The receiver task: handle the client's frames until it leaves."""
    try:
        handled = 0
        while (payload := await next_frame(client, idle_timeout)) is not None:
            handle_frame(client, payload)
            handled += 1
            # A read may hold many frames, and reading a buffered one does not
            # pause: let the senders run before the frames can fill an outbox.
            if handled % FRAMES_PER_TURN == 0:
                await asyncio.sleep(0)
    finally:
        # No more requests, so no more replies: the sender can stop, and
        # close_connection() will flush whatever is still in the outbox.
        client.sender.cancel()


async def next_frame(client, idle_timeout):
    """The client's next frame; None when it is gone or must be cut off."""
    try:
        async with asyncio.timeout(idle_timeout):  # None: no deadline
            return await read_frame(client.reader)
    except TimeoutError:
        reason = f"idle for more than {idle_timeout:g} s"
    except FrameTooLarge as error:
        reason = error.reason
    client.last_word = error_message(reason)
    return None


# --- one connection -----------------------------------------------------------


async def serve_client(reader, writer, idle_timeout):
    """Serve one connection with a receiver and a sender task, until both end."""
    client = Client(reader, writer)
    CLIENTS.add(client)
    print(f"{client} connected", file=sys.stderr)
    # drain() waits once the transport holds this much for the client: with
    # the bounded outbox, that bounds the memory one client can hold.
    writer.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
    try:
        if SHUTTING_DOWN.is_set():  # it came too late to be served: only a goodbye
            client.last_word = GOODBYE
        else:
            async with asyncio.TaskGroup() as tasks:
                client.sender = tasks.create_task(send_outbox(client))
                client.receiver = tasks.create_task(
                    receive_requests(client, idle_timeout)
                )
    except* OSError as errors:  # a reset, a broken pipe: the client is gone
        print(f"{client}: connection lost: {errors.exceptions[0]!r}", file=sys.stderr)
    except* Exception as errors:  # a bug: show it, and keep serving the others
        print(f"{client}: unexpected error", file=sys.stderr)
        traceback.print_exception(errors)
    finally:
        try:
            forget(client)
            await close_connection(client)
        finally:  # whatever happens, the shutdown must not wait for it again
            CLIENTS.discard(client)
            print(f"{client} left; {len(USERS)} users connected", file=sys.stderr)


async def say_goodbye_to_everyone(server):
    """Tell every client goodbye, and wait until every connection is closed."""
    while CLIENTS:  # a loop: a connection may arrive while we wait
        for client in CLIENTS:
            if not client.closing:
                client.last_word = GOODBYE
                client.hang_up()  # it stops reading, flushes, says goodbye
        await asyncio.wait([client.task for client in CLIENTS])
    # A connection accepted just before server.close() may reach serve_client()
    # only now: it says goodbye on its own. On Python 3.12 and later,
    # wait_closed() waits for it; it gets the usual CLOSE_TIMEOUT.
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await server.wait_closed()
    except TimeoutError:
        if hasattr(server, "abort_clients"):  # new in Python 3.13
            server.abort_clients()


async def main():
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--idle-timeout",
        type=seconds,
        default=3600.0,
        metavar="SECONDS",
        help="how long a client may stay silent; 0: forever (default %(default)s)",
    )
    args = parser.parse_args()
    # start_server() calls serve_client(reader, writer): partial() adds the rest.
    serve = functools.partial(serve_client, idle_timeout=args.idle_timeout or None)
    server = await asyncio.start_server(serve, args.host, args.port)
    on_shutdown_signal(SHUTTING_DOWN.set)
    async with server:
        announce(server)
        await SHUTTING_DOWN.wait()
        print("shutting down", file=sys.stderr)
        server.close()  # stop accepting; the open connections are ours to close
        await say_goodbye_to_everyone(server)
    # Leaving `async with server` waits for the server to close. (On Python 3.12
    # and later that includes every connection: which is why we closed them.)


if __name__ == "__main__":
    asyncio.run(main())
