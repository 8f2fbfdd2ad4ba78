"""Checks for chapter 4, running tasks."""

import asyncio

from . import Stopwatch, captured, exercise, tasks_left_behind


class Downloads:
    """A download_from that notes when each download starts, ends or is cancelled."""

    def __init__(self):
        self.events = []

    async def download_from(self, mirror, seconds):
        self.events.append(("start", mirror))
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.events.append(("cancelled", mirror))
            raise
        self.events.append(("end", mirror))
        return f"the file, from {mirror}"

    def count(self, kind):
        return sum(event == kind for event, _ in self.events)

    def overlapped(self, how_many):
        """Had `how_many` downloads started before the first one ended?"""
        ends = [index for index, (event, _) in enumerate(self.events) if event == "end"]
        first_end = ends[0] if ends else len(self.events)
        return sum(event == "start" for event, _ in self.events[:first_end]) >= how_many


@exercise("04-2", "04-2-fastest-mirror.py")
def check_fastest(answer, report, attempt):
    downloads = Downloads()
    answer.download_from = downloads.download_from
    mirrors = {"europe": 0.8, "asia": 0.1, "america": 0.5}

    async def call_fastest():
        with Stopwatch() as watch:
            result = await answer.fastest(mirrors)
        return result, watch.seconds, len(tasks_left_behind())

    with captured():
        result, seconds, left = attempt.run("fastest(mirrors)", call_fastest)
    report.expect(
        result == "the file, from asia",
        "it returns the file from the fastest mirror",
        f"it returned {result!r}; the fastest mirror gives 'the file, from asia'",
    )
    report.expect(
        downloads.overlapped(3),
        "the three downloads all start before the first one ends",
        "the downloads do not all start at once: one starts only after another ends",
    )
    report.expect(
        seconds < 0.45,
        "it returns as soon as the fastest download is done",
        f"it took {seconds:.2f} s, but the fastest mirror needs 0.1 s: it waits for"
        " downloads it does not need",
    )
    report.expect(
        downloads.count("cancelled") == 2,
        "it cancels the two slower downloads",
        f"{downloads.count('cancelled')} of the two slower downloads were cancelled:"
        " the others are left to run",
    )
    report.expect(
        left == 0,
        "nothing it started is still running when it returns",
        f"when it returned, {left} download(s) had not finished stopping: after"
        " asking them to stop, wait until they have",
    )
    downloads = Downloads()
    answer.download_from = downloads.download_from
    other = {"europe": 0.05, "asia": 0.3}
    with captured():
        result = attempt.run("fastest(other mirrors)", answer.fastest, other)
    report.expect(
        result == "the file, from europe",
        "with other mirrors, it still returns whichever is fastest",
        f"with {other} it returned {result!r}, not the fastest one",
    )


@exercise("04-3", "04-3-missing-log-out.py")
def check_log_out(answer, report, attempt):
    async def cut_short():
        try:
            async with asyncio.timeout(0.05):
                await answer.session("ada")
        except TimeoutError:
            return True
        return False

    with captured() as lines:
        timed_out = attempt.run("session under a timeout", cut_short)
    report.expect(
        "ada: logged out" in lines,
        "a session cut short by a timeout still logs out",
        "a session cut short by a timeout never logs out",
    )
    report.expect(
        timed_out,
        "the timeout still works: the caller learns that the session timed out",
        "the caller never learns that the session timed out: the cancellation is"
        " stopped inside session, and must be let through",
    )
    with captured() as lines:
        attempt.run("session without a timeout", answer.session, "grace")
    report.expect(
        lines == ["grace: logged in", "grace: logged out"],
        "a session that is not cut short logs in and out once each",
        f"a session that is not cut short printed {lines}",
    )


class Prices:
    """A price_of that notes how many prices are being checked at once."""

    def __init__(self, seconds):
        self.prices = {"apple": 0.5, "bread": 2.0}
        self.seconds, self.now, self.peak = seconds, 0, 0

    async def price_of(self, item, quantity):
        if item == "bug":
            raise RuntimeError("a bug in the pricing code")
        count = int(quantity)
        unit_price = self.prices[item]
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.now -= 1
        return unit_price * count


def contains(error, kind):
    """Is `error` a `kind`, or an exception group holding one?"""
    if isinstance(error, BaseExceptionGroup):
        return any(contains(inner, kind) for inner in error.exceptions)
    return isinstance(error, kind)


@exercise("04-4", "04-4-price-what-you-can.py")
def check_total_of_valid(answer, report, attempt):
    answer.price_of = Prices(0.01).price_of
    order = [("apple", "ten"), ("unicorn", "1"), ("bread", "1"), ("apple", "2")]
    with captured() as lines:
        total = attempt.run("total_of_valid(order)", answer.total_of_valid, order)
    report.expect(
        total == 3.0,
        "the exercise's order comes to 3.0",
        f"the exercise's order came to {total!r}, not 3.0",
    )
    said = " ".join(lines)
    report.expect(
        "ten" in said and "unicorn" in said,
        "it prints a line for each item it skips",
        f"it should print a line for each skipped item (apple x ten, unicorn); it"
        f" printed {lines}",
    )
    prices = Prices(0.3)
    answer.price_of = prices.price_of
    valid = [("apple", "1"), ("bread", "2"), ("apple", "3"), ("bread", "4")]
    with captured(), Stopwatch() as watch:
        total = attempt.run(
            "total_of_valid(four good items)", answer.total_of_valid, valid
        )
    report.expect(
        prices.peak == 4 and total == 14.0,
        "the items are priced concurrently",
        f"four items took {watch.seconds:.1f} s with at most {prices.peak} priced at"
        " once: they should all be priced at the same time",
    )
    answer.price_of = Prices(0.01).price_of
    buggy = [("apple", "1"), ("bug", "1")]

    async def with_a_bug():
        try:
            await answer.total_of_valid(buggy)
        except BaseException as error:  # whatever comes out
            return error
        return None

    with captured():
        error = asyncio.run(with_a_bug())
    report.expect(
        contains(error, RuntimeError),
        "a bug in the pricing code (a RuntimeError) is not hidden: it comes out",
        "a bug in the pricing code (a RuntimeError) was skipped like a bad item:"
        " skip only the errors a bad item causes",
    )
