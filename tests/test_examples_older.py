"""The programs of the appendix (docs/90-reading-older-code.md) do what it says.

What the appendix shows them printing is replayed by tests/test_docs_console.py."""

import socket
import sys
import time

from conftest import ServerProcess, check_clean, run_example

PAGES = "['<HOME PAGE>', '<NEWS PAGE>', '<ABOUT PAGE>']\n"
NO_CURRENT_LOOP = "There is no current event loop"


def test_modern_style_runs_cleanly():
    run = run_example(
        "examples/older/modern_style.py", python_flags=("-X", "dev", "-W", "error")
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout == PAGES


def test_legacy_style_depends_on_the_python_version():
    run = run_example(
        "examples/older/legacy_style.py", python_flags=("-X", "dev", "-W", "always")
    )
    if sys.version_info >= (3, 14):  # get_event_loop() no longer creates a loop
        assert run.returncode == 1
        assert f"RuntimeError: {NO_CURRENT_LOOP} in thread 'MainThread'." in run.stderr
        return
    assert run.returncode == 0, run.stderr
    assert run.stdout == PAGES  # the same as the modern version
    if sys.version_info >= (3, 12):
        assert f"DeprecationWarning: {NO_CURRENT_LOOP}" in run.stderr
    elif sys.version_info >= (3, 11, 2):  # 3.11.0 and 3.11.1 warned, later ones not
        assert run.stderr == ""


def test_echo_protocol_demonstration_prints_the_callbacks_in_order():
    run = run_example("examples/older/echo_protocol.py")
    check_clean(run)
    assert run.stdout.splitlines() == [
        "server: a client connected",  # connection_made
        "client: got HELLO",  # data_received, then transport.write
        "client: got OLD FRIEND",
        "server: the client left",  # connection_lost
    ]


def test_echo_protocol_server_puts_lines_together_from_any_pieces():
    """A real client sends a line in two pieces, then two lines in one piece."""
    with ServerProcess("examples/older/echo_protocol.py", "--serve") as server:
        address = (server.host, server.port)
        with (
            socket.create_connection(address, timeout=5) as conn,
            conn.makefile("rb") as replies,
        ):
            conn.sendall(b"hel")
            time.sleep(0.05)  # the first piece arrives on its own
            conn.sendall(b"lo\nsecond\nthi")
            assert replies.readline() == b"HELLO\n"
            assert replies.readline() == b"SECOND\n"
            conn.sendall(b"rd\n")
            assert replies.readline() == b"THIRD\n"
        time.sleep(0.1)  # let the server see the client leave
        server.assert_clean()
    assert server.stdout_lines[1:] == [
        "server: a client connected\n",
        "server: the client left\n",
    ]
