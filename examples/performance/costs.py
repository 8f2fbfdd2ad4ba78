"""What the pieces of a chat server's work cost, one at a time.

    python examples/performance/costs.py            # a few seconds
    python examples/performance/costs.py --quick    # fewer rounds: a smoke test

Each line measures one thing a server may do for every message it delivers,
alone, in this process: the CPU time of many rounds (time.process_time), the
median of 5 tries. Next to the benchmark's CPU per delivery (a few
microseconds for the baseline), it says what each design choice is worth:
encode a broadcast once or for each member; a timeout around every drain() or
only when it can wait; a queue and a sender task per member or a direct write;
one write per frame or one for many; a yield after every frame or after 64. The
last lines are memory: what a queue and two tasks cost per client.
"""

import argparse
import asyncio
import json
import socket
import statistics
import struct
import sys
import time
import tracemalloc

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


# --- memory -----------------------------------------------------------------------


async def kib_per_client(make, count=2000):
    """KiB allocated per client by `make()`, which returns what a client keeps."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(count)]
    await asyncio.sleep(0)  # tasks take their first step
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for item in kept:
        for task in item if isinstance(item, tuple) else ():
            if isinstance(task, asyncio.Task):
                task.cancel()
    await asyncio.sleep(0)
    return (after - before) / count / 1024


def a_queue_and_two_tasks():
    queue = asyncio.Queue()
    done = asyncio.Event()
    return queue, asyncio.create_task(queue.get()), asyncio.create_task(done.wait())


def stream_reader_and_protocol():
    reader = asyncio.StreamReader()
    return reader, asyncio.StreamReaderProtocol(reader)


async def memory():
    return {
        "a queue and two tasks waiting": await kib_per_client(a_queue_and_two_tasks),
        "a StreamReader and its protocol": await kib_per_client(
            stream_reader_and_protocol
        ),
    }


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
        "a yield after every frame",
        in_a_loop(yield_each_frame),
        "after 64",
        in_a_loop(yield_every_64_frames),
    ),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 6400 if args.quick else 64000
    print("| per delivery | CPU (us) | instead | CPU (us) | saved (us) |")
    print("|---|---|---|---|---|")
    for costly, slow, cheaper, fast in CPU_PAIRS:
        slow_us, fast_us = per_round(slow, rounds), per_round(fast, rounds)
        print(
            f"| {costly} | {slow_us:.2f} | {cheaper} | {fast_us:.2f} "
            f"| {slow_us - fast_us:.2f} |"
        )
    print()
    print("| per client | memory (KiB) |")
    print("|---|---|")
    for what, kib in asyncio.run(memory()).items():
        print(f"| {what} | {kib:.2f} |")
    python = ".".join(map(str, sys.version_info[:3]))
    print(f"\nPython {python}; {rounds:,} rounds, the median of 5 tries.")


if __name__ == "__main__":
    main()
