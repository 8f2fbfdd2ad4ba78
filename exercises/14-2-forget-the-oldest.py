"""Chapter 14, exercise 2: drop the oldest message instead.

Write `post_or_forget_oldest(outbox, message)`: queue the message on the
asyncio.Queue `outbox`; if it is full, throw away the oldest message first.
Check it with: python exercises/check.py 14-2
"""

import asyncio


def post_or_forget_oldest(outbox, message):
    raise NotImplementedError("your code here")


if __name__ == "__main__":
    outbox = asyncio.Queue(maxsize=3)
    for number in range(1, 6):
        post_or_forget_oldest(outbox, f"message {number}")
    print([outbox.get_nowait() for _ in range(outbox.qsize())])
