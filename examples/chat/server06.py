"""Step 6, a registry of connected users: a username belongs to one client at a time.

    python examples/chat/server06.py --port 0

Step 5 let two clients both call themselves "ada". Now the server keeps every
connected user in one dictionary, USERS, shared by all the connections' tasks:
"connect" with a name that is in it is refused. The name is freed when its
client leaves, however it leaves, because `forget()` runs in a `finally` clause.

Sharing a dict between tasks is safe without a lock as long as no `await` comes
between looking at it and changing it: `connect()` checks and claims a name in
one go, and no other task can run in between.
"""

import asyncio
import sys

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


class Client:
    """What the server knows about one connection."""

    def __init__(self, address):
        self.address = address
        self.username = None  # set by "connect"
        self.rooms = set()

    def __str__(self):
        return self.username or str(self.address)


def perform(client, request):
    """Do what a valid request asks; the reply to send back."""
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
    return {"action": "joinroom", "room": room, "ok": True}


def leave(client, room):
    if room not in client.rooms:
        raise ProtocolError(f"not in room {room!r}")
    client.rooms.discard(room)
    return {"action": "leaveroom", "room": room, "ok": True}


def chat(client, room, text):
    if room not in client.rooms:
        raise ProtocolError(f"join room {room!r} before chatting in it")
    return {"action": "chat", "room": room, "message": text, "from": client.username}


def forget(client):
    """Free a leaving client's username."""
    if USERS.get(client.username) is client:
        del USERS[client.username]


def reply_to(client, payload):
    """The answer to one frame: what its request asks for, or why it is refused.

    >>> ada = Client(("127.0.0.1", 50000))
    >>> reply_to(ada, b'{"action": "connect", "username": "ada"}')
    {'action': 'connect', 'username': 'ada', 'ok': True}
    >>> reply_to(ada, b'{"action": "chat", "room": "lobby", "message": "hi"}')
    {'action': 'error', 'reason': "join room 'lobby' before chatting in it"}
    """
    try:
        request = validate_request(decode_message(payload))
        return perform(client, request)
    except ProtocolError as error:
        return error_message(error.reason)


async def serve_client(reader, writer):
    """Answer a client's requests until it hangs up or breaks the rules."""
    client = Client(writer.get_extra_info("peername"))
    print(f"{client} connected", file=sys.stderr)
    try:
        while (payload := await read_frame(reader)) is not None:
            writer.write(encode_frame(reply_to(client, payload)))
            await writer.drain()
    except FrameTooLarge as error:
        writer.write(encode_frame(error_message(error.reason)))
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
