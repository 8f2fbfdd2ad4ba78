"""Every runnable block of the concept chapters, run in the page, as the tests run it.

Pyodide in headless Chromium runs each page's blocks in page order, pressing Run
on each as a reader would; each must print what its {output} block says and raise
what its {raises} block says, with tests/test_docs_code.py's matching rules and the
version conditions that hold for the browser's Python (3.14). A block that cannot
behave so in a browser must say "runs on your machine" instead (see
_ext/runnable.py: NEEDS_A_MACHINE, or the class runs-on-machine).
"""

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from test_docs_code import blocks_in, matches

pytest.importorskip("playwright")

pytestmark = [pytest.mark.built_site, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "docs").glob("0*.md"))

# Presses the block's Run button and resolves with how the run ended, as
# runnable.js tells it: {output, error}.
RUN_AND_WAIT = """element => new Promise(resolve => {
    element.addEventListener("runnable:ran", event => resolve(event.detail),
                             {once: true});
    element.previousElementSibling.querySelector("button").click();
})"""


def expectations(page, python):
    """Each python block of a page: its code, and its output and error on `python`."""
    found = list(blocks_in(page.read_text()))
    for index, block in enumerate(found):
        if block.kind != "python":
            continue
        expected = {"output": [], "raises": []}
        for follower in found[index + 1 :]:
            if follower.kind == "python":
                break
            condition = follower.options.get("python", "").strip("\"'")
            if SpecifierSet(condition).contains(python, prereleases=True):
                expected[follower.kind].append(follower.text)
        outputs, errors = expected["output"], expected["raises"]
        assert len(outputs) <= 1 and len(errors) <= 1, (page.name, block.line)
        output = outputs[0] if outputs else None
        error = errors[0].strip() if errors else None
        yield block, output, error


def differences(block, output, error, ended):
    """What is wrong with one run, as sentences (none if it behaved)."""
    where = f"block at line {block.line}"
    if error is None and ended["error"]:
        return [f"{where} raised {ended['error']}"]
    wrong = []
    if error is not None and not (ended["error"] and matches(error, ended["error"])):
        wrong.append(f"{where} should raise {error}, raised {ended['error']}")
    if output is not None and not matches(output, ended["output"]):
        wrong.append(f"{where} printed:\n{ended['output']}\ninstead of:\n{output}")
    return wrong


# A block that times itself (0.1 s of sleep, printed to a tenth) can come out late
# when the machine is busy: a chapter that differs gets a second run, in a fresh
# page, and must behave in one of the two.
ATTEMPTS = 2


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[page.stem for page in CHAPTERS])
def test_every_runnable_block_behaves_as_on_cpython(tab, site, chapter):
    for _ in range(ATTEMPTS):
        wrong = run_chapter(tab, site, chapter)
        if not wrong:
            return
    pytest.fail(f"{chapter.name}:\n" + "\n".join(wrong))


def run_chapter(tab, site, chapter):
    """Run a chapter's runnable blocks in a fresh page: what went wrong, if anything."""
    tab.goto(f"{site}docs/{chapter.stem}.html")
    python = tab.evaluate("window.RUNNABLE_VERSIONS.python")
    elements = tab.locator("div.runnable, div.runs-on-machine")
    shown = elements.evaluate_all(
        "blocks => blocks.map(b => [b.querySelector('pre').textContent,"
        " b.classList.contains('runnable')])"
    )
    examples = list(expectations(chapter, python))
    assert [code.strip() for code, _ in shown] == [
        block.text.strip() for block, _, _ in examples
    ], "the page's python blocks are not the source's"
    wrong = []
    ran = 0
    for index, ((_, runnable), (block, output, error)) in enumerate(
        zip(shown, examples, strict=True)
    ):
        if not runnable:
            continue
        ended = elements.nth(index).evaluate(RUN_AND_WAIT)
        ran += 1
        wrong += differences(block, output, error, ended)
    assert ran or not shown
    return wrong
