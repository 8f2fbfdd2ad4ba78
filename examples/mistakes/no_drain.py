"""write() without drain(): a slow reader makes the writer's memory grow.

    python examples/mistakes/no_drain.py

A local server accepts a connection and then never reads from it, like a client on
a bad network or one that has hung. The sender writes 1 MiB at a time, first without
`drain()`, then with it. StreamWriter.write() never blocks and never refuses data:
what the network cannot take yet waits in a buffer in the sender's memory.
`await writer.drain()` pauses the sender while that buffer is too full.
"""

import asyncio

MiB = 2**20
CHUNK = b"x" * MiB
CHUNKS = 64  # how much the sender tries to send: 64 MiB


async def never_read(reader, writer, stop, finished):
    """The server side of a connection: accept it, read nothing, wait to be told."""
    await stop.wait()
    writer.close()
    await finished.put(writer)


def buffered(writer):
    """How many bytes wait in this process for the network to take them, in MiB."""
    return writer.transport.get_write_buffer_size() / MiB


async def write_without_drain(port):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(CHUNKS):
        writer.write(CHUNK)  # the mistake: nothing ever waits for the buffer
    print(f"without drain: wrote {CHUNKS} MiB, {buffered(writer):.1f} MiB in memory")
    writer.transport.abort()  # drop the connection and its buffer at once


async def write_with_drain(port):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
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
    server = await asyncio.start_server(
        lambda reader, writer: never_read(reader, writer, stop, finished),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    async with server:
        await write_without_drain(port)
        await write_with_drain(port)
        stop.set()
        for _ in range(2):  # let both server-side handlers finish before we go
            await finished.get()


if __name__ == "__main__":
    asyncio.run(main())
