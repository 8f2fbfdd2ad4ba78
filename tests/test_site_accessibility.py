"""Every page of the built site, audited by axe-core in light and in dark theme.

The site is served from _build/html on 127.0.0.1 and opened, page after page, in
one headless Chromium; axe-core (from npm, at the version package.json pins) runs
as a script of each page. Any serious or critical violation fails the test, and
the message lists them all, page by page.
"""

import json

import pytest
from conftest import ROOT, require_build, unavailable

pytest.importorskip("playwright")

pytestmark = [pytest.mark.built_site, pytest.mark.timeout(600)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
GRAVE = ("serious", "critical")
THEMES = ("light", "dark")  # furo's toggle also offers "auto": one of these


@pytest.fixture(scope="module")
def html():
    return require_build("html", "index.html").parent


@pytest.fixture(scope="module")
def page(browser, site):
    """One tab for every page; it may only talk to the site."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(site) else route.abort()
        ),
    )
    yield context.new_page()
    context.close()


def site_pages(html):
    """Every page of the build, as paths from the site's root.

    The pages are those the search index names, with the index and search pages:
    _build/html also keeps pages of chapters since renamed, which no link reaches.
    """
    index = (html / "searchindex.js").read_text()
    docnames = json.loads(index[index.index("(") + 1 : index.rindex(")")])["docnames"]
    assert "index" in docnames and len(docnames) > 10, docnames
    return [f"{name}.html" for name in docnames] + ["genindex.html", "search.html"]


def show_theme(page, theme):
    """Switch furo to `theme` as its toggle does, and let any transition end."""
    page.evaluate("theme => { document.body.dataset.theme = theme; }", theme)
    page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")


def grave_violations(page):
    """What axe-core finds on the page as it is now, serious or critical only."""
    found = page.evaluate(
        "async () => (await axe.run({resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "help": v["help"], "where": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in GRAVE
    ]


def test_no_page_has_serious_accessibility_violations(page, site, html):
    if not AXE.exists():
        unavailable("axe-core is not installed: run `npm ci` at the root")
    axe = AXE.read_text()
    found = {}
    for path in site_pages(html):
        page.goto(site + path)
        page.evaluate(axe)  # run as a script of the page's own
        for theme in THEMES:
            show_theme(page, theme)
            violations = grave_violations(page)
            if violations:
                found[f"{path} ({theme})"] = violations
    assert not found, json.dumps(found, indent=2, ensure_ascii=False)
