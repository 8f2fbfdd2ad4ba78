"""Signing up a user: code with an async dependency, for AsyncMock and patching.

    python -m pytest examples/testing/test_signup.py

`sign_up` calls `send_email`, which in a real program talks to a mail server: slow,
and not something a unit test should depend on. The tests replace it.
"""

import asyncio


async def send_email(address, text):
    """Send one email. (A stand-in: a real one would talk to a mail server.)"""
    await asyncio.sleep(1)
    raise ConnectionError("no mail server in this example")


async def sign_up(address):
    """Register `address` and welcome the user; return the address as stored."""
    if "@" not in address:
        raise ValueError(f"not an email address: {address!r}")
    stored = address.strip().lower()
    await send_email(stored, "Welcome aboard!")
    return stored
