"""Chapter 1's examples do what the chapter says they do."""

import itertools
import json
import re
import socket
import subprocess
import sys
import time

import pytest
from conftest import ROOT, check_clean, run_example


def test_slowserver_runs_standalone_and_answers_slowly():
    server = subprocess.Popen(
        [sys.executable, "-X", "dev", "examples/intro/slowserver.py", "--delay", "0.3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = server.stdout.readline()
        match = re.fullmatch(r"listening on (127\.0\.0\.1):(\d+)\n", first_line)
        assert match, first_line
        started = time.perf_counter()
        with socket.create_connection((match[1], int(match[2])), timeout=5) as conn:
            conn.sendall(b"hello\n")
            with conn.makefile("rb") as replies:
                assert replies.readline() == b"reply to hello\n"
        assert time.perf_counter() - started >= 0.25  # it took its --delay 0.3
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert "Traceback" not in stderr, stderr


def seconds_per_way(output):
    times = re.findall(
        r"^([\w-]+):\s+([\d.]+) s  \['reply to first', 'reply to second'\]$",
        output,
        re.MULTILINE,
    )
    return {way: float(seconds) for way, seconds in times}


def test_fetch_two_concurrently_takes_half_the_time():
    run = run_example("examples/intro/fetch_two.py")
    check_clean(run)
    times = seconds_per_way(run.stdout)
    assert set(times) == {"in-a-row", "threads", "asyncio"}, run.stdout
    assert 0.9 < times["in-a-row"] < 3  # two half-second answers, one after the other
    assert times["threads"] < 0.75 * times["in-a-row"]
    assert times["asyncio"] < 0.75 * times["in-a-row"]


@pytest.mark.parametrize("way", ["in-a-row", "threads", "asyncio"])
def test_fetch_two_runs_one_way(way):
    run = run_example("examples/intro/fetch_two.py", way)
    check_clean(run)
    assert list(seconds_per_way(run.stdout)) == [way]


def lost_updates(output):
    match = re.fullmatch(
        r"expected 400 visits, stored (\d+): lost (\d+) updates\n", output
    )
    assert match, output
    stored, lost = int(match[1]), int(match[2])
    assert stored + lost == 400
    return lost


def test_threads_lose_updates():
    run = run_example("examples/intro/race_threads.py")
    check_clean(run)
    assert lost_updates(run.stdout) > 0


def test_asyncio_without_await_between_loses_nothing():
    run = run_example("examples/intro/race_asyncio.py")
    check_clean(run)
    assert lost_updates(run.stdout) == 0


def test_asyncio_with_await_between_loses_updates():
    run = run_example("examples/intro/race_asyncio.py", "--await-between")
    check_clean(run)
    assert lost_updates(run.stdout) > 0


def test_blocking_call_delays_the_ticker_and_to_thread_does_not():
    run = run_example("examples/intro/blocking.py")
    check_clean(run)
    gaps = [
        float(gap)
        for gap in re.findall(r"longest gap between ticks: ([\d.]+) s", run.stdout)
    ]
    blocked, unblocked = gaps
    assert blocked >= 0.45  # the ticker waited for time.sleep(0.5)
    assert unblocked < 0.3  # it woke up about every 0.1 s
    assert "<- late!" in run.stdout.split("asyncio.to_thread")[0]
    # Debug mode (-X dev, as run_example runs it) names the task that blocked.
    assert re.search(
        r"Executing <Task .*name='slow call'.* took 0\.\d+ seconds", run.stderr
    )


def test_blocking_call_is_silent_without_debug_mode():
    run = run_example("examples/intro/blocking.py", python_flags=())
    check_clean(run)
    assert run.stderr == ""


def test_timeline_json_shape_and_interleaving():
    run = run_example("examples/intro/timeline.py", "--json", python_flags=())
    check_clean(run)
    slices = json.loads(run.stdout)  # nothing but JSON on stdout
    assert isinstance(slices, list) and slices
    for piece in slices:
        assert set(piece) == {"task", "start", "end"}
        assert isinstance(piece["task"], str)
        assert 0 <= piece["start"] <= piece["end"] < 1.5  # the run takes about 0.5 s
    assert {piece["task"] for piece in slices} == {"download-a", "download-b", "ticker"}
    in_order = sorted(slices, key=lambda piece: piece["start"])
    # One thread: no two slices overlap in time...
    for before, after in itertools.pairwise(in_order):
        assert before["end"] <= after["start"] + 1e-6
    # ...and the tasks take turns: the task changes many times.
    switches = sum(a["task"] != b["task"] for a, b in itertools.pairwise(in_order))
    assert switches >= 8
    # The parsing work gives slices a visible width.
    assert max(piece["end"] - piece["start"] for piece in slices) >= 0.01


def test_timeline_prints_text_by_default():
    run = run_example("examples/intro/timeline.py")
    check_clean(run)
    for task in ("download-a", "download-b", "ticker"):
        assert re.search(rf"^\s*{task} \|[# ]+\|$", run.stdout, re.MULTILINE), task
