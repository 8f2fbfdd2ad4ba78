"""Shared helpers for the book's tests."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"


def run_example(path, *args, python_flags=("-X", "dev"), timeout=60, **kwargs):
    """Run `examples/...` as a reader would, from the repository root.

    Returns the CompletedProcess with text stdout and stderr; the caller checks it.
    """
    return subprocess.run(
        [sys.executable, *python_flags, str(ROOT / path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def require_tool(name):
    """The path of a system tool; a failure under CI=true, a skip elsewhere."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (noxfile.py installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_build(*parts):
    """A path in the built site or PDFs; missing is a failure under CI=true."""
    path = BUILD.joinpath(*parts)
    if not path.exists():
        message = f"{path.relative_to(ROOT)} is missing: run `python3 dev.py -s docs`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def chapter_title(chapter):
    """The H1 of a chapter's Markdown source."""
    return re.search(r"^# (.+)$", chapter.read_text(), re.MULTILINE).group(1)


def plain(text):
    """Text as typeset: straight quotes, single spaces (for comparing with sources)."""
    for curly, straight in {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
    }.items():
        text = text.replace(curly, straight)
    return re.sub(r"\s+", " ", text).strip()
