"""The PDF handouts, one per chapter, and the whole book: their titles and code."""

import re
import subprocess
from pathlib import Path

import pytest
from conftest import BUILD, ROOT, chapter_title, plain, require_build, require_tool

# The built site and PDFs are the same whichever Python runs the tests: checked once.
pytestmark = pytest.mark.built_site

CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))


def first_code_line(chapter):
    """The first non-blank line of the chapter's first executed code block."""
    block = re.search(r"^```python\n(.*?)^```", chapter.read_text(), re.M | re.S)
    return next(line for line in block.group(1).splitlines() if line.strip())


def pdf_text(name):
    pdf = require_build("latex", f"{name}.pdf")
    pdftotext = require_tool("pdftotext")
    run = subprocess.run(
        [pdftotext, "-layout", pdf, "-"], capture_output=True, check=True
    )
    return run.stdout.decode()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_each_chapter_has_a_handout_with_its_title_and_code(chapter):
    text = plain(pdf_text(chapter.stem))
    assert plain(chapter_title(chapter)) in text
    assert plain(first_code_line(chapter).strip()) in text


def test_the_whole_book_holds_every_chapter():
    text = plain(pdf_text("asyncio-by-building"))
    for chapter in CHAPTERS:
        assert plain(chapter_title(chapter)) in text


def test_no_build_path_leaks_into_a_pdf():
    books = sorted(require_build("latex").glob("*.tex"))
    assert len(books) == len(CHAPTERS) + 1
    for pdf in books:
        text = pdf_text(pdf.stem)
        for path in {str(ROOT), str(BUILD), str(Path.home())}:
            assert path not in text, f"{pdf.name} shows {path}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_handouts_name_other_chapters_by_title(chapter):
    text = pdf_text(chapter.stem)
    assert "/docs/" not in text
    assert "/notebooks/" not in text
