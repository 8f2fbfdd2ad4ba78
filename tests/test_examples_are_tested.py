"""No program in examples/ goes untested: some test runs each one by its path."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_example_is_named_by_a_test():
    # The tests and their helper modules (tests/webchat.py lists the web servers).
    tests = "".join(path.read_text() for path in (ROOT / "tests").glob("*.py"))
    examples = sorted((ROOT / "examples").rglob("*.py"))
    untested = [
        path.relative_to(ROOT).as_posix()
        for path in examples
        if path.relative_to(ROOT).as_posix() not in tests
    ]
    assert examples, "the book has no examples"
    assert not untested, f"no test runs {untested}"
