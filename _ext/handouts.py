"""Classroom material: handouts without the answers, and answer keys.

- On paper, a chapter's exercises come with room to work instead of their
  solutions: every `{dropdown} Solution` becomes ruled lines. (An exercise that
  has a checker says so in its chapter: `python exercises/check.py 04-2`.)
  The site keeps the solutions, in dropdowns that stay closed until opened.
- The solutions go to answer keys, one per chapter and one for the whole book:
  Markdown pages written into `teaching/answers/` when Sphinx starts, from the
  chapters' own solution blocks, so they can never drift from the chapters. Each
  solution is headed by its exercise's number and title. conf.py lists their PDFs.
- Each chapter's page offers its answer key for download next to its handout; the
  cheat sheet and the teacher's guide offer their own PDFs.
"""

import re
from pathlib import Path

from docutils import nodes
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "teaching" / "answers"
EXERCISE = re.compile(r"Exercise (\d+): (.+)")
OPTION_LINE = re.compile(r"^:[\w-]+:.*$")
WRITING_LINES = 12  # room to work under each exercise of a handout
# Pages of teaching/ that are PDFs of their own, and the PDF each one offers.
TEACHING_PDFS = {
    "teaching/cheatsheet": "pdf/cheatsheet.pdf",
    "teaching/teachers-guide": "pdf/teachers-guide.pdf",
}


def chapters():
    return sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))


def title_of(text):
    return re.search(r"^# (.+)$", text, re.MULTILINE).group(1)


def solutions_by_exercise(text):
    """[(number, title, [solution Markdown, ...]), ...] for one chapter's source.

    An exercise is a `### Exercise N: title` heading; its solutions are the
    `{dropdown} Solution` blocks that follow it, before the next heading.
    """
    parser = MarkdownIt("commonmark").use(colon_fence_plugin)
    tokens = parser.parse(text)
    exercises, current = [], None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = tokens[index + 1].content
            match = EXERCISE.fullmatch(heading) if token.tag == "h3" else None
            current = (match[1], match[2], []) if match else None
            if current:
                exercises.append(current)
        elif is_solution_fence(token) and current is not None:
            current[2].append(without_options(token.content))
    return exercises


def is_solution_fence(token):
    return token.type == "colon_fence" and token.info.strip() == "{dropdown} Solution"


def without_options(body):
    """A directive's body without its leading `:option: value` lines."""
    lines = body.splitlines(keepends=True)
    while lines and OPTION_LINE.match(lines[0]):
        lines.pop(0)
    return "".join(lines).strip("\n")


def has_exercises(chapter):
    return bool(solutions_by_exercise(chapter.read_text()))


def answer_key(chapter):
    """The Markdown of one chapter's answer key."""
    text = chapter.read_text()
    # A link to a section of the chapter must name the chapter from here.
    chapter_link = f"../../docs/{chapter.name}#"
    lines = [
        f"# Answers: {title_of(text)}",
        "",
        f"The solutions to the exercises of {{doc}}`/docs/{chapter.stem}`, "
        "each under its exercise's number and title.",
    ]
    for number, title, solutions in solutions_by_exercise(text):
        lines += ["", f"## Exercise {number}: {title}", ""]
        if not solutions:
            lines.append("This exercise is for discussion: it has no written answer.")
        for solution in solutions:
            lines.append(solution.replace("](#", f"]({chapter_link}"))
    return "\n".join(lines) + "\n"


def book_answer_key(keys):
    """The Markdown of the whole book's answer key: every chapter's, in order."""
    entries = "\n".join(key.stem for key in keys)
    return (
        "---\norphan: true\n---\n\n# Answer key\n\n"
        "The solutions to every exercise of the book, chapter by chapter. "
        "Each chapter's page also offers its own answer key as a PDF.\n\n"
        f"```{{toctree}}\n:maxdepth: 1\n\n{entries}\n```\n"
    )


def write_if_changed(path, text):
    """Rewrite a page only when it changes, so Sphinx rereads only what changed."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_answer_keys(app, config):
    """teaching/answers/: one page per chapter with exercises, and an index."""
    ANSWERS.mkdir(parents=True, exist_ok=True)
    keys = []
    for chapter in chapters():
        if has_exercises(chapter):
            key = ANSWERS / chapter.name
            write_if_changed(key, answer_key(chapter))
            keys.append(key)
    for stale in set(ANSWERS.glob("*.md")) - {*keys, ANSWERS / "index.md"}:
        stale.unlink()  # a chapter that lost its exercises, or was renamed
    write_if_changed(ANSWERS / "index.md", book_answer_key(keys))


def is_solution(node):
    """A sphinx-design dropdown titled "Solution"."""
    if node.get("design_component") != "dropdown" or not node.children:
        return False
    title = node.children[0]
    return isinstance(title, nodes.rubric) and title.astext() == "Solution"


def room_to_work():
    """Ruled lines to write on, where a handout's solution was."""
    rule = r"\vspace{7mm}\noindent\rule{\linewidth}{0.3pt}\par"
    latex = (
        r"\par\medskip\noindent\textit{Your answer (the solution is in the "
        r"chapter's answer key):}\par" + rule * WRITING_LINES + r"\medskip"
    )
    return nodes.raw("", latex + "\n", format="latex")


class SolutionsOffPaper(SphinxPostTransform):
    """On paper, solutions leave their exercise for the answer key."""

    default_priority = 5
    builders = ("latex",)

    def run(self, **kwargs):
        for node in list(self.document.findall(nodes.container)):
            if is_solution(node):
                node.replace_self(room_to_work())


def add_downloads(app, pagename, templatename, context, doctree):
    """A chapter's answer key next to its handout; a teaching page's PDF."""
    downloads = context.get("book_downloads")
    if downloads is None:
        downloads = context["book_downloads"] = []
    pathto = context["pathto"]
    section, _, name = pagename.partition("/")
    if section == "docs" and has_exercises(ROOT / "docs" / f"{name}.md"):
        downloads.append(("Answer key (PDF)", pathto(f"pdf/{name}-answers.pdf", 1)))
    if pagename in TEACHING_PDFS:
        downloads.append(("PDF", pathto(TEACHING_PDFS[pagename], 1)))


def setup(app):
    app.connect("config-inited", write_answer_keys)
    app.add_post_transform(SolutionsOffPaper)
    # After _ext/book.py has listed the notebook and the handout.
    app.connect("html-page-context", add_downloads, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
