"""Other ways to run the web chat: the ping app that the ASGI chapter starts
from, the ASGI applications under uvicorn's own command line, and aiohttp's
three ways to publish a message to everyone."""

import asyncio
import re
import signal
import sys
import time

import pytest
from conftest import ROOT, ServerProcess
from webchat import (
    TIMEOUT,
    chat_in_order,
    chat_server,
    crowd_chat,
    http_get,
    join,
    receive,
    run,
    say,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.timeout(120)

SERVICE_RESTART = 1012  # the close code uvicorn itself uses when it stops


def test_ping_gets_pong():
    async def scenario(server):
        async with connect(f"ws://{server.host}:{server.port}/") as ws:
            await ws.send("hello")  # not "ping": no answer
            await ws.send("ping")
            async with asyncio.timeout(TIMEOUT):
                assert await ws.recv() == "pong!"

    with chat_server("examples/web/asgi_ping.py") as server:
        run(scenario(server))
        # Plain HTTP gets nothing from the app: uvicorn answers 500 itself.
        assert http_get(server, "/")[0] == 500


@pytest.mark.parametrize("publish", ["each", "gather", "tasks"])
def test_aiohttp_publishes_to_everyone_in_order(publish):
    with chat_server("examples/web/aiohttp_chat.py", "--publish", publish) as server:
        run(chat_in_order(server, clients=4, messages=25))
        run(crowd_chat(server, clients=50))


class UvicornCommand(ServerProcess):
    """`uvicorn MODULE:application` run in examples/web/, as the docstrings say.

    uvicorn gives its port only in its log, on standard error.
    """

    cwd = ROOT / "examples" / "web"

    def __init__(self, target, startup_timeout=20):
        super().__init__("", startup_timeout=startup_timeout)
        self.command = [sys.executable, "-X", "dev", "-W", "error", "-m", "uvicorn"]
        self.command += ["--host", "127.0.0.1", "--port", "0", target]

    def wait_until_listening(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            self._stderr.seek(0)
            found = re.search(r"running on http://([\d.]+):(\d+)", self._stderr.read())
            if found:
                return found.groups()
            time.sleep(0.1)
        return None


@pytest.mark.parametrize("target", ["asgi_chat:application", "django_chat:application"])
def test_uvicorn_command_line_runs_the_chat(target):
    async def scenario(server):
        alice = await join(server)  # with its welcome
        await alice.send(say("alice", "hello"))
        assert await receive(alice) == {"sender": "alice", "message": "hello"}
        status = await asyncio.to_thread(server.stop)
        with pytest.raises(ConnectionClosed):
            await receive(alice)
        return status, alice.close_code

    with UvicornCommand(target) as server:
        assert http_get(server, "/")[0] == 200
        status, close_code = run(scenario(server))
        server.assert_clean()
    # Without the examples' ChatServer, uvicorn closes WebSockets with 1012
    # (service restart), and ends by raising the SIGTERM again: status -15.
    assert close_code == SERVICE_RESTART
    assert status in (0, -signal.SIGTERM)
