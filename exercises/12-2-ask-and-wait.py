"""Chapter 12, exercise 2: a client that asks and waits.

Write `json_echo(reader, writer)`, a small version of step 4: it answers each frame
with the same message, or with an error message if the payload is not valid JSON.
Then write `ask(reader, writer, message)`: send a dict as a frame and return the
dict that comes back.
Check it with: python exercises/check.py 12-2
"""

import asyncio
import json
import struct

HEADER = struct.Struct("<I")  # "<" little-endian, "I" 4-byte unsigned integer


async def next_payload(reader):
    try:
        header = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None  # the stream ended: no more whole frames


def encode(message):
    payload = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


async def json_echo(reader, writer):
    raise NotImplementedError("your code here")


async def ask(reader, writer, message):
    raise NotImplementedError("your code here")


async def conversation():
    server = await asyncio.start_server(json_echo, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        print(await ask(reader, writer, {"n": 1}))
        writer.write(HEADER.pack(3) + b"{{{")  # a frame whose payload is not JSON
        await writer.drain()
        print(json.loads(await next_payload(reader)))
        writer.close()
        await writer.wait_closed()


if __name__ == "__main__":
    asyncio.run(conversation())
