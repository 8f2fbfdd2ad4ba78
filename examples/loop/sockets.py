"""A home-made event loop, step 2: it waits in select(), for timers and sockets.

    python examples/loop/sockets.py          # an echo server, a client, a trace
    python examples/loop/sockets.py --json   # what ran when, for the book's figures
    python examples/loop/sockets.py --json --busiest   # only its busiest iteration

No asyncio here either. Step 1 slept until the next timer; this loop waits in
`select()` with that sleep as its timeout, so a socket that becomes readable or
writable wakes it up too. Its methods are named and called as asyncio's are, so
the program at the bottom runs on asyncio's loop unchanged.
"""

import contextlib
import heapq
import io
import itertools
import json
import os
import selectors
import socket
import sys
import time
from collections import deque


class Future:
    """A result that is not there yet, and the callbacks waiting for it."""

    def __init__(self, loop):
        self.loop, self.done, self.result, self.callbacks = loop, False, None, []

    def add_done_callback(self, callback):
        self.callbacks.append(callback)

    def set_result(self, result):
        if self.done:
            raise RuntimeError("this future already has a result")
        self.done, self.result = True, result
        for callback in self.callbacks:  # each one runs on a later turn of the loop
            self.loop.call_soon(callback)

    def __await__(self):
        if not self.done:
            yield self  # up through every await, to Task.step: "wake me when done"
        return self.result


class Task(Future):
    """Runs a coroutine one step at a time; its own result is the coroutine's."""

    def __init__(self, loop, coro, *, name):
        super().__init__(loop)
        self.coro, self.name = coro, name
        loop.call_soon(self.step)

    def __repr__(self):
        return f"Task({self.name})"

    def step(self):
        self.loop.current = self  # so that a socket wait knows whose it is
        try:
            future = self.coro.send(None)  # run up to the next wait
        except StopIteration as finished:
            self.set_result(finished.value)
        else:
            future.add_done_callback(self.step)  # resume when that future is done


class Loop:
    def __init__(self):
        self.ready = deque()  # callbacks to run on this turn
        self.timers = []  # a heap of (when, order, callback, args)
        self.order = itertools.count()  # breaks ties between equal times
        self.selector = selectors.DefaultSelector()
        self.current = None  # the task whose step is running
        self.started = time.monotonic()
        self.slices = []  # what ran when: {"task", "start", "end"}, for the figure

    def time(self):  # seconds since the loop was made
        return time.monotonic() - self.started

    def call_soon(self, callback, *args):
        self.ready.append((callback, args))

    def call_later(self, delay, callback, *args):
        entry = (self.time() + delay, next(self.order), callback, args)
        heapq.heappush(self.timers, entry)

    def create_future(self):
        return Future(self)

    def create_task(self, coro, *, name):
        return Task(self, coro, name=name)

    def run_until_complete(self, coro):
        task = self.create_task(coro, name="main")
        for iteration in itertools.count(1):
            print(f"iteration {iteration} at {self.time() * 1000:.0f} ms")
            self.run_once()
            if task.done:
                return task.result

    def run_once(self):
        """One iteration: select() until a socket or the next timer, then run."""
        timeout = self.select_timeout()
        shown = "None (no timer)" if timeout is None else f"{timeout * 1000:.0f} ms"
        print(f"  select(timeout={shown})")
        for key, mask in self.timed("select()", self.selector.select, timeout):
            self.selector.unregister(key.fileobj)  # one wait, one wake-up
            future, task = key.data
            can = "read" if mask & selectors.EVENT_READ else "write"
            print(f"  socket of {task!r} can {can}: Future.set_result is ready")
            self.call_soon(future.set_result, None)
        while self.timers and self.timers[0][0] <= self.time():
            _, _, callback, args = heapq.heappop(self.timers)
            print(f"  timer due: {name_of(callback)} is ready")
            self.call_soon(callback, *args)
        for _ in range(len(self.ready)):  # not the callbacks these ones add
            callback, args = self.ready.popleft()
            print(f"  run {name_of(callback)}")
            self.timed(name_of(callback), callback, *args)

    def select_timeout(self):
        """0 if a callback is ready, else until the nearest timer, else forever."""
        if self.ready:
            return 0
        if self.timers:
            return max(0, self.timers[0][0] - self.time())
        return None

    def timed(self, what, function, *args):
        start = self.time()
        try:
            return function(*args)
        finally:
            self.slices.append({"task": what, "start": start, "end": self.time()})

    def wait_for(self, sock, event):
        """A future that select() resolves when `sock` is ready for `event`."""
        future = self.create_future()
        self.selector.register(sock, event, (future, self.current))
        return future

    async def sock_accept(self, sock):
        await self.wait_for(sock, selectors.EVENT_READ)
        connection, address = sock.accept()
        connection.setblocking(False)
        return connection, address

    async def sock_recv(self, sock, size):
        await self.wait_for(sock, selectors.EVENT_READ)
        return sock.recv(size)

    async def sock_sendall(self, sock, data):
        data = memoryview(data)
        while data:
            try:
                data = data[sock.send(data) :]
            except BlockingIOError:  # the send buffer is full: wait for room
                await self.wait_for(sock, selectors.EVENT_WRITE)

    async def sock_connect(self, sock, address):
        sock.connect_ex(address)  # starts connecting; writable once it is done
        await self.wait_for(sock, selectors.EVENT_WRITE)
        if error := sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            raise OSError(error, os.strerror(error))


def name_of(callback):
    """`Task(main).step`, `Future.set_result`: what a callback will call."""
    if isinstance(callback.__self__, Task):
        return f"{callback.__self__!r}.{callback.__name__}"
    return callback.__qualname__


# The program uses only what asyncio's loop has too.


async def sleep(loop, delay):
    """asyncio.sleep in three lines: a future that a timer resolves."""
    future = loop.create_future()
    loop.call_later(delay, future.set_result, None)
    await future


async def serve(loop, listener):
    connection, _ = await loop.sock_accept(listener)
    with connection:
        while data := await loop.sock_recv(connection, 1024):  # b"" at the end
            await loop.sock_sendall(connection, data)


async def client(loop, port, words):
    with socket.socket() as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        for word in words:
            await loop.sock_sendall(sock, word.encode())
            reply = await loop.sock_recv(sock, 1024)
            print(f"    client got {reply.decode()!r} back")
            await sleep(loop, 0.03)


async def main(loop):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]
        server = loop.create_task(serve(loop, listener), name="server")
        await client(loop, port, ["hi", "bye"])
        await server
    return "all echoed"


def busiest_iteration(slices):
    """The records of the iteration that ran most callbacks, timed from its start.

    Each iteration starts with its select(), so the records split there.
    """
    starts = [i for i, piece in enumerate(slices) if piece["task"] == "select()"]
    iterations = [slices[a:b] for a, b in itertools.pairwise([*starts, len(slices)])]
    busiest = max(iterations, key=len)
    began = busiest[0]["start"]
    return [{**piece, "start": piece["start"] - began, "end": piece["end"] - began}
            for piece in busiest]  # fmt: skip


if __name__ == "__main__":
    loop = Loop()
    if "--json" in sys.argv[1:]:
        with contextlib.redirect_stdout(io.StringIO()):  # no trace: only the JSON
            loop.run_until_complete(main(loop))
        slices = loop.slices
        if "--busiest" in sys.argv[1:]:
            slices = busiest_iteration(slices)
        print(json.dumps(slices, indent=1))
    else:
        print("result:", loop.run_until_complete(main(loop)))
