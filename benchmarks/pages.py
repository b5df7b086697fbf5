"""`python -m benchmarks.pages --page NAME`: time one dashboard page's queries, warm.

Each page is replayed as the queries its file in `dashboards/app_pages/` runs on first
load with no filter chosen, through `dashboards.data`'s own functions with Streamlit's data
cache bypassed (each `st.cache_data` function's `__wrapped__`). The read-only connection
stays open between runs, as it does in a running dashboard (`st.cache_resource`): warm
means a second and later load of the page once the warehouse is open and in the page cache.
The workflow detail page is timed on the deployed workflow with the most staged items.

Prints one JSON object: the first load, every warm load, and the warm median per query.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

PAGES_DIR = Path(__file__).resolve().parents[1] / "dashboards" / "app_pages"


class PageRun:
    """Times the queries of one page load, in order."""

    def __init__(self, data) -> None:
        self.data = data
        self.timings: dict[str, float] = {}
        self.missing: list[str] = []

    def query(self, name: str, *args, module=None, **kwargs):
        """Call `dashboards.data.<name>` (or `module.<name>`) uncached and time it; None when it is missing."""
        function = getattr(module or self.data, name, None)
        if function is None:
            self.missing.append(name)
            return None
        function = getattr(function, "__wrapped__", function)
        started = time.perf_counter()
        result = function(*args, **kwargs)
        label = name if name not in self.timings else f"{name}#{sum(k.startswith(name) for k in self.timings) + 1}"
        self.timings[label] = time.perf_counter() - started
        return result


def portfolio(run: PageRun, db, context: dict) -> None:
    """dashboards/app_pages/portfolio.py: as-of line, filters, the scorecard (decisions and guardrails
    included) and the value section's marts."""
    from dashboards.sections import value_data

    run.query("freshness_status", db)
    run.query("filter_options", db)
    run.query("scorecard", db, (), ())
    for name in ("portfolio", "portfolio_monthly", "workflows"):
        run.query(name, db, module=value_data)


def workflow_detail(run: PageRun, db, context: dict) -> None:
    """dashboards/app_pages/workflow_detail.py for one workflow: the open (primary) tab only; the
    cycle-time distribution and adoption over time are in closed expanders, not drawn on first load."""
    workflow_id = context["workflow_id"]
    run.query("freshness_status", db)
    run.query("workflow_options", db)
    run.query("scorecard", db)
    run.query("value_metrics", db, workflow_id)
    run.query("weekly_metrics", db, workflow_id)
    run.query("effect_views", db, workflow_id)
    run.query("method_checks", db, workflow_id)


def readiness(run: PageRun, db, context: dict) -> None:
    """dashboards/app_pages/ready_to_scale.py (served at /readiness): as-of line, filters, the gate,
    stalled pilots and the stage funnel."""
    from dashboards import governance_data as gov

    run.query("freshness_status", db)
    run.query("filter_options", db)
    run.query("gate", db, (), (), module=gov)
    run.query("stalled", db, (), module=gov)
    run.query("funnel", db, module=gov)
    run.query("funnel_quarterly", db, module=gov)


def data_quality(run: PageRun, db, context: dict) -> None:
    """dashboards/app_pages/data_quality.py: as-of line, runs, freshness, counts, reasons, rejected files."""
    run.query("freshness_status", db)
    run.query("rows_by_source", db)
    run.query("pipeline_runs", db)
    run.query("source_freshness", db)
    run.query("run_source_counts", db)
    reasons = run.query("rejection_reasons", db)
    if reasons is not None and not reasons.is_empty():
        # The page samples the most frequent rule first.
        by_rule = reasons.group_by("rule").agg(pl.col("rows").sum()).sort(["rows", "rule"], descending=[True, False])
        run.query("rejected_rows_sample", db, by_rule["rule"][0])
    run.query("rejected_files", db)


PAGES: dict[str, tuple[str, Callable[[PageRun, object, dict], None]]] = {
    "portfolio": ("Portfolio", portfolio),
    "workflow_detail": ("Workflow detail", workflow_detail),
    "readiness": ("Readiness", readiness),  # the step keeps its name; the page is now "Ready to scale"
    "data_quality": ("Data quality", data_quality),
}
"""Page key: (title, replay)."""
PAGE_FILES = {"readiness": "ready_to_scale"}
"""Page key -> file stem in dashboards/app_pages/, where they differ (the address kept its old name)."""

COVERED: dict[str, set[str]] = {
    "portfolio": {"freshness_status", "filter_options", "scorecard"},
    "workflow_detail": {
        "freshness_status",
        "workflow_options",
        "scorecard",
        "value_metrics",
        "weekly_metrics",
        "effect_views",
        "method_checks",
        # Known, and left out of the first load on purpose: they run when their expander is opened.
        "cycle_time_distribution",
        "weekly_adoption",
    },
    "readiness": {"freshness_status", "filter_options"},
    "data_quality": {
        "freshness_status",
        "rows_by_source",
        "pipeline_runs",
        "source_freshness",
        "run_source_counts",
        "rejection_reasons",
        "rejected_rows_sample",
        "rejected_files",
    },
}
"""The queries each replay knows (some only when their table exists, as on the page)."""


def heaviest_workflow(data, db) -> str | None:
    """The deployed workflow with the most staged items: the slowest detail page to draw."""
    with data.connection(db).cursor() as cur:
        cur.execute("use warehouse").fetchall()
        row = cur.execute(
            """
            select work_items.workflow_id
            from staging.work_items as work_items
            inner join staging.workflows as workflows using (workflow_id)
            where workflows.deployed_on is not null
            group by 1 order by count(*) desc, 1 limit 1
            """
        ).fetchall()
    return row[0][0] if row else None


def page_calls(page: str) -> set[str]:
    """The `data.<query>(...)` calls written in a page's file, to tell when the bench falls behind it."""
    path = PAGES_DIR / f"{PAGE_FILES.get(page, page)}.py"
    if not path.exists():
        return set()
    return set(re.findall(r"\bdata\.(\w+)\(", path.read_text()))


def time_page(page: str, repeat: int) -> dict:
    """Load the page once (first), then `repeat` more times (warm); return the timings."""
    from dashboards import data

    title, replay = PAGES[page]
    db = data.current_warehouse()
    if db is None:
        raise SystemExit(f"no warehouse at {data.warehouse_target()}")
    context = {"workflow_id": heaviest_workflow(data, db) if page == "workflow_detail" else None}
    loads: list[float] = []
    cpus: list[float] = []
    per_query: dict[str, list[float]] = {}
    missing: set[str] = set()
    for _ in range(repeat + 1):
        run = PageRun(data)
        started, cpu_started = time.perf_counter(), time.process_time()
        replay(run, db, context)
        loads.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
        missing.update(run.missing)
        for name, seconds in run.timings.items():
            per_query.setdefault(name, []).append(seconds)
    first, warm = loads[0], loads[1:]
    # Queries the page's file calls that this replay does not know: the bench is behind the page.
    queries = {name for name in page_calls(page) if _is_cached_query(getattr(data, name, None))}
    return {
        "page": title,
        "workflow_id": context["workflow_id"],
        "first_s": first,
        "warm_s": warm,
        "warm_cpu_s": cpus[1:],
        "warm_median_s": statistics.median(warm),
        "queries_warm_median_s": {name: statistics.median(times[1:] or times) for name, times in per_query.items()},
        "missing_in_data_py": sorted(missing),
        "not_replayed": sorted(queries - COVERED[page]),
    }


def _is_cached_query(function: object) -> bool:
    """A data.py query (a Streamlit-cached function), not a settings helper."""
    return function is not None and hasattr(function, "__wrapped__") and hasattr(function, "clear")


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m benchmarks.pages`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=sorted(PAGES), required=True)
    parser.add_argument("--repeat", type=int, default=7, help="warm loads to time after the first (default 7)")
    args = parser.parse_args(argv)
    print(json.dumps(time_page(args.page, max(args.repeat, 1))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
