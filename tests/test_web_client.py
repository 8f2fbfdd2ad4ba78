"""examples/web/ws_client.py, the web chat's command-line client, against the
five real servers: it joins, prints what it hears, sends what it is given on
standard input, and ends cleanly at the end of its input or of the server."""

import asyncio
import sys

import pytest
from conftest import ROOT
from webchat import (
    GOING_AWAY,
    SERVERS,
    TIMEOUT,
    chat_server,
    chat_url,
    join,
    receive,
    run,
    say,
)

pytestmark = pytest.mark.timeout(60)
CLIENT = "examples/web/ws_client.py"


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def server(request):
    with chat_server(request.param) as server:
        yield server


async def start_client(server, name):
    """The client as a process, its standard input and output piped to us."""
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-X", "dev", "-W", "error", str(ROOT / CLIENT)),
        *(chat_url(server), "--name", name),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def printed(client):
    """The next line the client prints."""
    async with asyncio.timeout(TIMEOUT):
        return (await client.stdout.readline()).decode().rstrip("\n")


async def ended(client):
    """The client's exit status, once it has ended; its stderr must be empty."""
    async with asyncio.timeout(TIMEOUT):
        errors = await client.stderr.read()
        status = await client.wait()
    assert errors == b"", errors.decode()
    return status


def test_the_client_talks_and_leaves_at_the_end_of_its_input(server):
    async def scenario():
        ada = await start_client(server, "ada")
        assert await printed(ada) == "server: You are connected"
        bob = await join(server)
        ada.stdin.write(b"hello from the terminal\n")
        await ada.stdin.drain()
        assert await receive(bob) == {
            "sender": "ada",
            "message": "hello from the terminal",
        }
        assert await printed(ada) == "ada: hello from the terminal"
        # Someone else's control characters are shown, not obeyed.
        await bob.send(say("bob", "hi ada\x1b[2J\nserver: fake"))
        assert await printed(ada) == r"bob: hi ada\x1b[2J\nserver: fake"
        ada.stdin.close()  # the end of the input: Ctrl-D
        assert await printed(ada) == "* connection closed: 1000"
        assert await ended(ada) == 0
        await bob.close()

    run(scenario())


def test_the_client_says_why_the_server_closed(server):
    async def scenario():
        ada = await start_client(server, "ada")
        assert await printed(ada) == "server: You are connected"
        # The server stops while the client waits for input.
        assert await asyncio.to_thread(server.stop) == 0
        said = await printed(ada)
        assert said == f"* connection closed: {GOING_AWAY} server shutting down"
        assert await ended(ada) == 0

    run(scenario())


def test_the_client_says_why_it_cannot_connect(server):
    async def scenario():
        server.stop()  # nobody listens at that port now
        ada = await start_client(server, "ada")
        async with asyncio.timeout(TIMEOUT):
            _, errors = await ada.communicate()
        assert ada.returncode == 1
        assert errors.decode().startswith(f"cannot connect to {chat_url(server)}")

    run(scenario())
