"""Bad rows, added on top of the clean rows so the clean population stays exactly as drawn.

Every bad row is a copy of a real row of the same file with one thing broken, and gets a key
of its own (a new item or user id) so it cannot collide with a real row: the pipeline must
quarantine it and nothing else. Rows are tagged in the hidden `__tag` column as
`kind|column`; `generate.py` turns tags into `expected/bad_rows.csv` and `row_outcomes.csv`
once the file's row numbers are known.

Recipes are applied one recipe at a time over all its rows (vectorised), never row by row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

TS_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Recipe:
    """One way to break a row: the expected quarantine kind, the column, replacement values."""

    kind: str
    """missing_value, unparseable, out_of_range, closed_before_opened, unknown_workflow,
    conflicting_duplicate, or `deduplicated` (an exact copy, kept once: not a bad row)."""
    column: str | None
    values: tuple[str | None, ...] = ()


ITEM_RECIPES = (
    Recipe("missing_value", "item_id", (None,)),
    Recipe("missing_value", "workflow_id", (None,)),
    Recipe("missing_value", "opened_at", (None,)),
    Recipe(
        "unparseable",
        "opened_at",
        ("2026-02-30T09:15:00Z", "03/14/2026 09:12", "yesterday 10am", "2026-13-02T08:00:00"),
    ),
    Recipe("unparseable", "closed_at", ("n/a", "31/03/2026 17:45", "2026-04-31T12:00:00+02:00")),
    Recipe("unparseable", "rework_count", ("two", "1.5", "NaN")),
    Recipe("unparseable", "touchpoints", ("three", "3.0", "4 steps")),
    Recipe("unparseable", "had_error", ("maybe", "Y", "unknown")),
    Recipe("unparseable", "ai_assisted", ("partly", "N/A", "t")),
    Recipe("unparseable", "external_spend", ("$120.00", "1,250.50", "12 EUR", "NaN")),
    Recipe("out_of_range", "rework_count", ("-1",)),
    Recipe("out_of_range", "touchpoints", ("0", "-2")),
    Recipe("out_of_range", "external_spend", ("-45.00", "-0.01")),
    Recipe("closed_before_opened", "closed_at"),
    Recipe("unknown_workflow", "workflow_id"),
    Recipe("conflicting_duplicate", "touchpoints"),
    Recipe("deduplicated", None),
)

USAGE_RECIPES = (
    Recipe("missing_value", "user_id", (None,)),
    Recipe("missing_value", "usage_date", (None,)),
    Recipe("missing_value", "workflow_id", (None,)),
    Recipe("unparseable", "usage_date", ("2026-02-30", "14/03/2026", "last Tuesday")),
    Recipe("unparseable", "actions", ("three", "2.5", "1e3x")),
    Recipe("out_of_range", "actions", ("-1", "-3")),
    Recipe("unknown_workflow", "workflow_id"),
    Recipe("conflicting_duplicate", "actions"),
    Recipe("deduplicated", None),
)


@dataclass(frozen=True)
class SourceFaults:
    """How a source's bad rows get fresh keys."""

    recipes: tuple[Recipe, ...]
    key_column: str
    """Column that makes a bad row's key new (item_id or user_id)."""
    new_key: pl.Expr
    """Expression over the row (and `__bad_seq`) giving the new key value."""


ITEM_FAULTS = SourceFaults(
    ITEM_RECIPES,
    "item_id",
    pl.format(
        "{}-X{}", pl.col("item_id").str.split("-").list.first(), pl.col("__bad_seq").cast(pl.String).str.zfill(6)
    ),
)
USAGE_FAULTS = SourceFaults(
    USAGE_RECIPES,
    "user_id",
    pl.format("ux{}", pl.col("__bad_seq").cast(pl.String).str.zfill(5)),
)


def plan_faults(
    recipes: tuple[Recipe, ...], total: int, months: int, weights: np.ndarray, rng: np.random.Generator
) -> list[list[int]]:
    """Recipe indices per month file: every recipe once, then random recipes up to `total` rows.

    A conflicting duplicate is two rows, so it counts twice towards `total`.
    """
    chosen = list(range(len(recipes)))
    rows = sum(2 if recipes[i].kind == "conflicting_duplicate" else 1 for i in chosen)
    while rows < total:
        index = int(rng.integers(len(recipes)))
        chosen.append(index)
        rows += 2 if recipes[index].kind == "conflicting_duplicate" else 1
    month_of = rng.choice(months, size=len(chosen), p=weights / weights.sum())
    plan: list[list[int]] = [[] for _ in range(months)]
    for index, month in zip(chosen, month_of):
        plan[int(month)].append(index)
    return plan


def add_bad_rows(
    frame: pl.DataFrame, plan: list[int], faults: SourceFaults, rng: np.random.Generator, bad_seq: int
) -> tuple[pl.DataFrame, int]:
    """`frame` with the planned bad rows added next to the real rows they were copied from.

    `frame` holds strings plus hidden `__order` (sort key, even numbers), `__tag` (null for a
    plain row) and, for items, `__opened_s`. Returns the new frame and the next free bad-row
    sequence number.
    """
    if not plan:
        return frame, bad_seq
    plain = np.flatnonzero(frame["__tag"].is_null().to_numpy())
    if plain.size == 0:
        return frame, bad_seq
    sources = rng.choice(plain, size=len(plan), replace=len(plan) > plain.size)
    recipes_of = np.array(plan)
    added = []
    for recipe_index in sorted(set(plan)):
        recipe = faults.recipes[recipe_index]
        picked = sources[recipes_of == recipe_index]
        rows = frame[picked].with_columns(
            (pl.col("__order") + 1).alias("__order"),
            pl.lit(f"{recipe.kind}|{recipe.column or ''}").alias("__tag"),
            pl.Series("__bad_seq", np.arange(bad_seq, bad_seq + picked.size)),
            pl.lit(0, dtype=pl.Int32).alias("__sub"),
        )
        bad_seq += picked.size
        if recipe.kind == "deduplicated":
            added.append(rows.drop("__bad_seq"))
            continue
        if recipe.column != faults.key_column:
            rows = rows.with_columns(faults.new_key.alias(faults.key_column))
        column = recipe.column
        if recipe.values:
            values = pl.Series(column, list(recipe.values), dtype=pl.String)
            rows = rows.with_columns(values.gather(rng.integers(0, len(values), picked.size)).alias(column))
        elif recipe.kind == "closed_before_opened":
            early = pl.Series(rng.integers(1, 48, picked.size) * 3600)
            rows = rows.with_columns(
                pl.from_epoch(pl.col("__opened_s") - early, time_unit="s").dt.strftime(TS_FORMAT).alias(column)
            )
        elif recipe.kind == "unknown_workflow":
            rows = rows.with_columns(pl.format("{}_legacy", pl.col(column)).alias(column))
        elif recipe.kind == "conflicting_duplicate":
            # The same key twice in one file, differing in one count: neither row can be trusted.
            twin = rows.with_columns(
                (pl.col(column).cast(pl.Int64) + 1).cast(pl.String).alias(column),
                pl.lit(1, dtype=pl.Int32).alias("__sub"),
            )
            rows = pl.concat([rows, twin])
        added.append(rows.drop("__bad_seq"))
    if "__sub" not in frame.columns:
        frame = frame.with_columns(pl.lit(0, dtype=pl.Int32).alias("__sub"))
    return pl.concat([frame, *added], how="vertical_relaxed"), bad_seq
