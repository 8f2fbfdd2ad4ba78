"""The smallest WebSocket application: answer "ping" with "pong!".

    python examples/web/asgi_ping.py               # ws://127.0.0.1:8000/
    python examples/web/asgi_ping.py --port 0      # any free port

No framework: `application` is an ASGI application, one coroutine that a server
(here uvicorn) calls once per connection with three arguments. `scope` describes
the connection; `receive()` waits for the next event from the client; `send()`
hands an event to the server. Events are plain dicts with a "type" key.

To try it, open the browser's JavaScript console on any page of this machine:

    ws = new WebSocket("ws://127.0.0.1:8000/")
    ws.onmessage = (event) => console.log(event.data)
    ws.send("ping")        // logs: pong!

The program prints `listening on HOST:PORT` once it accepts connections, and
stops cleanly (exit status 0) on Ctrl-C or SIGTERM.
"""

import argparse
import signal

import uvicorn


async def application(scope, receive, send):
    """Called by the server for every new connection."""
    if scope["type"] == "websocket":
        await ping_pong(receive, send)
    # Any other kind of connection (plain HTTP) gets nothing from us: uvicorn
    # answers it with "500 Internal Server Error" and logs why.


async def ping_pong(receive, send):
    """Accept the WebSocket, then answer each "ping" until the client leaves."""
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":  # the client asks to connect
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":  # a message arrived
            if event.get("text") == "ping":
                await send({"type": "websocket.send", "text": "pong!"})
        elif event["type"] == "websocket.disconnect":  # the client is gone
            return


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, which also prints the address it really listens on.

    With --port 0 the operating system picks the port, so only the server
    knows it, once it has started.
    """

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started:  # False if, say, the port was taken
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"listening on {host}:{port}", flush=True)


def exit_quietly_after_signals():
    """Let the program end normally once uvicorn has stopped after a signal.

    uvicorn catches SIGINT and SIGTERM to shut down gracefully, then raises the
    signal again for whatever handler was there before. The default ones would
    end the program with a KeyboardInterrupt traceback (SIGINT) or kill it
    (SIGTERM, exit status -15); this one does nothing, so `main()` returns.
    """
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda number, frame: None)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    return parser.parse_args()


def main():
    args = parse_args()
    # lifespan="off": this application does not handle "lifespan" events (the
    # server starting and stopping), so uvicorn should not send it any.
    config = uvicorn.Config(application, host=args.host, port=args.port, lifespan="off")
    exit_quietly_after_signals()
    AnnouncingServer(config).run()


if __name__ == "__main__":
    main()
