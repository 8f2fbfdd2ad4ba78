"""The trap: a plain Mock in place of an async function. It fails on purpose.

python -m pytest examples/testing/trap_plain_mock.py
"""

from unittest.mock import Mock, patch

import pytest
import signup


@pytest.mark.asyncio
async def test_sign_up_with_a_plain_mock():
    with patch("signup.send_email", new=Mock()):  # the mistake: Mock, not AsyncMock
        await signup.sign_up("ada@example.com")
