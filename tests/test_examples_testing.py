"""Chapter 7's example tests (docs/07-testing.md) pass; its traps fail as shown.

The examples are tests themselves, with their own pytest settings
(examples/testing/pytest.ini), so each run is a separate pytest process.
"""

import os
import re
import socket
import subprocess
import sys
import time

import pytest
from conftest import ROOT, ServerProcess, run_example

CHAPTER = ROOT / "docs" / "07-testing.md"
SETTINGS = "examples/testing/pytest.ini"


def run_pytest(*paths, verbosity="-q", timeout=120):
    """Run pytest on example files, with the examples' settings, from the root."""
    # Leave out what the outer pytest (and pytest-xdist) put in the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["COLUMNS"] = "200"  # wide enough that summary lines are not cut short
    command = [sys.executable, "-m", "pytest", "-c", SETTINGS, "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, verbosity, "--tb=short", *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary(result):
    """pytest's last line, e.g. '14 passed in 1.02s', without the time."""
    last = result.stdout.strip().splitlines()[-1]
    return re.sub(r" in [\d.]+s.*$", "", last)


def chapter():
    return CHAPTER.read_text()


PASSING = {
    "examples/testing/test_echo_pytest.py": 4,
    "examples/testing/test_echo_unittest.py": 2,
    "examples/testing/test_echo_anyio.py": 2,
    "examples/testing/test_shared_server.py": 3,
    "examples/testing/test_backoff.py": 3,
    "examples/testing/test_long_line.py": 2,
    "examples/testing/test_signup.py": 4,
    "examples/testing/test_cleanup.py": 3,
    "examples/testing/test_virtual_time.py": 4,
    "examples/testing/test_queue_fixture.py": 2,
}

# Modules that the example tests import and exercise: the code under test.
CODE_UNDER_TEST = {
    "examples/testing/signup.py": "examples/testing/test_signup.py",
    "examples/testing/queries.py": "examples/testing/test_cleanup.py",
    "examples/testing/virtual_time.py": "examples/testing/test_virtual_time.py",
}


@pytest.mark.parametrize("path", PASSING)
def test_example_test_file_passes(path):
    result = run_pytest(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result) == f"{PASSING[path]} passed"  # and no warnings


def test_the_whole_folder_passes_without_the_traps():
    result = run_pytest("examples/testing")
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(result) == f"{sum(PASSING.values())} passed"
    assert "trap_" not in result.stdout
    assert f"\n{sum(PASSING.values())} passed in " in chapter()


@pytest.mark.parametrize(
    "path",
    [
        "examples/testing/test_echo_pytest.py",
        "examples/testing/test_shared_server.py",
        "examples/testing/test_backoff.py",
    ],
)
def test_chapter_shows_the_verbose_runs(path):
    """The chapter's `pytest -v --no-header` listings are what pytest prints."""
    result = run_pytest("--no-header", path, verbosity="-v")
    assert result.returncode == 0, result.stdout
    passed = [line for line in result.stdout.splitlines() if " PASSED " in line]
    assert len(passed) == PASSING[path]
    for line in passed:
        name = line.split()[0]  # the chapter's listing is 88 columns wide
        assert re.search(rf"^{re.escape(name)} PASSED +\[ *\d+%\]$", chapter(), re.M)


def test_readers_get_the_examples_settings_without_asking():
    """`python -m pytest examples/testing/...` finds examples/testing/pytest.ini."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    collect = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co"]
    result = subprocess.run(
        [*collect, "examples/testing/test_echo_pytest.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configfile: pytest.ini" in result.stdout
    assert "asyncio: mode=Mode.STRICT, debug=True" in result.stdout


def test_the_unittest_file_runs_on_its_own():
    result = run_example("examples/testing/test_echo_unittest.py")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Ran 2 tests in [\d.]+s\n\nOK\n$", result.stderr, re.M)
    assert "Traceback" not in result.stderr


def test_trap_no_marker_fails_with_pytests_message():
    result = run_pytest("examples/testing/trap_no_marker.py")
    assert result.returncode == 1
    assert "async def functions are not natively supported." in result.stdout
    assert summary(result) == "1 failed"


def test_trap_shared_connection_fails_on_a_different_loop():
    result = run_pytest("examples/testing/trap_shared_connection.py")
    assert result.returncode == 1
    assert summary(result) == "1 failed"
    assert re.search(
        r"E +RuntimeError: Task <Task pending name='Task-\d+' "
        r"coro=<test_echoes_a_line\(\) .*> got Future <Future pending.*> "
        r"attached to a different loop",
        result.stdout,
    ), result.stdout


def test_trap_hanging_fails_fast_both_ways():
    started = time.perf_counter()
    result = run_pytest("examples/testing/trap_hanging.py")
    assert time.perf_counter() - started < 60  # it does not hang
    assert result.returncode == 1
    assert summary(result) == "2 failed"
    lines = result.stdout.splitlines()
    assert (
        "FAILED examples/testing/trap_hanging.py::test_with_a_timeout_inside"
        " - TimeoutError"
    ) in lines
    assert "E   Failed: Timeout (>1.0s) from pytest-timeout." in lines
    assert "Traceback" not in result.stderr


def test_chapter_shows_the_exact_messages():
    text = chapter()
    for message in [
        "async def functions are not natively supported.",
        "attached to a different loop",
        "Failed: Timeout (>1.0s) from pytest-timeout.",
        "ScopeMismatch: You tried to access the function scoped fixture "
        "_function_scoped_runner with a session scoped request object.",
    ]:
        assert message in text, message


def test_session_fixture_on_function_loops_is_a_scope_mismatch(tmp_path):
    """The chapter's claim about a session-scoped async fixture, checked."""
    test_file = tmp_path / "test_scope_mismatch.py"
    test_file.write_text(
        "import asyncio, pytest, pytest_asyncio\n"
        "@pytest_asyncio.fixture(scope='session')\n"
        "async def queue():\n"
        "    yield asyncio.Queue()\n"
        "@pytest.mark.asyncio\n"
        "async def test_it(queue):\n"
        "    pass\n"
        "@pytest.mark.asyncio\n"
        "async def test_without_it():\n"
        "    pass\n"
    )
    result = run_pytest(str(test_file))
    assert result.returncode == 1
    # An error at the set-up of the test that asks for it; the other one passes.
    assert summary(result) == "1 passed, 1 error"
    assert "ERROR at setup of test_it" in result.stdout
    assert (
        "ScopeMismatch: You tried to access the function scoped fixture "
        "_function_scoped_runner with a session scoped request object."
    ) in result.stdout


@pytest.mark.parametrize("module", CODE_UNDER_TEST)
def test_code_under_test_is_imported_by_its_passing_tests(module):
    test_file = CODE_UNDER_TEST[module]
    name = module.removesuffix(".py").rsplit("/", 1)[-1]
    source = (ROOT / test_file).read_text()
    assert re.search(rf"^(import {name}|from {name} import )", source, re.M)
    assert test_file in PASSING


def test_trap_plain_mock_cannot_be_awaited():
    result = run_pytest("examples/testing/trap_plain_mock.py")
    assert result.returncode == 1
    assert summary(result) == "1 failed"
    message = "E   TypeError: object Mock can't be used in 'await' expression"
    assert message in result.stdout.splitlines()
    assert message.removeprefix("E   ") in chapter()


def test_trap_leaky_catches_the_leaked_connection_and_the_leaked_task():
    result = run_pytest("examples/testing/trap_leaky.py")
    assert result.returncode == 1
    assert summary(result) == "1 failed, 1 passed, 1 error"
    lines = result.stdout.splitlines()
    assert "E   assert 1 == 0" in lines  # the connection query_leaky kept
    assert "ERROR at teardown of test_forgets_its_heartbeat" in result.stdout
    assert re.search(
        r"E +AssertionError: tasks left running: \{<Task pending name='Task-\d+' "
        r"coro=<heartbeat\(\) running at ",
        result.stdout,
    ), result.stdout


def test_trap_queue_fixture_fails_on_the_second_loop():
    result = run_pytest("examples/testing/trap_queue_fixture.py")
    assert result.returncode == 1
    assert summary(result) == "1 failed, 1 passed"
    assert re.search(
        r"E +RuntimeError: <Queue at 0x[0-9a-f]+ maxsize=0 tasks=1> "
        r"is bound to a different event loop",
        result.stdout,
    ), result.stdout
    assert "test_second_take - RuntimeError" in result.stdout


def test_virtual_time_tests_take_no_real_time():
    """An hour of sleep, a 30 s timeout and a minute of heartbeats: well under 1 s."""
    result = run_pytest("examples/testing/test_virtual_time.py")
    assert result.returncode == 0, result.stdout
    seconds = float(re.search(r" in ([\d.]+)s", result.stdout)[1])
    assert seconds < 1


HANDLER_LEFT_RUNNING = """
import asyncio

async def handle(reader, writer):
    await reader.readline()  # still waiting when the loop shuts down

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.1)  # the handler waits; main returns, nothing closed

asyncio.run(main())
"""


def test_a_handler_cancelled_at_shutdown_logs_a_traceback_on_older_pythons():
    """The chapter's note: 3.11 and early 3.12 (3.12.1 among them) log a traceback
    for each streams handler still running at shutdown; 3.13 does not."""
    result = subprocess.run(
        [sys.executable, "-c", HANDLER_LEFT_RUNNING],
        capture_output=True,
        text=True,
        timeout=60,
    )
    logged = "Exception in callback StreamReaderProtocol.connection_made" in (
        result.stderr
    )
    if sys.version_info[:3] in [(3, 11, 7), (3, 12, 1)]:  # the releases checked here
        assert logged, result.stderr
    if sys.version_info >= (3, 13):
        assert not logged, result.stderr
    assert "3.12.1 among them" in " ".join(chapter().split())


def test_backoff_example_runs():
    result = run_example("examples/testing/backoff.py")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        "attempt failed: refused\nattempt failed: reset\nconnected\n"
    )


def test_echo_server_as_a_real_process():
    with ServerProcess("examples/testing/echo_server.py") as server:
        with socket.create_connection((server.host, server.port), timeout=5) as conn:
            conn.sendall(b"hello\nworld\n")
            with conn.makefile("rb") as replies:
                assert replies.readline() == b"hello\n"
                assert replies.readline() == b"world\n"
        server.assert_clean()


def test_the_books_own_pytest_does_not_collect_the_examples():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = result.stdout.splitlines()
    assert not [line for line in collected if line.startswith("examples/")]
    assert any(line.startswith("tests/test_examples_testing.py") for line in collected)
