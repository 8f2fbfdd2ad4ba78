"""Step 8, five ways to broadcast, side by side: choose one with --broadcast.

    python examples/chat/server08.py --port 0 --broadcast await-each
    python examples/chat/server08.py --port 0 --broadcast queue
    python examples/chat/bench_broadcast.py    # measures all five

Relaying a chat message means writing it to every member of a room. The five
designs below all do that; they differ in what they wait for, and so in what
happens when one member stops reading:

- await-each: write to a member, wait for its drain(), go on to the next one
  (step 7). A stuck member stops the loop, and the sender's task with it.
- gather: the same sends, started together, awaited together with gather(). It
  waits for the slowest member all the same.
- task-per-send: a task for each send, not awaited. Nobody waits, but a stuck
  member's tasks pile up, each holding a message.
- write-then-drain: write to all members first, then wait for each drain().
  Cheap; but the second half still waits for the slowest.
- queue: put the message in each member's outbox, a queue that a sender task
  per client empties. Nobody waits; the queue of a stuck member grows.

Only the last is both fair to the others and easy to bound: step 9 adopts it.
"""

import asyncio
import contextlib
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

USERS = {}  # username -> Client, for every connected user
ROOMS = defaultdict(set)  # room name -> the Clients in it
BACKGROUND = set()  # the running tasks of task-per-send (see that function)


class Client:
    """What the server knows about one connection, and how to write to it."""

    def __init__(self, writer):
        self.writer = writer
        self.address = writer.get_extra_info("peername")
        self.username = None
        self.rooms = set()
        self.outbox = asyncio.Queue()  # used by the "queue" design only

    def __str__(self):
        return self.username or str(self.address)


async def send(client, data):
    """Write one frame to a client and wait until its transport can take more."""
    try:
        client.writer.write(data)
        await client.writer.drain()
    except ConnectionError:
        pass  # it is going away: its own task will notice, and clean up


# --- the five designs: each sends one frame to every member -------------------


async def broadcast_await_each(members, data):
    for member in members:
        await send(member, data)


async def broadcast_gather(members, data):
    await asyncio.gather(*(send(member, data) for member in members))


async def broadcast_task_per_send(members, data):
    for member in members:
        task = asyncio.create_task(send(member, data))
        # The event loop keeps only a weak reference to a task: keep a strong
        # one until it is done, or it may vanish mid-send.
        BACKGROUND.add(task)
        task.add_done_callback(BACKGROUND.discard)


async def broadcast_write_then_drain(members, data):
    for member in members:
        member.writer.write(data)  # never waits
    for member in members:
        with contextlib.suppress(ConnectionError):  # it is going away
            await member.writer.drain()


async def broadcast_queue(members, data):
    for member in members:
        member.outbox.put_nowait(data)  # never waits: the queue has no bound


async def send_outbox(client):
    """The "queue" design's sender task: write the client's outbox in order."""
    while True:
        await send(client, await client.outbox.get())


DESIGNS = {
    "await-each": broadcast_await_each,
    "gather": broadcast_gather,
    "task-per-send": broadcast_task_per_send,
    "write-then-drain": broadcast_write_then_drain,
    "queue": broadcast_queue,
}
broadcast = broadcast_await_each  # the design in use: main() sets it


# --- the protocol, as in step 7 -----------------------------------------------


async def perform(client, request):
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
    await chat(client, request["room"], request["message"])
    return None


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


async def chat(client, room, text):
    if room not in client.rooms:
        raise ProtocolError(f"join room {room!r} before chatting in it")
    message = {"action": "chat", "room": room, "message": text}
    # Encoded once for all the members; the set copied, as members may leave.
    data = encode_frame({**message, "from": client.username})
    await broadcast(list(ROOMS[room]), data)


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


async def handle_frame(client, payload):
    """Carry out one frame's request, and send the reply or the refusal."""
    try:
        request = validate_request(decode_message(payload))
        reply = await perform(client, request)
    except ProtocolError as error:
        reply = error_message(error.reason)
    if reply is not None:
        await send(client, encode_frame(reply))


async def serve_client(reader, writer):
    """Handle a client's requests until it hangs up or breaks the rules."""
    client = Client(writer)
    sender = asyncio.create_task(send_outbox(client))  # idle unless "queue"
    print(f"{client} connected", file=sys.stderr)
    try:
        while (payload := await read_frame(reader)) is not None:
            await handle_frame(client, payload)
    except FrameTooLarge as error:
        await send(client, encode_frame(error_message(error.reason)))
    except ConnectionError:
        pass  # the client vanished
    finally:
        forget(client)
        sender.cancel()
        await asyncio.wait([sender])  # let it stop before we close its stream
        await close_writer(writer, reader=reader)
        print(f"{client} left; {len(USERS)} users connected", file=sys.stderr)


async def main():
    global broadcast
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--broadcast",
        choices=DESIGNS,
        default="await-each",
        help="how to send a message to a room (default %(default)s)",
    )
    args = parser.parse_args()
    broadcast = DESIGNS[args.broadcast]
    server = await asyncio.start_server(serve_client, args.host, args.port)
    announce(server)
    print(f"broadcasting with {args.broadcast}", file=sys.stderr)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
