"""The chat page in a real browser: headless Chromium driven by Playwright.

Against each of the five servers of examples/web/: two pages chat with each
other; a message made of HTML shows as text and runs nothing; the page
reconnects when its server comes back. A page may talk only to its own server
on 127.0.0.1: any other request is refused, and fails the test. Screenshots of
every page go to _build/test-artifacts/web/. The browser must report no breach of
the page's Content-Security-Policy.
"""

import pytest
from conftest import BUILD
from webchat import SERVERS, chat_server

pytest.importorskip("playwright")
from playwright.sync_api import expect

ARTIFACTS = BUILD / "test-artifacts" / "web"
WAIT = 15_000  # milliseconds: the longest any one expectation waits
# Long enough for a restarted server to start, and the page's backoff to retry.
RECONNECT_WAIT = 40_000
XSS = "<img src=x onerror=\"window.hacked = true; document.title = 'hacked'\">"

pytestmark = pytest.mark.timeout(120)


class ChatPages:
    """Opens chat pages, each in its own browser context (a separate user).

    Each context may only reach the server it was opened on; it records any
    attempt to go elsewhere, and any uncaught JavaScript error.
    """

    def __init__(self, browser, test_name):
        self.browser = browser
        self.test_name = test_name
        self.pages = {}  # the name that joined -> its page
        self.elsewhere = []  # requests that would have left the server
        self.errors = []  # uncaught JavaScript errors
        self.requested = set()  # every URL a page asked for
        self.photographed = False

    def open(self, server, name, label=None):
        """A page on `server` that has joined the chat as `name`.

        `label` names its screenshot (`name` by default).
        """
        origin = f"http://{server.host}:{server.port}"
        context = self.browser.new_context(viewport={"width": 800, "height": 500})
        context.route("**/*", lambda route: self.only_to(origin, route))
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self.check_console)
        page.on("websocket", lambda ws: self.check_websocket(origin, ws.url))
        page.goto(origin + "/")
        expect(page.locator("#status")).to_have_attribute("data-state", "offline")
        page.locator("#name").fill(name)
        page.locator("#name").press("Enter")
        expect_connected(page)
        expect(messages(page).first).to_have_text("server: You are connected")
        self.pages[label or name] = page
        return page

    def only_to(self, origin, route):
        url = route.request.url
        self.requested.add(url.removeprefix(origin))
        if url.startswith((origin + "/", "data:")):
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def check_console(self, message):
        # The page needs no exception to its Content-Security-Policy: any
        # refusal the browser reports is a bug.
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def check_websocket(self, origin, url):
        self.requested.add(url)
        if url != "ws" + origin.removeprefix("http") + "/chat":
            self.elsewhere.append(url)

    def take_screenshots(self):
        """Save a screenshot of every page (done at the end if not before)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for label, page in self.pages.items():
            page.screenshot(path=ARTIFACTS / f"{self.test_name}-{label}.png")
        self.photographed = True

    def close(self):
        if not self.photographed:  # a test that failed midway: how did it look?
            self.take_screenshots()
        for page in self.pages.values():
            page.context.close()
        assert not self.elsewhere, f"requests left the server: {self.elsewhere}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


@pytest.fixture
def chat_pages(browser, request):
    pages = ChatPages(browser, request.node.name)
    yield pages
    pages.close()


@pytest.fixture(params=SERVERS.values(), ids=SERVERS.keys())
def server_path(request):
    return request.param


def messages(page):
    return page.locator("#messages .message")


def expect_connected(page, timeout=WAIT):
    expect(page.locator("#status")).to_have_attribute(
        "data-state", "connected", timeout=timeout
    )
    expect(page.locator("#message")).to_be_enabled()


def send(page, text):
    """Type a message and press Enter, as a person would."""
    page.locator("#message").fill(text)
    page.locator("#message").press("Enter")
    expect(page.locator("#message")).to_have_value("")  # sent, so cleared


def test_two_pages_chat(chat_pages, server_path):
    with chat_server(server_path) as server:
        alice = chat_pages.open(server, "alice")
        bob = chat_pages.open(server, "bob")
        send(alice, "hello bob")
        for page in (alice, bob):  # the sender sees its own message too
            expect(messages(page).last).to_have_text("alice: hello bob")
        send(bob, "hi alice")
        for page in (alice, bob):
            expect(messages(page).last).to_have_text("bob: hi alice")
        newest = messages(bob).last
        assert newest.evaluate("e => getComputedStyle(e).animationName") == "fade-in"

        # Enough messages to overflow the list: it keeps the newest in view.
        for n in range(15):
            send(alice, f"message {n}")
        expect(messages(bob).last).to_have_text("alice: message 14")
        expect(messages(bob)).to_have_count(1 + 2 + 15)
        overflow, gap = bob.locator("#messages").evaluate(
            """list => [list.scrollHeight - list.clientHeight,
                        list.scrollHeight - list.scrollTop - list.clientHeight]"""
        )
        assert overflow > 0, "the test sent too few messages to fill the list"
        assert gap <= 2, "the list did not scroll to the newest message"
        chat_pages.take_screenshots()

        # The page needs nothing but its own three files and the WebSocket.
        files = {url for url in chat_pages.requested if url.startswith("/")}
        assert files == {"/", "/static/chat.js", "/static/chat.css"}


def test_html_in_a_message_shows_as_text(chat_pages, server_path):
    with chat_server(server_path) as server:
        alice = chat_pages.open(server, "alice")
        mallory = chat_pages.open(server, "<b>mallory</b>", label="mallory")
        send(mallory, XSS)
        for page in (alice, mallory):
            expect(messages(page).last).to_have_text(f"<b>mallory</b>: {XSS}")
            expect(page.locator("#messages img, #messages b")).to_have_count(0)
            assert page.evaluate("window.hacked") is None
            expect(page).to_have_title("asyncio chat")
        chat_pages.take_screenshots()


def test_page_reconnects_when_the_server_comes_back(chat_pages, server_path):
    with chat_server(server_path) as first:
        page = chat_pages.open(first, "alice")
        port = first.port
        first.stop()
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "offline")
        expect(page.locator("#message")).to_be_disabled()
    # The same port, so that the page finds it; the system lets a new server
    # listen there at once (SO_REUSEADDR, which asyncio sets).
    with chat_server(server_path, "--port", str(port)) as second:
        expect_connected(page, timeout=RECONNECT_WAIT)
        send(page, "back again")
        expect(messages(page).last).to_have_text("alice: back again")
        assert second.port == port
        chat_pages.take_screenshots()


def test_a_message_too_long_in_bytes_is_kept_not_sent(chat_pages):
    """2,000 characters fit the field, but not the server's 4096 bytes in UTF-8."""
    with chat_server(SERVERS["asgi"]) as server:
        alice = chat_pages.open(server, "alice")
        too_long = "\N{CJK UNIFIED IDEOGRAPH-5B57}" * 1400  # 3 bytes each
        alice.locator("#message").fill(too_long)
        alice.locator("#message").press("Enter")
        expect(alice.locator("#status")).to_contain_text("too long")
        expect(alice.locator("#message")).to_have_value(too_long)  # kept to edit
        send(alice, "short")  # the connection is still open
        expect(messages(alice).last).to_have_text("alice: short")
        expect(alice.locator("#status")).to_have_text("connected")
        chat_pages.take_screenshots()
