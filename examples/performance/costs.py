"""What the pieces of a chat server's work cost, one at a time.

    python examples/performance/costs.py            # a few seconds
    python examples/performance/costs.py --quick    # fewer rounds: a smoke test

Each line measures one thing a server may do for every message it delivers,
alone, in this process: the CPU time of many rounds (time.process_time), the
median of 5 tries. Next to the benchmark's CPU per delivery (a few
microseconds for the baseline), it says what each design choice is worth:
encode a broadcast once or for each member; a timeout around every drain() or
only when it can wait; a queue and a sender task per member or a direct write;
one write per frame or one for many; a read that asks for 256 KiB or for 64; a
yield after every frame or after 64. The last lines are memory, what an idle
client keeps: a connection through streams or as a Protocol, a task waiting in
nested coroutines, a queue and a sender task, an object's attributes in a dict or
in slots (tracemalloc).
"""

import argparse
import asyncio
import json
import socket
import statistics
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = struct.Struct("<I")
MESSAGE = {"action": "chat", "room": "lobby", "message": "hello, all", "from": "ada"}
MEMBERS = 100  # members of the room a broadcast goes to


def encode(message):
    payload = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(payload)) + payload


def per_round(measure, rounds):
    """Microseconds of CPU per round: the median of 5 tries.

    A measure that times only part of its work returns that time; the others
    return None, and are timed whole.
    """
    tries = []
    for _ in range(5):
        started = time.process_time()
        timed = measure(rounds)
        spent = time.process_time() - started if timed is None else timed
        tries.append(spent / rounds * 1e6)
    return statistics.median(tries)


# --- encoding -----------------------------------------------------------------


def encode_each(rounds):
    for _ in range(rounds):
        encode(MESSAGE)


def encode_once_for_the_room(rounds):
    for _ in range(rounds // MEMBERS):
        encode(MESSAGE)


# --- inside the event loop ------------------------------------------------------


def in_a_loop(coroutine_function):
    """A measure that runs `coroutine_function(rounds)` on a fresh event loop."""
    return lambda rounds: asyncio.run(coroutine_function(rounds))


async def returns_at_once():
    """What drain() does when the transport is under its high-water mark."""


async def await_bare(rounds):
    for _ in range(rounds):
        await returns_at_once()


async def await_in_a_timeout(rounds):
    for _ in range(rounds):
        async with asyncio.timeout(10):
            await returns_at_once()


async def through_queues(rounds):
    """A broadcast put in each member's queue; each member's task writes it."""
    queues = [asyncio.Queue() for _ in range(MEMBERS)]

    async def sender(queue):
        while True:
            await queue.get()  # then a write, not counted here

    tasks = [asyncio.create_task(sender(queue)) for queue in queues]
    await asyncio.sleep(0)  # every sender now waits on its queue
    for _ in range(rounds // MEMBERS):
        for queue in queues:
            queue.put_nowait(b"frame")
        await asyncio.sleep(0)  # the senders run, one step each
        await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def straight_through(rounds):
    """The same, written straight to each member (a list stands in for it)."""
    members = [[] for _ in range(MEMBERS)]
    for _ in range(rounds // MEMBERS):
        for member in members:
            member.append(b"frame")
            member.pop()
        await asyncio.sleep(0)  # the same loop iterations as through_queues
        await asyncio.sleep(0)


async def yield_each_frame(rounds):
    for _ in range(rounds):
        await asyncio.sleep(0)


async def yield_every_64_frames(rounds):
    for handled in range(rounds):
        if handled % 64 == 63:
            await asyncio.sleep(0)


# --- writing --------------------------------------------------------------------


def tcp_pair():
    """Two ends of a TCP connection over loopback, as a server and its client."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio does
    return ours, theirs


def writes(batch):
    """A measure: send a frame `rounds` times on a socket, `batch` frames a call.

    Only the send() calls are timed; the other end is emptied between them.
    """
    frame = encode(MESSAGE)

    def measure(rounds):
        sending = 0.0
        ours, theirs = tcp_pair()
        with ours, theirs:
            theirs.setblocking(False)
            chunk = frame * batch
            for _ in range(rounds // batch):
                started = time.process_time()
                ours.send(chunk)
                sending += time.process_time() - started
                try:
                    while theirs.recv(1 << 20):  # keep the buffers from filling up
                        pass
                except BlockingIOError:
                    pass
        return sending

    return measure


def time_reads(size, rounds):
    """CPU seconds of `rounds` reads of a small frame, asking recv() for `size`."""
    frame = encode(MESSAGE)
    reading = 0.0
    ours, theirs = tcp_pair()
    with ours, theirs:
        for _ in range(rounds):
            theirs.send(frame)
            started = time.process_time()
            ours.recv(size)
            reading += time.process_time() - started
    return reading


def reads(size):
    """A measure: `time_reads(size, rounds)`, in a Python process of its own.

    The C library's allocator adapts to what a process allocated and freed before:
    once writes() has read 1 MiB at a time here, large blocks come cheap. A fresh
    process starts nearer the chat servers of chapter 40, which pay on every read
    (strace counts an mmap, an mremap and a munmap), but only nearer: whether it
    pays depends on what its own start-up left in the heap (on Python 3.12 and 3.13
    here, it usually did not).
    """

    def measure(rounds):
        code = f"import costs; print(costs.time_reads({size}, {rounds}))"
        child = [sys.executable, "-c", code]
        done = subprocess.run(child, cwd=HERE, capture_output=True, text=True)
        done.check_returncode()
        return float(done.stdout)

    return measure


# --- memory -----------------------------------------------------------------------
# What an idle client keeps, piece by piece: the pieces of server20's 7 KiB.

CONNECTIONS = 400  # real TCP connections: each one takes two open files
ATTRIBUTES = tuple(f"attribute{n}" for n in range(16))  # as many as server20's Client


async def kib_each(make, count):
    """KiB that each `await make()` allocates and keeps: one client's share."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [await make() for _ in range(count)]
    await asyncio.sleep(0)  # new tasks take their first step
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for item in kept:
        if isinstance(item, asyncio.Task):
            item.cancel()
        elif hasattr(item, "close"):  # a transport, or a stream writer
            item.close()
    await asyncio.sleep(0.01)  # the tasks end, the transports close
    return (after - before) / count / 1024


def kib_of(make):
    """A measure: the KiB that each `await make()` keeps, over `count` calls."""
    return lambda count: kib_each(make, count)


def on_connections(connect):
    """A measure of `connect(sock)` on the server's end of fresh TCP connections."""

    async def measure(count):
        pairs = [tcp_pair() for _ in range(min(count, CONNECTIONS))]
        servers_ends = iter(ours for ours, _ in pairs)
        kib = await kib_each(lambda: connect(next(servers_ends)), len(pairs))
        for _, theirs in pairs:
            theirs.close()
        return kib

    return measure


async def through_streams(sock):
    """A reader, its protocol and a writer, over the transport."""
    _, writer = await asyncio.open_connection(sock=sock)
    return writer


async def as_a_protocol(sock):
    """The transport, and a protocol object of the connection's own."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, sock)
    return transport


async def wait_in(depth, waiter):
    """Wait for `waiter` `depth` coroutines deep: each one awaits the next."""
    if depth > 1:
        return await wait_in(depth - 1, waiter)
    return await waiter


def a_task_waiting(depth):
    """A maker of tasks that wait for data `depth` coroutines deep."""

    async def make():
        waiter = asyncio.get_running_loop().create_future()  # the reader's
        return asyncio.create_task(wait_in(depth, waiter))

    return make


async def a_queue_and_its_sender():
    return asyncio.create_task(asyncio.Queue().get())


async def an_empty_list():
    return []


class WithADict:
    def __init__(self):
        for name in ATTRIBUTES:
            setattr(self, name, None)


class WithSlots:
    __slots__ = ATTRIBUTES

    def __init__(self):
        for name in ATTRIBUTES:
            setattr(self, name, None)


async def an_object_with_a_dict():
    return WithADict()


async def an_object_with_slots():
    return WithSlots()


# --- the report -------------------------------------------------------------------

CPU_PAIRS = [
    (
        "json.dumps for every member",
        encode_each,
        f"once for a room of {MEMBERS}",
        encode_once_for_the_room,
    ),
    (
        "asyncio.timeout() around an await",
        in_a_loop(await_in_a_timeout),
        "the await alone",
        in_a_loop(await_bare),
    ),
    (
        "a queue and a sender task",
        in_a_loop(through_queues),
        "straight to the member",
        in_a_loop(straight_through),
    ),
    ("one send() per frame", writes(1), "one send() for 64 frames", writes(64)),
    (
        "a recv() of 256 KiB per frame, as asyncio's transports ask",
        reads(256 * 1024),
        "of 64 KiB",
        reads(64 * 1024),
    ),
    (
        "a yield after every frame",
        in_a_loop(yield_each_frame),
        "after 64",
        in_a_loop(yield_every_64_frames),
    ),
]

MEMORY_PAIRS = [
    (
        "a connection through streams",
        on_connections(through_streams),
        "the same, as a Protocol",
        on_connections(as_a_protocol),
    ),
    (
        "a task waiting 6 coroutines deep, as server20's",
        kib_of(a_task_waiting(6)),
        "4 deep: its own 3 functions as 1",
        kib_of(a_task_waiting(4)),
    ),
    (
        "a queue and a sender task waiting",
        kib_of(a_queue_and_its_sender),
        "a list, filled only when behind",
        kib_of(an_empty_list),
    ),
    (
        "an object with 16 attributes",
        kib_of(an_object_with_a_dict),
        "with __slots__",
        kib_of(an_object_with_slots),
    ),
]


async def memory(count):
    """Each memory pair's figures, in KiB per client."""
    return [
        (costly, await more(count), cheaper, await less(count))
        for costly, more, cheaper, less in MEMORY_PAIRS
    ]


def print_table(unit, rows, digits):
    """A Markdown table of (costly, its figure, cheaper, its figure) rows."""
    print(f"| {unit[0]} | {unit[1]} | instead | {unit[1]} | saved |")
    print("|---|---|---|---|---|")
    for costly, more, cheaper, less in rows:
        print(
            f"| {costly} | {more:.{digits}f} | {cheaper} | {less:.{digits}f} "
            f"| {more - less:.{digits}f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 6400 if args.quick else 64000
    cpu = [
        (costly, per_round(slow, rounds), cheaper, per_round(fast, rounds))
        for costly, slow, cheaper, fast in CPU_PAIRS
    ]
    print_table(("per delivery", "CPU (us)"), cpu, digits=2)
    print()
    clients = 200 if args.quick else 2000
    print_table(("per client", "memory (KiB)"), asyncio.run(memory(clients)), 2)
    python = ".".join(map(str, sys.version_info[:3]))
    print(
        f"\nPython {python}; CPU: {rounds:,} rounds, the median of 5 tries; "
        f"memory: {clients:,} clients, {min(clients, CONNECTIONS):,} for a connection."
    )


if __name__ == "__main__":
    main()
