"""Run the pipeline's own assets on simulated batches and score them against the truth.

Each batch is a DuckDB file holding simulated staging tables (``simulate.write_batch``).
Every Dagster asset downstream of staging (``intermediate.*``, ``marts.*``: whatever the
current method defines) is then invoked directly, in the asset graph's order, on that file,
so the calibration measures exactly what a build publishes, through the same functions and
SQL, and picks up a change of method without a change here. Only the run machinery (the
build-file copy and atomic publish of ``WarehouseResource``) is left out.

Scores per scenario (targets from issue 11, METHODS.md v2):

* **coverage** of the 95% intervals of the before/after (``marts.value_metrics``) and the
  difference-in-differences (``marts.effect_views``): target 90-98% where the method's
  estimand is the truth in that world;
* **confident verdicts on null metrics**: ``improved`` / ``worsened`` in
  ``marts.value_metrics`` where the true change is 0: at most 5% (10% at rho 0.8);
* **value decisions on null workflows**: ``marts.workflow_scorecard.decision`` in
  ``scale`` / ``close_gaps`` / ``drive_adoption`` where the primary metric's true change is
  0: at most 5%; *not yet available* while the scorecard has no ``decision`` column;
* **safe endings** where no method can be valid: the null workflow ends ``contested``, its
  primary verdict ``no_clear_change`` (or ``negligible``), or its difference-in-differences
  ``not_identifiable``, and gets no value decision: at least 95% (90% at rho 0.8).
"""

from __future__ import annotations

import inspect
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines.calibration.worlds import METRICS, SCENARIOS, VALUE_DECISIONS, World, write_batch
from pipelines.resources import WarehouseResource
from pipelines.sqlfiles import table_exists

CONFIDENT = ("improved", "worsened")
SAFE_VERDICTS = ("no_clear_change", "negligible", "insufficient_data", "insufficient_baseline")
COVERAGE_TARGET = (90.0, 98.0)
VALUE_DECISION_TARGET = 5.0


class DirectWarehouse(WarehouseResource):
    """The warehouse resource without the run machinery: connections go straight to ``path``."""

    def setup_for_execution(self, context) -> None:  # noqa: D102 - no build file, no lock
        return None

    def teardown_after_execution(self, context) -> None:  # noqa: D102 - nothing to publish
        return None


def downstream_assets():
    """The asset definitions that read staging and write the marts, in the graph's order."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    seen, candidates = set(), []
    for key in graph.toposorted_asset_keys:
        if key.path[0] in ("staging", "monitoring"):
            continue
        assets_def = defs.get_assets_def(key)
        if id(assets_def) not in seen:
            seen.add(id(assets_def))
            candidates.append(assets_def)
    # A step of several tables (a multi-asset) runs after every table any of them reads, as
    # Dagster runs it: its first table's place in the key order is not enough.
    needs = {
        id(d): {id(defs.get_assets_def(parent)) for key in d.keys for parent in graph.get(key).parent_keys}
        & seen - {id(d)}
        for d in candidates
    }
    ordered, placed = [], set()
    while candidates:
        ready = next(d for d in candidates if needs[id(d)] <= placed)
        candidates.remove(ready)
        ordered.append(ready)
        placed.add(id(ready))
    return ordered


def conform_staging(path: str) -> None:
    """Give the batch every staging table and column the input contract defines: a source the
    simulation does not draw (stage history, feedback) is an empty table, a column it does not
    draw is null, exactly as a build reads an input folder without them."""
    from pipelines.ingest.sources import SOURCES

    con = duckdb.connect(path)
    try:
        con.execute("create schema if not exists staging")
        for spec in SOURCES:
            empty = pl.DataFrame(schema={**spec.columns, "source_file": pl.String})
            con.register("_empty", empty)
            con.execute(f"create table if not exists staging.{spec.name} as select * from _empty")
            have = {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'staging' and table_name = ?", [spec.name]
            ).fetchall()}  # fmt: skip
            for name, type_ in con.execute(
                "select column_name, column_type from (describe select * from _empty)"
            ).fetchall():
                if name not in have:
                    con.execute(f'alter table staging.{spec.name} add column "{name}" {type_}')
            con.unregister("_empty")
    finally:
        con.close()


def build_marts(path: str) -> None:
    """Invoke every downstream asset on the DuckDB file at ``path`` (its staging tables filled)."""
    import dagster as dg

    conform_staging(path)
    warehouse = DirectWarehouse(path=path)
    for assets_def in downstream_assets():
        # The asset's own function, called as a run calls it; Dagster's output bookkeeping
        # (which a direct invocation of a multi-asset with checks insists on) is skipped.
        fn = assets_def.op.compute_fn.decorated_fn
        kwargs = {}
        for name in inspect.signature(fn).parameters:
            if name == "warehouse":
                kwargs[name] = warehouse
            elif name == "context":
                kwargs[name] = dg.build_asset_context()
            else:
                raise TypeError(f"the calibration cannot supply {name!r} to asset {assets_def.key.to_user_string()}")
        result = fn(**kwargs)
        if inspect.isgenerator(result):
            for _ in result:
                pass


@dataclass(frozen=True)
class Settings:
    """How much to simulate."""

    batches: int = 12
    treated: int = 8
    seed: int = 20240601
    workers: int = 2


QUICK = Settings(batches=2, treated=5)


def _table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame | None:
    return con.sql(f"select * from {name}").pl() if table_exists(con, name) else None


def run_batch(args: tuple[World, int, Settings]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One simulated warehouse: (every interval with its truth and verdict, every deployed workflow's outcome)."""
    scenario, index, settings = args
    with tempfile.TemporaryDirectory(prefix="opvalue-calibration-") as folder:
        path = str(Path(folder) / "batch.duckdb")
        con = duckdb.connect(path)
        try:
            batch = write_batch(
                con, scenario, seed=settings.seed + 1000 * index + SCENARIOS.index(scenario), n_treated=settings.treated
            )
        finally:
            con.close()
        build_marts(path)
        con = duckdb.connect(path, read_only=True)
        try:
            metrics = con.sql("select * from marts.value_metrics").pl()
            views = con.sql("select * from marts.effect_views").pl()
            scorecard = con.sql("select * from marts.workflow_scorecard").pl()
        finally:
            con.close()
    truth = {m: 100 * scenario.true_effect(m) for m in METRICS}
    did = views.filter(pl.col("view") == "diff_in_diff")
    did_status = _did_status(did)
    association = views.filter(pl.col("view") == "assisted_vs_unassisted").select(
        "workflow_id", "metric", "view", "estimate_pct", "ci_low_pct", "ci_high_pct",
        pl.lit(None, dtype=pl.String).alias("verdict"),
    )  # fmt: skip
    before_after = metrics.select(
        "workflow_id", "metric", pl.lit("before_after").alias("view"), pl.col("change_pct").alias("estimate_pct"),
        "ci_low_pct", "ci_high_pct", "verdict",
    )  # fmt: skip
    did_rows = did.select(
        "workflow_id", "metric", "view", "estimate_pct", "ci_low_pct", "ci_high_pct", did_status.alias("verdict")
    )
    estimates = (
        pl.concat([before_after, did_rows.cast(before_after.schema), association.cast(before_after.schema)])
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .with_columns(
            pl.col("metric").replace_strict(truth, return_dtype=pl.Float64).alias("truth"),
            pl.lit(scenario.name).alias("scenario"),
            pl.lit(index).alias("batch"),
        )
    )
    deployed = scorecard.filter(pl.col("workflow_id").is_in(batch.treated))
    decision = pl.col("decision") if "decision" in deployed.columns else pl.lit(None, dtype=pl.String)
    primary_did = did_rows.join(
        deployed.select("workflow_id", pl.col("primary_metric").alias("metric")), on=["workflow_id", "metric"]
    ).select("workflow_id", pl.col("verdict").alias("did_status"))
    outcomes = (
        deployed.select(
            "workflow_id",
            "primary_metric",
            "primary_verdict",
            decision.alias("decision"),
            pl.lit("decision" in deployed.columns).alias("has_decision"),
        )  # fmt: skip
        .join(primary_did, on="workflow_id", how="left")
        .with_columns(
            pl.col("primary_metric").replace_strict(truth, return_dtype=pl.Float64).alias("primary_truth"),
            pl.lit(scenario.name).alias("scenario"),
            pl.lit(index).alias("batch"),
        )
    )
    return estimates, outcomes


def _did_status(did: pl.DataFrame) -> pl.Expr:
    """The difference-in-differences row's status: its own ``verdict`` column when the method
    publishes one, else ``not_identifiable`` (``is_identifiable`` false, or said by its label),
    ``not_estimable``, or a verdict from its interval."""
    if "verdict" in did.columns:
        return pl.col("verdict")
    label = pl.col("label").fill_null("")
    identifiable = pl.col("is_identifiable").fill_null(True) if "is_identifiable" in did.columns else pl.lit(True)
    return (
        pl.when(~identifiable | label.str.contains("not identifiable|not_identifiable"))
        .then(pl.lit("not_identifiable"))
        .when(label.str.contains("not estimable") | pl.col("ci_low_pct").is_null())
        .then(pl.lit("not_estimable"))
        .when(pl.col("ci_high_pct") < 0)
        .then(pl.lit("improved"))
        .when(pl.col("ci_low_pct") > 0)
        .then(pl.lit("worsened"))
        .otherwise(pl.lit("no_clear_change"))
    )


def run(settings: Settings, scenarios: tuple[World, ...] = SCENARIOS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every batch of every scenario, on ``settings.workers`` processes."""
    jobs = [(scenario, index, settings) for scenario in scenarios for index in range(settings.batches)]
    if settings.workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(settings.workers) as pool:
            parts = pool.map(run_batch, jobs, chunksize=1)
    else:
        parts = [run_batch(job) for job in jobs]
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts], how="diagonal_relaxed")


@dataclass(frozen=True)
class Figure:
    """One figure of one scenario beside its target."""

    scenario: str
    figure: str
    value: float | None
    target: str
    status: str
    """``pass``, ``miss``, ``not available`` (the method publishes nothing to measure yet) or
    ``not applicable`` (with the reason in ``target``)."""
    n: int


def _pct(mask: pl.Series) -> float | None:
    return None if mask.len() == 0 else 100 * float(mask.cast(pl.Float64).mean())


def _covered(rows: pl.DataFrame) -> pl.Series:
    return (rows["ci_low_pct"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high_pct"])


def score(estimates: pl.DataFrame, outcomes: pl.DataFrame, scenarios: tuple[World, ...] = SCENARIOS) -> list[Figure]:
    """Every scenario's figures against their targets."""
    figures: list[Figure] = []
    for s in scenarios:
        est = estimates.filter(pl.col("scenario") == s.name)
        out = outcomes.filter(pl.col("scenario") == s.name)
        if est.height == 0:
            continue
        low, high = COVERAGE_TARGET
        for view, label in (("before_after", "coverage, before/after"), ("diff_in_diff", "coverage, diff-in-diff")):
            rows = est.filter(
                (pl.col("view") == view) & pl.col("ci_low_pct").is_not_null() & pl.col("ci_high_pct").is_not_null()
            )
            value = _pct(_covered(rows)) if rows.height else None
            if view not in s.valid:
                status, target = "not applicable", f"n/a: {_why_invalid(s, view)}"
            elif value is None:
                status, target = "miss", f"{low:.0f}-{high:.0f}% (no interval published)"
            else:
                status, target = ("pass" if low <= value <= high else "miss"), f"{low:.0f}-{high:.0f}%"
            figures.append(Figure(s.name, label, value, target, status, rows.height))
        tolerance = s.fp_tolerance_pct
        nulls = est.filter(
            (pl.col("view") == "before_after") & (pl.col("truth") == 0) & pl.col("verdict").is_not_null()
        )
        value = _pct(nulls["verdict"].is_in(CONFIDENT)) if nulls.height else None
        if "before_after" not in s.valid:
            status, target = "not applicable", f"n/a: {_why_invalid(s, 'before_after')}; see safe endings"
        elif value is None:
            status, target = "not applicable", "n/a: no null metric in this scenario"
        else:
            status, target = ("pass" if value <= tolerance else "miss"), f"<= {tolerance:.0f}%"
        figures.append(Figure(s.name, "confident verdicts on null metrics", value, target, status, nulls.height))
        if s.show_association:
            rows = est.filter(
                (pl.col("view") == "assisted_vs_unassisted")
                & pl.col("ci_low_pct").is_not_null()
                & (pl.col("truth") == 0)
            )
            value = _pct((rows["ci_low_pct"] > 0) | (rows["ci_high_pct"] < 0)) if rows.height else None
            figures.append(Figure(s.name, "assisted vs unassisted excludes 0 (association, informational)", value,
                                  "none: self-selection, not an effect", "info", rows.height))  # fmt: skip
        null_wf = out.filter(pl.col("primary_truth") == 0)
        has_decision = bool(out["has_decision"].any()) if out.height else False
        if not null_wf.height:
            figures.append(
                Figure(s.name, "value decisions on null workflows", None, "n/a: no null workflow", "not applicable", 0)
            )
        elif not has_decision:
            figures.append(Figure(s.name, "value decisions on null workflows", None, f"<= {VALUE_DECISION_TARGET:.0f}%",
                                  "not available", null_wf.height))  # fmt: skip
        else:
            value = _pct(null_wf["decision"].is_in(VALUE_DECISIONS))
            figures.append(Figure(s.name, "value decisions on null workflows", value, f"<= {VALUE_DECISION_TARGET:.0f}%",
                                  "pass" if value <= VALUE_DECISION_TARGET else "miss", null_wf.height))  # fmt: skip
        if "before_after" not in s.valid and null_wf.height:
            safe = safe_ending(null_wf)
            value = _pct(safe)
            need = 100 - tolerance
            figures.append(Figure(s.name, "safe endings of null workflows", value, f">= {need:.0f}%",
                                  "pass" if value >= need else "miss", null_wf.height))  # fmt: skip
    return figures


def _why_invalid(s: World, view: str) -> str:
    """Why a method's interval cannot be held to the coverage target in scenario ``s``."""
    if s.deployed_trend:
        return "trends are not parallel: no method can be valid"
    if view == "diff_in_diff" and s.n_comparison < 3:
        return "fewer than 3 comparison workflows (v2: not_identifiable)"
    if s.common_step or s.common_trend:
        return "a shift common to all workflows is not the effect; no before/after can separate them"
    return "its estimand is not the effect here"


def safe_ending(null_workflows: pl.DataFrame) -> pl.Series:
    """Per null workflow: did it end ``contested``, ``no_clear_change`` or ``not_identifiable``
    without a value decision (and, before decisions exist, without a confident verdict that
    nothing contradicts)?"""
    f = null_workflows
    decision = f["decision"].fill_null("")
    no_value = ~decision.is_in(VALUE_DECISIONS)
    ended = (
        (decision == "contested")
        | f["primary_verdict"].fill_null("").is_in(SAFE_VERDICTS)
        | (f["did_status"].fill_null("") == "not_identifiable")
    )
    return no_value & ended


def describe(settings: Settings, scenarios: tuple[World, ...] = SCENARIOS) -> str:
    """The settings of a run in one line."""
    return (
        f"{len(scenarios)} scenarios x {settings.batches} simulated warehouses x {settings.treated} deployed workflows "
        f"(2 or 6 comparison workflows; ~8 items a day each; 18 baseline and 18 post weeks; primary metrics rotate over "
        f"the five); seed {settings.seed}; {settings.workers} processes"
    )


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell; blank when missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(figures: list[Figure], scenarios: tuple[World, ...] = SCENARIOS) -> str:
    """The figures as a markdown table, one row per scenario and figure."""
    described = {s.name: s.description for s in scenarios}
    lines = [
        "| scenario | figure | value % | target | status | n |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    last = None
    for f in figures:
        name = f"**{f.scenario}**: {described.get(f.scenario, '')}" if f.scenario != last else ""
        last = f.scenario
        value = fmt(f.value) if f.value is not None else ("not yet available" if f.status == "not available" else "")
        lines.append(f"| {name} | {f.figure} | {value} | {f.target} | {f.status} | {f.n} |")
    return "\n".join(lines)


__all__ = ["QUICK", "Figure", "Settings", "build_marts", "describe", "markdown", "run", "safe_ending", "score"]
