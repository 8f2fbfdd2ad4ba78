"""Every Python code block in docs/ runs, and prints or raises what the page says.

Blocks of a page run in order in one namespace, on a fresh event loop, as in
`python -m asyncio`: top-level `await` works. A ```python block may be followed by
an {output} block (what it prints; `...` matches anything) and/or a {raises} block
(the last line of the traceback it must raise). Where Pythons differ, a page shows
one {output} or {raises} block per behaviour, each with a `:python:` condition such
as `">=3.12"` or `"<3.12"`; each is checked on the Pythons it names.
"""

import ast
import asyncio
import contextlib
import doctest
import gc
import io
import re
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
PYTHON_FENCES = {"python", "py", "{code-block} python", "{code-block} py"}
OPTION = re.compile(r"^:([\w-]+):(.*)$")
CHECKER = doctest.OutputChecker()
THIS_PYTHON = "{}.{}.{}".format(*sys.version_info)


@dataclass
class Block:
    kind: str  # "python", "output" or "raises"
    text: str
    line: int
    options: dict


def split_options(content):
    """Separate a directive's leading `:name: value` lines from its body."""
    lines = content.splitlines(keepends=True)
    options = {}
    while lines and (match := OPTION.match(lines[0])):
        options[match[1]] = match[2].strip()
        lines.pop(0)
    return options, "".join(lines), len(options)


def blocks_in(text, first_line=1):
    """The python, output and raises blocks of a MyST page, nested ones included."""
    parser = MarkdownIt("commonmark").use(colon_fence_plugin)
    for token in parser.parse(text):
        if token.type not in ("fence", "colon_fence"):
            continue
        info = token.info.strip()
        options, body, skipped = split_options(token.content)
        line = first_line + token.map[0] + 1 + skipped
        if info in PYTHON_FENCES:
            yield Block("python", body, line, options)
        elif info in ("{output}", "{raises}"):
            yield Block(info.strip("{}"), body, line, options)
        elif info.startswith("{") and not info.startswith(("{code", "{literal")):
            yield from blocks_in(body, line)  # a directive holding Markdown


def runnable(block):
    """Blocks marked for a newer Python (class python-3.X) wait for that Python."""
    for name in block.options.get("class", "").split():
        if match := re.fullmatch(r"python-3\.(\d+)", name):
            return sys.version_info >= (3, int(match[1]))
    return True


def for_this_python(block):
    """An {output} or {raises} block applies unless its `:python:` excludes us.

    The condition is quoted on the page (`:python: ">=3.12"`): MyST reads options
    as YAML, where a bare `>` would start a folded block.
    """
    condition = block.options.get("python")
    return condition is None or python_matches(condition.strip("\"'"))


def python_matches(condition):
    """Is the running Python one of `condition`, a specifier set like `>=3.12`?"""
    return SpecifierSet(condition).contains(THIS_PYTHON, prereleases=True)


def examples(page):
    """Each python block with what it should print and the error it should raise.

    The {output} and {raises} blocks right after a python block belong to it; of
    those, the ones whose `:python:` condition holds here are its expectations.
    """
    found = list(blocks_in(page.read_text()))
    for index, block in enumerate(found):
        if block.kind != "python" or not runnable(block):
            continue
        expected = {"output": [], "raises": []}
        for follower in found[index + 1 :]:
            if follower.kind == "python":
                break
            if for_this_python(follower):
                expected[follower.kind].append(follower.text)
        outputs, errors = expected["output"], expected["raises"]
        assert len(outputs) <= 1 and len(errors) <= 1, (
            f"{page.name}, block at line {block.line}: more than one output or "
            "error applies to this Python; give each a :python: condition"
        )
        output = outputs[0] if outputs else None
        error = errors[0].strip() if errors else None
        yield block, output, error


def show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{category.__name__}: {message}", file=sys.stderr)


def run_block(block, namespace, loop, filename):
    """Run one block; return what it printed and the exception it raised, if any."""
    captured = io.StringIO()
    with (
        contextlib.redirect_stdout(captured),
        contextlib.redirect_stderr(captured),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("always")
        warnings.showwarning = show_warning
        try:
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            source = "\n" * (block.line - 1) + block.text
            code = compile(source, filename, "exec", flags=flags)
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):  # the block used top-level await
                loop.run_until_complete(result)
            raised = None
        except Exception as exc:  # the page may expect it
            raised = exc
            # The traceback's frames would keep the block's objects alive past the
            # gc.collect() below, and their warnings would land in a later block.
            traceback.clear_frames(exc.__traceback__)
        gc.collect()  # report coroutines that were never awaited now, not later
    return captured.getvalue(), raised


def close(loop):
    """Cancel what the page left running, as asyncio.run does, then close."""
    for task in asyncio.all_tasks(loop):
        task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def last_line(exc):
    return traceback.format_exception_only(exc)[-1].strip()


def check_page(page):
    """Run every block of a page; AssertionError names the first that misbehaves."""
    namespace = {"__name__": "__main__"}
    loop = asyncio.new_event_loop()
    filename = str(page.relative_to(page.parent.parent))
    try:
        for block, output, error in examples(page):
            where = f"{filename}, block at line {block.line}"
            printed, raised = run_block(block, namespace, loop, filename)
            if error is None and raised is not None:
                trace = "".join(traceback.format_exception(raised))
                raise AssertionError(f"{where} raised:\n{trace}")
            if error is not None:
                assert raised is not None, f"{where} should raise {error}"
                assert matches(error, last_line(raised)), (
                    f"{where} raised another error"
                )
            if output is not None:
                assert matches(output, printed), f"{where} printed something else"
    finally:
        close(loop)


def matches(want, got):
    """Compare as doctest does with ELLIPSIS, ignoring trailing whitespace."""
    want, got = want.rstrip() + "\n", got.rstrip() + "\n"
    if CHECKER.check_output(want, got, doctest.ELLIPSIS):
        return True
    print(f"--- expected\n{want}--- got\n{got}")
    return False


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_code_blocks(page):
    check_page(page)


# The harness itself: it must find nested blocks and fail when a page is wrong.

GOOD_PAGE = """\
```python
import asyncio
print(1)
```
```{output}
1
```
::::{dropdown} Solution
```{code-block} python
:emphasize-lines: 1
await asyncio.sleep(0)
1 / 0
```
```{raises}
ZeroDivisionError: division by zero
```
::::
```python
coroutine = asyncio.sleep(0)
del coroutine
```
```{output}
RuntimeWarning: coroutine 'sleep' was never awaited
```
"""


def write_page(tmp_path, text):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir(parents=True)
    page.write_text(text)
    return page


def test_harness_finds_nested_blocks_and_options(tmp_path):
    found = list(examples(write_page(tmp_path, GOOD_PAGE)))
    assert [(block.text, output, error) for block, output, error in found] == [
        ("import asyncio\nprint(1)\n", "1\n", None),
        (
            "await asyncio.sleep(0)\n1 / 0\n",
            None,
            "ZeroDivisionError: division by zero",
        ),
        ("coroutine = asyncio.sleep(0)\ndel coroutine\n", found[2][1], None),
    ]
    assert found[1][0].options == {"emphasize-lines": "1"}
    assert found[1][0].line == 11


@pytest.mark.parametrize(
    "broken",
    [
        GOOD_PAGE.replace("print(1)", "print(2)"),  # prints something else
        GOOD_PAGE.replace("1 / 0", "1 / 1"),  # the expected error does not happen
        GOOD_PAGE.replace("1 / 0", "[][0]"),  # another error happens
        GOOD_PAGE.replace("```{raises}\nZero", "```text\nZero"),  # an unexpected error
        GOOD_PAGE.replace("del coroutine", "coroutine.close()"),  # no warning
    ],
)
def test_harness_fails_a_wrong_page(tmp_path, broken):
    with pytest.raises(AssertionError):
        check_page(write_page(tmp_path, broken))


def test_harness_passes_a_right_page(tmp_path):
    check_page(write_page(tmp_path, GOOD_PAGE))


VERSIONED_PAGE = """\
```python
import sys
print(sys.version_info >= (3, 12))
```
```{output}
:python: ">=3.12"
True
```
```{output}
:python: "<3.12"
False
```
"""


def test_harness_checks_each_python_against_its_own_output(tmp_path):
    check_page(write_page(tmp_path, VERSIONED_PAGE))
    unconditional = re.sub(r":python: .*\n", "", VERSIONED_PAGE)
    with pytest.raises(AssertionError, match="more than one output"):
        check_page(write_page(tmp_path / "a", unconditional))
    wrong = VERSIONED_PAGE.replace("True", "Maybe").replace("False", "Maybe")
    with pytest.raises(AssertionError):
        check_page(write_page(tmp_path / "b", wrong))
