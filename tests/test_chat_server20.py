"""The finished chat server, examples/chat/server20.py, driven by real clients.

Each test starts the server as a process (`python -X dev -W error`), talks to it
over real sockets with tests/chatwire.py, and checks its standard error is clean.
"""

import asyncio
import random
import signal
import time

import pytest
from chatwire import (
    ChatClient,
    ServerClosed,
    assert_quiet,
    connected,
    frame,
    raw_frame,
    run,
    tls_certificate,
)
from conftest import ServerProcess

SERVER = "examples/chat/server20.py"
GOODBYE = {"action": "goodbye", "reason": "server shutting down"}


def chat_server(*args):
    return ServerProcess(SERVER, *args)


def chats(messages):
    """The (from, message) pairs of the chat messages among `messages`."""
    return [(m["from"], m["message"]) for m in messages if m["action"] == "chat"]


# --- talking ------------------------------------------------------------------


async def talk_in_two_rooms(server):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby", "garden")
    carol = await connected(server, "carol", "garden")
    plans = {
        alice: [("lobby", f"alice {n}") for n in range(30)],
        bob: [("lobby" if n % 2 else "garden", f"bob {n}") for n in range(30)],
        carol: [("garden", f"carol {n}") for n in range(30)],
    }
    expected = {alice: 45, bob: 90, carol: 45}  # every message of their rooms

    async def say(client, plan):
        for room, text in plan:
            await client.chat(room, text)

    async def hear(client):
        return [await client.receive() for _ in range(expected[client])]

    async with asyncio.TaskGroup() as tasks:
        for client, plan in plans.items():
            tasks.create_task(say(client, plan))
        heard = {client: tasks.create_task(hear(client)) for client in plans}
    heard = {client: task.result() for client, task in heard.items()}

    def in_room(client, room):
        return [(m["from"], m["message"]) for m in heard[client] if m["room"] == room]

    # Every member of a room saw the same messages in the same order...
    assert in_room(alice, "lobby") == in_room(bob, "lobby")
    assert in_room(bob, "garden") == in_room(carol, "garden")
    # ...all of them, each sender's in the order it sent them.
    for room, members in {"lobby": (alice, bob), "garden": (bob, carol)}.items():
        seen = in_room(members[0], room)
        for sender, plan in plans.items():
            sent = [text for sent_to, text in plan if sent_to == room]
            assert [text for name, text in seen if name == sender.name] == sent
    for client in plans:
        assert all(m["action"] == "chat" for m in heard[client])
        await client.close()


def test_three_clients_chat_across_two_rooms_in_order():
    with chat_server() as server:
        run(talk_in_two_rooms(server))
        assert_quiet(server)


async def join_leave_and_rejoin(server):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    await bob.leave("lobby")
    await alice.chat("lobby", "anyone?")
    await alice.expect(action="chat", message="anyone?", **{"from": "alice"})
    await bob.join("lobby")
    await bob.join("lobby")  # joining twice is no error
    await alice.chat("lobby", "welcome back")
    await bob.expect(action="chat", message="welcome back", room="lobby")
    await alice.close()
    # A name is free again once its owner has left.
    again = await connected(server, "alice", "lobby")
    await again.close()
    await bob.close()


def test_leaving_a_room_stops_its_messages_and_names_are_freed():
    with chat_server() as server:
        run(join_leave_and_rejoin(server))
        assert_quiet(server)


# --- bad input ----------------------------------------------------------------

BAD_FRAMES = {
    "invalid JSON": raw_frame(b'{"action": "chat",'),
    "invalid UTF-8": raw_frame(b'{"action": "\xff\xfe"}'),
    "empty payload": raw_frame(b""),
    "a JSON array": raw_frame(b'["chat", "lobby", "hi"]'),
    "a JSON string": raw_frame(b'"hello"'),
    "a JSON number": raw_frame(b"42"),
    "JSON null": raw_frame(b"null"),
    "JSON nested too deeply": raw_frame(b"[" * 5000 + b"]" * 5000),
    "a 5000-digit integer": raw_frame(b'{"action": ' + b"9" * 5000 + b"}"),
    "no action": frame({"room": "lobby", "message": "hi"}),
    "action not a string": frame({"action": 7}),
    "unknown action": frame({"action": "dance"}),
    "connect without username": frame({"action": "connect"}),
    "username not a string": frame({"action": "connect", "username": ["x"]}),
    "blank username": frame({"action": "connect", "username": "  "}),
    "joinroom without room": frame({"action": "joinroom"}),
    "room not a string": frame({"action": "joinroom", "room": 5}),
    "leaveroom without room": frame({"action": "leaveroom"}),
    "chat without message": frame({"action": "chat", "room": "lobby"}),
    "message not a string": frame({"action": "chat", "room": "lobby", "message": {}}),
    "chat in a room not joined": frame(
        {"action": "chat", "room": "elsewhere", "message": "hi"}
    ),
    "leave a room not joined": frame({"action": "leaveroom", "room": "elsewhere"}),
    "connect twice": frame({"action": "connect", "username": "someone else"}),
}


@pytest.fixture(scope="module")
def shared_server():
    """One server for many small tests; checked for a clean stderr at the end."""
    with chat_server() as server:
        yield server
        assert_quiet(server)


async def refuse_bad_frame(server, name, bad):
    client = await connected(server, f"{name}-client", "lobby")
    bystander = await connected(server, f"{name}-bystander", "lobby")
    await client.send_bytes(bad)
    await client.expect_error()
    # The connection is still open and works, and the bystander saw nothing odd.
    await client.chat("lobby", "still here")
    for each in (client, bystander):
        await each.expect(action="chat", message="still here")
    await client.close()
    await bystander.close()


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_bad_frame_gets_an_error_and_the_connection_stays_open(shared_server, name):
    run(refuse_bad_frame(shared_server, name.replace(" ", "-"), BAD_FRAMES[name]))


async def refuse_acting_before_connect(server, request):
    client = await ChatClient.open(server)
    await client.send(request)
    assert "connect" in await client.expect_error()
    await client.connect(f"late-{request['action']}")
    await client.close()


@pytest.mark.parametrize(
    "request_",
    [
        {"action": "joinroom", "room": "lobby"},
        {"action": "leaveroom", "room": "lobby"},
        {"action": "chat", "room": "lobby", "message": "hi"},
    ],
    ids=lambda request: request["action"],
)
def test_acting_before_connect_is_refused(shared_server, request_):
    run(refuse_acting_before_connect(shared_server, request_))


async def refuse_taken_username(server):
    first = await connected(server, "taken")
    second = await ChatClient.open(server)
    await second.send({"action": "connect", "username": "taken"})
    assert "taken" in await second.expect_error()
    await second.connect("not-taken")
    await first.close()
    await second.close()


def test_a_taken_username_is_refused(shared_server):
    run(refuse_taken_username(shared_server))


async def refuse_too_many_rooms(server):
    client = await connected(server, "joiner")
    for n in range(100):
        await client.join(f"room {n}")
    await client.send({"action": "joinroom", "room": "one too many"})
    assert "100 rooms" in await client.expect_error()
    await client.leave("room 0")
    await client.join("one too many")
    await client.close()


def test_a_client_can_join_at_most_100_rooms(shared_server):
    run(refuse_too_many_rooms(shared_server))


# --- the size limit -----------------------------------------------------------


async def enforce_size_limit(server, limit):
    bystander = await connected(server, "bystander", "lobby")
    # A frame of exactly the limit is fine.
    client = await connected(server, "exact", "lobby")
    request = {"action": "chat", "room": "lobby", "message": ""}
    padding = limit - len(frame(request)) + 4
    request["message"] = "x" * padding
    assert len(frame(request)) == 4 + limit
    await client.send(request)
    await bystander.expect(action="chat", message="x" * padding)
    await client.close()
    # One byte more: refused from the header alone. No body follows, so a server
    # that tried to read it would wait, and never answer.
    for size in (limit + 1, 2**32 - 1):
        client = await connected(server, f"big{size}", "lobby")
        await client.send_bytes(size.to_bytes(4, "little"))
        assert "limit" in await client.expect_error(within=5)
        assert await client.is_closed_by_server(within=5)
        await client.close()
    # Body and all in one write: still refused from the header, still told why.
    client = await connected(server, "hasty", "lobby")
    await client.send_bytes(raw_frame(b"x" * (limit + 1)))
    assert "limit" in await client.expect_error(within=5)
    await client.close()
    await bystander.chat("lobby", "unharmed")
    await bystander.expect(action="chat", message="unharmed")
    await bystander.close()


def test_an_oversized_frame_is_refused_without_reading_it():
    with chat_server("--max-message-bytes", "1024") as server:
        run(enforce_size_limit(server, 1024))
        assert_quiet(server)


# --- slow clients -------------------------------------------------------------

MESSAGES = 300


async def drop_the_sloth(server):
    sender = await connected(server, "sender", "lobby")
    reader = await connected(server, "reader", "lobby")
    # The sloth joins, then never reads: a small receive buffer fills up fast.
    sloth = await connected(server, "sloth", "lobby", receive_buffer=4096)
    loop = asyncio.get_running_loop()
    # 300 messages of 30 kB: 9 MB, more than the kernel buffers (a few MB) take.
    text = "x" * 30_000
    delays = []
    for n in range(MESSAGES):
        started = loop.time()
        await sender.chat("lobby", f"{n} {text}")
        for client in (sender, reader):
            message = await client.expect(action="chat", within=5)
            assert message["message"] == f"{n} {text}"
        delays.append(loop.time() - started)
    # The others got every message, and never waited long for one.
    assert max(delays) < 2.0, sorted(delays)[-5:]
    # The sloth now reads: the start of the conversation, in order, then why it
    # was dropped, then the end of the connection.
    messages, reset = await sloth.receive_until_closed()
    assert not reset
    assert messages[-1]["action"] == "error", messages[-1]
    assert "slow" in messages[-1]["reason"]
    got = chats(messages)
    assert 0 < len(got) < MESSAGES
    assert got == [("sender", f"{n} {text}") for n in range(len(got))]
    for client in (sender, reader, sloth):
        await client.close()


def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on():
    with chat_server("--queue-size", "8") as server:
        run(drop_the_sloth(server))
        errors = assert_quiet(server)
    assert "dropping 'sloth'" in errors


# --- many clients -------------------------------------------------------------

CROWD = 1000


def allow_open_files(count):
    """Raise this process's soft limit on open files if it is below `count`."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"at most {hard} open files allowed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


async def gather_a_crowd(server):
    opening = asyncio.Semaphore(100)  # connect a hundred at a time
    crowd = []  # everyone who got in, closed at the end whatever happens

    async def newcomer(n):
        async with opening:
            crowd.append(await connected(server, f"user {n}", "crowd"))

    try:
        async with asyncio.TaskGroup() as tasks:
            for n in range(CROWD):
                tasks.create_task(newcomer(n))
        await crowd[0].chat("crowd", "hello, everyone")
        async with asyncio.TaskGroup() as tasks:
            for client in crowd:
                tasks.create_task(client.expect(action="chat", within=30))
    finally:
        async with asyncio.TaskGroup() as tasks:
            for client in crowd:
                tasks.create_task(client.close())


def test_a_thousand_clients_at_once():
    allow_open_files(2 * CROWD + 200)
    # All of them come from 127.0.0.1: lift the limit on connections per address.
    options = ["--log-level", "WARNING", "--max-per-address", str(CROWD)]
    with chat_server(*options) as server:
        run(gather_a_crowd(server), timeout=120)
        assert_quiet(server)


# --- shutdown -----------------------------------------------------------------


async def shut_down_with_clients(server, signum):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    stranger = await ChatClient.open(server)  # connected, but no "connect" yet
    for n in range(50):
        await alice.chat("lobby", str(n))
    await bob.expect(action="chat", message="0")
    started = time.monotonic()
    server.process.send_signal(signum)
    heard = {}
    for client in (alice, bob, stranger):
        messages, reset = await client.receive_until_closed()
        assert not reset
        assert messages[-1] == GOODBYE
        heard[client] = [m["message"] for m in messages if m["action"] == "chat"]
    # Every message the server had accepted reached both, before the goodbye.
    accepted = len(heard[alice])
    assert heard[alice] == [str(n) for n in range(accepted)]
    assert heard[bob] == [str(n) for n in range(1, accepted)]
    assert heard[stranger] == []
    exit_code = await asyncio.to_thread(server.process.wait, 10)
    assert exit_code == 0
    assert time.monotonic() - started < 3.0
    for client in (alice, bob, stranger):
        await client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=str)
def test_a_signal_says_goodbye_to_everyone_and_exits_0(signum):
    with chat_server() as server:
        run(shut_down_with_clients(server, signum))
        errors = assert_quiet(server)
    assert "stopped: " in errors  # the statistics
    assert "3 connections" in errors  # alice, bob and the stranger


async def shut_down_despite_a_sloth(server):
    sloth = await connected(server, "sloth", "lobby", receive_buffer=4096)
    talker = await connected(server, "talker", "lobby")
    for n in range(400):  # 10 MB: far more than the sloth's buffers hold
        await talker.chat("lobby", f"{n} {'x' * 25_000}")
        await talker.expect(action="chat")
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    messages, _ = await talker.receive_until_closed()
    assert messages == [GOODBYE]
    exit_code = await asyncio.to_thread(server.process.wait, 10)
    assert exit_code == 0
    # It waited for the sloth a little (3 s), then gave up on it.
    assert 2.0 < time.monotonic() - started < 6.0
    await talker.close()
    await sloth.close()


def test_shutdown_does_not_wait_forever_for_a_client_that_never_reads():
    with chat_server("--queue-size", "1000") as server:
        run(shut_down_despite_a_sloth(server))
        assert_quiet(server)


# --- TLS ----------------------------------------------------------------------


async def chat_over_tls(server, client_context):
    alice = await connected(server, "alice", "lobby", ssl=client_context)
    bob = await connected(server, "bob", "lobby", ssl=client_context)
    await alice.chat("lobby", "this is private")
    for client in (alice, bob):
        await client.expect(action="chat", message="this is private", room="lobby")
    # A client that does not speak TLS gets nowhere, and harms no one.
    plain = await ChatClient.open(server)
    await plain.send({"action": "connect", "username": "eve"})
    assert await plain.is_closed_by_server()
    await plain.close()
    server.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    for client in (alice, bob):
        messages, reset = await client.receive_until_closed()
        assert (messages, reset) == ([GOODBYE], False)
        await client.close()
    assert await asyncio.to_thread(server.process.wait, 10) == 0
    assert time.monotonic() - started < 3.0


def test_tls_with_a_certificate_made_for_the_test(tmp_path):
    certfile, keyfile, client_context = tls_certificate(tmp_path)
    with chat_server("--certfile", certfile, "--keyfile", keyfile) as server:
        run(chat_over_tls(server, client_context))
        assert_quiet(server)


# --- noise --------------------------------------------------------------------


async def spray_random_bytes(server, seed):
    chance = random.Random(seed)
    while True:
        try:
            client = await ChatClient.open(server)
        except OSError:
            continue
        try:
            for _ in range(chance.randrange(1, 20)):
                noise = chance.randbytes(chance.randrange(0, 2000))
                if chance.random() < 0.5:
                    noise = raw_frame(noise)  # a well-framed message of garbage
                await client.send_bytes(noise)
                await asyncio.sleep(0.005)
        except (OSError, ServerClosed):
            pass  # the server closed it: a header announced too much
        finally:
            await client.close()


async def chat_through_noise(server):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    expected = [("alice", f"a{n}") for n in range(100)]
    expected += [("bob", f"b{n}") for n in range(100)]

    async def say(client, prefix):
        for n in range(100):
            await client.chat("lobby", f"{prefix}{n}")
            await asyncio.sleep(0.002)

    async def hear(client):
        return chats([await client.receive() for _ in range(200)])

    async with asyncio.TaskGroup() as tasks:
        noise = tasks.create_task(spray_random_bytes(server, seed=20))
        heard = [tasks.create_task(hear(client)) for client in (alice, bob)]
        tasks.create_task(say(alice, "a"))
        tasks.create_task(say(bob, "b"))
        await asyncio.wait(heard)
        noise.cancel()
    alice_heard, bob_heard = (task.result() for task in heard)
    assert alice_heard == bob_heard  # the same messages in the same order
    assert sorted(alice_heard) == sorted(expected)  # every one of them
    for name in ("alice", "bob"):  # each sender's in the order it sent them
        theirs = [pair for pair in alice_heard if pair[0] == name]
        assert theirs == [pair for pair in expected if pair[0] == name]
    for client in (alice, bob):
        await client.close()


def test_random_bytes_on_one_connection_do_not_disturb_a_chat():
    with chat_server() as server:
        run(chat_through_noise(server))
        assert_quiet(server)


# --- statistics ---------------------------------------------------------------


async def be_counted(server):
    ada = await connected(server, "ada", "lobby")
    await ada.chat("lobby", "count me")
    await ada.expect(action="chat")
    await ada.send({"action": "dance"})
    await ada.expect_error()
    await asyncio.sleep(0.5)  # a status line or two
    await ada.close()


def test_statistics_are_logged_while_running_and_at_the_end():
    with chat_server("--status-every", "0.1") as server:
        run(be_counted(server))
        errors = assert_quiet(server)
    status = [line for line in errors.splitlines() if "status: " in line]
    assert status, errors
    assert "1 open, 1 users, 1 rooms" in "".join(status)
    (summary,) = [line for line in errors.splitlines() if "stopped: " in line]
    # connect and joinroom confirmed, the chat relayed, the dance refused: four
    for figure in ("1 connections", "4 messages queued", "1 refused requests"):
        assert figure in summary


# --- what --queue-size counts -------------------------------------------------

TALKERS = 5
BURST = 20  # chats each talker sends in one write, all at the same moment


async def everyone_bursts_at_once(server):
    """Five members each send a burst; what each of them received."""
    members = [await connected(server, f"talker{n}", "lobby") for n in range(TALKERS)]
    try:
        for member in members:  # no await in between: the bursts arrive together
            member.writer.write(
                b"".join(
                    frame({"action": "chat", "room": "lobby", "message": f"{n}"})
                    for n in range(BURST)
                )
            )

        async def hear(member):
            return [await member.receive() for _ in range(TALKERS * BURST)]

        return await asyncio.gather(*(hear(member) for member in members))
    finally:
        for member in members:
            await member.close()


def test_a_short_queue_drops_nobody_who_reads_what_it_is_sent():
    # Four messages waiting would be too many for a member that does not take
    # them; every member here reads all it is sent, and none is dropped, even as
    # 100 messages reach every member in a moment. (Step 19 dropped the room:
    # its outboxes filled before any sender task ran.)
    with chat_server("--queue-size", "4") as server:
        heard = run(everyone_bursts_at_once(server))
        errors = assert_quiet(server)
    assert "dropping" not in errors, errors
    for messages in heard:
        assert all(message["action"] == "chat" for message in messages), messages
        for talker in range(TALKERS):  # each talker's chats in the order sent
            texts = [m["message"] for m in messages if m["from"] == f"talker{talker}"]
            assert texts == [str(n) for n in range(BURST)]
