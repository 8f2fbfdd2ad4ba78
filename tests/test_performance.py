"""Chapter 40: the asyncio.Protocol baseline speaks the chat protocol; the bench runs.

The baseline, examples/performance/protocol_server.py, is what the benchmark
divides every figure by: it must be the same protocol as server20.py, so it is
driven here by the same wire-level client (tests/chatwire.py) through the same
requests, refusals and limits. The benchmark itself is run once, short
(`--quick`), for the shape of what it writes, never for its figures.
"""

import asyncio
import json
import signal
import time

import pytest
from chatwire import (
    ChatClient,
    assert_quiet,
    connected,
    frame,
    raw_frame,
    run,
)
from conftest import ROOT, ServerProcess, check_clean, run_example
from test_chat_server20 import join_leave_and_rejoin, talk_in_two_rooms

BASELINE = "examples/performance/protocol_server.py"
BENCH = "examples/performance/bench_servers.py"
GOODBYE = {"action": "goodbye", "reason": "server shutting down"}


def baseline(*args):
    return ServerProcess(BASELINE, *args)


# --- talking ------------------------------------------------------------------


def test_three_clients_chat_across_two_rooms_in_order():
    with baseline() as server:
        run(talk_in_two_rooms(server))
        assert_quiet(server)


def test_leaving_a_room_stops_its_messages_and_names_are_freed():
    with baseline() as server:
        run(join_leave_and_rejoin(server))
        assert_quiet(server)


# --- refusals: the same reasons as server20 (chapter 10's table) --------------

REFUSALS = {
    "invalid JSON": (raw_frame(b'{"action": "chat",'), "message is not valid JSON"),
    "invalid UTF-8": (raw_frame(b'{"action":"\xff"}'), "message is not valid UTF-8"),
    "a JSON array": (raw_frame(b'["connect","ada"]'), "message must be a JSON object"),
    # "message is nested too deeply" where json recurses that deep (before 3.13)
    "nested too deeply": (raw_frame(b"[" * 5000 + b"]" * 5000), "message "),
    "no action": (frame({"username": "ada"}), 'a request needs an "action" string'),
    "unknown action": (frame({"action": "dance"}), "unknown action 'dance'"),
    "room not a string": (
        frame({"action": "joinroom", "room": 5}),
        '"joinroom" needs a "room" string',
    ),
    "room with a newline": (
        frame({"action": "joinroom", "room": "a\nb"}),
        '"room" must be printable',
    ),
    "chat in a room not joined": (
        frame({"action": "chat", "room": "elsewhere", "message": "hi"}),
        "join room 'elsewhere' before chatting in it",
    ),
    "leave a room not joined": (
        frame({"action": "leaveroom", "room": "elsewhere"}),
        "not in room 'elsewhere'",
    ),
    "connect twice": (
        frame({"action": "connect", "username": "someone else"}),
        "already connected as",
    ),
}


@pytest.fixture(scope="module")
def shared_server():
    """One baseline for many small tests; checked for a clean stderr at the end."""
    with baseline() as server:
        yield server
        assert_quiet(server)


async def refuse(server, name, bad, reason):
    client = await connected(server, f"{name}-client", "lobby")
    bystander = await connected(server, f"{name}-bystander", "lobby")
    await client.send_bytes(bad)
    assert (await client.expect_error()).startswith(reason)
    # The connection is still open and works, and the bystander saw nothing odd.
    await client.chat("lobby", "still here")
    for each in (client, bystander):
        await each.expect(action="chat", message="still here")
    await client.close()
    await bystander.close()


@pytest.mark.parametrize("name", REFUSALS)
def test_a_bad_request_gets_its_reason_and_the_connection_stays_open(
    shared_server, name
):
    bad, reason = REFUSALS[name]
    run(refuse(shared_server, name.replace(" ", "-"), bad, reason))


async def refuse_before_connect_and_taken_names(server):
    first = await ChatClient.open(server)
    await first.send({"action": "joinroom", "room": "lobby"})
    assert await first.expect_error() == 'send "connect" with your username first'
    await first.connect("taken")
    second = await ChatClient.open(server)
    await second.send({"action": "connect", "username": "taken"})
    assert await second.expect_error() == "username 'taken' is taken"
    await second.connect("not-taken")
    for n in range(100):
        await second.join(f"room {n}")
    await second.send({"action": "joinroom", "room": "one too many"})
    assert await second.expect_error() == "already in 100 rooms"
    await first.close()
    await second.close()


def test_requests_before_connect_taken_names_and_too_many_rooms(shared_server):
    run(refuse_before_connect_and_taken_names(shared_server))


async def enforce_size_limit(server, limit):
    bystander = await connected(server, "bystander", "lobby")
    client = await connected(server, "exact", "lobby")
    request = {"action": "chat", "room": "lobby", "message": ""}
    request["message"] = "x" * (limit - len(frame(request)) + 4)
    assert len(frame(request)) == 4 + limit  # exactly the limit: fine
    await client.send(request)
    for each in (client, bystander):
        await each.expect(action="chat", message=request["message"])
    # One byte more, body and all in one write: refused from the header, with a
    # reason that arrives before the connection closes.
    await client.send_bytes(raw_frame(b"x" * (limit + 1)))
    reason = await client.expect_error(within=5)
    assert reason == f"frame of {limit + 1} bytes is over the limit of {limit}"
    assert await client.is_closed_by_server(within=5)
    await client.close()
    await bystander.chat("lobby", "unharmed")
    await bystander.expect(action="chat", message="unharmed")
    await bystander.close()


def test_an_oversized_frame_is_refused_from_its_header():
    with baseline("--max-message-bytes", "1024") as server:
        run(enforce_size_limit(server, 1024))
        assert_quiet(server)


async def many_frames_in_one_write(server):
    # 500 chats in one write: more than one turn's worth of frames (the rest
    # waits for the loop's next turn), all answered, in order.
    client = await connected(server, "burst", "lobby")
    await client.send_bytes(
        b"".join(
            frame({"action": "chat", "room": "lobby", "message": str(n)})
            for n in range(500)
        )
    )
    for n in range(500):
        await client.expect(action="chat", message=str(n))
    await client.close()


def test_a_burst_of_frames_in_one_write_is_handled_in_order(shared_server):
    run(many_frames_in_one_write(shared_server))


# --- slow and idle clients ----------------------------------------------------


async def drop_the_sloth(server):
    sender = await connected(server, "sender", "lobby")
    reader = await connected(server, "reader", "lobby")
    sloth = await connected(server, "sloth", "lobby", receive_buffer=4096)
    text = "x" * 30_000
    for n in range(300):  # 9 MB: more than the kernel's buffers take
        started = time.monotonic()
        await sender.chat("lobby", f"{n} {text}")
        for client in (sender, reader):
            message = await client.expect(action="chat", within=5)
            assert message["message"] == f"{n} {text}"
        assert time.monotonic() - started < 2.0
    # The sloth reads the start of the conversation in order, then why it was
    # dropped, then the end of the connection.
    messages, reset = await sloth.receive_until_closed()
    assert not reset
    assert messages[-1]["action"] == "error"
    assert messages[-1]["reason"].startswith("too slow")
    got = [m["message"] for m in messages if m["action"] == "chat"]
    assert 0 < len(got) < 300
    assert got == [f"{n} {text}" for n in range(len(got))]
    for client in (sender, reader, sloth):
        await client.close()


def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on():
    with baseline("--queue-size", "8") as server:
        run(drop_the_sloth(server))
        errors = assert_quiet(server)
    assert "dropping sloth: too slow" in errors


async def be_dropped_when_idle(server):
    idle = await connected(server, "idle")
    talker = await connected(server, "talker", "lobby")
    for n in range(8):  # 2 s of talk, a frame every 0.25 s: never idle
        await talker.chat("lobby", str(n))
        await talker.expect(action="chat", message=str(n))
        await asyncio.sleep(0.25)
    assert await idle.expect_error(within=1) == "idle for more than 1 s"
    assert await idle.is_closed_by_server()
    await talker.chat("lobby", "still here")
    await talker.expect(action="chat", message="still here")
    await idle.close()
    await talker.close()


def test_an_idle_client_is_dropped_with_a_reason():
    with baseline("--idle-timeout", "1") as server:
        run(be_dropped_when_idle(server))
        assert_quiet(server)


# --- shutdown -----------------------------------------------------------------


async def shut_down_with_clients(server):
    alice = await connected(server, "alice", "lobby")
    bob = await connected(server, "bob", "lobby")
    stranger = await ChatClient.open(server)
    for n in range(50):
        await alice.chat("lobby", str(n))
    await bob.expect(action="chat", message="0")
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    for client in (alice, bob, stranger):
        messages, reset = await client.receive_until_closed()
        assert not reset
        assert messages[-1] == GOODBYE
    assert await asyncio.to_thread(server.process.wait, 10) == 0
    assert time.monotonic() - started < 3.0
    for client in (alice, bob, stranger):
        await client.close()


def test_sigterm_says_goodbye_to_everyone_and_exits_0():
    with baseline() as server:
        run(shut_down_with_clients(server))
        assert_quiet(server)


# --- the same on uvloop ---------------------------------------------------------


def test_the_baseline_runs_unchanged_on_uvloop():
    pytest.importorskip("uvloop")  # not on Windows; pyproject.toml installs it
    on_uvloop = ServerProcess("examples/performance/on_uvloop.py")
    # on_uvloop.py SCRIPT OPTIONS: the script comes before --host and --port.
    after_launcher = on_uvloop.command.index("--host")
    on_uvloop.command.insert(after_launcher, str(ROOT / BASELINE))
    with on_uvloop as server:
        run(talk_in_two_rooms(server))
        assert_quiet(server)


# --- the load generator and the benchmark ------------------------------------


def test_the_load_generator_reports_a_fan_out():
    loadgen = "examples/performance/loadgen.py"
    with baseline() as server:
        options = ["--members", "20", "--messages", "5"]
        options += ["--port", str(server.port), "--server-pid", str(server.process.pid)]
        done = run_example(loadgen, "fanout", *options, python_flags=())
        check_clean(done)
        assert_quiet(server)
    figures = json.loads(done.stdout)
    for key in ("cpu_per_delivery_us", "reach_all_ms", "server_busy", "loadgen_busy"):
        assert figures[key] > 0, figures


def ratio_cells(table):
    """The rows of a Markdown table after its header: lists of cells."""
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    header, *rows = lines
    columns = header.count("|")
    for row in rows:
        assert row.count("|") == columns, row
    return header, [row.strip("|").split(" | ")[2:-1] for row in rows]


def test_the_quick_benchmark_writes_a_table_of_positive_ratios(tmp_path):
    table, figures = tmp_path / "results.md", tmp_path / "results.json"
    arguments = ["--quick", "--table", str(table), "--json", str(figures)]
    done = run_example(BENCH, *arguments, python_flags=(), timeout=300)
    check_clean(done)
    assert done.stdout.strip() == table.read_text().strip()
    results = json.loads(figures.read_text())
    tcp, web = table.read_text().split("Web chat")
    web, targets = web.split("server20 against its targets")
    tcp_servers = ["baseline", "server20"]
    if "baseline, uvloop" in results["rooms-rate"]:
        tcp_servers += ["baseline, uvloop", "server20, uvloop"]
    web_servers = ["websockets", "asgi", "aiohttp", "sanic", "django"]
    for part, servers, scenarios, rows in [
        (tcp, tcp_servers, 8, 13),
        (web, web_servers, 3, 4),
    ]:
        header, cells = ratio_cells(part)
        assert header.split(" | ")[2:-1] == servers[1:]
        assert len(cells) == rows
        for row in cells:
            for text in row:  # "1.23 [4.5 us]": a ratio, then the absolute figure
                assert float(text.split()[0]) > 0, row
        named = [name for name in results if set(results[name]) == set(servers)]
        assert len(named) == scenarios
    # Each target: the scenario, the figure, the bound, server20's figure, met or not.
    targets = [line.split(" | ") for line in targets.splitlines() if "| " in line]
    assert len(targets) == 1 + 7, targets
    for _, _, bound, figure, met in targets[1:]:
        assert bound.split()[:2] in (["at", "most"], ["at", "least"]), bound
        assert float(figure.split()[0]) > 0 and met in ("yes |", "no |"), figure


def test_the_costs_of_the_pieces_are_measured():
    done = run_example("examples/performance/costs.py", "--quick", python_flags=())
    check_clean(done)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 12, done.stdout
    assert rows[0].startswith("| per delivery |")
    assert rows[7].startswith("| per client |")
    figures = [  # a costly piece of work, and its cheaper replacement
        [float(cell) for cell in row.strip("|").split(" | ")[1:4:2]]
        for row in rows[1:7] + rows[8:]
    ]
    assert all(costly > 0 and cheaper > 0 for costly, cheaper in figures), rows
    # Memory does not move with the machine's load: the cheaper piece keeps less.
    assert all(costly > cheaper for costly, cheaper in figures[6:]), rows
