"""Checks for chapter 1, what async is."""

import asyncio
import threading

from . import Stopwatch, exercise


def visits_counted(answer, threads=4):
    """Run `threads` threads of serve_visits; how many visits were stored."""
    answer.database["visits"] = 0
    workers = [threading.Thread(target=answer.serve_visits) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answer.database["visits"]


@exercise("01-1", "01-1-lock-the-threads.py")
def check_lock(answer, report, attempt):
    stored = attempt("four threads of serve_visits", visits_counted, answer)
    report.expect(
        stored == 400,
        "four threads of 100 visits store all 400 visits",
        f"four threads of 100 visits stored {stored}: {400 - stored} visits were lost",
    )


async def timed_count(answer, count):
    answer.database["visits"] = 0
    lock = asyncio.Lock()
    with Stopwatch() as watch:
        async with asyncio.TaskGroup() as tasks:
            for _ in range(4):
                tasks.create_task(answer.serve_visits(count, lock))
    return answer.database["visits"], watch.seconds


@exercise("01-3", "01-3-two-fixes.py")
def check_two_fixes(answer, report, attempt):
    locked, locked_seconds = attempt.run(
        "count_visit_locked", timed_count, answer, answer.count_visit_locked
    )
    report.expect(
        locked == 400,
        "count_visit_locked: four tasks of 100 visits store all 400",
        f"count_visit_locked: four tasks of 100 visits stored {locked}",
    )
    reordered, reordered_seconds = attempt.run(
        "count_visit_reordered", timed_count, answer, answer.count_visit_reordered
    )
    report.expect(
        reordered == 400,
        "count_visit_reordered: four tasks of 100 visits store all 400",
        f"count_visit_reordered: four tasks of 100 visits stored {reordered}",
    )
    report.expect(
        reordered_seconds >= 0.1,
        "count_visit_reordered still makes its round trip",
        f"count_visit_reordered took {reordered_seconds:.3f} s for 100 round trips"
        " of 1 ms each: it no longer waits for the database",
    )
    report.expect(
        reordered_seconds < locked_seconds * 0.7,
        "count_visit_reordered lets the round trips overlap, faster than the lock",
        f"count_visit_reordered took {reordered_seconds:.2f} s, no faster than with"
        f" the lock ({locked_seconds:.2f} s): its round trips do not overlap",
    )
