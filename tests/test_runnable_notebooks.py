"""The notebooks' pages run their cells in the browser: Run, Run all, Restart.

Each concept notebook (notebooks/0*.md) runs top to bottom in its page, on Pyodide in
headless Chromium, with no error outside the cells tagged raises-exception; the
case-study notebooks, which start servers, mark those cells "runs on your machine".
The notebook's download stays on the page.
"""

from pathlib import Path

import pytest
from test_runnable import LOAD

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [pytest.mark.built_site, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
CONCEPTS = sorted((ROOT / "notebooks").glob("0*.md"))
CASE_STUDIES = sorted((ROOT / "notebooks").glob("[13]*.md"))

# Presses Run all; resolves, once the last cell has run, with how each cell ended.
RUN_ALL = """() => new Promise(resolve => {
    const ran = [];
    const record = event => ran.push({
        cell: event.target.closest("div.cell")?.className || "",
        error: event.detail.error,
    });
    document.addEventListener("runnable:ran", record, true);
    document.addEventListener("runnable:ran-all", event => {
        document.removeEventListener("runnable:ran", record, true);
        resolve({endedAt: event.detail.endedAt, ran});
    }, {once: true});
    document.querySelector("button[aria-label='Run all cells']").click();
})"""


@pytest.mark.parametrize("notebook", CONCEPTS, ids=[path.stem for path in CONCEPTS])
def test_a_concept_notebook_runs_top_to_bottom(tab, site, notebook):
    tab.goto(f"{site}notebooks/{notebook.stem}.html")
    cells = tab.locator("div.cell div.runnable")
    assert cells.count(), "no cell runs in the page"
    tab.set_default_timeout(LOAD)
    result = tab.evaluate(RUN_ALL)
    assert result["endedAt"] is None, f"cell {result['endedAt']} raised: {result}"
    assert len(result["ran"]) == cells.count()
    for cell in result["ran"]:
        tagged = "tag_raises-exception" in cell["cell"]
        assert tagged or not cell["error"], cell
    assert any(cell["error"] for cell in result["ran"]) == (
        "raises-exception" in notebook.read_text()
    ), "the cells tagged to raise did not"
    # The download of the notebook stays.
    expect(tab.locator(f"a[href='{notebook.stem}.ipynb']").first).to_be_attached()


def test_restart_clears_the_outputs_and_python(tab, site):
    tab.goto(f"{site}notebooks/02-coroutines.html")
    first = tab.locator("div.cell div.runnable").first
    output = first.locator("xpath=following-sibling::div[1]")
    tab.get_by_role("button", name="Run block 1", exact=True).click()
    expect(output.locator(".runnable-status")).to_have_text("Done.", timeout=LOAD)
    tab.get_by_role("button", name="Restart Python and clear outputs").click()
    expect(output.locator(".runnable-status")).to_have_text("")


@pytest.mark.parametrize(
    "notebook", CASE_STUDIES, ids=[path.stem for path in CASE_STUDIES]
)
def test_a_cell_that_starts_a_server_runs_on_your_machine(tab, site, notebook):
    tab.goto(f"{site}notebooks/{notebook.stem}.html")
    for code in tab.locator("div.cell div.runnable pre").all_text_contents():
        assert "chatlab" not in code and "Server.start(" not in code, code
    if "chatlab" in notebook.read_text():
        marked = tab.locator("div.cell div.runs-on-machine", has_text="chatlab")
        expect(marked.first).to_be_attached()
        note = marked.first.locator("xpath=preceding-sibling::p[1]")
        expect(note).to_contain_text("Runs on your machine")
