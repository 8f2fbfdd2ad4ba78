"""Step 9, an outbox per client: a bounded queue, emptied by a task of its own.

    python examples/chat/server09.py --port 0

Step 8 measured it: the design that never waits for one member is a queue per
client. Every message for a client, replies included, goes into its outbox; a
sender task per client takes them out one by one, writes, and drains. Only that
task ever waits on the client's socket, so a slow client slows nobody else.

Two tasks now serve each connection: a receiver reads and handles requests, a
sender empties the outbox. `serve_client()` waits for the first of them to
finish (the client left, or was cut off) and stops the other.

Order: `broadcast()` puts the message into every member's outbox without an
`await` in between, so no other message can slip in between two members; and a
single task writes each outbox, in order. So every member of a room sees the
room's messages in the same order.

The outbox is bounded (QUEUE_SIZE): a client that falls that far behind is
disconnected, instead of making the server hold more and more of its
messages. It is not told why: that is step 10.
"""

import asyncio
import sys
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
    read_frame,
    validate_request,
)

QUEUE_SIZE = 100  # messages waiting for a client before it is cut off
FRAMES_PER_TURN = QUEUE_SIZE // 2  # frames handled in a row, at most

USERS = {}  # username -> Client, for every connected user
ROOMS = defaultdict(set)  # room name -> the Clients in it


class Client:
    """One connection: its streams, who it is, its rooms, and its outbox."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.address = writer.get_extra_info("peername")
        self.username = None
        self.rooms = set()
        self.outbox = asyncio.Queue(QUEUE_SIZE)
        self.tasks = []  # its receiver and its sender, once they run

    def __str__(self):
        return self.username or str(self.address)

    def hang_up(self):
        """Stop this client's tasks; serve_client() then closes the connection."""
        for task in self.tasks:
            task.cancel()


# --- sending: into the outbox, and out of it ----------------------------------


def post(client, frame):
    """Queue a frame for a client, or cut the client off if it is too far behind."""
    try:
        client.outbox.put_nowait(frame)  # never waits
    except asyncio.QueueFull:
        print(f"{client} is {QUEUE_SIZE} messages behind: cut off", file=sys.stderr)
        forget(client)
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
    try:
        while True:
            client.writer.write(await client.outbox.get())
            await client.writer.drain()  # only this task waits for this client
    except ConnectionError:
        pass  # the client vanished: the receiver will see it too


def flush_outbox(client):
    """Write what is still queued for a leaving client, before its stream closes."""
    if client.writer.transport.is_closing():
        return  # the connection is already gone: there is no one to write to
    while not client.outbox.empty():
        client.writer.write(client.outbox.get_nowait())  # bytes already


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


async def receive_requests(client):
    """The receiver task: handle the client's frames until it leaves."""
    try:
        handled = 0
        while (payload := await read_frame(client.reader)) is not None:
            handle_frame(client, payload)
            handled += 1
            # A read may hold many frames, and reading a buffered one does not
            # pause: let the senders run before the frames can fill an outbox.
            if handled % FRAMES_PER_TURN == 0:
                await asyncio.sleep(0)
    except FrameTooLarge as error:
        post(client, encode_frame(error_message(error.reason)))  # flushed later
    except ConnectionError:
        pass  # the client vanished


# --- one connection -----------------------------------------------------------


async def serve_client(reader, writer):
    """Serve one connection with two tasks, until either of them is done."""
    client = Client(reader, writer)
    print(f"{client} connected", file=sys.stderr)
    client.tasks = [
        asyncio.create_task(receive_requests(client)),
        asyncio.create_task(send_outbox(client)),
    ]
    try:
        await asyncio.wait(client.tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        client.hang_up()  # stop the other one
        await asyncio.wait(client.tasks)  # and let it finish stopping
        forget(client)
        flush_outbox(client)
        await close_writer(writer, reader=reader)
        print(f"{client} left; {len(USERS)} users connected", file=sys.stderr)


async def main():
    args = argument_parser(__doc__).parse_args()
    server = await asyncio.start_server(serve_client, args.host, args.port)
    announce(server)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
