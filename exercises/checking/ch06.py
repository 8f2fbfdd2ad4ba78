"""Checks for chapter 6, common mistakes."""

import asyncio
import gc
import socket
import threading
import time

from . import exercise


class SlowLineCounter:
    """A server in a thread of its own that reads slowly and counts lines.

    It runs outside the learner's event loop, so it keeps reading after that
    loop has ended: what the learner's program did not send by then is lost.
    """

    def __init__(self):
        self.listener = socket.socket()
        # A small receive window, so that data waits at the sender, not in the
        # kernel on its way to the server.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.lines = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        connection, _ = self.listener.accept()
        received = 0
        with connection:
            try:
                while data := connection.recv(8192):
                    received += data.count(b"\n")
                    time.sleep(0.001)  # a slow reader: data piles up at the sender
            except ConnectionResetError:
                pass
        self.lines = received

    def count(self, seconds=10):
        self.thread.join(seconds)
        self.listener.close()
        return self.lines


@exercise("06-3", "06-3-fix-the-uploader.py", seconds=60)
def check_uploader(answer, report, attempt):
    largest = []
    original_write = asyncio.StreamWriter.write

    def write_and_measure(writer, data):
        if not largest:  # a small kernel buffer: what waits, waits in asyncio's
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        original_write(writer, data)
        largest.append(writer.transport.get_write_buffer_size())

    asyncio.StreamWriter.write = write_and_measure
    count = 100_000
    server = SlowLineCounter()
    try:
        attempt.run(f"send_lines(port, {count})", answer.send_lines, server.port, count)
    finally:
        asyncio.StreamWriter.write = original_write
    gc.collect()  # a socket the program left open closes when its process ends
    received = server.count()
    report.expect(
        received == count,
        f"the server receives all {count} lines, even when the program ends at once",
        f"the server received {received or 0} of {count} lines: the end of the data"
        " was lost when the program ended right after send_lines",
    )
    piled = max(largest, default=0) // 1024
    report.expect(
        piled < 512,
        "data does not pile up in memory when the server reads slowly",
        f"with a slow server, {piled} KiB piled up in the writer's buffer: it writes"
        " without ever waiting for the data to go out",
    )
