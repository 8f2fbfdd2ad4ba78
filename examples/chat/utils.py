"""Helpers the chat server steps share: the wire format, the command line, closing.

This is a module, not a program: the steps import it (`from utils import ...` works
because Python puts a script's own folder on `sys.path`). Each helper appears in a
step only once that step's chapter has taught it; a few are written inline first
(server01 prints its address itself, server03 reads frames itself) and move here
when the next step needs them again.

The wire format
---------------
A frame is a 4-byte unsigned little-endian length followed by that many bytes of
UTF-8 JSON holding one object. `{"action":"joinroom","room":"lobby"}` is 36 bytes,
so on the wire it is::

    b'$\\x00\\x00\\x00{"action":"joinroom","room":"lobby"}'

(36 is 0x24, the byte for `$`.) The length comes first so that a reader knows how
much to wait for, and can refuse a frame that is too large before reading it.
"""

import argparse
import asyncio
import json
import signal
import struct
import unicodedata

try:
    import resource  # Unix only: limits such as the number of open files
except ImportError:  # Windows
    resource = None

DEFAULT_HOST = "127.0.0.1"  # only this machine can connect; use 0.0.0.0 for all
DEFAULT_PORT = 8888
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
LINGER = 1.0  # seconds a closing connection waits for the peer to hang up too

# The frame header: "<" little-endian, "I" a 4-byte unsigned integer.
HEADER = struct.Struct("<I")

# What each request must carry besides "action", all of them strings.
REQUEST_FIELDS = {
    "connect": ("username",),
    "joinroom": ("room",),
    "leaveroom": ("room",),
    "chat": ("room", "message"),
}
NAME_FIELDS = ("username", "room")  # see check_name()
MAX_NAME_LENGTH = 64
OPEN_MAX = 10240  # macOS's cap on a process's open files (sys/syslimits.h)


# --- The command line ---------------------------------------------------------


def argument_parser(description):
    """A parser for the options every step takes: --host and --port.

    A step adds its own options to it, then calls `parse_args()`:

    >>> argument_parser("A chat server.").parse_args(["--port", "0"])
    Namespace(host='127.0.0.1', port=0)
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep our line breaks
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )
    return parser


def positive_int(text):
    """An argparse type: a whole number of at least 1.

    >>> positive_int("100")
    100
    >>> positive_int("0")
    Traceback (most recent call last):
      ...
    argparse.ArgumentTypeError: must be at least 1, not 0
    """
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def seconds(text):
    """An argparse type: a duration in seconds, 0 or more.

    >>> seconds("2.5")
    2.5
    >>> seconds("nan")
    Traceback (most recent call last):
      ...
    argparse.ArgumentTypeError: must be 0 or more, not nan
    """
    number = float(text)
    if not number >= 0:  # also refuses "nan"
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return number


def announce(server):
    """Print `listening on HOST:PORT` with the port really bound.

    With `--port 0` the operating system picks a free port, so this line is how a
    reader, or a test, learns where to connect. `flush=True` sends it at once even
    when standard output is a pipe, which Python would otherwise buffer.
    """
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)


# --- Frames -------------------------------------------------------------------


class ProtocolError(Exception):
    """A request the server refuses. `reason` is what the client is told."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class FrameTooLarge(ProtocolError):
    """A frame header announces more bytes than the server accepts.

    Unlike other protocol errors this one ends the connection: the body was never
    read, so the next bytes on the stream are not the start of a frame.
    """


def encode_frame(message):
    r"""One message (a dict) as a frame: its length, then its JSON bytes.

    >>> frame = encode_frame({"action": "joinroom", "room": "lobby"})
    >>> frame
    b'$\x00\x00\x00{"action":"joinroom","room":"lobby"}'
    >>> HEADER.unpack(frame[:4])  # the length, as a reader decodes it
    (36,)
    """
    # json.dumps escapes every non-ASCII character (ensure_ascii=True, the
    # default), so encoding cannot fail, even on a lone surrogate such as
    # "\ud800" that a client sent us as a JSON escape.
    payload = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


async def read_frame(reader, max_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """The payload of the next frame, or None once the client has gone.

    `readexactly(n)` waits until exactly n bytes have arrived, however TCP split
    them up; it raises `IncompleteReadError` if the stream ends first. Raises
    `FrameTooLarge` from the header alone, before reading (or allocating room
    for) the body.
    """
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError:
        return None  # the stream ended between two frames: a clean goodbye
    (size,) = HEADER.unpack(header)
    if size > max_bytes:
        raise FrameTooLarge(f"frame of {size} bytes is over the limit of {max_bytes}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None  # it left in the middle of a frame: the rest will never come


# --- Messages -----------------------------------------------------------------


def decode_message(payload):
    """The JSON object a frame carries, as a dict; `ProtocolError` if it is not one.

    >>> decode_message(b'{"action":"joinroom","room":"lobby"}')
    {'action': 'joinroom', 'room': 'lobby'}
    >>> decode_message(b'["lobby"]')
    Traceback (most recent call last):
      ...
    utils.ProtocolError: message must be a JSON object
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("message is not valid UTF-8") from None
    try:
        message = json.loads(text)
    except ValueError as error:  # JSONDecodeError, or an integer with 5,000 digits
        raise ProtocolError(f"message is not valid JSON: {error}") from None
    except RecursionError:  # [[[[...]]]] nested thousands of times
        raise ProtocolError("message is nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("message must be a JSON object")
    return message


def validate_request(message):
    """Check a client's request has a known action and the fields it needs.

    Returns the request unchanged, or raises `ProtocolError` saying what is wrong,
    so the server can refuse it without ever touching a missing field.

    >>> validate_request({"action": "joinroom", "room": "lobby"})
    {'action': 'joinroom', 'room': 'lobby'}
    >>> validate_request({"action": "chat", "room": "lobby"})
    Traceback (most recent call last):
      ...
    utils.ProtocolError: "chat" needs a "message" string
    """
    action = message.get("action")
    if not isinstance(action, str):
        raise ProtocolError('a request needs an "action" string')
    if action not in REQUEST_FIELDS:
        known = ", ".join(REQUEST_FIELDS)
        raise ProtocolError(f"unknown action {action[:40]!r} (known: {known})")
    for field in REQUEST_FIELDS[action]:
        value = message.get(field)
        if not isinstance(value, str):
            raise ProtocolError(f'"{action}" needs a "{field}" string')
        if field in NAME_FIELDS:
            check_name(field, value)
    return message


def check_name(field, name):
    r"""A username or a room name must be short, printable, and written one way.

    Short: at most 64 characters, spaces included, so that a name cannot make
    every message it travels with long. Printable: no newline or other control
    character, which would let a name forge extra lines in the server's log, or
    mangle a client's screen. No space at either end, and in Unicode's composed
    form (NFC): otherwise "ada" and "ada ", or "é" typed as one character and as
    "e" plus an accent, would be two users whom nobody can tell apart.

    >>> check_name("room", "lobby")  # a good name: no error, nothing returned
    >>> check_name("room", "x" * 65)
    Traceback (most recent call last):
      ...
    utils.ProtocolError: "room" must be 1 to 64 characters
    >>> check_name("username", "ada\nERROR disk full")
    Traceback (most recent call last):
      ...
    utils.ProtocolError: "username" must be printable (no control characters)
    >>> check_name("username", "ada ")
    Traceback (most recent call last):
      ...
    utils.ProtocolError: "username" must not start or end with a space
    >>> check_name("username", "rene\u0301")  # e, then a combining accent
    Traceback (most recent call last):
      ...
    utils.ProtocolError: "username" must be in Unicode normal form NFC
    """
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise ProtocolError(f'"{field}" must be 1 to {MAX_NAME_LENGTH} characters')
    if not name.isprintable():
        raise ProtocolError(f'"{field}" must be printable (no control characters)')
    if name.startswith(" ") or name.endswith(" "):  # the only printable space
        raise ProtocolError(f'"{field}" must not start or end with a space')
    if not unicodedata.is_normalized("NFC", name):
        raise ProtocolError(f'"{field}" must be in Unicode normal form NFC')


def error_message(reason):
    """The message that tells a client what the server refused, and why.

    >>> error_message("not in room 'lobby'")
    {'action': 'error', 'reason': "not in room 'lobby'"}
    """
    return {"action": "error", "reason": reason}


# --- Connections --------------------------------------------------------------


async def close_writer(writer, grace=3.0, reader=None):
    """Close a connection and wait until it is closed, for at most `grace` seconds.

    `close()` first sends whatever the transport still holds, so a peer that never
    reads would keep `wait_closed()` waiting forever: past the timeout we `abort()`,
    which closes the socket at once and throws the unsent bytes away. Errors such as
    a reset are ignored: the connection is closed either way.

    Given the connection's `reader` as well, it lingers first (see `linger()`), so
    that the peer can read our last words.
    """
    try:
        async with asyncio.timeout(grace):
            if reader is not None:
                await linger(reader, writer)
            writer.close()
            # shield(): when the timeout fires it cancels our wait, not the
            # stream's own "closed" future, which any later wait_closed() shares.
            await asyncio.shield(writer.wait_closed())
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        pass  # ended by a reset or a broken pipe: closed all the same
    finally:
        writer.close()  # does nothing if closed; else we were cancelled: close now


async def linger(reader, writer, seconds=LINGER):
    """Say we are done, then read and discard until the peer is done too.

    Closing a socket while bytes from the peer wait unread, or arrive later, makes
    the operating system reset the connection, and a reset can destroy what we
    sent last before the peer reads it. So: `write_eof()` (the peer reads an end of
    file after our last bytes; TLS cannot do that), then read and throw away what
    still comes, until the peer hangs up or `seconds` have passed.
    """
    if writer.transport.is_closing():
        return  # reset, or closed already: nothing will come
    try:
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(seconds):
            while await reader.read(64 * 1024):
                pass  # a request we will not answer: read only to avoid a reset
    except (TimeoutError, OSError):
        pass  # the peer took its time, or the connection broke: close anyway


def on_shutdown_signal(callback):
    """Call `callback()` in the event loop when SIGINT (Ctrl-C) or SIGTERM arrives.

    On Unix the loop watches the signals itself (`loop.add_signal_handler`), so the
    callback runs between two tasks' steps, like any other callback. Windows has
    no such thing (`NotImplementedError`): there a plain `signal.signal` handler
    hands the callback over to the loop with `call_soon_threadsafe`, which also
    wakes the loop up if it is waiting for the network.
    """
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, callback)
        except NotImplementedError:
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(callback))


def raise_open_file_limit():
    """Lift the soft limit on open files to the hard limit; return the new limit.

    Every connection is an open file (a socket), and many systems start a process
    with a soft limit of 1,024: one more connection fails with "Too many open
    files". A process may raise its own soft limit up to the hard limit without
    any privilege. macOS reports an unlimited hard limit, then refuses a soft limit
    above caps of its own (`OPEN_MAX`, `kern.maxfilesperproc`): there we ask for
    65,536, and for OPEN_MAX if that is refused. Returns None where there is no
    such limit (Windows).
    """
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = hard == resource.RLIM_INFINITY
    wanted_limits = (65536, OPEN_MAX) if unlimited else (hard,)  # the best first
    for wanted in wanted_limits:
        if soft == resource.RLIM_INFINITY or soft >= wanted:
            break  # already as high as that
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            continue  # refused: try the next one
        soft = wanted
        break
    return soft
