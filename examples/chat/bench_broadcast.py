"""Measure the chat's broadcast designs, and its receive loops, over real sockets.

    python examples/chat/bench_broadcast.py                # everything, about 45 s
    python examples/chat/bench_broadcast.py --server examples/chat/server20.py \
        --server-options "--max-per-address 1000 --max-rate 1000000 --burst 1000000"
    python examples/chat/bench_broadcast.py --clients 1000 --messages 20 --receivers
    python examples/chat/bench_broadcast.py --designs queue await-each --receivers
    python examples/chat/bench_broadcast.py --designs       # the receive loops only

First the five broadcast designs of server08.py (and the server given with
--server, such as the finished server20.py), each started as a process of its
own with `server08.py --broadcast DESIGN`. Two measurements:

1. Speed. N clients join one room; one of them sends M short messages, and
   every client (the sender too) reads all of them: N * M deliveries. It
   reports the time until the last one arrived, and the server's CPU time per
   delivery (read from /proc on Linux; "n/a" elsewhere).
2. Fairness. Three clients and a fourth that never reads join a fresh server;
   one of the three sends messages of 32 kB, far more than the system's socket
   buffers hold. Do the three others still get every message within
   --patience seconds, or does the stuck one stall them? And how much memory
   did the server need (its peak resident size, Linux only)?

Then the receive loop of step 9 (server09.py, run from this file with its
`receive_requests` replaced), with four policies for when to let the other
tasks run while many frames are already buffered: never, after each frame, or
every 33 or 50 frames (a third or a half of an outbox). For each, three
measurements:

1. CPU per delivery, as a ratio to "no-yield": a member writes --batch chats
   (20) at a time to rooms of 4 and of 100; each policy in turn, --repeat (5)
   times, the median and the range of the ratios. These servers report their
   own CPU time, to the microsecond.
2. A burst: one member of a room of 4 writes 300 chats at once. How many of
   the members were dropped?
3. A stall: one client writes 40,000 tiny invalid frames at once; the worst
   round trip of a chat in another room meanwhile.

It ends with a verdict: does the policy steps 9 to 20 use cost at most
--max-extra-cost percent more CPU per delivery than no yield at all? The exit
status is 1 if not.

Everything runs on this machine (127.0.0.1), in about 45 seconds with the
defaults (a minute with --server); numbers vary from run to run and machine to
machine, the ranking much less.
"""

import argparse
import asyncio
import os
import shlex
import signal
import socket
import statistics
import sys
import time
from pathlib import Path

import server09 as step9
from utils import (
    HEADER,
    FrameTooLarge,
    decode_message,
    encode_frame,
    error_message,
    read_frame,
)

SERVER = Path(__file__).with_name("server08.py")
DESIGNS = ["await-each", "gather", "task-per-send", "write-then-drain", "queue"]
ROOM = "bench"


# --- the server, as a process -------------------------------------------------


class ServerProcess:
    """A chat server started and stopped as a process: a script and its options."""

    def __init__(self, script, *options):
        self.command = [script, *options]

    @classmethod
    def step(cls, path, *options):
        """A step of the chat, such as examples/chat/server20.py, on a free port."""
        return cls(path, "--port", "0", *options)

    @classmethod
    def design(cls, design):
        """server08.py with one of its broadcast designs."""
        return cls(SERVER, "--port", "0", "--broadcast", design)

    @classmethod
    def receiver(cls, name):
        """server09.py, on a free port, with one of the receive loops of RECEIVERS."""
        server = cls(__file__, "--serve-step9-with", name)
        server.tells_cpu = True  # see serve_step9_with()
        return server

    tells_cpu = False

    async def precise_cpu_seconds(self):
        """CPU time used so far, to the microsecond where the server can tell it."""
        if not self.tells_cpu:
            return self.cpu_seconds()
        self.process.send_signal(signal.SIGUSR1)
        return float(await self.process.stdout.readline())

    async def __aenter__(self):
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.command,
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
        # The fields after "(name)", which may hold spaces.
        fields = stat.rpartition(")")[2].split()
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
    async def join(cls, server, name, receive_buffer=None, room=ROOM):
        """Connect as `name` and join `room`; wait for both confirmations."""
        sock = socket.socket()
        if receive_buffer:  # a small buffer: a client that stops reading is stuck soon
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        client = cls(reader, writer)
        client.send({"action": "connect", "username": name})
        client.send({"action": "joinroom", "room": room})
        for _ in range(2):
            await read_frame(reader)
        return client

    def send(self, message):
        self.writer.write(encode_frame(message))

    async def receive(self, count):
        for _ in range(count):
            if await read_frame(self.reader, max_bytes=1 << 20) is None:
                raise ConnectionError("the server hung up")

    async def receive_chats(self, count):
        """True if the next `count` messages are all chats (not an error, not EOF)."""
        for _ in range(count):
            message = await read_frame(self.reader, max_bytes=1 << 20)
            if message is None or decode_message(message).get("action") != "chat":
                return False  # an error (dropped) or the end of the stream
        return True

    async def close(self):
        self.writer.transport.abort()  # fast, and no waiting on a stuck client
        await asyncio.sleep(0)


async def join_many(server, count, prefix="client"):
    """`count` clients in the room, connected at most 100 at a time."""
    gate = asyncio.Semaphore(100)

    async def one(n):
        async with gate:
            return await Client.join(server, f"{prefix}{n}")

    async with asyncio.TaskGroup() as tasks:
        joining = [tasks.create_task(one(n)) for n in range(count)]
    return [task.result() for task in joining]


async def close_all(clients):
    for client in clients:
        await client.close()


# --- the two measurements -----------------------------------------------------


async def measure_speed(server_process, clients, messages):
    """(seconds, CPU microseconds per delivery or None) for one server."""
    async with server_process as server:
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


async def measure_fairness(server_process, messages, size, patience):
    """How many of `messages` the readers got in time, and the server's peak MB."""
    async with server_process as server:
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


# --- the receive loop: how often to let the other tasks run ------------------

# server09.py's receiver, with four policies: how many frames it handles before
# it yields to the other tasks (0: only when a read has to wait for the client).
HALF, THIRD = step9.QUEUE_SIZE // 2, step9.QUEUE_SIZE // 3  # of an outbox
RECEIVERS = {
    "no-yield": 0,
    "yield-each": 1,
    f"yield-every-{THIRD}": THIRD,
    f"yield-every-{HALF}": HALF,
}
CHOSEN = f"yield-every-{HALF}"  # the policy of steps 9 to 20


def receive_loop(yield_every):
    """server09's receive_requests(), yielding every `yield_every` frames."""

    async def receive_requests(client):
        handled = 0
        try:
            while (payload := await read_frame(client.reader)) is not None:
                step9.handle_frame(client, payload)
                handled += 1
                if handled == yield_every:  # never, when yield_every is 0
                    handled = 0
                    await asyncio.sleep(0)
        except FrameTooLarge as error:
            step9.post(client, error_message(error.reason))
        except ConnectionError:
            pass

    return receive_requests


def serve_step9_with(name):
    """Run server09.py on a free port, with the receive loop `name`.

    On SIGUSR1 it prints the CPU time it has used, in seconds: finer than the
    clock ticks of /proc, and it is the process's own figure.
    """
    step9.receive_requests = receive_loop(RECEIVERS[name])  # serve_client's
    signal.signal(signal.SIGUSR1, lambda *_: print(time.process_time(), flush=True))
    sys.argv = [step9.__file__, "--port", "0"]
    asyncio.run(step9.main())


def chats(first, count, room=ROOM):
    """`count` numbered chat frames, as the bytes of one write."""
    return b"".join(
        encode_frame({"action": "chat", "room": room, "message": f"{n}"})
        for n in range(first, first + count)
    )


async def measure_cost(server, members, messages, batch):
    """The server's CPU microseconds per delivery in a room of `members`.

    One member sends `messages` chats, `batch` of them in each write (many
    frames in one read, where the policies differ), and waits for its own
    copies of a batch before the next; the others read everything.
    """
    crowd = await join_many(server, members, prefix=f"room{members}-")
    talker, listeners = crowd[0], crowd[1:]
    try:
        cpu_before = await server.precise_cpu_seconds()
        async with asyncio.TaskGroup() as tasks:
            for listener in listeners:
                tasks.create_task(listener.receive(messages))
            for first in range(0, messages, batch):
                count = min(batch, messages - first)
                talker.writer.write(chats(first, count))
                await talker.receive(count)
        cpu_after = await server.precise_cpu_seconds()
    finally:
        await close_all(crowd)
    if cpu_before is None or cpu_after is None:
        return None
    return (cpu_after - cpu_before) / (members * messages) * 1e6


async def measure_burst(server, frames):
    """How many of a room's 4 members miss chats when one writes `frames` at once."""
    members = [await Client.join(server, f"burst{n}") for n in range(4)]
    members[0].writer.write(chats(0, frames))

    async def gets_them_all(member):
        try:
            async with asyncio.timeout(10):
                return await member.receive_chats(frames)
        except (ConnectionError, TimeoutError):
            return False

    try:
        received = await asyncio.gather(*map(gets_them_all, members))
    finally:
        await close_all(members)
    return received.count(False)


async def measure_stall(server, frames):
    """The worst round trip, in ms, of a chat in one room, while a client in
    another writes `frames` tiny invalid frames ({}) at once."""
    probe = await Client.join(server, "probe")
    flooder = await Client.join(server, "flooder", room="flood")
    try:
        flooder.writer.write((HEADER.pack(2) + b"{}") * frames)  # 6 bytes each
        flooder.writer.write(chats(0, 1, room="flood"))  # marks the end
        flood = asyncio.create_task(read_until_chat(flooder))
        worst = 0.0
        while not flood.done():
            started = time.perf_counter()
            probe.send({"action": "chat", "room": ROOM, "message": "ping"})
            await probe.receive(1)
            worst = max(worst, time.perf_counter() - started)
        await flood
    finally:
        await close_all([probe, flooder])
    return worst * 1000


async def read_until_chat(client):
    """Read a client's replies in big pieces until a chat among them, or EOF."""
    tail = b""
    while b'"chat"' not in tail:
        data = await client.reader.read(1 << 16)
        if not data:
            return  # dropped: the server stopped reading it
        tail = tail[-16:] + data


async def compare_receivers(args):
    """Rows for the receive loops: CPU per delivery as a ratio to no-yield,
    measured in turn in each repetition; a burst's casualties; the worst stall."""
    costs = {name: {size: [] for size in args.rooms} for name in args.receivers}
    for _ in range(args.repeat):
        for name in args.receivers:
            async with ServerProcess.receiver(name) as server:
                for size in args.rooms:
                    messages = args.deliveries // size
                    cost = await measure_cost(server, size, messages, args.batch)
                    costs[name][size].append(cost)
    outcomes = {}
    for name in args.receivers:
        async with ServerProcess.receiver(name) as server:
            dropped = await measure_burst(server, args.burst)
            stall = await measure_stall(server, args.tiny_frames)
        outcomes[name] = dropped, stall
        print(f"measured {name}", file=sys.stderr)
    return costs, outcomes


def ratios(costs, baseline):
    """Each cost divided by the baseline's in the same repetition; None without CPU."""
    if None in costs or None in baseline:
        return None
    return [cost / base for cost, base in zip(costs, baseline, strict=True)]


def spread(values):
    """'median (min-max)' of a few ratios.

    >>> spread([1.02, 0.98, 1.10])
    '1.02 (0.98-1.10)'
    """
    if values is None:
        return "n/a"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def receiver_report(args, costs, outcomes):
    """The table of the receive loops, and the verdict on the chosen one."""
    rows = [
        [
            "receive loop",
            *(f"CPU/delivery, room of {size}" for size in args.rooms),
            f"burst of {args.burst}: dropped",
            "worst probe ms",
        ]
    ]
    baseline = costs.get("no-yield")
    for name in args.receivers:
        dropped, stall = outcomes[name]
        cells = [
            spread(ratios(costs[name][size], baseline[size]) if baseline else None)
            for size in args.rooms
        ]
        rows.append([name, *cells, f"{dropped} of 4", f"{stall:.1f}"])
    return table(rows)


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


def verdict(args, costs):
    """Whether the chosen receive loop costs at most --max-extra-cost percent
    more CPU per delivery than no-yield (its median, in every room size)."""
    if CHOSEN not in costs or "no-yield" not in costs:
        return None, ""
    worst = 0.0
    for size in args.rooms:
        measured = ratios(costs[CHOSEN][size], costs["no-yield"][size])
        if measured is None:
            return None, "no CPU figures on this system"
        worst = max(worst, statistics.median(measured))
    extra = (worst - 1) * 100
    within = extra <= args.max_extra_cost
    word = "within" if within else "over"
    return within, (
        f"{CHOSEN}: at most {extra:+.0f} % CPU per delivery against no-yield,"
        f" {word} the limit of {args.max_extra_cost:g} %"
    )


async def compare_designs(args):
    """The table of the broadcast designs (and of --server, if given)."""
    rows = [["design", "deliveries", "seconds", "CPU us each", "fairness", "peak MB"]]
    servers = {design: ServerProcess.design(design) for design in args.designs}
    if args.server:
        options = shlex.split(args.server_options)
        servers[Path(args.server).name] = ServerProcess.step(args.server, *options)
    for name, server in servers.items():
        seconds, cpu = await measure_speed(server, args.clients, args.messages)
        got, peak = await measure_fairness(
            server, args.stuck_messages, args.stuck_size, args.patience
        )
        fairness = "no harm" if got == args.stuck_messages else f"stalled at {got}"
        rows.append(
            [
                name,
                str(args.clients * args.messages),
                f"{seconds:.3f}",
                "n/a" if cpu is None else f"{cpu:.1f}",
                fairness,
                "n/a" if peak is None else f"{peak:.0f}",
            ]
        )
        print(f"measured {name}", file=sys.stderr)
    return table(rows)


async def main(args):
    if args.designs or args.server:
        designs = await compare_designs(args)
        print(
            f"speed: {args.messages} messages to a room of {args.clients} clients;"
            f" fairness: {args.stuck_messages} messages of {args.stuck_size} bytes"
            f" to 3 readers and a stuck client, {args.patience:g} s allowed\n"
        )
        print(designs, flush=True)  # before the receive loops' lines on stderr
    if args.receivers:
        costs, outcomes = await compare_receivers(args)
        print(
            f"\nreceive loops of server09.py: CPU per delivery as a ratio to no-yield,"
            f" median (min-max) of {args.repeat} runs, {args.deliveries} deliveries"
            f" each, {args.batch} chats a write; a burst of {args.burst} chats in"
            f" one write to a room of 4;"
            f" a probe's worst round trip while {args.tiny_frames} tiny frames"
            f" are handled\n"
        )
        print(receiver_report(args, costs, outcomes))
        within, line = verdict(args, costs)
        if line:
            print(f"\n{line}")
        if within is False:
            sys.exit(1)


def parse_command_line():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200, help="default 200")
    parser.add_argument(
        "--messages", type=int, default=100, help="messages sent to them (default 100)"
    )
    parser.add_argument(
        "--designs", nargs="*", choices=DESIGNS, default=DESIGNS, help="default all"
    )
    parser.add_argument(
        "--server",
        help="also measure this server, e.g. examples/chat/server20.py",
    )
    parser.add_argument(
        "--server-options",
        default="",
        help="options for --server, in one string; for server20.py, lift the limits"
        " on one address: '--max-per-address 1000 --max-rate 1000000 --burst 1000000'",
    )
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
        help="seconds the readers may take before a design counts as stalled"
        " (default 3)",
    )
    parser.add_argument(
        "--receivers",
        nargs="*",
        choices=RECEIVERS,
        default=list(RECEIVERS),
        help="receive loops to compare (default all; none: skip the comparison)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of each receive loop (default 5)"
    )
    parser.add_argument(
        "--rooms",
        type=int,
        nargs="+",
        default=[4, 100],
        help="room sizes for the CPU cost (default 4 100)",
    )
    parser.add_argument(
        "--deliveries",
        type=int,
        default=30_000,
        help="deliveries for each CPU cost (default 30000)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=20,
        help="chats in each write, for the CPU cost (default 20)",
    )
    parser.add_argument(
        "--burst", type=int, default=300, help="chats in one write (default 300)"
    )
    parser.add_argument(
        "--tiny-frames",
        type=int,
        default=40_000,
        help="invalid frames in one write (default 40000)",
    )
    parser.add_argument(
        "--max-extra-cost",
        type=float,
        default=10.0,
        help=f"percent more CPU per delivery {CHOSEN} may cost (default 10);"
        " the exit status is 1 if it costs more",
    )
    parser.add_argument("--serve-step9-with", choices=RECEIVERS, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_command_line()
    if arguments.serve_step9_with:  # the bench runs itself as a server
        serve_step9_with(arguments.serve_step9_with)
    else:
        asyncio.run(main(arguments))
