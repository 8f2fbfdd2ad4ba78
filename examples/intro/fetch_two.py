"""Ask a slow server two questions: one after the other, then with threads, then
with asyncio. Each answer takes half a second to arrive.

    python examples/intro/fetch_two.py            # all three ways, timed
    python examples/intro/fetch_two.py threads    # just one way

Waiting in a row takes about twice as long as waiting for both at once.
"""

import asyncio
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from slowserver import serve_in_background

QUESTIONS = ["first", "second"]


def fetch(address, question):
    """Send one question and wait for its answer: a blocking network call."""
    with socket.create_connection(address) as connection:
        connection.sendall(question.encode() + b"\n")
        with connection.makefile("rb") as replies:
            return replies.readline().decode().strip()  # blocks until it arrives


def in_a_row(address):
    return [fetch(address, question) for question in QUESTIONS]


def with_threads(address):
    # One thread per question: while one thread waits, the other waits too.
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        return list(pool.map(fetch, [address] * len(QUESTIONS), QUESTIONS))


async def fetch_async(address, question):
    """The same call, written so that the event loop can run others meanwhile."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(question.encode() + b"\n")
    await writer.drain()
    reply = await reader.readline()  # other tasks run while this one waits
    writer.close()
    await writer.wait_closed()
    return reply.decode().strip()


async def ask_all(address):
    # One task per question, all in a single thread: while one awaits, others run.
    async with asyncio.TaskGroup() as tasks:
        running = [tasks.create_task(fetch_async(address, q)) for q in QUESTIONS]
    return [task.result() for task in running]  # the group waited for them all


def with_asyncio(address):
    return asyncio.run(ask_all(address))


WAYS = {
    "in-a-row": in_a_row,
    "threads": with_threads,
    "asyncio": with_asyncio,
}


def main():
    chosen = sys.argv[1:] or list(WAYS)
    with serve_in_background() as address:
        for name in chosen:
            started = time.perf_counter()
            replies = WAYS[name](address)
            elapsed = time.perf_counter() - started
            print(f"{name + ':':10} {elapsed:.2f} s  {replies}")


if __name__ == "__main__":
    main()
