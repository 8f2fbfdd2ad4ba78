"""Shared helpers for the book's tests."""

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# BOOK_BUILD points the built-site tests at a build kept elsewhere, so two builds
# (two branches, say) can sit side by side.
BUILD = Path(os.environ.get("BOOK_BUILD", ROOT / "_build"))


def run_example(path, *args, python_flags=("-X", "dev"), timeout=60, **kwargs):
    """Run `examples/...` as a reader would, from the repository root.

    Returns the CompletedProcess with text stdout and stderr; the caller checks it.
    """
    return subprocess.run(
        [sys.executable, *python_flags, str(ROOT / path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def check_clean(run, returncode=0):
    """A finished example exited with `returncode` and its stderr shows no trouble."""
    assert run.returncode == returncode, run.stderr
    for word in TROUBLE:
        assert word not in run.stderr, run.stderr


def line_number_of(path, text):
    """The number of the one line of `path` (from the repository root) with `text`."""
    lines = (ROOT / path).read_text().splitlines()
    (number,) = [index for index, line in enumerate(lines, 1) if text in line]
    return number


def unavailable(message):
    """Something a test needs is missing: a failure under CI=true, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI installs everything: missing is a bug there
    pytest.skip(message)


def require_tool(name):
    """The path of a system tool; a failure under CI=true, a skip elsewhere."""
    found = shutil.which(name)
    if not found:
        unavailable(f"{name} is not installed (noxfile.py installs it)")
    return found


# What Chromium needs to run headless as root on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    chromium = require_tool("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def require_build(*parts):
    """A path in the built site or PDFs; missing is a failure under CI=true."""
    path = BUILD.joinpath(*parts)
    if not path.exists():
        built_by = "python3 run_nox.py -s docs"
        unavailable(f"{path} is missing: run `{built_by}`")
    return path


def chapter_title(chapter):
    """The H1 of a chapter's Markdown source."""
    return re.search(r"^# (.+)$", chapter.read_text(), re.MULTILINE).group(1)


def plain(text):
    """Text as typeset: straight quotes, single spaces (for comparing with sources)."""
    for curly, straight in {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
    }.items():
        text = text.replace(curly, straight)
    return re.sub(r"\s+", " ", text).strip()


# Words in a server's standard error that mean something went wrong.
TROUBLE = (
    "Traceback",
    "never retrieved",
    "was destroyed but it is pending",
    "never awaited",
    "ResourceWarning",
    "Exception in callback",
    "Unhandled exception",
    "socket.send() raised exception",
)


class ServerProcess:
    """An example server run as a real process; `with` waits until it listens.

    It is started as `python -X dev -W error PATH --host 127.0.0.1 --port 0 ...`
    (`python_flags` replaces `-X dev -W error`, for a test of speed: development
    mode makes asyncio much slower) and must print `listening on HOST:PORT` on
    standard output. On leaving the `with` block the server is stopped (SIGTERM,
    then SIGKILL) if still running. Its standard error goes to a file, so a
    chatty server never blocks on a pipe.
    """

    cwd = ROOT

    def __init__(
        self,
        path,
        *args,
        startup_timeout=20,
        python_flags=("-X", "dev", "-W", "error"),
    ):
        self.command = [sys.executable, *python_flags, str(ROOT / path)]
        self.command += ["--host", "127.0.0.1", "--port", "0", *args]
        self.startup_timeout = startup_timeout
        self.stdout_lines = []
        self._listening = threading.Event()

    def __enter__(self):
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        address = self.wait_until_listening()
        if not address:
            errors = self.stderr()
            self.__exit__()
            raise AssertionError(f"the server did not say where it listens:\n{errors}")
        self.host, self.port = address[0], int(address[1])
        return self

    def wait_until_listening(self):
        """(host, port) from the `listening on HOST:PORT` line, or None."""
        self._listening.wait(self.startup_timeout)
        first = self.stdout_lines[0] if self.stdout_lines else ""
        match = re.fullmatch(r"listening on (\S+):(\d+)", first.strip())
        return match and match.groups()

    def _read_stdout(self):
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            self._listening.set()
        self._listening.set()  # it ended without a word

    def __exit__(self, *exc_info):
        self.stop()
        self._reader.join(5)  # the pipe ends with the process
        self.process.stdout.close()
        self._stderr.close()

    def stop(self, timeout=10):
        """Stop the server with SIGTERM, or SIGKILL if it lingers; its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def stderr(self):
        """Everything the server wrote on standard error, once it has stopped."""
        self.stop()
        self._stderr.seek(0)
        return self._stderr.read()

    def assert_clean(self):
        """Stop the server and check its standard error shows no sign of trouble."""
        errors = self.stderr()
        for word in TROUBLE:
            assert word not in errors, f"{word!r} in the server's stderr:\n{errors}"


def pytest_terminal_summary(terminalreporter):
    """How many console transcripts were replayed (tests/test_docs_console.py)."""
    verified = marked = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, counts in getattr(report, "user_properties", ()):
                if name == "console transcripts":
                    verified, marked = verified + counts[0], marked + counts[1]
    if verified + marked:
        share = 100 * verified / (verified + marked)
        terminalreporter.write_line(
            f"console transcripts: {verified} verified, "
            f"{marked} marked unverified ({share:.0f} %)"
        )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, without a log line for each request."""

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder, handler=QuietHandler):
    """`folder` served on a free port of 127.0.0.1; yields its URL, ending in /."""
    handler = functools.partial(handler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site():
    """The built site, as a plain static server serves it."""
    with serving(require_build("html", "index.html").parent) as url:
        yield url


@pytest.fixture(scope="module")
def tab(browser, site):
    """A browser tab for a module's tests that may only talk to the site."""
    context = browser.new_context()
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(site) else route.abort()
        ),
    )
    page = context.new_page()
    yield page
    context.close()
