"""close() without wait_closed(): the end of the data can be lost.

    python examples/mistakes/no_wait_closed.py           # the upload is cut short
    python -X dev examples/mistakes/no_wait_closed.py    # ... and a ResourceWarning
    python examples/mistakes/no_wait_closed.py --fixed   # every byte arrives

An asyncio client uploads 20 MiB to a receiver that reads at a modest pace (a plain
socket server in a thread, so that it outlives the client's event loop). The client
calls writer.close() and returns. close() only *starts* closing: the data still in
the buffer is sent afterwards, by the event loop. But asyncio.run() closes the loop
as soon as main() returns: nothing will ever send the rest of the data, and the
socket stays open, leaked, until the garbage collector finds it (-X dev reports it
then). `await writer.wait_closed()` waits until the connection is really closed.
"""

import asyncio
import socket
import sys
import threading
import time

MiB = 2**20
PAYLOAD = b"x" * (20 * MiB)


def receive_all(listener, report):
    """Accept one connection and read it at a modest pace until it ends or stalls."""
    connection, _ = listener.accept()
    connection.settimeout(1.0)  # a second of silence counts as a stalled upload
    total = 0
    with connection:
        try:
            while data := connection.recv(64 * 1024):
                total += len(data)
                time.sleep(0.001)  # a receiver that is slower than loopback
            ending = "the upload ended properly"
        except TimeoutError:
            ending = "then the upload stalled"
    report.append(f"received {total / MiB:.1f} MiB, {ending}")


async def upload(port, wait_closed):
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PAYLOAD)
    writer.close()
    if wait_closed:
        await writer.wait_closed()  # returns once every byte is handed over


def main(wait_closed):
    report = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        receiver = threading.Thread(target=receive_all, args=(listener, report))
        receiver.start()
        asyncio.run(upload(port, wait_closed))
        print(f"client: wrote {len(PAYLOAD) // MiB} MiB, closed, and returned")
        receiver.join()
    print(f"server: {report[0]}")


if __name__ == "__main__":
    main(wait_closed="--fixed" in sys.argv)
