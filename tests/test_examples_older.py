"""The programs of the appendix (docs/90-reading-older-code.md) do what it says.

What the appendix shows them printing is replayed by tests/test_docs_console.py."""

import sys

from conftest import run_example

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
