"""Step 4, JSON messages: every frame holds one JSON object, and bad ones get an error.

    python examples/chat/server04.py --port 0

The server still echoes, but now it reads each frame's payload as a JSON object
and sends that object back. Anything else gets an error message,
`{"action": "error", "reason": "..."}`, and the conversation goes on: invalid
UTF-8, invalid JSON, JSON that is not an object. A frame over the size limit
gets an error message too, then the connection is closed: its body was never
read, so the bytes that follow are not the start of a frame.

New here: the frame helpers of step 3 now live in utils.py (`read_frame`,
`encode_frame`), with `decode_message`, the `ProtocolError` it raises, and
`close_writer`, which closes a connection without waiting forever.
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
)


def reply_to(payload):
    """The answer to one frame: its object echoed back, or an error.

    >>> reply_to(b'{"action": "chat", "message": "hi"}')
    {'action': 'chat', 'message': 'hi'}
    >>> reply_to(b"[]")
    {'action': 'error', 'reason': 'message must be a JSON object'}
    """
    try:
        return decode_message(payload)
    except ProtocolError as error:
        return error_message(error.reason)


async def echo_messages(reader, writer):
    """Answer every frame a client sends, until it hangs up or breaks the rules."""
    peer = writer.get_extra_info("peername")
    print(f"{peer} connected", file=sys.stderr)
    try:
        while (payload := await read_frame(reader)) is not None:
            writer.write(encode_frame(reply_to(payload)))
            await writer.drain()
    except FrameTooLarge as error:
        writer.write(encode_frame(error_message(error.reason)))  # then hang up
    except ConnectionError:
        pass  # the client vanished
    finally:
        await close_writer(writer, reader=reader)  # flush, linger, close
        print(f"{peer} left", file=sys.stderr)


async def main():
    args = argument_parser(__doc__).parse_args()
    server = await asyncio.start_server(echo_messages, args.host, args.port)
    announce(server)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
