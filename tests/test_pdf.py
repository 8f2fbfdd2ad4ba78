"""The PDFs: the whole book, a handout per chapter (its exercises without their
solutions), the answer keys; their titles, code, solutions and page size."""

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from conftest import BUILD, ROOT, chapter_title, plain, require_build, require_tool

# The built site and PDFs are the same whichever Python runs the tests: checked once.
pytestmark = pytest.mark.built_site

CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))
SOLUTION = re.compile(r"^::::\{dropdown\} Solution\n(.*?)^::::$", re.M | re.S)
EXERCISE = re.compile(r"^### (Exercise \d+: .+)$", re.M)
WITH_EXERCISES = [path for path in CHAPTERS if EXERCISE.search(path.read_text())]
# The whole book holds the notebooks and the teachers' pages too.
IN_THE_BOOK = [
    *CHAPTERS,
    *sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.md")),
    *sorted((ROOT / "teaching").glob("*.md")),
]


def first_code_line(chapter):
    """The first non-blank line of the chapter's first tested code block.

    A Python block is run by the tests, a console transcript replayed (chapter 40
    shows its programs by literalinclude, and only transcripts inline).
    """
    block = re.search(
        r"^```(?:python|console)\n(.*?)^```", chapter.read_text(), re.M | re.S
    )
    return next(line for line in block.group(1).splitlines() if line.strip())


def pdf_text(name):
    pdf = require_build("latex", f"{name}.pdf")
    pdftotext = require_tool("pdftotext")
    run = subprocess.run(
        [pdftotext, "-layout", pdf, "-"], capture_output=True, check=True
    )
    return run.stdout.decode()


# The book, a handout per chapter, an answer key per chapter with exercises and one
# for the book, the cheat sheet and the teacher's guide.
EVERY_PDF = {
    "asyncio-by-building",
    "answer-key",
    "cheatsheet",
    "teachers-guide",
    *(path.stem for path in CHAPTERS),
    *(f"{path.stem}-answers" for path in WITH_EXERCISES),
}


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
    assert {book.stem for book in books} == EVERY_PDF
    for pdf in books:
        text = pdf_text(pdf.stem)
        for path in {str(ROOT), str(BUILD), str(Path.home())}:
            assert path not in text, f"{pdf.name} shows {path}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_handouts_name_other_chapters_by_title(chapter):
    text = pdf_text(chapter.stem)
    assert "/docs/" not in text
    assert "/notebooks/" not in text


# Handouts and answer keys (issue 15): a handout's exercises come without their
# solutions, which the chapter's answer key and the whole book's answer key hold.
# Printable unscaled on A4 and US Letter: A4's width, Letter's height, in points.
PAGE_SIZE = "595.276 x 792 pts"


def letters_and_digits(text):
    """Text without what typesetting changes: spaces, hyphens, quotes, ligatures."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())


def exercises_and_solutions(chapter):
    """[(exercise heading, solution Markdown), ...], in the chapter's order."""
    text = chapter.read_text()
    headings = list(EXERCISE.finditer(text))
    pairs = []
    for solution in SOLUTION.finditer(text):
        heading = [h for h in headings if h.start() < solution.start()][-1]
        pairs.append((heading.group(1), solution.group(1)))
    return pairs


def shown_outside_solutions(chapter):
    """A page's text without its solutions, with the programs it includes."""
    rest = SOLUTION.sub("", chapter.read_text())
    for included in re.findall(r"^```\{literalinclude\} /(\S+)", rest, re.M):
        rest += (ROOT / included).read_text()
    return letters_and_digits(rest)


def telltale_lines(solution, *chapters):
    """Lines of a solution that the chapters show nowhere else.

    Long enough to be unlikely anywhere else, and without Markdown markup that
    typesetting turns into something else (links, roles, directive fences).
    """
    shown = "\n".join(shown_outside_solutions(chapter) for chapter in chapters)
    telltales = []
    for line in solution.splitlines():
        text = line.strip()
        if text.startswith(("```", ":")) or "](" in text or "{" in text:
            continue
        if (
            len(letters_and_digits(text)) >= 25
            and letters_and_digits(text) not in shown
        ):
            telltales.append(text)
    return telltales


@pytest.mark.parametrize(
    "chapter", WITH_EXERCISES, ids=[path.stem for path in WITH_EXERCISES]
)
def test_a_handout_has_its_exercises_without_their_solutions(chapter):
    handout = pdf_text(chapter.stem)
    for heading, solution in exercises_and_solutions(chapter):
        assert plain(heading.replace("`", "")) in plain(handout)
        for line in telltale_lines(solution, chapter):
            assert letters_and_digits(line) not in letters_and_digits(handout), line
    assert handout.count("Your answer") == len(exercises_and_solutions(chapter))


# What running code shows, in a solution: a notebook that runs the same code
# shows it too.
OUTPUT_BLOCK = re.compile(
    r"^```(?:\{output\}|\{raises\}|console|text)\n.*?^```$", re.M | re.S
)


def test_the_whole_book_has_no_solutions_either():
    """Lines that only a solution holds: the notebooks' code is not a solution.

    Nor are the outputs their cells print when run (an error message, a test
    report), which a solution may show too.
    """
    book = letters_and_digits(pdf_text("asyncio-by-building"))
    for chapter in WITH_EXERCISES:
        for _, solution in exercises_and_solutions(chapter):
            for line in telltale_lines(OUTPUT_BLOCK.sub("", solution), *IN_THE_BOOK):
                assert letters_and_digits(line) not in book, line


def assert_holds_the_solutions(text, chapter):
    """Each exercise's heading, then most of its solution's telltale lines.

    Most, not all: a line that a page break cuts in two, with the page number
    and a "continued on next page" between its halves, is not found whole.
    """
    found = letters_and_digits(text)
    for heading, solution in exercises_and_solutions(chapter):
        assert plain(heading.replace("`", "")) in plain(text)
        telltales = telltale_lines(solution, chapter)
        present = [line for line in telltales if letters_and_digits(line) in found]
        assert len(present) >= 0.8 * len(telltales), set(telltales) - set(present)


@pytest.mark.parametrize(
    "chapter", WITH_EXERCISES, ids=[path.stem for path in WITH_EXERCISES]
)
def test_an_answer_key_holds_every_solution_of_its_chapter(chapter):
    key = pdf_text(f"{chapter.stem}-answers")
    assert plain(f"Answers: {chapter_title(chapter)}") in plain(key)
    assert_holds_the_solutions(key, chapter)


def test_the_book_answer_key_holds_every_solution():
    key = pdf_text("answer-key")
    for chapter in WITH_EXERCISES:
        assert plain(f"Answers: {chapter_title(chapter)}") in plain(key)
        assert_holds_the_solutions(key, chapter)


def test_every_solution_has_telltale_lines_to_look_for():
    """Otherwise the tests above would pass whatever the PDFs held."""
    for chapter in WITH_EXERCISES:
        for heading, solution in exercises_and_solutions(chapter):
            assert telltale_lines(solution, chapter), f"{chapter.name}: {heading}"


def test_every_pdf_prints_on_a4_and_letter():
    pdfinfo = require_tool("pdfinfo")
    for name in EVERY_PDF:  # not the figures, also PDFs in that folder
        pdf = require_build("latex", f"{name}.pdf")
        info = subprocess.run([pdfinfo, pdf], capture_output=True, check=True)
        assert f"Page size:       {PAGE_SIZE}" in info.stdout.decode(), pdf.name


def test_the_cheatsheet_prints_on_two_pages():
    pdf = require_build("latex", "cheatsheet.pdf")
    info = subprocess.run(
        [require_tool("pdfinfo"), pdf], capture_output=True, check=True
    ).stdout.decode()
    assert re.search(r"^Pages: +2$", info, re.M), info
    text = plain(pdf_text("cheatsheet"))
    for topic in ["TaskGroup", "asyncio.timeout", "as_completed", "to_thread"]:
        assert topic in text


def test_the_teachers_guide_names_every_chapter():
    text = plain(pdf_text("teachers-guide"))
    for chapter in CHAPTERS:
        assert plain(chapter_title(chapter)) in text
    assert "A one-day workshop" in text
    assert "A six-week course" in text
