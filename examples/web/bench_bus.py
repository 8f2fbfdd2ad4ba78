"""The Manager design and Redis pub/sub, measured side by side.

    python examples/web/bench_bus.py             # about two minutes
    python examples/web/bench_bus.py --quick     # a few seconds: one short round
    python examples/web/bench_bus.py --json bus.json

Both chats run under uvicorn with the same number of workers behind one
port: manager_chat.py, and redis_chat.py with a redis-server that this
program starts on a free port. The same clients, all in this process, talk
to each one in turn, round after round, so that whatever else the machine
does falls on both alike:

- at a fixed rate (200 messages a second in all, from every client in turn):
  how long a message takes to reach each client, median and 99th percentile;
- in a flood (every client sends its share at once): messages a second
  delivered to everyone, and the 99th percentile;
- once, at the end: the broker killed in the middle of a run (the Manager's
  process; redis-server), and who hears what after that.

Each figure is the median of the rounds, with the lowest and highest in
brackets. A message is delivered once for each client that receives it; one
that is not received within the deadline counts as lost.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

HERE = Path(__file__).parent
DESIGNS = ["manager", "redis"]
STARTUP_TIMEOUT = 30.0  # seconds for every worker to start, on a busy machine
DRAIN_TIMEOUT = 10.0  # seconds to wait for the last deliveries after sending
# Seconds with nothing heard, after the last message was sent: nothing more is
# coming. More than manager_chat's POLL_TIMEOUT, the longest it may pause.
QUIET = 4.0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the processes: Redis, and the two chats -------------------------------------


@contextlib.asynccontextmanager
async def redis_server():
    """A redis-server on a free port that keeps nothing: (its URL, its process)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        process = await asyncio.create_subprocess_exec(
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", folder),
            *("--save", "", "--appendonly", "no"),
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            await until_listening(port)
            yield f"redis://127.0.0.1:{port}", process
        finally:
            await end(process)


async def until_listening(port):
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def end(process):
    """SIGTERM, and SIGKILL if it lingers."""
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


class Chat:
    """One of the two chats under uvicorn's workers, on a free port."""

    def __init__(self, design, workers, redis_url, manager_threads=None):
        self.design = design
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __aexit__)
        python = [sys.executable]
        if design == "manager":
            self.command = [*python, str(HERE / "manager_chat.py")]
            self.command += ["--workers", str(workers)]
            if manager_threads:
                self.command += ["--threads", str(manager_threads)]
        else:
            self.command = [*python, "-m", "uvicorn", "--app-dir", str(HERE)]
            self.command += ["redis_chat:application", "--workers", str(workers)]
        self.command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.environment = {**os.environ, "REDIS_URL": redis_url}
        self.workers = workers
        self.manager_pid = None

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/chat"

    async def __aenter__(self):
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdout=self.log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.environment,
        )
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while self.output().count("Application startup complete") < self.workers:
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.design} did not start:\n{self.output()}")
                await asyncio.sleep(0.1)
        if found := re.search(r"manager pid (\d+)", self.output()):
            self.manager_pid = int(found[1])
        return self

    async def __aexit__(self, *exc_info):
        await end(self.process)
        self.log.close()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def alive(self):
        """Does the chat still serve its page?"""
        url = f"http://127.0.0.1:{self.port}/"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200 and self.process.returncode is None
        except OSError:
            return False


# --- the clients ---------------------------------------------------------------------


class Listener:
    """A client that notes when each message reaches it."""

    def __init__(self, ws):
        self.ws = ws
        self.latencies = []  # seconds, one per chat message received
        self.errors = 0  # messages from "server": errors
        self.out_of_order = 0
        self.last_seen = {}  # sender -> number of its last message
        self.last_arrival = time.perf_counter()

    async def listen(self):
        async for text in self.ws:
            now = time.perf_counter()
            self.last_arrival = now
            message = json.loads(text)
            if message["sender"] == "server":  # an error, or some other notice
                self.errors += message["message"].startswith("error")
                continue
            number, sent_at = message["message"].split()
            self.latencies.append(now - float(sent_at))
            previous = self.last_seen.get(message["sender"], -1)
            if int(number) < previous:
                self.out_of_order += 1
            self.last_seen[message["sender"]] = int(number)


async def join(url):
    ws = await connect(url, open_timeout=20, max_queue=None)
    await ws.recv()  # the welcome
    return ws


async def say(ws, sender, number):
    text = f"{number} {time.perf_counter()!r}"
    await ws.send(json.dumps({"sender": sender, "message": text}))


@contextlib.asynccontextmanager
async def crowd(url, clients):
    """`clients` clients, each listening in a task of its own."""
    sockets = [await join(url) for _ in range(clients)]
    listeners = [Listener(ws) for ws in sockets]
    async with asyncio.TaskGroup() as tasks:
        listening = [tasks.create_task(each.listen()) for each in listeners]
        try:
            yield listeners
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
            for task in listening:
                task.cancel()


async def until_quiet(listeners, expected, within=DRAIN_TIMEOUT):
    """Wait until every delivery has come, or nothing has for QUIET seconds."""
    sent = time.perf_counter()
    deadline = sent + within
    while time.perf_counter() < deadline:
        if sum(len(each.latencies) for each in listeners) >= expected:
            return
        last_news = max(sent, *(each.last_arrival for each in listeners))
        if time.perf_counter() - last_news > QUIET:
            return
        await asyncio.sleep(0.05)


def summary(listeners, sent, started, clients):
    latencies = sorted(x for each in listeners for x in each.latencies)
    finished = max(each.last_arrival for each in listeners)
    return {
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "lost": sent * clients - len(latencies),
        "out_of_order": sum(each.out_of_order for each in listeners),
        "messages_per_s": len(latencies) / clients / max(finished - started, 1e-9),
    }


def percentile(ordered, which):
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * which / 100))]


# --- the three measurements -----------------------------------------------------


async def at_fixed_rate(chat, clients, rate, seconds):
    """Every client in turn says something, `rate` messages a second in all."""
    async with crowd(chat.url, clients) as listeners:
        started = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            await say(listeners[n % clients].ws, f"c{n % clients}", n // clients)
        await until_quiet(listeners, total * clients)
        return summary(listeners, total, started, clients)


async def in_a_flood(chat, clients, messages):
    """Every client sends its share of `messages` at once."""
    async with crowd(chat.url, clients) as listeners:
        started = time.perf_counter()
        share = messages // clients

        async def talk(n):
            for number in range(share):
                await say(listeners[n].ws, f"c{n}", number)

        async with asyncio.TaskGroup() as tasks:
            for n in range(clients):
                tasks.create_task(talk(n))
        await until_quiet(listeners, share * clients**2, within=3 * DRAIN_TIMEOUT)
        return summary(listeners, share * clients, started, clients)


async def broker_killed(chat, broker_pid, clients, rate, seconds):
    """A run at a fixed rate; the broker is killed a third of the way through."""
    async with crowd(chat.url, clients) as listeners:
        started = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            if n == total // 3:
                os.kill(broker_pid, signal.SIGKILL)
                killed_at = time.perf_counter()
                heard_before = sum(len(each.latencies) for each in listeners)
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            await say(listeners[n % clients].ws, f"c{n % clients}", n // clients)
        await until_quiet(listeners, total * clients)
        heard = sum(len(each.latencies) for each in listeners)
        # What was said before the kill may still arrive just after it, or
        # fail: the counts are of every message, said before or after.
        return {
            "sent": total,
            "heard_before_kill": round(heard_before / clients),
            "heard_after_kill": round((heard - heard_before) / clients),
            "errors_to_senders": sum(each.errors for each in listeners),
            "seconds_after_kill": round(time.perf_counter() - killed_at, 1),
            "workers_serve_the_page": chat.alive(),
            "new_client_joins": await can_join(chat.url),
        }


async def can_join(url):
    try:
        async with asyncio.timeout(5):
            ws = await join(url)
    except (OSError, TimeoutError, Exception):  # refused, closed, or no answer
        return False
    await ws.close()
    return True


# --- rounds, and the table --------------------------------------------------------


async def measure(args):
    results = {design: {"fixed": [], "flood": []} for design in DESIGNS}
    async with redis_server() as (redis_url, _):
        for round_number in range(args.rounds):
            for design in DESIGNS:
                print(f"round {round_number + 1}: {design}", file=sys.stderr)
                async with Chat(
                    design, args.workers, redis_url, args.manager_threads
                ) as chat:
                    fixed = await at_fixed_rate(
                        chat, args.clients, args.rate, args.seconds
                    )
                    flood = await in_a_flood(chat, args.clients, args.flood)
                results[design]["fixed"].append(fixed)
                results[design]["flood"].append(flood)
    results["manager"]["killed"] = await kill_the_manager(args)
    results["redis"]["killed"] = await kill_redis(args)
    return results


async def kill_the_manager(args):
    async with (
        redis_server() as (redis_url, _),
        Chat("manager", args.workers, redis_url, args.manager_threads) as chat,
    ):
        return await broker_killed(
            chat, chat.manager_pid, args.clients, args.rate, args.seconds
        )


async def kill_redis(args):
    async with (
        redis_server() as (redis_url, redis_process),
        Chat("redis", args.workers, redis_url) as chat,
    ):
        return await broker_killed(
            chat, redis_process.pid, args.clients, args.rate, args.seconds
        )


ROWS = [
    ("fixed", "p50_ms", "fixed rate: latency p50 (ms)"),
    ("fixed", "p99_ms", "fixed rate: latency p99 (ms)"),
    ("fixed", "lost", "fixed rate: deliveries lost"),
    ("fixed", "out_of_order", "fixed rate: out of order"),
    ("flood", "messages_per_s", "flood: messages/s to all"),
    ("flood", "p99_ms", "flood: latency p99 (ms)"),
    ("flood", "lost", "flood: deliveries lost"),
    ("flood", "out_of_order", "flood: out of order"),
]
KILLED_ROWS = [
    ("sent", "broker killed at 1/3: sent"),
    ("heard_before_kill", "broker killed: heard before"),
    ("heard_after_kill", "broker killed: heard after"),
    ("errors_to_senders", "broker killed: errors to senders"),
    ("workers_serve_the_page", "broker killed: page served"),
    ("new_client_joins", "broker killed: new client joins"),
]


def figure(values):
    """The median of the rounds, and [lowest-highest] if they differ."""
    middle = statistics.median(values)
    low, high = min(values), max(values)
    text = f"{middle:.3g}" if middle < 1000 else f"{middle:.0f}"
    if len(values) > 1 and low != high:
        text += (
            f" [{low:.3g}-{high:.3g}]" if high < 1000 else f" [{low:.0f}-{high:.0f}]"
        )
    return text


def table(results):
    width = max(len(label) for *_, label in ROWS + KILLED_ROWS)
    lines = [f"{'':{width}}  {'manager':>24}  {'redis':>24}"]
    for kind, key, label in ROWS:
        cells = [figure([r[key] for r in results[d][kind]]) for d in DESIGNS]
        lines.append(f"{label:{width}}  {cells[0]:>24}  {cells[1]:>24}")
    for key, label in KILLED_ROWS:
        cells = [str(results[d]["killed"][key]).lower() for d in DESIGNS]
        lines.append(f"{label:{width}}  {cells[0]:>24}  {cells[1]:>24}")
    return "\n".join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=3, help="default 3")
    parser.add_argument("--workers", type=int, default=2, help="default 2")
    parser.add_argument("--clients", type=int, default=20, help="default 20")
    parser.add_argument("--rate", type=float, default=200, help="messages/s, 200")
    parser.add_argument("--seconds", type=float, default=5, help="per run, 5")
    parser.add_argument("--flood", type=int, default=2000, help="messages, 2000")
    parser.add_argument(
        "--manager-threads",
        type=int,
        metavar="N",
        help="threads of each manager_chat worker (default: manager_chat's)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.flood = 1, 1.5, 400
    return args


def main():
    args = parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("bench_bus.py needs redis-server (Debian's package redis-server)")
    results = asyncio.run(measure(args))
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    print(file=sys.stderr)
    print(
        f"{args.clients} clients over {args.workers} workers, {args.rate:g} messages/s"
        f" for {args.seconds:g} s, a flood of {args.flood}; median of {args.rounds}"
    )
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, **results}, indent=2))


if __name__ == "__main__":
    main()
