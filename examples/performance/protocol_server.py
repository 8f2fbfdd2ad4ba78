"""The chat protocol on asyncio.Protocol: the baseline the benchmark measures against.

    python examples/performance/protocol_server.py              # on 127.0.0.1:8888
    python examples/performance/protocol_server.py --port 0     # on any free port

It speaks the protocol of chapter 10 as server20.py does (the same requests, the
same checks and error messages, frames up to 64 KiB, at most 100 rooms per
client, a slow client dropped with a reason, an idle one too, a goodbye on
SIGINT or SIGTERM), with none of server20's admission limits (clients in all,
per address, each sender's rate). It is written for speed, the way asyncio's
own lowest layer allows, while staying readable:

- no task per connection: the event loop calls the protocol's methods
  (data_received, pause_writing...) directly, from its own callbacks;
- frames are cut out of what arrived by offset, without a copy of the buffer
  for each frame;
- a broadcast is encoded once, and the same bytes are written to every
  member's transport at once;
- a transport over its high-water mark calls pause_writing(): from then on,
  the client's frames wait in a backlog of its own, bounded; past the bound,
  or if it stays paused too long, the client is dropped;
- timeouts cost nothing per message: one timer per paused client, and one
  sweep a second for the whole server for idle clients and late logins.
"""

import asyncio
import logging
import signal
import sys
from pathlib import Path

# The same wire format and request checks as the chat steps: a fair comparison.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chat"))
from utils import (
    DEFAULT_MAX_MESSAGE_BYTES,
    HEADER,
    ProtocolError,
    announce,
    argument_parser,
    decode_message,
    encode_frame,
    error_message,
    positive_int,
    raise_open_file_limit,
    seconds,
    validate_request,
)

log = logging.getLogger("chat")

GOODBYE = encode_frame({"action": "goodbye", "reason": "server shutting down"})
WRITE_BUFFER_HIGH = 64 * 1024  # bytes a transport holds before pause_writing()
SEND_TIMEOUT = 10.0  # seconds a paused client has to catch up
LINGER = 1.0  # seconds a closing connection reads and discards (see close_politely)
CLOSE_TIMEOUT = 3.0  # seconds to flush a closing connection before aborting it
MAX_ROOMS_PER_CLIENT = 100
LOGIN_TIMEOUT = 10.0  # seconds a newcomer has to send "connect"
FRAMES_PER_TURN = 64  # frames handled before the other connections get a turn
SWEEP_EVERY = 1.0  # seconds between two looks for idle clients


class ChatConnection(asyncio.Protocol):
    """One client: the loop calls these methods as its connection changes."""

    def __init__(self, chat):
        self.chat = chat
        self.transport = None
        self.buffer = bytearray()  # bytes received, not yet a whole frame
        self.username = None
        self.rooms = set()
        self.backlog = []  # frames waiting while the transport is paused
        self.paused = None  # a timer while paused: the deadline to catch up
        self.arrived = self.last_heard = 0.0  # loop times: connected, last frame
        self.closing = False  # set once it is dropped or said goodbye to

    # --- what the event loop calls --------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self.arrived = self.last_heard = self.chat.loop.time()
        self.chat.connections.add(self)
        if self.chat.stopping:
            self.close_politely(GOODBYE)

    def data_received(self, data):
        if self.closing:
            return  # lingering: read and discard
        self.buffer += data
        self.handle_frames()

    def eof_received(self):
        return False  # the client is done: close our side too

    def connection_lost(self, exc):
        self.chat.forget(self)
        self.chat.connections.discard(self)
        if self.chat.stopping and not self.chat.connections:
            self.chat.all_gone.set()
        if self.paused is not None:
            self.paused.cancel()
        self.backlog.clear()

    def pause_writing(self):
        # The transport holds more than WRITE_BUFFER_HIGH: keep the next frames
        # in the backlog, and give the client SEND_TIMEOUT to take some of it.
        self.paused = self.chat.loop.call_later(
            SEND_TIMEOUT,
            self.drop,
            f"too slow: could not catch up in {SEND_TIMEOUT:g} s",
        )

    def resume_writing(self):
        # Down to the low-water mark: everything waiting goes in one write.
        if self.paused is None:
            return  # closed meanwhile: nothing more for this client
        self.paused.cancel()
        self.paused = None
        if self.backlog:
            waiting = b"".join(self.backlog)
            self.backlog.clear()
            self.transport.write(waiting)

    # --- frames in --------------------------------------------------------------

    def handle_frames(self):
        """Handle the whole frames in the buffer, at most FRAMES_PER_TURN of them."""
        buffer, offset, handled = self.buffer, 0, 0
        while len(buffer) - offset >= HEADER.size and not self.closing:
            (size,) = HEADER.unpack_from(buffer, offset)
            if size > self.chat.max_message_bytes:
                limit = self.chat.max_message_bytes
                reason = f"frame of {size} bytes is over the limit of {limit}"
                self.close_politely(encode_frame(error_message(reason)))
                return
            end = offset + HEADER.size + size
            if len(buffer) < end:
                break  # the rest of this frame has not arrived yet
            self.chat.handle(self, bytes(buffer[offset + HEADER.size : end]))
            offset = end
            handled += 1
            if handled == FRAMES_PER_TURN:
                # One client's burst must not hold the loop: the rest of the
                # buffer waits for the loop's next turn, and reading stops.
                self.transport.pause_reading()
                self.chat.loop.call_soon(self.next_turn)
                break
        self.last_heard = self.chat.loop.time() if handled else self.last_heard
        del buffer[:offset]

    def next_turn(self):
        if self.closing or self.transport.is_closing():
            return
        self.transport.resume_reading()
        self.handle_frames()

    # --- frames out -------------------------------------------------------------

    def send(self, frame):
        """Write a frame (bytes) to the client, or keep it if the client lags."""
        if self.closing:
            return
        if self.paused is None:
            self.transport.write(frame)
        elif len(self.backlog) < self.chat.backlog_size:
            self.backlog.append(frame)
        else:
            self.drop(f"too slow: {self.chat.backlog_size} messages waiting")

    def drop(self, reason):
        """Cut off a client the server cannot serve any more, saying why."""
        if self.closing:
            return
        log.warning("dropping %s: %s", self.username or "a client", reason)
        self.backlog.clear()  # what it has not taken yet is thrown away
        self.close_politely(encode_frame(error_message(reason)))

    def close_politely(self, last_word):
        """Send a last word after what is on its way, and close (chapter 10).

        write_eof() tells the client we are done; we go on reading (and throwing
        away) until it hangs up, or LINGER seconds have passed, so that a reset
        cannot destroy the last word. A client that never reads is aborted.
        """
        self.closing = True
        self.chat.forget(self)
        self.buffer.clear()
        if self.paused is not None:
            self.paused.cancel()
            self.paused = None
        if self.transport.is_closing():
            return
        self.transport.write(b"".join(self.backlog) + last_word)
        self.backlog.clear()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.resume_reading()  # it may have been paused for fairness
        loop = self.chat.loop
        loop.call_later(LINGER, self.transport.close)
        loop.call_later(LINGER + CLOSE_TIMEOUT, self.transport.abort)


class ChatServer:
    """The chat's state and rules: users, rooms, and what each request does."""

    def __init__(self, *, max_message_bytes, idle_timeout, backlog_size):
        self.loop = asyncio.get_running_loop()
        self.max_message_bytes = max_message_bytes
        self.idle_timeout = idle_timeout or None  # None: wait as long as it takes
        self.backlog_size = backlog_size
        self.connections = set()
        self.users = {}  # username -> ChatConnection
        self.rooms = {}  # room name -> the set of its members
        self.stopping = False
        self.sweeper = None  # the timer of the next sweep()
        self.all_gone = asyncio.Event()  # set when the last connection closes

    def handle(self, client, payload):
        """Carry out one frame's request, and send the reply if there is one."""
        try:
            request = validate_request(decode_message(payload))
            reply = self.perform(client, request)
        except ProtocolError as error:
            reply = error_message(error.reason)
        if reply is not None:
            client.send(encode_frame(reply))

    def perform(self, client, request):
        action = request["action"]
        if action == "connect":
            return self.connect(client, request["username"])
        if client.username is None:
            raise ProtocolError('send "connect" with your username first')
        if action == "joinroom":
            return self.join(client, request["room"])
        if action == "leaveroom":
            return self.leave(client, request["room"])
        return self.say(client, request["room"], request["message"])

    def connect(self, client, username):
        if client.username is not None:
            raise ProtocolError(f"already connected as {client.username!r}")
        if username in self.users:
            raise ProtocolError(f"username {username!r} is taken")
        client.username = username
        self.users[username] = client
        return {"action": "connect", "username": username, "ok": True}

    def join(self, client, room):
        if room not in client.rooms and len(client.rooms) >= MAX_ROOMS_PER_CLIENT:
            raise ProtocolError(f"already in {MAX_ROOMS_PER_CLIENT} rooms")
        client.rooms.add(room)
        self.rooms.setdefault(room, set()).add(client)
        return {"action": "joinroom", "room": room, "ok": True}

    def leave(self, client, room):
        if room not in client.rooms:
            raise ProtocolError(f"not in room {room!r}")
        self.remove_from_room(client, room)
        return {"action": "leaveroom", "room": room, "ok": True}

    def say(self, client, room, text):
        if room not in client.rooms:
            raise ProtocolError(f"join room {room!r} before chatting in it")
        message = {"action": "chat", "room": room, "message": text}
        frame = encode_frame({**message, "from": client.username})  # once
        # No await anywhere: every member gets the frame in this same callback,
        # so all of them see the room's messages in one order.
        for member in list(self.rooms[room]):  # a copy: send() may drop a member
            member.send(frame)

    def forget(self, client):
        """Take a leaving client out of its rooms and out of the user list."""
        for room in list(client.rooms):
            self.remove_from_room(client, room)
        if self.users.get(client.username) is client:
            del self.users[client.username]

    def remove_from_room(self, client, room):
        client.rooms.discard(room)
        members = self.rooms[room]
        members.discard(client)
        if not members:
            del self.rooms[room]

    # --- timeouts: one sweep for every connection --------------------------------

    def sweep(self):
        """Drop idle clients and those that did not log in in time; then again later."""
        now = self.loop.time()
        for client in list(self.connections):
            silent = now - client.last_heard
            if client.username is None and now - client.arrived > LOGIN_TIMEOUT:
                client.drop(f'no "connect" within {LOGIN_TIMEOUT:g} s')
            elif self.idle_timeout and silent > self.idle_timeout:
                client.drop(f"idle for more than {self.idle_timeout:g} s")
        self.sweeper = self.loop.call_later(SWEEP_EVERY, self.sweep)

    async def shutdown(self):
        """Say goodbye to everyone and wait until every connection is closed."""
        self.stopping = True
        self.sweeper.cancel()
        for client in list(self.connections):
            client.close_politely(GOODBYE)
        if self.connections:  # each one is closed or aborted within this time
            async with asyncio.timeout(LINGER + CLOSE_TIMEOUT + 1.0):
                await self.all_gone.wait()


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
        help="frames waiting for a lagging client before it is dropped "
        "(default %(default)s)",
    )
    return parser.parse_args()


async def serve(args):
    loop = asyncio.get_running_loop()
    chat = ChatServer(
        max_message_bytes=args.max_message_bytes,
        idle_timeout=args.idle_timeout,
        backlog_size=args.queue_size,
    )
    server = await loop.create_server(
        lambda: ChatConnection(chat), args.host, args.port, backlog=1024
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    chat.sweep()
    announce(server)
    await stop.wait()
    server.close()  # stop accepting
    await chat.shutdown()


def main():
    args = parse_command_line()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    raise_open_file_limit()  # a socket per client: thousands of open files
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
