"""Retrying with exponential backoff, and reconnecting when a connection drops.

    python examples/cookbook/retry.py          # the server recovers: retries succeed
    python examples/cookbook/retry.py --down   # the server never recovers: give up

The program starts its own unreliable server on 127.0.0.1, on a free port. The
server hangs up without a word on its 1st, 2nd and 5th connections (`--down`: on
every connection), as an overloaded service might. The other connections get an
answer, but a subscriber to its stream of events is dropped after every three
events.

Part 1 asks the server one question with `retry()`: each failed attempt is
followed by a pause that doubles each time (exponential backoff), picked at
random below that limit (jitter), until the attempts run out.
Part 2 follows the stream of events: when the connection drops, it reconnects
with the same backoff, and asks to resume after the last event it saw.
"""

import argparse
import asyncio
import random
import sys

EVENTS_WANTED = 9


class FlakyServer:
    """Hangs up without answering on the connections numbered in `busy`.

    A client sends one line: `quote` (answer: one line) or `events N` (answer:
    events N, N+1 and N+2, after which the server hangs up).
    """

    def __init__(self, busy):
        self.busy = busy  # which connections to hang up on, counting from 1
        self.connections = 0
        self.handlers = set()

    async def handle(self, reader, writer):
        self.handlers.add(asyncio.current_task())
        self.connections += 1
        try:
            request = (await reader.readline()).decode().split()
            if self.connections in self.busy:
                return  # too busy: hang up without a word
            if request == ["quote"]:
                writer.write(b"Simple is better than complex.\n")
            elif request[:1] == ["events"]:
                await self.send_events(writer, first=int(request[1]))
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
            self.handlers.discard(asyncio.current_task())

    async def send_events(self, writer, first):
        for number in range(first, first + 3):
            await asyncio.sleep(0.01)  # events happen from time to time
            writer.write(f"event {number}\n".encode())
            await writer.drain()

    async def finish(self):
        """Wait for the connections in progress (3.11's wait_closed() does not)."""
        while self.handlers:
            await asyncio.wait(self.handlers)


async def retry(attempt, *, tries=5, first_delay=0.05, max_delay=1.0, deadline=2.0):
    """Await `attempt()` until it succeeds; back off after each failure.

    `attempt` is a function that returns a new coroutine each time it is called:
    a coroutine object can only be awaited once. Each attempt gets `deadline`
    seconds (None: no limit); an attempt that hangs counts as a failure.
    """
    limit = first_delay
    for number in range(1, tries + 1):
        try:
            async with asyncio.timeout(deadline):
                return await attempt()
        except (ConnectionError, TimeoutError) as error:  # never CancelledError
            if number == tries:
                raise  # out of attempts: let the caller decide
            delay = random.uniform(0, limit)  # "full jitter": clients spread out
            print(f"  attempt {number} failed: {error!r}; retrying in {delay:.2f} s")
            await asyncio.sleep(delay)
            limit = min(2 * limit, max_delay)


async def ask_quote(host, port):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"quote\n")
        await writer.drain()
        answer = await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()
    if not answer:
        raise ConnectionError("server hung up without answering")
    return answer.decode().strip()


async def read_events(host, port, seen):
    """One connection: ask for the events after the last one seen, read them all."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        print(f"  connected, asking for the events after event {len(seen)}")
        writer.write(f"events {len(seen) + 1}\n".encode())
        await writer.drain()
        count = 0
        async for line in reader:  # until the server hangs up
            seen.append(line.decode().strip())
            print(f"  {seen[-1]}")
            count += 1
    finally:
        writer.close()
        await writer.wait_closed()
    if count == 0:  # a connection that brings nothing is a failed attempt
        raise ConnectionError("server hung up before sending an event")


async def follow_events(host, port, wanted):
    """Collect `wanted` events, reconnecting whenever the server drops us."""
    seen = []
    while len(seen) < wanted:
        # A new retry() after each connection that brought events: the backoff
        # starts small again. A stream may last long: no deadline per attempt.
        await retry(lambda: read_events(host, port, seen), deadline=None)
        print("  connection lost")
    return seen


async def client(host, port):
    print("part 1: one question, with retries")
    try:
        quote = await retry(lambda: ask_quote(host, port))
    except ConnectionError as error:
        print(f"  gave up: {error!r}")
        return 1
    print(f"  answer: {quote}")
    print("part 2: following a stream of events, reconnecting when dropped")
    events = await follow_events(host, port, EVENTS_WANTED)
    print(f"  got all {len(events)} events, each exactly once")
    return 0


async def main(server_down):
    every_connection = range(1, sys.maxsize)
    flaky = FlakyServer(busy=every_connection if server_down else {1, 2, 5})
    server = await asyncio.start_server(flaky.handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    async with server:
        try:
            return await client(host, port)
        finally:
            await flaky.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", action="store_true", help="the server never recovers")
    raise SystemExit(asyncio.run(main(parser.parse_args().down)))
