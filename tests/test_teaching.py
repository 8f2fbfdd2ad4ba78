"""The pages for teachers: the cheat sheet's code runs and prints what it shows,
its error messages are the ones its chapters show, and the teacher's guide covers
every chapter."""

import re
import sys

import pytest
from conftest import ROOT, chapter_title
from test_docs_code import check_page

CHEATSHEET = ROOT / "teaching" / "cheatsheet.md"
CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))
# An item of the cheat sheet's list: - `message`: fix ({doc}`ch. N </docs/X>`)
MESSAGE_ROW = re.compile(r"^- `([^`]+)`.*\(\{doc\}`[^<`]*</docs/([^>]+)>`\)$", re.M)


def test_the_cheatsheet_code_runs_and_prints_what_it_shows():
    check_page(CHEATSHEET)


def message_rows():
    return MESSAGE_ROW.findall(CHEATSHEET.read_text())


def test_the_cheatsheet_lists_ten_messages():
    assert len(message_rows()) == 10


@pytest.mark.parametrize("message, chapter", message_rows())
def test_each_message_is_one_its_chapter_shows(message, chapter):
    """Each fixed part of the message (around any `...`) is in the chapter."""
    text = (ROOT / "docs" / f"{chapter}.md").read_text()
    for part in message.split("..."):
        assert part.strip() in text, f"{chapter} never shows {part.strip()!r}"


GUIDE = ROOT / "teaching" / "teachers-guide.md"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_the_teachers_guide_covers_every_chapter(chapter):
    """A section per chapter, titled as the chapter is, that links to it."""
    guide = GUIDE.read_text()
    assert f"\n### {chapter_title(chapter)}\n" in guide
    assert f"{{doc}}`/docs/{chapter.stem}`" in guide


def test_the_teachers_guide_has_both_course_plans():
    guide = GUIDE.read_text()
    assert "\n## A one-day workshop\n" in guide
    assert "\n## A six-week course\n" in guide


# The answer keys' pages, as _ext/handouts.py writes them from the chapters.
sys.path.insert(0, str(ROOT / "_ext"))
import handouts  # noqa: E402

EXERCISE = re.compile(r"^### (Exercise \d+: .+)$", re.M)
SOLUTION = re.compile(r"^::::\{dropdown\} Solution\n(.*?)^::::$", re.M | re.S)
WITH_EXERCISES = [path for path in CHAPTERS if EXERCISE.search(path.read_text())]


@pytest.mark.parametrize(
    "chapter", WITH_EXERCISES, ids=[path.stem for path in WITH_EXERCISES]
)
def test_an_answer_key_page_has_each_solution_under_its_exercise(chapter):
    key = handouts.answer_key(chapter)
    text = chapter.read_text()
    headings = EXERCISE.findall(text)
    solutions = SOLUTION.findall(text)
    assert len(solutions) == len(headings)  # one solution per exercise
    place = 0
    for heading, solution in zip(headings, solutions, strict=True):
        place = key.index(f"\n## {heading}\n", place)
        first_line = solution.strip().splitlines()[0]
        if "](#" not in first_line:  # links to the chapter's sections are rewritten
            assert key.index(first_line, place) > place
    assert "](#" not in key, "a link to a section would point at the answer key"
