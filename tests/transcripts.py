"""Replay the `console` blocks of a page: terminal transcripts the reader copies.

A page's console blocks run in page order as one scenario, from the repository root:

- `$ command` lines run in bash (stdout and stderr merged, `python` on PATH meaning
  the Python the tests run on); the lines up to the next `$ ` are what it prints.
- `$ python -m asyncio` starts an asyncio REPL session; its `>>>` lines, and those
  of later blocks that start with `>>>`, are replayed as a doctest on a loop that
  keeps running between statements, with top-level `await`.
- MyST comment lines right above a block, `% console: KEYWORD ARGS`, say how else
  to treat it (see KEYWORDS, and README.md, "Writing for the book").

Real output is normalised before it is compared with the page (`...` matches
anything, as in doctest): the repository root reads /home/you/asyncio-by-building,
the standard library /usr/lib/python3.X, and client ports and object ids match any.
"""

import ast
import asyncio
import concurrent.futures
import contextlib
import doctest
import gc
import io
import os
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from test_docs_code import ROOT, matches, python_matches, split_options

READER_ROOT = "/home/you/asyncio-by-building"
READER_STDLIB = f"/usr/lib/python3.{sys.version_info.minor}"
MARKER = re.compile(r"^%\s*console:\s*(.*)$")
KEYWORDS = {
    "skip": "not replayed; the words after it say why (required)",
    "python": "replayed only on the Pythons of a specifier set, such as >=3.12",
    "background": "its one command keeps running, under a name; wait for its lines",
    "screen": "what the named background process has printed so far",
    "interrupt": "Ctrl-C (SIGINT) to the named process; what it prints after",
    "terminate": "SIGTERM to the named process; what it prints after",
}
COMMAND_TIMEOUT = 120  # seconds a `$ command` may run
WAIT_TIMEOUT = 15  # seconds to wait for a background process to print its lines
TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
# Where a server says it listens: the book's programs, and uvicorn's command line.
LISTENING = re.compile(r"(?:listening|running) on (?:\w+://)?[\w.:\[\]-]+?:(\d+)\b")
# Terminal sessions and Python prompt sessions alike are transcripts to replay.
TRANSCRIPT_FENCES = {
    f"{prefix}{language}"
    for prefix in ("", "{code-block} ")
    for language in ("console", "pycon")
}
# Commands that change the shell itself, not the files: a terminal remembers them.
SHELL_STATE = ("ulimit ", "cd ", "export ", "umask ")
REPL_COMMAND = re.compile(r"^\$ python3? -m asyncio\s*$")


class TranscriptError(AssertionError):
    """A block that does not replay as the page shows, or is marked wrongly."""


@dataclass
class ConsoleBlock:
    text: str
    line: int  # of the block's first line in the page
    markers: list = field(default_factory=list)  # (keyword, argument) pairs

    def marker(self, keyword):
        """The argument of this block's `keyword` marker, or None."""
        for name, argument in self.markers:
            if name == keyword:
                return argument
        return None


def parse_markers(comment_lines, where):
    markers = []
    for comment in comment_lines:
        keyword, _, argument = comment.partition(" ")
        argument = argument.strip()
        if keyword not in KEYWORDS:
            known = ", ".join(KEYWORDS)
            raise TranscriptError(f"{where}: unknown keyword {keyword!r} ({known})")
        if not argument:
            raise TranscriptError(f"{where}: `% console: {keyword}` needs an argument")
        if keyword == "python":
            try:
                SpecifierSet(argument)
            except InvalidSpecifier:
                raise TranscriptError(f"{where}: bad specifier {argument!r}") from None
        markers.append((keyword, argument))
    return markers


def console_blocks(text, first_line=1):
    """The console blocks of a MyST page, nested ones included, with their markers."""
    lines = text.splitlines()
    parser = MarkdownIt("commonmark").use(colon_fence_plugin)
    for token in parser.parse(text):
        if token.type not in ("fence", "colon_fence"):
            continue
        info = token.info.strip()
        start = token.map[0]
        if info in TRANSCRIPT_FENCES:
            _, body, skipped = split_options(token.content)
            comments = []
            above = start - 1
            while above >= 0 and (match := MARKER.match(lines[above].strip())):
                comments.insert(0, match[1].strip())
                above -= 1
            where = f"line {first_line + start}"
            line = first_line + start + 1 + skipped
            yield ConsoleBlock(body, line, parse_markers(comments, where))
        elif info.startswith("{") and not info.startswith(("{code", "{literal")):
            _, body, skipped = split_options(token.content)
            yield from console_blocks(body, first_line + start + 1 + skipped)


def runs_here(block):
    """False for a block marked for other Pythons than this one."""
    condition = block.marker("python")
    return condition is None or python_matches(condition)


# Normalisation: what legitimately differs between the reader's machine and this one.

ANY_PORT = [
    (re.compile(r"\('(127\.0\.0\.1|::1|localhost)', \d+\)"), r"('\1', PORT)"),
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+\b"), r"\1:PORT"),
    (re.compile(r"\b0x[0-9a-f]{6,16}\b"), "0xID"),
]


def anonymise(text):
    for pattern, replacement in ANY_PORT:
        text = pattern.sub(replacement, text)
    return text


def shell_status(returncode):
    """The status bash's `$?` shows: 128 + N for a process ended by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def normalise(output):
    """Real output as the reader would see it on the machine the page shows."""
    output = output.replace("\r\n", "\n")  # HTTP headers, as curl -i prints them
    output = output.replace(str(ROOT), READER_ROOT)
    for stdlib in {sysconfig.get_paths()["stdlib"], os.path.dirname(os.__file__)}:
        output = output.replace(stdlib, READER_STDLIB)
    return anonymise(output)


def same(want, got):
    """Does real output match the page? Spaces at the ends of lines are not shown."""
    want, got = anonymise(want), normalise(got)
    return matches(TRAILING_SPACE.sub("", want), TRAILING_SPACE.sub("", got))


def split_commands(text):
    """(command, expected output) for each `$ ` line of a block, in order.

    A command may go on over several lines, each but the last ending in `\\`.
    """
    pairs = []
    continued = False
    for line in text.splitlines(keepends=True):
        if continued:
            pairs[-1][0] += "\n" + line.rstrip("\n")
        elif line.startswith("$ "):
            pairs.append([line[2:].rstrip("\n"), ""])
        elif pairs:
            pairs[-1][1] += line
        else:
            raise TranscriptError(f"output before any `$ command`: {line!r}")
        continued = pairs and not pairs[-1][1] and line.rstrip("\n").endswith("\\")
    return [(command.strip(), output) for command, output in pairs]


class Background:
    """A command that keeps running, its output collected as it comes."""

    def __init__(self, name, shown_command, process):
        self.name = name
        self.shown_command = shown_command
        self.process = process
        self.chunks = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for chunk in iter(lambda: self.process.stdout.read1(4096), b""):
            self.chunks.append(chunk)

    def output(self):
        return b"".join(self.chunks).decode(errors="replace")

    def settle(self, quiet=0.3, timeout=5):
        """Wait until it has printed nothing for `quiet` seconds, as a person
        waits for a terminal to calm down before pressing Ctrl-C: a line about
        something that already happened belongs before the signal, not after."""
        deadline = time.monotonic() + timeout
        seen = len(self.chunks)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            if len(self.chunks) == seen:
                return
            seen = len(self.chunks)

    def finish(self, timeout):
        """Wait for the process and its last words; True if it ended in time."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self.reader.join(5)
        return True


def wait_until(check, timeout):
    """Poll `check()` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class Repl:
    """The asyncio REPL (python -m asyncio), replayed: a loop in its own thread."""

    def __init__(self):
        # The real REPL imports from the folder it was started in: the repository.
        if str(ROOT) not in sys.path:
            sys.path.append(str(ROOT))
        self.loop = asyncio.new_event_loop()
        self.namespace = {"__name__": "__main__", "asyncio": asyncio}
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, source, timeout=COMMAND_TIMEOUT):
        """Run one statement as the REPL does: (what it printed, the exception)."""
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        code = compile(source, "<stdin>", "single", flags=flags)
        done = concurrent.futures.Future()

        def start():  # on the loop's thread, as the REPL's runcode does
            try:
                result = types.FunctionType(code, self.namespace)()
                if not asyncio.iscoroutine(result):
                    done.set_result(result)
                    return
                task = self.loop.create_task(result)
                asyncio.futures._chain_future(task, done)
            except BaseException as exc:  # the page may expect it
                done.set_exception(exc)

        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            self.loop.call_soon_threadsafe(start)
            try:
                done.result(timeout)
                raised = None
            except concurrent.futures.TimeoutError:
                raise TranscriptError(
                    f"{source.strip()!r} took over {timeout} s"
                ) from None
            except BaseException as exc:
                raised = exc
        return captured.getvalue(), raised

    def close(self):
        async def cancel_all():
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Leaving the REPL closes its connections, wherever the session kept
            # them (in a list, a closure...): the process that held them ends.
            for stream in connections_of(self.loop):
                stream.close()
            await asyncio.sleep(0)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            future = asyncio.run_coroutine_threadsafe(cancel_all(), self.loop)
            future.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


def connections_of(loop):
    """Every stream writer and transport still open on `loop`."""
    gc.collect()
    return [
        thing
        for thing in gc.get_objects()
        if isinstance(thing, asyncio.StreamWriter | asyncio.BaseTransport)
        and getattr(thing, "_loop", None) is loop
        and not thing.is_closing()
    ]


def python_wrappers(directory):
    """`python` and `python3` scripts that run the Python the tests run on.

    Scripts rather than symbolic links: a link to a virtual environment's python,
    put in another folder, would not find the environment's packages.
    """
    for name in ("python", "python3"):
        wrapper = Path(directory) / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        wrapper.chmod(0o755)


def environment(bin_directory):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_", "PYTHON"))
        and key not in ("CI", "BUILD_NUMBER")  # pytest says more on CI than to a reader
    }
    # `python` first, then the commands its packages install (uvicorn, pytest...).
    scripts = Path(sys.executable).parent
    env["PATH"] = os.pathsep.join([bin_directory, str(scripts), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"  # print as a terminal shows it, line by line
    env["COLUMNS"] = "88"  # the width of the transcripts' terminal
    env["LINES"] = "40"
    env["TERM"] = "dumb"
    return env


class Scenario:
    """One page's console blocks, replayed in order."""

    def __init__(
        self, page, cwd=ROOT, wait_timeout=WAIT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
    ):
        self.page = page
        self.cwd = cwd
        self.wait_timeout = wait_timeout
        self.command_timeout = command_timeout
        self.ports = {}  # the port a page shows -> the port really in use
        self.background = {}
        self.repl = None
        self.status = 0  # of the last command, for a later `$ echo $?`
        self.shell_state = []
        self.verified = self.marked = self.elsewhere = 0
        self._bin = tempfile.TemporaryDirectory()
        python_wrappers(self._bin.name)
        self.env = environment(self._bin.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """End every process the page started, and the REPL."""
        for process in self.background.values():
            stop(process.process)
            process.reader.join(5)
            process.process.stdout.close()
        self.background.clear()
        if self.repl:
            self.repl.close()
            self.repl = None
        self._bin.cleanup()

    def replay(self):
        # `python -m asyncio` runs with Python's default warning filters, which
        # ignore ResourceWarning: a connection a session stops referring to is
        # closed by the garbage collector without a word, as the reader sees.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self.replay_blocks()

    def replay_blocks(self):
        for block in console_blocks(self.page.read_text()):
            where = f"{self.page.name}, console block at line {block.line}"
            if block.marker("skip"):
                self.marked += 1
            elif not runs_here(block):
                self.elsewhere += 1
            else:
                try:
                    self.replay_block(block)
                except TranscriptError as error:
                    raise TranscriptError(f"{where}: {error}") from None
                self.verified += 1

    # Port mapping

    def mapped(self, text):
        for shown, real in self.ports.items():
            text = re.sub(rf"\b{shown}\b", real, text)
        return text

    def learn_port(self, shown_text, real_output):
        shown, real = LISTENING.search(shown_text), LISTENING.search(real_output)
        if shown and real:
            self.ports[shown[1]] = real[1]

    # Blocks

    def replay_block(self, block):
        text = block.text
        self.shell_state = []  # a block's `ulimit`, `cd`, `export`: its terminal's
        name = block.marker("background")
        if name:
            text = self.start_background(name, text, block)
        for keyword in ("screen", "interrupt", "terminate"):
            name = block.marker(keyword)
            if name and keyword == "screen":
                return self.check_screen(name, text)
            if name:
                text = self.stop_background(name, keyword, text)
        if not text.strip():
            return
        first = text.splitlines()[0]
        if REPL_COMMAND.match(first):
            if self.repl:
                self.repl.close()
            self.repl = Repl()
            return self.replay_repl(text.partition("\n")[2])
        if first.startswith(">>>"):
            if not self.repl:
                raise TranscriptError(">>> with no `$ python -m asyncio` before it")
            return self.replay_repl(text)
        if not first.startswith("$ "):
            raise TranscriptError(
                "it does not start with `$ command` or `>>>`: mark how to replay it"
            )
        for command, want in split_commands(text):
            self.run_command(command, want, block)

    def command_line(self, command, block):
        if block.marker("python"):  # `python3.12 ...` runs on the Python in use
            command = re.sub(r"^python3\.\d+\b", "python", command)
        return self.mapped(command)

    def spawn(self, command_line):
        """Run a command line in bash, in a process group of its own (so that a
        signal reaches whatever it starts), its output merged into one pipe.

        Each command has a shell of its own, so the block's earlier `ulimit`,
        `cd` and `export` commands are run again before it, as its terminal would
        remember them.
        """
        script = "\n".join([*self.shell_state, command_line])
        return subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run_command(self, command, want, block):
        if command == "echo $?":  # each command has a shell of its own: remember
            if not same(want, f"{self.status}\n"):
                raise TranscriptError(f"the last command's status was {self.status}")
            return
        process = self.spawn(self.command_line(command, block))
        if command.startswith(SHELL_STATE):
            self.shell_state.append(command)
        try:
            out, _ = process.communicate(timeout=self.command_timeout)
        except subprocess.TimeoutExpired:
            stop(process)
            process.stdout.close()  # or the next test's gc reports it unclosed
            raise TranscriptError(
                f"`{command}` ran over {self.command_timeout} s"
            ) from None
        self.status = process.returncode
        got = out.decode(errors="replace")
        if not same(self.mapped(want), got):
            raise TranscriptError(f"`{command}` printed something else")

    def start_background(self, name, text, block):
        """Start the block's command; wait for its lines (up to a `^C` line)."""
        lines = text.splitlines(keepends=True)
        if not lines or not lines[0].startswith("$ "):
            raise TranscriptError("a background block starts with `$ command`")
        if name in self.background:
            raise TranscriptError(f"{name!r} is already running")
        while len(lines) > 1 and lines[0][2:].startswith(SHELL_STATE):
            if not lines[1].startswith("$ "):
                raise TranscriptError(f"`{lines[0][2:].strip()}` printed something")
            self.shell_state.append(lines.pop(0)[2:].strip())
        shown = lines[0][2:].strip()
        rest = "".join(lines[1:])
        want, interrupt, after = rest.partition("\n^C")
        if rest.startswith("^C"):
            want, interrupt, after = "", "^C", rest[2:]
        process = self.spawn("exec " + self.command_line(shown, block))
        running = self.background[name] = Background(name, shown, process)
        expected = self.mapped(want)
        printed = lambda: complete_lines(running.output())  # noqa: E731
        if not wait_until(lambda: appeared(expected, printed()), self.wait_timeout):
            same(expected, printed())  # show the difference
            raise TranscriptError(f"{name!r} did not print what the page shows")
        self.learn_port(want, printed())
        return ("^C" + after) if interrupt else ""

    def check_screen(self, name, text):
        running = self.running(name)
        first, _, want = text.partition("\n")
        if first[2:].strip() != running.shown_command:
            raise TranscriptError(f"the screen of {name!r} starts with another command")
        want = self.mapped(want)
        if not wait_until(
            lambda: same_quietly(want, running.output()), self.wait_timeout
        ):
            same(want, running.output())  # show the difference
            raise TranscriptError(f"the screen of {name!r} shows something else")

    def stop_background(self, name, keyword, text):
        """Signal NAME; compare what it prints after; return the block's rest.

        An interrupt block may show Ctrl-C pressed again (a later line starting
        with `^C`): once what the first press printed is there, the second goes.
        """
        running = self.running(name)
        number = signal.SIGINT if keyword == "interrupt" else signal.SIGTERM
        if text.startswith("^C"):
            text = text[2:]
        want, dollar, rest = text.partition("\n$ ")
        if text.startswith("$ "):
            want, dollar, rest = "", "$ ", text[2:]
        *first_presses, last_press = (
            want.split("\n^C") if keyword == "interrupt" else [want]
        )
        running.settle()
        for shown in first_presses:
            before = len(running.output())
            os.killpg(running.process.pid, number)

            time.sleep(0.5)  # two signals too close together arrive as one

            def printed_it(shown=shown, before=before):
                since = printed_since(running.output(), before)
                return same_quietly(self.mapped(shown), since)

            if not wait_until(printed_it, self.wait_timeout):
                same(self.mapped(shown), printed_since(running.output(), before))
                raise TranscriptError(f"{name!r} printed something else after ^C")
        before = len(running.output())
        os.killpg(running.process.pid, number)
        if not running.finish(self.wait_timeout):
            raise TranscriptError(f"{name!r} did not end after {number.name}")
        del self.background[name]
        running.process.stdout.close()
        if not same(self.mapped(last_press), printed_since(running.output(), before)):
            raise TranscriptError(
                f"{name!r} printed something else after {number.name}"
            )
        self.status = shell_status(running.process.returncode)
        return "$ " + rest if dollar else ""

    def running(self, name):
        if name not in self.background:
            raise TranscriptError(f"no background process named {name!r}")
        return self.background[name]

    def replay_repl(self, text):
        parser = doctest.DocTestParser()
        for example in parser.get_examples(text):
            printed, raised = self.repl.run(self.mapped(example.source))
            source = example.source.strip()
            if example.exc_msg is not None:
                if raised is None:
                    raise TranscriptError(f">>> {source} should raise")
                got = traceback.format_exception_only(raised)[-1]
                if not same(self.mapped(example.exc_msg), got):
                    raise TranscriptError(f">>> {source} raised another error")
            elif raised is not None:
                trace = "".join(traceback.format_exception(raised))
                raise TranscriptError(f">>> {source} raised:\n{trace}")
            elif not same(self.mapped(example.want), printed):
                raise TranscriptError(f">>> {source} printed something else")


def complete_lines(output):
    return output[: output.rfind("\n") + 1]


def appeared(want, output):
    """Have all the lines a page shows appeared, in order, in a process's output?"""
    return not want.strip() or same_quietly(want.rstrip() + "...", output)


def printed_since(output, before):
    """What a process printed after the first `before` characters of its output.

    A line still being printed when the signal went belongs to what came before.
    """
    if before and not output[:before].endswith("\n"):
        before = output.find("\n", before) + 1 or len(output)
    return output[before:]


def same_quietly(want, got):
    with contextlib.redirect_stdout(io.StringIO()):
        return same(want, got)


def stop(process, timeout=10):
    """End a process and its children: SIGTERM to its group, then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    else:  # its children may live on in its group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
