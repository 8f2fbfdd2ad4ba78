"""Chapter 10, exercise 1: read a stream of frames.

Write `split_frames(buffer)`: the payloads of the whole frames at the start of
`buffer` (a 4-byte little-endian length, then that many bytes of JSON), decoded,
and the bytes left over. Check it with: python exercises/check.py 10-1
"""

import json  # noqa: F401 - you will need these two
import struct  # noqa: F401

received = (
    b'/\x00\x00\x00{"action":"connect","username":"ada","ok":true}'
    b'3\x00\x00\x00{"action":"error","reason":"not in room'
)


def split_frames(buffer):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    messages, rest = split_frames(received)
    print(messages)
    print(rest)
