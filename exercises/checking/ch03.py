"""Checks for chapter 3, the event loop."""

import asyncio
import contextlib
import inspect
import socket
import threading

from . import Stopwatch, captured, exercise, ticks_during


@exercise("03-2", "03-2-sleep-cannot-go-wrong.py")
def check_sleep(answer, report, attempt):
    async def plain_sleep():
        with Stopwatch() as watch:
            result, gap = await ticks_during(answer.sleep(0.4, "rested"))
        return result, watch.seconds, gap

    result, seconds, gap = attempt.run("sleep(0.4, 'rested')", plain_sleep)
    report.expect(
        result == "rested" and seconds > 0.35,
        "sleep(0.4, 'rested') waits 0.4 s, then returns 'rested'",
        f"sleep(0.4, 'rested') returned {result!r} after {seconds:.2f} s",
    )
    report.expect(
        gap < 0.3,
        "other tasks run while it sleeps",
        f"the event loop was blocked for {gap:.2f} s while sleep waited",
    )
    caught = []

    async def cut_short():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: caught.append(context["message"])
        )
        await answer.cut_short()

    with captured() as lines:
        attempt.run("cut_short()", cut_short)
    report.expect(
        not caught,
        "when a timeout cuts the sleep short, the timer firing later is harmless",
        "when the timer fires after the timeout, it sets the result of a future"
        f" that is already done, and the loop catches the error: {caught}",
    )
    report.expect(
        lines == ["timed out", "done"],
        "cut_short prints 'timed out' and 'done' and nothing else",
        f"cut_short printed {lines}",
    )

    async def cancelled_while_asleep():
        sleeper = asyncio.create_task(answer.sleep(1))
        await asyncio.sleep(0.05)
        sleeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sleeper
        return sleeper.cancelled()

    report.expect(
        attempt.run("cancelling a sleep", cancelled_while_asleep),
        "a sleeping task can still be cancelled",
        "a task cancelled in the middle of sleep does not end cancelled",
    )
    report.expect(
        "call_later" in inspect.getsource(answer.sleep),
        "sleep still uses call_later",
        "sleep no longer uses call_later: the exercise asks you to keep it",
    )


def send_later(sock, seconds, data):
    """Send `data` from another thread, so that a blocked loop cannot stop it."""
    timer = threading.Timer(seconds, sock.send, (data,))
    timer.start()
    return timer


@exercise("03-3", "03-3-own-sock-recv.py")
def check_recv(answer, report, attempt):
    async def receive():
        here, there = socket.socketpair()
        with here, there:
            here.setblocking(False)
            timer = send_later(there, 0.4, b"ping")
            data, gap = await ticks_during(answer.recv_when_readable(here, 1024))
            timer.join()
            still_watched = asyncio.get_running_loop().remove_reader(here)
        return data, gap, still_watched

    data, gap, still_watched = attempt.run("recv_when_readable(sock, 1024)", receive)
    report.expect(
        data == b"ping",
        "it returns the data once it arrives",
        f"it returned {data!r}; the other end sent b'ping'",
    )
    report.expect(
        gap < 0.3,
        "other tasks run while it waits",
        f"the event loop was blocked for {gap:.2f} s while it waited",
    )
    report.expect(
        not still_watched,
        "after it returns, the loop no longer watches the socket",
        "after it returns, the loop still watches the socket: stop watching it",
    )

    async def cancel_the_wait():
        here, there = socket.socketpair()
        with here, there:
            here.setblocking(False)
            waiting = asyncio.create_task(answer.recv_when_readable(here, 1024))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            return asyncio.get_running_loop().remove_reader(here)

    still_watched = attempt.run("cancelling recv_when_readable", cancel_the_wait)
    report.expect(
        not still_watched,
        "when the wait is cancelled, the loop stops watching the socket too",
        "when the wait is cancelled, the loop still watches the socket: stop"
        " watching it however the wait ends",
    )
