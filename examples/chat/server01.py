"""Step 1, the skeleton of a server: accept connections, greet, hang up.

    python examples/chat/server01.py              # listens on 127.0.0.1:8888
    python examples/chat/server01.py --port 0     # on any free port

Then, in another terminal, `nc 127.0.0.1 8888` (or `telnet 127.0.0.1 8888`) prints
the greeting and the connection ends. Stop the server with Ctrl-C.

`asyncio.start_server()` listens on a port and, for every client that connects,
calls our `greet()` coroutine in a task of its own with two streams: a reader to
receive bytes, a writer to send them. `serve_forever()` then keeps the program
alive, accepting connections, until it is cancelled (Ctrl-C does that).
"""

import argparse
import asyncio

GREETING = b"Hello! This is the chat server. It has nothing to say yet. Bye!\n"


async def greet(reader, writer):
    """Serve one connection: send a greeting, then close the connection."""
    writer.write(GREETING)  # never waits: the transport sends it or buffers it
    await writer.drain()  # waits while the transport's buffer is too full
    writer.close()
    await writer.wait_closed()  # closed for good: no socket left behind


def parse_command_line():
    parser = argparse.ArgumentParser(description="Step 1: greet and hang up.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8888, help="TCP port; 0 picks a free one"
    )
    return parser.parse_args()


async def main():
    args = parse_command_line()
    server = await asyncio.start_server(greet, args.host, args.port)
    # With --port 0 the system picks the port: ask the listening socket which.
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)  # flush: stdout may be a pipe
    async with server:  # on the way out, the server stops listening
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
