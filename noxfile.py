"""The book's sessions: the same ones run on a laptop and in CI.

`python3 run_nox.py` runs the default sessions (pythons, lint, and the tests on
every supported Python found, which build the site and PDFs on the first);
`python3 run_nox.py -s NAME` runs one, and `-s tests-3.13` the tests on one
Python. Everything is built under `_build/`.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
# The tests build the site and the PDFs (warnings are errors) before checking them,
# so the docs and pdf sessions would only build them again.
nox.options.sessions = ["pythons", "lint", "tests"]
# A Python that is not installed is reported by the `pythons` session, which
# knows which ones CI must have; nox must neither fail on it nor download one.
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"

PYPROJECT = nox.project.load_toml("pyproject.toml")
# Every Python the book supports, from pyproject.toml's classifiers: "3.11", ...
PYTHONS = nox.project.python_versions(PYPROJECT)
# The newest may not be on every machine yet; CI must have all the others.
OPTIONAL_PYTHONS = PYTHONS[-1:]
BUILD = Path("_build")
# What the site offers for download: notebooks/*.ipynb and pdf/*.pdf.
DOWNLOADS = BUILD / "downloads"
# Warnings are errors; report them all, and every broken cross-reference too.
STRICT = ["-W", "--keep-going", "-n"]

# Debian packages behind each system tool a session needs.
SYSTEM_PACKAGES = {
    "latexmk": [
        "latexmk",
        "texlive-latex-recommended",
        "texlive-latex-extra",
        "texlive-fonts-recommended",
        "tex-gyre",
    ],
    "pdftotext": ["poppler-utils"],
    "chromium": ["chromium"],
    "tmux": ["tmux"],  # a real terminal for testing the chat client
    # Commands the chapters' transcripts run, replayed by the tests.
    "curl": ["curl"],
    "openssl": ["openssl"],
    "npm": ["npm"],  # front-end assets pinned in package.json (axe-core)
    "patch": ["patch"],  # the chapters' hand-written diffs must apply
    "redis-server": ["redis-server"],  # the broker of the web chat's scaling chapter
}


def pyenv_pythons():
    """The newest pyenv-installed interpreter of each supported Python, by version.

    pyenv's shims refuse `python3.13` unless that version is enabled, so nox would
    not find it on PATH; its `versions/` folder holds every installed one.
    """
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True
        ).stdout.strip()
    found = {}
    for python in (
        Path(root or "~/.pyenv").expanduser().glob("versions/3.*/bin/python3.*")
    ):
        version = re.fullmatch(r"python(3\.\d+)", python.name)
        patch = re.fullmatch(r"3\.\d+\.(\d+)", python.parent.parent.name)
        if version and patch and version[1] in PYTHONS:
            found.setdefault(version[1], []).append((int(patch[1]), python))
    return {version: max(builds)[1] for version, builds in found.items()}


def put_pythons_on_path():
    """Let nox find pyenv's interpreters: `python3.X` links, first on PATH."""
    links = Path(".nox", "pythons").resolve()
    links.mkdir(parents=True, exist_ok=True)
    for version, python in pyenv_pythons().items():
        link = links / f"python{version}"
        link.unlink(missing_ok=True)
        link.symlink_to(python)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ['PATH']}"


put_pythons_on_path()


def install(session, group):
    session.install(*nox.project.dependency_groups(PYPROJECT, group))


def require_system(session, *tools):
    """Install the Debian packages behind `tools`, or say exactly what is missing."""
    # A program already on PATH will do, wherever it came from (NodeSource's nodejs
    # brings npm, and conflicts with Debian's npm package); LaTeX needs its packages.
    tools = [t for t in tools if not shutil.which(t) or len(SYSTEM_PACKAGES[t]) > 1]
    packages = [package for tool in tools for package in SYSTEM_PACKAGES[tool]]
    if shutil.which("dpkg-query"):
        missing = [package for package in packages if not debian_has(package)]
    else:
        missing = [tool for tool in tools if not shutil.which(tool)]
    if not missing:
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        apt = ["apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*apt, "update", external=True, env=env)
        session.run(*apt, "install", "--no-install-recommends", *missing,
                    external=True, env=env)  # fmt: skip
    else:
        session.error(
            f"missing {', '.join(missing)}: on Debian or Ubuntu run "
            f"`sudo apt-get install {' '.join(packages)}`"
        )


def debian_has(package):
    query = ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package]
    result = nox.command.run(query, silent=True, success_codes=[0, 1])
    return result == "installed"


def sphinx(session, builder):
    # A build runs the notebooks (chapter 32's starts a redis-server) and copies
    # Pyodide from node_modules/ into the site (npm installs it).
    require_system(session, "redis-server", "npm")
    session.run("sphinx-build", "-M", builder, ".", str(BUILD), *STRICT)


def export_notebooks(session):
    """Write each notebook as a plain .ipynb (no outputs) for readers to download."""
    target = DOWNLOADS / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(Path("notebooks").glob("*.md")):
        output = target / source.with_suffix(".ipynb").name
        session.run(
            "jupytext", "--quiet", "--to", "ipynb", "-o", str(output), str(source)
        )


def build_pdfs(session):
    require_system(session, "latexmk")
    sphinx(session, "latexpdf")
    target = DOWNLOADS / "pdf"
    target.mkdir(parents=True, exist_ok=True)
    for tex in (BUILD / "latex").glob("*.tex"):  # one per book or handout
        shutil.copy2(tex.with_suffix(".pdf"), target)


def build_site(session):
    """The HTML site with everything it offers for download."""
    export_notebooks(session)
    build_pdfs(session)
    sphinx(session, "html")


@nox.session(python=False)
def pythons(session):
    """Say which supported Pythons the tests run on; CI must have all but the newest."""
    missing = []
    for version in PYTHONS:
        python = shutil.which(f"python{version}")
        if python and runs(python):
            session.log(f"Python {version}: {Path(python).resolve()}")
        else:
            missing.append(version)
    for version in missing:
        session.warn(
            f"Python {version} is not installed, so its tests will be skipped. "
            f"Add it with `pyenv install {version}` or your system's python{version} "
            "package, and run again."
        )
    required = [version for version in missing if version not in OPTIONAL_PYTHONS]
    if required and os.environ.get("CI") == "true":
        session.error(f"CI must test on every supported Python; missing: {required}")


def runs(python):
    """Whether an interpreter starts (a pyenv shim for a disabled version does not)."""
    return subprocess.run([python, "-c", ""], capture_output=True).returncode == 0


@nox.session
def lint(session):
    """Ruff over every Python file, examples included: lint rules, then formatting."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS)
def tests(session):
    """Every test, on each supported Python found (the first also checks the site).

    Code blocks, transcripts, notebooks, examples and the web chat in Chromium run
    on each Python. The built site and PDFs come out the same whichever Python
    builds them, so only the first Python builds and checks them.
    """
    install(session, "tests")
    require_system(
        session,
        "chromium",
        "pdftotext",
        "tmux",
        "curl",
        "openssl",
        "npm",
        "patch",
        "redis-server",
    )
    # The versions package-lock.json pins, into node_modules/: no CDN, ever.
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    if session.python == PYTHONS[0]:
        build_site(session)
        session.run("pytest", "-n", "auto", *session.posargs)
    else:
        session.run("pytest", "-n", "auto", "-m", "not built_site", *session.posargs)


@nox.session
def docs(session):
    """The HTML site, built warning-free, in _build/html."""
    install(session, "docs")
    build_site(session)


@nox.session
def pdf(session):
    """One PDF handout per chapter and the whole book, in _build/latex."""
    install(session, "docs")
    build_pdfs(session)


@nox.session
def notebooks(session):
    """The notebooks as plain .ipynb files, in _build/downloads/notebooks."""
    install(session, "docs")
    export_notebooks(session)


@nox.session
def bench(session):
    """The chat servers and their designs, measured (not in the default run).

    Each benchmark runs its shortest form in the tests; here they run in full:
    - step 8's broadcast designs and step 9's receive loops beside server20 (it
      fails if the receive loop steps 9-20 use costs more than 10 % CPU per
      delivery against no yield at all);
    - the finished servers against an asyncio.Protocol baseline, on asyncio's
      loop and on uvloop, and the five web chats (chapter 40; it rewrites
      examples/performance/results.txt and results.json, which the chapter shows);
    - the web chat's Manager queue against Redis pub/sub (chapter 33).
    """
    install(session, "bench")
    require_system(session, "redis-server")
    session.run(
        "python", "examples/chat/bench_broadcast.py",
        "--server", "examples/chat/server20.py",
        # The bench's clients all come from 127.0.0.1, and one of them talks
        # fast: lift the finished server's limits on both.
        "--server-options=--max-per-address 1000 --max-rate 1000000 --burst 1000000",
        "--max-extra-cost", "10",
    )  # fmt: skip
    session.run("python", "examples/performance/bench_servers.py")
    session.run(
        "python", "examples/web/bench_bus.py", "--json", str(BUILD / "bench_bus.json")
    )


@nox.session
def serve(session):
    """Build the site and serve it on http://127.0.0.1:8000, cross-origin isolated.

    _ext/serve.py sends the headers that let Stop interrupt a block that never
    awaits (a plain static server leaves Stop to restart Python instead).
    """
    install(session, "docs")
    build_site(session)
    session.run("python", "_ext/serve.py", str(BUILD / "html"), "--port", "8000")
