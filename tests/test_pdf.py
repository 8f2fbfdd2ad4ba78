"""The PDF handouts: one per chapter and the whole book, with titles and code in them."""

import re
import subprocess
from pathlib import Path

import pytest
from conftest import BUILD, ROOT, require_build, require_tool

CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))


def title(chapter):
    return re.search(r"^# (.+)$", chapter.read_text(), re.MULTILINE).group(1)


def first_code_line(chapter):
    """The first non-blank line of the chapter's first executed code block."""
    block = re.search(r"^```python\n(.*?)^```", chapter.read_text(), re.M | re.S)
    return next(line for line in block.group(1).splitlines() if line.strip())


def pdf_text(name):
    pdf = require_build("latex", f"{name}.pdf")
    pdftotext = require_tool("pdftotext")
    run = subprocess.run([pdftotext, "-layout", pdf, "-"], capture_output=True, check=True)
    return run.stdout.decode()


def flat(text):
    """Text without the line breaks, hyphenation and spacing that layout adds."""
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("\u201c", '"')
                  .replace("\u201d", '"'))  # fmt: skip


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_each_chapter_has_a_handout_with_its_title_and_code(chapter):
    text = flat(pdf_text(chapter.stem))
    assert flat(title(chapter)) in text
    assert flat(first_code_line(chapter).strip()) in text


def test_the_whole_book_holds_every_chapter():
    text = flat(pdf_text("asyncio-by-building"))
    for chapter in CHAPTERS:
        assert flat(title(chapter)) in text


def test_no_build_path_leaks_into_a_pdf():
    pdfs = sorted(require_build("latex").glob("*.pdf"))
    assert len(pdfs) == len(CHAPTERS) + 1
    for pdf in pdfs:
        text = pdf_text(pdf.stem)
        for path in {str(ROOT), str(BUILD), str(Path.home())}:
            assert path not in text, f"{pdf.name} shows {path}"
