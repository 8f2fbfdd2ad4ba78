"""Appendix, exercise 4: from callbacks to a coroutine.

This countdown is written with callbacks. Rewrite it as a coroutine run by
asyncio.run, with no `loop` in sight. It prints 3, 2, 1 and lift-off!
Check it with: python exercises/check.py 90-4
"""

import asyncio


def count_down(loop, number):
    if number == 0:
        print("lift-off!")
        loop.stop()
        return
    print(number)
    loop.call_later(0.01, count_down, loop, number - 1)


loop = asyncio.new_event_loop()
loop.call_soon(count_down, loop, 3)
try:
    loop.run_forever()
finally:
    loop.close()
