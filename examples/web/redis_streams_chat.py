"""The web chat across processes, with rooms, history and catch-up: Redis Streams.

    python examples/web/redis_streams_chat.py --redis redis://127.0.0.1:6379 --port 0

or several workers behind one port, with uvicorn's command line, from this
folder (the address of Redis then comes from the environment):

    REDIS_URL=redis://127.0.0.1:6379 uvicorn redis_streams_chat:application --workers 4

It is asgi_chat.py, imported unchanged, with another way for a message to
travel. Each room is a Redis stream, "chat:ROOM", a log capped at about KEEP
messages. A client's message is appended to its room's stream (XADD), and
nothing else: the stream is the bus. In every process, one task per room
that has clients there reads the stream (XREAD BLOCK, from the last id it
has seen) and hands each message to the room's clients. Every message goes
out with its stream id:

    {"sender": "ada", "message": "hello", "id": "1733500000000-0"}

A client chooses its room, and says what it has seen, in the WebSocket's URL:
/chat?room=garden&since=ID. Without a room, it is in "lobby". Without `since`,
it gets the room's last HISTORY messages; with it, exactly those that came
after ID (as many as the stream still keeps). Then every new one, in the
stream's order, which is the same for everyone.

Redis may go away. Then each process tries to reach it again, waiting longer
each time (bounded, and at random within a range, so that all do not come
back at once); its clients get {"sender": "server", "status": "degraded",
"message": ...}, and {"status": "ok", ...} once Redis answers again. A
message that cannot be appended is answered with an error for its sender,
never dropped without a word; a publish that Redis does not answer within
PUBLISH_TIMEOUT is given up (Redis may still append it if it wakes up).
A client that cannot get its history within JOIN_TIMEOUT is closed with code
1013 (try again later): it reconnects later with the same `since`, and loses
nothing.
"""

import argparse
import asyncio
import json
import os
import random
import re
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
from redis_chat import (
    room_of,  # the rooms are redis_chat's: /chat?room=NAME
    shared_connections,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
STREAM_PREFIX = "chat:"  # the room "lobby" is the stream "chat:lobby"
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
KEEP = 1000  # messages kept in each room's stream, about (XADD ... MAXLEN ~)
HISTORY = 50  # messages a newcomer gets
BLOCK = 5.0  # seconds one XREAD waits for news before asking again
MOST_ROOMS = 1000  # rooms a process reads at once, one connection each
PUBLISH_TIMEOUT = 2.0  # seconds Redis may take to take a message, or to answer
JOIN_TIMEOUT = 10.0  # seconds a newcomer may wait for its history (joins queue)
WATCH_EVERY = 1.0  # seconds between two checks that Redis answers
FIRST_RETRY = 0.1  # seconds before the first new attempt to reach Redis...
MAX_RETRY = 5.0  # ...then twice as long each time, up to this
TRY_AGAIN_LATER = 1013  # WebSocket close code: come back later
NOT_SENT = {"sender": "server", "message": "error: not sent, Redis is unreachable"}
NOT_CONFIRMED = {
    "sender": "server",
    "message": "error: Redis did not answer in time; your message may not be sent",
}
DEGRADED = {
    "sender": "server",
    "status": "degraded",
    "message": "degraded: the chat cannot reach Redis; messages cannot be sent",
}
RESTORED = {"sender": "server", "status": "ok", "message": "connected"}
TRIMMED = {
    "sender": "server",
    "message": f"you may have missed messages: a room keeps its last {KEEP} or so,"
    " and the last one you saw is no longer among them; what it keeps follows",
}
REDIS_DOWN = (redis.RedisError, OSError)  # what a call may raise (TimeoutError too)
# What says that Redis cannot be reached, rather than that it refused a command.
# (The builtin TimeoutError, from asyncio.timeout, is an OSError.)
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


def id_order(stream_id):
    """A stream id, "milliseconds-sequence", as a pair of numbers to compare."""
    milliseconds, sequence = stream_id.split("-")
    return int(milliseconds), int(sequence)


class Backoff:
    """The wait between attempts to reach Redis: longer each time, bounded, random.

    The random part spreads out the processes that all lost Redis at once, so
    that they do not all come back at the same moment.
    """

    def __init__(self, first=FIRST_RETRY, most=MAX_RETRY):
        self.first, self.most = first, most
        self.failures = 0

    async def wait(self):
        delay = min(self.most, self.first * 2**self.failures)
        self.failures += 1
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def reset(self):
        self.failures = 0


class RoomClient(Client):
    """asgi_chat's Client, which can hold live messages while it catches up."""

    def __init__(self, send, send_timeout):
        super().__init__(send, send_timeout)
        self.held = None  # a list while catching up: live messages wait there
        self.last_id = None  # the id of the last message delivered

    def deliver(self, message):
        if self.held is not None:
            self.held.append(message)
            return
        if "id" in message:
            if self.last_id and id_order(message["id"]) <= id_order(self.last_id):
                return  # delivered already, with the history
            self.last_id = message["id"]
        super().deliver(message)

    def hold(self):
        self.held = []

    def release(self, history):
        """Deliver the history, then what was held meanwhile.

        What was held and is in the history too goes out once: the ids that
        are not after the last one delivered are left out.
        """
        held, self.held = self.held, None
        for message in [*history, *held]:
            self.deliver(message)


class Room:
    """This process's clients in one room, and the task that reads its stream."""

    def __init__(self, name):
        self.name = name
        self.key = STREAM_PREFIX + name
        self.clients = set()
        self.last_id = None  # the last id handed on; None until the reader starts
        self.started = asyncio.Event()
        self.reader = None
        self.closed = False

    def close(self):
        """Stop the reader: cancel it, and tell it, in case it misses the cancel.

        (Python 3.11's asyncio.wait_for, which redis-py uses while it opens a
        connection, can swallow a cancellation that comes at the wrong moment.
        The reader then ends after its next XREAD, BLOCK seconds at most.)
        """
        self.closed = True
        self.reader.cancel()


class StreamBus:
    """This process's link to Redis: rooms, their readers, and Redis's health."""

    def __init__(self, url):
        self.url = url
        self.redis = None  # for the commands
        self.readers = None  # for the rooms' blocking reads
        self.rooms = {}
        self.degraded = False
        self.reachable = asyncio.Event()  # set while Redis answers
        self.tasks = None  # the lifespan's TaskGroup, which runs the readers
        self.watcher = None
        self.stopping = False

    async def connect(self, tasks):
        # A blocking XREAD holds its connection for up to BLOCK seconds: the
        # socket's timeout must be longer, or every quiet room would fail.
        options = {"socket_timeout": BLOCK + PUBLISH_TIMEOUT}
        # The commands share a pool: in a burst of joins, each waits its turn.
        # Each room's reader holds a connection of its own, out of their way.
        self.redis = shared_connections(self.url, **options)
        self.readers = redis.Redis.from_url(
            self.url, max_connections=MOST_ROOMS, **options
        )
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await self.redis.ping()  # fails at once if Redis is not there
        self.reachable.set()
        self.tasks = tasks
        self.watcher = tasks.create_task(self.watch())

    def stop(self):
        """Stop watching Redis, and reading the rooms (see Room.close)."""
        self.stopping = True
        self.watcher.cancel()
        for room in self.rooms.values():
            room.close()

    async def close(self):
        await self.readers.aclose()
        await self.redis.aclose()

    # --- rooms, and what this process's clients hear in them ------------------

    async def join(self, client, name, since):
        """Put a client in a room, with what it missed, then every new message.

        The client holds live messages while its history is read; the history
        goes up to the last id the room's reader had handed on when the client
        joined, and the held messages come after it.
        """
        room = self.rooms.get(name) or self.open_room(name)
        client.last_id = since  # nothing up to `since` again, should it come live
        client.hold()
        room.clients.add(client)
        try:
            async with asyncio.timeout(JOIN_TIMEOUT):
                await room.started.wait()
                history = await self.history(room.key, since, room.last_id)
                trimmed = since is not None and await self.let_go_of(room.key, since)
        except BaseException:
            self.leave(client, name)
            raise
        messages = [chat_message(entry_id, fields) for entry_id, fields in history]
        if trimmed:  # said, rather than lost in silence
            messages.insert(0, TRIMMED)
        if self.degraded:
            messages.append(DEGRADED)
        client.release([message for message in messages if message])

    def leave(self, client, name):
        room = self.rooms.get(name)
        if room is None:
            return  # the server is stopping: its rooms are closed already
        room.clients.discard(client)
        if not room.clients:  # nobody here listens to this room any more
            room.close()
            del self.rooms[name]

    def open_room(self, name):
        room = self.rooms[name] = Room(name)
        room.reader = self.tasks.create_task(self.read_room(room))
        return room

    async def history(self, key, since, upto):
        """The entries after `since`, or the last HISTORY ones, up to `upto`."""
        if since is not None:
            return await self.redis.xrange(key, min=f"({since}", max=upto)
        return list(reversed(await self.redis.xrevrange(key, upto, "-", HISTORY)))

    async def let_go_of(self, key, since):
        """Whether the stream no longer keeps the entry `since`, nor so what followed.

        A capped stream lets go of its oldest entries first: if the one a client
        saw last is gone, so may be some that came after it. No stream at all
        (a Redis that lost its data) keeps nothing either.
        """
        try:
            info = await self.redis.xinfo_stream(key)
        except redis.ResponseError:  # no such key
            return True
        first = info["first-entry"]
        return first is None or id_order(first[0].decode()) > id_order(since)

    async def read_room(self, room):
        """Hand each new message of the room's stream to the room's clients.

        If Redis cannot be reached, wait until `watch` finds it back, then read
        on from the last id: nothing the stream still keeps is missed.
        """
        backoff = Backoff()
        while not room.closed:
            try:
                if room.last_id is None:
                    room.last_id = await self.newest_id(room.key)
                    room.started.set()
                news = await self.readers.xread(
                    {room.key: room.last_id}, block=int(BLOCK * 1000)
                )
            except UNREACHABLE:
                self.set_degraded(True)
                await self.reachable.wait()
                continue
            except redis.RedisError:
                # Redis answered, but refused (say, "chat:ROOM" is not a stream).
                await backoff.wait()
                continue
            backoff.reset()
            for _key, entries in news:
                for entry_id, fields in entries:
                    room.last_id = entry_id.decode()
                    if message := chat_message(entry_id, fields):
                        for client in room.clients:
                            client.deliver(message)

    async def newest_id(self, key):
        """The id of the stream's last entry ("0-0" if there is none yet)."""
        newest = await self.redis.xrevrange(key, count=1)
        return newest[0][0].decode() if newest else "0-0"

    # --- sending, and telling the clients how Redis is -------------------------

    async def publish(self, name, message):
        """Append a chat message to the room's stream: every reader will see it."""
        data = json.dumps(message, ensure_ascii=False)
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await self.redis.xadd(
                STREAM_PREFIX + name, {"data": data}, maxlen=KEEP, approximate=True
            )

    async def watch(self):
        """Check that Redis answers, and tell the clients when that changes.

        While Redis is away, this is the one task of the process that knocks
        on its door, less and less often; the rooms' readers wait for it.
        """
        backoff = Backoff()
        while not self.stopping:
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT):
                    await self.redis.ping()
            except REDIS_DOWN:
                self.set_degraded(True)
                await backoff.wait()
            else:
                self.set_degraded(False)
                backoff.reset()
                await asyncio.sleep(WATCH_EVERY)

    def set_degraded(self, degraded):
        if degraded:
            self.reachable.clear()
        else:
            self.reachable.set()
        if degraded != self.degraded:
            self.degraded = degraded
            for room in self.rooms.values():
                for client in room.clients:
                    client.deliver(DEGRADED if degraded else RESTORED)


def chat_message(entry_id, fields):
    """The chat message in a stream entry, with its id; None if it is not one.

    Anyone who can reach Redis can append to the stream: what is not a chat
    message is left out, instead of ending the reader.
    """
    try:
        message = parse_chat_message(fields[b"data"].decode())
    except (KeyError, ValueError):  # UnicodeDecodeError is a ValueError too
        return None
    return {**message, "id": entry_id.decode()}


BUS = StreamBus(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))


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
    """Watch Redis, and read the rooms' streams, for as long as the server runs."""
    await receive()  # "lifespan.startup"
    async with asyncio.TaskGroup() as tasks:
        try:
            await BUS.connect(tasks)
        except REDIS_DOWN as error:
            message = f"cannot reach Redis at {BUS.url}: {error!r}"
            await send({"type": "lifespan.startup.failed", "message": message})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # "lifespan.shutdown": the clients are gone by now
        BUS.stop()
    await BUS.close()
    await send({"type": "lifespan.shutdown.complete"})


def since_of(scope):
    """The id of the last message a client has seen, /chat?since=ID, or None.

    ValueError if it is not a stream id.
    """
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    since = query.get("since", [None])[-1]
    if since is not None and not STREAM_ID.fullmatch(since):
        raise ValueError(f"not a stream id: {since!r}")
    return since


async def chat_websocket(scope, receive, send):
    """asgi_chat's handler, in a room, with history, and a reader that publishes."""
    await receive()  # "websocket.connect"
    try:
        room, since = room_of(scope), since_of(scope)
    except ValueError:
        room = None
    if scope["path"] != "/chat" or room is None or not from_our_own_page(scope):
        await send({"type": "websocket.close"})  # refused: HTTP 403
        return
    await send({"type": "websocket.accept"})
    client = RoomClient(send, CHAT.send_timeout)
    client.deliver(WELCOME)
    CHAT.join(client)  # everyone: asgi_chat's shutdown says goodbye to CHAT
    try:
        try:
            await BUS.join(client, room, since)
        except REDIS_DOWN:
            # Without its history the client would miss messages: it comes
            # back later, with the same `since`.
            client.close(TRY_AGAIN_LATER, "Redis is unreachable")
            await client.write_outbox()
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                writer = tasks.create_task(client.write_outbox())
                reader = tasks.create_task(publish_messages(client, room, receive))
                reader.add_done_callback(lambda _: writer.cancel())
                writer.add_done_callback(lambda _: reader.cancel())
        except* TooSlow:
            pass  # we gave up on it; ChatServer drops the connection
        finally:
            BUS.leave(client, room)
    finally:
        CHAT.leave(client)


async def publish_messages(client, room, receive):
    """Append each message the client sends to its room's stream, until it leaves.

    The client hears its own message when its room's reader reads it back, in
    its place among everyone else's.
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
            except TimeoutError:
                # Redis hangs: it may append the message when it wakes up.
                client.deliver(NOT_CONFIRMED)
                BUS.set_degraded(True)
            except REDIS_DOWN:
                client.deliver(NOT_SENT)  # never lost without a word
                BUS.set_degraded(True)
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
