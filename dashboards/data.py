"""Read-only access to the warehouse for the dashboard.

One read-only DuckDB connection per published warehouse version, cached with
`st.cache_resource`; every query is an `st.cache_data` function of its arguments that returns
a polars frame. The first argument of every query is a `Warehouse`: the file's path, inode,
modification time and size. The pipeline publishes a new build by renaming it over the old
file, so a new inode or mtime means new data: the key changes, the queries run again and a
new connection is opened on the new file (the old one is closed when it leaves the cache).

SQL lives in `dashboards/sql/*.sql`; values (workflow, teams, stages) reach DuckDB as `$named`
parameters, never by string formatting.
"""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import streamlit as st

import schemas
from pipelines import settings
from pipelines.metrics.config import MetricDefinition, load_config

SQL_DIR = Path(__file__).parent / "sql"
TTL_SECONDS = 3600
"""Entries also expire after an hour, so memory does not grow with old warehouse versions."""
REMOTE_REFRESH_SECONDS = 300
"""How often a shared-catalog warehouse (no file to watch) is read again."""

# One definition of the metric and stage names: the data contract's.
METRICS = tuple(schemas.METRICS)
STAGES = tuple(schemas.STAGES)


class Warehouse(NamedTuple):
    """One published version of the warehouse file: the cache key of every query."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def warehouse_target() -> str:
    """What the dashboard reads: the pipeline's own target (`pipelines.settings.warehouse_target`)."""
    return settings.warehouse_target()


def current_warehouse() -> Warehouse | None:
    """The warehouse as it is now, or None when the local file does not exist.

    A local file is identified by inode, mtime and size, which change when a build is
    published. A shared catalog (MotherDuck, DuckLake) has no file to watch: its key changes
    every `REMOTE_REFRESH_SECONDS`, so the dashboard re-reads it on that clock instead.
    """
    target = warehouse_target()
    if settings.is_remote_warehouse(target):
        return Warehouse(target, 0, int(time.time() // REMOTE_REFRESH_SECONDS), 0)
    path = Path(target).resolve()
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return Warehouse(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    con.close()


@st.cache_resource(max_entries=2, show_spinner=False, on_release=_close)
def connection(db: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only connection to one warehouse version, attached as catalog `warehouse`.

    The file is ATTACHed (READ_ONLY) to a private in-memory database rather than opened with
    `duckdb.connect(path, read_only=True)`: DuckDB keeps one database instance per path per
    process and would hand back the replaced file while any old handle is still open. Two
    versions stay cached, so a session still reading the previous build can finish; older
    ones are closed as they leave the cache.
    """
    con = duckdb.connect(":memory:")
    con.execute("attach ? as warehouse (read_only)", [db.path])
    return con


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _query(db: Warehouse, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run `sql/<name>.sql` with named parameters on a cursor of the cached connection.

    A cursor per query because one DuckDB connection must not be shared between threads,
    and Streamlit serves every browser session from its own thread.
    """
    with connection(db).cursor() as cur:
        cur.execute("use warehouse")  # the default catalog is per cursor
        return cur.sql(_sql(name), params=params or None).pl()


# -- settings shared with the pipeline ---------------------------------------------------


def metric_definitions() -> dict[str, MetricDefinition]:
    """The five metrics as `pipelines/metrics/metrics.yaml` defines them (label, unit, formula)."""
    return load_config().metrics


def metric_label(metric: str) -> str:
    """A metric's human label, e.g. "Cycle time"; the raw name for an unknown metric."""
    definition = metric_definitions().get(metric)
    return definition.label if definition else metric


def adoption_threshold() -> float:
    """Adoption rate from which a workflow counts as adopted (setting `adoption_threshold`)."""
    return float(load_config().settings["adoption_threshold"])


def min_closed_items() -> int:
    """Closed items a period needs before a change is claimed (setting `min_closed_items`)."""
    return int(load_config().settings["min_closed_items"])


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def filter_options(db: Warehouse) -> pl.DataFrame:
    """Distinct (team, stage) pairs of the registry, for the sidebar filters."""
    return _query(db, "filter_options")


# -- portfolio ---------------------------------------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def scorecard(db: Warehouse, teams: tuple[str, ...] = (), stages: tuple[str, ...] = ()) -> pl.DataFrame:
    """`marts.workflow_scorecard` joined with `marts.adoption`, one row per workflow in the filters.

    Empty `teams` or `stages` means every team or stage.
    """
    return _query(db, "scorecard", {"teams": list(teams), "stages": list(stages)})


# -- workflow detail ---------------------------------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def workflow_options(db: Warehouse) -> pl.DataFrame:
    """Every registry workflow (id, name, team, stage, deployed_on), ordered by name."""
    return _query(db, "workflow_options")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def value_metrics(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's rows of `marts.value_metrics`: one per metric (none when not deployed)."""
    return _query(db, "value_metrics", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def weekly_metrics(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One row per ISO week and metric from `marts.weekly_metrics`:
    `week_start_on, metric, value, n, is_post, weeks_since_deployment`."""
    return _query(db, "weekly_metrics_mart", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def weekly_adoption(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One row per ISO week: active users, eligible users, their ratio, items and assisted share."""
    return _query(db, "weekly_adoption", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cycle_time_distribution(db: Warehouse, workflow_id: str, bins: int = 30) -> pl.DataFrame:
    """Share of closed items per log-spaced cycle-time bin, baseline against post."""
    return _query(db, "cycle_time_distribution", {"workflow_id": workflow_id, "bins": bins})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def effect_views(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's rows of `marts.effect_views`."""
    return _query(db, "effect_views", {"workflow_id": workflow_id})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def method_checks(db: Warehouse, workflow_id: str) -> pl.DataFrame:
    """One workflow's rows of `marts.method_checks`."""
    return _query(db, "method_checks", {"workflow_id": workflow_id})


# -- data quality ------------------------------------------------------------------------


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def pipeline_runs(db: Warehouse, limit: int = 20) -> pl.DataFrame:
    """The latest runs of `ops.pipeline_runs`, newest first."""
    return _query(db, "pipeline_runs", {"limit": limit})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def source_freshness(db: Warehouse) -> pl.DataFrame:
    """Freshness per source from `ops.source_freshness`."""
    return _query(db, "source_freshness_ops")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def freshness_status(db: Warehouse) -> pl.DataFrame:
    """Per source, from `ops.source_freshness` and `ops.pipeline_runs`: newest record, limit in hours,
    the pipeline's stale flag and the last successful build."""
    return _query(db, "freshness_status")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rows_by_source(db: Warehouse) -> pl.DataFrame:
    """Rows read, staged, quarantined, de-duplicated and superseded per source (`ops.ingested_files`)."""
    return _query(db, "rows_by_source")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def run_source_counts(db: Warehouse) -> pl.DataFrame:
    """Row outcomes per run and source, oldest first."""
    return _query(db, "run_source_counts")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rejection_reasons(db: Warehouse) -> pl.DataFrame:
    """Quarantined rows per source and rule, most frequent first, with a typical reason."""
    return _query(db, "rejection_reasons")


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rejected_rows_sample(db: Warehouse, rule: str, limit: int = 20) -> pl.DataFrame:
    """Up to `limit` quarantined rows that broke `rule`, with their reason and raw record."""
    return _query(db, "rejected_rows_sample", {"rule": rule, "limit": limit})


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def rejected_files(db: Warehouse) -> pl.DataFrame:
    """Input files rejected as a whole, with the reason."""
    return _query(db, "rejected_files")
