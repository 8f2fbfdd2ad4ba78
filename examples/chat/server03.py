"""Step 3, framing: the server echoes whole messages, not whatever bytes arrived.

    python examples/chat/server03.py --port 0

TCP carries a stream of bytes, not messages: one `send` may arrive in three
pieces, or three sends in one piece. So each message travels as a frame, a
4-byte length (unsigned, little-endian) followed by that many bytes:

    b"\\x05\\x00\\x00\\x00hello"

`reader.readexactly(n)` waits until exactly n bytes have arrived however they
were split, and raises `IncompleteReadError` if the stream ends first. A length
above MAX_FRAME_BYTES ends the connection before a byte of the body is read, so
a client cannot make the server wait for, or allocate, 4 GiB.
"""

import asyncio
import contextlib
import struct
import sys

from utils import announce, argument_parser

HEADER = struct.Struct("<I")  # "<" little-endian, "I" 4-byte unsigned integer
MAX_FRAME_BYTES = 64 * 1024


class FrameTooLarge(Exception):
    """A frame header announced more bytes than we accept."""


async def read_frame(reader):
    """The payload of the next frame, or None once the client has gone."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as error:
        if error.partial:  # 1 to 3 bytes of a header, then the end
            print(f"a header cut short: {error.partial!r}", file=sys.stderr)
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:  # decided from the header alone
        raise FrameTooLarge(f"frame of {size} bytes, over {MAX_FRAME_BYTES}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None  # it left in the middle of a frame: the rest will never come


def encode_frame(payload):
    r"""A payload as a frame: its length in 4 bytes, then the payload.

    >>> encode_frame(b"hello")
    b'\x05\x00\x00\x00hello'
    >>> list(encode_frame(b"x" * 300)[:4])  # 300 = 44 + 1 * 256: low byte first
    [44, 1, 0, 0]
    """
    return HEADER.pack(len(payload)) + payload


async def echo_frames(reader, writer):
    """Send every frame a client sends back to it, whole."""
    peer = writer.get_extra_info("peername")
    print(f"{peer} connected", file=sys.stderr)
    try:
        while (payload := await read_frame(reader)) is not None:
            writer.write(encode_frame(payload))
            await writer.drain()
    except FrameTooLarge as error:
        print(f"{peer}: {error}; hanging up", file=sys.stderr)
    except ConnectionError:
        pass  # the client vanished
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        print(f"{peer} left", file=sys.stderr)


async def main():
    args = argument_parser(__doc__).parse_args()
    server = await asyncio.start_server(echo_frames, args.host, args.port)
    announce(server)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
