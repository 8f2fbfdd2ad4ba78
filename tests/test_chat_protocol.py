"""The chat protocol, checked on every step that speaks it (steps 5 to 20).

What a step once gained, every later step keeps: each test below runs on the
first step that claims the behaviour and on every step after it.
"""

import asyncio
import struct

import pytest
from chatwire import (
    ChatClient,
    assert_quiet,
    connected,
    frame,
    raw_frame,
    run,
)
from conftest import ServerProcess

STEPS = {
    5: "examples/chat/server05.py",
    6: "examples/chat/server06.py",
    7: "examples/chat/server07.py",
    8: "examples/chat/server08.py",
    9: "examples/chat/server09.py",
    10: "examples/chat/server10.py",
    11: "examples/chat/server11.py",
    12: "examples/chat/server12.py",
    13: "examples/chat/server13.py",
    14: "examples/chat/server14.py",
    15: "examples/chat/server15.py",
    16: "examples/chat/server16.py",
    17: "examples/chat/server17.py",
    18: "examples/chat/server18.py",
    19: "examples/chat/server19.py",
    20: "examples/chat/server20.py",
}


def steps_from(first):
    return [pytest.param(STEPS[n], id=f"step{n:02}") for n in STEPS if n >= first]


BAD_FRAMES = [
    raw_frame(b'{"action": "chat",'),  # invalid JSON
    raw_frame(b'{"action": "\xff\xfe"}'),  # invalid UTF-8
    raw_frame(b""),
    raw_frame(b'["connect", "ada"]'),  # not an object
    raw_frame(b"null"),
    raw_frame(b"[" * 5000 + b"]" * 5000),  # nested too deeply for json
    raw_frame(b'{"action": ' + b"9" * 5000 + b"}"),  # too many digits for int
    frame({"username": "ada"}),  # no action
    frame({"action": ["connect"]}),
    frame({"action": "dance"}),
    frame({"action": "connect"}),
    frame({"action": "connect", "username": 42}),
    frame({"action": "connect", "username": ""}),
    frame({"action": "connect", "username": "x" * 65}),
    frame({"action": "connect", "username": "ada\n12:00 ERROR forged"}),
    frame({"action": "connect", "username": "x" + " " * 60_000}),  # long, padded
    frame({"action": "connect", "username": " ada"}),  # looks like "ada"
    frame({"action": "connect", "username": "ada "}),
    frame({"action": "connect", "username": "rene\u0301"}),  # not NFC: "rené"
    frame({"action": "joinroom", "room": "lobby "}),
    frame({"action": "joinroom", "room": "\x1b[2J"}),
    frame({"action": "joinroom", "room": None}),
    frame({"action": "leaveroom"}),
    frame({"action": "chat", "room": "lobby"}),
    frame({"action": "chat", "room": "lobby", "message": ["hi"]}),
]
BEFORE_CONNECT = [
    {"action": "joinroom", "room": "lobby"},
    {"action": "leaveroom", "room": "lobby"},
    {"action": "chat", "room": "lobby", "message": "hi"},
]
AFTER_CONNECT = [
    {"action": "connect", "username": "someone else"},  # connect twice
    {"action": "chat", "room": "elsewhere", "message": "hi"},  # not joined
    {"action": "leaveroom", "room": "elsewhere"},  # not joined
]


async def speak_the_protocol(server):
    client = await ChatClient.open(server)
    for request in BEFORE_CONNECT:
        await client.send(request)
        assert "connect" in await client.expect_error()
    for bad in BAD_FRAMES:
        await client.send_bytes(bad)
        await client.expect_error()
    await client.send({"action": "connect", "username": "ada"})
    assert await client.receive() == {
        "action": "connect",
        "username": "ada",
        "ok": True,
    }
    await client.send({"action": "joinroom", "room": "lobby"})
    assert await client.receive() == {"action": "joinroom", "room": "lobby", "ok": True}
    for request in AFTER_CONNECT:
        await client.send(request)
        await client.expect_error()
    await client.chat("lobby", "hello")
    assert await client.receive() == {
        "action": "chat",
        "room": "lobby",
        "message": "hello",
        "from": "ada",
    }
    await client.send({"action": "leaveroom", "room": "lobby"})
    left = await client.receive()
    assert left == {"action": "leaveroom", "room": "lobby", "ok": True}
    await client.chat("lobby", "still there?")
    assert "lobby" in await client.expect_error()
    # Over the size limit: an error, then the server hangs up.
    await client.send_bytes(struct.pack("<I", 64 * 1024 + 1))
    assert "limit" in await client.expect_error()
    assert await client.is_closed_by_server()
    await client.close()


@pytest.mark.parametrize("path", steps_from(5))
def test_requests_are_confirmed_and_bad_ones_refused_on_an_open_connection(path):
    with ServerProcess(path) as server:
        run(speak_the_protocol(server))
        run(speak_the_protocol(server))  # the name "ada" was freed
        assert_quiet(server)


async def two_of_a_name(server):
    first = await connected(server, "ada", "lobby")
    second = await connected(server, "ada", "lobby")
    await first.chat("lobby", "only I can hear this")
    await first.expect(action="chat", message="only I can hear this")
    await second.chat("lobby", "me too")
    await second.expect(action="chat", message="me too")
    await first.close()
    await second.close()


def test_step05_knows_each_connection_alone():
    with ServerProcess(STEPS[5]) as server:
        run(two_of_a_name(server))
        assert_quiet(server)


async def claim_names(server):
    ada = await connected(server, "ada")
    impostor = await ChatClient.open(server)
    await impostor.send({"action": "connect", "username": "ada"})
    assert "taken" in await impostor.expect_error()
    await impostor.connect("grace")
    await ada.close()
    # The name is free again once its owner has left (the server needs a moment
    # to notice).
    for _ in range(50):
        newcomer = await ChatClient.open(server)
        await newcomer.send({"action": "connect", "username": "ada"})
        reply = await newcomer.receive()
        await newcomer.close()
        if reply.get("ok"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the name 'ada' was never freed")
    await impostor.close()


@pytest.mark.parametrize("path", steps_from(6))
def test_a_username_belongs_to_one_client_at_a_time(path):
    with ServerProcess(path) as server:
        run(claim_names(server))
        assert_quiet(server)


async def chat_in_rooms(server):
    ada = await connected(server, "ada", "lobby")
    bob = await connected(server, "bob", "lobby", "garden")
    cy = await connected(server, "cy", "garden")
    await ada.chat("lobby", "hi lobby")
    for member in (ada, bob):  # the sender too
        await member.expect(action="chat", room="lobby", message="hi lobby")
    await cy.chat("garden", "hi garden")
    for member in (bob, cy):
        await member.expect(action="chat", room="garden", message="hi garden")
    # Nobody got what was not for them: the next message each one receives is
    # this last one, for all three.
    await bob.leave("garden")
    await bob.join("everyone")
    await ada.join("everyone")
    await cy.join("everyone")
    await cy.chat("garden", "bob has gone")
    await cy.expect(action="chat", message="bob has gone")
    await bob.chat("everyone", "last")
    for member in (ada, bob, cy):
        await member.expect(action="chat", room="everyone", message="last")

    # Every member of a room sees its messages in the same order.
    async def say_twenty(talker):
        for n in range(20):
            await talker.chat("everyone", f"{talker.name} {n}")

    await asyncio.gather(say_twenty(ada), say_twenty(cy))
    heard = [[await member.receive() for _ in range(40)] for member in (ada, bob, cy)]
    assert heard[0] == heard[1] == heard[2]
    for client in (ada, bob, cy):
        await client.close()


@pytest.mark.parametrize("path", steps_from(7))
def test_a_chat_reaches_every_member_of_its_room_and_no_one_else(path):
    with ServerProcess(path) as server:
        run(chat_in_rooms(server))
        assert_quiet(server)
