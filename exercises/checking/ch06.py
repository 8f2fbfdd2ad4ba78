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
    loop has ended: what the learner's program did not send by then is lost. It
    reads nothing for its first 0.3 s, so that the data piles up at the sender.
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
        time.sleep(0.3)
        with connection:
            try:
                while data := connection.recv(8192):
                    received += data.count(b"\n")
                    time.sleep(0.005)  # slower than any writer
            except ConnectionResetError:
                pass
        self.lines = received

    def count(self, seconds=20):
        self.thread.join(seconds)
        self.listener.close()
        return self.lines


def finished_closing(writer):
    """Had the connection finished closing? Step wait_closed() once to see."""
    waiting = writer.wait_closed()
    try:
        waiting.send(None)  # it yields a future only if it would have to wait
    except StopIteration:
        return True
    except Exception:  # it closed with an error, a reset say: closed all the same
        return True
    finally:
        waiting.close()
    return False


@exercise("06-3", "06-3-fix-the-uploader.py", seconds=60)
def check_uploader(answer, report, attempt):
    ticks = [0]  # how many times a ticker task got a turn
    ticks_at_writes = []  # the ticks at the first write, then at the latest
    writers = set()
    closed_on_return = []
    original_write = asyncio.StreamWriter.write

    def write_and_note(writer, data):
        if not ticks_at_writes:
            # A small kernel buffer: what cannot go out waits in asyncio's buffer.
            # (A low limit for drain too: on Python 3.12 and 3.13, each write
            # costs time in proportion to what is already waiting.)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
            writer.transport.set_write_buffer_limits(high=8192)
        original_write(writer, data)
        writers.add(writer)
        ticks_at_writes[1:] = [ticks[0]]
        if len(ticks_at_writes) == 1:
            ticks_at_writes.insert(0, ticks[0])

    async def tick():
        while True:
            await asyncio.sleep(0)
            ticks[0] += 1

    async def send_with_a_ticker(port, count):
        ticker = asyncio.create_task(tick())
        try:
            await answer.send_lines(port, count)
        finally:
            ticker.cancel()
        closed_on_return.extend(finished_closing(writer) for writer in writers)
        # The program ends here: what is still waiting in asyncio's buffer is
        # thrown away, as when the process exits.
        for writer in writers:
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()

    asyncio.StreamWriter.write = write_and_note
    count = 6_000
    server = SlowLineCounter()
    try:
        attempt.run(
            f"send_lines(port, {count})", send_with_a_ticker, server.port, count
        )
    finally:
        asyncio.StreamWriter.write = original_write
    gc.collect()  # a socket the program left open closes when its process ends
    received = server.count()
    report.expect(
        closed_on_return and all(closed_on_return),
        "when send_lines returns, the connection has finished closing",
        "when send_lines returns, the connection has not finished closing yet: if"
        " the program ends then, whatever is still on its way is lost",
    )
    report.expect(
        received == count,
        f"the server receives all {count} lines, even when the program ends at once",
        f"the server received {received or 0} of {count} lines: the end of the data"
        " was lost when the program ended right after send_lines",
    )
    report.expect(
        len(ticks_at_writes) == 2 and ticks_at_writes[1] > ticks_at_writes[0],
        "when the server reads slowly, the writing waits for it",
        f"with a server that reads slowly, it wrote all {count} lines without once"
        " waiting for them to go out: they pile up in memory",
    )
