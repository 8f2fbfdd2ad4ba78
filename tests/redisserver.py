"""A real redis-server for the tests, on a free port of 127.0.0.1.

    with RedisServer() as broker:
        ... broker.url ...
        broker.stop()     # Redis goes away (the port stays ours to reuse)
        broker.start()    # and comes back, on the same port, empty

It keeps nothing on disk (no snapshots, no append-only file), unless made
with `persistent=True`: then it writes every command to an append-only file,
and a Redis started again finds its data (the streams of a chat) where it
was. It works in a temporary folder of its own, and is stopped on leaving the
`with` block. `pause()` stops it with SIGSTOP, as a hung Redis that keeps its
connections open; `resume()` (SIGCONT) lets it go on.
"""

import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from conftest import require_tool

STARTUP_TIMEOUT = 10.0  # seconds redis-server may take to answer PING


def free_port():
    """A port that nothing listens on now (the system's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, persistent=False):
        self.persistent = persistent
        self.program = require_tool("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        self.folder = tempfile.TemporaryDirectory()
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
        self.folder.cleanup()

    def start(self):
        """Start redis-server and wait until it answers PING."""
        log = Path(self.folder.name, "redis.log")
        self.process = subprocess.Popen(
            [
                self.program,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", ""),  # no snapshots
                *("--appendonly", "yes" if self.persistent else "no"),
                *("--appendfsync", "always"),  # each command on disk at once
                *("--dir", self.folder.name, "--logfile", str(log)),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.answers_ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"redis-server did not start:\n{log.read_text()}")
            time.sleep(0.05)

    def answers_ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64) == b"+PONG\r\n"
        except OSError:
            return False

    def publish(self, channel, data):
        """PUBLISH `data` (bytes or text) on `channel`, as any client of Redis can."""
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            client.publish(channel, data)

    def pattern_subscribers(self):
        """How many connections have subscribed to a pattern (from CLIENT LIST).

        (PUBSUB NUMPAT would count the patterns, however many subscribed.)
        """
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            return sum(int(info["psub"]) > 0 for info in client.client_list())

    def pause(self):
        """SIGSTOP: Redis hangs, its connections open, answering nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        """Stop redis-server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.resume()  # a paused Redis would not act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
