"""The synthetic data generator: reproducible, in step with the bundled sample, and honest truth files.

Every check reads the generated files themselves, so a test fails when the inputs and the
truth in `expected/` drift apart, not only when the generator's own bookkeeping does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.sample.catalogue import build_catalogue
from pipelines.sample.generate import DEFAULT_START, generate
from pipelines.sample.governance import exception_columns
from pipelines.sample.population import DAY_S, build_population, make_calendar

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
KINDS = {
    "missing_value",
    "unparseable",
    "out_of_range",
    "closed_before_opened",
    "unknown_workflow",
    "conflicting_duplicate",
}
QUADRANTS = {
    "value_with_adoption",
    "adoption_without_value",
    "value_without_adoption",
    "no_value_no_adoption",
    "not_deployed",
    "insufficient_data",
}
KEYS = {
    "work_items": ("workflow_id", "item_id"),
    "usage": ("workflow_id", "user_id", "usage_date"),
    "workflows": ("workflow_id",),
}
FAMILY = {
    "opened_at": "timestamp",
    "closed_at": "timestamp",
    "rework_count": "int",
    "touchpoints": "int",
    "actions": "int",
    "eligible_users": "int",
    "had_error": "bool",
    "ai_assisted": "bool",
    "escalated": "bool",
    "external_spend": "number",
    "target_change_pct": "number",
    "usage_date": "date",
    "deployed_on": "date",
}
LOWER_BOUND = {"touchpoints": 1}
STAGES = {"investigation", "pilot", "production", "retired"}


def _quiet(*_args) -> None:
    pass


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _expected(root: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(root / "expected" / name, infer_schema_length=None)


def _read(root: Path, source_file: str) -> pl.DataFrame:
    """A data file as strings, with its 1-based data row number."""
    frame = pl.read_csv(root / source_file, infer_schema=False)
    return frame.with_row_index("row_number", offset=1).with_columns(
        pl.col("row_number").cast(pl.Int64), pl.lit(source_file).alias("source_file")
    )


def _parses(family: str, value: str) -> bool:
    try:
        if family == "timestamp":
            dt.datetime.fromisoformat(value)
        elif family == "date":
            dt.date.fromisoformat(value)
        elif family == "int":
            int(value)
        elif family == "number":
            return math.isfinite(float(value))
        elif family == "bool":
            return value.lower() in {"true", "false", "1", "0", "yes", "no"}
        return True
    except ValueError:
        return False


def _utc(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


@pytest.fixture(scope="module")
def fresh_sample(tmp_path_factory) -> Path:
    """The bundled sample generated now, from the code as it stands."""
    out = tmp_path_factory.mktemp("fresh") / "sample"
    generate(out, log=_quiet)
    return out


def test_the_same_seed_writes_byte_identical_files_and_another_seed_does_not(tmp_path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, items=2500, workflows=14, log=_quiet)
    generate(second, items=2500, workflows=14, log=_quiet)
    generate(other, seed=99, items=2500, workflows=14, log=_quiet)
    tree = _tree(first)
    assert len(tree) > 20
    assert tree == _tree(second)
    changed = [
        name for name, data in _tree(other).items() if name.startswith("work_items/items_2") and tree.get(name) != data
    ]
    assert changed, "the seed does not reach the item draws"


def test_the_bundled_sample_is_exactly_what_the_generator_writes(fresh_sample):
    committed, fresh = _tree(SAMPLE), _tree(fresh_sample)
    assert sorted(committed) == sorted(fresh), "files differ: run `make sample` and commit data/sample"
    drifted = [name for name in fresh if committed[name] != fresh[name]]
    assert not drifted, f"data/sample is stale, run `make sample`: {drifted[:5]}"


def test_the_bundled_sample_is_under_5_mb():
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert 1_000_000 < total < 5_000_000


def test_every_kind_of_bad_row_and_file_is_in_the_sample():
    bad = _expected(SAMPLE, "bad_rows.csv")
    assert set(bad["expected_reason_kind"]) == KINDS
    items = bad.filter(pl.col("source") == "work_items")
    assert set(items["expected_reason_kind"]) == KINDS
    unparseable = set(items.filter(pl.col("expected_reason_kind") == "unparseable")["column"])
    assert {FAMILY[c] for c in unparseable} >= {"timestamp", "int", "bool", "number"}
    assert {"usage", "workflows"} <= set(bad["source"])
    assert bad.filter(pl.col("expected_reason_kind") == "conflicting_duplicate").height % 2 == 0

    outcomes = _expected(SAMPLE, "row_outcomes.csv")
    assert {"deduplicated", "superseded"} <= set(outcomes["outcome"])
    rejected = _expected(SAMPLE, "rejected_files.csv")
    assert rejected.height == 1
    header = (SAMPLE / rejected["source_file"][0]).read_text().splitlines()[0].split(",")
    assert "opened_at" not in header and "item_id" in header
    files = _expected(SAMPLE, "files.csv")
    item_files = files.filter(pl.col("source") == "work_items", pl.col("status") == "loaded")["source_file"]
    headers = [set((SAMPLE / f).read_text().splitlines()[0].split(",")) for f in item_files]
    assert any("escalated" not in h for h in headers), "no file leaves out the optional escalated column"
    assert any(
        h
        - {
            "item_id",
            "workflow_id",
            "opened_at",
            "closed_at",
            "rework_count",
            "touchpoints",
            "had_error",
            "external_spend",
            "ai_assisted",
            "escalated",
        }
        for h in headers
    ), "no file has an unknown column"


def test_each_listed_bad_row_is_broken_the_way_it_says():
    bad = _expected(SAMPLE, "bad_rows.csv")
    registry = _read(SAMPLE, "workflows.csv")
    bad_registry_rows = bad.filter(pl.col("source") == "workflows")["row_number"]
    known = set(registry.filter(~pl.col("row_number").is_in(bad_registry_rows.implode()))["workflow_id"])
    for (source, source_file), rows in bad.group_by("source", "source_file", maintain_order=True):
        data = _read(SAMPLE, source_file)
        for entry in rows.iter_rows(named=True):
            kind, column = entry["expected_reason_kind"], entry["column"]
            row = data.row(entry["row_number"] - 1, named=True)
            value = row[column]
            where = f"{source_file} row {entry['row_number']} ({kind} {column})"
            assert value == entry["value"], where
            if kind == "missing_value":
                assert value is None, where
            elif kind == "unparseable":
                assert value is not None and not _parses(FAMILY[column], value), where
            elif kind == "out_of_range":
                if column == "stage":
                    assert value.lower() not in STAGES, where
                else:
                    assert float(value) < LOWER_BOUND.get(column, 0), where
            elif kind == "closed_before_opened":
                assert _utc(row["closed_at"]) < _utc(row["opened_at"]), where
            elif kind == "unknown_workflow":
                assert value not in known, where
            elif kind == "conflicting_duplicate":
                key = KEYS[source]
                twins = data.filter(*[pl.col(k) == row[k] for k in key])
                assert twins.height == 2 and twins.drop("row_number").unique().height == 2, where
            # Apart from the broken value, the row is well formed.
            for other, family in FAMILY.items():
                if other in row and other != column and row[other] is not None:
                    assert _parses(family, row[other]), f"{where}: {other}={row[other]!r} is broken too"


@pytest.mark.parametrize("source", ["work_items", "usage"])
def test_row_outcomes_and_file_counts_reconcile_with_the_rows_in_the_files(source):
    """Recompute de-duplication and supersession from the files, independently of the generator."""
    files = _expected(SAMPLE, "files.csv").filter(pl.col("source") == source)
    loaded = files.filter(pl.col("status") == "loaded")
    rows = pl.concat([_read(SAMPLE, f) for f in loaded["source_file"]], how="diagonal")
    assert rows.height == loaded["rows"].sum()
    key = list(KEYS[source])
    contract = [c for c in rows.columns if c not in ("row_number", "source_file", "queue")]

    bad = _expected(SAMPLE, "bad_rows.csv").filter(pl.col("source") == source).select("source_file", "row_number")
    good = rows.join(bad, on=["source_file", "row_number"], how="anti")
    copies = good.with_columns(
        pl.int_range(pl.len()).over("source_file", *contract, order_by="row_number").alias("copy")
    )
    deduplicated = copies.filter(pl.col("copy") > 0)
    unique = copies.filter(pl.col("copy") == 0)
    assert unique.group_by("source_file", *key).len()["len"].max() == 1, "a key repeats within a file"
    ranked = unique.with_columns(pl.col("source_file").rank("dense", descending=True).over(key).alias("newest"))
    superseded = ranked.filter(pl.col("newest") > 1)
    staged = ranked.filter(pl.col("newest") == 1)

    outcomes = _expected(SAMPLE, "row_outcomes.csv").filter(pl.col("source") == source)

    def positions(frame: pl.DataFrame) -> set[tuple[str, int]]:
        return set(frame.select("source_file", "row_number").iter_rows())

    assert positions(deduplicated) == positions(outcomes.filter(pl.col("outcome") == "deduplicated"))
    assert positions(superseded) == positions(outcomes.filter(pl.col("outcome") == "superseded"))
    assert staged.height == loaded["staged"].sum()
    assert (
        loaded["rows"] == loaded["staged"] + loaded["quarantined"] + loaded["deduplicated"] + loaded["superseded"]
    ).all()
    if source == "work_items":
        assert superseded["closed_at"].null_count() == superseded.height, "a superseded export should be the open one"


def test_the_sample_covers_every_quadrant_stage_and_readiness_gap():
    effects = _expected(SAMPLE, "true_effects.csv")
    assert set(effects["expected_quadrant"]) == QUADRANTS
    registry = _read(SAMPLE, "workflows.csv")
    bad = _expected(SAMPLE, "bad_rows.csv").filter(pl.col("source") == "workflows")["row_number"]
    registry = registry.filter(~pl.col("row_number").is_in(bad.implode()))
    assert registry.height >= 8
    assert set(registry["stage"].str.to_lowercase()) == STAGES
    assert registry["primary_metric"].null_count() >= 1
    assert registry["primary_metric"].drop_nulls().n_unique() >= 4
    for gap in ("business_owner", "review_point", "support_path", "data_scope"):
        assert registry[gap].null_count() >= 1, f"no workflow lacks {gap}"
    deployed = registry["deployed_on"].drop_nulls().str.to_date()
    assert deployed.n_unique() >= 5, "deployment dates are not staggered"
    first_item = min(
        _utc(v)
        for f in sorted((SAMPLE / "work_items").glob("items_2*.csv"))[:1]
        for v in pl.read_csv(f, infer_schema=False)["opened_at"].drop_nulls()
        if _parses("timestamp", v)
    )
    assert (deployed.min() - first_item.date()).days >= 90


def test_the_sample_tells_its_stories():
    """On the committed draw, every primary metric's verdict and every adoption rate is the designed one.

    Secondary metrics without an effect may show one by chance on any draw (about 5% each,
    more where week shocks persist); how often each story comes out right over many seeds is
    measured by `make calibrate` (pipelines/calibration/sample_seeds.py), not here.
    """
    effects = _expected(SAMPLE, "true_effects.csv")
    measured = _expected(SAMPLE, "realised_effects.csv")
    joined = effects.join(measured, on=["workflow_id", "metric"], how="inner")
    assert joined.height == effects.filter(pl.col("expected_verdict") != "not_deployed").height
    off = joined.filter(pl.col("is_primary") & (pl.col("expected_verdict") != pl.col("approx_verdict")))
    assert off.is_empty(), off.select("workflow_id", "metric", "change_pct", "expected_verdict", "approx_verdict")
    stories = _expected(SAMPLE, "stories.csv").filter(pl.col("deployed_on").is_not_null())
    gap = (stories["adopters"] - stories["adoption_rate_target"] * stories["eligible_users"]).abs()
    assert (gap <= 0.5 + 1e-9).all(), "adoption is the target up to rounding to whole users"
    assert (stories["adoption_rate"] - stories["adopters"] / stories["eligible_users"]).abs().max() < 1e-4


def test_every_decision_of_the_method_is_a_story():
    stories = _expected(SAMPLE, "stories.csv")
    decisions = dict(stories.select("workflow_id", "expected_decision").iter_rows())
    assert set(decisions.values()) == {
        "scale", "redesign", "drive_adoption", "reconsider", "not_deployed", "wait_for_data", "fix_guardrail",
    }  # fmt: skip
    assert decisions["customer_replies"] == "fix_guardrail", "a win with more errors is a guardrail case"
    assert decisions["meeting_minutes"] == "reconsider", "a retired tool has no current adoption"


def _durations(root: Path) -> pl.DataFrame:
    """Closed items' workflow, opening week and log cycle time (each item's latest export)."""
    frames = [pl.read_csv(f, infer_schema=False) for f in sorted((root / "work_items").glob("items_2*.csv"))]
    items = pl.concat(frames, how="diagonal").unique(["workflow_id", "item_id"], keep="last", maintain_order=True)
    items = items.filter(pl.col("closed_at").is_not_null())
    opened = [_utc(v) for v in items["opened_at"]]
    closed = [_utc(v) for v in items["closed_at"]]
    return items.select("workflow_id", "item_id").with_columns(
        pl.Series("week", [o.date() - dt.timedelta(days=o.weekday()) for o in opened]),
        pl.Series("log_hours", [math.log(max((c - o).total_seconds(), 1.0)) for o, c in zip(opened, closed)]),
    )


TRUE = ("true", "1", "yes")


def _flags(root: Path) -> pl.DataFrame:
    """Assisted items' override and correction flags (each item's latest export), with the
    Monday of the week they were opened; `flags` counts both."""
    frames = [pl.read_csv(f, infer_schema=False) for f in sorted((root / "work_items").glob("items_2*.csv"))]
    items = pl.concat(frames, how="diagonal").unique(["workflow_id", "item_id"], keep="last", maintain_order=True)
    items = items.filter(pl.col("overridden").is_not_null() & pl.col("corrected").is_not_null())
    opened = [_utc(v) for v in items["opened_at"]]
    return items.select(
        "workflow_id",
        "item_id",
        pl.Series("opened_on", [o.date() for o in opened]),
        pl.Series("week", [o.date() - dt.timedelta(days=o.weekday()) for o in opened]),
        pl.col("overridden").str.to_lowercase().is_in(TRUE).alias("overridden"),
        (
            pl.col("overridden").str.to_lowercase().is_in(TRUE).cast(pl.Int64)
            + pl.col("corrected").str.to_lowercase().is_in(TRUE).cast(pl.Int64)
        ).alias("flags"),
    )


def test_only_the_guardrail_story_has_a_climbing_override_rate():
    """customer_replies' override rate stays near 5% for its first 90 days after go-live and is
    several times that in the last 90 days: a rise the exception guardrail finds on any seed.
    Every other workflow's rate is flat (6%)."""
    flags = _flags(SAMPLE)
    stories = _expected(SAMPLE, "stories.csv").filter(pl.col("deployed_on").is_not_null())
    cutoff = max(flags["opened_on"])
    rates = {}
    for row in stories.iter_rows(named=True):
        mine = flags.filter(pl.col("workflow_id") == row["workflow_id"])
        if mine.height == 0:
            continue
        go_live = dt.date.fromisoformat(str(row["deployed_on"]))
        early = mine.filter(pl.col("opened_on") < go_live + dt.timedelta(days=90))["overridden"].mean()
        recent = mine.filter(pl.col("opened_on") > cutoff - dt.timedelta(days=90))["overridden"].mean()
        rates[row["workflow_id"]] = (early, recent)
    early, recent = rates.pop("customer_replies")
    assert early < 0.08 and recent > 3 * early, (early, recent)
    assert len(rates) >= 5
    for workflow_id, (early, recent) in rates.items():
        if early is not None and recent is not None:
            assert 0.02 < early < 0.11 and 0.02 < recent < 0.11, (workflow_id, early, recent)


def test_override_and_correction_flags_carry_the_week_shock():
    """A week whose shock is +0.5 on the log scale is overridden and corrected e^0.5 times as
    often as the flat rate, a week at -0.5 e^-0.5 times: the flags share the week's shock."""
    start = DEFAULT_START
    calendar = make_calendar(start, 12)
    catalogue = build_catalogue(13, 5, calendar.start, calendar.end)
    population = build_population(catalogue, calendar, None, seed=5)
    w = next(i for i, wf in enumerate(catalogue) if wf.workflow_id == "it_tickets")
    shocks = np.zeros_like(population.week_shock)
    busy, quiet = 40, 42
    shocks[w, busy], shocks[w, quiet] = 0.5, -0.5
    population = dataclasses.replace(population, week_shock=shocks)
    n = 40_000
    first = int(calendar.day_s[0])
    opened = first + np.repeat([busy, quiet], n // 2) * 7 * DAY_S + 3_600
    rows = pl.DataFrame({"w": np.full(n, w), "opened_s": opened, "ai_assisted": np.ones(n, dtype=bool)})
    cutoff = int(calendar.day_s[-1])
    out = exception_columns(pl.DataFrame({"i": range(n)}), rows, catalogue, population, cutoff, 5, 0, first)
    week = np.repeat(["busy", "quiet"], n // 2)
    for column, rate in (("overridden", 0.06), ("corrected", 0.10)):
        flagged = (out[column] == "true").to_numpy()
        for name, factor in (("busy", math.exp(0.5)), ("quiet", math.exp(-0.5))):
            share = flagged[week == name].mean()
            se = math.sqrt(rate * factor * (1 - rate * factor) / (n // 2))
            assert abs(share - rate * factor) < 4 * se, (column, name, share, rate * factor)


def test_week_shocks_move_whole_weeks_persist_are_shared_and_can_be_turned_off(tmp_path):
    calm, shocked = tmp_path / "calm", tmp_path / "shocked"
    generate(calm, bad_rows=False, week_shocks=False, log=_quiet)
    generate(shocked, bad_rows=False, log=_quiet)
    # The same seed draws the same items; only the shock multiplies each item's cycle time.
    both = _durations(calm).join(_durations(shocked), on=["workflow_id", "item_id", "week"], suffix="_shocked")
    both = both.with_columns((pl.col("log_hours_shocked") - pl.col("log_hours")).alias("shock"))
    both = both.filter(pl.col("log_hours") > math.log(3600))  # minute rounding blurs the shortest items
    weekly = both.group_by("workflow_id", "week").agg(
        pl.col("shock").mean(), pl.col("shock").std().alias("within"), pl.len()
    )
    assert weekly.filter(pl.col("len") > 1)["within"].max() < 0.01, "one multiplier per workflow and week"
    sd = weekly["shock"].std()
    assert 0.05 < sd < 0.1, f"own sd 0.06 and common sd 0.04 give about 0.072, got {sd:.3f}"
    busy = weekly.filter(pl.col("workflow_id").is_in(["claims_triage", "invoice_match"])).pivot(
        on="workflow_id", index="week", values="shock").drop_nulls().sort("week")  # fmt: skip
    a = busy["claims_triage"].to_numpy()
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.2, "shocks persist from week to week"
    # The common part (sd 0.04 beside own 0.06) correlates two workflows' weeks by about 0.3; one
    # pair over a year of persistent shocks is too noisy to show it, the mean over every pair is not.
    every = weekly.pivot(on="workflow_id", index="week", values="shock").drop_nulls().drop("week").to_numpy()
    pairs = np.corrcoef(every.T)[np.triu_indices(every.shape[1], 1)]
    assert every.shape[1] >= 10 and pairs.mean() > 0.1, "part of every week's shock is common to all workflows"


def test_injected_effects_match_the_truth_on_a_large_draw(tmp_path):
    """On 400,000 items the measured changes sit within 4 standard errors of the truth.

    Week shocks are off: they add noise that more items cannot average away, and this test is
    about the exactness of the injection.

    The first three stories cover effects on AI-assisted items only (scaled to move the
    population by the stated percent), effects on every item, and no effect at all.
    """
    out = tmp_path / "big"
    generate(out, items=400_000, workflows=3, bad_rows=False, week_shocks=False, log=_quiet)
    joined = _expected(out, "true_effects.csv").join(
        _expected(out, "realised_effects.csv"), on=["workflow_id", "metric"]
    )
    joined = joined.filter(
        pl.col("expected_verdict").is_in(["improved", "worsened", "no_clear_change"]), pl.col("se").is_not_null()
    )
    assert joined.height == 15 and (joined["true_change_pct"] != 0).sum() >= 5
    for row in joined.iter_rows(named=True):
        truth, measured = row["true_change_pct"] / 100, row["change_pct"] / 100
        if row["metric"] == "cycle_time_hours":
            truth, measured = math.log1p(truth), math.log1p(measured)
        if row["metric"] in ("touchpoints_per_item", "external_spend_per_item"):
            measured = row["uncapped_change_pct"] / 100  # the truth is defined before capping
        assert abs(measured - truth) < 4 * row["se"], (
            row["workflow_id"],
            row["metric"],
            row["true_change_pct"],
            row["change_pct"],
        )
