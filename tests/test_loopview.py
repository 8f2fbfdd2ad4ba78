"""Watch the loop: blocks of three tasks, run in the page, drawn one row a task.

The built site is served from _build/html on 127.0.0.1, and Chromium runs the
last exercises of chapters 3 and 4 (each a TaskGroup of three tasks; chapter 4's
in asyncio.run) on Pyodide with "Watch the loop" on: _static/looptrace.py
records them and _static/loopview.js draws them. The tests read the drawing
back: one row per task, and the bars of the three tasks interleaved in time, as
the exercises' solutions say.
"""

import itertools
import re

import pytest
from conftest import ROOT, unavailable

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [pytest.mark.built_site, pytest.mark.timeout(240)]

LOAD = 120_000  # milliseconds: Pyodide's first start, then the page's earlier blocks
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def context(browser, site):
    """A browser context that may only talk to the site, and reports its errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.elsewhere, context.errors = [], []

    def route(route):
        if route.request.url.startswith((site, "data:", "blob:")):
            route.continue_()
        else:
            context.elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    yield context
    context.close()
    assert not context.elsewhere, f"requests left 127.0.0.1: {context.elsewhere}"
    assert not context.errors, f"JavaScript errors: {context.errors}"


def watch(context, site, chapter, text):
    """Run the block of `chapter` that holds `text` with "Watch the loop" on."""
    page = context.new_page()
    page.on("pageerror", lambda error: context.errors.append(str(error)))
    page.goto(f"{site}docs/{chapter}.html")
    number = block_number(page, text)
    toggle = page.get_by_role(
        "button", name=f"Watch the loop of block {number}", exact=True
    )
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name=f"Run block {number}", exact=True).click()
    view = page.locator("figure.loopview")
    expect(view).to_have_count(1, timeout=LOAD)
    expect(view).to_have_attribute("data-state", "done", timeout=LOAD)
    output = page.locator("div.runnable, div.runs-on-machine").nth(number - 1)
    stderr = output.locator("xpath=following-sibling::div[1]//pre[2]")
    expect(stderr).to_be_hidden()  # the block ran without an error
    return page, view


@pytest.fixture(scope="module")
def wake_up(context, site):
    """Chapter 3's last exercise: first and second wait for an event ring sets."""
    return watch(context, site, "03-event-loop", "async def watch_a_wake_up")


@pytest.fixture(scope="module")
def chatters(context, site):
    """Chapter 4's last exercise: ann, bob and cy, in a task group of asyncio.run."""
    return watch(context, site, "04-running", "async def three_chatters")


def block_number(page, text):
    """The runner's number for the code block that holds `text` (1 is the first)."""
    blocks = page.locator("div.runnable, div.runs-on-machine")
    expect(blocks.first).to_be_visible()
    texts = blocks.all_text_contents()
    (index,) = [index for index, code in enumerate(texts) if text in code]
    return index + 1


def steps(view, task):
    """(place among all steps, start, end) of each bar in the row of `task`."""
    bars = view.locator(f'g.loopview-row[data-task="{task}"] rect.loopview-run')
    return [
        (
            int(bar.get_attribute("data-order")),
            float(bar.get_attribute("data-t0")),
            float(bar.get_attribute("data-t1")),
        )
        for bar in bars.all()
    ]


def waits(view, task):
    """(what, start, end) of each wait in the row of `task`."""
    lines = view.locator(f'g.loopview-row[data-task="{task}"] g.loopview-wait')
    return [
        (
            line.get_attribute("data-on"),
            float(line.get_attribute("data-t")),
            float(line.get_attribute("data-until") or "nan"),
        )
        for line in lines.all()
    ]


def rows(view):
    return [
        row.get_attribute("data-task") for row in view.locator("g.loopview-row").all()
    ]


def in_order(view, tasks):
    """Each bar of `tasks` as (place, start, end, task), in the order they ran."""
    return sorted((*step, task) for task in tasks for step in steps(view, task))


def test_three_tasks_waking_on_an_event_get_three_interleaved_rows(wake_up):
    _, view = wake_up
    tasks = ["first", "second", "ring"]
    # The block's own task has a row too, the top one.
    assert rows(view)[1:] == tasks
    bars = in_order(view, tasks)
    assert [task for *_, task in bars] == [
        "first",
        "second",
        "ring",
        "ring",
        "first",
        "second",
    ]
    for (_, _, end, _), (_, start, _, _) in itertools.pairwise(bars):
        assert end <= start  # one task runs at a time
    ring_ends = bars[3][2]
    for task in ["first", "second"]:
        ((on, since, until),) = waits(view, task)
        assert on == "event wait"
        assert since <= bars[2][1] and until >= ring_ends  # woken after set()
    ((on, since, until),) = waits(view, "ring")
    assert on == "sleep 0.02"
    assert until - since >= 0.019


def test_three_tasks_of_asyncio_run_take_turns_as_the_solution_says(chatters):
    _, view = chatters
    tasks = ["ann", "bob", "cy"]
    # asyncio.run's task, three_chatters, has a row too: the recorder follows the
    # fresh loop of asyncio.run.
    assert set(tasks) < set(rows(view))
    main = view.locator("g.loopview-row", has_text="three_chatters")
    expect(main.locator("g.loopview-wait")).to_have_attribute(
        "data-on", "its task group"
    )
    assert [len(steps(view, task)) for task in tasks] == [4, 3, 3]
    bars = in_order(view, tasks)
    order = [task for *_, task in bars]
    assert order == ["ann", "bob", "cy", "ann", "cy", "ann", "cy", "ann", "bob", "bob"]
    for (_, _, end, _), (_, start, _, _) in itertools.pairwise(bars):
        assert end <= start
    assert [on for on, _, _ in waits(view, "bob")][:2] == ["sleep 0.05"] * 2
    assert bars[-1][1] - bars[0][1] >= 0.09  # bob's last bar, after two sleeps


def test_the_view_says_the_same_in_words(wake_up):
    _, view = wake_up
    svg = view.locator("svg")
    expect(svg).to_have_attribute("role", "img")
    expect(svg.locator("desc")).to_contain_text("ring: ran 2 times")
    count = len(rows(view))
    expect(view.locator(".loopview-status")).to_have_text(
        re.compile(rf"^Recorded {count} tasks over [\d.]+ ms\.$")
    )
    view.locator("summary").click()
    table_rows = view.locator("table.loopview-table tbody tr")
    expect(table_rows).to_have_count(count)
    expect(table_rows.filter(has_text="ring")).to_contain_text("awaited sleep 0.02")


def test_the_view_passes_axe_in_light_and_dark(wake_up):
    page, _ = wake_up
    if not AXE.exists():
        unavailable("axe-core is not installed: run `npm ci` at the root")
    page.evaluate(AXE.read_text())
    for theme in ("light", "dark"):
        page.evaluate("theme => { document.body.dataset.theme = theme; }", theme)
        found = page.evaluate(
            "async () => (await axe.run('figure.loopview',"
            " {resultTypes: ['violations']})).violations"
        )
        grave = [v["id"] for v in found if v["impact"] in ("serious", "critical")]
        assert not grave, f"{theme}: {grave}"
