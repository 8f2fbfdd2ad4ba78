"""Every notebook runs top to bottom in a fresh kernel, offline, as learners run it."""

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))
CELL_TIMEOUT = 60  # seconds; the build uses the same limit (nb_execution_timeout)


def raises_on_purpose(cell):
    return "raises-exception" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on an error in an untagged cell
    for cell in notebook.cells:
        if cell.cell_type == "code" and raises_on_purpose(cell):
            kinds = [output.output_type for output in cell.outputs]
            assert "error" in kinds, f"this cell should raise:\n{cell.source}"


def test_notebooks_never_patch_the_loop():
    for path in NOTEBOOKS:
        assert "nest_asyncio" not in path.read_text(), path.name


def test_each_concept_chapter_has_a_notebook():
    """Chapters 01-09 and the appendices (90-99) teach concepts, one cell at a time;
    the case studies (10-89) build programs that run on their own."""
    chapters = {
        path.stem
        for path in (ROOT / "docs").glob("[0-9][0-9]-*.md")
        if not 10 <= int(path.stem[:2]) < 90
    }
    assert chapters <= {path.stem for path in NOTEBOOKS}
