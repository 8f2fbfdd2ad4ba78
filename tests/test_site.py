"""The built site in a real browser: headless Chromium driven by Playwright.

The site is served from _build/html on 127.0.0.1; any request that would leave
this address is refused and fails the test. Screenshots go to
_build/test-artifacts/.
"""

import re
from pathlib import Path

import pytest
from conftest import BUILD, ROOT, chapter_title, plain, require_build

pytest.importorskip("playwright")
from playwright.sync_api import expect

# The built site and PDFs are the same whichever Python runs the tests: checked once.
pytestmark = pytest.mark.built_site

CHAPTERS = sorted((ROOT / "docs").glob("[0-9][0-9]-*.md"))
ARTIFACTS = BUILD / "test-artifacts"


@pytest.fixture
def page(browser, site, request):
    """A page that may only talk to the site; it records any attempt to go elsewhere."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=site.rstrip("/")
    )
    elsewhere = []

    def only_the_site(route):
        url = route.request.url
        if url.startswith((site, "data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context.route("**/*", only_the_site)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
    assert not elsewhere, f"requests left 127.0.0.1: {elsewhere}"


def test_home_page_renders(page, site):
    page.goto(site)
    expect(page).to_have_title(re.compile("asyncio by building"))
    expect(page.locator("article h1")).to_have_text(re.compile("asyncio by building"))


def test_table_of_contents_reaches_every_chapter(page, site):
    page.goto(site)
    links = page.locator(".sidebar-tree a.reference")
    hrefs = {link.get_attribute("href") for link in links.all()}
    for chapter in CHAPTERS:
        assert f"docs/{chapter.stem}.html" in hrefs
        page.goto(site + f"docs/{chapter.stem}.html")
        heading = page.locator("article h1").inner_text().rstrip("\N{PILCROW SIGN}")
        assert plain(heading) == chapter_title(chapter)


def test_search_finds_taskgroup(page, site):
    page.goto(site + "search.html?q=TaskGroup")
    results = page.locator("#search-results li a")
    expect(results.first).to_be_visible(timeout=15_000)
    assert any("docs/" in (link.get_attribute("href") or "") for link in results.all())


def test_copy_button_copies_a_code_block(page, site):
    page.goto(site + f"docs/{CHAPTERS[0].stem}.html")
    block = page.locator("div.highlight-python").first
    block.hover()
    block.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == block.locator("pre").inner_text().strip()
    assert copied.strip()


def test_dark_mode_toggles(page, site):
    page.goto(site)
    body = page.locator("body")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.locator(".theme-toggle-content button.theme-toggle").click()
    expect(body).to_have_attribute("data-theme", "dark")
    assert page.evaluate(background) != light


def test_chapters_offer_their_notebook_handout_and_answer_key(page, site):
    for chapter in CHAPTERS:
        page.goto(site + f"docs/{chapter.stem}.html")
        links = page.locator(".book-downloads a")
        hrefs = [link.get_attribute("href") for link in links.all()]
        expected = [f"../pdf/{chapter.stem}.pdf"]
        if "\n### Exercise " in chapter.read_text():
            expected.append(f"../pdf/{chapter.stem}-answers.pdf")
        if (ROOT / "notebooks" / chapter.name).exists():
            expected.insert(0, f"../notebooks/{chapter.stem}.ipynb")
        assert hrefs == expected
        for href in hrefs:
            download = page.request.get(site + href.removeprefix("../"))
            assert download.ok, href
            if href.endswith(".pdf"):
                assert download.body().startswith(b"%PDF")
            else:
                cells = download.json()["cells"]
                assert any(cell["cell_type"] == "code" for cell in cells)
                assert not any(cell.get("outputs") for cell in cells)  # yours to run


@pytest.mark.parametrize("name", ["cheatsheet", "teachers-guide"])
def test_the_teachers_pages_offer_their_pdf(page, site, name):
    page.goto(site + f"teaching/{name}.html")
    links = page.locator(".book-downloads a")
    assert [link.get_attribute("href") for link in links.all()] == [
        f"../pdf/{name}.pdf"
    ]
    download = page.request.get(site + f"pdf/{name}.pdf")
    assert download.ok
    assert download.body().startswith(b"%PDF")


def test_the_home_page_leads_to_the_teachers_pages(page, site):
    page.goto(site)
    for name in ["cheatsheet", "teachers-guide"]:
        expect(
            page.locator(f".toctree-wrapper a[href='teaching/{name}.html']")
        ).to_be_visible()


def test_solutions_stay_hidden_until_opened(page, site):
    page.goto(site + f"docs/{CHAPTERS[0].stem}.html")
    solution = page.locator("details.sd-dropdown").first
    expect(solution).not_to_have_attribute("open", re.compile(".*"))
    solution.locator("summary").click()
    expect(solution).to_have_attribute("open", re.compile(".*"))


def test_no_page_loads_anything_from_elsewhere(page, site):
    """Every page of the site, fully loaded, requested nothing beyond the site."""
    for html in sorted(Path(require_build("html")).rglob("*.html")):
        relative = html.relative_to(BUILD / "html").as_posix()
        if relative.startswith("_"):
            continue
        page.goto(site + relative, wait_until="networkidle")


def test_no_page_shows_where_the_book_was_built():
    for html in sorted(require_build("html").rglob("*.html")):
        text = html.read_text()
        where = text.find(str(ROOT))
        assert where < 0, f"{html.name}: ...{text[where - 80 : where + 80]}..."
