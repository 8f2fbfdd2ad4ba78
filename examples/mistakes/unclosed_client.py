"""A client session that is never closed outlives the event loop it was used in.

    python examples/mistakes/unclosed_client.py           # no message (Python 3.11)
    python -X dev examples/mistakes/unclosed_client.py    # ResourceWarnings at exit
    python examples/mistakes/unclosed_client.py --fixed   # closed with `async with`

ScoreClient stands for an HTTP client session such as aiohttp's ClientSession or
httpx's AsyncClient: it opens a connection on first use and keeps it for the next
requests, so somebody has to close it. Here nobody does. The client is made outside
asyncio.run(), as a session kept in a global would be, so it is still alive, with its
connection open, when asyncio.run() has closed the loop. The garbage collector
destroys it at exit, and each object that finds itself unclosed says so, as a
ResourceWarning that Python hides unless warnings are on (-X dev). On Windows with
Python 3.10.5 or older, the transport tried to close itself through its closed loop
instead, and printed `RuntimeError: Event loop is closed`.
"""

import asyncio
import socket
import sys
import threading

SCORES = {"Ada": 12, "Grace": 10}


def answer_requests(listener):
    """A plain socket server in a thread: one score per line, until the client goes."""
    connection, _ = listener.accept()
    with connection, connection.makefile("rwb", buffering=0) as stream:
        for request in stream:
            stream.write(b"%d\n" % SCORES[request.decode().strip()])


class ScoreClient:
    """Connects on first use and keeps the connection for later requests."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def get_score(self, player):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port
            )
        self.writer.write(f"{player}\n".encode())
        await self.writer.drain()
        return int(await self.reader.readline())

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()


async def show_scores(client):
    for player in SCORES:
        print(f"{player}: {await client.get_score(player)}")
    # The mistake: the client is never closed.


async def show_scores_fixed(port):
    async with ScoreClient(port) as client:  # closed when the block ends, even on error
        for player in SCORES:
            print(f"{player}: {await client.get_score(player)}")


def main(fixed):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        server = threading.Thread(target=answer_requests, args=(listener,), daemon=True)
        server.start()
        if fixed:
            asyncio.run(show_scores_fixed(port))
        else:
            client = ScoreClient(port)  # outlives the loop, like a global session
            asyncio.run(show_scores(client))
        print("asyncio.run() returned")


if __name__ == "__main__":
    main(fixed="--fixed" in sys.argv)
