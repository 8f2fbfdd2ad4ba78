"""Step 7, rooms: a chat message goes to every member of its room.

    python examples/chat/server07.py --port 0

ROOMS maps each room's name to the set of clients in it. "joinroom" and
"leaveroom" add a client to a set and take it out; a chat is relayed to every
member of the room, the sender included, who thereby sees that it got through.
A leaving client is taken out of all its rooms, in the same `finally` clause that
frees its name.

Relaying is the simplest thing that works: write the message to each member in
turn and `await drain()` before the next. The next step asks whether that is
wise when one member is slow.
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

USERS = {}  # username -> Client, for every connected user
ROOMS = defaultdict(set)  # room name -> the Clients in it; a new name, a new set


class Client:
    """What the server knows about one connection, and how to write to it."""

    def __init__(self, writer):
        self.writer = writer
        self.address = writer.get_extra_info("peername")
        self.username = None  # set by "connect"
        self.rooms = set()

    def __str__(self):
        return self.username or str(self.address)


async def send(client, message):
    """Write one message to a client and wait until its transport can take more."""
    try:
        client.writer.write(encode_frame(message))
        await client.writer.drain()
    except ConnectionError:
        pass  # it is going away: its own task will notice, and clean up


async def broadcast(room, message):
    """Send a message to every member of a room, one after the other."""
    # A copy of the set: while we await a drain(), members may join or leave,
    # and a set that changes during a for loop over it raises RuntimeError.
    for member in list(ROOMS[room]):
        await send(member, message)


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
    return None  # the sender gets the chat message itself, like every member


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
    await broadcast(room, {**message, "from": client.username})


def remove_from_room(client, room):
    client.rooms.discard(room)
    ROOMS[room].discard(client)
    if not ROOMS[room]:
        del ROOMS[room]  # the last one out: forget the room


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
        await send(client, reply)


async def serve_client(reader, writer):
    """Handle a client's requests until it hangs up or breaks the rules."""
    client = Client(writer)
    print(f"{client} connected", file=sys.stderr)
    try:
        while (payload := await read_frame(reader)) is not None:
            await handle_frame(client, payload)
    except FrameTooLarge as error:
        await send(client, error_message(error.reason))
    except ConnectionError:
        pass  # the client vanished
    finally:
        forget(client)
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
