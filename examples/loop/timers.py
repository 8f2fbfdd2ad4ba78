"""A home-made event loop, step 1: a ready queue, timers, and your own coroutines.

Run it with:  python examples/loop/timers.py

No asyncio here. `Loop` keeps a queue of callbacks that are ready to run and a heap
of timers. `Future` is what `await` hands to the loop: the coroutine's task asks the
future to call it back when it gets its result. `sleep` is built from `call_later`
and a future. Each iteration of the loop is printed as it runs.
"""

import heapq
import itertools
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
        self.started = time.monotonic()

    def time(self):
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

    def run_once(self):
        """One iteration: wait for the next timer if nothing is ready, then run."""
        if not self.ready and self.timers:
            delay = max(0, self.timers[0][0] - self.time())
            print(f"  nothing ready: sleep {delay * 1000:.0f} ms until the next timer")
            time.sleep(delay)  # step 2 waits in select() instead, for sockets too
        while self.timers and self.timers[0][0] <= self.time():
            _, _, callback, args = heapq.heappop(self.timers)
            print(f"  timer due: {name_of(callback)} is ready")
            self.call_soon(callback, *args)
        for _ in range(len(self.ready)):  # not the callbacks these ones add
            callback, args = self.ready.popleft()
            print(f"  run {name_of(callback)}")
            callback(*args)

    def run_until_complete(self, coro):
        task = self.create_task(coro, name="main")
        for iteration in itertools.count(1):
            print(f"iteration {iteration} at {self.time() * 1000:.0f} ms")
            self.run_once()
            if task.done:
                return task.result


def name_of(callback):
    """`Task(main).step`, `Future.set_result`: what a callback will call."""
    if isinstance(callback.__self__, Task):
        return f"{callback.__self__!r}.{callback.__name__}"
    return callback.__qualname__


async def sleep(loop, delay):
    """asyncio.sleep in three lines: a future that a timer resolves."""
    future = loop.create_future()
    loop.call_later(delay, future.set_result, None)
    await future


async def countdown(loop, name, start, delay):
    for number in range(start, 0, -1):
        print(f"    {name}: {number}")
        await sleep(loop, delay)
    return f"{name} done"


async def main(loop):
    fast = loop.create_task(countdown(loop, "fast", 3, 0.03), name="fast")
    slow = loop.create_task(countdown(loop, "slow", 2, 0.08), name="slow")
    print("    main: waiting for both")
    return [await fast, await slow]


if __name__ == "__main__":
    loop = Loop()
    print("result:", loop.run_until_complete(main(loop)))
