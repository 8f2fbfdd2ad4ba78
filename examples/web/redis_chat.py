"""The ASGI web chat across several processes, which talk through Redis.

    python examples/web/redis_chat.py --redis redis://127.0.0.1:6379 --port 0

or several workers behind one port, with uvicorn's command line, from this
folder (the address of Redis then comes from the environment):

    REDIS_URL=redis://127.0.0.1:6379 uvicorn redis_chat:application --workers 4

It is asgi_chat.py, imported unchanged, with two differences. The chat has
rooms: a client chooses one in the WebSocket's URL, /chat?room=garden, and
without one it is in "lobby". And a message a client sends is not handed to
the clients of this process, but published on its room's Redis channel,
"chat:ROOM". Every process subscribes to all the rooms' channels (the pattern
"chat:*"), and hands each message it hears to its own clients in that room.
Redis sends the messages of a channel to every subscriber in the order it
received them, and each process hands them on in that order: every client of
every process gets every message of its room, in one order. The page, the
protocol and the limits are asgi_chat's.

A process that cannot reach Redis when it starts refuses to start (uvicorn
then exits with status 3). A message that cannot be published later on, because
Redis has gone away, is answered with an error for its sender, never dropped
without a word; meanwhile each process tries to reach Redis again, and once it
is back, subscribes again. What was published while a process was not
subscribed is lost to its clients: pub/sub keeps nothing.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
from collections import defaultdict
from urllib.parse import parse_qs

import redis.asyncio as redis
from asgi_chat import (
    ALLOWED_ORIGINS,
    CHAT,
    WELCOME,
    Client,
    TokenBucket,
    TooSlow,
    add_limit_options,
    from_our_own_page,
    origin_argument,
    parse_chat_message,
    run_server,
    serve_http,
)

CHANNEL_PREFIX = "chat:"  # the room "lobby" is the channel "chat:lobby"
DEFAULT_ROOM = "lobby"
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
CONFIRM_TIMEOUT = 5.0  # seconds Redis may take to confirm our subscription
RETRY_AFTER = 0.5  # seconds between attempts to reach Redis again
COMMAND_CONNECTIONS = 100  # connections a process's commands share; more wait
NOT_SENT = {"sender": "server", "message": "error: not sent, Redis is unreachable"}


def shared_connections(url, **options):
    """A Redis client whose commands share COMMAND_CONNECTIONS connections.

    When they are all busy, a command waits for one to be free. redis-py's
    default pool opens a connection for every command in flight instead, and
    since redis-py 8 it refuses the 101st with a ConnectionError, which reads as
    if Redis were unreachable: more than a hundred clients of one process
    spoke at once, and some of them were told that their message was not sent.
    """
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=COMMAND_CONNECTIONS, timeout=None, **options
    )
    return redis.Redis.from_pool(pool)


class RedisBus:
    """This process's two connections to Redis: one publishes, one listens.

    A connection that has subscribed can do nothing else (Redis's rule), so
    publishing needs a connection of its own.
    """

    def __init__(self, url):
        self.url = url
        self.publisher = None
        self.pubsub = None

    async def connect(self):
        """Connect, and subscribe: once this returns, we hear every message."""
        self.publisher = shared_connections(self.url)
        await self.publisher.ping()  # fails at once if Redis is not there
        self.pubsub = self.publisher.pubsub()
        await self.pubsub.psubscribe(CHANNEL_PREFIX + "*")  # every room's channel
        # psubscribe() only sends the command. Until Redis has answered, what
        # others publish may not reach us: wait for its answer before we say
        # we have started. (Nothing can come before it on this connection.)
        answer = await self.pubsub.get_message(timeout=CONFIRM_TIMEOUT)
        if answer is None or answer["type"] != "psubscribe":
            raise redis.ConnectionError(f"no confirmation of PSUBSCRIBE: {answer}")

    async def publish(self, room, message):
        """Send a chat message (a dict) to the room in every process, this one too."""
        data = json.dumps(message, ensure_ascii=False)
        await self.publisher.publish(CHANNEL_PREFIX + room, data)

    async def hand_on(self, rooms):
        """Give every message heard on a room's channel to the room's clients here.

        If Redis goes away, try again every RETRY_AFTER seconds until it is
        back: redis-py then connects again and renews our subscription. What
        was published in between is lost to this process (pub/sub keeps
        nothing), but the process does not stay deaf.
        """
        while True:
            with contextlib.suppress(redis.ConnectionError):
                async for event in self.pubsub.listen():
                    if event["type"] == "pmessage":
                        self.hand_on_one(event["channel"], event["data"], rooms)
            await asyncio.sleep(RETRY_AFTER)  # Redis went away: try again soon

    @staticmethod
    def hand_on_one(channel, data, rooms):
        """Broadcast one message to its room, if it is a chat message.

        Anyone who can reach Redis can publish on the channels: what is not a
        chat message is left out, instead of ending the listener.
        """
        try:
            room = channel.decode().removeprefix(CHANNEL_PREFIX)
            message = parse_chat_message(data.decode())
        except ValueError:  # UnicodeDecodeError is one too
            return
        rooms.broadcast(room, message)

    async def close(self):
        await self.pubsub.aclose()
        await self.publisher.aclose()


class Rooms:
    """This process's clients, by room. (asgi_chat's CHAT still holds them all.)"""

    def __init__(self):
        self.clients = defaultdict(set)  # room name -> its clients here

    def join(self, client, room):
        self.clients[room].add(client)

    def leave(self, client, room):
        self.clients[room].discard(client)
        if not self.clients[room]:
            del self.clients[room]

    def broadcast(self, room, message):
        """Queue a message for the room's clients here; this never waits."""
        for client in self.clients.get(room, ()):
            client.deliver(message)


def room_of(scope):
    """The room a WebSocket asks for, /chat?room=NAME; ValueError if no name."""
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    room = query.get("room", [DEFAULT_ROOM])[-1]
    if not ROOM_NAME.fullmatch(room):
        raise ValueError(f"not a room name: {room!r}")
    return room


BUS = RedisBus(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
ROOMS = Rooms()


async def application(scope, receive, send):
    """The ASGI application: asgi_chat's, with our lifespan and WebSocket handler."""
    match scope["type"]:
        case "lifespan":
            await lifespan(receive, send)
        case "http":
            await serve_http(scope, send)
        case "websocket":
            await chat_websocket(scope, receive, send)


async def lifespan(receive, send):
    """Listen to the chat's channel for as long as the server runs."""
    await receive()  # "lifespan.startup"
    try:
        await BUS.connect()
    except (OSError, redis.RedisError) as error:
        message = f"cannot reach Redis at {BUS.url}: {error}"
        await send({"type": "lifespan.startup.failed", "message": message})
        return
    async with asyncio.TaskGroup() as tasks:
        listener = tasks.create_task(BUS.hand_on(ROOMS))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # "lifespan.shutdown": the clients are gone by now
        listener.cancel()
    await BUS.close()
    await send({"type": "lifespan.shutdown.complete"})


async def chat_websocket(scope, receive, send):
    """asgi_chat's handler, in a room; its reader publishes instead of broadcasting."""
    await receive()  # "websocket.connect"
    try:
        room = room_of(scope)
    except ValueError:
        room = None
    if scope["path"] != "/chat" or room is None or not from_our_own_page(scope):
        await send({"type": "websocket.close"})  # refused: HTTP 403
        return
    await send({"type": "websocket.accept"})
    client = Client(send, CHAT.send_timeout)
    client.deliver(WELCOME)
    CHAT.join(client)  # everyone: asgi_chat's shutdown says goodbye to CHAT
    ROOMS.join(client, room)
    try:
        async with asyncio.TaskGroup() as tasks:
            writer = tasks.create_task(client.write_outbox())
            reader = tasks.create_task(publish_messages(client, room, receive))
            reader.add_done_callback(lambda _: writer.cancel())
            writer.add_done_callback(lambda _: reader.cancel())
    except* TooSlow:
        pass  # we gave up on it; ChatServer drops the connection
    finally:
        ROOMS.leave(client, room)
        CHAT.leave(client)


async def publish_messages(client, room, receive):
    """Publish each message the client sends to its room, until it disconnects.

    The client hears its own message when it comes back from Redis, in its
    place among everyone else's.
    """
    budget = TokenBucket(CHAT.max_rate, CHAT.burst)
    while (event := await receive())["type"] == "websocket.receive":
        try:
            message = parse_chat_message(event.get("text"))
        except ValueError as error:
            client.deliver({"sender": "server", "message": f"error: {error}"})
        else:
            try:
                await BUS.publish(room, message)
            except redis.RedisError:
                # Redis is gone: the message goes nowhere, and its sender must
                # know it. (The connection stays; the next message may pass.)
                client.deliver(NOT_SENT)
        await budget.spend()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument(
        "--redis",
        default=BUS.url,
        metavar="URL",
        help=f"where Redis listens (default: $REDIS_URL, or {DEFAULT_REDIS_URL})",
    )
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


def main():
    args = parse_args()
    BUS.url = args.redis
    ALLOWED_ORIGINS.update(args.allow)
    CHAT.set_limits(args.max_rate, args.burst, args.send_timeout)
    run_server(application, args.host, args.port)


if __name__ == "__main__":
    main()
