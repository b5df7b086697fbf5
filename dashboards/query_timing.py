"""Time each dashboard page's warehouse queries: `python -m dashboards.query_timing [--runs 7]`.

For every page, the queries it runs on first load (the workflow page: for its busiest
deployed workflow) are timed three ways, each the median of `--runs` runs:

- cold: Streamlit caches cleared, so the connection is opened (ATTACH) and every query runs;
- cold queries: the connection is open, the data cache is cleared, every query runs;
- warm: every query is answered from `st.cache_data`.

Reads `$OPVALUE_WAREHOUSE` like the dashboard. Prints a markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import polars as pl
import streamlit as st

from dashboards import data
from dashboards import governance_data as gov
from dashboards.sections import value_data


def page_queries(db: data.Warehouse) -> dict[str, Callable[[], None]]:
    """The queries each page runs when opened with no filters, as the page code calls them."""
    busiest = data.scorecard(db).filter(pl.col("deployed_on").is_not_null()).sort("items_measured", descending=True)
    workflow_id = busiest["workflow_id"][0] if not busiest.is_empty() else data.workflow_options(db)["workflow_id"][0]

    def portfolio() -> None:
        data.filter_options(db)
        data.scorecard(db, (), ())
        value_data.portfolio(db)
        value_data.portfolio_monthly(db)
        value_data.workflows(db)

    def workflow_detail() -> None:
        data.workflow_options(db)
        data.scorecard(db)
        data.value_metrics(db, workflow_id)
        data.weekly_metrics(db, workflow_id)
        data.effect_views(db, workflow_id)
        data.method_checks(db, workflow_id)
        data.cycle_time_distribution(db, workflow_id)
        data.weekly_adoption(db, workflow_id)

    def ready_to_scale() -> None:
        data.filter_options(db)
        gov.gate(db, (), ())
        gov.stalled(db, ())
        gov.funnel(db)
        gov.funnel_quarterly(db)

    def data_quality() -> None:
        data.rows_by_source(db)
        data.pipeline_runs(db)
        data.source_freshness(db)
        data.run_source_counts(db)
        reasons = data.rejection_reasons(db)
        if not reasons.is_empty():
            data.rejected_rows_sample(db, reasons.sort("rows", descending=True)["rule"][0])
        data.rejected_files(db)

    return {
        "Portfolio": portfolio,
        "Workflow detail": workflow_detail,
        "Ready to scale": ready_to_scale,
        "Data quality": data_quality,
    }


def _median_ms(action: Callable[[], None], before: Callable[[], None], runs: int) -> float:
    samples = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(runs: int = 7) -> list[tuple[str, float, float, float]]:
    """(page, cold ms, cold-query ms, warm ms) per page, medians of `runs` runs."""
    db = data.current_warehouse()
    if db is None:
        raise SystemExit(f"no warehouse at {data.warehouse_target()}: run `make pipeline` first")

    def clear_all() -> None:
        st.cache_data.clear()
        st.cache_resource.clear()

    clear_all()
    queries = page_queries(db)
    results = []
    for page, run in queries.items():
        cold = _median_ms(run, clear_all, runs)
        data.connection(db)  # keep the connection open for the next two measures
        cold_queries = _median_ms(run, st.cache_data.clear, runs)
        run()
        warm = _median_ms(run, lambda: None, runs)
        results.append((page, cold, cold_queries, warm))
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the timing table for the warehouse in `$OPVALUE_WAREHOUSE`."""
    parser = argparse.ArgumentParser(prog="python -m dashboards.query_timing", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measure (the median is reported)")
    args = parser.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)
    db = data.current_warehouse()
    results = measure(args.runs)
    size = f" ({os.path.getsize(db.path) / 1e6:.1f} MB)" if db and os.path.exists(db.path) else ""
    print(f"warehouse: {data.warehouse_target()}{size}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    print(f"median of {args.runs} runs, milliseconds\n")
    print("| page | cold (connect + queries) | cold queries (connection open) | warm (cached) |")
    print("| --- | ---: | ---: | ---: |")
    for page, cold, cold_queries, warm in results:
        print(f"| {page} | {cold:.1f} | {cold_queries:.1f} | {warm:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
