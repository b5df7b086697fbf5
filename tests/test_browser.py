"""One real headless browser against a running dashboard: every page renders, nothing raises.

Starts `streamlit run dashboards/app.py` on a free loopback port against the sample warehouse
and drives Debian's Chromium with Playwright (no browser download). Screenshots land in
`test-output/screenshots/`; with `OPVALUE_README_SCREENSHOT=1` the portfolio screenshot is also
written to `docs/images/portfolio.png`, through the same helper, for the README.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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
README_HEIGHT = 1130
"""The README shows the top of the portfolio: title, filters, tiles and the adoption × value chart."""

pytestmark = pytest.mark.browser

from tests.test_dashboard import hostile_warehouse  # noqa: E402,F401  (fixture)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def dashboard_server(warehouse: Path, timeout: float = 90.0) -> Iterator[str]:
    """Run the dashboard on a free loopback port until the block ends; yield its base URL."""
    port = free_port()
    env = {**os.environ, "OPVALUE_WAREHOUSE": str(warehouse), "PYTHONPATH": str(ROOT)}
    log = (ROOT / "test-output").resolve()
    log.mkdir(parents=True, exist_ok=True)
    with open(log / "streamlit-server.log", "wb") as output:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("streamlit")), "run", "dashboards/app.py",
                "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {server.returncode}; see {log / 'streamlit-server.log'}")
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the dashboard did not answer on {base} within {timeout:.0f}s")
                time.sleep(0.3)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


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


def open_page(page, url: str, texts: list[str], charts: int) -> None:
    """Load `url`, wait until every text is visible and `charts` Plotly charts are drawn, and the script is idle."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    for words in texts:
        expect(page.get_by_text(words, exact=False).first).to_be_visible(timeout=60_000)
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= n",
        arg=charts,
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
        ("portfolio", "", ["Which workflows create value, and which are only used?", "Workflows in production",
                           "Adopted without value", "Value with adoption", "Scorecard"], 2),
        ("workflow_detail", f"workflow?workflow={workflow_id}",
         ["Did this workflow get better, and how sure are we?", workflow_name, "eligible users", "Adoption over time"], 4),
        ("readiness", "readiness", ["Is this workflow owned and governed enough to scale?", "Governance by workflow"], 1),
        ("data_quality", "data-quality", ["Can I trust the inputs?", "Freshness per source", "Rows staged and quarantined"], 1),
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
                if name == "portfolio" and os.environ.get("OPVALUE_README_SCREENSHOT") == "1":
                    save_screenshot(page, README_IMAGE, height=README_HEIGHT)
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


def test_markup_in_a_workflow_name_and_in_the_url_is_not_live(hostile_warehouse):
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
                ("portfolio", "", ["Scorecard"], 2),
                ("workflow_detail", f"workflow?workflow={HOSTILE_ID}", ["Adoption over time"], 2),
                ("readiness", "readiness", ["Governance by workflow"], 1),
                ("workflow_url", "workflow?" + urllib.parse.urlencode({"workflow": hostile_url}), ["Adoption over time"], 2),
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
