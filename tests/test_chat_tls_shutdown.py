"""Shutdown with TLS connections that have not finished their handshake (steps 18-20).

A TLS connection exists before serve_client() sees it: asyncio accepts it, then
makes the handshake, and only then calls serve_client(). On Python 3.12 and
later, leaving `async with server` waits for such connections too. These tests
check that the server closes them itself when it stops, on every Python: one
that never starts its handshake, and one that finishes it just after the signal.

Plain TCP has latecomers too (steps 14-20): connections accepted in the same
turn of the event loop as the signal, which reach serve_client() only after the
goodbyes went out; they must get a goodbye of their own, not be served.

And step 20's shutdown runs in a `finally`: a side task that fails (its status
reporter, made to fail here) must not leave the connections open, which on 3.12+
would keep the server waiting for them.
"""

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from chatwire import ChatClient, assert_quiet, connected, run, tls_certificate
from conftest import ROOT, ServerProcess

STEPS = [f"examples/chat/server{step}.py" for step in (18, 19, 20)]
GOODBYE = {"action": "goodbye", "reason": "server shutting down"}
HANDSHAKE_TIMEOUT = 10.0  # the servers' ssl_handshake_timeout
EXIT_BOUND = 5.0  # seconds: the shutdown promises about 3 (CLOSE_TIMEOUT)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    pytest.importorskip("trustme")
    return tls_certificate(tmp_path_factory.mktemp("tls"))


def tls_server(path, certificate):
    certfile, keyfile, _ = certificate
    return ServerProcess(path, "--certfile", certfile, "--keyfile", keyfile)


def seconds_to_exit(server, limit=3 * HANDSHAKE_TIMEOUT):
    """Send SIGTERM and time how long the server takes to exit (or `limit`)."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):  # the caller sees the time
        server.process.wait(limit)
    return time.monotonic() - started


@pytest.mark.parametrize("path", STEPS)
def test_a_handshake_never_started_does_not_delay_the_exit(path, certificate):
    with tls_server(path, certificate) as server:
        silent = socket.create_connection((server.host, server.port))
        try:
            time.sleep(0.5)  # the server has accepted it, and waits for a hello
            took = seconds_to_exit(server)
        finally:
            silent.close()
        assert took < EXIT_BOUND, f"exited {took:.1f} s after SIGTERM"
        assert server.process.returncode == 0
        assert_quiet(server)


async def shake_hands_late(server, trusting, delay):
    """Connect, let SIGTERM go, and make the TLS handshake `delay` seconds later.

    Returns what the client got: the frames it received before the end, or the
    error that ended the handshake (the server closed the connection first).
    """
    member = await connected(server, "ada", "lobby", ssl=trusting)  # served before
    loop = asyncio.get_running_loop()
    late = socket.socket()
    late.setblocking(False)
    await loop.sock_connect(late, (server.host, server.port))
    await asyncio.sleep(0.5)  # accepted: the server waits for its hello
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    await asyncio.sleep(delay)
    try:
        reader, writer = await asyncio.open_connection(
            sock=late, ssl=trusting, server_hostname=server.host
        )
    except (OSError, asyncio.IncompleteReadError) as error:
        late.close()
        heard = error
    else:
        try:
            async with asyncio.timeout(2 * EXIT_BOUND):
                heard = await reader.read()  # all it gets, until the end
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    assert await member.receive_until_closed() == ([GOODBYE], False)
    await member.close()
    return heard, signalled


@pytest.mark.parametrize("path", STEPS)
def test_a_handshake_finished_after_the_signal_gets_no_service(path, certificate):
    with tls_server(path, certificate) as server:
        heard, signalled = run(shake_hands_late(server, certificate[2], delay=0.5))
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(EXIT_BOUND)
        took = time.monotonic() - signalled
        assert server.process.poll() == 0, f"still running {took:.1f} s after SIGTERM"
        # Closed during its handshake, or (if it slipped in) a goodbye and the end.
        if not isinstance(heard, Exception):
            assert b"goodbye" in heard and b"connect" not in heard, heard
        assert_quiet(server)


# --- latecomers (steps 14-20) ---------------------------------------------------

LATECOMERS = 10


async def arrive_with_the_signal(server):
    """Connect while the server is paused, send SIGTERM, and let it go on.

    The system accepts the connections for it meanwhile, so that the server finds
    them and the signal in the same turn of its event loop.
    """
    server.process.send_signal(signal.SIGSTOP)
    try:
        latecomers = [await ChatClient.open(server) for _ in range(LATECOMERS)]
        server.process.send_signal(signal.SIGTERM)
    finally:
        server.process.send_signal(signal.SIGCONT)
    heard = []
    for client in latecomers:
        heard.append(await client.receive_until_closed(within=2 * EXIT_BOUND))
        await client.close()
    return heard


@pytest.mark.parametrize("step", [14, 16, 18, 19, 20])
def test_connections_that_arrive_with_the_signal_get_a_goodbye(step):
    if step < 18 and sys.version_info < (3, 12):
        pytest.skip(
            "Python 3.11's Server.wait_closed() does not wait for connections, and"
            " steps 14-17 cannot see one that is still being accepted (chapter 16"
            " says so); from step 18 the server keeps track of them itself"
        )
    with ServerProcess(f"examples/chat/server{step:02}.py") as server:
        heard = run(arrive_with_the_signal(server))
        server.process.wait(EXIT_BOUND)
        assert server.process.returncode == 0
        assert_quiet(server)
    # Accepted: a goodbye, then the end. Never accepted (still queued when the
    # server closed its socket): a reset from the system. Never served.
    for outcome in heard:
        assert outcome in [([GOODBYE], False), ([], True)], heard


# --- a failed side task (step 20) ----------------------------------------------


def broken_reporter(folder):
    """server20.py, with a status reporter that fails at its first report."""
    shutil.copy(ROOT / "examples" / "chat" / "utils.py", folder)
    source = (ROOT / "examples" / "chat" / "server20.py").read_text()
    sleep = "        await asyncio.sleep(interval)\n"
    assert source.count(sleep) == 1
    failing = sleep + '        raise RuntimeError("the reporter broke")\n'
    (folder / "broken20.py").write_text(source.replace(sleep, failing))
    return folder / "broken20.py"


async def stay_until_closed(server):
    member = await connected(server, "ada", "lobby")
    messages, reset = await member.receive_until_closed(within=2 * EXIT_BOUND)
    await member.close()
    return messages, reset


def test_a_failed_reporter_still_closes_every_connection(tmp_path):
    path = broken_reporter(tmp_path)
    with ServerProcess(path, "--status-every", "0.5") as server:
        assert run(stay_until_closed(server)) == ([GOODBYE], False)
        server.process.wait(EXIT_BOUND)
        assert server.process.returncode == 1
        assert "RuntimeError: the reporter broke" in server.stderr()
