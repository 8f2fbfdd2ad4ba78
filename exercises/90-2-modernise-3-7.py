"""Appendix, exercise 2: modernise a Python 3.7 function.

This function comes from a library written for Python 3.7. Rewrite `fetch_all`
for Python 3.11: no event loop passed around or fetched.
Check it with: python exercises/check.py 90-2
"""

import asyncio


async def fetch_all(names, loop=None):
    loop = loop or asyncio.get_event_loop()
    queue = asyncio.Queue()
    tasks = [loop.create_task(download(name, queue)) for name in names]
    await asyncio.wait_for(asyncio.gather(*tasks, loop=loop), timeout=1, loop=loop)
    results = []
    while not queue.empty():
        results.append(queue.get_nowait())
    return sorted(results)


async def download(name, queue):
    await asyncio.sleep(0.01)
    await queue.put(name.upper())


if __name__ == "__main__":
    print(asyncio.run(fetch_all(["news", "home"])))  # should print ['HOME', 'NEWS']
