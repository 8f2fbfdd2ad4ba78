"""The book's own Sphinx additions.

- `{output}` and `{raises}` blocks: what a code block prints, or the exception it
  raises; `:python: ">=3.12"` (quoted, as YAML needs) says which Pythons do that.
  The tests (tests/test_docs_code.py) check each against a real run on those Pythons.
- Code and outputs without the build machine's paths (`:diff:` headers, tracebacks).
- A `:diff:` between two example programs shows how their code changed, not their
  module docstrings (each step's docstring says what is new in it, so every diff
  would otherwise open with that churn).
- In a PDF handout, a link to another chapter shows that chapter's title.
- Download links on each chapter: its companion notebook and its PDF handout.
- Timeline figures drawn at build time from a real recorded run of an example
  (`book_timelines` in conf.py).
"""

import ast
import difflib
import json
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from packaging.specifiers import SpecifierSet
from sphinx import addnodes
from sphinx.directives import code
from sphinx.directives.code import CodeBlock, LiteralIncludeReader
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import docname_join

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "_build" / "figures"
STDLIB_SHOWN = ".../lib/python{}.{}/".format(*sys.version_info)


class OutputBlock(CodeBlock):
    """A plain-text block captioned "Output": what the code block above prints."""

    caption = "Output"
    required_arguments = 0
    optional_arguments = 0
    option_spec: ClassVar = {
        **CodeBlock.option_spec,
        "python": directives.unchanged_required,
    }

    def run(self):
        self.arguments = ["text"]
        caption = self.caption
        if "python" in self.options:
            caption += f" on {pythons_in_words(self.options.pop('python'))}"
        self.options.setdefault("caption", caption)
        self.options["class"] = [*self.options.get("class", []), self.name]
        return super().run()


def pythons_in_words(condition):
    """`>=3.12` -> "Python 3.12 and newer", `<3.12` -> "Python before 3.12"."""
    (specifier,) = SpecifierSet(condition)  # one bound: a reader's note, not a range
    words = {">=": "Python {} and newer", "<": "Python before {}", "==": "Python {}"}
    return words[specifier.operator].format(specifier.version.removesuffix(".*"))


class RaisesBlock(OutputBlock):
    """The exception the code block above raises, as its traceback's last line."""

    caption = "Raises"


class ChapterTitlesInHandouts(SphinxPostTransform):
    """A handout cannot link to a chapter it does not hold: name it by its title.

    Sphinx fills in a {doc} link's title only when it can make the link, so a
    handout would otherwise print the raw target, such as "/docs/02-coroutines".
    """

    default_priority = 5  # before Sphinx resolves references (10)
    builders = ("latex",)

    def run(self, **kwargs):
        for xref in self.document.findall(addnodes.pending_xref):
            if xref.get("reftype") != "doc" or xref.get("refexplicit"):
                continue
            title = self.env.titles.get(docname_join(xref["refdoc"], xref["reftarget"]))
            if title:
                text = title.astext()
                xref[0] = nodes.inline(text, text, classes=xref[0]["classes"])


def hide_machine_paths(app, doctree):
    """Show code and outputs without the paths of the machine that built the book.

    A `:diff:` include names both files by absolute path, and a notebook's
    traceback names the files of Python and its packages where they are installed:
    the first become paths from the repository root, the others `.../lib/python3.X/`
    and `.../site-packages/`.
    """
    paths = sysconfig.get_paths()
    replacements = {  # in this order: site-packages may lie in the repository
        f"{Path(paths['purelib'])}/": ".../site-packages/",
        f"{Path(paths['stdlib'])}/": STDLIB_SHOWN,
        f"{Path(app.srcdir).resolve()}/": "",
    }
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        for path, shown in replacements.items():
            text = text.replace(path, shown)
        if text != block.astext():
            block.children = [nodes.Text(text)]
            block.rawsource = text


def add_downloads(app, pagename, templatename, context, doctree):
    """Offer a chapter's notebook and PDF handout, and a notebook page's .ipynb."""
    section, _, name = pagename.partition("/")
    downloads = []
    has_notebook = (ROOT / "notebooks" / f"{name}.md").exists()
    if section in ("docs", "notebooks") and has_notebook:
        downloads.append(("Notebook (.ipynb)", f"notebooks/{name}.ipynb"))
    if section == "docs":
        downloads.append(("PDF handout", f"pdf/{name}.pdf"))
    pathto = context["pathto"]
    context["book_downloads"] = [(label, pathto(path, 1)) for label, path in downloads]


def draw_timelines(app):
    """Draw each figure of `book_timelines` from a real run of its program.

    A figure drawn since its program, this file and conf.py last changed is kept:
    running the programs and drawing took half of a rebuild that changed nothing.
    """
    for name, command in app.config.book_timelines.items():
        program, *arguments = shlex.split(command)  # a path, and any options
        if drawn_since_changed(name, ROOT / program):
            continue
        run = subprocess.run(
            [sys.executable, ROOT / program, "--json", *arguments],
            capture_output=True,
            text=True,
            check=True,
        )
        draw_timeline(name, json.loads(run.stdout))


def drawn_since_changed(name, program):
    """Whether both files of a figure are newer than what they are drawn from."""
    figures = [FIGURES / f"{name}.{kind}" for kind in ("svg", "pdf")]
    sources = [program, Path(__file__), ROOT / "conf.py"]
    if not all(figure.exists() for figure in figures):
        return False
    oldest_figure = min(figure.stat().st_mtime_ns for figure in figures)
    return oldest_figure > max(source.stat().st_mtime_ns for source in sources)


def draw_timeline(name, slices):
    """A bar for each slice of time a task ran: [{"task", "start", "end"}, ...]."""
    import matplotlib

    matplotlib.use("agg")
    from matplotlib import pyplot

    tasks = list(dict.fromkeys(piece["task"] for piece in slices))[::-1]
    height = 0.6 + 0.55 * len(tasks)
    # A run is drawn in milliseconds; one loop iteration lasts microseconds.
    span = max(piece["end"] for piece in slices)
    unit, scale = ("milliseconds", 1e3) if span > 0.005 else ("microseconds", 1e6)
    figure, axes = pyplot.subplots(figsize=(8, height), layout="constrained")
    for piece in slices:
        row = tasks.index(piece["task"])
        start, end = piece["start"] * scale, piece["end"] * scale
        width = max(end - start, 0.4)  # a slice too short to see still shows
        axes.broken_barh([(start, width)], (row - 0.35, 0.7), color=f"C{row}")
    axes.set_yticks(range(len(tasks)), tasks)
    axes.set_xlabel(f"{unit} since the recording started")
    axes.grid(axis="x", alpha=0.3)
    FIGURES.mkdir(parents=True, exist_ok=True)
    # SVG for the web, PDF for the handouts; no timestamps, so rebuilds compare equal.
    figure.savefig(FIGURES / f"{name}.svg", metadata={"Date": None})
    figure.savefig(FIGURES / f"{name}.pdf", metadata={"CreationDate": None})
    pyplot.close(figure)


def docstring_length(lines):
    """How many lines the module docstring at the top of a Python file takes."""
    try:
        module = ast.parse("".join(lines))
    except SyntaxError:
        return 0
    has_docstring = ast.get_docstring(module, clean=False) is not None
    return module.body[0].end_lineno if has_docstring else 0


def diff_without_docstrings(old_lines, new_lines, old_name, new_name):
    """A unified diff of two Python files that leaves their module docstrings out.

    The code after each docstring is compared; the hunk headers are then moved
    down by the docstrings' lengths, so they give each file's own line numbers.
    """
    old_start, new_start = docstring_length(old_lines), docstring_length(new_lines)

    def true_line_numbers(line):
        header = re.fullmatch(r"@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@\n", line)
        if not header:
            return line
        old, old_count, new, new_count = header.groups(default="")
        old, new = int(old) + old_start, int(new) + new_start
        return f"@@ -{old}{old_count} +{new}{new_count} @@\n"

    diff = difflib.unified_diff(
        old_lines[old_start:], new_lines[new_start:], old_name, new_name
    )
    return [true_line_numbers(line) for line in diff]


class StepDiffReader(LiteralIncludeReader):
    """literalinclude's reader, with `:diff:` of Python files through the above."""

    def show_diff(self, location=None):
        if Path(self.filename).suffix != ".py":
            return super().show_diff(location)
        old_name = self.options["diff"]
        new_lines, old_lines = self.read_file(self.filename), self.read_file(old_name)
        return diff_without_docstrings(
            old_lines, new_lines, str(old_name), str(self.filename)
        )


def setup(app):
    # literalinclude builds its reader from this module-level name: swapping it
    # is the one way in short of copying the directive.
    code.LiteralIncludeReader = StepDiffReader
    app.add_directive("output", OutputBlock)
    app.add_directive("raises", RaisesBlock)
    app.add_post_transform(ChapterTitlesInHandouts)
    app.connect("doctree-read", hide_machine_paths)
    app.connect("html-page-context", add_downloads)
    app.add_config_value("book_timelines", {}, "env")
    app.connect("builder-inited", draw_timelines)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
