"""The chat client, examples/chat/client.py, in a real terminal against server20.

Each test starts a tmux server of its own (a private socket, a 100x30 window),
runs the client in it, types with `send-keys` and reads the screen with
`capture-pane`. The other side of each conversation is a plain wire client from
chatwire.py. Screens are polled until a deadline, never read after a fixed sleep,
so a slow machine only makes the tests slower.
"""

import asyncio
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import trustme
from chatwire import assert_quiet, connected, run
from conftest import ROOT, TROUBLE, ServerProcess, require_tool, run_example

CLIENT = "examples/chat/client.py"
SERVER = "examples/chat/server20.py"
DEADLINE = 15.0  # seconds to wait for anything to show up
POLL = 0.1  # seconds between two looks at the screen
TMUX_CONFIG = """\
set -g remain-on-exit on
set -g status off
set -g default-shell /bin/sh
"""


class Terminal:
    """A private tmux server with one 100x30 window: a terminal the test drives.

    `remain-on-exit` keeps the window, and so the client's last words, on screen
    after the client has ended; the shell command records its exit status in a
    file, and its standard error in another (so that the notes of asyncio's
    debug mode, -X dev, do not scribble on the screen the test reads).
    """

    def __init__(self, tmux, folder):
        self.tmux = tmux
        self.socket = f"chat-client-test-{uuid.uuid4().hex}"
        self.config = folder / "tmux.conf"
        self.config.write_text(TMUX_CONFIG)
        self.status_file = folder / "exit-status"
        self.stderr_file = folder / "stderr"
        self.socket_path = None
        self.environment = {k: v for k, v in os.environ.items() if k != "TMUX"}

    def command(self, *args):
        return [self.tmux, "-L", self.socket, "-f", str(self.config), *args]

    async def tmux_run(self, *args):
        """Run one tmux command against our server; its standard output."""
        process = await asyncio.create_subprocess_exec(
            *self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, f"tmux {args}: {err.decode()}"
        return out.decode()

    async def start_client(self, server, username, *options):
        """Run the client in the window, connected to `server` as `username`."""
        client = [sys.executable, "-X", "dev", "-W", "error", CLIENT]
        client += [*where(server), "--username", username, *map(str, options)]
        status, stderr = shlex.quote(str(self.status_file)), str(self.stderr_file)
        shell = f"{shlex.join(client)} 2> {shlex.quote(stderr)}; echo $? > {status}"
        window = ["-s", "chat", "-x", "100", "-y", "30", "-c", str(ROOT)]
        await self.tmux_run("new-session", "-d", *window, shell)
        # Where tmux put its socket, to remove it once the server is killed.
        found = await self.tmux_run("display-message", "-p", "#{socket_path}")
        self.socket_path = Path(found.strip())

    async def screen(self):
        """What the window shows now, as text."""
        return await self.tmux_run("capture-pane", "-p", "-t", "chat")

    async def type(self, text):
        """Type `text` without pressing Enter (-l: no key names, just text)."""
        await self.tmux_run("send-keys", "-t", "chat", "-l", text)

    async def press(self, key):
        """Press a key by its tmux name: Enter, C-d, C-c..."""
        await self.tmux_run("send-keys", "-t", "chat", key)

    async def enter(self, line):
        await self.type(line)
        await self.press("Enter")

    async def wait_until(self, check, what):
        """Poll the screen until check(screen) is true; the screen then."""
        deadline = time.monotonic() + DEADLINE
        while True:
            screen = await self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"waited {DEADLINE:g} s for {what}; the screen:\n{screen}")
            await asyncio.sleep(POLL)

    async def wait_for(self, *texts):
        """Wait until the screen shows every one of `texts`."""
        return await self.wait_until(
            lambda screen: all(text in screen for text in texts), repr(texts)
        )

    async def wait_for_prompt(self, expected):
        """Wait until the prompt line (the last line written) is `expected`."""
        return await self.wait_until(
            lambda screen: prompt_line(screen) == expected, f"prompt {expected!r}"
        )

    async def exit_status(self):
        """Wait for the client to end; its exit status."""
        deadline = time.monotonic() + DEADLINE
        while not self.status_file.exists() or not self.status_file.read_text():
            if time.monotonic() > deadline:
                pytest.fail(f"the client is still running:\n{await self.screen()}")
            await asyncio.sleep(POLL)
        return int(self.status_file.read_text())

    def stderr(self):
        return self.stderr_file.read_text() if self.stderr_file.exists() else ""

    def kill(self):
        """Stop the tmux server, and with it whatever still runs in its window."""
        subprocess.run(
            self.command("kill-server"), capture_output=True, env=self.environment
        )
        if self.socket_path:
            self.socket_path.unlink(missing_ok=True)


def prompt_line(screen):
    """The last line with something on it: the prompt while the client runs."""
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# Under -X dev, asyncio reports a step that held the loop over 0.1 s as
# "Executing <Task ...> took 0.196 seconds": the client must not cause one.
SLOW_STEP = "Executing <"


def assert_no_trouble(terminal, screen):
    """No traceback or asyncio warning, on the screen or on standard error."""
    stderr = terminal.stderr()
    for word in (*TROUBLE, SLOW_STEP):
        assert word not in screen, f"{word!r} on the screen:\n{screen}"
        assert word not in stderr, f"{word!r} in the client's stderr:\n{stderr}"


async def next_chat_from(client, sender):
    """The next chat message `client` receives from `sender`, skipping others."""
    while True:
        message = await client.receive(DEADLINE)
        if message.get("action") == "chat" and message.get("from") == sender:
            return message


def where(server):
    """The client's options that point it at `server`."""
    return "--host", server.host, "--port", str(server.port)


async def start_in_lobby(terminal, server, username, *options):
    """Start the client and wait until it is in the lobby, prompt showing."""
    await terminal.start_client(server, username, *options)
    await terminal.wait_for("* you joined lobby")
    await terminal.wait_for_prompt("lobby>")


@pytest.fixture
def server():
    with ServerProcess(SERVER) as server:
        yield server
        assert_quiet(server)


@pytest.fixture
def terminal(tmp_path):
    terminal = Terminal(require_tool("tmux"), tmp_path)
    yield terminal
    terminal.kill()


def test_a_typed_line_is_said_in_the_room(server, terminal):
    async def scenario():
        async with await connected(server, "bob", "lobby") as bob:
            await start_in_lobby(terminal, server, "alice")
            await terminal.enter("hello everyone, how are you?")
            message = await next_chat_from(bob, "alice")
            assert message["room"] == "lobby"
            assert message["message"] == "hello everyone, how are you?"
            # The server relays it to alice too, and the client shows it.
            await terminal.wait_for("[lobby] alice: hello everyone, how are you?")

    run(scenario())


def test_a_message_arriving_while_typing_leaves_the_line_intact(server, terminal):
    async def scenario():
        async with await connected(server, "bob", "lobby") as bob:
            await start_in_lobby(terminal, server, "alice")
            await terminal.type("half of a long sen")
            await terminal.wait_for_prompt("lobby> half of a long sen")

            await bob.chat("lobby", "interrupting you!")
            # prompt_toolkit erases the prompt, prints, then draws the prompt
            # again: wait for the end of that, the line and the prompt both shown.
            screen = await terminal.wait_until(
                lambda screen: (
                    "[lobby] bob: interrupting you!" in screen
                    and prompt_line(screen) == "lobby> half of a long sen"
                ),
                "bob's line above the half-typed one",
            )
            # Printed above the prompt, and the line being typed is untouched.
            lines = [line.rstrip() for line in screen.splitlines()]
            incoming = lines.index("[lobby] bob: interrupting you!")
            assert incoming < lines.index("lobby> half of a long sen"), screen
            assert screen.count("half of a long sen") == 1, screen

            await terminal.enter("tence, finished")
            message = await next_chat_from(bob, "alice")
            assert message["message"] == "half of a long sentence, finished"
            await terminal.wait_for("[lobby] alice: half of a long sentence, finished")

    run(scenario())


def test_join_makes_the_new_room_current(server, terminal):
    async def scenario():
        async with await connected(server, "bob", "kitchen") as bob:
            await start_in_lobby(terminal, server, "alice")
            await terminal.enter("/join kitchen")
            await terminal.wait_for("* you joined kitchen")
            await terminal.wait_for_prompt("kitchen>")

            await terminal.enter("what's cooking?")
            message = await next_chat_from(bob, "alice")
            assert message["room"] == "kitchen"
            assert message["message"] == "what's cooking?"

            await bob.chat("kitchen", "soup")
            await terminal.wait_for("[kitchen] bob: soup")

    run(scenario())


def test_leave_goes_back_to_the_room_before(server, terminal):
    async def scenario():
        async with await connected(server, "bob", "lobby", "kitchen") as bob:
            await start_in_lobby(terminal, server, "alice")
            await terminal.enter("/join kitchen")
            await terminal.wait_for_prompt("kitchen>")
            await terminal.enter("/leave kitchen")
            await terminal.wait_for("* you left kitchen")
            await terminal.wait_for_prompt("lobby>")

            # A room's messages arrive in order: once the lobby's second message
            # is on screen, the kitchen's would be too, had alice still been there.
            await bob.chat("kitchen", "anyone in the kitchen?")
            await bob.chat("lobby", "back in the lobby")
            screen = await terminal.wait_for("[lobby] bob: back in the lobby")
            assert "anyone in the kitchen?" not in screen

            await terminal.enter("hi again")
            message = await next_chat_from(bob, "alice")
            assert (message["room"], message["message"]) == ("lobby", "hi again")

    run(scenario())


def test_a_refused_join_leaves_the_current_room_as_it_was(server, terminal):
    async def scenario():
        async with await connected(server, "bob", "lobby") as bob:
            await start_in_lobby(terminal, server, "alice")
            await terminal.enter("/join " + "x" * 70)  # a name over 64 characters
            await terminal.wait_for('! server error: "room" must be 1 to 64 characters')
            await terminal.wait_for_prompt("lobby>")
            await terminal.enter("still in the lobby")
            message = await next_chat_from(bob, "alice")
            assert (message["room"], message["message"]) == (
                "lobby",
                "still in the lobby",
            )

    run(scenario())


def test_server_errors_are_shown(server, terminal):
    async def scenario():
        await start_in_lobby(terminal, server, "alice")
        await terminal.enter("/leave nowhere")
        await terminal.wait_for("! server error: not in room 'nowhere'")
        await terminal.wait_for_prompt("lobby>")

    run(scenario())


# send-keys sends an argument that names no key, such as "/quit", as text.
@pytest.mark.parametrize(
    "keys", [["/quit", "Enter"], ["C-d"], ["C-c"]], ids=["quit", "ctrl-d", "ctrl-c"]
)
def test_leaving_the_chat_exits_cleanly(server, terminal, keys):
    async def scenario():
        await start_in_lobby(terminal, server, "alice")
        for key in keys:
            await terminal.press(key)
        assert await terminal.exit_status() == 0
        screen = await terminal.wait_for("bye")
        assert_no_trouble(terminal, screen)

    run(scenario())


def test_the_server_going_away_ends_the_client_cleanly(server, terminal):
    async def scenario():
        await start_in_lobby(terminal, server, "alice")
        await terminal.type("never sent")
        await terminal.wait_for_prompt("lobby> never sent")
        assert await asyncio.to_thread(server.stop) == 0
        screen = await terminal.wait_for(
            "! the server says goodbye: server shutting down",
            "the server closed the connection",
        )
        assert await terminal.exit_status() == 0
        assert_no_trouble(terminal, screen)

    run(scenario())


def test_chat_over_tls(terminal, tmp_path):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    certfile, keyfile, cafile = (
        tmp_path / name for name in ("c.pem", "k.pem", "ca.pem")
    )
    certificate.cert_chain_pems[0].write_to_path(certfile)
    certificate.private_key_pem.write_to_path(keyfile)
    authority.cert_pem.write_to_path(cafile)
    tls = ssl.create_default_context(cafile=cafile)

    async def scenario(server):
        async with await connected(server, "bob", "lobby", ssl=tls) as bob:
            await start_in_lobby(terminal, server, "alice", "--tls", "--cafile", cafile)
            await terminal.enter("this is private")
            message = await next_chat_from(bob, "alice")
            assert message["message"] == "this is private"

    arguments = ("--certfile", str(certfile), "--keyfile", str(keyfile))
    with ServerProcess(SERVER, *arguments) as server:
        run(scenario(server))
        # Without our authority, the client does not trust the certificate.
        untrusting = run_example(CLIENT, *where(server), "--username", "eve", "--tls")
        assert untrusting.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in untrusting.stderr
        assert "Traceback" not in untrusting.stderr
        assert_quiet(server)


# --- Failures before the chat begins: no prompt yet, so no terminal needed --


def test_a_taken_username_is_refused_readably(server):
    async def scenario():
        async with await connected(server, "bob"):
            return await asyncio.to_thread(
                run_example, CLIENT, *where(server), "--username", "bob"
            )

    result = run(scenario())
    assert result.returncode == 1
    assert "cannot log in as 'bob': username 'bob' is taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_server_is_reported_readably():
    # A port of our own that nothing listens on: connecting to it is refused.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = str(unused.getsockname()[1])
        result = run_example(CLIENT, "--port", port, "--username", "alice")
    assert result.returncode == 1
    assert "cannot connect to" in result.stderr
    assert "Traceback" not in result.stderr
