"""Sphinx settings for the book. The repository root is the source folder, so pages
can include `/examples/...` by root-relative path and notebooks are pages too."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "_ext"))

project = "asyncio by building"
author = "The asyncio by building authors"
copyright = "2026, " + author
release = version = "0.1"

extensions = [
    "myst_nb",
    "sphinx.ext.intersphinx",
    "sphinx_copybutton",
    "sphinx_design",
    "book",  # _ext/book.py: output/error blocks, downloads, generated figures
    "runnable",  # _ext/runnable.py: the concept chapters' code runs in the browser
    "handouts",  # _ext/handouts.py: handouts without solutions, answer keys
]

include_patterns = ["index.md", "docs/**", "notebooks/**", "teaching/**"]
exclude_patterns = ["_build", ".nox", ".venv-nox", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
nitpicky = True

# MyST: ::: fences for directives that hold Markdown (exercises, solutions).
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3

# Notebooks run at build time, once: a cache keeps their outputs until they change.
nb_execution_mode = "cache"
nb_execution_cache_path = str(ROOT / "_build" / ".jupyter_cache")
nb_execution_timeout = 60
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_ipywidgets_js = {}  # no widgets, so no scripts from elsewhere

# The Python docs' inventory is part of the repository: the build stays offline.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3.11", str(ROOT / "_inv" / "python-3.11.inv"))
}

# Figures drawn at build time (_ext/book.py) from what a program records when run
# with --json (and the options given): a list of {"task", "start", "end"}. Pages
# show /_build/figures/NAME.*
book_timelines = {
    "task-timeline": "examples/intro/timeline.py",
    "taskgroup-timeline": "examples/running/timeline.py",
    "loop-iteration": "examples/loop/sockets.py",
    "loop-one-iteration": "examples/loop/sockets.py --busiest",
}

html_theme = "furo"
html_title = project
html_static_path = ["_static"]
html_css_files = ["book.css"]
# Scrolling code blocks and tables reachable by keyboard (accessibility).
html_js_files = ["a11y.js"]
# noxfile.py puts notebooks/*.ipynb and pdf/*.pdf here before building the site.
html_extra_path = ["_build/downloads"]
(ROOT / "_build" / "downloads").mkdir(parents=True, exist_ok=True)
html_theme_options = {"top_of_page_buttons": []}
html_copy_source = False
copybutton_exclude = ".linenos, .gp, .go"


def chapter_title(path):
    return re.search(r"^# (.+)$", path.read_text(), re.MULTILINE).group(1)


# One PDF for the whole book and one handout per chapter (its exercises without
# their solutions); an answer key per chapter with exercises and one for the book
# (pages _ext/handouts.py writes in teaching/answers/); the teachers' two PDFs.
CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))
WITH_EXERCISES = [path for path in CHAPTERS if "\n### Exercise " in path.read_text()]
latex_engine = "pdflatex"
latex_documents = [
    ("index", "asyncio-by-building.tex", project, author, "manual"),
    *(
        (f"docs/{path.stem}", f"{path.stem}.tex", chapter_title(path), author, "howto")
        for path in CHAPTERS
    ),
    ("teaching/answers/index", "answer-key.tex", "Answer key", author, "manual"),
    *(
        (
            f"teaching/answers/{path.stem}",
            f"{path.stem}-answers.tex",
            f"Answers: {chapter_title(path)}",
            author,
            "howto",
        )
        for path in WITH_EXERCISES
    ),
    ("teaching/cheatsheet", "cheatsheet.tex", "asyncio cheat sheet", author, "howto"),
    (
        "teaching/teachers-guide",
        "teachers-guide.tex",
        "Teacher's guide",
        author,
        "howto",
    ),
]
latex_elements = {
    # One page size that prints unscaled on both A4 and US Letter: A4's width
    # (Letter is 6 mm wider) and Letter's height (A4 is 18 mm taller).
    "geometry": r"\usepackage[paperwidth=210mm,paperheight=279.4mm,"
    r"hmargin=20mm,vmargin={20mm,22mm}]{geometry}",
    "pointsize": "11pt",
    # Code at 88 columns fits the page without wrapping.
    "fvset": r"\fvset{fontsize=\footnotesize}",
    "printindex": "",  # the book has no index entries yet
    # The cheat sheet fits two printed pages: small type in two columns, narrow
    # margins, its title above the columns, no contents, small headings, code
    # blocks closer together, and "Output:" over each output, not a caption.
    "preamble": r"""
\def\bookcheatsheet{asyncio cheat sheet}
\newcommand{\bookcheatsheetlayout}{%
  \newgeometry{margin=10mm,top=8mm,bottom=12mm}\setlength{\columnsep}{5mm}%
  \twocolumn[{\centering\LARGE\sffamily\bfseries\bookcheatsheet\par\medskip}]%
  \scriptsize\fvset{fontsize=\scriptsize}%
  \titleformat{\section}{\normalsize\sffamily\bfseries}{\thesection}{0.5em}{}%
  \titlespacing*{\section}{0pt}{1.2ex}{0.4ex}%
  \renewcommand{\sphinxverbatimsmallskipamount}{2pt}\sphinxsetup{pre_padding=2pt}%
  \renewcommand{\sphinxliteralblockwithoutcaptionneedspace}{0pt}%
  \renewcommand{\sphinxSetupCaptionForVerbatim}[1]{\par\noindent\textit{##1:}\par\nobreak}}
\newcommand{\ifbookcheatsheet}{\expandafter\ifx\csname @title\endcsname\bookcheatsheet}
""",
    "maketitle": r"\ifbookcheatsheet\bookcheatsheetlayout\else\sphinxmaketitle\fi",
    "tableofcontents": r"\ifbookcheatsheet\else\sphinxtableofcontents\fi",
}
latex_domain_indices = False
latex_show_urls = "footnote"
