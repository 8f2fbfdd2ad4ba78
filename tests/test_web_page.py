"""The chat page for everyone: screen readers, keyboards, right-to-left text.

Headless Chromium, driven by Playwright as in test_web_browser.py, with the same
ChatPages (each page may reach only its own server). The page is the same file
on every server, so most tests use the ASGI chat; the accessibility audit runs
on all five, since each sends its own headers. The audit is axe-core, installed
from npm at the version pinned in package.json (`npm ci`).
"""

import json

import pytest
from conftest import ROOT, unavailable
from test_web_browser import ChatPages, expect_connected, messages, send
from webchat import SERVERS, chat_server

pytest.importorskip("playwright")
from playwright.sync_api import expect

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RECONNECT_WAIT = 40_000  # milliseconds, as in test_web_browser.py
ARABIC_NAME = "\u0633\u0627\u0645\u064a"  # Sami
# "The price is only 25 dollars!": a number and a "!" inside right-to-left text.
ARABIC_TEXT = (
    "\u0627\u0644\u0633\u0639\u0631 25 \u062f\u0648\u0644\u0627\u0631"
    " \u0641\u0642\u0637!"
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def chat_pages(browser, request):
    pages = ChatPages(browser, request.node.name)
    yield pages
    pages.close()


@pytest.fixture
def asgi_chat():
    with chat_server(SERVERS["asgi"]) as server:
        yield server


# Keeps every text that #status, a live region, takes: what a screen reader says.
RECORD_STATUS_CHANGES = """() => {
    window.statusChanges = [];
    const status = document.querySelector("#status");
    new MutationObserver(() => window.statusChanges.push(status.textContent))
        .observe(status, {childList: true, characterData: true, subtree: true});
}"""


def box(locator):
    return locator.bounding_box()


def test_every_control_has_a_name_and_the_status_dot_is_silent(chat_pages, asgi_chat):
    alice = chat_pages.open(asgi_chat, "alice")
    expect(alice.get_by_role("textbox", name="Message")).to_be_focused()
    expect(alice.get_by_role("log", name="Messages")).to_be_visible()
    expect(alice.locator("#me")).to_have_text("alice")  # shown, not the field's name
    status = alice.locator("#status")
    assert status.aria_snapshot() == "- status: connected"  # no "black circle"


def test_a_name_of_spaces_is_refused_with_a_reason(browser, asgi_chat):
    page = browser.new_page()
    try:
        page.goto(f"http://{asgi_chat.host}:{asgi_chat.port}/")
        page.locator("#name").fill("   ")
        page.locator("#name").press("Enter")
        expect(page.locator("#join-form")).to_be_visible()  # not joined
        assert page.locator("#name").evaluate("e => e.validity.patternMismatch")
        assert page.locator("#name").evaluate("e => e.validationMessage")  # said
    finally:
        page.close()


def test_right_to_left_names_and_messages_keep_their_places(chat_pages, asgi_chat):
    alice = chat_pages.open(asgi_chat, "alice")
    sami = chat_pages.open(asgi_chat, ARABIC_NAME, label="sami")
    send(sami, ARABIC_TEXT)
    for page in (alice, sami):
        newest = messages(page).last
        expect(newest).to_have_text(f"{ARABIC_NAME}: {ARABIC_TEXT}")
        name, text = newest.locator(".sender"), newest.locator(".text")
        # The page reads left to right: the name first, on the left, then the
        # message, laid out right to left within itself.
        assert box(name)["x"] + box(name)["width"] <= box(text)["x"] + 1
        assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
        assert name.evaluate("e => e.tagName") == "BDI"
    chat_pages.take_screenshots()


def test_a_counter_shows_before_the_limit_and_nothing_is_cut(chat_pages, asgi_chat):
    alice = chat_pages.open(asgi_chat, "alice")
    field, counter = alice.locator("#message"), alice.locator("#counter")
    field.fill("x" * 1000)
    expect(counter).to_be_hidden()
    field.fill("x" * 1950)
    expect(counter).to_have_text("50 left")
    too_long = "y" * 2100
    field.fill(too_long)
    expect(counter).to_have_text("100 too many")
    expect(field).to_have_value(too_long)  # not cut to 2000 behind the reader's back
    expect(field).to_have_attribute("aria-invalid", "true")
    field.press("Enter")
    expect(alice.locator("#status")).to_contain_text("too long")
    expect(field).to_have_value(too_long)  # kept, to be shortened
    send(alice, "short")
    expect(messages(alice).last).to_have_text("alice: short")
    expect(counter).to_be_hidden()
    chat_pages.take_screenshots()


def test_focus_and_status_across_a_reconnect(chat_pages):
    with chat_server(SERVERS["asgi"]) as first:
        reader = chat_pages.open(first, "reader")  # reads the messages
        writer = chat_pages.open(first, "writer")  # types in the field
        reader.locator("#messages").focus()
        expect(writer.locator("#message")).to_be_focused()
        reader.evaluate(RECORD_STATUS_CHANGES)
        port = first.port
        first.stop()
        for page in (reader, writer):
            expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    with chat_server(SERVERS["asgi"], "--port", str(port)):
        for page in (reader, writer):
            expect_connected(page, timeout=RECONNECT_WAIT)
        expect(reader.locator("#messages")).to_be_focused()
        expect(writer.locator("#message")).to_be_focused()
        # The live region spoke twice, however many retries failed in between.
        said = reader.evaluate("window.statusChanges")
        assert len(said) == 2, said
        assert said[0].startswith("disconnected (server shutting down)"), said
        assert said[1] == "connected", said
        # Both are told that they may have missed something.
        for page in (reader, writer):
            gap = page.locator("#messages .gap")
            expect(gap).to_have_count(1)
            expect(gap).to_contain_text("offline from")
        chat_pages.take_screenshots()


# Every timer the page sets from now on waits ten minutes: its next retry too.
STALL_TIMERS = """() => {
    const setTimer = window.setTimeout;
    window.setTimeout = (callback, delay, ...args) =>
        setTimer(callback, 600_000, ...args);
}"""


@pytest.mark.parametrize(
    "event",
    [
        "document.dispatchEvent(new Event('visibilitychange'))",  # back to the tab
        "window.dispatchEvent(new Event('online'))",  # the network is back
    ],
    ids=["visible-again", "online-again"],
)
def test_coming_back_reconnects_at_once(chat_pages, event):
    """A reader who comes back to the tab, or whose network comes back, does
    not wait for the next retry (here ten minutes away): the page tries now."""
    with chat_server(SERVERS["asgi"]) as first:
        page = chat_pages.open(first, "reader")
        page.evaluate(STALL_TIMERS)
        port = first.port
        first.stop()
        expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    with chat_server(SERVERS["asgi"], "--port", str(port)):
        page.wait_for_timeout(1000)
        # The server is back, but the page would wait for its timer.
        expect(page.locator("#status")).to_have_attribute("data-state", "offline")
        page.evaluate(event)
        expect_connected(page, timeout=5000)


def test_a_new_message_does_not_move_a_reader_who_scrolled_up(chat_pages, asgi_chat):
    alice = chat_pages.open(asgi_chat, "alice")
    bob = chat_pages.open(asgi_chat, "bob")
    for n in range(30):
        send(alice, f"message {n}")
    expect(messages(bob).last).to_have_text("alice: message 29")
    bob_list, jump = bob.locator("#messages"), bob.locator("#jump-to-newest")
    assert bob_list.evaluate("list => list.scrollHeight > list.clientHeight")
    expect(jump).to_be_hidden()  # following the newest, so no need
    bob_list.evaluate("list => { list.scrollTop = 0; }")
    send(alice, "one more")
    expect(messages(bob).last).to_have_text("alice: one more")
    assert bob_list.evaluate("list => list.scrollTop") == 0
    expect(jump).to_be_visible()
    chat_pages.take_screenshots()
    jump.click()
    gap = "list => list.scrollHeight - list.scrollTop - list.clientHeight"
    assert bob_list.evaluate(gap) <= 2
    expect(jump).to_be_hidden()


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def any_server(request):
    with chat_server(request.param) as server:
        yield server


def serious_violations(page):
    """What axe-core finds on the page as it is now, serious or critical only."""
    # The newest message fades in: judge its colours once it has.
    page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")
    page.evaluate(AXE.read_text())  # run as a script of the page's own
    found = page.evaluate("async () => (await axe.run()).violations")
    return [
        {"id": v["id"], "help": v["help"], "where": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(chat_pages, any_server):
    if not AXE.exists():
        unavailable("axe-core is not installed: run `npm ci` at the root")
    alice = chat_pages.open(any_server, "alice")
    send(alice, "hello")
    send(alice, ARABIC_TEXT)
    expect(messages(alice).last).to_have_text(f"alice: {ARABIC_TEXT}")
    violations = serious_violations(alice)
    assert not violations, json.dumps(violations, indent=2, ensure_ascii=False)
