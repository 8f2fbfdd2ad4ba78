"""Chat steps 9 to 20: slow clients, idle clients, errors, shutdown, options, TLS.

Like test_chat_protocol.py, each test runs on the step that brings a behaviour
and on every later step, since each step keeps what the earlier ones built.
"""

import asyncio
import re
import signal
import socket
import ssl
import struct
import sys
import time

import pytest
from chatwire import (
    ChatClient,
    assert_quiet,
    connected,
    run,
    tls_certificate,
    without_budget,
)
from conftest import ServerProcess, run_example
from test_chat_protocol import STEPS, steps_from

GOODBYE = {"action": "goodbye", "reason": "server shutting down"}


# --- slow clients (steps 9, 10) -----------------------------------------------

# 400 messages of 30 kB, 12 MB: more than a stuck client's socket buffers (a few
# MB), its transport's buffer and its outbox of 100 messages can hold.
FLOOD = 400
TEXT = "x" * 30_000


async def flood_past_a_sloth(server):
    """The sloth stops reading; the others must not notice. What did it get?"""
    sender = await connected(server, "sender", "lobby")
    reader = await connected(server, "reader", "lobby")
    sloth = await connected(server, "sloth", "lobby", receive_buffer=4096)
    loop = asyncio.get_running_loop()
    slowest = 0.0
    for n in range(FLOOD):
        started = loop.time()
        await sender.chat("lobby", f"{n} {TEXT}")
        for client in (sender, reader):
            message = await client.expect(action="chat", within=5)
            assert message["message"] == f"{n} {TEXT}"
        slowest = max(slowest, loop.time() - started)
    assert slowest < 2.0  # the others were never held up
    messages, _ = await sloth.receive_until_closed()
    chats = [m["message"] for m in messages if m["action"] == "chat"]
    # What it got, it got in order and without a gap; but not everything.
    assert chats == [f"{n} {TEXT}" for n in range(len(chats))]
    assert len(chats) < FLOOD
    for client in (sender, reader, sloth):
        await client.close()
    return [m for m in messages if m["action"] != "chat"]


def test_step09_cuts_off_a_client_that_stops_reading_without_a_word():
    with ServerProcess(STEPS[9]) as server:
        assert run(flood_past_a_sloth(server)) == []
        errors = assert_quiet(server)
    assert "sloth is 100 messages behind" in errors


@pytest.mark.parametrize("path", steps_from(10))
def test_a_client_that_stops_reading_is_dropped_with_a_reason(path):
    with ServerProcess(path, *without_budget(path)) as server:
        last_words = run(flood_past_a_sloth(server))
        assert len(last_words) == 1, last_words
        assert last_words[0]["action"] == "error"
        assert last_words[0]["reason"].startswith("too slow")
        errors = assert_quiet(server)
    # Steps 15 and later log the name quoted, 'sloth'.
    assert re.search(r"dropping '?sloth'?: too slow", errors), errors


# --- idle clients (step 11) ---------------------------------------------------


async def drop_the_silent(server):
    silent = await connected(server, "silent")
    half = await connected(server, "half")
    await half.send_bytes(struct.pack("<I", 100) + b'{"action": "ch')  # and stops
    talker = await connected(server, "talker", "lobby")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.2
    while loop.time() < deadline:  # never silent for a whole second
        await talker.chat("lobby", "still talking")
        await talker.expect(action="chat")
        await asyncio.sleep(0.1)
    for client in (silent, half):
        assert "idle" in await client.expect_error(within=2)
        assert await client.is_closed_by_server()
    await talker.chat("lobby", "bye")
    await talker.expect(action="chat", message="bye")
    for client in (silent, half, talker):
        await client.close()


@pytest.mark.parametrize("path", steps_from(11))
def test_a_silent_client_is_dropped_and_a_talking_one_is_not(path):
    with ServerProcess(path, "--idle-timeout", "1") as server:
        run(drop_the_silent(server))
        assert_quiet(server)


# --- errors (step 13) ---------------------------------------------------------


async def vanish_mid_conversation(server):
    """A client resets its connection; the others chat on."""
    stayer = await connected(server, "stayer", "lobby")
    leaver = await connected(server, "leaver", "lobby")
    await leaver.send_bytes(struct.pack("<I", 50))  # half a frame: the server waits
    await asyncio.sleep(0.1)
    sock = leaver.writer.get_extra_info("socket")
    # SO_LINGER with a zero timeout: closing sends a reset (RST), not a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    leaver.writer.transport.abort()
    await asyncio.sleep(0.2)
    await stayer.chat("lobby", "anyone?")
    await stayer.expect(action="chat", message="anyone?")
    await stayer.close()


@pytest.mark.parametrize("path", steps_from(13))
def test_a_reset_connection_is_logged_in_a_line_and_the_chat_goes_on(path):
    with ServerProcess(path) as server:
        run(vanish_mid_conversation(server))
        errors = assert_quiet(server)
    # Steps 15 and later log the name quoted, 'leaver'.
    assert re.search(r"'?leaver'?: connection lost: ConnectionResetError", errors)


# --- shutdown (step 14) -------------------------------------------------------


async def stop_with_clients(server, signum):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    stranger = await ChatClient.open(server)  # connected, but no "connect" yet
    for n in range(30):
        await alice.chat("lobby", str(n))
    await bob.expect(action="chat", message="0")
    server.process.send_signal(signum)
    heard = {}
    for client in (alice, bob, stranger):
        messages, reset = await client.receive_until_closed()
        assert not reset
        heard[client] = messages
    for client in (alice, bob, stranger):
        await client.close()
    return heard


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=str)
@pytest.mark.parametrize("path", steps_from(14))
def test_a_signal_brings_goodbyes_a_flush_and_exit_code_0(path, signum):
    with ServerProcess(path) as server:
        started = time.monotonic()
        heard = run(stop_with_clients(server, signum))
        assert server.process.wait(10) == 0
        assert time.monotonic() - started < 5
        assert_quiet(server)
    alice, bob, stranger = heard.values()
    assert stranger == [GOODBYE]
    for messages in (alice, bob):
        assert messages[-1] == GOODBYE
    # Every message the server had accepted reached both, before the goodbye.
    accepted = len(alice) - 1
    assert [m["message"] for m in alice[:-1]] == [str(n) for n in range(accepted)]
    assert [m["message"] for m in bob[:-1]] == [str(n) for n in range(1, accepted)]


async def press_ctrl_c_with_clients(server):
    """What Ctrl-C does to step 13 while two clients chat; what each one heard."""
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    server.process.send_signal(signal.SIGINT)
    if WAIT_CLOSED_WAITS_FOR_CONNECTIONS:
        # serve_forever() was cancelled and now waits, in Server.wait_closed(),
        # for the connections to close: the chat goes on, new clients are refused.
        await asyncio.sleep(1)
        assert server.process.poll() is None, "step 13 stopped at the first Ctrl-C"
        await alice.chat("lobby", "still here?")
        await bob.expect(action="chat", message="still here?")
        with pytest.raises(ConnectionRefusedError):
            await ChatClient.open(server)
        server.process.send_signal(signal.SIGINT)  # the second one forces the exit
    heard = {}
    for client in (alice, bob):
        heard[client], reset = await client.receive_until_closed()
        assert not reset
        await client.close()
    return heard


# Since Python 3.12.1, Server.wait_closed() waits until every connection has closed.
WAIT_CLOSED_WAITS_FOR_CONNECTIONS = sys.version_info >= (3, 12, 1)


def test_step13_on_ctrl_c_just_dies_with_a_traceback():
    """Step 13 has no shutdown of its own: Ctrl-C cancels main() and that is all.

    On Python 3.12.1 and newer the first Ctrl-C only stops the listening socket,
    while the clients chat on; a second one ends the program.
    """
    with ServerProcess(STEPS[13]) as server:
        heard = run(press_ctrl_c_with_clients(server))
        assert server.process.wait(10) != 0
        errors = server.stderr()
    assert not any(GOODBYE in messages for messages in heard.values())
    assert "KeyboardInterrupt" in errors


# --- logging (step 15) --------------------------------------------------------


async def come_and_go(server):
    client = await connected(server, "visitor", "lobby")
    await client.close()
    await asyncio.sleep(0.2)


@pytest.mark.parametrize("path", steps_from(15))
def test_the_log_has_times_levels_and_the_comings_and_goings(path):
    with ServerProcess(path) as server:
        run(come_and_go(server))
        errors = assert_quiet(server)
    lines = errors.splitlines()
    assert any(" INFO " in line and "is 'visitor'" in line for line in lines), errors
    assert any(" INFO " in line and "'visitor' disconnected" in line for line in lines)
    assert all(line[:4].isdigit() for line in lines), errors  # 2025-...: a time


# --- options (step 17) --------------------------------------------------------


async def small_limits(server):
    client = await connected(server, "small", "lobby")
    await client.chat("lobby", "x" * 900)
    await client.expect(action="chat")
    await client.chat("lobby", "x" * 1100)  # the frame is over 1024 bytes
    assert "limit" in await client.expect_error()
    assert await client.is_closed_by_server()
    await client.close()


@pytest.mark.parametrize("path", steps_from(17))
def test_options_set_the_size_limit_and_the_log_level(path):
    with ServerProcess(
        path, "--max-message-bytes", "1024", "--log-level", "WARNING"
    ) as server:
        run(small_limits(server))
        errors = assert_quiet(server)
    assert " INFO " not in errors


@pytest.mark.parametrize("path", steps_from(17))
def test_options_are_checked_before_the_server_starts(path):
    for bad in (["--queue-size", "0"], ["--idle-timeout", "-1"], ["--log-level", "x"]):
        refused = run_example(path, "--port", "0", *bad, timeout=30)
        assert refused.returncode == 2, refused.stderr  # argparse's "usage" error
        assert f"error: argument {bad[0]}" in refused.stderr
        assert refused.stdout == ""  # it never listened


@pytest.mark.parametrize("path", steps_from(17))
def test_a_smaller_queue_drops_a_stuck_client_sooner(path):
    with ServerProcess(path, "--queue-size", "5", *without_budget(path)) as server:
        run(flood_past_a_sloth(server))
        errors = assert_quiet(server)
    assert "too slow: 5 messages waiting" in errors


# --- TLS (step 18) ------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A certificate for 127.0.0.1 from a throwaway authority: files and trust."""
    pytest.importorskip("trustme")
    return tls_certificate(tmp_path_factory.mktemp("tls"))


async def chat_privately(server, trusting):
    ada = await connected(server, "ada", "lobby", ssl=trusting)
    bob = await connected(server, "bob", "lobby", ssl=trusting)
    await ada.chat("lobby", "encrypted")
    for client in (ada, bob):
        await client.expect(action="chat", message="encrypted")
    # Without TLS, or without trusting the certificate: no way in.
    plain = await ChatClient.open(server)
    await plain.send({"action": "connect", "username": "eve"})
    assert await plain.is_closed_by_server()
    await plain.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        await ChatClient.open(server, ssl=ssl.create_default_context())
    server.process.send_signal(signal.SIGTERM)
    for client in (ada, bob):
        assert await client.receive_until_closed() == ([GOODBYE], False)
        await client.close()


@pytest.mark.parametrize("path", steps_from(18))
def test_tls_encrypts_the_chat_and_keeps_out_who_does_not_speak_it(path, certificate):
    certfile, keyfile, trusting = certificate
    with ServerProcess(path, "--certfile", certfile, "--keyfile", keyfile) as server:
        run(chat_privately(server, trusting))
        assert server.process.wait(10) == 0
        assert_quiet(server)


# --- limits (step 19) ---------------------------------------------------------


async def fill_the_server(server):
    first = await connected(server, "first")
    second = await connected(server, "second")
    third = await ChatClient.open(server)
    assert "full" in await third.expect_error()
    assert await third.is_closed_by_server()
    await third.close()
    await first.close()
    await asyncio.sleep(0.2)  # the server notices that "first" left
    fourth = await connected(server, "fourth")
    for client in (second, fourth):
        await client.close()


@pytest.mark.parametrize("path", steps_from(19))
def test_past_max_clients_a_newcomer_is_turned_away(path):
    with ServerProcess(path, "--max-clients", "2") as server:
        run(fill_the_server(server))
        assert_quiet(server)


async def crowd_in(server, count):
    gate = asyncio.Semaphore(100)

    async def newcomer(n):
        async with gate:
            return await connected(server, f"user {n}", "crowd")

    async with asyncio.TaskGroup() as tasks:
        arrivals = [tasks.create_task(newcomer(n)) for n in range(count)]
    crowd = [arrival.result() for arrival in arrivals]
    await crowd[-1].chat("crowd", "we are many")
    for client in crowd:
        await client.expect(action="chat", message="we are many")
    for client in crowd:
        await client.close()


@pytest.mark.parametrize("path", steps_from(19))
def test_the_server_lifts_a_low_limit_on_open_files(path):
    resource = pytest.importorskip("resource")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1000:
        pytest.skip(f"the hard limit on open files is only {hard}")
    # All 300 come from 127.0.0.1: lift the limit on connections per address.
    server = ServerProcess(path, "--log-level", "WARNING", "--max-per-address", "300")
    # Start it with a soft limit of 128 open files: 300 clients need more.
    server.command = ["sh", "-c", 'ulimit -Sn 128 && exec "$@"', "sh", *server.command]
    with server:
        run(crowd_in(server, 300))
        assert_quiet(server)
