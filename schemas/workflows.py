"""The workflow registry: who owns each AI workflow, where it stands, and what success means."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

STAGES = ["investigation", "pilot", "production", "retired"]
RISK_TIERS = ["low", "medium", "high"]
METRICS = [
    "cycle_time_hours",
    "rework_rate",
    "error_rate",
    "touchpoints_per_item",
    "external_spend_per_item",
]
DEFAULT_PRIMARY_METRIC = "cycle_time_hours"


class WorkflowRegistry(pa.DataFrameModel):
    """One row per workflow, as the business registers it (`workflows.csv`)."""

    workflow_id: str = pa.Field(nullable=False, str_length={"min_value": 1}, description="Stable identifier; the key every other source joins on.")
    name: str = pa.Field(nullable=False, description="Human name shown on the dashboard.")
    business_owner: str = pa.Field(nullable=True, description="Accountable business owner; blank means nobody owns it yet (a readiness gap).")
    team: str = pa.Field(nullable=True, description="Team that runs the workflow.")
    stage: str = pa.Field(nullable=False, isin=STAGES, description="Lifecycle stage: investigation, pilot, production or retired (case-insensitive).")
    deployed_on: pl.Date = pa.Field(nullable=True, description="Go-live date of the AI assistance; blank means not deployed, so a comparison workflow.")
    eligible_users: int = pa.Field(nullable=True, ge=0, description="Users who may use the AI tool; the adoption denominator. Required when deployed_on is set.")
    risk_tier: str = pa.Field(nullable=True, isin=RISK_TIERS, description="Risk tier: low, medium or high (case-insensitive).")
    primary_metric: str = pa.Field(nullable=False, isin=METRICS, description="The metric that decides whether the workflow shows value; blank means cycle_time_hours.")
    target_change_pct: float = pa.Field(nullable=True, description="Success target as a percent change of the primary metric, e.g. -20.")
    review_point: str = pa.Field(nullable=True, description="Where a human reviews the AI's output; blank means missing.")
    support_path: str = pa.Field(nullable=True, description="Who users call when it breaks; blank means missing.")
    data_scope: str = pa.Field(nullable=True, description="What data the AI may touch; blank means missing.")
    data_through: pl.Date = pa.Field(
        nullable=True,
        description="Optional column: the last day the workflow's exports are complete (its data cutoff, ISO date); blank means derive it from the data.",
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(name="eligible_users_required_when_deployed")
    def eligible_users_when_deployed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A deployed workflow needs a denominator for its adoption rate."""
        return data.lazyframe.select(pl.col("deployed_on").is_null() | pl.col("eligible_users").is_not_null())
