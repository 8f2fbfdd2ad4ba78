"""A line echo server: the code under test in chapter 7 (docs/07-testing.md).

    python examples/testing/echo_server.py              # on a free port
    python examples/testing/echo_server.py --port 8888

Every line a client sends comes back to it unchanged. `EchoServer` is an async
context manager: entering starts the server (port 0 asks the operating system for
a free port, and `address` says which one it got); leaving closes the server and
every open connection, and waits until their handlers have finished, so that a test
which uses it leaves nothing running behind.
"""

import argparse
import asyncio
import contextlib


class EchoServer:
    def __init__(self, host="127.0.0.1", port=0):
        self.host, self.port = host, port
        self.address = None  # (host, port), once started
        self._server = None
        self._connections = {}  # handler task -> its StreamWriter

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._echo, self.host, self.port)
        self.address = self._server.sockets[0].getsockname()[:2]
        return self

    async def __aexit__(self, *exc_info):
        self._server.close()  # no new connections
        handlers = list(self._connections)
        for writer in self._connections.values():
            writer.close()  # each handler then reads the end of its input
        await asyncio.gather(*handlers)
        # Last: on Python 3.12, wait_closed() also waits for every connection.
        await self._server.wait_closed()

    async def _echo(self, reader, writer):
        self._connections[asyncio.current_task()] = writer
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass  # the client vanished mid-conversation: nothing left to do
        finally:
            del self._connections[asyncio.current_task()]
            writer.close()


async def main(host, port):
    async with EchoServer(host, port) as server:
        print("listening on {}:{}".format(*server.address), flush=True)
        await asyncio.Event().wait()  # serve until the process is stopped


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: a normal way to stop
        asyncio.run(main(arguments.host, arguments.port))
