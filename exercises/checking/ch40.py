"""Checks for chapter 40: CPU per operation, and memory per client."""

import asyncio
import time
import tracemalloc

from . import exercise


async def nap():
    await asyncio.sleep(0.01)  # 10 ms of waiting, almost no CPU


def spinner(seconds):
    """Work that computes for `seconds` of this process's CPU time."""

    async def spin():
        done = time.process_time() + seconds
        while time.process_time() < done:
            pass

    return spin


def counted(work):
    """`work`, counting its calls in `calls[0]`."""
    calls = [0]

    async def counting():
        calls[0] += 1
        await work()

    return counting, calls


@exercise("40-1", "40-1-cpu-per-operation.py")
def check_cpu_per_operation(answer, report, attempt):
    work, calls = counted(nap)
    napping = attempt.run("20 naps of 10 ms", answer.cpu_per_operation, work, 20)
    report.expect(
        calls[0] == 20,
        "it awaits the work as many times as asked",
        f"asked for 20 calls, it awaited the work {calls[0]} times",
    )
    if not isinstance(napping, int | float):
        report.wrong(f"it returned {napping!r}: a number of microseconds was expected")
        return
    report.expect(
        napping < 2000,
        f"a nap of 10 ms costs next to no CPU: {napping:,.0f} us per call",
        f"a nap of 10 ms measured {napping:,.0f} us per call: that is the time it"
        " took, not the CPU it used (time.process_time counts only CPU time)",
    )
    spinning = attempt.run(
        "5 spins of 3 ms of CPU", answer.cpu_per_operation, spinner(0.003), 5
    )
    report.expect(
        2500 <= spinning <= 6000,
        f"3 ms of computing measured {spinning:,.0f} us per call",
        f"3 ms of computing measured {spinning:,.0f} us per call: expected about"
        " 3,000 (microseconds, per call: divide by the number of calls)",
    )


def with_scratch():
    """A client that needs 1 MiB while it is made, and keeps nothing of it."""
    scratch = bytearray(1024 * 1024)
    return len(scratch)


@exercise("40-2", "40-2-memory-per-client.py")
def check_kib_per_client(answer, report, attempt):
    was_tracing = tracemalloc.is_tracing()
    kib = attempt(
        "1,000 buffers of 10 KiB", answer.kib_per_client, lambda: bytearray(10240), 1000
    )
    if not isinstance(kib, int | float):
        report.wrong(f"it returned {kib!r}: a number of KiB was expected")
        return
    report.expect(
        9.5 <= kib <= 11,
        f"a client that keeps 10 KiB measured {kib:.2f} KiB",
        f"a client that keeps 10 KiB measured {kib:.2f} KiB: keep what make()"
        " returns until you have measured (what is freed does not count), and"
        " divide the bytes by the number of clients and by 1024",
    )
    kib = attempt(
        "1,000 clients that keep nothing", answer.kib_per_client, with_scratch, 1000
    )
    report.expect(
        kib < 0.2,
        "memory used while making a client, and freed, does not count",
        f"a client that keeps nothing measured {kib:.2f} KiB: count what is"
        " allocated after making them (the first of get_traced_memory()'s two"
        " figures), not the peak, which counts memory that was freed again",
    )
    report.expect(
        tracemalloc.is_tracing() == was_tracing,
        "it stops tracing when done: tracing slows every allocation",
        "tracemalloc is still tracing after it returned: stop it (tracemalloc.stop())",
    )
