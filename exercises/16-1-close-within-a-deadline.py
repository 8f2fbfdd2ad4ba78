"""Chapter 16, exercise 1: close within a deadline.

Write `close_within(writer, grace)`: close the writer, wait at most `grace`
seconds for wait_closed(), and if that takes too long, abort the transport.
Return True if the connection closed in time, False if it had to be aborted.
Check it with: python exercises/check.py 16-1
"""

import asyncio
import contextlib


async def close_within(writer, grace):
    raise NotImplementedError("your code here")


async def flood_then_close(reader, writer):
    writer.write(b"x" * 32 * 1024 * 1024)  # far more than the socket buffers hold
    print("closed in time:", await close_within(writer, grace=0.2))
    try:
        await writer.wait_closed()  # once more, as other code might
        print("second wait_closed: fine")
    except asyncio.CancelledError:
        print("second wait_closed: CancelledError")


async def never_read(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.5)  # connected, but never reads a byte
        writer.close()
        # The server aborted the connection: a reset.
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


if __name__ == "__main__":
    asyncio.run(never_read(flood_then_close))
