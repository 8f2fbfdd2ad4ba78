"""Checks for chapter 2, coroutines."""

import asyncio
import inspect
import warnings

from . import Stopwatch, captured, exercise, ticks_during


@exercise("02-1", "02-1-scores-never-arrived.py")
def check_scores(answer, report, attempt):
    with captured() as lines, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attempt.run("main()", answer.main)
    report.expect(
        lines == ["[30, 50, 50]"],
        "main prints the three scores, [30, 50, 50]",
        f"main printed {lines}, not [30, 50, 50]",
    )
    never_awaited = [w for w in caught if "never awaited" in str(w.message)]
    report.expect(
        not never_awaited,
        "no coroutine is left un-awaited",
        "Python warns that a coroutine was never awaited",
    )


async def pauses(count, result):
    for _ in range(count):
        await asyncio.sleep(0)
    return result


async def fails_after_a_pause():
    await asyncio.sleep(0)
    raise ValueError("the coroutine failed")


@exercise("02-2", "02-2-be-the-event-loop.py")
def check_drive(answer, report, attempt):
    got = attempt("drive(three_naps())", answer.drive, answer.three_naps())
    report.expect(
        got == ("well rested", 3),
        "drive(three_naps()) returns ('well rested', 3)",
        f"drive(three_naps()) returned {got!r}, not ('well rested', 3)",
    )
    got = attempt(
        "drive() of a coroutine that never pauses", answer.drive, pauses(0, 42)
    )
    report.expect(
        got == (42, 0),
        "a coroutine that never pauses gives its result and 0 pauses",
        f"a coroutine that returns 42 without pausing gave {got!r}, not (42, 0)",
    )
    got = attempt(
        "drive() of a coroutine that pauses 7 times", answer.drive, pauses(7, "x")
    )
    report.expect(
        got == ("x", 7),
        "it counts every pause (7 of 7)",
        f"a coroutine that pauses 7 times gave {got!r}, not ('x', 7)",
    )
    try:
        answer.drive(fails_after_a_pause())
        came_out = None
    except Exception as error:  # whatever drive lets out
        came_out = error
    report.expect(
        isinstance(came_out, ValueError),
        "an error raised by the coroutine comes out of drive",
        "a coroutine that raises ValueError should make drive raise it too;"
        f" drive {'raised ' + repr(came_out) if came_out else 'returned normally'}",
    )


@exercise("02-4", "02-4-translate-from-javascript.py")
def check_javascript(answer, report, attempt):
    with captured() as lines:
        attempt.run("main()", answer.main)
    starts = [index for index, line in enumerate(lines) if line.startswith("start")]
    ends = [index for index, line in enumerate(lines) if line.startswith("end")]
    report.expect(
        lines[-1:] == ["300"],
        "main still prints 300",
        f"main should print 300 last; it printed {lines}",
    )
    report.expect(
        len(starts) == 2 and ends and max(starts) < min(ends),
        "both downloads start before either ends",
        f"download 2 starts only after download 1 ends (main printed {lines})",
    )


async def failure_of(coroutine_function):
    """The exception that `coroutine_function()` raises, or None."""
    try:
        await coroutine_function()
    except Exception as error:  # whichever it is, the check compares it
        return error
    return None


@exercise("02-5", "02-5-countdown.py")
def check_countdown(answer, report, attempt):
    report.expect(
        inspect.isasyncgenfunction(answer.countdown),
        "countdown is an asynchronous generator",
        "countdown is not an asynchronous generator (an async def that yields)",
    )

    async def numbers(start, interval):
        return [number async for number in answer.countdown(start, interval)]

    got = attempt.run("countdown(3, 0.01)", numbers, 3, 0.01)
    report.expect(
        got == [3, 2, 1],
        "countdown(3, ...) yields 3, 2, 1",
        f"countdown(3, ...) yielded {got}",
    )
    got = attempt.run("countdown(5, 0)", numbers, 5, 0)
    report.expect(
        got == [5, 4, 3, 2, 1],
        "countdown(5, ...) yields 5 down to 1",
        f"countdown(5, ...) yielded {got}",
    )

    async def first_number_and_gap():
        with Stopwatch() as first:
            async for _ in answer.countdown(2, 0.2):
                break
        return await ticks_during(numbers(2, 0.4)), first.seconds

    (got, gap), first = attempt.run("countdown(2, 0.4)", first_number_and_gap)
    report.expect(
        first > 0.15,
        "it waits before the first number",
        f"the first number came after {first:.2f} s; countdown(2, 0.2) should"
        " wait 0.2 s first",
    )
    report.expect(
        gap < 0.3,
        "while it waits, other tasks keep running",
        f"the event loop was blocked for {gap:.2f} s: wait without stopping the loop",
    )

    async def body_fails():
        async with answer.launch_pad():
            print("in the body")
            raise ValueError("the body failed")

    with captured() as lines:
        came_out = attempt.run("a launch_pad whose body fails", failure_of, body_fails)
    report.expect(
        lines[:2] == ["on the pad", "in the body"],
        "launch_pad prints 'on the pad' as the body starts",
        f"launch_pad should print 'on the pad' before the body; we saw {lines}",
    )
    report.expect(
        lines[-1:] == ["lift-off!"],
        "launch_pad prints 'lift-off!' even when the body fails",
        "when the body raises an exception, 'lift-off!' is never printed",
    )
    report.expect(
        isinstance(came_out, ValueError),
        "the body's exception still comes out of the async with",
        f"the body raised ValueError, but the async with let out {came_out!r}",
    )
    with captured() as lines:
        attempt.run("main()", answer.main)
    wanted = ["on the pad", "3", "2", "1", "lift-off!"]
    report.expect(
        lines == wanted,
        "main prints the countdown on the pad",
        f"main printed {lines}, not {wanted}",
    )
