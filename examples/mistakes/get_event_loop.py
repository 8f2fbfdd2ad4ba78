"""What asyncio.get_event_loop() does outside a running loop, on Python 3.11.

    python examples/mistakes/get_event_loop.py
    python -X dev examples/mistakes/get_event_loop.py   # shows the loop left unclosed

Old code calls get_event_loop() at the top of a script to get "the" loop. On 3.11
that quietly creates a new loop the first time, hands back the running loop inside a
coroutine, and raises RuntimeError once asyncio.run() has been used. Python 3.12
warns when it has to create a loop, and from Python 3.14 it raises RuntimeError
whenever no loop is set. Inside async code, use asyncio.get_running_loop().
"""

import asyncio


async def which_loop():
    return asyncio.get_event_loop() is asyncio.get_running_loop()


def main():
    loop = asyncio.get_event_loop()  # outside any loop: made on the spot
    print(f"at the top level: {type(loop).__name__}, running: {loop.is_running()}")
    print("inside a coroutine: the running loop?", asyncio.run(which_loop()))
    try:
        asyncio.get_event_loop()  # asyncio.run() has set "no current loop"
    except RuntimeError as error:
        print("after asyncio.run():", error)
    # The loop made on the first line is never closed: -X dev reports it at exit.


if __name__ == "__main__":
    main()
