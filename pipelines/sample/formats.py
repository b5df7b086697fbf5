"""Turn numeric rows into the text the input contract describes, the way real exports vary.

Timestamps mix `Z`, `+02:00` and zone-less UTC values (per row, with per-workflow odds);
booleans are written true/false, 1/0 or yes/no in several cases (one style per workflow and
column, as each source system has its own); spend is written with cents. All vectorised.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample.catalogue import SAMPLE_COSTS, Workflow
from pipelines.sample.population import BOOL_STYLES, Population

TS_FORMAT = "%Y-%m-%dT%H:%M:%S"
ITEM_COLUMNS = (
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
)
USAGE_COLUMNS = ("usage_date", "user_id", "workflow_id", "actions")
MONEY_COLUMNS = (
    "currency",
    "cost_per_hour",
    "cost_per_rework",
    "cost_per_error",
    "cost_per_touchpoint",
    "tool_cost_per_user_month",
)
"""The registry's optional money columns (issue 14); written from catalogue.SAMPLE_COSTS."""
REGISTRY_COLUMNS = (
    "workflow_id",
    "name",
    "business_owner",
    "team",
    "stage",
    "deployed_on",
    "eligible_users",
    "risk_tier",
    "primary_metric",
    "target_change_pct",
    "review_point",
    "support_path",
    "data_scope",
    *MONEY_COLUMNS,
)
_TOKENS = pl.Series("token", [token for pair in BOOL_STYLES for token in pair], dtype=pl.String)


def _timestamp(seconds: str) -> pl.Expr:
    """Epoch seconds as ISO 8601 text in the row's style (`fmt`: 0 Z, 1 +02:00, 2 no zone)."""
    moment = pl.from_epoch(pl.col(seconds), time_unit="s")
    utc = moment.dt.strftime(TS_FORMAT)
    return (
        pl.when(pl.col("fmt") == 0)
        .then(utc + pl.lit("Z"))
        .when(pl.col("fmt") == 1)
        .then((moment + pl.duration(hours=2)).dt.strftime(TS_FORMAT) + pl.lit("+02:00"))
        .otherwise(utc)
    )


def _booleans(values: np.ndarray, style: np.ndarray) -> pl.Series:
    """Booleans as tokens of each row's style (index into BOOL_STYLES)."""
    return _TOKENS.gather(pl.Series(style * 2 + (~values).astype(np.int64)))


def format_items(rows: pl.DataFrame, catalogue: list[Workflow], population: Population) -> pl.DataFrame:
    """Item rows as contract text, keeping `__order`, `__tag` and `__opened_s` for the faults."""
    w = rows["w"].to_numpy()
    ids = pl.Series([wf.workflow_id for wf in catalogue], dtype=pl.String)
    prefixes = pl.Series([wf.prefix for wf in catalogue], dtype=pl.String)
    style = population.bool_style
    escalated = _booleans(rows["escalated"].to_numpy(), style[2, w])
    blank_false = population.escalated_blank[w] & ~rows["escalated"].to_numpy()
    escalated = pl.select(pl.when(pl.Series(blank_false)).then(None).otherwise(escalated)).to_series()
    return rows.with_columns(
        pl.format("{}-{}", prefixes.gather(rows["w"]), pl.col("seq").cast(pl.String).str.zfill(6)).alias("item_id"),
        ids.gather(rows["w"]).alias("workflow_id"),
        _timestamp("opened_s").alias("opened_at"),
        _timestamp("closed_s").alias("closed_at"),
        pl.col("rework_count").cast(pl.String),
        pl.col("touchpoints").cast(pl.String),
        _booleans(rows["had_error"].to_numpy(), style[0, w]).alias("had_error"),
        pl.format(
            "{}.{}", pl.col("spend_cents") // 100, (pl.col("spend_cents") % 100).cast(pl.String).str.zfill(2)
        ).alias("external_spend"),
        _booleans(rows["ai_assisted"].to_numpy(), style[1, w]).alias("ai_assisted"),
        escalated.alias("escalated"),
        pl.format("queue-{}", prefixes.gather(rows["w"]).str.to_lowercase()).alias("queue"),
        pl.col("opened_s").alias("__opened_s"),
    ).select(*ITEM_COLUMNS, "queue", "__opened_s", "__tag", "__order")


def format_usage(rows: pl.DataFrame, catalogue: list[Workflow], day_s: np.ndarray) -> pl.DataFrame:
    """Usage rows as contract text, keeping `__order` and `__tag`."""
    ids = pl.Series([wf.workflow_id for wf in catalogue], dtype=pl.String)
    days = pl.Series(day_s).gather(rows["day"])
    return rows.with_columns(
        pl.from_epoch(days, time_unit="s").dt.strftime("%Y-%m-%d").alias("usage_date"),
        pl.format("u{}", pl.col("user").cast(pl.String).str.zfill(6)).alias("user_id"),
        ids.gather(rows["w"]).alias("workflow_id"),
        pl.col("actions").cast(pl.String),
    ).select(*USAGE_COLUMNS, "__tag", "__order")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def registry_rows(catalogue: list[Workflow], eligible: np.ndarray) -> list[dict[str, str | None]]:
    """One registry row per workflow, as text."""
    rows = []
    for wf, users in zip(catalogue, eligible):
        rows.append(
            {
                "workflow_id": wf.workflow_id,
                "name": wf.name,
                "business_owner": wf.business_owner,
                "team": wf.team,
                "stage": wf.stage,
                "deployed_on": wf.deployed_on.isoformat() if wf.deployed_on else None,
                "eligible_users": _text(int(users)) if wf.deployed else None,
                "risk_tier": wf.risk_tier,
                "primary_metric": wf.primary_metric,
                "target_change_pct": _text(wf.target_change_pct),
                "review_point": wf.review_point,
                "support_path": wf.support_path,
                "data_scope": wf.data_scope,
                **dict(
                    zip(
                        MONEY_COLUMNS,
                        (_text(v) for v in SAMPLE_COSTS.get(wf.workflow_id, (None,) * len(MONEY_COLUMNS))),
                    )
                ),
            }
        )
    return rows


BAD_REGISTRY_ROWS = (
    # (row, expected kind, column): workflows nothing else refers to, so quarantining them
    # cannot turn real items into unknown-workflow rows.
    (
        {
            "workflow_id": "fraud_screening",
            "name": None,
            "business_owner": "Ravi Shah",
            "team": "Risk",
            "stage": "investigation",
        },
        "missing_value",
        "name",
    ),
    (
        {
            "workflow_id": "travel_booking",
            "name": "Travel booking",
            "team": "Operations",
            "stage": "live",
            "deployed_on": "2026-03-02",
            "eligible_users": "15",
        },
        "out_of_range",
        "stage",
    ),
    (
        {
            "workflow_id": "sales_forecast",
            "name": "Sales forecast notes",
            "team": "Sales Ops",
            "stage": "pilot",
            "deployed_on": "Q3 2026",
            "eligible_users": "8",
        },
        "unparseable",
        "deployed_on",
    ),
    (
        {
            "workflow_id": "payroll_checks",
            "name": "Payroll checks",
            "business_owner": "Ines Moreau",
            "team": "People Team",
            "stage": "pilot",
            "deployed_on": "2026-05-04",
            "eligible_users": None,
        },
        "missing_value",
        "eligible_users",
    ),
)
