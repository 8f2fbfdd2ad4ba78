"""Two hosts, one Redis: redis_chat.py on two machines that Linux pretends.

    sudo python examples/web/two_hosts.py      # Linux only, as root

Each "host" is a network namespace: a network stack of its own, with its
own interfaces and addresses, that sees nothing of this machine's. A veth
pair, a virtual cable, links each one to this machine:

    host a                        this machine                       host b
    10.233.N.2 ------------- 10.233.N.1  Redis  10.233.M.1 ------------- 10.233.M.2

redis_chat.py runs in each, listening on its host's address only, and both
use the Redis that runs here, on the far end of their cable. Redis refuses
connections from other hosts unless it has a password (its "protected
mode"): this one gets a new random one, which the chats give in its URL. Then ada joins
the chat on host a, bob on host b, cy on host a again, and ada speaks. At
the end everything is taken down: the processes, then the namespaces (which
takes their cables with them).
"""

import asyncio
import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

HERE = Path(__file__).parent
STARTUP_TIMEOUT = 20.0  # seconds a process may take to say where it listens


class Host:
    """A network namespace, cabled to this machine: our end and its end."""

    def __init__(self, name, subnet):
        self.name = name
        unique = f"{os.getpid() % 100_000}{name}"  # interface names: 15 bytes at most
        self.namespace = f"chat-{unique}"
        self.cable = f"ch{unique}"  # our end of the veth pair
        self.our_address = f"10.233.{subnet}.1"
        self.address = f"10.233.{subnet}.2"

    def __enter__(self):
        ip("netns", "add", self.namespace)
        try:
            # The pair is made here, its far end straight in the namespace (where
            # the name eth0 is free, whatever this machine calls its own).
            peer = ["peer", "name", "eth0", "netns", self.namespace]
            ip("link", "add", self.cable, "type", "veth", *peer)
            ip("addr", "add", f"{self.our_address}/24", "dev", self.cable)
            ip("link", "set", self.cable, "up")
            inside = ["-n", self.namespace]
            ip(*inside, "addr", "add", f"{self.address}/24", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info):
        # Deleting the namespace deletes its end of the cable, and so the cable.
        ip("netns", "delete", self.namespace)

    def command(self, *args):
        """A command line that runs `args` on this host."""
        return ["ip", "netns", "exec", self.namespace, *args]


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def process(command, stdout=subprocess.DEVNULL):
    """Run a program for as long as the `with` block lasts."""
    running = subprocess.Popen(command, stdout=stdout, stderr=subprocess.DEVNULL)
    try:
        yield running
    finally:
        running.terminate()
        try:
            running.wait(10)
        except subprocess.TimeoutExpired:
            running.kill()
            running.wait()


@contextlib.contextmanager
def redis_for(hosts):
    """A redis-server here, on our end of each host's cable: (port, password)."""
    port, password = free_port(), secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as folder:
        command = ["redis-server", "--port", str(port), "--dir", folder]
        command += ["--bind", *(host.our_address for host in hosts)]
        command += ["--requirepass", password]  # no password, no other hosts
        command += ["--save", "", "--appendonly", "no"]  # nothing on disk
        with process(command):
            until_listening(hosts[0].our_address, port)
            yield port, password


def until_listening(address, port, attempts=200):
    """Wait until something accepts connections at address:port (up to 10 s)."""
    for _ in range(attempts):
        with contextlib.suppress(OSError), socket.create_connection((address, port)):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port}")


@contextlib.contextmanager
def chat_on(host, redis_port, password):
    """redis_chat.py on `host`, using the Redis at our end of its cable."""
    redis_url = f"redis://:{password}@{host.our_address}:{redis_port}"
    command = host.command(sys.executable, str(HERE / "redis_chat.py"))
    command += ["--host", host.address, "--port", "0", "--redis", redis_url]
    with process(command, stdout=subprocess.PIPE) as chat, chat.stdout:
        line = chat.stdout.readline().decode()  # "listening on HOST:PORT"
        found = re.fullmatch(r"listening on (\S+):(\d+)\n", line)
        if not found:
            raise RuntimeError(f"redis_chat.py did not start on host {host.name}")
        yield f"ws://{found[1]}:{found[2]}/chat"


async def scene(url_a, url_b):
    """ada and cy on host a, bob on host b; ada speaks."""
    people = {"ada": url_a, "bob": url_b, "cy": url_a}
    sockets = {}
    for name, url in people.items():
        sockets[name] = await connect(url, open_timeout=STARTUP_TIMEOUT)
        await sockets[name].recv()  # the welcome
    await sockets["ada"].send(json.dumps({"sender": "ada", "message": "hello"}))
    for name, ws in sockets.items():
        host = "a" if people[name] == url_a else "b"
        async with asyncio.timeout(5):
            heard = json.loads(await ws.recv())
        print(f"{name}, on host {host}, heard {heard['sender']}: {heard['message']}")
        await ws.close()


def main():
    if os.geteuid() != 0:
        sys.exit("network namespaces need root: sudo python examples/web/two_hosts.py")
    subnet = os.getpid() % 100 * 2  # two subnets of our own, for two hosts
    with (
        Host("a", subnet) as host_a,
        Host("b", subnet + 1) as host_b,
        redis_for([host_a, host_b]) as (redis_port, password),
        chat_on(host_a, redis_port, password) as url_a,
        chat_on(host_b, redis_port, password) as url_b,
    ):
        print(f"host a: the chat at {url_a}")
        print(f"host b: the chat at {url_b}")
        print(f"both use Redis, port {redis_port}, at their cable's other end")
        asyncio.run(scene(url_a, url_b))


if __name__ == "__main__":
    main()
