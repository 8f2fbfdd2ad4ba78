"""CPU work inside a coroutine blocks every other task; debug mode names it.

    python examples/mistakes/slow_login.py           # the heartbeat stalls
    python -X dev examples/mistakes/slow_login.py    # debug mode logs the slow step
    python examples/mistakes/slow_login.py --fixed   # the hashing runs in a thread

A server checks a password the recommended way, with PBKDF2 and 600,000 rounds,
which is slow on purpose: a good fraction of a second of pure computation. Beside it,
a heartbeat task wants to run every 0.05 s. While the hash is computed inside the
coroutine, nothing else runs. `asyncio.to_thread` moves the computation to a worker
thread; hashlib releases the GIL while it hashes, so the event loop keeps going.
"""

import asyncio
import hashlib
import sys
import time

ROUNDS = 600_000  # PBKDF2-SHA256 rounds, as recommended for storing passwords
SALT = b"a salt of 16 b.."
BEAT = 0.05  # seconds between heartbeats


def hash_password(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), SALT, ROUNDS)


async def check_password(password):
    digest = hash_password(password)  # the mistake: computes for a long time
    return digest.hex()[:12]


async def check_password_in_thread(password):
    digest = await asyncio.to_thread(hash_password, password)
    return digest.hex()[:12]


async def heartbeat(beats):
    """Wake up every BEAT seconds; return the longest gap between two beats."""
    longest = 0.0
    last = time.perf_counter()
    for _ in range(beats):
        await asyncio.sleep(BEAT)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    return longest


async def main(fixed):
    check = check_password_in_thread if fixed else check_password
    async with asyncio.TaskGroup() as group:
        beats = group.create_task(heartbeat(10))
        digest = group.create_task(check("correct horse battery staple"))
    print(f"digest {digest.result()}...")
    print(f"longest gap between heartbeats: {beats.result():.2f} s (asked for {BEAT})")


if __name__ == "__main__":
    asyncio.run(main(fixed="--fixed" in sys.argv))
