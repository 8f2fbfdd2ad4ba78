"""examples/web/django_accounts.py: the chat for Django's users, with real
logins. Django sets its session cookie at /login; the WebSocket handshake
carries it, and the chat knows who is speaking."""

import asyncio
import http.client
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from webchat import (
    GOING_AWAY,
    TIMEOUT,
    chat_server,
    join,
    receive,
    run,
    say,
)
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

pytestmark = pytest.mark.timeout(90)
ACCOUNTS = "examples/web/django_accounts.py"


@pytest.fixture
def server(tmp_path):
    database = tmp_path / "chat.sqlite3"
    users = ["--user", "ada:correct horse", "--user", "bob:battery staple"]
    with chat_server(ACCOUNTS, "--database", str(database), *users) as server:
        yield server


def log_in(server, username, password):
    """POST the login form: (status, the Set-Cookie header's cookies)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        form = urlencode({"username": username, "password": password})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/login", body=form, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, SimpleCookie(response.headers.get("Set-Cookie", ""))
    finally:
        connection.close()


def session_of(server, username, password):
    """The Cookie header of a browser that has logged in as `username`."""
    status, cookies = log_in(server, username, password)
    assert status == 200
    return {"Cookie": f"sessionid={cookies['sessionid'].value}"}


def test_a_wrong_password_gets_no_session(server):
    status, cookies = log_in(server, "ada", "wrong")
    assert status == 403
    assert "sessionid" not in cookies


def test_the_session_cookie_is_kept_from_scripts_and_other_sites(server):
    status, cookies = log_in(server, "ada", "correct horse")
    assert status == 200
    session = cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_only_logged_in_users_may_join(server):
    async def scenario():
        for headers in [{}, {"Cookie": "sessionid=made-up"}]:
            with pytest.raises(InvalidStatus) as refused:
                await join(server, additional_headers=headers)
            assert refused.value.response.status_code == 403
        ada = await join(
            server, additional_headers=session_of(server, "ada", "correct horse")
        )
        await ada.close()

    run(scenario())


def test_everyone_speaks_under_their_own_name(server):
    async def scenario():
        ada = await join(
            server, additional_headers=session_of(server, "ada", "correct horse")
        )
        bob = await join(
            server, additional_headers=session_of(server, "bob", "battery staple")
        )
        await ada.send(say("bob", "I am bob, honest"))  # the sender is ignored
        for ws in (ada, bob):
            assert await receive(ws) == {"sender": "ada", "message": "I am bob, honest"}
        await bob.send("not JSON")  # the chat's own checks still apply
        assert await receive(bob) == {"sender": "server", "message": "error: not JSON"}
        # And the server's goodbye is the chat's: 1001.
        await bob.close()
        status = await asyncio.to_thread(server.stop)
        assert status == 0
        with pytest.raises(ConnectionClosedOK):
            await receive(ada)
        assert ada.close_code == GOING_AWAY

    run(scenario())
