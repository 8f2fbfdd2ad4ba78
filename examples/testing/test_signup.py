"""AsyncMock, and patching an async function, on the sign-up code of signup.py.

python -m pytest examples/testing/test_signup.py
"""

from unittest.mock import AsyncMock, patch

import pytest
import signup


@pytest.mark.asyncio
async def test_an_async_mock_records_how_it_was_awaited():
    send = AsyncMock(return_value=None)
    await send("ada@example.com", "hello")
    send.assert_awaited_once_with("ada@example.com", "hello")


@pytest.mark.asyncio
async def test_sign_up_sends_a_welcome_email():
    with patch("signup.send_email") as send:  # an AsyncMock: send_email is async
        stored = await signup.sign_up(" Ada@Example.com ")
    assert stored == "ada@example.com"
    send.assert_awaited_once_with("ada@example.com", "Welcome aboard!")


@pytest.mark.asyncio
async def test_a_bad_address_sends_nothing():
    with patch("signup.send_email") as send, pytest.raises(ValueError):
        await signup.sign_up("not an address")
    send.assert_not_awaited()


@pytest.mark.asyncio
async def test_a_mail_server_that_refuses_fails_the_sign_up():
    refused = ConnectionError("mail server refused the connection")
    with (
        patch("signup.send_email", side_effect=refused),
        pytest.raises(ConnectionError, match="refused"),
    ):
        await signup.sign_up("grace@example.com")
