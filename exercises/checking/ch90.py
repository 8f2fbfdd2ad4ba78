"""Checks for the appendix, reading older code."""

import asyncio
import inspect

from . import Stopwatch, exercise, old_idioms, run_program

LOOP_HANDLING = {"get_event_loop", "new_event_loop", "run_until_complete", "loop"}


def check_program(path, report, wanted, old):
    printed, error, status = run_program(path)
    if status is None or (status != 0 and not printed):
        report.wrong(f"the program fails: {error}")
    else:
        report.expect(
            printed.splitlines() == wanted,
            f"it prints {', '.join(wanted)}",
            f"it should print {wanted}, one a line; it printed {printed.splitlines()}"
            + (f" and failed: {error}" if status else ""),
        )
    still = old_idioms(path, old)
    report.expect(
        not still,
        "it uses none of the old idioms",
        f"it still uses {', '.join(still)}: the modern version needs none of them",
    )
    report.expect(
        "run" in old_idioms(path, {"run"}),
        "asyncio.run runs it",
        "let asyncio.run start and close the event loop",
    )


@exercise("90-1", "90-1-modernise-3-4.py", program=True)
def check_modernise_34(path, report, attempt):
    check_program(
        path,
        report,
        ["hello, Grace", "hello, Ada", "[3, 5]"],
        {"coroutine", "yield from", "wait", *LOOP_HANDLING},
    )


@exercise("90-4", "90-4-callbacks-to-coroutine.py", program=True)
def check_callbacks(path, report, attempt):
    check_program(
        path,
        report,
        ["3", "2", "1", "lift-off!"],
        {"call_later", "call_soon", "run_forever", "stop", *LOOP_HANDLING},
    )


class Downloads:
    def __init__(self, seconds):
        self.seconds, self.now, self.peak = seconds, 0, 0

    async def download(self, name, queue):
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.now -= 1
        await queue.put(name.upper())


@exercise("90-2", "90-2-modernise-3-7.py")
def check_modernise_37(answer, report, attempt):
    downloads = Downloads(0.05)
    answer.download = downloads.download
    got = attempt.run(
        "fetch_all(['news', 'home', 'blog'])",
        answer.fetch_all,
        ["news", "home", "blog"],
    )
    report.expect(
        got == ["BLOG", "HOME", "NEWS"],
        "fetch_all(['news', 'home', 'blog']) returns ['BLOG', 'HOME', 'NEWS']",
        f"fetch_all(['news', 'home', 'blog']) returned {got!r}",
    )
    report.expect(
        downloads.peak == 3,
        "the downloads still run at the same time",
        f"at most {downloads.peak} of the 3 downloads ran at once",
    )
    report.expect(
        "loop" not in inspect.signature(answer.fetch_all).parameters,
        "fetch_all takes no loop parameter",
        "fetch_all still takes a loop parameter, which nothing needs any more",
    )
    source = inspect.getsource(answer.fetch_all)
    report.expect(
        "loop" not in source,
        "fetch_all neither fetches nor passes an event loop",
        "fetch_all still mentions a loop: a coroutine runs on the running loop"
        " without asking for it",
    )
    answer.download = Downloads(30).download

    async def too_slow():
        with Stopwatch() as watch:
            try:
                async with asyncio.timeout(5):  # our own limit, in case it hangs
                    await answer.fetch_all(["slow"])
            except TimeoutError:
                pass
        return watch.seconds

    seconds = attempt.run("fetch_all with a download that hangs", too_slow)
    report.expect(
        seconds < 4,
        "a download that hangs still ends in TimeoutError after about a second",
        "a download that hangs makes fetch_all hang; the original gave up with"
        " TimeoutError after 1 s",
    )


@exercise("90-3", "90-3-helper-that-broke.py")
def check_helper(answer, report, attempt):
    async def make_ready():
        return "ready"

    asyncio.run(make_ready())  # a test that uses asyncio.run, before the helper
    got = attempt("run(answer()) after asyncio.run", answer.run, answer.answer())
    report.expect(
        got == 42, "run works after asyncio.run", f"run(answer()) gave {got!r}"
    )
    got = attempt("run(answer()) a second time", answer.run, answer.answer())
    report.expect(
        got == 42, "run works again and again", f"the second run gave {got!r}"
    )
    loop = asyncio.new_event_loop()
    try:
        got = loop.run_until_complete(make_ready())
    finally:
        loop.close()
    got = attempt("run(answer()) after a loop was closed", answer.run, answer.answer())
    report.expect(
        got == 42,
        "run works after another event loop was closed",
        f"after another loop was closed, run(answer()) gave {got!r}",
    )
