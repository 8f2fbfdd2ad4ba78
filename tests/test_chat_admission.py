"""Who gets in, and for how long (steps 19 and 20): the limits on admission.

- a connection that has not sent "connect" in time is dropped with a reason;
- one address cannot hold more than --max-per-address connections;
- TLS handshakes in progress count against --max-clients;
- out of open files, the log says so once a second, with a count, not once for
  every failed accept().
"""

import asyncio
import logging
import re
import socket
import sys
import time

import pytest
from chatwire import (
    ChatClient,
    assert_quiet,
    connected,
    run,
    tls_certificate,
    with_open_file_limit,
)
from conftest import ServerProcess
from test_chat_doctests import import_chat_module

STEPS = ["examples/chat/server19.py", "examples/chat/server20.py"]


# --- the login deadline -------------------------------------------------------


async def arrive_and_say_nothing(server):
    silent = await ChatClient.open(server)  # never sends "connect"
    named = await connected(server, "ada", "lobby")  # says who she is at once
    started = time.monotonic()
    reason = await silent.expect_error(within=5)
    waited = time.monotonic() - started
    assert await silent.is_closed_by_server()
    await silent.close()
    # Ada, past the deadline too, is still served.
    await named.chat("lobby", "still here")
    await named.expect(action="chat", message="still here")
    await named.close()
    return reason, waited


@pytest.mark.parametrize("path", STEPS)
def test_a_connection_that_never_says_connect_is_dropped(path):
    with ServerProcess(path, "--login-timeout", "1") as server:
        reason, waited = run(arrive_and_say_nothing(server))
        assert reason == 'no "connect" within 1 s'
        assert 0.5 < waited < 4
        assert_quiet(server)


async def chatter_without_a_name(server):
    """Requests every 0.2 s, never a "connect": the deadline is not reset."""
    client = await ChatClient.open(server)
    started = time.monotonic()
    while True:
        await client.send({"action": "joinroom", "room": "lobby"})
        reply = await client.receive()
        if reply["reason"] != 'send "connect" with your username first':
            break
        await asyncio.sleep(0.2)
    assert await client.is_closed_by_server()
    await client.close()
    return reply["reason"], time.monotonic() - started


@pytest.mark.parametrize("path", STEPS)
def test_the_login_deadline_counts_from_the_connection_not_the_last_frame(path):
    with ServerProcess(path, "--login-timeout", "1") as server:
        reason, waited = run(chatter_without_a_name(server))
        assert reason == 'no "connect" within 1 s'
        assert waited < 4
        assert_quiet(server)


# --- connections per address --------------------------------------------------


async def crowd_from_one_address(server, limit):
    first = [await connected(server, f"user {n}") for n in range(limit)]
    extra = await ChatClient.open(server)
    reason = await extra.expect_error()
    assert await extra.is_closed_by_server()
    await extra.close()
    await first.pop().close()
    await asyncio.sleep(0.3)  # the server notices the leaver
    first.append(await connected(server, "newcomer"))  # a free place again
    for client in first:
        await client.close()
    return reason


@pytest.mark.parametrize("path", STEPS)
def test_one_address_cannot_take_every_place(path):
    with ServerProcess(path, "--max-per-address", "3") as server:
        reason = run(crowd_from_one_address(server, 3))
        assert reason == "too many connections from your address"
        assert_quiet(server)


# --- TLS handshakes count as clients ------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    pytest.importorskip("trustme")
    return tls_certificate(tmp_path_factory.mktemp("tls"))


async def stall_two_handshakes(server, trusting):
    stalled = [socket.create_connection((server.host, server.port)) for _ in range(2)]
    try:
        await asyncio.sleep(0.5)  # both accepted, each waiting for its hello
        with pytest.raises((OSError, asyncio.IncompleteReadError)):
            refused = await ChatClient.open(server, ssl=trusting)
            await refused.receive()  # if the handshake passed, the end comes here
    finally:
        for sock in stalled:
            sock.close()
    await asyncio.sleep(0.5)  # the server sees both go
    welcome = await connected(server, "ada", ssl=trusting)
    await welcome.close()


@pytest.mark.parametrize("path", STEPS)
def test_tls_handshakes_in_progress_count_against_max_clients(path, certificate):
    certfile, keyfile, trusting = certificate
    options = ["--certfile", certfile, "--keyfile", keyfile, "--max-clients", "2"]
    with ServerProcess(path, *options) as server:
        run(stall_two_handshakes(server, trusting))
        errors = assert_quiet(server)
    assert "server full: refused a connection before its handshake" in errors
    if path.endswith("server20.py"):  # the statistics count what failed
        assert re.search(r"stopped: .*\b[34] failed handshakes", errors), errors


# --- running out of open files ------------------------------------------------

OPEN_FILES = 100  # below one accept burst (BACKLOG, 128): accept() must fail
FLOOD = 400  # connections opened at once, many more than the server can take


async def flood_with_connections(server, seconds):
    regular = await connected(server, "ada", "lobby")  # served before the flood
    loop = asyncio.get_running_loop()
    flood = []
    deadline = loop.time() + seconds
    try:
        while loop.time() < deadline:
            while len(flood) < FLOOD:
                sock = socket.socket()
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, (server.host, server.port))
                except OSError:
                    sock.close()
                    break
                flood.append(sock)
            await asyncio.sleep(0.1)
            for sock in flood[: len(flood) // 2]:  # some go, others come
                sock.close()
            del flood[: len(flood) // 2]
    finally:
        for sock in flood:
            sock.close()
    await asyncio.sleep(1.5)  # the server's accept loop retries after a second
    await regular.chat("lobby", "still served")
    await regular.expect(action="chat", message="still served")
    await regular.close()


@pytest.mark.skipif(sys.platform == "win32", reason="no resource module")
@pytest.mark.parametrize("path", STEPS)
def test_out_of_open_files_the_log_says_so_once_a_second(path):
    server = ServerProcess(path, "--max-per-address", str(FLOOD + 10))
    server.command = with_open_file_limit(server.command, OPEN_FILES)
    with server:
        started = time.monotonic()
        run(flood_with_connections(server, seconds=3))
        took = time.monotonic() - started
        errors = server.stderr()
        server.assert_clean()
    assert "out of system resource" not in errors  # asyncio's own report
    reports = [line for line in errors.splitlines() if "cannot accept" in line]
    assert reports, "the flood never ran the server out of open files"
    assert len(reports) <= took + 2, "\n".join(reports)
    first, *later = reports
    assert "Too many open files" in first
    for line in later:
        assert re.search(r"cannot accept connections: \d+ more failures in 1 s", line)


def test_a_storm_of_accept_failures_becomes_a_line_a_second(caplog, monkeypatch):
    """The exception handler on its own: 5,000 reports in 2.5 s, three lines."""
    server20 = import_chat_module("server20", monkeypatch)
    failure = OSError(24, "Too many open files")
    context = {
        "message": "socket.accept() out of system resource",
        "exception": failure,
    }

    async def storm():
        handler = server20.LoopErrors(interval=1.0)
        loop = asyncio.get_running_loop()
        for _ in range(50):  # 100 reports every 50 ms
            for _ in range(100):
                handler(loop, context)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)  # the last count comes a second after the storm

    with caplog.at_level(logging.ERROR, logger="chat"):
        asyncio.run(storm())
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "cannot accept connections: [Errno 24] Too many open files"
    counts = [int(re.search(r"(\d+) more failures", line)[1]) for line in lines[1:]]
    assert 2 <= len(counts) <= 4, lines
    assert sum(counts) == 5000 - 1, lines
