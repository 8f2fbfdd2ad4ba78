"""The five web chat servers, driven by real WebSocket and HTTP clients.

One suite, run against every server in examples/web/: each test starts the
server as a process (`python -X dev -W error`), talks to it, stops it with
SIGTERM, and checks it exited with status 0 and a clean stderr.
"""

import asyncio
import socket

import pytest
from webchat import (
    GOING_AWAY,
    MAX_MESSAGE_BYTES,
    MESSAGE_TOO_BIG,
    SERVERS,
    chat_in_order,
    chat_server,
    close_all,
    crowd_chat,
    http_get,
    join,
    own_origin,
    receive,
    run,
    say,
)
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def server(request):
    with chat_server(request.param) as server:
        yield server


# --- the page -----------------------------------------------------------------


def test_serves_the_page_and_its_files(server):
    status, headers, body = http_get(server, "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'src="/static/chat.js"' in body
    status, headers, body = http_get(server, "/static/chat.js")
    assert status == 200
    assert "javascript" in headers["Content-Type"]
    assert b"new WebSocket" in body
    status, headers, _ = http_get(server, "/static/chat.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")


# Paths that must find nothing. The server decodes %2e to "." and %2f to "/":
# the ".." ones try to climb out of static/ to the server's own source.
NOT_SERVED = [
    "/no/such/page",
    "/static/nothing.js",
    "/static/../asgi_chat.py",
    "/static/%2e%2e/asgi_chat.py",
    "/static/..%2fasgi_chat.py",
    "/static//etc/passwd",
    "/static/%00",
    "/static/",  # the folder itself: no listing
]


def test_nothing_else_is_served(server):
    for path in NOT_SERVED:
        status, _, body = http_get(server, path)
        if path == "/static/" and is_aiohttp(server):
            # aiohttp's add_static says 403 Forbidden: listing folders is off.
            assert status == 403, path
        else:
            assert status == 404, path
        assert b"import" not in body, path


def is_aiohttp(server):
    return any(part.endswith("aiohttp_chat.py") for part in server.command)


def raw_http(server, request):
    """Send one request, as bytes, and read everything until the server hangs
    up: (status line, headers as a dict with names in lower case, body)."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return status_line, headers, body


@pytest.mark.parametrize("path", ["/", "/static/chat.js"])
def test_head_gets_the_headers_of_get_and_no_body(server, path):
    """HEAD asks for what a GET would get, without the body: same status, same
    Content-Length (the length of the body not sent), and no byte after the
    headers, which a client would take for the start of the next response."""
    get_status, get_headers, get_body = raw_http(
        server, request_bytes(server, "GET", path)
    )
    status, headers, body = raw_http(server, request_bytes(server, "HEAD", path))
    assert status == get_status == "HTTP/1.1 200 OK"
    assert headers["content-length"] == get_headers["content-length"]
    assert int(get_headers["content-length"]) == len(get_body)
    assert headers["content-type"] == get_headers["content-type"]
    assert body == b""


def test_head_of_nothing_is_not_found(server):
    status, _, body = raw_http(
        server, request_bytes(server, "HEAD", "/static/nothing.js")
    )
    assert status == "HTTP/1.1 404 Not Found"
    assert body == b""


def request_bytes(server, method, path):
    """One request, as bytes, after which the server is to hang up."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- the protocol ---------------------------------------------------------------


def test_welcome_comes_first(server):
    async def scenario():
        ws = await join(server)  # join() checks the welcome
        await ws.close()

    run(scenario())


def test_messages_reach_everyone_in_order(server):
    run(chat_in_order(server))


def test_invalid_messages_get_an_error_and_the_connection_stays(server):
    wrong = [
        "not JSON at all",
        "[1, 2, 3]",
        '{"message": "who am I?"}',
        '{"sender": "", "message": "nobody"}',
        '{"sender": "eve", "message": 42}',
        '{"sender": "Server", "message": "I am the server now"}',
        b"\x00binary",
    ]

    async def scenario():
        mallory, alice = await join(server), await join(server)
        for text in wrong:
            await mallory.send(text)
            reply = await receive(mallory)
            assert reply["sender"] == "server"
            assert reply["message"].startswith("error: ")
        # Still connected; and the errors went to mallory alone.
        await mallory.send(say("mallory", "sorry"))
        assert await receive(mallory) == {"sender": "mallory", "message": "sorry"}
        assert await receive(alice) == {"sender": "mallory", "message": "sorry"}
        await close_all([mallory, alice])

    run(scenario())


def test_a_message_too_big_ends_that_connection_only(server):
    async def scenario():
        big, alice = await join(server), await join(server)
        # Just under the limit goes through.
        fits = "x" * (MAX_MESSAGE_BYTES - 100)
        await big.send(say("big", fits))
        assert await receive(alice) == {"sender": "big", "message": fits}
        assert await receive(big) == {"sender": "big", "message": fits}
        # Over it ends the connection with 1009.
        await big.send(say("big", "x" * MAX_MESSAGE_BYTES))
        with pytest.raises(ConnectionClosed):
            await receive(big)
        assert big.close_code == MESSAGE_TOO_BIG
        # Everyone else carries on.
        await alice.send(say("alice", "still here"))
        assert await receive(alice) == {"sender": "alice", "message": "still here"}
        await alice.close()

    run(scenario())


def test_websockets_from_other_sites_are_refused(server):
    async def scenario():
        for origin in ["http://evil.example", "null", own_origin(server) + "0"]:
            with pytest.raises(InvalidStatus) as refused:
                await join(server, origin=origin)
            assert refused.value.response.status_code == 403
        # From the server's own page, or from no page at all: welcome.
        for ws in [await join(server, origin=own_origin(server)), await join(server)]:
            await ws.close()

    run(scenario())


def test_a_client_that_vanishes_disturbs_nobody(server):
    async def scenario():
        ghost, alice = await join(server), await join(server)
        ghost.transport.abort()  # gone without a closing handshake, as in a crash
        for n in range(5):
            await alice.send(say("alice", f"anyone there? {n}"))
            assert await receive(alice) == {
                "sender": "alice",
                "message": f"anyone there? {n}",
            }
        await alice.close()

    run(scenario())


def test_two_hundred_clients_at_once(server):
    run(crowd_chat(server, clients=200), timeout=90)


def test_sigterm_closes_every_client_with_going_away(server):
    async def scenario():
        clients = [await join(server) for _ in range(3)]
        # stop() sends SIGTERM and waits for the exit: in a thread, so that the
        # clients can answer the server's closing handshake meanwhile.
        status = await asyncio.to_thread(server.stop)
        assert status == 0
        for ws in clients:
            with pytest.raises(ConnectionClosedOK):
                await receive(ws)
            assert ws.close_code == GOING_AWAY

    run(scenario())
