"""Generate opvalue's synthetic inputs: the bundled sample, or the same story at benchmark scale.

    python -m pipelines.sample.generate --out data/sample            # the bundled sample
    python -m pipelines.sample.generate --out /tmp/big --items 10000000 --workflows 200

Writes `workflows.csv`, monthly `work_items/items_YYYY_MM.csv` and `usage/usage_YYYY_MM.csv`
(plus one file the pipeline must reject), and `expected/`: the truth a test compares the
pipeline with (see the README written there). Items are drawn and written one month at a
time, so memory stays flat as --items grows. The same arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample import governance
from pipelines.sample.catalogue import Workflow, build_catalogue
from pipelines.sample.faults import ITEM_FAULTS, USAGE_FAULTS, add_bad_rows, plan_faults
from pipelines.sample.formats import (
    BAD_REGISTRY_ROWS,
    ITEM_COLUMNS,
    REGISTRY_COLUMNS,
    USAGE_COLUMNS,
    format_items,
    format_usage,
    registry_rows,
)
from pipelines.sample.items import find_cutoff, month_items, period_rows
from pipelines.sample.population import BASELINE_DAYS, DAY_S, build_population, make_calendar
from pipelines.sample.truth import disagreements, expected_decision, realised, true_effects
from pipelines.sample.usage import usage_scale, workflow_usage

DEFAULT_SEED = 141
DEFAULT_WORKFLOWS = 13
DEFAULT_START = dt.date(2025, 11, 3)
DEFAULT_MONTHS = 12
DEFAULT_BAD_ROW_RATE = 0.001
FAULTS = 3
NO_ESCALATED_MONTHS = 2
"""The first monthly item exports predate the optional `escalated` column."""
EXTRA_COLUMN_MONTH = 6
"""This month's item export carries a column the contract does not know (`queue`)."""
REJECTED_FILE = "work_items/items_legacy_export.csv"
REJECTED_REASON = "missing required column(s): opened_at"


OUTCOME_SCHEMA = {
    "source": pl.String,
    "source_file": pl.String,
    "row_number": pl.Int64,
    "outcome": pl.String,
    "key": pl.String,
}
BAD_SCHEMA = {
    "source": pl.String,
    "source_file": pl.String,
    "row_number": pl.Int64,
    "expected_reason_kind": pl.String,
    "column": pl.String,
    "value": pl.String,
}
FILE_SCHEMA = {
    "source": pl.String,
    "source_file": pl.String,
    "status": pl.String,
    "rows": pl.Int64,
    "staged": pl.Int64,
    "quarantined": pl.Int64,
    "deduplicated": pl.Int64,
    "superseded": pl.Int64,
    "reason": pl.String,
}
NOT_BAD = ("deduplicated", "superseded", "supersedes")


@dataclass
class Ledger:
    """What was written, row by row where it matters: the source of `expected/`."""

    bad_rows: list[pl.DataFrame] = field(default_factory=list)
    outcomes: list[pl.DataFrame] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)

    def record(self, source: str, source_file: str, frame: pl.DataFrame, key: tuple[str, ...]) -> None:
        """Note the tagged rows of a written file (`__row` holds 1-based data row numbers)."""
        parts = pl.col("__tag").str.split_exact("|", 1)
        tagged = frame.filter(pl.col("__tag").is_not_null()).with_columns(
            parts.struct.field("field_0").alias("__kind"),
            parts.struct.field("field_1").replace("", None).alias("__column"),
        )
        where = [
            pl.lit(source).alias("source"),
            pl.lit(source_file).alias("source_file"),
            pl.col("__row").alias("row_number"),
        ]
        outcomes = tagged.filter(pl.col("__kind").is_in(["deduplicated", "superseded"])).select(
            *where,
            pl.col("__kind").alias("outcome"),
            pl.concat_str([pl.col(k) for k in key], separator="|").alias("key"),
        )
        bad = tagged.filter(~pl.col("__kind").is_in(NOT_BAD))
        value = pl.lit(None, dtype=pl.String)
        for column in bad["__column"].drop_nulls().unique().sort():
            value = pl.when(pl.col("__column") == column).then(pl.col(column)).otherwise(value)
        bad = bad.select(
            *where,
            pl.col("__kind").alias("expected_reason_kind"),
            pl.col("__column").alias("column"),
            value.alias("value"),
        )
        self.outcomes.append(outcomes.cast(OUTCOME_SCHEMA))
        self.bad_rows.append(bad.cast(BAD_SCHEMA))
        deduplicated = int((outcomes["outcome"] == "deduplicated").sum())
        superseded = outcomes.height - deduplicated
        self.files.append(
            {
                "source": source,
                "source_file": source_file,
                "status": "loaded",
                "rows": frame.height,
                "staged": frame.height - bad.height - outcomes.height,
                "quarantined": bad.height,
                "deduplicated": deduplicated,
                "superseded": superseded,
                "reason": None,
            }
        )


def _write_csv(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, line_terminator="\n")


def _finish(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in file order, with their 1-based data row number in `__row`."""
    if "__sub" not in frame.columns:
        frame = frame.with_columns(pl.lit(0, dtype=pl.Int32).alias("__sub"))
    return (
        frame.sort("__order", "__sub", maintain_order=True)
        .with_row_index("__row", offset=1)
        .with_columns(pl.col("__row").cast(pl.Int64))
    )


def _clear(out: Path) -> None:
    """Remove files an earlier run wrote, so a smaller run leaves no stale months behind."""
    for pattern in ("workflows.csv", "work_items/*.csv", "usage/*.csv", "expected/*.csv", "expected/README.md"):
        for path in out.glob(pattern):
            path.unlink()


def generate(
    out: Path,
    seed: int = DEFAULT_SEED,
    items: int | None = None,
    workflows: int = DEFAULT_WORKFLOWS,
    start: dt.date = DEFAULT_START,
    months: int = DEFAULT_MONTHS,
    bad_row_rate: float = DEFAULT_BAD_ROW_RATE,
    bad_rows: bool = True,
    week_shocks: bool = True,
    log=print,
) -> dict:
    """Write a complete input folder and its truth under `out`; return a summary."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    calendar = make_calendar(start, months)
    catalogue = build_catalogue(workflows, seed, calendar.start, calendar.end)
    population = build_population(catalogue, calendar, items, seed, shocks=week_shocks)
    cutoff = find_cutoff(calendar, population, seed)
    eligible, activity = usage_scale(catalogue, population, calendar, cutoff, rescale=items is not None)
    ledger = Ledger()
    fault_rng = np.random.default_rng([seed, FAULTS])

    _write_registry(out, catalogue, eligible, bad_rows, fault_rng, ledger, cutoff)
    periods, item_rows = _write_items(
        out, catalogue, population, calendar, cutoff, seed, bad_rows, bad_row_rate, fault_rng, ledger
    )
    if bad_rows:
        _write_rejected_file(out, catalogue, calendar, seed, ledger)
    adoption, usage_rows = _write_usage(
        out, catalogue, eligible, activity, calendar, cutoff, seed, bad_rows, bad_row_rate, fault_rng, ledger
    )

    governance.write_sources(out, catalogue, cutoff, seed, ledger)
    measured = realised(periods, catalogue)
    effects = true_effects(catalogue, measured)
    _write_expected(
        out, catalogue, population, eligible, cutoff, calendar, periods, adoption, measured, effects, ledger
    )
    off_story = disagreements(effects, measured)
    summary = _summary(out, ledger, item_rows, usage_rows, time.perf_counter() - started, off_story)
    log(_summary_text(summary, effects, off_story))
    return summary


def _write_registry(
    out: Path, catalogue: list[Workflow], eligible: np.ndarray, bad_rows: bool, rng, ledger: Ledger, cutoff: int
) -> None:
    rows = [dict(row, __tag=None) for row in registry_rows(catalogue, eligible)]
    if bad_rows:
        # Spread the bad rows through the file rather than leaving them at the end.
        for position, (row, kind, column) in zip((2, 5, 8, 11), BAD_REGISTRY_ROWS):
            full = {name: row.get(name) for name in REGISTRY_COLUMNS}
            rows.insert(min(position, len(rows)), dict(full, __tag=f"{kind}|{column}"))
    frame = pl.DataFrame(rows, schema={**{c: pl.String for c in REGISTRY_COLUMNS}, "__tag": pl.String})
    frame = frame.with_row_index("__row", offset=1).with_columns(pl.col("__row").cast(pl.Int64))
    ledger.record("workflows", "workflows.csv", frame, ("workflow_id",))
    frame = governance.registry_columns(frame, catalogue, cutoff)
    _write_csv(frame.select(*REGISTRY_COLUMNS, *governance.REGISTRY_COLUMNS), out / "workflows.csv")


def _write_items(out, catalogue, population, calendar, cutoff, seed, bad_rows, bad_row_rate, rng, ledger):
    """Every monthly item file, written as it is drawn; returns the rows in the metric windows."""
    n_months = len(calendar.months)
    month_weight = np.array([calendar.weight[first:last].sum() for _, first, last in calendar.months])
    total_bad = round(bad_row_rate * population.expected_items.sum())
    plan = (
        plan_faults(ITEM_FAULTS.recipes, total_bad, n_months, month_weight, rng)
        if bad_rows
        else [[] for _ in range(n_months)]
    )
    next_seq = np.zeros(len(catalogue), dtype=np.int64)
    pending: dict[int, list[pl.DataFrame]] = {}
    periods, written, bad_seq = [], 0, 1
    for month, (label, _, _) in enumerate(calendar.months):
        items = month_items(month, calendar, population, seed, cutoff, next_seq)
        periods.append(period_rows(items, population, cutoff))
        # Items still open at this export and closed later appear again, closed, in the file
        # of the month they closed: the later row supersedes this one.
        again = items.filter(pl.col("reexport"))
        for close_month, part in again.partition_by("close_month", as_dict=True, maintain_order=True).items():
            pending.setdefault(int(close_month[0]), []).append(part)
        current = items.with_columns(
            pl.when(pl.col("reexport")).then(None).otherwise(pl.col("closed_s")).alias("closed_s"),
            pl.when(pl.col("reexport")).then(pl.lit("superseded|")).otherwise(None).alias("__tag"),
        )
        carried = [part.with_columns(pl.lit("supersedes|").alias("__tag")) for part in pending.pop(month, [])]
        if carried:
            current = pl.concat([pl.concat(carried).sort("opened_s", "w", "seq"), current])
        current = current.with_columns((2 * pl.int_range(pl.len(), dtype=pl.Int64)).alias("__order"))
        text = format_items(current, catalogue, population)
        text = governance.exception_columns(
            text, current, catalogue, population, cutoff, seed, month, int(calendar.day_s[0])
        )
        text, bad_seq = add_bad_rows(text, plan[month], ITEM_FAULTS, rng, bad_seq)
        text = _finish(text)
        if text.height == 0:
            continue  # a header-only file would be rejected; a quiet month has no export
        name = f"work_items/items_{label}.csv"
        ledger.record("work_items", name, text, ("workflow_id", "item_id"))
        columns = [*ITEM_COLUMNS, *governance.ITEM_COLUMNS]
        if month < NO_ESCALATED_MONTHS:
            columns.remove("escalated")
        if month == EXTRA_COLUMN_MONTH:
            columns.append("queue")
        _write_csv(text.select(columns), out / name)
        written += text.height
    assert not pending, "every re-exported item has a later file"
    return pl.concat(periods), written


def _write_rejected_file(out: Path, catalogue: list[Workflow], calendar, seed: int, ledger: Ledger) -> None:
    """An old export whose opening column is called `created`: the pipeline rejects the file."""
    rng = np.random.default_rng([seed, 8])
    n = 25
    live = [wf for wf in catalogue if wf.rate > 0] or catalogue
    w = rng.integers(0, len(live), n)
    opened = calendar.day_s[0] - rng.integers(5, 60, n) * DAY_S + rng.integers(8 * 3600, 17 * 3600, n)
    closed = opened + rng.integers(3600, 5 * DAY_S, n)
    frame = pl.DataFrame(
        {
            "item_id": [f"LEG-{i:05d}" for i in range(1, n + 1)],
            "workflow_id": [live[i].workflow_id for i in w],
            "created": pl.from_epoch(pl.Series(opened), time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
            "closed_at": pl.from_epoch(pl.Series(closed), time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
            "rework_count": rng.integers(0, 2, n).astype(str),
            "touchpoints": rng.integers(1, 6, n).astype(str),
            "had_error": np.where(rng.random(n) < 0.1, "Y", "N"),
            "external_spend": np.where(rng.random(n) < 0.2, "35.00", "0.00"),
            "ai_assisted": ["false"] * n,
        }
    )
    _write_csv(frame, out / REJECTED_FILE)
    ledger.files.append(
        {
            "source": "work_items",
            "source_file": REJECTED_FILE,
            "status": "rejected",
            "rows": n,
            "staged": 0,
            "quarantined": 0,
            "deduplicated": 0,
            "superseded": 0,
            "reason": REJECTED_REASON,
        }
    )


def _write_usage(out, catalogue, eligible, activity, calendar, cutoff, seed, bad_rows, bad_row_rate, rng, ledger):
    """Every monthly usage file; returns realised adoption per workflow and rows written."""
    parts, adoption = [], []
    user_base = 1
    cutoff_day = int((cutoff - calendar.day_s[0]) // DAY_S)
    for index, wf in enumerate(catalogue):
        if not wf.deployed:
            continue
        frame, adopters = workflow_usage(
            index, wf, int(eligible[index]), float(activity[index]), user_base, calendar, cutoff, seed
        )
        first = int((np.datetime64(wf.deployed_on) - np.datetime64(calendar.start)).astype(int))
        post = frame.filter((pl.col("day") >= first) & (pl.col("day") <= cutoff_day) & (pl.col("actions") > 0))
        adoption.append({"w": index, "adopters": adopters, "active_users": post["user"].n_unique()})
        parts.append(frame)
        user_base += int(eligible[index])
    usage = (
        pl.concat(parts).sort("day", "w", "user")
        if parts
        else pl.DataFrame(schema={"day": pl.Int32, "user": pl.Int64, "w": pl.Int32, "actions": pl.Int64})
    )
    bounds = [(label, first, last) for label, first, last in calendar.months]
    month_of_day = np.zeros(calendar.day_s.size, dtype=np.int32)
    for month, (_, first, last) in enumerate(bounds):
        month_of_day[first:last] = month
    usage = usage.with_columns(pl.Series("month", month_of_day[usage["day"].to_numpy()]))
    sizes = np.bincount(usage["month"].to_numpy(), minlength=len(bounds)).astype(float)
    total_bad = round(bad_row_rate * usage.height)
    plan = (
        plan_faults(USAGE_FAULTS.recipes, total_bad, len(bounds), sizes, rng)
        if bad_rows and usage.height
        else [[] for _ in bounds]
    )
    written, bad_seq = 0, 1
    for month, (label, _, _) in enumerate(bounds):
        rows = usage.filter(pl.col("month") == month)
        if rows.height == 0:
            continue
        rows = rows.with_columns(
            (2 * pl.int_range(pl.len(), dtype=pl.Int64)).alias("__order"), pl.lit(None, dtype=pl.String).alias("__tag")
        )
        text = format_usage(rows, catalogue, calendar.day_s)
        text, bad_seq = add_bad_rows(text, plan[month], USAGE_FAULTS, rng, bad_seq)
        text = _finish(text)
        name = f"usage/usage_{label}.csv"
        ledger.record("usage", name, text, ("workflow_id", "user_id", "usage_date"))
        _write_csv(text.select(USAGE_COLUMNS), out / name)
        written += text.height
    return adoption, written


def _write_expected(
    out, catalogue, population, eligible, cutoff, calendar, periods, adoption, measured, effects, ledger
) -> None:
    expected = out / "expected"
    expected.mkdir(parents=True, exist_ok=True)
    _write_csv(effects, expected / "true_effects.csv")
    _write_csv(measured.with_columns(pl.col(pl.Float64).round(4)), expected / "realised_effects.csv")
    bad = pl.concat(ledger.bad_rows) if ledger.bad_rows else pl.DataFrame(schema=BAD_SCHEMA)
    _write_csv(bad.sort("source", "source_file", "row_number"), expected / "bad_rows.csv")
    outcomes = pl.concat(ledger.outcomes) if ledger.outcomes else pl.DataFrame(schema=OUTCOME_SCHEMA)
    _write_csv(outcomes.sort("source", "source_file", "row_number"), expected / "row_outcomes.csv")
    files = pl.DataFrame(ledger.files, schema=FILE_SCHEMA)
    _write_csv(
        files.filter(pl.col("status") == "rejected").select("source", "source_file", "reason", "rows"),
        expected / "rejected_files.csv",
    )
    _write_csv(files.drop("reason"), expected / "files.csv")

    by_w = {a["w"]: a for a in adoption}
    post = (
        periods.filter(pl.col("period") == 1)
        .group_by("w")
        .agg(pl.len().alias("n"), pl.col("ai_assisted").sum().alias("assisted"))
    )
    post_counts = {r["w"]: r for r in post.iter_rows(named=True)}
    quadrant = dict(effects.select("workflow_id", "expected_quadrant").unique().iter_rows())
    rows = []
    for index, wf in enumerate(catalogue):
        a, p = by_w.get(index), post_counts.get(index, {"n": 0, "assisted": 0})
        deployed = wf.deployed_on
        rows.append(
            {
                "workflow_id": wf.workflow_id,
                "name": wf.name,
                "story": wf.story,
                "expected_quadrant": quadrant[wf.workflow_id],
                "expected_decision": expected_decision(wf, effects),
                "primary_metric": wf.primary,
                "stage": wf.stage.lower(),
                "deployed_on": deployed.isoformat() if deployed else None,
                "baseline_from": (deployed - dt.timedelta(days=BASELINE_DAYS)).isoformat() if deployed else None,
                "cutoff": dt.datetime.fromtimestamp(cutoff, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eligible_users": int(eligible[index]) if deployed else None,
                "adopters": a["active_users"] if a else None,
                "adoption_rate": round(a["active_users"] / eligible[index], 4) if a and eligible[index] else None,
                "adoption_rate_target": wf.adoption if deployed else None,
                "post_items": p["n"] if deployed else None,
                "assisted_share": round(p["assisted"] / p["n"], 4) if deployed and p["n"] else None,
                "assisted_share_target": wf.assisted_share if deployed else None,
                "tool_retired_on": wf.tool_retired_on.isoformat() if wf.tool_retired_on else None,
                "narrative": wf.narrative,
            }
        )
    _write_csv(pl.DataFrame(rows), expected / "stories.csv")
    (expected / "README.md").write_text(EXPECTED_README)


def _summary(
    out: Path, ledger: Ledger, item_rows: int, usage_rows: int, seconds: float, off_story: pl.DataFrame
) -> dict:
    sizes = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            top = path.relative_to(out).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    files = pl.DataFrame(ledger.files)
    per_source = (
        files.group_by("source")
        .agg(
            pl.len().alias("files"),
            pl.col("rows").sum(),
            pl.col("quarantined").sum(),
            pl.col("deduplicated").sum(),
            pl.col("superseded").sum(),
        )
        .sort("source")
    )
    return {
        "out": str(out),
        "seconds": round(seconds, 2),
        "bytes": sizes,
        "total_bytes": sum(sizes.values()),
        "sources": per_source.to_dicts(),
        "item_rows": item_rows,
        "usage_rows": usage_rows,
        "off_story": off_story.height,
    }


def _summary_text(summary: dict, effects: pl.DataFrame, off_story: pl.DataFrame) -> str:
    lines = [f"wrote {summary['out']} in {summary['seconds']:.1f}s"]
    for s in summary["sources"]:
        lines.append(
            f"  {s['source']:<11} {s['files']:>3} files {s['rows']:>11,} rows  ({s['quarantined']:,} bad, "
            f"{s['deduplicated']:,} exact duplicates, {s['superseded']:,} superseded)"
        )
    for top, size in summary["bytes"].items():
        lines.append(f"  {top:<24} {size / 1e6:>8.2f} MB")
    lines.append(f"  {'total':<24} {summary['total_bytes'] / 1e6:>8.2f} MB")
    if off_story.height:
        nulls = effects.filter(pl.col("expected_verdict") == "no_clear_change").height
        injected = effects.filter(pl.col("expected_verdict").is_in(["improved", "worsened"])).height
        chance = off_story.filter(pl.col("expected_verdict") == "no_clear_change").height
        lines.append(
            f"  verdicts on this draw (approximate intervals): {chance} of {nulls} metrics without an effect show one by "
            f"chance (about 5% expected), {off_story.height - chance} of {injected} injected effects are not detected "
            "(see expected_z in expected/true_effects.csv)"
        )
        if off_story.height <= 10:
            lines.extend(
                f"    {r['workflow_id']} {r['metric']}: true {r['true_change_pct']:+.0f}%, sample {r['change_pct']:+.1f}% "
                f"[{r['ci_low_pct']:+.1f}, {r['ci_high_pct']:+.1f}] -> {r['approx_verdict']}"
                for r in off_story.iter_rows(named=True)
            )
    return "\n".join(lines)


EXPECTED_README = """\
# expected/: what the pipeline should find in this folder

The pipeline ignores this folder: it reads only `workflows.csv`, `work_items/` and `usage/`.
Everything here is written by `python -m pipelines.sample.generate` from the same draw as the
inputs, for tests and for anyone checking the numbers by hand. Row numbers are 1-based data
rows (the header is not counted), as in the pipeline's quarantine table.

| file | one row per | what it says |
| --- | --- | --- |
| `true_effects.csv` | workflow and metric | The design. `true_change_pct`: the true change of the metric's *population* value, defined as METHODS.md measures it (median cycle time, shares, means; blank for workflows never deployed). `expected_quadrant`, `adoption_rate_target`; `is_primary`; `expected_verdict` (the verdict the effect should earn, or `insufficient_data` / `not_deployed`); `expected_z` (true change over its standard error in this sample: how clearly the sample can show it); `effect_on` (`assisted`: only AI-assisted items changed; `all`: every post item changed). |
| `realised_effects.csv` | deployed workflow and metric | The metrics measured on the clean rows the pipeline should stage: item and closed counts per period, `events` for shares, both periods' values, `change_pct` with a normal-approximation 95% interval (`ci_low_pct`, `ci_high_pct`), and `approx_verdict`. Touchpoints and spend are capped at the pooled 99th percentile (spend: non-zero values), linear interpolation; `uncapped_change_pct` is beside them. Cycle time is the plain median when every item closed, else the Kaplan-Meier median (the first event time with survival at or below 0.5) with open items censored at the cutoff. The pipeline's own intervals (bootstrap, Welch) differ a little; its point estimates should match. |
| `stories.csv` | workflow | The story: intended quadrant, `expected_decision` (what METHODS.md v2 should decide on the story as designed), primary metric, baseline and post windows, cutoff (latest opened_at), eligible users, realised adopters and adoption_rate (users with actions > 0 on or after go-live), assisted share, and a sentence on what the workflow shows. |
| `bad_rows.csv` | quarantined row | `source`, `source_file`, `row_number`, `expected_reason_kind` (missing_value, unparseable, out_of_range, closed_before_opened, unknown_workflow, conflicting_duplicate), the broken `column` and the `value` written there (blank when missing). Each bad row is an extra row with a key of its own, so no real row is lost to it. |
| `row_outcomes.csv` | row that is read but not staged, and not bad | `deduplicated`: an exact copy of the row before it in the same file (kept once). `superseded`: an item exported while open, whose closed version is in a later file (`key` is workflow_id\\|item_id). |
| `rejected_files.csv` | rejected file | The file the pipeline must reject whole, the reason and its row count. |
| `files.csv` | input file | Per file: status, data rows, and how they split into staged, quarantined, deduplicated and superseded. For every loaded file, rows = staged + quarantined + deduplicated + superseded; rejected files' rows are not read. |

Weeks are not independent: every workflow's week multiplies all five metrics' population values
by a persistent shock (its own AR(1) series plus one common to all workflows; see
pipelines/sample/README.md), so a few metrics without an effect may show one on any draw.

Other things in the inputs worth knowing: the first two monthly item files have no `escalated`
column (it is optional), one monthly item file has an extra `queue` column, usage holds
zero-action rows and pilot rows from before go-live (neither counts towards adoption), and the
registry writes `Production` and `High` in mixed case.
"""


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.sample.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write (its generated files are replaced)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED}, the bundled sample's)"
    )
    parser.add_argument(
        "--items",
        type=_positive,
        default=None,
        help="expected number of work items (default: the bundled sample's volume, about 20,000)",
    )
    parser.add_argument(
        "--workflows",
        type=_positive,
        default=DEFAULT_WORKFLOWS,
        help=f"number of workflows (default {DEFAULT_WORKFLOWS}: the written stories; more are generated)",
    )
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=DEFAULT_START,
        help=f"first day of data (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--months", type=_positive, default=DEFAULT_MONTHS, help=f"months of data (default {DEFAULT_MONTHS})"
    )
    parser.add_argument(
        "--bad-row-rate",
        type=float,
        default=DEFAULT_BAD_ROW_RATE,
        help="bad rows per clean row (default 0.001); every kind appears at least once",
    )
    parser.add_argument(
        "--no-bad-rows", action="store_true", help="write clean inputs: no bad rows, duplicates or rejected file"
    )
    parser.add_argument(
        "--no-week-shocks", action="store_true", help="draw every item independently (no persistent week shocks)"
    )
    args = parser.parse_args(argv)
    try:
        generate(
            args.out,
            seed=args.seed,
            items=args.items,
            workflows=args.workflows,
            start=args.start,
            months=args.months,
            bad_row_rate=args.bad_row_rate,
            bad_rows=not args.no_bad_rows,
            week_shocks=not args.no_week_shocks,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
