"""An event loop with a fake clock: whenever every task waits for a timer, the
clock jumps straight to that timer, so a test of timeouts and sleeps runs at once.

    python -m pytest examples/testing/test_virtual_time.py

asyncio's timers (sleep, timeout, call_later) read the loop's time() and, when
nothing is ready, the loop asks its selector to wait until the nearest timer is due.
This loop answers with its own time() and a selector that, instead of waiting,
moves the clock forward by the time it was asked to wait. Only public hooks are
used: time() is a documented loop method, and SelectorEventLoop takes a selector.

Time stands still while code runs, and the clock jumps as soon as every task is
waiting: right for code that waits on timers and on other tasks, wrong for code
that waits on a real socket or process, whose answer takes real time that the clock
would have jumped over.
"""

import asyncio
import selectors


class JumpingSelector(selectors.DefaultSelector):
    """Reports what is ready now; asked to wait, it moves the clock instead."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def select(self, timeout=None):
        if timeout is None:  # no timer to jump to: wait for real events
            return super().select(None)
        ready = super().select(0)  # never blocks
        if not ready:
            self.clock.now += timeout  # the nearest timer is due now
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock starts at 0 and moves only by jumps."""

    def __init__(self):
        self.now = 0.0
        super().__init__(selector=JumpingSelector(self))

    def time(self):
        return self.now


def run_in_virtual_time(coroutine):
    """asyncio.run(coroutine), on a VirtualTimeLoop."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coroutine)
