"""Check your answer to one of the book's exercises.

    python exercises/check.py --list             the exercises that have a check
    python exercises/check.py 04-2               check exercises/04-2-....py
    python exercises/check.py 04-2 my_answer.py  check another file

Your file is imported in a separate process, with a time limit, so an answer that
hangs or blocks the event loop cannot hang the check. The exit status is 0 only
when every check passes.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from checking import MARK, load_all, run_child  # noqa: E402

EXERCISES = load_all()

DOCS = HERE.parent / "docs"


def title_of(ident):
    """The exercise's title, as its chapter gives it (one home for each fact)."""
    chapter, number = ident.split("-")
    for page in DOCS.glob(f"{chapter}-*.md"):
        heading = re.search(rf"^### Exercise {number}: (.+)$", page.read_text(), re.M)
        if heading:
            return heading[1]
    return ""


def list_exercises():
    for ident in sorted(EXERCISES):
        print(f"{ident}  {title_of(ident)}  (exercises/{EXERCISES[ident].starter})")


def check(ident, path):
    """Run the check in a child process; print its verdicts; True if all pass."""
    exercise = EXERCISES[ident]
    print(f"Exercise {ident}: {title_of(ident)}")
    print(f"checking {path}")
    command = [sys.executable, str(HERE / "check.py"), "--child", ident, str(path)]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        child = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=exercise.seconds,
            env=environment,
            cwd=Path(path).resolve().parent,
        )
        output, errors, finished = child.stdout, child.stderr, True
    except subprocess.TimeoutExpired as timeout:
        output = decoded(timeout.stdout)
        errors, finished = decoded(timeout.stderr), False
    verdicts = [
        json.loads(line[len(MARK) :])
        for line in output.splitlines()
        if line.startswith(MARK)
    ]
    right = wrong = 0
    step = ""
    for kind, message in verdicts:
        if kind == "step":
            step = message
        elif kind == "right":
            right += 1
            print(f"  right: {message}")
        elif kind == "wrong":
            wrong += 1
            print(f"  still wrong: {message}")
    done = ["done", ""] in verdicts
    if not finished:
        wrong += 1
        during = f", while running {step}" if step else ""
        print(
            f"  still wrong: the check did not finish within {exercise.seconds:g} s"
            f"{during}. Something in your code waits forever, or blocks the event"
            " loop (a time.sleep, a loop with no await, an await that nothing"
            " completes)."
        )
    elif not done:
        wrong += 1
        last = errors.strip().splitlines()[-1:] or ["no message"]
        print(f"  still wrong: the check stopped early: {last[0]}")
    if wrong:
        print(f"{right} right, {wrong} still wrong: not yet.")
    else:
        print(f"All {right} checks pass. Well done!")
    return wrong == 0


def decoded(data):
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercise", nargs="?", help="chapter-number, as in 04-2")
    parser.add_argument("answer", nargs="?", help="your file (default: the starter)")
    parser.add_argument("--list", action="store_true", help="list the exercises")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.list or not arguments.exercise:
        list_exercises()
        return 0
    if arguments.child:
        run_child(arguments.exercise, arguments.answer, sys.stdout)
        return 0
    if arguments.exercise not in EXERCISES:
        print(f"No check for exercise {arguments.exercise!r}. These have one:")
        list_exercises()
        return 2
    path = arguments.answer or HERE / EXERCISES[arguments.exercise].starter
    if not Path(path).is_file():
        print(f"There is no file {path}.")
        return 2
    return 0 if check(arguments.exercise, Path(path).resolve()) else 1


if __name__ == "__main__":
    sys.exit(main())
