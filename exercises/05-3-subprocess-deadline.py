"""Chapter 5, exercise 3: a subprocess with a deadline.

Write `run_with_deadline(args, seconds)`: run a program and return its exit
status and output if it finishes within `seconds`. If not, kill it, reap it, and
raise TimeoutError; clean up the same way if the task running it is cancelled.
Check it with: python exercises/check.py 05-3
"""

import asyncio
import sys


async def run_with_deadline(args, seconds):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    quick = [sys.executable, "-c", "print('hello')"]
    print(asyncio.run(run_with_deadline(quick, 5)))
    sleepy = [sys.executable, "-c", "import time; time.sleep(10)"]
    try:
        asyncio.run(run_with_deadline(sleepy, 0.2))
    except TimeoutError:
        print("gave up in time")
