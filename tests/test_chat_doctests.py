"""The doctests in examples/chat: utils.py, every step, the client, the benchmark.

The pure helpers there (encoding a frame, decoding a message, checking a request
or a name, the argparse types...) show by example, in their docstrings, what they
return and what they refuse. This runs those examples, each module imported the
way `python -m doctest examples/chat/NAME.py` would: under its own name, with
examples/chat first on sys.path so that `from utils import ...` finds utils.py.

A module must have doctests unless NO_PURE_HELPERS says why it has none, so a new
step with a helper worth showing cannot be forgotten.
"""

import doctest
import importlib.util
import sys

import pytest
from conftest import ROOT

CHAT = ROOT / "examples" / "chat"
MODULES = sorted(path.stem for path in CHAT.glob("*.py"))

# Everything these define reads or writes a connection, or needs one (a Client
# wraps a StreamWriter, and from step 16 the task serving it): the tests that run
# them as servers are where they are checked.
NO_PURE_HELPERS = {
    "server01": "greet() writes to a connection; main() serves",
    "server02": "echo() reads and writes a connection",
    **{
        f"server{step:02}": "every function takes a Client, made from a connection"
        for step in range(7, 19)
    },
}


def import_chat_module(name, monkeypatch):
    """examples/chat/NAME.py, freshly imported, as `python -m doctest` would."""
    monkeypatch.syspath_prepend(str(CHAT))
    # Whatever `utils` an earlier import left, the steps must get ours, fresh.
    monkeypatch.delitem(sys.modules, "utils", raising=False)
    spec = importlib.util.spec_from_file_location(name, CHAT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)  # definitions only: main() is behind __name__
    return module


def doctests_of(module):
    """The docstrings with examples in a module's own functions and classes."""
    found = doctest.DocTestFinder().find(module, module.__name__)
    return [test for test in found if test.examples]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name, monkeypatch):
    module = import_chat_module(name, monkeypatch)
    tests = doctests_of(module)
    if name in NO_PURE_HELPERS:
        # Stale once it gains doctests: then it belongs with the others.
        assert not tests, f"{name}.py has doctests: take it off NO_PURE_HELPERS"
        return
    assert tests, (
        f"examples/chat/{name}.py has no doctests: give its pure helpers examples"
        " in their docstrings, or say in NO_PURE_HELPERS why it has none"
    )
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_every_listed_module_exists():
    missing = sorted(set(NO_PURE_HELPERS) - set(MODULES))
    assert not missing, f"NO_PURE_HELPERS names modules that are gone: {missing}"
