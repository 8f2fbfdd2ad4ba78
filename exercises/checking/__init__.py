"""What every exercise's check shares: the registry, the report, loading an answer.

A check is a function `check(answer, report, attempt)`, registered with
`@exercise(...)`: it gets the learner's file, imported as a module (or its path, for
a whole program), runs the learner's code through `attempt`, which turns a crash
into a sentence, and says what is right and what is still wrong with
`report.expect(...)`. It must never print the solution: the messages describe
behaviour (what came back, how long it took, what was left running), and hint at
the idea to look for, not at the code.
"""

import ast
import asyncio
import contextlib
import importlib.util
import io
import json
import pkgutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

MARK = "@@check "  # the child's report lines start with this; the rest is noise


@dataclass
class Exercise:
    ident: str  # "04-2": chapter 4, exercise 2
    starter: str  # the file name under exercises/
    check: object
    seconds: float  # how long the whole check may take before it counts as a hang
    program: bool  # a whole program, run as a script, rather than imported


EXERCISES = {}


def exercise(ident, starter, seconds=30, program=False):
    """Register a check for exercise `ident`, whose starter file is `starter`.

    With `program=True` the check gets the file's path instead of the imported
    module: the exercise asks for a whole program, which runs as it is imported.
    """

    def register(check):
        EXERCISES[ident] = Exercise(ident, starter, check, seconds, program)
        return check

    return register


class Verdict(Exception):
    """Raised by a check, inside the learner's code's run: what went wrong, in words."""


class StopChecking(Exception):
    """The answer cannot be checked further (not written yet, or it crashed)."""


class Report:
    """Sends each verdict to the parent process, one JSON line per verdict."""

    def __init__(self, stream):
        self.stream = stream

    def send(self, kind, message):
        self.stream.write(MARK + json.dumps([kind, message]) + "\n")
        self.stream.flush()

    def right(self, message):
        self.send("right", message)

    def wrong(self, message):
        self.send("wrong", message)

    def expect(self, condition, right, wrong):
        """One check: `right` is said when `condition` holds, `wrong` when not."""
        if condition:
            self.right(right)
        else:
            self.wrong(wrong)
        return condition


def where_in(path, error):
    """The last line of the learner's file that the traceback passes through."""
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve() == Path(path).resolve()
    ]
    return f" (line {lines[-1]} of your file)" if lines else ""


def leaves_of(error):
    """The exceptions inside `error`, exception groups opened up."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves_of(inner)
    else:
        yield error


def described(error, path):
    """`KeyError: 'x' (line 12 of your file)`: an exception, without a traceback."""
    detail = f": {error}" if str(error) else ""
    return f"{type(error).__name__}{detail}{where_in(path, error)}"


class Attempt:
    """Run a piece of the learner's code; turn its failures into plain words.

    `NotImplementedError` means the starter is untouched; any other exception is
    reported with its message and the line of the learner's file it came from,
    and no traceback: the learner can run their file to see one.
    """

    def __init__(self, report, path):
        self.report, self.path = report, path

    def __call__(self, what, function, *args, **kwargs):
        self.report.send("step", what)  # named by the parent if it never returns
        try:
            return function(*args, **kwargs)
        except StopChecking:
            raise
        except Verdict as verdict:
            self.report.wrong(f"{what}: {verdict}")
            raise StopChecking from None
        except (Exception, asyncio.CancelledError) as error:  # the learner's bug
            leaves = list(leaves_of(error))
            if any(isinstance(leaf, NotImplementedError) for leaf in leaves):
                self.report.wrong(
                    f"{what}: not written yet (it raises NotImplementedError)"
                )
                raise StopChecking from None
            self.report.wrong(f"{what} raised {described(leaves[0], self.path)}")
            raise StopChecking from None

    def run(self, what, coroutine_function, *args, **kwargs):
        """`asyncio.run(coroutine_function(*args))`, with its failures in words."""
        return self(what, lambda: asyncio.run(coroutine_function(*args, **kwargs)))


def load(path):
    """Import the learner's file as a module named `answer`, not as __main__."""
    spec = importlib.util.spec_from_file_location("answer", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["answer"] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def captured():
    """Collect what the learner's code prints, as a list of lines when done."""
    lines = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield lines
    lines.extend(buffer.getvalue().splitlines())


class Stopwatch:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self.started


def tasks_left_behind():
    """Tasks of the running loop other than the current one that are not done."""
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current]


async def ticks_during(awaitable, every=0.01):
    """Await `awaitable` while a ticker counts; a long gap means a blocked loop.

    Returns the awaitable's result and the longest time between two ticks.
    """
    last = [time.perf_counter()]
    gaps = []

    async def tick():
        while True:
            await asyncio.sleep(every)
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

    ticker = asyncio.create_task(tick())
    try:
        result = await awaitable
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    gaps.append(time.perf_counter() - last[0])
    return result, max(gaps)


def run_child(ident, path, stream):
    """In the child process: load the answer and run the exercise's check."""
    report = Report(stream)
    attempt = Attempt(report, path)
    exercise = EXERCISES[ident]
    try:
        if exercise.program:
            answer = Path(path)
        else:
            with contextlib.redirect_stdout(io.StringIO()):  # stray prints: quiet
                answer = attempt("loading your file", load, path)
        exercise.check(answer, report, attempt)
    except StopChecking:
        pass
    report.send("done", "")


def run_program(path, seconds=20):
    """Run the learner's program; what it printed, its errors, its exit status."""
    try:
        finished = subprocess.run(
            [sys.executable, str(path)],
            capture_output=True,
            text=True,
            timeout=seconds,
            cwd=Path(path).parent,
        )
    except subprocess.TimeoutExpired:
        return "", f"it did not finish within {seconds} s", None
    last = finished.stderr.strip().splitlines()[-1:] or [""]
    return finished.stdout, last[0], finished.returncode


def old_idioms(path, names):
    """Which of `names` (attributes or names) the program's source still uses."""
    tree = ast.parse(Path(path).read_text())
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in names:
            used.add(node.id)
        elif isinstance(node, ast.YieldFrom) and "yield from" in names:
            used.add("yield from")
        elif isinstance(node, ast.keyword) and node.arg in names:
            used.add(node.arg)
    return sorted(used)


def load_all():
    """Import every chapter's module of checks, which registers its exercises."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return EXERCISES
