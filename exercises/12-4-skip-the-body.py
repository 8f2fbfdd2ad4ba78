"""Chapter 12, exercise 4: skip the body instead of hanging up?

Write `skip(reader, size)`: read and throw away `size` bytes while holding at most
64 KiB at a time; return True, or False if the stream ends first.
Check it with: python exercises/check.py 12-4
"""

import asyncio
import struct

HEADER = struct.Struct("<I")  # "<" little-endian, "I" 4-byte unsigned integer


async def next_payload(reader):
    try:
        header = await reader.readexactly(HEADER.size)
        (size,) = HEADER.unpack(header)
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None  # the stream ended: no more whole frames


async def skip(reader, size):
    raise NotImplementedError("your code here")


async def main():
    reader = asyncio.StreamReader()
    reader.feed_data(HEADER.pack(200_000) + b"x" * 200_000)  # too large
    reader.feed_data(HEADER.pack(5) + b"hello")  # a good one after it
    reader.feed_eof()
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    print("too large:", size, "bytes; skipped:", await skip(reader, size))
    print("next frame:", await next_payload(reader))


if __name__ == "__main__":
    asyncio.run(main())
