"""The timeline figures that _ext/book.py draws from real runs of their programs."""

import os
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
import book  # noqa: E402


def drawn(folder):
    """Each figure file in `folder`, with the time it was last written."""
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


def test_a_figure_is_drawn_again_only_when_its_program_is_newer(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "FIGURES", tmp_path)
    timelines = {"loop": "examples/loop/sockets.py --busiest"}
    app = SimpleNamespace(config=SimpleNamespace(book_timelines=timelines))

    book.draw_timelines(app)
    first = drawn(tmp_path)
    assert set(first) == {"loop.svg", "loop.pdf"}
    assert (tmp_path / "loop.svg").read_text().lstrip().startswith("<?xml")

    book.draw_timelines(app)  # nothing changed: the same files, not written again
    assert drawn(tmp_path) == first

    os.utime(tmp_path / "loop.pdf", ns=(0, 0))  # as if drawn before the program
    book.draw_timelines(app)
    again = drawn(tmp_path)
    assert again["loop.pdf"] > first["loop.pdf"]
    assert again["loop.svg"] > first["loop.svg"]  # both, from the same run
