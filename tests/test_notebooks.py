"""Every notebook runs top to bottom in a fresh kernel, offline, as learners run it."""

import platform
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))
CELL_TIMEOUT = 60  # seconds; the build uses the same limit (nb_execution_timeout)


def raises_on_purpose(cell):
    return "raises-exception" in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = jupytext.read(path)
    # The kernel talks over Unix sockets: a TCP port it picked could be taken, before
    # it binds it, by one of the servers the other tests start on free ports.
    unix_sockets = {"transport": "ipc", "ip": str(tmp_path / "kernel")}
    client = NotebookClient(
        notebook,
        config=Config(KernelManager=unix_sockets),
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on an error in an untagged cell
    # The kernel is the Python under test, not whatever "python3" a user installed.
    assert notebook.metadata.language_info.version == platform.python_version()
    for cell in notebook.cells:
        if cell.cell_type == "code" and raises_on_purpose(cell):
            kinds = [output.output_type for output in cell.outputs]
            assert "error" in kinds, f"this cell should raise:\n{cell.source}"


def test_notebooks_never_patch_the_loop():
    for path in NOTEBOOKS:
        assert "nest_asyncio" not in path.read_text(), path.name


def test_each_chapter_has_a_notebook():
    """Concept chapters are run one cell at a time; in the case studies' notebooks
    the reader starts the chapter's servers from a cell and talks to them."""
    chapters = {path.stem for path in (ROOT / "docs").glob("[0-9][0-9]-*.md")}
    assert chapters <= {path.stem for path in NOTEBOOKS}
