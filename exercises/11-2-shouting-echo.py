"""Chapter 11, exercise 2: a shouting echo, line by line.

Write the handler `shout(reader, writer)`: read one line at a time with readline()
and send it back in capital letters, until the client closes.
Check it with: python exercises/check.py 11-2
"""

import asyncio


async def shout(reader, writer):
    raise NotImplementedError("your code here")


async def talk_to_the_shouter():
    server = await asyncio.start_server(shout, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello\nis anybody there?\n")  # two lines, one write
        writer.write_eof()
        while line := await reader.readline():
            print(line)
        writer.close()
        await writer.wait_closed()


if __name__ == "__main__":
    asyncio.run(talk_to_the_shouter())
