"""write() without drain(): a slow reader makes the writer's memory grow.

    python examples/mistakes/no_drain.py

A local server accepts a connection and then never reads from it, like a client on
a bad network or one that has hung. The sender writes 1 MiB at a time, first without
`drain()`, then with it. StreamWriter.write() never blocks and never refuses data:
what the network cannot take yet waits in a buffer in the sender's memory.
`await writer.drain()` pauses the sender while that buffer is too full.
"""

import asyncio
import socket

MiB = 2**20
CHUNK = b"x" * MiB
CHUNKS = 64  # how much the sender tries to send: 64 MiB
KERNEL_BUFFER = 64 * 1024  # bytes the system may hold for each socket


async def never_read(reader, writer, stop, finished):
    """The server side of a connection: accept it, read nothing, wait to be told."""
    await stop.wait()
    writer.close()
    await finished.put(writer)


def buffered(writer):
    """How many bytes wait in this process for the network to take them, in MiB."""
    return writer.transport.get_write_buffer_size() / MiB


async def connect(port):
    """A connection whose system send buffer is fixed, so every run is alike.

    Linux grows a socket's buffers as it sees fit, by megabytes on a fast link;
    a size set by hand stays put. (The reader side is fixed too: see main().)
    """
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_BUFFER)
    return writer


async def write_without_drain(port):
    writer = await connect(port)
    for _ in range(CHUNKS):
        writer.write(CHUNK)  # the mistake: nothing ever waits for the buffer
    print(f"without drain: wrote {CHUNKS} MiB, {buffered(writer):.1f} MiB in memory")
    writer.transport.abort()  # drop the connection and its buffer at once


async def write_with_drain(port):
    writer = await connect(port)
    written = 0
    try:
        async with asyncio.timeout(0.5):  # the reader never reads: give up
            for _ in range(CHUNKS):
                writer.write(CHUNK)
                written += 1
                await writer.drain()  # waits while the buffer is too full
    except TimeoutError:
        print(
            f"with drain:    drain() held the sender after {written} MiB, "
            f"{buffered(writer):.1f} MiB in memory"
        )
    writer.transport.abort()


async def main():
    stop, finished = asyncio.Event(), asyncio.Queue()
    listener = socket.create_server(("127.0.0.1", 0))
    # Accepted connections inherit this: the never-reading side's buffer is fixed.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, KERNEL_BUFFER)
    server = await asyncio.start_server(
        lambda reader, writer: never_read(reader, writer, stop, finished),
        sock=listener,
    )
    port = listener.getsockname()[1]
    async with server:
        await write_without_drain(port)
        await write_with_drain(port)
        stop.set()
        for _ in range(2):  # let both server-side handlers finish before we go
            await finished.get()


if __name__ == "__main__":
    asyncio.run(main())
