"""The diffs between chat steps that the chapters show (`:diff:`, via _ext/book.py).

They leave the module docstrings out, and their hunk headers still give true line
numbers on both sides, so a reader can find each change in either file.
"""

import itertools
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from book import diff_without_docstrings, docstring_length  # noqa: E402

STEPS = sorted((ROOT / "examples" / "chat").glob("server[0-9][0-9].py"))
HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def lines_of(path):
    return path.read_text().splitlines(keepends=True)


def hunks(diff):
    """Each hunk's (old start, new start, lines) from a unified diff."""
    found = []
    for line in diff[2:]:
        if header := HUNK.match(line):
            found.append((int(header[1]), int(header[3]), []))
        else:
            found[-1][2].append(line)
    return found


@pytest.mark.parametrize(
    "old, new", list(itertools.pairwise(STEPS)), ids=lambda path: path.stem
)
def test_step_diff_shows_code_with_true_line_numbers(old, new):
    old_lines, new_lines = lines_of(old), lines_of(new)
    diff = diff_without_docstrings(old_lines, new_lines, old.name, new.name)
    assert diff, f"{new.name} changes nothing in the code of {old.name}"
    for old_start, new_start, body in hunks(diff):
        old_side = [line[1:] for line in body if line[0] in " -"]
        new_side = [line[1:] for line in body if line[0] in " +"]
        assert old_lines[old_start - 1 :][: len(old_side)] == old_side
        assert new_lines[new_start - 1 :][: len(new_side)] == new_side
        assert old_start > docstring_length(old_lines)
        assert new_start > docstring_length(new_lines)


def test_a_docstring_change_alone_shows_no_hunk():
    old = ['"""Step 1."""\n', "\n", "x = 1\n"]
    new = ['"""Step 2.\n', "\n", 'New here: nothing."""\n', "\n", "x = 1\n"]
    assert diff_without_docstrings(old, new, "old.py", "new.py") == []
