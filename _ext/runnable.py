"""Run, edit and stop the concept chapters' code blocks in the reader's browser.

Each ```python block of docs/0*.md that a browser can run is marked `runnable`;
_static/runnable.js gives it Run, Edit, Reset and Stop buttons and runs it in a
Web Worker (_static/runnable-worker.js) on Pyodide, a CPython built for
WebAssembly. Blocks that need threads, sockets, subprocesses, signals or input()
are marked `runs-on-machine` instead. Pyodide comes from npm at the version
package-lock.json pins, and is copied into the site's _static/pyodide/: nothing
of it loads until the reader first presses Run.
"""

import ast
import io
import json
import re
import shutil
import subprocess
import tokenize
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parent.parent
PYODIDE = ROOT / "node_modules" / "pyodide"
# What Pyodide needs to start, and nothing more (no source maps, no consoles).
PYODIDE_FILES = [
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
]
# The "Watch the loop" view: its script must come before runnable.js.
LOOP_VIEW_FILES = ["loopview.js", "loopview.css"]
# The service worker that gives static hosting the cross-origin isolation headers.
ISOLATING_WORKER = "coi-serviceworker.js"
RUNNABLE_PAGES = re.compile(r"docs/0\d-")
# Every notebook page: its code cells run in the page too (Run, Run all, Restart).
NOTEBOOK_PAGES = re.compile(r"notebooks/")
# A browser page has no threads, sockets, subprocesses, signals or console: code
# that names any of these (in its code, not its comments or strings) runs on the
# reader's machine only.
NEEDS_A_MACHINE = {
    "to_thread",
    "run_in_executor",
    "run_coroutine_threadsafe",
    "socket",
    "subprocess",
    "create_subprocess_exec",
    "create_subprocess_shell",
    "signal",
    "add_signal_handler",
    "open_connection",
    "start_server",
    "threading",
    "input",
    "chatlab",  # the notebooks' helper that starts the chat servers
    # Pyodide's loop never times its callbacks: no slow-callback report.
    "slow_callback_duration",
    "set_debug",
    # The repository's own files (a notebook's examples) are not in the page.
    "runpy",
}
# A block a page marks for the reader's machine: ```{code-block} python with
# :class: runs-on-machine, for what a browser runs differently (see README.md).
MACHINE_CLASS = "runs-on-machine"


def pinned_pyodide_version():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return lock["packages"]["node_modules/pyodide"]["version"]


def installed_pyodide_version():
    package = PYODIDE / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else None


def require_pyodide():
    """node_modules/pyodide at the pinned version, installed with `npm ci` if not."""
    pinned = pinned_pyodide_version()
    if installed_pyodide_version() != pinned:
        try:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True
            )
        except (OSError, subprocess.CalledProcessError) as error:
            raise ExtensionError(
                f"Pyodide {pinned} is needed in node_modules/: run `npm ci` ({error})"
            ) from error
    return pinned


def browser_python():
    """The Python version Pyodide runs, as its lock file records it."""
    lock = json.loads((PYODIDE / "pyodide-lock.json").read_text())
    return lock["info"]["python"]


def is_page_code(node):
    """A ```python block written in the page (a literalinclude names its file)."""
    return (
        node.get("language") in ("python", "py")
        and "source" not in node.attributes
        and not {"output", "raises"} & set(node["classes"])
    )


def names_in(code):
    """The names a block's code uses (comments and strings left out)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return set()
    return {token.string for token in tokens if token.type == tokenize.NAME}


def names_defined(code):
    """The names a block defines at its top level: functions, classes, variables."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    defined = set()
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            # The page runs the imports of a machine's block (runnable.js), except
            # those of a module that is itself for a machine (chatlab, say).
            module = getattr(statement, "module", None) or statement.names[0].name
            if module.split(".")[0] in NEEDS_A_MACHINE:
                defined |= {
                    (alias.asname or alias.name).split(".")[0]
                    for alias in statement.names
                }
        else:
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    defined.add(node.id)
    return defined


def is_notebook_cell(node):
    """The code of a notebook cell, as MyST-NB renders it (in a cell_input)."""
    parent = node.parent
    return (
        node.get("language") in ("ipython3", "ipython", "python")
        and isinstance(parent, nodes.container)
        and "cell_input" in parent["classes"]
    )


def runnable_code(docname):
    """How to find the page's runnable code, if it has any: None if it has none."""
    if RUNNABLE_PAGES.match(docname):
        return is_page_code
    if NOTEBOOK_PAGES.match(docname):
        return is_notebook_cell
    return None


def mark_blocks(app, doctree, docname):
    """Mark each python block of a concept chapter: runnable, or for a machine.

    A block needs a machine if it names what a browser lacks, if the page marks it,
    or if it uses a name that only such a block defined: the page's blocks share
    their names, and the browser skips those.
    """
    is_code = runnable_code(docname)
    if app.builder.format != "html" or is_code is None:
        return
    machine_only_names = set()
    for node in doctree.findall(nodes.literal_block):
        if not is_code(node):
            continue
        code = node.astext()
        used, defined = names_in(code), names_defined(code)
        needs_machine = (
            MACHINE_CLASS in node["classes"]
            or used & NEEDS_A_MACHINE
            or (used - defined) & machine_only_names
        )
        if needs_machine:
            machine_only_names |= defined
        else:
            machine_only_names -= defined
        if MACHINE_CLASS not in node["classes"]:
            node["classes"].append(MACHINE_CLASS if needs_machine else "runnable")


def add_runner(app, pagename, templatename, context, doctree):
    """The runner's script and style, on the pages that have runnable blocks."""
    if doctree is None or runnable_code(pagename) is None:
        return
    versions = {
        "python": browser_python(),
        "pyodide": installed_pyodide_version(),
        "notebook": bool(NOTEBOOK_PAGES.match(pagename)),
    }
    app.add_js_file(None, body=f"window.RUNNABLE_VERSIONS = {json.dumps(versions)};")
    # The loop view, once its files exist: runnable.js finds it when it sets up.
    for name in LOOP_VIEW_FILES:
        if (ROOT / "_static" / name).exists():
            add = app.add_js_file if name.endswith(".js") else app.add_css_file
            add(name)
    app.add_js_file("runnable.js")
    app.add_css_file("runnable.css")


def copy_pyodide(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "pyodide"
    target.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copyfile(PYODIDE / name, target / name)
    # A service worker's scope is its folder: at the root, it isolates every page.
    shutil.copyfile(
        ROOT / "_static" / ISOLATING_WORKER, Path(app.outdir) / ISOLATING_WORKER
    )


def check_pyodide(app):
    if app.builder.format == "html":
        require_pyodide()


def setup(app):
    app.connect("builder-inited", check_pyodide)
    app.connect("doctree-resolved", mark_blocks)
    app.connect("html-page-context", add_runner)
    app.connect("build-finished", copy_pyodide)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
