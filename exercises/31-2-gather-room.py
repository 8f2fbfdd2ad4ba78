"""Chapter 31, exercise 2: a Room that does not wait for the slowest.

Write `GatherRoom`, with `join(ws)`, `leave(ws)` and `broadcast(message)`: the
broadcast sends `json.dumps(message)` to all members concurrently, and removes every
member whose send failed because its connection is closed (websockets raises
websockets.exceptions.ConnectionClosed). Needs the websockets library.
Check it with: python exercises/check.py 31-2
"""

import asyncio
import json  # noqa: F401 - you will need it
import time

from websockets.exceptions import ConnectionClosed


class GatherRoom:
    def __init__(self):
        raise NotImplementedError("your code here")

    def join(self, ws):
        raise NotImplementedError("your code here")

    def leave(self, ws):
        raise NotImplementedError("your code here")

    async def broadcast(self, message):
        raise NotImplementedError("your code here")


class Member:
    """A stand-in for a WebSocket: it takes `delay` seconds to send, or is closed."""

    def __init__(self, name, delay=0.0, closed=False):
        self.name, self.delay, self.closed = name, delay, closed

    async def send(self, text):
        await asyncio.sleep(self.delay)
        if self.closed:
            raise ConnectionClosed(None, None)


async def main():
    room = GatherRoom()
    for member in [
        Member("ada"),
        Member("slow", delay=0.2),
        Member("gone", closed=True),
    ]:
        room.join(member)
    started = time.monotonic()
    await room.broadcast({"sender": "ada", "message": "hello"})
    print(f"{time.monotonic() - started:.1f} s;", sorted(m.name for m in room.members))


if __name__ == "__main__":
    asyncio.run(main())
