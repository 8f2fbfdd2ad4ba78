"""Chapter 40, exercise 2: memory per client.

Write `kib_per_client(make, count)`: call `make()` `count` times, keeping what it
returns, and return how many KiB each call's result holds, as tracemalloc counts
them. Leave tracemalloc as you found it: not tracing.
Check it with: python exercises/check.py 40-2
"""

import tracemalloc  # noqa: F401 (your answer uses it)


def kib_per_client(make, count):
    raise NotImplementedError("your code here")


class WithADict:
    def __init__(self):
        self.reader = self.writer = self.username = self.rooms = None


class WithSlots:
    __slots__ = ("reader", "rooms", "username", "writer")

    def __init__(self):
        self.reader = self.writer = self.username = self.rooms = None


if __name__ == "__main__":
    for make in (WithADict, WithSlots, lambda: bytearray(1024)):
        print(f"{kib_per_client(make, 10_000):.2f} KiB")
