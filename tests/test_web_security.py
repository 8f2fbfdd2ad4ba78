"""Whom the five web chat servers answer: their own addresses, and no other.

The threat is DNS rebinding. A chat on 127.0.0.1 (or on a company network) is
out of reach of evil.example's server, but not of a page of evil.example open
in a browser on the same machine: its owner points the name evil.example at
127.0.0.1, and the page's requests go to the chat, with "Host: evil.example:P"
and, for a WebSocket, "Origin: http://evil.example:P". Host and Origin agree,
so a check of one against the other lets it in; the servers check both against
a list of their own addresses instead. Each test starts a real server, as
test_web_protocol.py does, and sends the handshakes by hand, since a WebSocket
client would send the true Host.
"""

import pytest
from test_web_variants import UvicornCommand
from webchat import (
    SERVERS,
    chat_server,
    handshake_status,
    http_request,
    join,
    own_origin,
    run,
)

pytestmark = pytest.mark.timeout(120)

SWITCHING_PROTOCOLS = 101
BAD_REQUEST = 400
FORBIDDEN = 403
OTHER_NAME = "chat.example:8080"  # a name the tests give with --allow


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def server(request):
    with chat_server(request.param, "--allow", f"http://{OTHER_NAME}") as server:
        yield server


def own_host(server):
    return f"{server.host}:{server.port}"


def test_a_rebinding_handshake_is_refused(server):
    rebound = f"evil.example:{server.port}"
    status = handshake_status(server, rebound, origin=f"http://{rebound}")
    assert status in (BAD_REQUEST, FORBIDDEN)
    # With no Origin (a program, not a page) a foreign Host is refused too.
    assert handshake_status(server, rebound) in (BAD_REQUEST, FORBIDDEN)


def test_own_address_and_allowed_names_are_accepted(server):
    assert handshake_status(server, own_host(server)) == SWITCHING_PROTOCOLS
    own = own_host(server)
    assert handshake_status(server, own, origin=own_origin(server)) == 101
    allowed = f"http://{OTHER_NAME}"
    assert handshake_status(server, OTHER_NAME, origin=allowed) == 101
    # The page of an allowed name may talk to the server under its address.
    assert handshake_status(server, own, origin=allowed) == SWITCHING_PROTOCOLS

    async def a_real_client_still_chats():
        ws = await join(server, origin=own_origin(server))
        await ws.close()

    run(a_real_client_still_chats())


def test_origins_must_match_exactly(server):
    own = own_host(server)
    for origin in [
        f"https://{own}",  # this server speaks plain HTTP
        f"http://{own}.evil.example",
        f"http://evil.example:{server.port}",
        f"http://{OTHER_NAME}0",
        "null",
    ]:
        assert handshake_status(server, own, origin=origin) == FORBIDDEN, origin


def test_a_request_for_a_foreign_host_gets_400(server):
    for path in ["/", "/static/chat.js"]:
        status, _, body = http_request(server, path, {"Host": "evil.example"})
        assert status == BAD_REQUEST, path
        assert b"chat" not in body.lower(), path
        assert http_request(server, path, {"Host": OTHER_NAME})[0] == 200
        assert http_request(server, path, {"Host": own_host(server)})[0] == 200


# What each server sends with the page and its files (chat.css and chat.js need
# no 'unsafe-inline': the page has no inline script or style).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def test_the_page_and_its_files_come_with_security_headers(server):
    for path in ["/", "/static/chat.js", "/static/chat.css"]:
        status, headers, _ = http_request(server, path, {"Host": own_host(server)})
        assert status == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert headers.get_all(name) == [value], (path, name)


def test_allow_wants_an_origin():
    """--allow takes an origin, and says so when given something else."""
    for wrong in ["localhost:8000", "http://localhost:8000/chat", "ftp://host"]:
        with (
            pytest.raises(AssertionError, match="not an origin like"),
            chat_server(SERVERS["asgi"], "--allow", wrong),
        ):
            pass


@pytest.mark.parametrize("target", ["asgi_chat:application", "django_chat:application"])
def test_uvicorn_command_line_refuses_foreign_hosts(target):
    """Without main(), no --allow: only the address uvicorn listens on."""
    with UvicornCommand(target) as server:
        rebound = f"evil.example:{server.port}"
        assert http_request(server, "/", {"Host": rebound})[0] == BAD_REQUEST
        status = handshake_status(server, rebound, origin=f"http://{rebound}")
        assert status == FORBIDDEN
        assert http_request(server, "/", {"Host": own_host(server)})[0] == 200
        assert handshake_status(server, own_host(server)) == SWITCHING_PROTOCOLS
        server.stop()
        server.assert_clean()
