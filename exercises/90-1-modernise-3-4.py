"""Appendix, exercise 1: modernise a Python 3.4 program.

This program was written for Python 3.4, where it printed `hello, Grace`,
`hello, Ada` and `[3, 5]`. On Python 3.11 and newer it does not get past its first
definition. Rewrite it so that it prints the same thing again.
Check it with: python exercises/check.py 90-1
"""

import asyncio


@asyncio.coroutine
def greet(name, delay):
    yield from asyncio.sleep(delay)
    print("hello,", name)
    return len(name)


loop = asyncio.get_event_loop()
done, pending = loop.run_until_complete(
    asyncio.wait([greet("Ada", 0.02), greet("Grace", 0.01)])
)
print(sorted(task.result() for task in done))
loop.close()
