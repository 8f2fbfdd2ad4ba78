"""The hand-written diffs the chapters show still apply to the files they name.

A ```diff block that starts with `--- PATH` is a real unified diff against a file
of the repository: `patch --dry-run -F0` must apply it exactly, with no fuzz and
no offset, so a reader who types it in gets what the page shows. (A step that
gains or loses lines above a diff's place makes the diff stale: this catches it.)
Blocks without that header are sketches of a change and are not checked.
"""

import re
import subprocess

import pytest
from conftest import ROOT, require_tool

DIFF_BLOCK = re.compile(r"^```diff\n(--- (\S+)\n.*?)^```$", re.MULTILINE | re.DOTALL)


def diff_blocks():
    """(page, line, target path, diff text) of every headed diff in docs/."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        for block in DIFF_BLOCK.finditer(text):
            line = text.count("\n", 0, block.start()) + 1
            found.append((page.name, line, block[2], block[1]))
    return found


BLOCKS = diff_blocks()


def test_the_chapters_have_diffs_to_check():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize(
    "page, line, target, diff",
    BLOCKS,
    ids=[f"{page}:{line}" for page, line, _, _ in BLOCKS],
)
def test_diff_applies_exactly(page, line, target, diff):
    patch = require_tool("patch")
    assert (ROOT / target).is_file(), f"{page}:{line} patches {target}: no such file"
    result = subprocess.run(
        [patch, "--dry-run", "--fuzz=0", "--force", str(ROOT / target)],
        input=diff,
        capture_output=True,
        text=True,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"{page}:{line}: {report}"
    assert "offset" not in report and "fuzz" not in report, f"{page}:{line}: {report}"
