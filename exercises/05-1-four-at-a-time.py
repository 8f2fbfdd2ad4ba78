"""Chapter 5, exercise 1: download them all, four at a time.

Write `fetch_all(pages, at_most)`: fetch every page with at most `at_most`
downloads in progress at any moment, and return the results in the order of
`pages`. Check it with: python exercises/check.py 05-1
"""

import asyncio


class Gauge:
    """How many tasks are inside a section now, and the most there ever were."""

    def __init__(self):
        self.now = self.peak = 0

    def enter(self):
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self):
        self.now -= 1


async def fetch(page):
    await asyncio.sleep(0.01 * (1 + len(page) % 3))  # pages take different times
    return f"<html of {page}>"


PAGES = [f"page-{number}" for number in range(12)]


async def fetch_all(pages, at_most):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    results = asyncio.run(fetch_all(PAGES, at_most=4))
    print(len(results), "pages;", results[0], "...", results[-1])
