"""Step 2, an echo server: whatever a client sends comes straight back.

    python examples/chat/server02.py --port 0

Talk to it with `nc 127.0.0.1 PORT`: every line you type is echoed. Connect
from two terminals at once: both are served, by one thread, because each
connection's `echo()` runs in a task of its own and `await reader.read()` lets
the other tasks run while this one waits for bytes.

New here: reading with `reader.read()`, which returns b"" once the client has
closed its side; a `try`/`finally` that closes the connection however the
conversation ends; and the command-line helpers moving to utils.py.
"""

import asyncio
import contextlib
import sys

from utils import announce, argument_parser

CHUNK = 4096  # read at most this many bytes at a time


async def echo(reader, writer):
    """Send every byte a client sends back to it, until it hangs up."""
    peer = writer.get_extra_info("peername")
    print(f"{peer} connected", file=sys.stderr)
    try:
        while data := await reader.read(CHUNK):  # b"": the client is done
            writer.write(data)
            await writer.drain()
    except ConnectionError:  # reset, or a broken pipe: the client vanished
        pass
    finally:
        writer.close()
        # wait_closed() raises the error that ended the connection, if one did.
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        print(f"{peer} left", file=sys.stderr)


async def main():
    args = argument_parser(__doc__).parse_args()
    server = await asyncio.start_server(echo, args.host, args.port)
    announce(server)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
