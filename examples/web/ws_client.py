"""A command-line client for the web chat, with the websockets library.

    python examples/web/ws_client.py ws://127.0.0.1:8000/chat --name ada

It joins the chat at that URL, prints every message that arrives as
"sender: message", and sends each line typed on standard input as a message
from --name. It ends at the end of the input (Ctrl-D), closing the connection
with 1000, or when the server closes it, saying with which code and why.

Two things happen at once, as in the TCP chat's client: messages arrive when
they like, and the user types at their own pace. So two tasks run side by side,
one printing what arrives and one sending what is typed. Standard input is read
through asyncio (connect_read_pipe), so that the typing task can be cancelled
when the server leaves: a thread blocked in input() could not be. That works
for a terminal or a pipe, on Unix.
"""

import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

OPEN_TIMEOUT = 10.0  # seconds to connect and complete the handshake


async def chat(url, name):
    """Join, print and send until one side ends; then say how it ended."""
    connecting = connect(url, open_timeout=OPEN_TIMEOUT)
    async with connecting as ws, asyncio.TaskGroup() as tasks:
        typing = tasks.create_task(send_typed_lines(ws, name))
        printing = tasks.create_task(print_messages(ws))
        # Once the server has closed, there is nobody to type to. (At the end
        # of the input, send_typed_lines closes, and then printing ends.)
        printing.add_done_callback(lambda _: typing.cancel())
    print(f"* connection closed: {ws.close_code} {ws.close_reason}".rstrip())


async def print_messages(ws):
    """Print each message as it arrives, until the connection closes."""
    try:
        async for text in ws:  # ends when the connection closes normally
            message = json.loads(text)
            print(f"{printable(message['sender'])}: {printable(message['message'])}")
    except ConnectionClosed:
        pass  # closed with an error code (or none at all): said by chat()


async def send_typed_lines(ws, name):
    """Send each line of standard input as a message; close at its end."""
    async for line in lines_of_stdin():
        await ws.send(json.dumps({"sender": name, "message": line}))
    await ws.close()  # 1000, normal closure


async def lines_of_stdin():
    """Standard input, line by line, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_read_pipe(lambda: protocol, sys.stdin)
    try:
        while line := await reader.readline():
            yield line.decode().rstrip("\n")
    finally:  # at the end of the input, or when cancelled
        transport.close()


def printable(text):
    r"""`text` with control characters written as escapes, such as \x1b.

    Someone else's message must not steer our terminal (move the cursor, clear
    the screen), nor spoof a line of its own with "\n".
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the chat's WebSocket, such as ws://HOST:PORT/chat")
    parser.add_argument("--name", required=True, help="the name to send messages as")
    args = parser.parse_args()
    # A line as soon as it is printed, even into a pipe (which Python would
    # otherwise fill in blocks of 8 KiB before passing anything on).
    sys.stdout.reconfigure(line_buffering=True)
    try:
        asyncio.run(chat(args.url, args.name))
    except (OSError, InvalidHandshake) as error:  # refused, unreachable, 403...
        sys.exit(f"cannot connect to {args.url}: {error}")
    except KeyboardInterrupt:
        pass  # Ctrl-C: leave without a traceback


if __name__ == "__main__":
    main()
