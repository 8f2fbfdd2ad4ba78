"""Measure the five broadcast designs of server08.py over real sockets.

    python examples/chat/bench_broadcast.py                # 200 clients, 100 messages
    python examples/chat/bench_broadcast.py --clients 1000 --messages 20
    python examples/chat/bench_broadcast.py --designs queue await-each

For each design it starts `server08.py --broadcast DESIGN` as a process of its
own, and measures two things:

1. Speed. N clients join one room; one of them sends M short messages, and
   every client (the sender too) reads all of them: N * M deliveries. It
   reports the time until the last one arrived, and the server's CPU time per
   delivery (read from /proc on Linux; "n/a" elsewhere).
2. Fairness. Three clients and a fourth that never reads join a fresh server;
   one of the three sends messages of 32 kB, far more than the system's socket
   buffers hold. Do the three others still get every message within
   --patience seconds, or does the stuck one stall them? And how much memory
   did the server need (its peak resident size, Linux only)?

Everything runs on this machine (127.0.0.1), in about a minute with the
defaults; numbers vary from run to run and machine to machine, the ranking
much less.
"""

import argparse
import asyncio
import os
import socket
import sys
import time
from pathlib import Path

from utils import encode_frame, read_frame

SERVER = Path(__file__).with_name("server08.py")
DESIGNS = ["await-each", "gather", "task-per-send", "write-then-drain", "queue"]
ROOM = "bench"


# --- the server, as a process -------------------------------------------------


class ServerProcess:
    """server08.py with one design, started and stopped as a process."""

    def __init__(self, design):
        self.design = design

    async def __aenter__(self):
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            SERVER,
            "--port",
            "0",
            "--broadcast",
            self.design,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,  # its "connected" lines
        )
        line = await self.process.stdout.readline()  # listening on HOST:PORT
        self.host, _, port = line.decode().split()[-1].rpartition(":")
        self.port = int(port)
        return self

    async def __aexit__(self, *exc_info):
        self.process.terminate()
        await self.process.stdout.read()  # until it closes: nothing left open
        await self.process.wait()

    def cpu_seconds(self):
        """CPU time the server has used so far, or None where /proc is missing."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rpartition(")")[
            2
        ].split()  # after "(name)", which may hold spaces
        user, system = int(fields[11]), int(fields[12])  # in clock ticks
        return (user + system) / os.sysconf("SC_CLK_TCK")

    def peak_memory_mb(self):
        """The server's peak resident memory in MB, or None where /proc is missing."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


# --- clients ------------------------------------------------------------------


class Client:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def join(cls, server, name, receive_buffer=None):
        """Connect as `name` and join the room; wait for both confirmations."""
        sock = socket.socket()
        if receive_buffer:  # a small buffer: a client that stops reading is stuck soon
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        client = cls(reader, writer)
        client.send({"action": "connect", "username": name})
        client.send({"action": "joinroom", "room": ROOM})
        for _ in range(2):
            await read_frame(reader)
        return client

    def send(self, message):
        self.writer.write(encode_frame(message))

    async def receive(self, count):
        for _ in range(count):
            if await read_frame(self.reader, max_bytes=1 << 20) is None:
                raise ConnectionError("the server hung up")

    async def close(self):
        self.writer.transport.abort()  # fast, and no waiting on a stuck client
        await asyncio.sleep(0)


async def join_many(server, count):
    """`count` clients in the room, connected at most 100 at a time."""
    gate = asyncio.Semaphore(100)

    async def one(n):
        async with gate:
            return await Client.join(server, f"client{n}")

    async with asyncio.TaskGroup() as tasks:
        joining = [tasks.create_task(one(n)) for n in range(count)]
    return [task.result() for task in joining]


async def close_all(clients):
    for client in clients:
        await client.close()


# --- the two measurements -----------------------------------------------------


async def measure_speed(design, clients, messages):
    """(seconds, CPU microseconds per delivery or None) for one design."""
    async with ServerProcess(design) as server:
        crowd = await join_many(server, clients)
        try:
            cpu_before = server.cpu_seconds()
            started = time.perf_counter()
            async with asyncio.TaskGroup() as tasks:
                for client in crowd:
                    tasks.create_task(client.receive(messages))
                for n in range(messages):
                    crowd[0].send({"action": "chat", "room": ROOM, "message": f"{n}"})
            elapsed = time.perf_counter() - started
            cpu_after = server.cpu_seconds()
        finally:
            await close_all(crowd)
    if cpu_before is None or cpu_after is None:
        return elapsed, None
    return elapsed, (cpu_after - cpu_before) / (clients * messages) * 1e6


async def measure_fairness(design, messages, size, patience):
    """How many of `messages` the readers got in time, and the server's peak MB."""
    async with ServerProcess(design) as server:
        readers = [await Client.join(server, f"reader{n}") for n in range(3)]
        stuck = await Client.join(server, "stuck", receive_buffer=4096)
        text = "x" * size
        received = [0] * len(readers)

        async def read_all(index):
            for _ in range(messages):
                await readers[index].receive(1)
                received[index] += 1

        async def send_all():
            for n in range(messages):
                readers[0].send({"action": "chat", "room": ROOM, "message": text})
                if n % 10 == 0:
                    await readers[0].writer.drain()

        try:
            async with asyncio.timeout(patience):
                await asyncio.gather(send_all(), *map(read_all, range(3)))
        except TimeoutError:
            pass
        peak = server.peak_memory_mb()
        await close_all([*readers, stuck])
    return min(received), peak


# --- the report ---------------------------------------------------------------


def table(rows):
    """Rows of strings as a plain-text table, the first row being the header.

    >>> print(table([["design", "seconds"], ["queue", "0.25"], ["gather", "12.5"]]))
    design  seconds
    ------  -------
    queue      0.25
    gather     12.5
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:  # names to the left, numbers to the right
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


async def main():
    args = parse_command_line()
    rows = [["design", "deliveries", "seconds", "CPU us each", "fairness", "peak MB"]]
    for design in args.designs:
        seconds, cpu = await measure_speed(design, args.clients, args.messages)
        got, peak = await measure_fairness(
            design, args.stuck_messages, args.stuck_size, args.patience
        )
        fairness = "no harm" if got == args.stuck_messages else f"stalled at {got}"
        rows.append(
            [
                design,
                str(args.clients * args.messages),
                f"{seconds:.3f}",
                "n/a" if cpu is None else f"{cpu:.1f}",
                fairness,
                "n/a" if peak is None else f"{peak:.0f}",
            ]
        )
        print(f"measured {design}", file=sys.stderr)
    print(
        f"speed: {args.messages} messages to a room of {args.clients} clients;"
        f" fairness: {args.stuck_messages} messages of {args.stuck_size} bytes to"
        f" 3 readers and a stuck client, {args.patience:g} s allowed\n"
    )
    print(table(rows))


def parse_command_line():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200, help="default 200")
    parser.add_argument(
        "--messages", type=int, default=100, help="messages sent to them (default 100)"
    )
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=DESIGNS)
    parser.add_argument(
        "--stuck-messages", type=int, default=200, help="fairness test (default 200)"
    )
    parser.add_argument(
        "--stuck-size", type=int, default=32_000, help="their size (default 32000)"
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=3.0,
        help="seconds the readers may take before a design counts as stalled",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main())
