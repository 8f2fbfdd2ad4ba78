"""Chapter 33: the Manager design under uvicorn's workers, and the bench.

examples/web/manager_chat.py under two workers delivers a message to every
client; with its Manager's process killed, the workers go on serving the page
but nobody hears anything, the sender is not told, and a newcomer cannot
join (HTTP 500). examples/web/bench_bus.py --quick prints its table, every
row with a figure for each design, and writes its JSON. Every process is
ended by its test.
"""

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import webchat
from conftest import ROOT, require_tool
from webchat import close_all, join, receive, say
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.timeout(180)

MANAGER_CHAT = "examples/web/manager_chat.py"
BENCH = "examples/web/bench_bus.py"
TWO_HOSTS = "examples/web/two_hosts.py"
STARTUP_TIMEOUT = 30.0  # seconds for every worker to start, on a busy machine
POLL_TIMEOUT = 3.0  # manager_chat's: the longest a message may wait to be seen


def run(coroutine):
    """webchat.run with more time: these tests start several processes and Redis."""
    return webchat.run(coroutine, timeout=90)


class ManagerChat:
    """manager_chat.py with its workers started, its address and Manager's pid."""

    def __init__(self, process, log, workers):
        self.process, self.log = process, log
        self.host = "127.0.0.1"
        first, second = process.stdout.readline(), process.stdout.readline()
        self.port = int(re.fullmatch(r"listening on \S+:(\d+)\n", first)[1])
        self.manager_pid = int(re.fullmatch(r"manager pid (\d+)\n", second)[1])
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while self.output().count("Application startup complete") < workers:
            assert time.monotonic() < deadline, self.output()
            assert process.poll() is None, self.output()
            time.sleep(0.1)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def page_status(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("GET", "/")
            return connection.getresponse().status
        finally:
            connection.close()


@contextlib.contextmanager
def manager_chat(workers=2):
    command = [sys.executable, "-X", "dev", "-W", "error", MANAGER_CHAT]
    command += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,  # its own process group: workers, Manager
        )
        try:
            yield ManagerChat(process, log, workers)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            process.stdout.close()
        assert process.returncode == 0, log.read()


async def hears_nothing(ws, within):
    try:
        async with asyncio.timeout(within):
            await ws.recv()
    except TimeoutError:
        return True
    return False


def test_the_manager_chat_under_two_workers_delivers_to_everyone():
    with manager_chat() as chat:

        async def scene():
            crowd = await asyncio.gather(*(join(chat) for _ in range(20)))
            await crowd[0].send(say("ada", "hello, both workers"))
            heard = await asyncio.gather(*(receive(ws) for ws in crowd))
            await close_all(crowd)
            return heard

        assert (
            run(scene()) == [{"sender": "ada", "message": "hello, both workers"}] * 20
        )
        assert "Traceback" not in chat.output()


def test_with_the_manager_killed_the_workers_serve_but_nobody_hears():
    with manager_chat() as chat:

        async def scene():
            crowd = await asyncio.gather(*(join(chat) for _ in range(6)))
            os.kill(chat.manager_pid, signal.SIGKILL)
            await crowd[0].send(say("ada", "is anyone there?"))
            # Nobody hears, the sender included, and nobody says why.
            silent = await asyncio.gather(
                *(hears_nothing(ws, 2 * POLL_TIMEOUT) for ws in crowd)
            )
            assert all(silent)
            assert chat.page_status() == 200  # the workers are alive
            with pytest.raises(InvalidStatus, match="500"):
                await join(chat)  # but a newcomer cannot get a queue
            await close_all(crowd)

        run(scene())
        assert chat.process.poll() is None  # uvicorn's main process too
        assert "cannot reach the Manager" in chat.output()


def can_make_namespaces():
    """None if this process can make a network namespace, or why it cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"chat-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "delete", probe], check=True)
    return None


def test_a_message_said_on_host_a_reaches_host_b():
    if reason := can_make_namespaces():
        pytest.skip(reason)
    require_tool("redis-server")
    before = chat_namespaces()
    command = [sys.executable, "-X", "dev", "-W", "error", TWO_HOSTS]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"host a: the chat at ws://10\.233\.\d+\.2:\d+/chat", lines[0])
    assert re.fullmatch(r"host b: the chat at ws://10\.233\.\d+\.2:\d+/chat", lines[1])
    assert lines[3:] == [
        "ada, on host a, heard ada: hello",
        "bob, on host b, heard ada: hello",
        "cy, on host a, heard ada: hello",
    ]
    assert chat_namespaces() == before  # it took its namespaces down


def chat_namespaces():
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if "chat-" in line}


ROW_LABELS = [
    "fixed rate: latency p50 (ms)",
    "fixed rate: latency p99 (ms)",
    "fixed rate: deliveries lost",
    "fixed rate: out of order",
    "flood: messages/s to all",
    "flood: latency p99 (ms)",
    "flood: deliveries lost",
    "flood: out of order",
    "broker killed at 1/3: sent",
    "broker killed: heard before",
    "broker killed: heard after",
    "broker killed: errors to senders",
    "broker killed: page served",
    "broker killed: new client joins",
]


def test_the_quick_bench_prints_its_table_and_writes_json(tmp_path):
    require_tool("redis-server")
    results = tmp_path / "bus.json"
    command = [sys.executable, BENCH, "--quick", "--json", str(results)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=150, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("20 clients over 2 workers, 200 messages/s")
    assert lines[1].split() == ["manager", "redis"]
    for label, line in zip(ROW_LABELS, lines[2:], strict=True):
        assert line.startswith(label), line
        cells = line.removeprefix(label).split()
        assert len(cells) == 2, line  # one figure per design
        assert all(re.fullmatch(r"[0-9.e+-]+|nan|true|false", c) for c in cells), line
    data = json.loads(results.read_text())
    assert set(data) == {"settings", "manager", "redis"}
    for design in ("manager", "redis"):
        assert set(data[design]) == {"fixed", "flood", "killed"}
        assert len(data[design]["fixed"]) == len(data[design]["flood"]) == 1
