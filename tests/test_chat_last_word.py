"""A last word arrives: the server closes politely, and is not cut off by a reset.

When a program closes a socket that still has unread bytes waiting, or that
receives bytes after it closed, the operating system answers with a reset, and a
reset can destroy data that was on its way to the peer: the server's last words
("server full", "too slow", a goodbye) would never be read. `utils.close_writer`,
given the connection's reader, half-closes first, reads and throws away what the
peer still sends, and closes once the peer has hung up too (chapter 12).
"""

import asyncio

from chatwire import ChatClient, assert_quiet, connected, run
from conftest import ServerProcess

SERVER = "examples/chat/server20.py"
TRIES = 40
FULL = {"action": "error", "reason": "server full, try again later"}


async def refused_newcomer(server):
    """What a newcomer hears when it sends connect, then joinroom, on a full server.

    The two requests are two writes, as an interactive client makes them: the
    second one reaches a server that is already saying no, and closing.
    """
    newcomer = await ChatClient.open(server)
    try:
        await newcomer.send({"action": "connect", "username": "newcomer"})
        await asyncio.sleep(0.001)
        await newcomer.send({"action": "joinroom", "room": "lobby"})
    except OSError as error:  # a reset, or a broken pipe: the server cut us off
        return f"the second write failed: {error!r}"
    messages, reset = await newcomer.receive_until_closed()
    await newcomer.close()
    return "reset" if reset else messages


async def knock_on_a_full_door(server):
    async with await connected(server, "ada", "lobby"), await connected(server, "bob"):
        return [await refused_newcomer(server) for _ in range(TRIES)]


def test_every_refused_client_reads_why():
    with ServerProcess(SERVER, "--max-clients", "2") as server:
        heard = run(knock_on_a_full_door(server))
        assert_quiet(server)
    failures = [each for each in heard if each != [FULL]]
    assert not failures, f"{len(failures)} of {TRIES}: {failures[:3]}"
