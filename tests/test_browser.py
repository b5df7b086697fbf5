"""One real headless browser against a running dashboard: every page renders, nothing raises.

Starts `streamlit run dashboards/app.py` on a free loopback port against the sample warehouse
and drives Debian's Chromium with Playwright (no browser download). Screenshots land in
`test-output/screenshots/`; with `OPVALUE_README_SCREENSHOT=1` the portfolio screenshot is also
written to `docs/images/portfolio.png`, through the same helper, for the README.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
README_IMAGE = ROOT / "docs" / "images" / "portfolio.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 1000}
README_HEIGHT = 1500
"""The README shows the top of the portfolio: title, filters, tiles and the adoption × value chart."""

pytestmark = pytest.mark.browser

from benchmarks.browser import dashboard  # noqa: E402
from tests.test_dashboard import hostile_warehouse  # noqa: E402,F401  (fixture)


def dashboard_server(warehouse: Path, timeout: float = 90.0):
    """Run the dashboard on a free loopback port until the block ends; yield its base URL.

    The same launcher the browser benchmark uses; the server's log goes to test-output/.
    """
    log = (ROOT / "test-output").resolve()
    log.mkdir(parents=True, exist_ok=True)
    return dashboard(warehouse, log / "streamlit-server.log", timeout)


CONTENT_HEIGHT_JS = """() => document.querySelector('[data-testid="stMain"]').scrollHeight"""


def save_screenshot(page, path: Path, *, height: int | None = None) -> Path:
    """Write a PNG of the current page to `path` (folders created): the whole page, or its top `height` pixels.

    Streamlit scrolls inside its main container, not the document, so the viewport is
    stretched to the content's height for the shot and restored afterwards.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if height is None:
        height = min(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, 12_000)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, VIEWPORT["height"])})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    return path


def shrink_png(path: Path, colors: int = 256) -> Path:
    """Rewrite a screenshot for the docs as a 256-colour palette PNG: a quarter of the bytes, no visible loss."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path


def save_section(page, label: str, path: Path) -> Path:
    """A docs picture of one expander (by its label), whole: the viewport is stretched to the page for the shot."""
    width = page.viewport_size["width"]
    height = page.viewport_size["height"]
    page.set_viewport_size({"width": width, "height": min(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, 12_000)})
    page.wait_for_timeout(800)
    page.get_by_test_id("stExpander").filter(has_text=label).first.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": height})
    return shrink_png(path)


DRAWN_CHARTS = (
    '[data-testid="stPlotlyChart"] .main-svg, [data-testid="stVegaLiteChart"] svg.marks, '
    '[data-testid="stImage"] img[src^="data:image/svg+xml"]'
)
"""A drawn chart: Plotly's SVG, Vega's, or the picture of a Vega-Lite chart drawn on the server (what a
page shows on arrival unless "Interactive charts" is on: `vega_charts.svg`)."""


def open_page(page, url: str, texts: list[str], charts: int) -> None:
    """Load `url`, wait until every text is visible and `charts` charts are drawn, and the script is idle."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    for words in texts:
        expect(page.get_by_text(words, exact=False).first).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "([selector, n]) => document.querySelectorAll(selector).length >= n",
        arg=[DRAWN_CHARTS, charts],
        timeout=60_000,
    )
    # Streamlit shows its status widget while the script still runs; wait for the final render.
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=60_000)
    page.wait_for_timeout(500)


def assert_no_exception(page, name: str) -> None:
    """No Streamlit exception box on the page."""
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"{name}: {boxes.first.inner_text()}"


def deployed_workflow(warehouse: Path) -> tuple[str, str]:
    """(id, name) of the deployed workflow with the most measured items in the warehouse."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            """
            select workflow_id, name from marts.workflow_scorecard
            where deployed_on is not null order by items_measured desc, workflow_id limit 1
            """
        ).fetchone()
    finally:
        con.close()


def test_every_page_renders_in_headless_chromium(sample_warehouse):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: `make browser` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    workflow_id, workflow_name = deployed_workflow(sample_warehouse)
    pages = [
        (
            "portfolio",
            "",
            [
                "Which workflows create value, and which are only used?",
                "What to do next",
                "Workflows in production",
                "What it is worth",
                "Adopted without value",
                "Workflows by stage",
                "Trends by month",
                "Scorecard",
            ],
            1,  # adoption × value; the trends are drawn when opened
        ),
        (
            "trends",
            "?trends=true",
            ["Adoption by month", "Decisions by month"],
            4,
        ),
        (
            "workflow_detail",
            f"workflow?workflow={workflow_id}",
            [
                "Did this workflow get better, and how sure are we?",
                workflow_name,
                "eligible users",
                "Adoption over time",
            ],
            4,
        ),
        (
            "readiness",
            "readiness",
            [
                "Which workflows are ready to scale, what is missing, and who owns the gap?",
                "The gate, workflow by workflow",
                "Stages and conversion by quarter",
                "Stalled pilots",
            ],
            0,  # the two charts by quarter are drawn when their section is opened
        ),
        (
            "data_quality",
            "data-quality",
            ["Can I trust the inputs?", "Freshness per source", "Rows staged and quarantined"],
            1,
        ),
    ]
    with dashboard_server(sample_warehouse) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            for name, path, texts, charts in pages:
                open_page(page, f"{base}/{path}", texts, charts)
                assert_no_exception(page, name)
                shot = save_screenshot(page, SCREENSHOTS / f"{name}.png")
                assert shot.stat().st_size > 10_000
                if os.environ.get("OPVALUE_README_SCREENSHOT") == "1" and name != "readiness":
                    # Ready to scale's picture is taken by the test that opens it from the navigation.
                    if name == "trends":  # the section itself, not the top of the page again
                        save_section(page, "Trends by month", README_IMAGE.with_name("trends.png"))
                    else:
                        shrink_png(save_screenshot(page, README_IMAGE.with_name(f"{name}.png"), height=README_HEIGHT))
                if name == "workflow_detail":
                    # The picker keeps the workflow in the URL, so the link can be shared.
                    assert f"workflow={workflow_id}" in page.url
        finally:
            browser.close()


# -- hostile input is not live ----------------------------------------------------------------

LIVE_MARKUP_JS = """host => {
    const xlink = 'http://www.w3.org/1999/xlink';
    const found = [];
    for (const el of document.querySelectorAll('*')) {
        for (const value of [el.getAttribute('href'), el.getAttribute('src'), el.getAttributeNS(xlink, 'href')]) {
            if (value && value.includes(host)) found.push(el.tagName + ' ' + value);
        }
    }
    return found;
}"""
"""Every element whose href, src or xlink:href (Plotly's SVG links) points at `host`."""


def test_markup_in_a_workflow_name_and_in_the_url_is_not_live(hostile_warehouse):  # noqa: F811 (the fixture)
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: `make browser` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import expect, sync_playwright

    from tests.test_dashboard import EVIL, HOSTILE_ID

    requests: list[str] = []
    with dashboard_server(hostile_warehouse) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)

            # Record every request to the hostile host, and never let one through.
            def to_evil(url: str) -> bool:
                return (urllib.parse.urlsplit(url).hostname or "").endswith(EVIL)

            page.route(to_evil, lambda route: (requests.append(route.request.url), route.abort()))
            page.on("request", lambda request: to_evil(request.url) and requests.append(request.url))
            hostile_url = "[click](https://evil.example/url-link) ![p](https://evil.example/url-image.png)"
            visits = [
                ("portfolio", "", ["Scorecard"], 1),  # adoption × value, with the names as hover text
                ("workflow_detail", f"workflow?workflow={HOSTILE_ID}", ["Adoption over time"], 2),
                ("readiness", "readiness", ["The gate, workflow by workflow"], 0),  # charts by quarter: closed
                (
                    "workflow_url",
                    "workflow?" + urllib.parse.urlencode({"workflow": hostile_url}),
                    ["Adoption over time"],
                    2,
                ),
            ]
            for name, path, texts, charts in visits:
                open_page(page, f"{base}/{path}", texts, charts)
                assert_no_exception(page, name)
                live = page.evaluate(LIVE_MARKUP_JS, EVIL)
                assert live == [], f"{name}: live links or images to {EVIL}: {live}"
                if name != "workflow_url":
                    # The name is shown, as its literal characters.
                    expect(page.get_by_text("[click me](https:", exact=False).first).to_be_attached()
                # Hovering the portfolio bubbles would show the name again: as text, checked by the DOM scan.
            assert requests == [], f"the browser fetched {requests}"
        finally:
            browser.close()


# -- issue 15: state in the address, as-of everywhere, phone width -----------------------------

DOCS_IMAGES = ROOT / "docs" / "images"
PHONE = {"width": 390, "height": 844}
PAGE_PATHS = {"portfolio": "", "workflow_detail": "workflow", "readiness": "readiness", "data_quality": "data-quality"}


@pytest.fixture(scope="module")
def browser_on_sample(sample_warehouse):
    """(base URL, browser): one dashboard on the sample warehouse and one Chromium for this module's tests."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: `make browser` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with dashboard_server(sample_warehouse) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield base, browser
        finally:
            browser.close()


def settle(page) -> None:
    """Wait until the script has finished and nothing is being redrawn."""
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
                   return app && app.getAttribute('data-test-script-state') === 'notRunning'
                       && !document.querySelector('[data-testid="stStatusWidget"]')
                       && !document.querySelector('[data-stale="true"]'); }""",
        timeout=60_000,
    )
    page.wait_for_timeout(400)


def workflows_by_name(warehouse: Path) -> list[tuple[str, str]]:
    """(id, name) of every registry workflow in the picker's order (by name)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("select workflow_id, name from staging.workflows order by name, workflow_id").fetchall()
    finally:
        con.close()


def pick(page, workflow_id: str) -> None:
    """Choose a workflow in the picker with real clicks: open the list, click the option."""
    page.get_by_test_id("stSelectbox").first.click()
    page.keyboard.type(workflow_id)  # a long list is virtualised: filter it to the one option
    page.get_by_role("option", name=f"({workflow_id})", exact=False).first.click()
    settle(page)


def shown_workflow(page) -> str:
    return page.locator('[data-testid="stMain"] h2').first.inner_text().strip()


def test_three_picks_in_a_row_each_reach_the_address_and_the_heading(browser_on_sample, sample_warehouse):
    base, browser = browser_on_sample
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/workflow", wait_until="domcontentloaded")
    settle(page)
    # Three workflows other than the default (first) one, picked one after the other.
    from playwright.sync_api import expect

    for workflow_id, name in workflows_by_name(sample_warehouse)[1:4]:
        pick(page, workflow_id)
        # Waits (up to 30 s) for the address and the heading: a dropped pick never gets there.
        page.wait_for_url(
            lambda url, wanted=workflow_id: (
                urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("workflow") == [wanted]
            ),
            timeout=30_000,
        )
        expect(page.locator('[data-testid="stMain"] h2').first).to_have_text(name, timeout=30_000)
    assert_no_exception(page, "workflow picks")
    page.close()


def test_back_and_forward_follow_every_pick(browser_on_sample, sample_warehouse):
    base, browser = browser_on_sample
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/workflow", wait_until="domcontentloaded")
    settle(page)
    picked = workflows_by_name(sample_warehouse)[1:4]
    from playwright.sync_api import expect

    heading = page.locator('[data-testid="stMain"] h2').first
    for workflow_id, name in picked:
        pick(page, workflow_id)
        expect(heading).to_have_text(name, timeout=30_000)
    for workflow_id, name in (picked[1], picked[0]):
        page.go_back()
        expect(heading).to_have_text(name, timeout=30_000)
        assert f"workflow={workflow_id}" in page.url
    page.go_forward()
    expect(heading).to_have_text(picked[1][1], timeout=30_000)
    assert f"workflow={picked[1][0]}" in page.url
    # Leaving for another page leaves no ?workflow= behind.
    page.locator('[data-testid="stTopNavLink"]', has_text="Ready to scale").first.click()
    settle(page)
    assert "workflow=" not in page.url and page.url.rstrip("/").endswith("/readiness")
    page.close()


def test_the_portfolio_address_opens_the_portfolio(browser_on_sample):
    base, browser = browser_on_sample
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/portfolio", wait_until="domcontentloaded")
    settle(page)
    from playwright.sync_api import expect

    expect(page.locator('[data-testid="stMain"] h1').first).to_have_text("Portfolio")
    assert page.get_by_text("Page not found").count() == 0
    assert_no_exception(page, "/portfolio")
    page.close()


def test_the_portfolio_value_per_workflow_opens_with_a_click(browser_on_sample):
    """The money per workflow is closed on arrival (its table is not drawn); a real click opens it, puts it in the
    address, and a reload keeps it open."""
    from playwright.sync_api import expect

    base, browser = browser_on_sample
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/", wait_until="domcontentloaded")
    expect(page.get_by_text("What it is worth").first).to_be_visible(timeout=60_000)
    settle(page)
    tables = page.locator('[data-testid="stDataFrame"]')
    expect(tables).to_have_count(1)  # the scorecard
    assert page.get_by_text("Each deployed workflow valued in").count() == 0
    page.get_by_test_id("stExpander").filter(has_text="Value per workflow").locator("summary").first.click()
    settle(page)
    expect(page.get_by_text("Each deployed workflow valued in").first).to_be_visible(timeout=30_000)
    expect(tables).to_have_count(2)
    assert "value_table=true" in page.url
    page.reload()
    settle(page)
    expect(page.get_by_text("Each deployed workflow valued in").first).to_be_visible(timeout=30_000)
    assert_no_exception(page, "portfolio value per workflow")
    page.close()


def test_a_shared_link_with_filter_and_tab_reproduces_the_view(browser_on_sample, sample_warehouse):
    base, browser = browser_on_sample
    from playwright.sync_api import expect

    workflow_id, name = workflows_by_name(sample_warehouse)[2]
    # Someone picks a stage filter on the portfolio: it goes into the address...
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/", wait_until="domcontentloaded")
    settle(page)
    page.get_by_test_id("stMultiSelect").nth(1).click()
    page.get_by_role("option", name="Production", exact=True).click()
    page.keyboard.press("Escape")
    settle(page)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query).get("stage") == ["Production"]
    shared_portfolio = page.url
    # ...and a metric tab on a workflow's page.
    page.goto(f"{base}/workflow?workflow={workflow_id}", wait_until="domcontentloaded")
    settle(page)
    page.get_by_role("tab", name="Error rate").click()
    settle(page)
    assert "metric=Error+rate" in page.url
    shared_workflow = page.url
    page.reload()
    settle(page)
    expect(page.get_by_role("tab", name="Error rate")).to_have_attribute("aria-selected", "true")
    page.close()

    # A colleague opens both links in a new browser session and sees the same views.
    colleague = browser.new_context(viewport=VIEWPORT).new_page()
    colleague.goto(shared_workflow, wait_until="domcontentloaded")
    settle(colleague)
    assert shown_workflow(colleague) == name
    expect(colleague.get_by_role("tab", name="Error rate")).to_have_attribute("aria-selected", "true")
    expect(colleague.get_by_alt_text("Error rate per week").first).to_be_visible()  # the chart, as a picture
    colleague.goto(shared_portfolio, wait_until="domcontentloaded")
    settle(colleague)
    expect(colleague.get_by_test_id("stMultiSelect").nth(1)).to_contain_text("Production")
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        production = sorted(
            n for (n,) in con.execute("select name from staging.workflows where stage = 'production'").fetchall()
        )
    finally:
        con.close()
    expect(colleague.get_by_test_id("stMetric").filter(has_text="Workflows in production").first).to_contain_text(
        str(len(production))
    )
    # The scorecard's workflows (read from its list form, present in the page at every width).
    listed = colleague.evaluate(
        """() => [...document.querySelectorAll('[class*="st-key-narrow_only_scorecard"] strong')].map(e => e.textContent)"""
    )
    assert sorted(listed) == production
    colleague.context.close()


def stale_sources(warehouse: Path) -> list[str]:
    """Sources the dashboard must call stale: judged so by the pipeline, or older than their limit now."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [
            row[0]
            for row in con.execute(
                """
                select source from ops.source_freshness
                where is_stale or date_diff('second', newest_record_at, now()::timestamp) / 3600.0 > limit_hours
                order by source
                """
            ).fetchall()
        ]
    finally:
        con.close()


def test_every_page_says_data_as_of_and_names_stale_sources(browser_on_sample, sample_warehouse):
    base, browser = browser_on_sample
    from playwright.sync_api import expect

    from dashboards import text

    stale = stale_sources(sample_warehouse)
    page = browser.new_page(viewport=VIEWPORT)
    for name, path in PAGE_PATHS.items():
        page.goto(f"{base}/{path}", wait_until="domcontentloaded")
        settle(page)
        expect(page.get_by_text("Data as of").first).to_be_visible()
        banner = page.locator('[data-testid="stAlert"]', has_text="Stale data")
        if stale:
            expect(banner.first).to_be_visible()
            for source in stale:
                assert text.SOURCE_LABELS.get(source, source) in banner.first.inner_text(), (name, source)
        else:
            assert banner.count() == 0, name
    page.close()


OVERFLOW_JS = """() => {
    const width = document.documentElement.clientWidth;
    const problems = [];
    for (const el of document.querySelectorAll('[data-testid="stMain"] *')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        const svg = el instanceof SVGElement ? el.ownerSVGElement : null;
        if (svg) {
            // Outside its chart's SVG, a label (a text element) is cut off; shapes are clipped by design.
            if (el.tagName.toLowerCase() !== 'text') continue;
            const box = svg.getBoundingClientRect();
            if (r.left < box.left - 1 || r.right > box.right + 1) problems.push('svg ' + (el.textContent || el.tagName).slice(0, 40));
            continue;
        }
        if (r.right <= width + 1 && r.left >= -1) continue;
        // Inside a scrolling strip (the tab bar, a table's cells) overflow is by design.
        let scrolls = false;
        for (let p = el.parentElement; p; p = p.parentElement) {
            const o = getComputedStyle(p).overflowX;
            if ((o === 'auto' || o === 'scroll') && p.getBoundingClientRect().right <= width + 1) { scrolls = true; break; }
            if (p.getAttribute('data-testid') === 'stDataFrame') { scrolls = true; break; }
        }
        if (!scrolls) problems.push(el.tagName + ' ' + (el.getAttribute('data-testid') || '') + ' ' + (el.textContent || '').slice(0, 40));
    }
    return {scrollWidth: document.documentElement.scrollWidth, width, problems};
}"""
"""Elements wider than the viewport, and chart labels outside their chart."""


PHONE_AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"

PICTURES_JS = """() => [...document.querySelectorAll('[data-testid="stImage"] img')].map(img => ({
    loaded: img.complete && img.naturalWidth > 0, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
    column: img.closest('[data-testid="stVerticalBlock"]').getBoundingClientRect().width }))"""
"""Each picture of a chart: loaded, its drawn width, the width it is shown at, and its column's."""


def test_a_computer_gets_pictures_and_no_chart_code_until_interactive_charts_is_on(browser_on_sample):
    base, browser = browser_on_sample
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    scripts: list[str] = []
    page.on("request", lambda request: request.resource_type == "script" and scripts.append(request.url))
    page.goto(f"{base}/", wait_until="domcontentloaded")
    settle(page)
    page.wait_for_function(f"() => ({PICTURES_JS})().some(picture => picture.loaded)", timeout=60_000)
    (picture,) = page.evaluate(PICTURES_JS)
    assert picture["natural"] == 1200 and abs(picture["shown"] - picture["column"]) <= 1, picture
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 0
    # No chart code was loaded: Streamlit's Vega-Lite element and Vega's own bundle (775 kB) come together.
    assert not [url for url in scripts if "VegaLiteChart" in url], scripts

    page.get_by_test_id("stCheckbox").filter(has_text="Interactive charts").locator("label").click()
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks')).to_have_count(1, timeout=60_000)
    settle(page)
    assert page.evaluate(PICTURES_JS) == []
    assert [url for url in scripts if "VegaLiteChart" in url]
    # The choice holds on the next page.
    page.locator('[data-testid="stTopNavLink"]', has_text="Data quality").first.click()
    expect(page.locator("h1", has_text="Data quality")).to_be_visible(timeout=60_000)
    settle(page)
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks').first).to_be_visible(timeout=60_000)
    assert page.evaluate(PICTURES_JS) == []
    context.close()


def test_phone_width_nothing_wider_than_the_screen_and_whole_workflow_names(browser_on_sample, sample_warehouse):
    base, browser = browser_on_sample
    from playwright.sync_api import expect

    # A phone says so in its User-Agent: its charts are laid out by the browser for its width, not pictures.
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1, user_agent=PHONE_AGENT
    )
    page = context.new_page()
    workflow_id = workflows_by_name(sample_warehouse)[0][0]
    # The portfolio with its trends open, so the three monthly charts are checked at phone width too.
    queries = {"workflow_detail": f"?workflow={workflow_id}", "portfolio": "?trends=true"}
    for name, path in PAGE_PATHS.items():
        page.goto(f"{base}/{path}{queries.get(name, '')}", wait_until="domcontentloaded")
        settle(page)
        page.wait_for_timeout(800)  # charts resize to the phone's width
        assert page.evaluate(PICTURES_JS) == [], name
        found = page.evaluate(OVERFLOW_JS)
        assert found["scrollWidth"] <= found["width"], (name, found)
        assert found["problems"] == [], (name, found["problems"][:10])
        assert_no_exception(page, f"{name} at 390 px")
        if os.environ.get("OPVALUE_README_SCREENSHOT") == "1":
            shot = DOCS_IMAGES / f"phone_{name}.png"
            height = min(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, 2200)
            page.set_viewport_size({"width": PHONE["width"], "height": height})
            page.wait_for_timeout(800)
            page.screenshot(path=str(shot), full_page=True)
            shrink_png(shot)
            page.set_viewport_size(PHONE)
            if name == "portfolio":
                save_section(page, "Trends by month", DOCS_IMAGES / "phone_trends.png")
        if name == "portfolio":
            # The phone scorecard: every workflow's whole name, none cut off.
            items = page.locator('[class*="st-key-narrow_only_scorecard"] [data-testid="stMarkdownContainer"] strong')
            names = [n for _, n in workflows_by_name(sample_warehouse)]
            expect(items).to_have_count(len(names))
            assert sorted(items.all_inner_texts()) == sorted(names)
            cut = page.evaluate(
                """() => [...document.querySelectorAll('[class*="st-key-narrow_only_scorecard"] strong')]
                       .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > document.documentElement.clientWidth)
                       .map(e => e.textContent)"""
            )
            assert cut == []
            # The wide table is hidden on a phone; the gate's grid likewise (checked below).
            assert not page.locator('[class*="st-key-wide_only_scorecard"]').first.is_visible()
        if name == "readiness":
            assert not page.locator('[class*="st-key-wide_only_gate"]').first.is_visible()
            expect(page.locator('[class*="st-key-narrow_only_gate"]').get_by_text("missing:").first).to_be_visible()
    context.close()


# -- decision first, the value and exceptions sections, Ready to scale ---------------------------


def decision_of(warehouse: Path, workflow_id: str) -> str:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select decision from marts.workflow_scorecard where workflow_id = ?", [workflow_id]
        ).fetchone()[0]
    finally:
        con.close()


def test_the_value_and_exceptions_sections_and_ready_to_scale_open_in_chromium(browser_on_sample, sample_warehouse):
    """Real clicks open the workflow page's lazy sections (kept in the address); Ready to scale is the nav's page."""
    from playwright.sync_api import expect

    from dashboards import text

    base, browser = browser_on_sample
    workflow_id, _ = deployed_workflow(sample_warehouse)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/workflow?workflow={workflow_id}", wait_until="domcontentloaded")
    settle(page)
    # The decision in words leads the page.
    decision = text.DECISION_LABELS[decision_of(sample_warehouse, workflow_id)]
    expect(page.locator('[class*="st-key-decision"] h3').first).to_contain_text(decision)
    # Closed sections draw nothing.
    assert page.get_by_text("How the decision changed across builds").count() == 0
    page.get_by_test_id("stExpander").filter(has_text="What it is worth").locator("summary").first.click()
    settle(page)
    expect(page.get_by_text("How the decision changed across builds").first).to_be_visible(timeout=30_000)
    assert "value=true" in page.url
    page.get_by_test_id("stExpander").filter(has_text="Exceptions and feedback").locator("summary").first.click()
    settle(page)
    expect(
        page.get_by_text("Exceptions: escalated, overridden and corrected assisted items, by month").first
    ).to_be_attached(timeout=30_000)
    expect(page.get_by_text("Feedback loop").first).to_be_visible()
    assert "exceptions=true" in page.url
    assert_no_exception(page, "workflow sections")
    save_screenshot(page, SCREENSHOTS / "workflow_sections.png")
    # A reload keeps both open (the address holds them).
    page.reload()
    settle(page)
    expect(page.get_by_text("How the decision changed across builds").first).to_be_visible(timeout=30_000)

    # Ready to scale is the navigation's page, at /readiness.
    page.locator('[data-testid="stTopNavLink"]', has_text="Ready to scale").first.click()
    settle(page)
    expect(page.locator('[data-testid="stMain"] h1').first).to_have_text("Ready to scale")
    assert page.url.rstrip("/").endswith("/readiness")
    expect(page.get_by_text("The gate, workflow by workflow").first).to_be_visible()
    expect(page.get_by_text("Data as of").first).to_be_visible()
    assert_no_exception(page, "ready to scale")
    save_screenshot(page, SCREENSHOTS / "ready_to_scale.png")
    if os.environ.get("OPVALUE_README_SCREENSHOT") == "1":
        shrink_png(save_screenshot(page, README_IMAGE.with_name("ready_to_scale.png"), height=README_HEIGHT))
    page.close()


PLOTTED_MONTHS_JS = """title => {
    const chart = [...document.querySelectorAll('.js-plotly-plot')]
        .find(plot => plot.layout && plot.layout.title && plot.layout.title.text === title);
    return chart ? chart.data.flatMap(trace => trace.x || []).map(x => String(x).slice(0, 7)) : null;
}"""
"""The months (`2026-04`) every trace of the chart titled `title` plots, from Plotly's own data."""


def test_the_trend_range_goes_into_the_address_and_a_shared_link_reproduces_it(browser_on_sample):
    base, browser = browser_on_sample
    from playwright.sync_api import expect

    from dashboards.sections.trends import month_label

    def month_key(label: str) -> str:
        return datetime.strptime(label, "%b %Y").strftime("%Y-%m")

    adoption = "Adoption by month"
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{base}/", wait_until="domcontentloaded")
    settle(page)
    # The adoption × value chart (Vega-Lite) is drawn; the trends' Plotly charts are not, until opened.
    page.wait_for_function(
        "selector => document.querySelectorAll(selector).length >= 1", arg=DRAWN_CHARTS, timeout=60_000
    )
    assert page.evaluate(PLOTTED_MONTHS_JS, adoption) is None  # closed: not drawn
    page.get_by_test_id("stExpander").filter(has_text="Trends by month").locator("summary").click()
    settle(page)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query).get("trends") == ["true"]
    page.wait_for_function(f"() => ({PLOTTED_MONTHS_JS})({adoption!r}) !== null", timeout=60_000)
    every_month = sorted(set(page.evaluate(PLOTTED_MONTHS_JS, adoption)))
    assert len(every_month) >= 4

    # Move the range's first end two months on, with the keyboard on the slider's first thumb.
    page.get_by_role("slider").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    settle(page)
    months = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query).get("months")
    assert months and len(months) == 2, page.url
    first = months[0]
    assert first != month_label(every_month[0])
    page.wait_for_function(
        f"() => {{ const m = ({PLOTTED_MONTHS_JS})({adoption!r}); return m && m.length < {len(every_month)}; }}",
        timeout=60_000,
    )
    shown = page.evaluate(PLOTTED_MONTHS_JS, adoption)
    # Adoption leaves out a month cut short by the data's cutoff, so its last point may precede the range's end.
    assert min(shown) == month_key(first) and max(shown) <= month_key(months[1])
    shared = page.url
    page.reload()
    settle(page)
    page.wait_for_function(f"() => ({PLOTTED_MONTHS_JS})({adoption!r}) !== null", timeout=60_000)
    assert page.evaluate(PLOTTED_MONTHS_JS, adoption) == shown
    page.close()

    # A colleague opens the link in a new session: the same months, the section open.
    colleague = browser.new_context(viewport=VIEWPORT).new_page()
    colleague.goto(shared, wait_until="domcontentloaded")
    settle(colleague)
    colleague.wait_for_function(f"() => ({PLOTTED_MONTHS_JS})({adoption!r}) !== null", timeout=60_000)
    assert colleague.evaluate(PLOTTED_MONTHS_JS, adoption) == shown
    expect(colleague.get_by_text(f"{first} to {months[1]}").first).to_be_visible()
    colleague.context.close()
