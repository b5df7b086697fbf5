"""Governance inputs of the synthetic sample (issue 13): stage histories, feedback, the
registry's governance columns and the items' `overridden` / `corrected` flags.

The generator calls `registry_columns` and `exception_columns` while it writes the registry
and the items, and `write_sources` for the two new sources. On its own,

    python -m pipelines.sample.governance --out data/sample

writes only `workflow_stages/` and `feedback/` (the rest needs the full generator).

The stories: every workflow entered investigation; the deployed ones became pilots; fewer
reached production; `meeting_minutes` was retired; `marketing_copy` is the stalled pilot
(no decision since it started); `purchase_orders`' pilot was extended after a review, which
is a decision. `customer_replies`' override rate climbs a few months after go-live (its
errors rise too: staff stop trusting the drafts). `marketing_copy` records no override or correction flags
and its feedback stopped months ago; `contract_redline` is too new to have feedback.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.sample.catalogue import Workflow, build_catalogue
from pipelines.sample.population import (
    DAY_S,
    Population,
    build_population,
    make_calendar,
)

REGISTRY_COLUMNS = ("exception_path", "target_set_on", "baseline_frozen_on", "last_reviewed_on", "review_every_days")
ITEM_COLUMNS = ("overridden", "corrected")
STAGES_FILE = "workflow_stages/workflow_stages.csv"
FEEDBACK_FILE = "feedback/feedback.csv"
STREAM = 13
"""Random stream of this module, apart from the generator's own."""

CLIMBING = "customer_replies"
"""The workflow whose override rate climbs after go-live."""
CLIMB_FROM, CLIMB_TO = 0.4, 0.35
"""The climb starts after 40% of the time from go-live to the cutoff and reaches 35% at the
cutoff: the first 90 days after go-live stay near 5%, the last 90 average about 24%, a rise
the week-robust guardrail finds on every seed (marts.exception_guardrails)."""
NO_FLAGS = ("marketing_copy",)
"""Workflows whose item exports carry no override / correction flags."""
NO_FEEDBACK = ("contract_redline",)
STALE_FEEDBACK = ("marketing_copy",)
EXTENDED_PILOT = {
    "purchase_orders": ("2026-09-15", "pilot extended after review: touchpoints up, redesign the hand-off")
}
DEFAULT_EXCEPTION_PATH = "Escalate to the team lead; the decision is logged on the case"

# Named stories' registry values; anything not listed follows the defaults in registry_columns.
STORY_REGISTRY: dict[str, dict[str, str | None]] = {
    "claims_triage": {
        "exception_path": "Escalate to a senior handler; decision logged on the claim",
        "target_set_on": "2026-01-12",
        "baseline_frozen_on": "2026-02-02",
        "last_reviewed_on": "2026-10-15",
        "review_every_days": "90",
    },
    "invoice_match": {"target_set_on": "2026-02-02", "last_reviewed_on": "2026-09-01", "review_every_days": "90"},
    # Target agreed after the results came in: flagged "set after the results".
    "kyc_review": {
        "exception_path": "Compliance officer decides; logged in the KYC file",
        "target_set_on": "2026-06-15",
        "last_reviewed_on": "2026-10-01",
        "review_every_days": "60",
    },
    # No exception path and a review long overdue.
    "marketing_copy": {
        "exception_path": None,
        "target_set_on": "2026-03-01",
        "last_reviewed_on": "2026-05-01",
        "review_every_days": "90",
    },
    "it_tickets": {
        "target_set_on": "2026-04-06",
        "baseline_frozen_on": "2026-05-04",
        "last_reviewed_on": "2026-10-20",
        "review_every_days": "90",
    },
    "purchase_orders": {"target_set_on": "2026-05-18", "last_reviewed_on": "2026-09-15", "review_every_days": "120"},
}


def _date(seconds: int) -> dt.date:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).date()


def registry_columns(frame: pl.DataFrame, catalogue: list[Workflow], cutoff: int) -> pl.DataFrame:
    """`frame` (registry rows as text, with `workflow_id`) with the governance columns added.

    Rows of workflows outside the catalogue (the sample's bad registry rows) get blanks.
    """
    cutoff_on = _date(cutoff)
    values: dict[str, dict[str, str | None]] = {}
    for wf in catalogue:
        row: dict[str, str | None] = dict.fromkeys(REGISTRY_COLUMNS)
        if wf.deployed_on is not None:
            row["exception_path"] = DEFAULT_EXCEPTION_PATH
            if wf.target_change_pct is not None:
                row["target_set_on"] = (wf.deployed_on - dt.timedelta(days=21)).isoformat()
            row["last_reviewed_on"] = (cutoff_on - dt.timedelta(days=20)).isoformat()
            row["review_every_days"] = "90"
        row.update(STORY_REGISTRY.get(wf.workflow_id, {}))
        values[wf.workflow_id] = row
    return frame.with_columns(
        pl.col("workflow_id")
        .replace_strict({k: v[name] for k, v in values.items()}, default=None, return_dtype=pl.String)
        .alias(name)
        for name in REGISTRY_COLUMNS
    )


def exception_columns(
    text: pl.DataFrame,
    rows: pl.DataFrame,
    catalogue: list[Workflow],
    population: Population,
    cutoff: int,
    seed: int,
    month: int,
    start_s: int,
) -> pl.DataFrame:
    """`text` (formatted item rows) with `overridden` and `corrected`, drawn for the numeric
    `rows` it was formatted from (same order). Only assisted items after go-live carry flags;
    the rest, and workflows in NO_FLAGS, are blank (unknown). Like every metric, both rates
    carry the item's week shock (`population.week_shock`, weeks counted from `start_s`, the
    calendar's first day): a busy week is overridden more often too."""
    rng = np.random.default_rng([seed, STREAM, month])
    w = rows["w"].to_numpy()
    opened = rows["opened_s"].to_numpy()
    deploy = population.deploy_s[w]
    ids = np.array([wf.workflow_id for wf in catalogue])[w]
    flagged = rows["ai_assisted"].to_numpy().astype(bool) & (opened >= deploy) & ~np.isin(ids, NO_FLAGS)
    shock = np.exp(population.week_shock[w, (opened - start_s) // (7 * DAY_S)])
    # Override share: 6% flat; the climbing workflow stays at 5% for the first CLIMB_FROM of
    # its time since go-live, then climbs steadily to CLIMB_TO at the cutoff.
    span = np.maximum(cutoff - deploy, DAY_S)
    progress = np.clip((opened - deploy) / span, 0, 1)
    climb = 0.05 + (CLIMB_TO - 0.05) * np.clip((progress - CLIMB_FROM) / (1 - CLIMB_FROM), 0, 1)
    p_override = np.where(ids == CLIMBING, climb, 0.06) * shock
    overridden = rng.random(w.size) < np.minimum(p_override, 1.0)
    corrected = rng.random(w.size) < np.minimum(0.10 * shock, 1.0)
    return text.with_columns(
        pl.Series("overridden", np.where(overridden, "true", "false"), dtype=pl.String).zip_with(
            pl.Series(flagged), pl.Series([None] * w.size, dtype=pl.String)
        ),
        pl.Series("corrected", np.where(corrected, "true", "false"), dtype=pl.String).zip_with(
            pl.Series(flagged), pl.Series([None] * w.size, dtype=pl.String)
        ),
    )


def stage_history(catalogue: list[Workflow], cutoff: int, seed: int) -> pl.DataFrame:
    """One row per stage entry, consistent with each workflow's registry stage."""
    rng = np.random.default_rng([seed, STREAM, 0])
    cutoff_on = _date(cutoff)
    rows = []
    for wf in catalogue:
        stage = wf.stage.lower()
        lead = int(rng.integers(45, 150))
        pilot_on = wf.deployed_on
        start_on = (pilot_on or cutoff_on - dt.timedelta(days=int(rng.integers(40, 300)))) - dt.timedelta(days=lead)
        rows.append((wf.workflow_id, "investigation", start_on, "AI steering group", "use case proposed"))
        if pilot_on is not None:
            rows.append((wf.workflow_id, "pilot", pilot_on, wf.business_owner or "AI steering group", "pilot approved"))
        if stage == "production" and pilot_on is not None:
            scaled = min(pilot_on + dt.timedelta(days=int(rng.integers(45, 110))), cutoff_on)
            rows.append((wf.workflow_id, "production", scaled, "AI steering group", "scaled after pilot review"))
        if stage == "retired":
            retired = wf.tool_retired_on or cutoff_on
            rows.append(
                (
                    wf.workflow_id,
                    "retired",
                    retired + dt.timedelta(days=1),
                    "AI steering group",
                    "no value shown; tool switched off",
                )
            )
        if wf.workflow_id in EXTENDED_PILOT:
            on, note = EXTENDED_PILOT[wf.workflow_id]
            rows.append((wf.workflow_id, "pilot", dt.date.fromisoformat(on), "AI steering group", note))
    frame = pl.DataFrame(rows, schema=["workflow_id", "stage", "entered_on", "decided_by", "note"], orient="row")
    return frame.sort("entered_on", "workflow_id", maintain_order=True).with_columns(
        pl.col("entered_on").cast(pl.String)
    )


def feedback(catalogue: list[Workflow], cutoff: int, seed: int) -> pl.DataFrame:
    """Feedback since go-live for most deployed workflows: about three items a month, most
    incorporated within weeks, some declined, the recent ones often still open."""
    cutoff_on = _date(cutoff)
    columns = ["feedback_id", "workflow_id", "raised_on", "kind", "status", "resolved_on"]
    rows = []
    for index, wf in enumerate(catalogue):
        if wf.deployed_on is None or wf.workflow_id in NO_FEEDBACK:
            continue
        rng = np.random.default_rng([seed, STREAM, 1, index])
        last_on = wf.tool_retired_on or cutoff_on
        if wf.workflow_id in STALE_FEEDBACK:
            last_on = cutoff_on - dt.timedelta(days=110)
        days = (last_on - wf.deployed_on).days
        if days <= 0:
            continue
        count = max(1, rng.poisson(days / 10))
        raised = np.sort(rng.integers(0, days + 1, size=count))
        kinds = rng.choice(["correction", "exception", "suggestion", "incident"], size=count, p=[0.45, 0.2, 0.3, 0.05])
        delay = rng.integers(3, 45, size=count)
        incorporated = rng.random(count) < 0.8
        for n in range(count):
            raised_on = wf.deployed_on + dt.timedelta(days=int(raised[n]))
            resolved_on = raised_on + dt.timedelta(days=int(delay[n]))
            if resolved_on > last_on and wf.tool_retired_on is not None:
                status, resolved = "declined", last_on.isoformat()  # closed with the tool
            elif resolved_on > last_on:
                status, resolved = "open", None
            else:
                status, resolved = ("incorporated" if incorporated[n] else "declined"), resolved_on.isoformat()
            rows.append(
                (f"{wf.prefix}-FB-{n + 1:04d}", wf.workflow_id, raised_on.isoformat(), str(kinds[n]), status, resolved)
            )
    return pl.DataFrame(rows, schema=columns, orient="row")


def write_sources(out: Path, catalogue: list[Workflow], cutoff: int, seed: int, ledger=None) -> dict[str, int]:
    """Write `workflow_stages/` and `feedback/` under `out`, replacing earlier files; row counts back.

    With the generator's `ledger`, each file is noted in `expected/files.csv` (every row staged:
    these files carry no bad rows).
    """
    written = {}
    for name, frame in (
        (STAGES_FILE, stage_history(catalogue, cutoff, seed)),
        (FEEDBACK_FILE, feedback(catalogue, cutoff, seed)),
    ):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("*.csv"):
            old.unlink()
        frame.write_csv(path, line_terminator="\n")
        written[name] = frame.height
        if ledger is not None:
            ledger.files.append(
                {
                    "source": name.split("/")[0],
                    "source_file": name,
                    "status": "loaded",
                    "rows": frame.height,
                    "staged": frame.height,
                    "quarantined": 0,
                    "deduplicated": 0,
                    "superseded": 0,
                    "reason": None,
                }
            )
    return written


def main(argv: list[str] | None = None) -> int:
    """Write only the two governance sources for the default sample (same seed and calendar)."""
    from pipelines.sample import generate
    from pipelines.sample.items import find_cutoff

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    args = parser.parse_args(argv)
    calendar = make_calendar(generate.DEFAULT_START, generate.DEFAULT_MONTHS)
    catalogue = build_catalogue(generate.DEFAULT_WORKFLOWS, args.seed, calendar.start, calendar.end)
    population = build_population(catalogue, calendar, None, args.seed)
    cutoff = find_cutoff(calendar, population, args.seed)
    for name, rows in write_sources(args.out, catalogue, cutoff, args.seed).items():
        print(f"{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
