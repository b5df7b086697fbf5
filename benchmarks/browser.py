"""`python -m benchmarks.browser --warehouse PATH`: what a reader waits for, in a real browser.

Starts the dashboard (`streamlit run dashboards/app.py` on a free loopback port) on the
warehouse and drives Debian's headless Chromium with Playwright, the way `tests/test_browser.py`
does. For every page it measures, `--repeat` times (median reported):

- **first visit**: a new browser context (no cache, a new Streamlit session) opens the page's
  address; from navigation start to the moment the script has finished and every chart
  on the page (Plotly or Vega-Lite) has drawn its SVG (held for 300 ms, so a late rerun is not missed; the hold is
  not counted);
- **in-app**: in an open session, a click on the page's link in the top navigation (for the
  workflow page: a pick in the workflow picker), from the click to the same state.

The server's data cache is warm after the first repetition, as for any visitor but the first
after a build. Prints one JSON object; `benchmarks.run` calls this after the query timings and
writes the medians to `docs/performance.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
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
HOLD_MS = 300
PAGES = {
    "portfolio": ("Portfolio", ""),
    "workflow_detail": ("Workflow detail", "workflow"),
    "readiness": ("Ready to scale", "readiness"),
    "data_quality": ("Data quality", "data-quality"),
}
"""Page key (as in `benchmarks.pages`): (title, address)."""
FLOOR = "floor"
FLOOR_TITLE = "Bare page"
FLOOR_SCRIPT = f"""import streamlit as st

st.set_page_config(page_title="opvalue", layout="wide")
st.title("{FLOOR_TITLE}")
"""
"""The floor: a Streamlit page with a title and nothing else, served the same way. No page can be
faster than it; measured back to back with the pages, it says how much of a first visit is the
page's own work and how much is the machine (load) and Streamlit itself."""

CHART_SELECTOR = '[data-testid="stPlotlyChart"], [data-testid="stVegaLiteChart"], [data-testid="stImage"]'
"""A chart on a page: Plotly's, Vega-Lite's, or a picture of one drawn on the server (`vega_charts.svg`:
the pages' only images). A picture counts once it has loaded and decoded."""
SETTLED_JS = (
    """([title, charts_expected, since, hold]) => {
    const CHART_SELECTOR = '"""
    + CHART_SELECTOR
    + """';
    const app = document.querySelector('[data-testid="stApp"]');
    const heading = document.querySelector('[data-testid="stMain"] h1');
    const charts = [...document.querySelectorAll(CHART_SELECTOR)];
    const ready = app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && !document.querySelector('[data-stale="true"]')
        && heading && heading.textContent.trim().startsWith(title)
        && charts.length >= charts_expected && charts.every(chart => {
            const picture = chart.querySelector('img');
            return picture ? picture.complete && picture.naturalWidth > 0 : chart.querySelector('.main-svg, svg.marks, canvas.marks');
        });
    const now = performance.now();
    if (!ready) { window.__settledSince = null; return false; }
    if (window.__settledSince == null || window.__settledSince < since) window.__settledSince = now;
    return now - window.__settledSince >= hold ? window.__settledSince : false;
}"""
)
"""True once the page titled `title` has finished its script and drawn its `charts_expected` charts,
held `hold` ms; returns the (page-clock) time it first became so, after `since`. (Chart elements
mount after the script has finished, so the count is needed: it is found by `calibrate()`.)"""


def _log(message: str) -> None:
    print(f"[browser bench] {message}", file=sys.stderr, flush=True)


def chromium() -> str | None:
    """Debian's Chromium (`make browser` installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def dashboard(warehouse: Path, log: Path, timeout: float = 90.0, script: str = "dashboards/app.py") -> Iterator[str]:
    """The dashboard (or another Streamlit `script`) on a free loopback port for the duration of the
    block; yields its base URL."""
    port = free_port()
    env = {**os.environ, "OPVALUE_WAREHOUSE": str(warehouse), "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("streamlit")),
                "run",
                script,
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {server.returncode}; see {log}")
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


CHARTS: dict[str, int] = {}
"""Charts each page draws, found by `calibrate()` before timing."""


def settled(page, key: str, since: float, timeout_ms: float = 120_000) -> float:
    """Page-clock milliseconds at which page `key` was drawn, waiting for it."""
    title = FLOOR_TITLE if key == FLOOR else PAGES[key][0]
    handle = page.wait_for_function(
        SETTLED_JS, arg=[title, CHARTS.get(key, 0), since, HOLD_MS], polling=50, timeout=timeout_ms
    )
    return float(handle.json_value())


def calibrate(browser, base: str, key: str, query: str) -> int:
    """How many charts page `key` draws: open it, let it finish, wait a few seconds more, count."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{base}/{PAGES[key][1]}{query}", wait_until="commit")
        settled(page, key, 0.0)
        # Charts mount after the script ends (after their code has loaded): count until the number has not
        # changed for 6 s.
        charts = page.locator(CHART_SELECTOR)
        count, stable_since = charts.count(), time.monotonic()
        deadline = stable_since + 60
        while time.monotonic() - stable_since < 6 and time.monotonic() < deadline:
            page.wait_for_timeout(250)
            now = charts.count()
            if now != count:
                count, stable_since = now, time.monotonic()
        return count
    finally:
        context.close()


def busiest_workflows(warehouse: Path, n: int = 2) -> list[tuple[str, str]]:
    """(id, name) of the deployed workflows with the most measured items: the heaviest detail pages."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select workflow_id, name from marts.workflow_scorecard where deployed_on is not null "
            "order by items_measured desc, workflow_id limit ?",
            [n],
        ).fetchall()
    finally:
        con.close()


def first_visit(browser, base: str, key: str, query: str = "") -> float:
    """Seconds from navigation start to the page drawn, in a fresh context (new session, empty cache)."""
    path = "" if key == FLOOR else PAGES[key][1]
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(f"{base}/{path}{query}", wait_until="commit")
        return settled(page, key, 0.0) / 1000
    finally:
        context.close()


def in_app(page, key: str, pick: str | None = None) -> float:
    """Seconds from a click (nav link, or a workflow pick) to the page drawn, in the open session."""
    if pick is None:
        link = page.locator('[data-testid="stTopNavLink"]', has_text=PAGES[key][0]).first
        link.wait_for()
        started = page.evaluate("() => performance.now()")
        link.click()
    else:
        page.get_by_test_id("stSelectbox").first.click()
        page.keyboard.type(pick.strip("()"))  # a long list is virtualised: filter it to the one option
        option = page.get_by_role("option", name=pick, exact=False).first
        option.wait_for()
        started = page.evaluate("() => performance.now()")
        option.click()
    return (settled(page, key, started) - started) / 1000


def measure(warehouse: Path, repeat: int, log: Path) -> dict:
    """Median first-visit and in-app seconds per page, with every run."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed: `make browser` installs Debian's chromium")
    workflows = busiest_workflows(warehouse)
    query = f"?workflow={workflows[0][0]}" if workflows else ""
    runs: dict[str, dict[str, list[float]]] = {key: {"first_s": [], "in_app_s": []} for key in PAGES}
    runs[FLOOR] = {"first_s": []}
    floor_script = log.with_name("opvalue-bench-floor.py")
    floor_script.write_text(FLOOR_SCRIPT)
    with (
        dashboard(warehouse, log) as base,
        dashboard(warehouse, log.with_name(log.stem + "-floor.log"), script=str(floor_script)) as floor_base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, headless=True)
        try:
            for key in PAGES:
                CHARTS[key] = calibrate(browser, base, key, query if key == "workflow_detail" else "")
                _log(f"{PAGES[key][0]}: {CHARTS[key]} charts")
            CHARTS[FLOOR] = 0
            first_visit(browser, floor_base, FLOOR)  # both servers warm before timing
            for _ in range(repeat):
                # The floor before the pages, in each round: the same load for both.
                runs[FLOOR]["first_s"].append(first_visit(browser, floor_base, FLOOR))
                _log(f"first visit floor: {runs[FLOOR]['first_s'][-1]:.2f}s")
                for key in PAGES:
                    runs[key]["first_s"].append(
                        first_visit(browser, base, key, query if key == "workflow_detail" else "")
                    )
                    _log(f"first visit {key}: {runs[key]['first_s'][-1]:.2f}s")
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.goto(f"{base}/", wait_until="commit")
                settled(page, "portfolio", 0.0)
                for key in ("workflow_detail", "readiness", "data_quality", "portfolio"):
                    runs[key]["in_app_s"].append(in_app(page, key))
                    _log(f"in-app {key}: {runs[key]['in_app_s'][-1]:.2f}s")
                if len(workflows) > 1:
                    # A pick in the workflow picker, the other in-app move on the workflow page.
                    in_app(page, "workflow_detail")
                    runs["workflow_detail"].setdefault("pick_s", []).append(
                        in_app(page, "workflow_detail", pick=f"({workflows[1][0]})")
                    )
                context.close()
        finally:
            browser.close()
    return {
        key: {
            "page": f"{FLOOR_TITLE} (floor: a title only)" if key == FLOOR else PAGES[key][0],
            "charts": CHARTS[key],
            **{f"{name}_median": statistics.median(values) for name, values in timings.items() if values},
            **timings,
        }
        for key, timings in runs.items()
    }


DOCS_START = "<!-- browser-bench:start -->"
DOCS_END = "<!-- browser-bench:end -->"


def markdown(result: dict, warehouse_facts: str, load: float, repeat: int) -> str:
    """The browser timings as the block `docs/performance.md` carries between its markers."""
    import platform
    from datetime import UTC, datetime

    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {warehouse_facts}; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, headless Chromium {chromium() or '?'}; median of {repeat} visits per page; "
        f"1-minute load average at the end: {load:.1f} (targets are for low load).",
        "",
        "| page | charts drawn | first visit (s) | in-app (s) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for timings in result.values():
        in_app = f"{timings['in_app_s_median']:.2f}" if "in_app_s_median" in timings else "—"
        if "pick_s_median" in timings:
            in_app += f" (workflow pick {timings['pick_s_median']:.2f})"
        lines.append(f"| {timings['page']} | {timings['charts']} | {timings['first_s_median']:.2f} | {in_app} |")
    return "\n".join(lines)


def write_docs(docs: Path, block: str) -> None:
    """Replace the text between the browser-bench markers in `docs`; append a section with them when absent."""
    text = docs.read_text()
    if DOCS_START not in text or DOCS_END not in text:
        text = text.rstrip("\n") + f"\n\n## Dashboard in a real browser\n\n{DOCS_START}\n{DOCS_END}\n"
    start, end = text.index(DOCS_START) + len(DOCS_START), text.index(DOCS_END)
    docs.write_text(text[:start] + "\n" + block + "\n" + text[end:])


def bench_step(
    warehouse: Path, logs: Path, docs: Path | None, repeat: int = 5, facts: str = "the benchmark warehouse"
) -> dict | None:
    """The browser step of `make bench`: time every page, print the medians, update `docs` when given.

    Skipped, with a message, when Chromium is not installed or `OPVALUE_BENCH_BROWSER=0`.
    """
    if os.environ.get("OPVALUE_BENCH_BROWSER") == "0":
        _log("skipped: OPVALUE_BENCH_BROWSER=0")
        return None
    if chromium() is None:
        _log("skipped: Chromium is not installed (`make browser` installs Debian's chromium)")
        return None
    result = measure(warehouse, repeat, logs / "browser-streamlit.log")
    block = markdown(result, facts, os.getloadavg()[0], repeat)
    print("\n" + block)
    if docs is not None:
        write_docs(docs, block)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5, help="visits per page (median reported); default 5")
    parser.add_argument("--docs", type=Path, help="also write the table into this file's browser-bench block")
    parser.add_argument("--facts", default="the given warehouse", help="how the docs describe the warehouse")
    parser.add_argument(
        "--log", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "opvalue-bench-streamlit.log"
    )
    args = parser.parse_args(argv)
    result = measure(args.warehouse.resolve(), args.repeat, args.log)
    if args.docs:
        write_docs(args.docs, markdown(result, args.facts, os.getloadavg()[0], args.repeat))
    print(json.dumps({"load_1min": os.getloadavg()[0], "pages": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
