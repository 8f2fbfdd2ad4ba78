"""Chapter 33: the TCP chat on Redis, examples/chat/bus_server.py.

Two servers on two ports share one real redis-server: a room's messages
reach its members on both, in one order; other rooms hear nothing. With
Redis stopped, a chat message comes back to its sender as an error, and
the server goes on; without Redis, a server refuses to start. Real clients
(tests/chatwire.py), real processes, every one ended by its test.
"""

import asyncio
import contextlib

import pytest
from chatwire import connected, run
from conftest import ServerProcess
from redisserver import RedisServer, free_port

pytestmark = pytest.mark.timeout(120)

BUS_SERVER = "examples/chat/bus_server.py"
QUIET = 1.0  # seconds a client waits to be sure that nothing is coming


@contextlib.contextmanager
def bus_server(redis_url):
    with ServerProcess(BUS_SERVER, "--redis", redis_url) as server:
        yield server
        assert server.stop() == 0, server.stderr()
        assert "Traceback" not in server.stderr()


async def heard(client, count):
    """The next `count` chat messages, as (from, message) pairs."""
    messages = [await client.expect(action="chat") for _ in range(count)]
    return [(m["from"], m["message"]) for m in messages]


async def hears_nothing(client):
    try:
        await client.receive(within=QUIET)
    except TimeoutError:
        return True
    return False


def test_a_room_spans_two_servers_in_one_order():
    with (
        RedisServer() as broker,
        bus_server(broker.url) as first,
        bus_server(broker.url) as second,
    ):

        async def scene():
            ada = await connected(first, "ada", "lobby")
            bob = await connected(second, "bob", "lobby")
            cy = await connected(first, "cy", "lobby")
            di = await connected(second, "di", "kitchen")  # another room
            said = {name: [f"{name} {n}" for n in range(30)] for name in ("ada", "bob")}

            async def talk(client, name):
                for text in said[name]:
                    await client.chat("lobby", text)

            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(talk(ada, "ada"))
                tasks.create_task(talk(bob, "bob"))
                hearing = [tasks.create_task(heard(c, 60)) for c in (ada, bob, cy)]
            sequences = [task.result() for task in hearing]
            # One order for every member, whichever server it is on...
            assert sequences[0] == sequences[1] == sequences[2]
            # ...with each sender's messages in the order they were sent.
            for name in said:
                assert [m for who, m in sequences[0] if who == name] == said[name]
            assert await hears_nothing(di)
            for client in (ada, bob, cy, di):
                await client.close()

        run(scene())


def test_with_redis_gone_a_message_comes_back_as_an_error():
    with (
        RedisServer() as broker,
        bus_server(broker.url) as first,
        bus_server(broker.url) as second,
    ):

        async def scene():
            ada = await connected(first, "ada", "lobby")
            bob = await connected(second, "bob", "lobby")
            broker.stop()
            await ada.chat("lobby", "is anyone there?")
            assert await ada.expect_error() == "not sent, Redis is unreachable"
            assert await hears_nothing(bob)
            # The server goes on: its own requests still work.
            await ada.join("kitchen")
            for client in (ada, bob):
                await client.close()

        run(scene())
        assert first.process.poll() is None


def test_delivery_resumes_once_redis_is_back():
    with (
        RedisServer() as broker,
        bus_server(broker.url) as first,
        bus_server(broker.url) as second,
    ):

        async def scene():
            ada = await connected(first, "ada", "lobby")
            bob = await connected(second, "bob", "lobby")
            broker.stop()
            broker.start()  # the same port, and empty: each server listens again
            async with asyncio.timeout(20):
                while True:
                    await ada.chat("lobby", "back?")
                    try:
                        message = await bob.expect(action="chat", within=QUIET)
                        break
                    except TimeoutError:
                        continue
            assert message["message"] == "back?"
            for client in (ada, bob):
                await client.close()

        run(scene())


def test_a_server_without_redis_refuses_to_start():
    unreachable = f"redis://127.0.0.1:{free_port()}"
    with (
        pytest.raises(AssertionError, match="did not say where it listens") as failed,
        ServerProcess(BUS_SERVER, "--redis", unreachable),
    ):
        pass
    assert f"cannot reach Redis at {unreachable}" in str(failed.value)
