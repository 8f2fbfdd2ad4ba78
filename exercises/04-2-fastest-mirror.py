"""Chapter 4, exercise 2: the fastest mirror wins.

Write `fastest(mirrors)`: start a download from every mirror at once, return the
first file that arrives, and stop the other downloads, so that nothing is left
running when it returns. Check it with: python exercises/check.py 04-2
"""

import asyncio


async def download_from(mirror, seconds):
    await asyncio.sleep(seconds)  # stands in for the download
    return f"the file, from {mirror}"


MIRRORS = {"europe": 0.25, "asia": 0.05, "america": 0.15}


async def fastest(mirrors):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    print(asyncio.run(fastest(MIRRORS)))
