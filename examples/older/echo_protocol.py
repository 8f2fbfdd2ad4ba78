"""An echo server written the older way: an asyncio.Protocol subclass.

    python examples/older/echo_protocol.py             # a server and a client talk
    python examples/older/echo_protocol.py --serve --port 0   # the server alone

Before streams (asyncio.start_server, reader and writer) became the usual way,
and still underneath them, asyncio's network code was callbacks on a *protocol*
object: the event loop calls connection_made() with a *transport* when a client
connects, data_received() with whatever bytes arrived, and connection_lost()
when the connection ends. The protocol answers through the transport. No
callback is a coroutine, and none may block: each one runs on the loop, to its
end, like any other callback.
"""

import argparse
import asyncio


class EchoProtocol(asyncio.Protocol):
    """Send back every line a client sends, in capitals; one object per client."""

    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""  # bytes of a line that has not fully arrived yet
        print("server: a client connected")

    def data_received(self, data):
        # TCP delivers bytes, not lines: a call may hold half a line, or three.
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            self.transport.write(line.upper() + b"\n")  # buffered; never blocks

    def connection_lost(self, exc):
        print("server: the client left")


async def start_echo_server(host, port):
    loop = asyncio.get_running_loop()
    # The loop calls EchoProtocol() once per connection: a protocol *factory*.
    return await loop.create_server(EchoProtocol, host, port)


async def talk_to(port, lines):
    """A client written with streams, the modern way, for contrast."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for line in lines:
        writer.write(line.encode() + b"\n")
        await writer.drain()
        print("client: got", (await reader.readline()).decode().rstrip())
    writer.close()
    await writer.wait_closed()


async def demonstrate():
    server = await start_echo_server("127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await talk_to(port, ["hello", "old friend"])
        await asyncio.sleep(0.01)  # let the server see the client leave


async def serve(host, port):
    server = await start_echo_server(host, port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="run the server alone")
    parser.add_argument("--host", default="127.0.0.1", help="where --serve listens")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    options = parser.parse_args()
    program = serve(options.host, options.port) if options.serve else demonstrate()
    try:
        asyncio.run(program)
    except KeyboardInterrupt:
        print("server: stopped")


if __name__ == "__main__":
    main()
