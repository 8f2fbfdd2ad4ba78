"""The concept chapters' code blocks, run in the page: Pyodide in headless Chromium.

The built site is served from _build/html on 127.0.0.1; any request that would
leave this address, from the page or its worker, is refused and fails the test.
"""

import doctest
import importlib.util
import re
from pathlib import Path

import pytest
from conftest import require_build, serving

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [pytest.mark.built_site, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parent.parent
LOAD = 90_000  # milliseconds: Pyodide's first start, on a busy machine
CHECKER = doctest.OutputChecker()


class Requests:
    """Every URL the page and its workers asked for, and any that left the site."""

    def __init__(self, site):
        self.site = site
        self.seen = []
        self.elsewhere = []

    def route(self, route):
        url = route.request.url
        if url.startswith((self.site, "data:", "blob:")):
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def record(self, request):
        self.seen.append(request.url)
        if not request.url.startswith((self.site, "data:", "blob:")):
            self.elsewhere.append(request.url)


def test_the_site_serves_pyodide():
    assert (
        require_build("html", "_static", "pyodide", "pyodide.asm.wasm").stat().st_size
    )


@pytest.fixture
def requests(site):
    return Requests(site)


@pytest.fixture
def page(browser, site, requests):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", requests.route)
    context.on("request", requests.record)
    errors = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not requests.elsewhere, f"requests left 127.0.0.1: {requests.elsewhere}"
    assert not errors, f"JavaScript errors: {errors}"


def open_chapter(page, site, name):
    page.goto(f"{site}docs/{name}.html")
    expect(page.locator(".runnable-controls").first).to_be_visible()


def block(page, number):
    """The code block numbered `number` on the page (1 is the first python block)."""
    return page.locator("div.runnable, div.runs-on-machine").nth(number - 1)


def run(page, number, timeout=LOAD):
    page.get_by_role("button", name=f"Run block {number}", exact=True).click()
    expect(status(page, number)).to_have_text("Done.", timeout=timeout)


def status(page, number):
    return output(page, number).locator(".runnable-status")


def output(page, number):
    return block(page, number).locator("xpath=following-sibling::div[1]")


def edit(page, number, code):
    page.get_by_role("button", name=f"Edit block {number}", exact=True).click()
    page.get_by_label(f"Code of block {number}, editable").fill(code)


def recorded_output(page, number):
    """The text of the {output} block the page shows after code block `number`."""
    output_block = block(page, number).locator(
        "xpath=following::div[contains(concat(' ', @class, ' '), ' output ')][1]//pre"
    )
    return output_block.text_content()


def test_a_page_without_run_pressed_loads_no_pyodide(page, site, requests):
    open_chapter(page, site, "02-coroutines")
    page.wait_for_load_state("networkidle")
    loaded = [url for url in requests.seen if re.search(r"pyodide|worker", url)]
    assert not loaded
    assert page.locator(".runnable-note").inner_text().count("Pyodide") == 1


def test_a_block_prints_what_its_output_block_says(page, site, requests):
    # Block 3 of chapter 2 needs blocks 1 and 2: running it runs them first.
    open_chapter(page, site, "02-coroutines")
    run(page, 3)
    printed = output(page, 3).locator(".runnable-stdout").text_content()
    expected = recorded_output(page, 3).rstrip("\n") + "\n"
    assert CHECKER.check_output(expected, printed, doctest.ELLIPSIS), printed
    expect(output(page, 3).locator(".runnable-stderr")).to_be_hidden()
    expect(page.locator(".runnable-python")).to_contain_text("Python 3.")
    # The worker's requests are seen, so the check that none leaves covers them.
    assert any(url.endswith("/pyodide/pyodide.asm.wasm") for url in requests.seen)


def number_of(page, text):
    """The number of the code block that contains `text`."""
    blocks = page.locator("div.runnable, div.runs-on-machine")
    texts = blocks.evaluate_all("blocks => blocks.map(block => block.textContent)")
    return next(number for number, code in enumerate(texts, 1) if text in code)


def test_each_asyncio_run_has_a_fresh_loop_as_on_cpython(page, site):
    open_chapter(page, site, "02-coroutines")
    number = number_of(page, 'print("same loop?", first is second)')
    run(page, number)
    printed = output(page, number).locator(".runnable-stdout").text_content()
    assert printed == recorded_output(page, number).rstrip("\n") + "\n"
    assert printed.startswith("same loop? False\n")


def test_asyncio_run_tidies_up_and_closes_its_loop(page, site):
    open_chapter(page, site, "04-running")
    edit(
        page,
        1,
        "import asyncio\n\n"
        "async def numbers():\n"
        "    try:\n        yield 1\n        yield 2\n"
        "    finally:\n        print('numbers closed')\n\n"
        "async def forever():\n"
        "    try:\n        await asyncio.sleep(3600)\n"
        "    finally:\n        print('forever cancelled')\n\n"
        "async def main():\n"
        "    global started\n"
        "    started = numbers()\n"
        "    await anext(started)\n"
        "    asyncio.create_task(forever())\n"
        "    await asyncio.sleep(0)\n"
        "    return asyncio.get_running_loop()\n\n"
        "loop = asyncio.run(main())\n"
        "print('closed?', loop.is_closed())\n",
    )
    run(page, 1)
    expect(output(page, 1).locator(".runnable-stdout")).to_have_text(
        "forever cancelled\nnumbers closed\nclosed? True\n"
    )


def test_an_edited_block_runs_the_edit(page, site):
    open_chapter(page, site, "04-running")
    edit(
        page,
        1,
        "import asyncio\n\nasync def main():\n    return 6 * 7\n\n"
        "print(asyncio.run(main()))\n",
    )
    run(page, 1)
    expect(output(page, 1).locator(".runnable-stdout")).to_have_text("42\n")
    page.get_by_role("button", name="Reset block 1", exact=True).click()
    expect(page.get_by_label("Code of block 1, editable")).to_have_count(0)
    expect(block(page, 1)).to_be_visible()


def test_a_nested_asyncio_run_raises_as_on_cpython(page, site):
    open_chapter(page, site, "04-running")
    edit(
        page,
        1,
        "import asyncio\n\nasync def outer():\n"
        "    asyncio.run(asyncio.sleep(0))\n\nasyncio.run(outer())\n",
    )
    page.get_by_role("button", name="Run block 1", exact=True).click()
    expect(output(page, 1).locator(".runnable-stderr")).to_contain_text(
        "RuntimeError: asyncio.run() cannot be called from a running event loop",
        timeout=LOAD,
    )


# Clicks Stop and resolves, in the page, with the milliseconds until the block's
# status says it stopped: the test's own round trips are not counted.
TIME_THE_STOP = """([button, status]) => new Promise((resolve) => {
    const pressed = performance.now();
    const watch = new MutationObserver(() => {
        if (status.textContent === "Stopped.") {
            watch.disconnect();
            resolve(performance.now() - pressed);
        }
    });
    watch.observe(status, {childList: true, characterData: true, subtree: true});
    button.click();
})"""


def stop_after_start(page, number, code):
    """Run `code` in block `number`, press Stop once it runs: seconds to stop."""
    edit(page, number, code)
    page.get_by_role("button", name=f"Run block {number}", exact=True).click()
    expect(status(page, number)).to_have_text("Running…", timeout=LOAD)
    page.wait_for_timeout(300)  # well inside the block, past its first line
    stop = page.get_by_role("button", name=f"Stop block {number}", exact=True)
    handles = [stop.element_handle(), status(page, number).element_handle()]
    return page.evaluate(TIME_THE_STOP, handles) / 1000


def test_stop_cancels_a_block_that_awaits(page, site):
    open_chapter(page, site, "04-running")
    run(page, 1)  # Python loaded, so the clock below times only the stop
    took = stop_after_start(page, 2, "import asyncio\nawait asyncio.sleep(3600)\n")
    assert took < 0.2
    expect(output(page, 2).locator(".runnable-stderr")).to_have_text("Stopped.\n")


def test_stop_ends_a_busy_loop_within_a_second(page, site):
    open_chapter(page, site, "04-running")
    run(page, 1)
    took = stop_after_start(page, 2, "while True:\n    pass\n")
    assert took < 1.0  # cancelling, 0.8 s of grace, then a new worker
    # Python starts again on the next Run, and runs the page's blocks again.
    run(page, 1)


@pytest.fixture(scope="module")
def isolated_site():
    """The built site served as `_ext/serve.py` serves it: cross-origin isolated."""
    serve = load_module(ROOT / "_ext" / "serve.py")
    with serving(
        require_build("html", "index.html").parent, serve.IsolatingHandler
    ) as url:
        yield url


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stop_interrupts_a_busy_loop_when_the_page_is_isolated(browser, isolated_site):
    context = browser.new_context()
    requests = Requests(isolated_site)
    context.route("**/*", requests.route)
    page = context.new_page()
    try:
        open_chapter(page, isolated_site, "04-running")
        assert page.evaluate("crossOriginIsolated")
        edit(page, 1, "earlier = 'kept'\n")
        run(page, 1)
        took = stop_after_start(page, 2, "while True:\n    pass\n")
        assert took < 1.0
        # Interrupted, not restarted: the worker and its names are still there.
        expect(output(page, 2).locator(".runnable-stderr")).to_have_text("Stopped.\n")
        edit(page, 3, "print(earlier)\n")
        page.get_by_role("button", name="Run block 3", exact=True).click()
        expect(output(page, 3).locator(".runnable-stdout")).to_have_text("kept\n")
    finally:
        context.close()
    assert not requests.elsewhere


def test_on_static_hosting_the_service_worker_isolates_the_next_pages(page, site):
    open_chapter(page, site, "04-running")
    assert not page.evaluate("crossOriginIsolated")  # a plain server sends no headers
    run(page, 1)  # the first Run registers the service worker
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    expect(page.locator(".runnable-controls").first).to_be_visible()
    assert page.evaluate("crossOriginIsolated")
    run(page, 1)
    took = stop_after_start(page, 2, "while True:\n    pass\n")
    assert took < 1.0
    expect(output(page, 2).locator(".runnable-stderr")).to_have_text("Stopped.\n")


def test_a_block_that_needs_sockets_runs_on_your_machine(page, site):
    open_chapter(page, site, "06-mistakes")
    needs_socket = page.locator("div.runs-on-machine", has_text="open_connection")
    expect(needs_socket.first).to_be_visible()
    note = needs_socket.first.locator("xpath=preceding-sibling::*[1]")
    expect(note).to_have_text(re.compile("^Runs on your machine"))
    controls = needs_socket.first.locator("xpath=following-sibling::div[1]")
    expect(controls).not_to_have_class(re.compile("runnable-output"))


# A stand-in for _static/loopview.js: it records what runnable.js asks of it.
FAKE_LOOP_VIEW = """window.BookLoopView = {
    calls: [],
    begin(element) { this.calls.push(["begin", element.querySelector("pre").id]); },
    event(element, event) { this.calls.push(["event", event]); },
    end(element) { this.calls.push(["end", element.querySelector("pre").id]); },
};"""


def without_the_loop_view(page):
    """The page as it is before _static/loopview.js exists."""
    page.route(re.compile(r"/loopview\.js"), lambda route: route.abort())


# A stand-in for _static/looptrace.py: one event when it starts, one when it stops.
FAKE_LOOP_TRACE = """import json

post = None


def start(send):
    global post
    post = send
    post(json.dumps({"kind": "start"}))


def stop():
    post(json.dumps({"kind": "stop"}))
"""


def test_a_watched_block_tells_the_loop_view_what_it_records(page, site):
    without_the_loop_view(page)
    page.add_init_script(FAKE_LOOP_VIEW)
    page.context.route(
        "**/_static/looptrace.py",
        lambda route: route.fulfill(body=FAKE_LOOP_TRACE, content_type="text/plain"),
    )
    open_chapter(page, site, "04-running")
    watch = page.get_by_role("button", name="Watch the loop of block 1", exact=True)
    expect(watch).to_have_attribute("aria-pressed", "false")
    watch.focus()
    page.keyboard.press("Enter")
    expect(watch).to_have_attribute("aria-pressed", "true")
    block(page, 1).locator("pre").evaluate("pre => { pre.id = 'watched'; }")
    run(page, 1)
    assert page.evaluate("window.BookLoopView.calls") == [
        ["begin", "watched"],
        ["event", {"kind": "start"}],
        ["event", {"kind": "stop"}],
        ["end", "watched"],
    ]


def test_a_watched_block_runs_even_without_the_recorder(page, site):
    without_the_loop_view(page)
    page.add_init_script(FAKE_LOOP_VIEW)
    page.context.route("**/_static/looptrace.py", lambda route: route.abort())
    open_chapter(page, site, "04-running")
    page.get_by_role("button", name="Watch the loop of block 1", exact=True).click()
    run(page, 1)
    expect(output(page, 1).locator(".runnable-stderr")).to_contain_text(
        "looptrace.py did not load"
    )
    calls = page.evaluate("window.BookLoopView.calls")
    assert [call[0] for call in calls] == ["begin", "end"]


def test_without_the_loop_view_there_is_no_watch_button(page, site):
    without_the_loop_view(page)
    open_chapter(page, site, "04-running")
    expect(page.get_by_role("button", name="Watch the loop of block 1")).to_have_count(
        0
    )


def test_the_runner_source_is_whole():
    """The worker's Python is a JavaScript template string: a backtick or ${ in it
    would end it or splice into it, and Python would not start."""
    worker = (ROOT / "_static" / "runnable-worker.js").read_text()
    runner = worker.split("String.raw`", 1)[1].split("\n`;", 1)[0]
    assert "`" not in runner and "${" not in runner
