"""Chapter 6, exercise 3: fix the uploader.

`send_lines` sends lines to a server and then hangs up. It contains two of
chapter 6's mistakes: find them and fix them, so that the server, which counts
lines until the connection closes, receives all of them.
Check it with: python exercises/check.py 06-3
"""

import asyncio


async def send_lines(port, count):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(count):
        writer.write(f"line {number}\n".encode())
    writer.close()


async def count_lines(reader, writer, counts):
    lines = 0
    while await reader.readline():
        lines += 1
    counts.put_nowait(lines)
    writer.close()
    await writer.wait_closed()


async def main():
    counts = asyncio.Queue()
    server = await asyncio.start_server(
        lambda reader, writer: count_lines(reader, writer, counts), "127.0.0.1", 0
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        await send_lines(port, 1000)
        print("the server counted", await counts.get(), "lines")


if __name__ == "__main__":
    asyncio.run(main())
