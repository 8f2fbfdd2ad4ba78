"""The web chat in several processes: without a broker, and through Redis.

First the failure: asgi_chat.py in two processes, or under uvicorn with two
workers, and a message reaches only the clients of the process that got it.
Then examples/web/redis_chat.py (pub/sub, a channel per room), in two
processes on two ports and under uvicorn with four workers on one port,
sharing one real redis-server: every client hears every message of its room,
in one order. Then examples/web/redis_streams_chat.py (a stream per room):
200 clients in four rooms on four workers, history for newcomers, catch-up
after a reconnect (exactly what was missed, in the page too, in Chromium),
Redis stopped and restarted, or hung, under the chat. Every process is ended
by its test.
"""

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import redis
import webchat
from conftest import ROOT
from playwright.sync_api import expect
from redisserver import RedisServer, free_port
from webchat import (
    TIMEOUT,
    WELCOME,
    chat_server,
    close_all,
    join,
    receive,
    receive_many,
    say,
)
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.timeout(120)

ASGI_CHAT = "examples/web/asgi_chat.py"
REDIS_CHAT = "examples/web/redis_chat.py"
STARTUP_TIMEOUT = 30.0  # seconds for every worker to start, on a busy machine
QUIET = 1.0  # seconds a client waits to be sure that nothing is coming


def run(coroutine):
    """webchat.run with more time: these tests start several processes and Redis."""
    return webchat.run(coroutine, timeout=90)


class Address:
    """Where a chat listens, as tests/webchat.py's helpers expect it."""

    def __init__(self, port):
        self.host, self.port = "127.0.0.1", port


@contextlib.contextmanager
def uvicorn_workers(app, workers, **environment):
    """`uvicorn APP --workers N` from examples/web, on a free port of 127.0.0.1.

    Waits until every worker has started its application; on the way out,
    SIGTERM to uvicorn, which stops its workers, and SIGKILL to all of them if
    any lingers. Then no worker may have written a traceback, or died.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", "examples/web", app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **environment},
            start_new_session=True,  # its own process group, workers included
        )
        try:
            wait_for_workers(process, log, workers)
            yield Address(port)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output
    # No worker died and was replaced: each started once.
    assert output.count("Started server process") == workers, output


def wait_for_workers(process, log, workers):
    """Wait until uvicorn has logged each worker's "Application startup complete"."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        log.seek(0)
        started = len(re.findall("Application startup complete", log.read()))
        if started == workers:
            return
        time.sleep(0.1)
    log.seek(0)
    raise AssertionError(f"{workers} workers did not start:\n{log.read()}")


async def who_hears(speaker, listeners):
    """How many of `listeners` hear what `speaker` says (within QUIET seconds)."""
    await speaker.send(say("speaker", "can everyone hear me?"))

    async def hears(ws):
        try:
            async with asyncio.timeout(QUIET):
                await ws.recv()
        except TimeoutError:
            return False
        return True

    return sum(await asyncio.gather(*(hears(ws) for ws in listeners)))


async def join_one_by_one(addresses, clients):
    """`clients` clients, one at a time, spread in turn over `addresses`."""
    return [await join(addresses[n % len(addresses)]) for n in range(clients)]


# --- the failure: each process knows only its own clients ------------------------


def test_two_processes_without_a_broker_each_hear_only_their_own():
    with chat_server(ASGI_CHAT) as first, chat_server(ASGI_CHAT) as second:

        async def scene():
            clients = await join_one_by_one([first, second], 10)
            heard = await who_hears(clients[0], clients)
            await close_all(clients)
            return heard

        # clients[0] and the four others on `first` hear it; nobody on `second`.
        assert run(scene()) == 5


def test_uvicorn_workers_without_a_broker_lose_messages():
    # The kernel decides which worker accepts each connection, and its choice
    # varies from run to run: now and then all twenty land on one worker. So
    # up to five rounds, and in one of them at least, someone must miss it.
    with uvicorn_workers("asgi_chat:application", 2) as address:

        async def scene():
            clients = await asyncio.gather(*(join(address) for _ in range(20)))
            heard = await who_hears(clients[0], clients)
            await close_all(clients)
            return heard

        rounds = []
        while len(rounds) < 5 and (not rounds or rounds[-1] == 20):
            rounds.append(run(scene()))
    # Those the kernel handed to the speaker's worker hear it, and no others.
    assert 1 <= rounds[-1] < 20, rounds


# --- through Redis: everyone hears everything, in one order ------------------------


async def everyone_hears_everything_in_order(addresses, clients, speakers, messages):
    """`clients` spread over `addresses`; `speakers` of them talk at once."""
    crowd = await join_one_by_one(addresses, clients)
    talkers = crowd[:speakers]
    plans = {
        n: [f"speaker{n} says {m}" for m in range(messages)] for n in range(speakers)
    }

    async def talk(ws, n):
        for text in plans[n]:
            await ws.send(say(f"speaker{n}", text))

    async with asyncio.TaskGroup() as tasks:
        for n, ws in enumerate(talkers):
            tasks.create_task(talk(ws, n))
        hearing = [
            tasks.create_task(receive_many(ws, speakers * messages)) for ws in crowd
        ]
    heard = [task.result() for task in hearing]
    # Everyone heard one same sequence...
    assert all(sequence == heard[0] for sequence in heard)
    # ...made of every message, each speaker's in the order it spoke.
    for n in range(speakers):
        said = [text for sender, text in heard[0] if sender == f"speaker{n}"]
        assert said == plans[n]
    await close_all(crowd)


def test_two_processes_sharing_redis_everyone_hears_everything_in_order():
    with (
        RedisServer() as broker,
        chat_server(REDIS_CHAT, "--redis", broker.url) as first,
        chat_server(REDIS_CHAT, "--redis", broker.url) as second,
    ):
        run(everyone_hears_everything_in_order([first, second], 60, 6, 20))


def test_four_uvicorn_workers_sharing_redis_everyone_hears_everything_in_order():
    with (
        RedisServer() as broker,
        uvicorn_workers("redis_chat:application", 4, REDIS_URL=broker.url) as address,
    ):
        # One subscription to "chat:*", every room's channel, for each worker.
        assert broker.pattern_subscribers() == 4
        run(everyone_hears_everything_in_order([address], 60, 6, 20))


def test_each_room_hears_only_its_own_messages():
    with (
        RedisServer() as broker,
        chat_server(REDIS_CHAT, "--redis", broker.url) as first,
        chat_server(REDIS_CHAT, "--redis", broker.url) as second,
    ):

        async def scene():
            garden = [await enter(chat, "garden") for chat in (first, second)]
            attic = [await enter(chat, "attic") for chat in (first, second)]
            lobby = [await enter(chat) for chat in (first, second)]
            await garden[0].send(say("ada", "in the garden"))
            await attic[1].send(say("bob", "in the attic"))
            for ws in garden:
                assert await receive(ws) == {
                    "sender": "ada",
                    "message": "in the garden",
                }
            for ws in attic:
                assert await receive_many(ws, 1) == [("bob", "in the attic")]
            for ws in garden + attic + lobby:
                assert await nothing_more(ws)
            await close_all(garden + attic + lobby)

        run(scene())


def test_redis_chat_refuses_to_start_without_redis():
    unreachable = f"redis://127.0.0.1:{free_port()}"
    with (
        pytest.raises(AssertionError, match="did not say where it listens") as failed,
        chat_server(REDIS_CHAT, "--redis", unreachable),
    ):
        pass
    assert f"cannot reach Redis at {unreachable}" in str(failed.value)


def test_a_message_that_cannot_reach_redis_gets_an_error():
    with (
        RedisServer() as broker,
        chat_server(REDIS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada = await join(chat)
            broker.stop()
            await ada.send(say("ada", "is anyone there?"))
            assert await receive(ada) == {
                "sender": "server",
                "message": "error: not sent, Redis is unreachable",
            }
            await ada.close()

        run(scene())


def test_delivery_resumes_once_redis_is_back():
    with (
        RedisServer() as broker,
        chat_server(REDIS_CHAT, "--redis", broker.url) as first,
        chat_server(REDIS_CHAT, "--redis", broker.url) as second,
    ):

        async def scene():
            ada, bob = await join(first), await join(second)
            broker.stop()
            broker.start()  # the same port, and empty: it remembers nobody
            # Each process must subscribe again before it hears anything.
            # Until then, what is published is lost: say it until it comes.
            async with asyncio.timeout(20):
                while True:
                    await ada.send(say("ada", "back?"))
                    try:
                        async with asyncio.timeout(1):
                            heard = await receive(bob)
                        break
                    except TimeoutError:
                        continue
            assert heard == {"sender": "ada", "message": "back?"}
            await close_all([ada, bob])

        run(scene())


def test_what_is_not_a_chat_message_on_the_channel_is_left_out():
    with (
        RedisServer() as broker,
        chat_server(REDIS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada = await join(chat)
            for data in [b"not JSON", b"\xff", b"[]", say("server", "I am the server")]:
                broker.publish("chat:lobby", data)
            await ada.send(say("ada", "still here"))
            assert await receive(ada) == {"sender": "ada", "message": "still here"}
            await ada.close()

        run(scene())


# --- Redis Streams: rooms, history, catch-up, faults -------------------------------

STREAMS_CHAT = "examples/web/redis_streams_chat.py"
HISTORY = 50  # what redis_streams_chat.py gives a newcomer
DEGRADED = "degraded"


async def enter(address, room=None, since=None):
    """A client of /chat in `room`, caught up after `since`, past its welcome."""
    query = {"room": room, "since": since}
    query = "&".join(f"{key}={value}" for key, value in query.items() if value)
    url = f"ws://{address.host}:{address.port}/chat" + (f"?{query}" if query else "")
    ws = await connect(url, open_timeout=TIMEOUT)
    assert await receive(ws) == WELCOME
    return ws


async def heard(ws, count, within=TIMEOUT):
    """The next `count` messages, whole: sender, message and id, if any."""
    async with asyncio.timeout(within):
        return [json.loads(await ws.recv()) for _ in range(count)]


async def nothing_more(ws, within=QUIET):
    """True if nothing comes within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            await ws.recv()
    except TimeoutError:
        return True
    return False


async def rooms_hear_their_own(address, rooms, clients, speakers, messages):
    """`clients` spread over `rooms`; in each room, `speakers` talk at once."""
    crowd = await asyncio.gather(
        *(enter(address, rooms[n % len(rooms)]) for n in range(clients))
    )
    members = {room: crowd[n :: len(rooms)] for n, room in enumerate(rooms)}

    async def talk(ws, name):
        for m in range(messages):
            await ws.send(say(name, f"{name} says {m}"))

    each_hears = speakers * messages
    async with asyncio.TaskGroup() as tasks:
        for room in rooms:
            for n, ws in enumerate(members[room][:speakers]):
                tasks.create_task(talk(ws, f"{room}-speaker{n}"))
        hearing = {
            room: [tasks.create_task(heard(ws, each_hears)) for ws in members[room]]
            for room in rooms
        }
    for room in rooms:
        sequences = [task.result() for task in hearing[room]]
        first = sequences[0]
        # Everyone in the room heard one sequence, ids and all...
        assert all(sequence == first for sequence in sequences)
        # ...of this room's messages only, every one, each speaker's in order.
        for n in range(speakers):
            name = f"{room}-speaker{n}"
            said = [m["message"] for m in first if m["sender"] == name]
            assert said == [f"{name} says {m}" for m in range(messages)]
        assert len(first) == each_hears
        ids = [id_order(m["id"]) for m in first]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await close_all(crowd)


def id_order(stream_id):
    milliseconds, sequence = stream_id.split("-")
    return int(milliseconds), int(sequence)


def test_200_clients_on_four_workers_in_four_rooms_hear_their_room_in_order():
    with (
        RedisServer() as broker,
        uvicorn_workers(
            "redis_streams_chat:application", 4, REDIS_URL=broker.url
        ) as address,
    ):
        rooms = ["lobby", "garden", "kitchen", "attic"]
        run(rooms_hear_their_own(address, rooms, 200, 3, 10))


def test_a_newcomer_gets_the_last_messages_of_its_room_only():
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada = await enter(chat, "garden")
            for n in range(HISTORY + 10):
                await ada.send(say("ada", f"note {n}"))
            said = await heard(ada, HISTORY + 10)
            bob = await enter(chat, "garden")
            assert await heard(bob, HISTORY) == said[-HISTORY:]
            cy = await enter(chat)  # the lobby: nothing said there
            assert await nothing_more(cy)
            assert await nothing_more(bob)  # and nothing twice
            await close_all([ada, bob, cy])

        run(scene())


def test_a_client_that_comes_back_gets_exactly_what_it_missed():
    # Away from one process, back on the other: the id means the same to both.
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as first,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as second,
    ):

        async def scene():
            ada, bob = await enter(first, "garden"), await enter(second, "garden")
            await bob.send(say("bob", "before"))
            [last_seen] = await heard(ada, 1)
            await ada.close()
            for n in range(50):
                await bob.send(say("bob", f"while ada is away {n}"))
            missed = await heard(bob, 1 + 50)
            ada = await enter(second, "garden", since=last_seen["id"])
            assert await heard(ada, 50) == missed[1:]  # those 50, in order
            assert await nothing_more(ada)  # and nothing twice
            await bob.send(say("bob", "welcome back"))
            [back] = await heard(ada, 1)
            assert back["message"] == "welcome back"
            await close_all([ada, bob])

        run(scene())


def test_a_client_away_longer_than_the_stream_keeps_is_told_it_may_have_missed():
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada, bob = await enter(chat, "garden"), await enter(chat, "garden")
            await bob.send(say("bob", "before"))
            [last_seen] = await heard(ada, 1)
            await ada.close()
            for n in range(10):
                await bob.send(say("bob", f"while ada is away {n}"))
            missed = await heard(bob, 1 + 10)
            # The stream lets go of its oldest entries, as its cap would.
            with redis.Redis(host="127.0.0.1", port=broker.port) as client:
                client.xtrim("chat:garden", maxlen=3, approximate=False)
            ada = await enter(chat, "garden", since=last_seen["id"])
            notice, *kept = await heard(ada, 1 + 3)
            assert notice["sender"] == "server"
            assert "you may have missed messages" in notice["message"]
            assert kept == missed[-3:]
            assert await nothing_more(ada)
            # Back again with nothing let go of since: no notice.
            await ada.close()
            ada = await enter(chat, "garden", since=kept[-1]["id"])
            assert await nothing_more(ada)
            await close_all([ada, bob])

        run(scene())


def test_coming_back_again_and_again_while_the_room_is_busy():
    # Ada leaves and comes back while Bob talks: each time she may come back
    # while the room's reader has not handed on what her history holds.
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as first,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as second,
    ):

        async def scene():
            bob, ada = await enter(first, "garden"), await enter(second, "garden")
            said = [f"message {n}" for n in range(150)]

            async def talk():
                for text in said:
                    await bob.send(say("bob", text))
                    await asyncio.sleep(0.002)

            talking = asyncio.create_task(talk())
            got = []
            for visit in range(5):
                got += await heard(ada, 20)
                await ada.close()
                back_on = [first, second][visit % 2]
                ada = await enter(back_on, "garden", since=got[-1]["id"])
            await talking
            got += await heard(ada, len(said) - len(got))
            assert [message["message"] for message in got] == said
            assert await nothing_more(ada)
            await close_all([ada, bob])

        run(scene())


def test_a_bad_room_or_id_is_refused():
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            for query in ["room=no%20spaces", "room=", "since=yesterday"]:
                url = f"ws://{chat.host}:{chat.port}/chat?{query}"
                with pytest.raises(InvalidStatus) as refused:
                    await connect(url, open_timeout=TIMEOUT)
                assert refused.value.response.status_code == 403

        run(scene())


def test_a_stream_entry_that_is_not_a_chat_message_is_left_out():
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada = await enter(chat, "garden")
            with redis.Redis(host="127.0.0.1", port=broker.port) as client:
                for fields in [{"data": b"\xff"}, {"other": "x"}, {"data": "[]"}]:
                    client.xadd("chat:garden", fields)
            await ada.send(say("ada", "still here"))
            [message] = await heard(ada, 1)
            assert message["message"] == "still here"
            await ada.close()

        run(scene())


async def until_status(ws, status):
    """Read until the server says the chat is `status`; the messages before it."""
    before = []
    async with asyncio.timeout(TIMEOUT + 5):
        while (message := json.loads(await ws.recv())).get("status") != status:
            before.append(message)
    assert message["sender"] == "server"
    return before


def test_redis_restarted_under_four_workers():
    with (
        RedisServer(persistent=True) as broker,
        uvicorn_workers(
            "redis_streams_chat:application", 4, REDIS_URL=broker.url
        ) as address,
    ):

        async def scene():
            crowd = await asyncio.gather(
                *(enter(address, ["garden", "attic"][n % 2]) for n in range(20))
            )
            await crowd[0].send(say("ada", "before"))
            before = [await heard(ws, 1) for ws in crowd[::2]]
            broker.stop()
            # Every client is told, whichever worker it is on...
            await asyncio.gather(*(until_status(ws, DEGRADED) for ws in crowd))
            # ...and what is said meanwhile is refused, out loud.
            await crowd[1].send(say("bob", "anyone?"))
            [refused] = await heard(crowd[1], 1)
            assert refused["sender"] == "server"
            assert refused["message"].startswith("error: ")
            broker.start()  # the same port, and its append-only file
            await asyncio.gather(*(until_status(ws, "ok") for ws in crowd))
            await crowd[1].send(say("bob", "after"))
            for ws in crowd[1::2]:
                [after] = await heard(ws, 1)
                assert after["message"] == "after"
            # The garden's history: what was said before, nothing refused.
            cy = await enter(address, "garden")
            assert await heard(cy, 1) == before[0]
            assert await nothing_more(cy)
            await close_all([*crowd, cy])

        run(scene())


def test_a_hung_redis_bounds_a_send_and_the_page_is_told():
    with (
        RedisServer() as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as chat,
    ):

        async def scene():
            ada = await enter(chat, "garden")
            broker.pause()
            try:
                started = time.monotonic()
                await ada.send(say("ada", "hello?"))
                statuses = await until_status(ada, DEGRADED)
                waited = time.monotonic() - started
                # The error came within the publish timeout (2 s), or the
                # check that Redis answers said it first.
                assert waited < 5, waited
                [answer] = statuses or await heard(ada, 1)
                assert answer["message"].startswith("error: Redis did not answer")
            finally:
                broker.resume()
            await until_status(ada, "ok")
            await ada.close()

        run(scene())


# --- a crowd at once, in one process -----------------------------------------------
# More than a hundred commands at once in one process (joins reading their history,
# messages published): each waits for a connection, not refused as if Redis were
# gone (see redis_chat.shared_connections).

CROWD = 200  # clients in one process, joining at once, then speaking at once
CROWD_ROOMS = [f"room{n}" for n in range(10)]
# What the crowd checks is that every message arrives, not how soon: on a loaded
# machine, 4,000 deliveries to 200 clients have taken more than TIMEOUT.
CROWD_TIMEOUT = 45.0


async def a_crowd_at_once(address):
    """CROWD clients join at once, and say one thing each, at the same moment."""
    rooms = len(CROWD_ROOMS)
    crowd = await asyncio.gather(
        *(enter(address, CROWD_ROOMS[n % rooms]) for n in range(CROWD))
    )
    said = [(f"speaker{n}", f"hello from {n}") for n in range(CROWD)]
    await asyncio.gather(*(ws.send(say(*said[n])) for n, ws in enumerate(crowd)))
    heard_by = await asyncio.gather(
        *(heard(ws, CROWD // rooms, within=CROWD_TIMEOUT) for ws in crowd)
    )
    for n in range(rooms):
        # Each member of the room heard what each member said, and nothing else.
        room_said = sorted(said[n::rooms])
        for each in heard_by[n::rooms]:
            assert sorted((m["sender"], m["message"]) for m in each) == room_said
    await close_all(crowd)


@pytest.mark.parametrize("path", [REDIS_CHAT, STREAMS_CHAT])
def test_a_crowd_that_joins_and_speaks_at_once_is_served(path):
    with RedisServer() as broker, chat_server(path, "--redis", broker.url) as chat:
        run(a_crowd_at_once(chat))


# --- the page's catch-up, in Chromium ----------------------------------------------

PAGE_WAIT = 15_000  # milliseconds: the longest any one expectation waits
RECONNECT_WAIT = 40_000  # a restarted server, and the page's backoff


@pytest.fixture
def open_page(browser):
    """Opens chat pages, each in a browser context of its own (another user)."""
    contexts, errors = [], []

    def open_page(chat, name, room):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_WAIT)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"http://{chat.host}:{chat.port}/?room={room}")
        page_joins(page, name)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def page_joins(page, name):
    page.locator("#name").fill(name)
    page.locator("#name").press("Enter")
    expect(page.locator("#status")).to_have_text("connected")


def page_says(page, text):
    page.locator("#message").fill(text)
    page.locator("#message").press("Enter")
    expect(page.locator("#message")).to_have_value("")


def shown(page):
    """The chat messages on the page, as text, the server's left out."""
    texts = page.locator("#messages .message:not(.from-server)").all_text_contents()
    return [" ".join(text.split()) for text in texts]


def test_the_page_catches_up_after_a_reconnect_and_a_reload(open_page):
    with (
        RedisServer(persistent=True) as broker,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as first,
        chat_server(STREAMS_CHAT, "--redis", broker.url) as second,
    ):
        ada = open_page(first, "ada", "garden")
        bob = open_page(second, "bob", "garden")
        page_says(bob, "one")
        expect(ada.locator("#messages .message").last).to_have_text("bob: one")
        port = first.port
        first.stop()  # ada's server goes away; bob's stays
        expect(ada.locator("#status")).to_have_attribute("data-state", "offline")
        page_says(bob, "two")
        page_says(bob, "three")
        expect(bob.locator("#messages .message").last).to_have_text("bob: three")
        with chat_server(STREAMS_CHAT, "--redis", broker.url, "--port", str(port)):
            expect(ada.locator("#status")).to_have_text(
                "connected", timeout=RECONNECT_WAIT
            )
            expect(ada.locator("#messages .message").last).to_have_text("bob: three")
            assert shown(ada) == ["bob: one", "bob: two", "bob: three"]
            gap = ada.locator("#messages .gap")
            expect(gap).to_contain_text("what was said meanwhile follows")

            # Redis goes away: both pages say so in their status line.
            broker.stop()
            for page in (ada, bob):
                expect(page.locator("#status")).to_have_attribute(
                    "data-state", "degraded"
                )
                expect(page.locator("#status")).to_contain_text("cannot reach Redis")
            page_says(bob, "anyone?")
            expect(bob.locator("#messages .message").last).to_have_text(
                "server: error: not sent, Redis is unreachable"
            )
            broker.start()
            for page in (ada, bob):
                expect(page.locator("#status")).to_have_text(
                    "connected", timeout=RECONNECT_WAIT
                )
            page_says(bob, "four")
            expect(ada.locator("#messages .message").last).to_have_text("bob: four")

            # A reload is a new page: it gets the room's history, once.
            ada.reload()
            page_joins(ada, "ada")
            expect(ada.locator("#messages .message").last).to_have_text("bob: four")
            assert shown(ada) == ["bob: one", "bob: two", "bob: three", "bob: four"]
