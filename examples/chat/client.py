"""A command-line client for the chat servers, built on prompt_toolkit 3.

    python examples/chat/client.py --username alice
    python examples/chat/client.py --port 9000 --username bob --room kitchen
    python examples/chat/client.py --username carol --tls --cafile ca.pem

Type a line and press Enter to say it in the current room (shown in the prompt).
Commands:

    /join ROOM     join ROOM; once the server agrees, it is the current room
    /leave [ROOM]  leave ROOM (by default the current room)
    /quit          leave the chat; so do Ctrl-D and Ctrl-C

Two things happen at once: the server may send a message at any moment, and the
user types at their own pace. So two tasks run side by side in a TaskGroup: one
prints what arrives, the other reads the keyboard. prompt_toolkit keeps them from
trampling on each other: incoming lines appear above the prompt, and the line
being typed stays as it was.

The client speaks the same wire format as the servers (a 4-byte length, then a
JSON object), so it borrows their helpers from utils.py, next to this file.
"""

import argparse
import asyncio
import contextlib
import ssl
import sys

from prompt_toolkit import PromptSession
from prompt_toolkit.patch_stdout import StdoutProxy
from utils import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ProtocolError,
    close_writer,
    decode_message,
    encode_frame,
    read_frame,
)

CONNECT_TIMEOUT = 10.0  # seconds to connect and log in before giving up
# The largest frame we accept from the server. A relayed chat carries the
# message plus the room and sender, and non-ASCII text grows when the server
# escapes it, so this is well above the server's own limit on what we send.
MAX_INCOMING_BYTES = 1024 * 1024
HELP = "* type a message and press Enter; commands: /join ROOM, /leave [ROOM], /quit"
# How long prompt_toolkit waits after drawing printed lines, to draw the next ones
# in one go; leaving print_above_prompt() can wait that long too (the default is
# 0.2 s, a pause asyncio's debug mode reports as a slow step).
PRINT_PAUSE = 0.01


class ChatOver(Exception):
    """Raised to end the chat, whoever ends it; `str(error)` says why.

    Inside a TaskGroup, an exception in one task cancels the others: when the
    server goes away, the receiving task raises ChatOver and the prompt is
    cancelled; when the user quits, the prompt raises it and the receiver is
    cancelled. Before the chat has begun, it means the chat never could.
    """


# --- Talking to the server ----------------------------------------------------


@contextlib.asynccontextmanager
async def connection(host, port, tls):
    """Open a connection to the server, and close it when the block ends.

    `tls` is an `ssl.SSLContext` for an encrypted connection, or None for plain
    TCP. Failing to connect raises ChatOver with the reason.
    """
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    except TimeoutError:  # first: TimeoutError is a kind of OSError
        raise ChatOver(f"no answer from {host}:{port}") from None
    except OSError as error:  # refused, unreachable, a certificate not trusted...
        raise ChatOver(f"cannot connect to {host}:{port}: {error}") from None
    try:
        yield reader, writer
    finally:
        await close_writer(writer)


async def send(writer, message):
    """Send one message (a dict) to the server as a frame."""
    writer.write(encode_frame(message))
    try:
        await writer.drain()
    except OSError as error:  # the server reset the connection
        raise ChatOver(f"connection lost: {error}") from None


async def receive(reader):
    """The server's next message, as a dict; ChatOver once none can come."""
    try:
        payload = await read_frame(reader, MAX_INCOMING_BYTES)
        message = None if payload is None else decode_message(payload)
    except ProtocolError as error:  # a frame too large, or not a JSON object
        raise ChatOver(f"unreadable message from the server: {error}") from None
    except OSError as error:
        raise ChatOver(f"connection lost: {error}") from None
    if message is None:
        raise ChatOver("the server closed the connection")
    return message


async def log_in(reader, writer, username):
    """Say who we are, and wait for the server to accept the name.

    This is the one reply we wait for: until the server has said yes (a name may
    be taken), there is no point in showing a prompt.
    """
    await send(writer, {"action": "connect", "username": username})
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reply = await receive(reader)
    except TimeoutError:
        raise ChatOver("the server did not answer") from None
    if reply.get("action") != "connect" or reply.get("ok") is not True:
        reason = reply.get("reason", reply)  # an error says why; else show it all
        raise ChatOver(f"cannot log in as {username!r}: {reason}")


async def join(writer, room):
    """Ask to join `room`. It becomes the current room when the server says "ok".

    We do not wait for that answer here: the receiving task reads every frame,
    and calls follow_joins() when the confirmation comes. A join can be refused
    (a name too long, too many rooms), so only the server's "ok" makes it true.
    """
    await send(writer, {"action": "joinroom", "room": room})


async def leave(writer, rooms, room):
    """Ask to leave `room`; the room joined before it becomes current again.

    Unlike a join, this needs no confirmation: whether the server agrees or
    answers "not in room", we are not in `room` afterwards.
    """
    await send(writer, {"action": "leaveroom", "room": room})
    if room in rooms:
        rooms.remove(room)


async def say(writer, room, text):
    """Send a chat message to a room; the server relays it to us too."""
    await send(writer, {"action": "chat", "room": room, "message": text})


# --- What the server tells us -------------------------------------------------


def describe(message):
    """One line of text for a message from the server.

    `match` compares the dict with each pattern in turn: a pattern matches when
    the dict has those keys with those values, and the names in it (`room`,
    `text`...) take the values found there.

    >>> describe({"action": "chat", "room": "lobby", "from": "ada", "message": "hi"})
    '[lobby] ada: hi'
    >>> describe({"action": "joinroom", "room": "lobby", "ok": True, "new": 1})
    '* you joined lobby'
    >>> describe({"action": "dance"})
    "? unexpected message from the server: {'action': 'dance'}"
    """
    match message:
        case {"action": "chat", "room": room, "from": sender, "message": text}:
            return f"[{room}] {sender}: {text}"
        case {"action": "joinroom", "room": room, "ok": True}:
            return f"* you joined {room}"
        case {"action": "leaveroom", "room": room, "ok": True}:
            return f"* you left {room}"
        case {"action": "error", "reason": reason}:
            return f"! server error: {reason}"
        case {"action": "goodbye", "reason": reason}:
            return f"! the server says goodbye: {reason}"
        case _:
            return f"? unexpected message from the server: {message}"


def printable(text):
    r"""`text` with its control characters written as escapes, such as \x1b.

    Terminals obey control characters: printed as they are, another user's
    message could move our cursor, rewrite the screen or ring the bell.

    >>> print(printable("héllo\x1b[2J\x07"))
    héllo\x1b[2J\x07
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def follow_joins(rooms, message):
    """Make a room current once the server confirms that we joined it.

    `rooms` lists the rooms we are in; the last one is the current room.

    >>> rooms = ["lobby", "kitchen"]
    >>> follow_joins(rooms, {"action": "joinroom", "room": "lobby", "ok": True})
    >>> rooms
    ['kitchen', 'lobby']
    >>> follow_joins(rooms, {"action": "error", "reason": "already in 100 rooms"})
    >>> rooms
    ['kitchen', 'lobby']
    """
    match message:
        case {"action": "joinroom", "room": room, "ok": True}:
            if room in rooms:
                rooms.remove(room)
            rooms.append(room)


async def show_incoming(reader, rooms):
    """Print every message from the server, until it goes away.

    A plain print() is safe here although the prompt is on screen: chat() runs
    this task inside print_above_prompt(), which hands what we print to
    prompt_toolkit to draw above the prompt, and to draw the prompt again,
    showing the current room after a join.
    """
    while True:
        message = await receive(reader)  # ChatOver when the server is gone
        follow_joins(rooms, message)
        print(printable(describe(message)))


# --- What the user types ------------------------------------------------------


def prompt_for(rooms):
    """The prompt: the current room, where a plain line will be said.

    read_commands() passes prompt_toolkit a function that calls this one, not
    its result, so that the prompt is worked out again each time it is drawn.
    """
    return f"{rooms[-1]}> " if rooms else "(no room)> "


async def read_commands(session, writer, rooms):
    """Read lines from the keyboard and carry them out, until the user quits.

    `prompt_async` lets the event loop run while the user types, so the
    receiving task keeps printing. On Ctrl-D it raises EOFError, and on Ctrl-C
    KeyboardInterrupt (the terminal is in raw mode while the prompt reads keys,
    so Ctrl-C arrives as a key, not as a signal).
    """
    while True:
        try:
            line = await session.prompt_async(lambda: prompt_for(rooms))
        except (EOFError, KeyboardInterrupt):
            raise ChatOver("bye") from None
        await carry_out(line, writer, rooms)


async def carry_out(line, writer, rooms):
    """Do what one typed line asks: a command, or a message to the current room."""
    match line.strip().split(maxsplit=1):
        case []:
            pass  # an empty line: nothing to say
        case ["/quit"]:
            raise ChatOver("bye")
        case ["/join", room]:
            await join(writer, room)
        case ["/leave", room]:
            await leave(writer, rooms, room)
        case ["/leave"] if rooms:
            await leave(writer, rooms, rooms[-1])
        case [command, *_] if command.startswith("/"):
            print(HELP)  # a command we do not know, or one missing its room
        case _ if not rooms:
            print("* you are in no room: /join one first")
        case _:
            await say(writer, rooms[-1], line)  # the line as typed, spaces and all


# --- Putting it together ------------------------------------------------------


async def chat(reader, writer, first_room):
    """Join the first room, then print and prompt side by side until the end.

    The TaskGroup ends when either task raises ChatOver: it cancels the other
    task, waits for it, and raises an ExceptionGroup holding the ChatOver, which
    `except*` picks out. print_above_prompt() is over before we print why.
    """
    rooms = []  # filled in by show_incoming(), as the server confirms our joins
    await join(writer, first_room)
    print(HELP)
    # erase_when_done: a line vanishes from the prompt once sent; the server's
    # echo of our own message shows it was said.
    session = PromptSession(erase_when_done=True)
    try:
        with print_above_prompt():
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(show_incoming(reader, rooms))
                tasks.create_task(read_commands(session, writer, rooms))
    except* ChatOver as over:
        print(over.exceptions[0])


@contextlib.contextmanager
def print_above_prompt():
    """Make print() draw its lines above the prompt, for as long as the block lasts.

    This is prompt_toolkit's patch_stdout(), with a shorter pause: it replaces
    sys.stdout (and sys.stderr) with a StdoutProxy, whose thread hands each
    printed line to prompt_toolkit, then pauses before the next one. Leaving the
    block waits for that thread, pause included, and holds up the event loop
    meanwhile: with the default pause of 0.2 s, asyncio's debug mode reports it.
    """
    proxy = StdoutProxy(sleep_between_writes=PRINT_PAUSE)
    with proxy, contextlib.redirect_stdout(proxy), contextlib.redirect_stderr(proxy):
        yield


async def run_client(args):
    """Connect, log in and chat; the exit status (1 if the chat never began)."""
    try:
        async with connection(args.host, args.port, tls_context(args)) as streams:
            await log_in(*streams, args.username)
            print(f"* connected to {args.host}:{args.port} as {args.username}")
            await chat(*streams, args.room)
    except ChatOver as failure:  # chat() handles its own: this one came first
        print(failure, file=sys.stderr)
        return 1
    return 0


def tls_context(args):
    """The TLS settings for --tls, or None for plain TCP.

    The default context checks that the server's certificate is signed by an
    authority we trust and names the host we asked for. --cafile trusts the
    authority in that file instead of the system's (for a certificate you made).
    """
    if not (args.tls or args.cafile):
        return None
    return ssl.create_default_context(cafile=args.cafile)


def parse_command_line():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="server address (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="server port (default %(default)s)",
    )
    parser.add_argument("--username", required=True, help="your name in the chat")
    parser.add_argument(
        "--room", default="lobby", help="the room to join first (default %(default)s)"
    )
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument(
        "--cafile", help="trust the certificate authority in this file (implies --tls)"
    )
    return parser.parse_args()


def main():
    args = parse_command_line()
    try:
        return asyncio.run(run_client(args))
    except KeyboardInterrupt:  # Ctrl-C while no prompt was reading the keys
        print("bye")
        return 0


if __name__ == "__main__":
    sys.exit(main())
