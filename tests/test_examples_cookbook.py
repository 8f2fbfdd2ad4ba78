"""The programs of the cookbook (docs/05-cookbook.md) do what the chapter says."""

import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, TROUBLE, check_clean, run_example
from test_docs_code import blocks_in

CHAPTER = ROOT / "docs" / "05-cookbook.md"
STRICT = ("-X", "dev", "-W", "error")  # debug mode, and every warning is an error


# Worker pool


def pool_report(*args):
    run = run_example("examples/cookbook/worker_pool.py", *args, python_flags=STRICT)
    check_clean(run)
    numbers = {
        name: int(value)
        for value, name in re.findall(
            r"(\d+) (jobs done|failed|jobs in flight|jobs waiting)", run.stdout
        )
    }
    numbers["tasks still running"] = int(
        re.search(r"^tasks still running: (\d+)$", run.stdout, re.MULTILINE)[1]
    )
    limits = [int(limit) for limit in re.findall(r"\(limit (\d+)\)", run.stdout)]
    return run.stdout, numbers, limits


@pytest.mark.parametrize(
    ("workers", "jobs", "queue_size"), [(3, 20, 6), (5, 50, 2), (1, 5, 1)]
)
def test_worker_pool_keeps_its_limits_and_leaves_no_task(workers, jobs, queue_size):
    args = ["--workers", str(workers), "--jobs", str(jobs)]
    _, numbers, limits = pool_report(*args, "--queue-size", str(queue_size))
    assert limits == [workers, queue_size]
    assert numbers["jobs done"] == jobs  # every job got a result, or an error
    assert numbers["failed"] == (1 if jobs > 13 else 0)  # job 13 is the unlucky one
    assert numbers["jobs in flight"] == workers  # reached, never passed
    assert numbers["jobs waiting"] <= queue_size
    assert numbers["tasks still running"] == 0  # no task outlives the pool


def test_worker_pool_reports_the_unlucky_job():
    # The chapter's transcript of this run is replayed by test_docs_console.py.
    output, _, _ = pool_report()
    assert "job 13: ValueError('unlucky job')" in output


def test_the_python_313_recipe_compiles():
    """It runs only on 3.13+ (Queue.shutdown); here, check at least its syntax."""
    newer = [
        block
        for block in blocks_in(CHAPTER.read_text())
        if "python-3.13" in block.options.get("class", "")
    ]
    assert len(newer) == 1
    compile(newer[0].text, "python-3.13 block", "exec")
    assert "queue.shutdown()" in newer[0].text
    assert "except asyncio.QueueShutDown" in newer[0].text


def test_the_python_312_block_compiles():
    """shutdown_default_executor(timeout=...) is new in 3.12: on 3.11, check syntax."""
    newer = [
        block
        for block in blocks_in(CHAPTER.read_text())
        if "python-3.12" in block.options.get("class", "")
    ]
    assert len(newer) == 1
    compile(newer[0].text, "python-3.12 block", "exec")
    assert "shutdown_default_executor(timeout=" in newer[0].text


# The index at the top of the page


def heading_anchor(title):
    """The anchor MyST gives a heading (myst_heading_anchors), GitHub's way."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def test_the_index_links_every_recipe_and_every_link_resolves():
    text = CHAPTER.read_text()
    index = text.split("## The recipes at a glance", 1)[1].split("\n## ", 1)[0]
    anchors = {
        heading_anchor(title)
        for title in re.findall(r"^#{2,3} (.+)$", text, re.MULTILINE)
    }
    linked = re.findall(r"\]\(#([\w-]+)\)", index)
    assert set(linked) <= anchors, set(linked) - anchors  # no link into the void
    recipes = re.findall(r"^## ((?:How do I|Do I need) .+)$", text, re.MULTILINE)
    assert len(recipes) >= 14
    missing = {heading_anchor(title) for title in recipes} - set(linked)
    assert not missing, f"recipes not in the index: {missing}"


# Signals on Windows


def test_loops_without_signal_support_raise_not_implemented():
    """Windows' loops inherit add_signal_handler from BaseEventLoop, which raises."""
    import asyncio.base_events

    loop = asyncio.base_events.BaseEventLoop()
    try:
        with pytest.raises(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, print)
    finally:
        loop.close()


# CPU-bound work


def cpu_report():
    run = run_example("examples/cookbook/cpu_bound.py")  # in debug mode
    check_clean(run)
    pattern = (
        r"^(.+?):\s+(\d+) primes in ([\d.]+) s, longest gap between ticks ([\d.]+) s$"
    )
    ways = {
        way: (int(primes), float(elapsed), float(gap))
        for way, primes, elapsed, gap in re.findall(pattern, run.stdout, re.MULTILINE)
    }
    assert list(ways) == ["in the event loop", "asyncio.to_thread", "process pool"]
    return ways, run.stderr


def test_cpu_bound_ways_agree_and_only_the_loop_blocks():
    ways, stderr = cpu_report()
    assert {primes for primes, _, _ in ways.values()} == {21221}  # primes < 240,000
    _, loop_time, loop_gap = ways["in the event loop"]
    _, _, pool_gap = ways["process pool"]
    assert loop_gap >= 0.8 * loop_time  # the ticker waited for the whole count
    assert pool_gap < 0.5 * loop_gap  # the loop stayed responsive
    # Debug mode names the step that blocked the loop, as the chapter says.
    assert re.search(r"Executing <Task .*> took \d\.\d+ seconds", stderr)


def test_a_lambda_cannot_go_to_a_process_pool():
    run = run_example("examples/cookbook/cpu_bound.py", "--lambda")
    assert run.returncode == 1
    last_line = run.stderr.rstrip().splitlines()[-1]
    # Python 3.13 names the lookup that failed, older ones the pickling.
    verb = "get" if sys.version_info >= (3, 13) else "pickle"
    assert last_line == (
        f"AttributeError: Can't {verb} local object "
        "'hand_over_a_lambda.<locals>.<lambda>'"
    )


# Graceful shutdown


def stop_service(sig, *args):
    """Start the service, let it work a little, send it `sig`; return the result."""
    program = ROOT / "examples/cookbook/graceful_shutdown.py"
    service = subprocess.Popen(
        [sys.executable, "-X", "dev", str(program), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = service.stdout.readline()  # printed once the handlers are set
        assert re.fullmatch(r"running as PID \d+: press Ctrl-C to stop\n", first_line)
        time.sleep(0.2)  # let it handle a few requests
        assert service.poll() is None, service.stderr.read()  # still running
        service.send_signal(sig)
        stdout, stderr = service.communicate(timeout=20)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    return service.returncode, stdout, stderr


unix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="sends POSIX signals to a child process"
)


@unix_only
@pytest.mark.parametrize("way", [[], ["--portable"]], ids=["unix", "portable"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_service_stops_cleanly_on_a_signal(way, sig):
    returncode, stdout, stderr = stop_service(sig, *way)
    for word in TROUBLE:
        assert word not in stderr, stderr
    assert returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == f"main: got {sig.name}, stopping the service"
    assert re.fullmatch(r"service: state saved after \d+ requests", lines[1])
    assert lines[2:] == ["main: stopped cleanly"]


@unix_only
def test_without_handlers_ctrl_c_cancels_main_then_raises_keyboardinterrupt():
    returncode, stdout, stderr = stop_service(signal.SIGINT, "--no-handlers")
    assert returncode == -signal.SIGINT  # ended by the KeyboardInterrupt
    assert re.fullmatch(r"service: state saved after \d+ requests\n", stdout)
    assert stderr.rstrip().splitlines()[-1] == "KeyboardInterrupt"


@unix_only
def test_without_handlers_sigterm_kills_without_cleanup():
    returncode, stdout, stderr = stop_service(signal.SIGTERM, "--no-handlers")
    assert returncode == -signal.SIGTERM  # a shell reports it as 128 + 15 = 143
    assert stdout == ""  # no clean-up at all
    assert "Traceback" not in stderr


# Retry and reconnect


def test_retry_recovers_and_reconnects_without_losing_events():
    run = run_example("examples/cookbook/retry.py", python_flags=STRICT)
    check_clean(run)
    part1, part2 = run.stdout.split("part 2:")
    # Part 1: the server hangs up twice, the third attempt gets the answer.
    assert re.findall(r"attempt (\d) failed", part1) == ["1", "2"]
    assert "answer: Simple is better than complex." in part1
    # The delays are random but below the doubling limit: 0.05 s, then 0.1 s.
    delays = [float(d) for d in re.findall(r"retrying in (\d\.\d\d) s", part1)]
    assert all(d <= limit for d, limit in zip(delays, [0.05, 0.1], strict=True))
    # Part 2: every event exactly once, in order, across three connections.
    events = re.findall(r"^  event (\d+)$", part2, re.MULTILINE)
    assert events == [str(number) for number in range(1, 10)]
    assert part2.count("connection lost") == 3
    assert "attempt 1 failed: ConnectionError('server hung up before sending" in part2


def test_retry_gives_up_when_the_server_stays_down():
    run = run_example("examples/cookbook/retry.py", "--down", python_flags=STRICT)
    check_clean(run, returncode=1)
    assert re.findall(r"attempt (\d) failed", run.stdout) == ["1", "2", "3", "4"]
    assert run.stdout.endswith(
        "gave up: ConnectionError('server hung up without answering')\n"
    )
