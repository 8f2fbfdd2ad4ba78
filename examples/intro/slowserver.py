"""A tiny TCP server that answers every request after a pause, like a slow service.

The chapter's examples start it in the background with `serve_in_background()`, so
they need nothing but this file. Run it on its own to talk to it yourself:

    python examples/intro/slowserver.py            # prints: listening on HOST:PORT
    python examples/intro/slowserver.py --delay 2  # an even slower service

The protocol is one line each way: send `hello\\n`, and half a second later the
server answers `reply to hello\\n` and closes the connection. It listens on
127.0.0.1 only, on a free port that the operating system picks (port 0).
"""

import argparse
import contextlib
import socketserver
import threading
import time

HOST = "127.0.0.1"
DELAY = 0.5  # seconds the server "thinks" before it answers


class SlowHandler(socketserver.StreamRequestHandler):
    """Serves one connection: read one line, wait, answer it."""

    def handle(self):
        request = self.rfile.readline().strip()
        time.sleep(self.server.delay)  # the slow part: a busy service, a far network
        self.wfile.write(b"reply to " + request + b"\n")


class SlowServer(socketserver.ThreadingTCPServer):
    """A thread per connection, so the server can answer several clients at once.

    Without that, the clients' concurrency would gain nothing: a one-at-a-time
    server would make the second client wait for the first one's answer.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, delay=DELAY):
        self.delay = delay
        super().__init__(address, SlowHandler)


@contextlib.contextmanager
def serve_in_background(delay=DELAY):
    """Run a SlowServer in a background thread; yield its (host, port) address."""
    with SlowServer((HOST, 0), delay) as server:
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield server.server_address
        finally:
            server.shutdown()  # stops serve_forever() and waits for it
            thread.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 means any free port")
    parser.add_argument("--delay", type=float, default=DELAY, help="seconds")
    args = parser.parse_args()
    with SlowServer((HOST, args.port), args.delay) as server:
        host, port = server.server_address
        print(f"listening on {host}:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
            server.serve_forever()


if __name__ == "__main__":
    main()
