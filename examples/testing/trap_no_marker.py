"""A trap: an async test without the marker, in pytest-asyncio's strict mode.

    python -m pytest examples/testing/trap_no_marker.py     # fails on purpose

pytest itself cannot run an `async def` test: calling the function only creates a
coroutine. In strict mode pytest-asyncio runs only the tests marked with
@pytest.mark.asyncio, so this one falls through to pytest, which fails it.
"""

import asyncio


async def test_forgot_the_marker():  # the mistake: no @pytest.mark.asyncio
    await asyncio.sleep(0)
