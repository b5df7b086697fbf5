"""Method checks: one row per deployed workflow, metric and check, each with one plain sentence.

Every check answers "can this headline number be trusted as it stands?" and says ``ok``,
``warn`` or ``not_applicable`` (the check has nothing to look at). What each check does and
its threshold are in docs/methods.md; the thresholds are metrics.yaml's ``method_checks`` and
the guardrail rule is ``pipelines.metrics.rules.guardrail_breaches``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipelines.measurement.estimators import (
    WeightedChange,
    standardized_change,
    team_weighted_log_ratio,
    total_variation_points,
)
from pipelines.measurement.views import (
    WeeklyResult,
    deployed_workflows,
    placebo_offset_days,
    two_group_results,
    weekly_results,
)
from pipelines.metrics.config import MetricsConfig, load_config
from pipelines.metrics.rules import guardrail_breaches, trend_explains_change
from pipelines.metrics.value_metrics import period_stats_sql
from pipelines.stats.diagnostics import censoring_gap, mix_shift_chi2
from pipelines.stats.intervals import MomentStats
from pipelines.stats.medians import cycle_time_summary
from pipelines.stats.verdicts import NO_CLAIM
from pipelines.stats.weekly import critical_value

CHECK_NAMES = (
    "placebo",
    "parallel_trends",
    "step_vs_trend",
    "mix_shift",
    "censoring",
    "guardrail",
    "novelty",
    "sample_size",
)


def _threshold(name: str) -> float:
    """A method-check threshold from metrics.yaml's ``method_checks``."""
    return float(load_config().method_checks[name])


METHOD_CHECKS_SCHEMA: dict[str, pl.DataType] = {
    "workflow_id": pl.String,
    "metric": pl.String,
    "check_name": pl.String,
    "status": pl.String,
    "detail": pl.String,
    "estimate_pct": pl.Float64,
    "ci_low_pct": pl.Float64,
    "ci_high_pct": pl.Float64,
}


def pct(value: float | None, signed: bool = True) -> str:
    """-12.3% / +4.0%: a percentage for a sentence."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def ci_text(low: float | None, high: float | None, level: float) -> str:
    """'95% CI -20.1% to -4.5%'."""
    return f"{level:.0%} CI {pct(low)} to {pct(high)}"


def p_text(p: float) -> str:
    """'p = 0.031' / 'p < 0.001'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _row(
    workflow_id: str,
    metric: str,
    check: str,
    status: str,
    detail: str,
    numbers: tuple[Any, Any, Any] = (None, None, None),
) -> dict[str, Any]:
    estimate, low, high = numbers
    return {
        "workflow_id": workflow_id, "metric": metric, "check_name": check, "status": status, "detail": detail,
        "estimate_pct": estimate, "ci_low_pct": low, "ci_high_pct": high,
    }  # fmt: skip


# --- placebo ----------------------------------------------------------------------------------


def placebo_rows(placebo: pl.DataFrame, windows: dict[str, Any], config: MetricsConfig) -> list[dict[str, str]]:
    """A fake go-live mid-baseline, run through the before/after: a 'change' there is noise seen as signal."""
    level = float(config.settings["confidence_level"])
    offset = placebo_offset_days(config)
    rows = []
    for r in placebo.iter_rows(named=True):
        fake_on = windows[r["workflow_id"]].baseline_start_on + dt.timedelta(days=offset)
        found = f"{pct(r['change_pct'])} ({ci_text(r['ci_low_pct'], r['ci_high_pct'], level)})"
        if r["verdict"] in NO_CLAIM:
            status, detail = (
                "not_applicable",
                f"Too little baseline data to split at a fake go-live on {fake_on} "
                f"({r['n_baseline_closed']} and {r['n_post_closed']} closed items in the two halves).",
            )
        elif r["verdict"] in ("improved", "worsened", "negligible"):
            status, detail = (
                "warn",
                f"A fake go-live on {fake_on}, inside the baseline, 'finds' {found}: this workflow moves "
                "this much without the tool, so read the before/after with care.",
            )
        else:
            status, detail = (
                "ok",
                f"A fake go-live on {fake_on}, inside the baseline, finds {found}: no change, as it should.",
            )
        numbers = (r["change_pct"], r["ci_low_pct"], r["ci_high_pct"])
        rows.append(_row(r["workflow_id"], r["metric"], "placebo", status, detail, numbers))
    return rows


# --- parallel trends and novelty (weekly series) ---------------------------------------------


def parallel_trends_row(result: WeeklyResult, alpha: float) -> dict[str, str]:
    """Lead test: does the weekly gap to the comparison workflows drift before go-live?"""
    trend = result.pre_trend
    if trend is None:
        return _row(
            result.workflow_id, result.metric, "parallel_trends", "not_applicable",
            "No comparison workflow to compare trends with.",
        )  # fmt: skip
    if trend.n_weeks < _threshold("min_trend_weeks") or not math.isfinite(trend.p_value):
        return _row(
            result.workflow_id, result.metric, "parallel_trends", "not_applicable",
            f"Only {trend.n_weeks} baseline weeks with a value in both series: too few to test trends.",
        )  # fmt: skip
    slope = f"{100 * trend.slope:+.2f} points a week, {p_text(trend.p_value)} over {trend.n_weeks} baseline weeks"
    if trend.p_value < alpha:
        return _row(
            result.workflow_id, result.metric, "parallel_trends", "warn",
            f"Before go-live the gap to the comparison workflows drifted ({slope}): trends were not "
            "parallel, so the difference-in-differences may be biased.",
        )  # fmt: skip
    return _row(
        result.workflow_id, result.metric, "parallel_trends", "ok",
        f"Before go-live the gap to the comparison workflows stayed level ({slope}); a weak test: "
        "it cannot prove the trends would have stayed parallel.",
    )  # fmt: skip


def step_vs_trend_row(result: WeeklyResult, value_row: dict[str, Any] | None, config: MetricsConfig) -> dict[str, Any]:
    """Is the improvement a step at go-live, or a trend already under way before it?

    The weekly gap to the comparisons over baseline and post weeks together, fitted as a line
    plus a step at go-live (``stats.diagnostics.segmented_trend``, HAC errors); warns when the
    trend explains the change (``rules.trend_explains_change``). The step and its interval, in
    percent of the baseline, are the row's numbers (read by the contested rule)."""
    fit = result.trend
    wid, metric = result.workflow_id, result.metric
    if fit is None:
        return _row(wid, metric, "step_vs_trend", "not_applicable", "No comparison workflow to fit a trend against.")
    if not (math.isfinite(fit.step) and math.isfinite(fit.step_se)):
        return _row(
            wid, metric, "step_vs_trend", "not_applicable",
            f"Only {fit.n_weeks} weeks with a value in both series, fewer than 3 on one side of go-live: "
            "too few to separate a step from a trend.",
        )  # fmt: skip
    level = float(config.settings["confidence_level"])
    half = critical_value(config.alpha, fit.df) * fit.step_se
    numbers = (100 * fit.step, 100 * (fit.step - half), 100 * (fit.step + half))
    step = f"{pct(numbers[0])} ({ci_text(numbers[1], numbers[2], level)})"
    pace = f"{100 * fit.slope:+.2f} points a week, {p_text(fit.slope_p_value)}"
    change = f"the gap to the comparison workflows moved {pct(100 * fit.change)} from the baseline to the post weeks"
    verdict = value_row["verdict"] if value_row is not None else None
    improved = verdict == "improved" or (
        result.did.ci_high_pct is not None and math.isfinite(result.did.ci_high_pct) and result.did.ci_high_pct < 0
    )
    if not improved:
        return _row(
            wid, metric, "step_vs_trend", "not_applicable",
            f"No improvement to explain (before/after verdict {verdict}, no difference-in-differences interval "
            f"below zero); {change}: a step of {step} at go-live and a trend of {pace}.",
            numbers,
        )  # fmt: skip
    trend_part = pct(100 * fit.trend_part)
    # The step must be confirmed at metrics.yaml's step_confirmation_level (0: only its share counts).
    confirm = 1 - float(config.method_checks["step_confirmation_level"])
    confirm_high = fit.step + (critical_value(confirm, fit.df) * fit.step_se if confirm < 1 else 0.0)
    if trend_explains_change(fit.step, fit.change, confirm_high, config):
        share = float(config.method_checks["min_step_share_of_change"])
        if fit.step > share * fit.change:  # the trend carries most of the change
            opening = "The workflow was already improving before go-live at about the same pace"
            left = f"less than {share:.0%} of the change" + (
                ", in an interval that includes no step" if numbers[2] >= 0 else ""
            )
        else:  # the step keeps most of it but is not confirmed: the trend itself may be weak
            opening = "A step at go-live cannot be told from a steady trend through the baseline and post weeks"
            left = "an interval that includes no step"
        return _row(
            wid, metric, "step_vs_trend", "warn",
            f"{opening}: {change}, and a steady trend through both periods ({pace}) carries {trend_part} of it, "
            f"leaving a step at go-live of {step}: {left}.",
            numbers,
        )  # fmt: skip
    return _row(
        wid, metric, "step_vs_trend", "ok",
        f"The change came as a step at go-live, not a trend already under way: {change}; allowing a steady "
        f"trend ({pace}, carrying {trend_part}), the step at go-live is {step}.",
        numbers,
    )  # fmt: skip


def novelty_row(result: WeeklyResult, value_row: dict[str, Any], alpha: float) -> dict[str, str]:
    """A fading improvement: the weekly effect creeps back towards zero after go-live."""
    trend = result.post_trend
    improved = value_row["verdict"] == "improved" or (
        result.did.ci_high_pct is not None and math.isfinite(result.did.ci_high_pct) and result.did.ci_high_pct < 0
    )
    against = "net of the comparison workflows" if result.pre_trend is not None else "against its own baseline"
    if trend.n_weeks < _threshold("min_trend_weeks") or not math.isfinite(trend.p_value):
        return _row(
            result.workflow_id, result.metric, "novelty", "not_applicable",
            f"Only {trend.n_weeks} post weeks with a value: too few to see a trend.",
        )  # fmt: skip
    slope = f"{100 * trend.slope:+.2f} points a week {against}, {p_text(trend.p_value)} over {trend.n_weeks} post weeks"
    if not improved:
        return _row(
            result.workflow_id, result.metric, "novelty", "not_applicable",
            f"No improvement to fade (before/after verdict {value_row['verdict']}, no difference-in-differences "
            f"interval below zero); weekly effect trend {slope}.",
        )  # fmt: skip
    if trend.slope > 0 and trend.p_value < alpha:
        return _row(
            result.workflow_id, result.metric, "novelty", "warn",
            f"The improvement is fading: the weekly effect moves back towards zero ({slope}); "
            "the average over the post period overstates what lasts.",
        )  # fmt: skip
    return _row(
        result.workflow_id, result.metric, "novelty", "ok",
        f"The improvement is holding: weekly effect trend {slope}.",
    )  # fmt: skip


# --- mix shift --------------------------------------------------------------------------------


def team_weighted_changes(
    con: duckdb.DuckDBPyConnection, config: MetricsConfig, workflow_ids: list[str]
) -> dict[tuple[str, str], WeightedChange]:
    """Before/after change with each team weighted by its baseline share, per workflow and metric."""
    if not workflow_ids:
        return {}
    alpha = config.alpha
    stats_sql = period_stats_sql(
        "(select * from intermediate.item_periods where team is not null)", "workflow_id, team, period"
    )
    moments = con.sql(f"select * from ({stats_sql}) where list_contains(?, workflow_id)", params=[workflow_ids]).pl()
    durations = con.sql(
        "select workflow_id, team, period, cycle_time_hours, is_closed from intermediate.item_periods "
        "where team is not null and list_contains(?, workflow_id) order by workflow_id, team, period",
        params=[workflow_ids],
    ).pl()
    by_group = durations.partition_by(["workflow_id", "team", "period"], as_dict=True, maintain_order=True)
    out: dict[tuple[str, str], WeightedChange] = {}
    for workflow_id in workflow_ids:
        teams = sorted({t for (w, t, _) in by_group if w == workflow_id})
        for name, definition in config.metrics.items():
            if definition.aggregation == "median":
                base, post = [], []
                for team in teams:
                    summaries = []
                    for period in ("baseline", "post"):
                        part = by_group.get((workflow_id, team, period))
                        if part is None or part.height == 0:
                            summaries.append(None)
                            continue
                        summaries.append(
                            cycle_time_summary(
                                part.get_column("cycle_time_hours").to_numpy(),
                                part.get_column("is_closed").to_numpy(),
                                alpha,
                            )
                        )
                    base.append(summaries[0])
                    post.append(summaries[1])
                nan = float("nan")
                out[(workflow_id, name)] = team_weighted_log_ratio(
                    [b.median if b else nan for b in base],
                    [b.se if b else nan for b in base],
                    [p.median if p else nan for p in post],
                    [p.se if p else nan for p in post],
                    [b.n if b else 0 for b in base],
                    alpha,
                )
                continue
            part = moments.filter((pl.col("workflow_id") == workflow_id) & (pl.col("metric") == name))
            wide = part.pivot(on="period", index="team", values=["n", "total", "total_sq"])
            cols = {c: wide.get_column(c).fill_null(0).to_numpy() if c in wide.columns else np.zeros(wide.height)
                    for c in ("n_baseline", "total_baseline", "total_sq_baseline", "n_post", "total_post", "total_sq_post")}  # fmt: skip
            binary = definition.aggregation == "share"

            def stats_of(period: str, cols: dict = cols, binary: bool = binary) -> MomentStats:
                n, total, total_sq = cols[f"n_{period}"], cols[f"total_{period}"], cols[f"total_sq_{period}"]
                return MomentStats.from_events(total, n) if binary else MomentStats(n, total, total_sq)

            b, p = stats_of("baseline"), stats_of("post")
            out[(workflow_id, name)] = standardized_change(
                b.mean, b.variance, cols["n_baseline"], p.mean, p.variance, cols["n_post"], alpha
            )
    return out


def pool_small_groups(counts: np.ndarray, min_group: int) -> tuple[np.ndarray, int]:
    """Teams (rows) with fewer than ``min_group`` items in a period (column) pooled into one row.

    A breakdown never rests on a group smaller than ``min_group_size``; returns the table and
    how many teams were pooled."""
    small = (counts < min_group).any(axis=1)
    if small.sum() == 0:
        return counts, 0
    return np.vstack([counts[~small], counts[small].sum(axis=0, keepdims=True)]), int(small.sum())


def mix_shift_rows(
    con: duckdb.DuckDBPyConnection, config: MetricsConfig, value_rows: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, str]]:
    """Chi-square on team x period item counts; on a warning, the team-weighted estimate beside the pooled one."""
    alpha = config.alpha
    level = float(config.settings["confidence_level"])
    counts = con.execute(
        "select workflow_id, team, count(*) filter (where period = 'baseline'), count(*) filter (where period = 'post') "
        "from intermediate.item_periods where team is not null group by all order by 1, 2"
    ).fetchall()
    table: dict[str, list[tuple[str, int, int]]] = {}
    for workflow_id, team, n_b, n_p in counts:
        table.setdefault(workflow_id, []).append((team, n_b, n_p))
    verdicts: dict[str, tuple[str, str]] = {}
    flagged = []
    min_points = _threshold("min_mix_shift_points")
    min_group = int(config.settings["min_group_size"])
    for workflow_id in (w.workflow_id for w in deployed_workflows(con)):
        teams = table.get(workflow_id, [])
        if not teams:
            verdicts[workflow_id] = (
                "not_applicable",
                "No team recorded on this workflow's items, so the team mix cannot be checked.",
            )
            continue
        matrix, pooled = pool_small_groups(np.array([[b, p] for _, b, p in teams], dtype=float), min_group)
        test = mix_shift_chi2(matrix)
        if not math.isfinite(test.p_value):
            verdicts[workflow_id] = (
                "not_applicable",
                f"Items come from {len(teams)} team(s) with items in both periods too few to compare mixes.",
            )
            continue
        moved = total_variation_points(matrix[:, 0], matrix[:, 1])
        summary = f"chi-square {p_text(test.p_value)} over {len(teams)} teams; shares moved by {moved:.1f} points"
        if pooled:
            summary += (
                f"; {pooled} team(s) with fewer than {min_group} items in a period pooled as one group (min_group_size)"
            )
        if test.p_value < alpha and moved >= min_points:
            verdicts[workflow_id] = ("warn", summary)
            flagged.append(workflow_id)
        else:
            verdicts[workflow_id] = ("ok", f"Team mix steady enough ({summary}, flagged from {min_points:.0f}).")
    weighted = team_weighted_changes(con, config, flagged)
    rows = []
    for (workflow_id, metric), value in value_rows.items():
        status, detail = verdicts.get(workflow_id, ("not_applicable", "No items in this workflow's windows."))
        if status == "warn":
            w = weighted.get((workflow_id, metric))
            weighted_text = (
                f"{pct(w.estimate_pct)} ({ci_text(w.ci_low_pct, w.ci_high_pct, level)})"
                if w is not None and math.isfinite(w.estimate_pct)
                else "not estimable"
            )
            detail = (
                f"The team mix moved between periods ({detail}): the pooled change {pct(value['change_pct'])} "
                f"becomes {weighted_text} with each team weighted by its baseline share."
            )
        rows.append(_row(workflow_id, metric, "mix_shift", status, detail))
    return rows


# --- censoring, guardrail, sample size --------------------------------------------------------


def censoring_rows(
    con: duckdb.DuckDBPyConnection, value_rows: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, str]]:
    """Share of open items per period; flag a gap of more than metrics.yaml's ``censoring_gap_points``."""
    gap_points = _threshold("censoring_gap_points")
    counts = {
        r[0]: r[1:]
        for r in con.execute(
            "select workflow_id, "
            "count(*) filter (where period = 'baseline' and not is_closed), count(*) filter (where period = 'baseline'), "
            "count(*) filter (where period = 'post' and not is_closed), count(*) filter (where period = 'post') "
            "from intermediate.item_periods group by 1"
        ).fetchall()
    }
    rows = []
    for workflow_id, metric in value_rows:
        open_b, n_b, open_p, n_p = counts.get(workflow_id, (0, 0, 0, 0))
        if not n_b or not n_p:
            rows.append(_row(workflow_id, metric, "censoring", "not_applicable", "A period has no items."))
            continue
        gap = float(censoring_gap(open_b, n_b, open_p, n_p))
        shares = f"{100 * open_b / n_b:.1f}% of baseline and {100 * open_p / n_p:.1f}% of post items are still open (gap {gap:+.1f} points)"
        if abs(gap) > gap_points:
            consequence = (
                "the median uses Kaplan-Meier, which is right only if open items end like closed ones of the same age"
                if metric == "cycle_time_hours"
                else "this metric counts what has happened so far, and open items may still be reworked, fail, be touched or cost more"
            )
            rows.append(_row(workflow_id, metric, "censoring", "warn", f"{shares.capitalize()}: {consequence}."))
        else:
            rows.append(
                _row(workflow_id, metric, "censoring", "ok", f"{shares.capitalize()}, within {gap_points:.0f}.")
            )
    return rows


def guardrail_rows(
    value_rows: dict[tuple[str, str], dict[str, Any]], primary_metrics: dict[str, str | None]
) -> list[dict[str, Any]]:
    """A primary-metric win with a worsened guardrail (``rules.guardrail_breaches``), on every metric row of the workflow."""
    rows = []
    for workflow_id, metric in value_rows:
        primary = primary_metrics.get(workflow_id) or "cycle_time_hours"
        verdicts = {m: r["verdict"] for (w, m), r in value_rows.items() if w == workflow_id}
        won = value_rows.get((workflow_id, primary))
        worse = guardrail_breaches(primary, verdicts)
        label = primary.replace("_", " ").capitalize()
        if won is None or won["verdict"] in NO_CLAIM:
            status, detail = (
                "not_applicable",
                f"{label} (the primary metric) has too little data for a verdict, so there is no win to guard.",
            )
        elif won["verdict"] != "improved":
            status, detail = (
                "ok",
                f"{label} (the primary metric) did not improve ({won['verdict']}), so there is no win to guard.",
            )
        elif worse:
            names = " and ".join(
                f"{m.replace('_', ' ')} worsened ({pct(value_rows[(workflow_id, m)]['change_pct'])})" for m in worse
            )
            status, detail = (
                "warn",
                f"{label} improved ({pct(won['change_pct'])}) while {names}: a gain bought with quality is flagged, not celebrated.",
            )
        else:
            status, detail = "ok", f"{label} improved ({pct(won['change_pct'])}) and no guardrail metric worsened."
        rows.append(_row(workflow_id, metric, "guardrail", status, detail))
    return rows


def sample_size_rows(value_rows: dict[tuple[str, str], dict[str, Any]], config: MetricsConfig) -> list[dict[str, str]]:
    """Warn, with the counts, when the before/after verdict is insufficient_data."""
    settings = config.settings
    min_closed, min_events = int(settings["min_closed_items"]), int(settings["min_events"])
    rows = []
    for (workflow_id, metric), r in value_rows.items():
        counts = (
            f"{r['n_baseline_closed']} closed baseline items and {r['n_post_closed']} closed post items "
            f"({min_closed} needed in each)"
        )
        if r.get("n_events") is not None:
            counts += f", {r['n_events']} events in both periods together ({min_events} needed)"
        if r["verdict"] == "insufficient_baseline":
            rows.append(
                _row(workflow_id, metric, "sample_size", "warn", f"Too little baseline to claim a change: {r['note']}.")
            )
        elif r["verdict"] == "insufficient_data":
            reason = f"; {r['note']}" if r.get("note") and "fewer than" not in (r["note"] or "") else ""
            rows.append(
                _row(
                    workflow_id, metric, "sample_size", "warn", f"Too little data to claim a change: {counts}{reason}."
                )
            )
        else:
            rows.append(_row(workflow_id, metric, "sample_size", "ok", f"Enough data: {counts}."))
    return rows


# --- everything -------------------------------------------------------------------------------


def _value_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, Any]]:
    frame = con.sql(
        "select workflow_id, metric, verdict, change_pct, ci_low_pct, ci_high_pct, "
        "n_baseline_closed, n_post_closed, n_events, note from marts.value_metrics order by workflow_id, metric"
    ).pl()
    return {(r["workflow_id"], r["metric"]): r for r in frame.iter_rows(named=True)}


def primary_metrics(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Each registry workflow's primary metric (a registry without the column: none, read as cycle time)."""
    return dict(
        con.execute(
            "select workflow_id, primary_metric from (select * from staging.workflows "
            "union all by name select null::varchar as workflow_id, null::varchar as primary_metric where false)"
        ).fetchall()
    )


def compute_method_checks(
    con: duckdb.DuckDBPyConnection,
    config: MetricsConfig,
    weekly: list[WeeklyResult] | None = None,
    groups: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """All eight checks for every deployed workflow and metric."""
    alpha = config.alpha
    value_rows = _value_rows(con)
    windows = {w.workflow_id: w for w in deployed_workflows(con)}
    groups = two_group_results(con, config) if groups is None else groups
    weekly = weekly_results(con, config) if weekly is None else weekly
    rows: list[dict[str, str]] = []
    rows += placebo_rows(groups.filter(pl.col("comparison") == "placebo"), windows, config)
    for result in weekly:
        rows.append(parallel_trends_row(result, alpha))
        value_row = value_rows.get((result.workflow_id, result.metric))
        rows.append(step_vs_trend_row(result, value_row, config))
        if value_row is not None:
            rows.append(novelty_row(result, value_row, alpha))
    rows += mix_shift_rows(con, config, value_rows)
    rows += censoring_rows(con, value_rows)
    rows += guardrail_rows(value_rows, primary_metrics(con))
    rows += sample_size_rows(value_rows, config)
    order = {name: i for i, name in enumerate(CHECK_NAMES)}
    return (
        pl.DataFrame(rows, schema=METHOD_CHECKS_SCHEMA)
        .with_columns(pl.col("check_name").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("workflow_id", "metric", "_order")
        .drop("_order")
    )
