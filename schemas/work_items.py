"""Work items: one row per unit of work in a workflow, before and after deployment."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class WorkItems(pa.DataFrameModel):
    """One row per unit of work (`work_items/*.csv|*.parquet`); timestamps are UTC."""

    item_id: str = pa.Field(
        nullable=False, str_length={"min_value": 1}, description="Identifier of the item within its workflow."
    )
    workflow_id: str = pa.Field(
        nullable=False,
        str_length={"min_value": 1},
        description="Workflow the item belongs to; must be in the registry.",
    )
    opened_at: pl.Datetime(time_unit="us") = pa.Field(
        nullable=False, description="When the item was opened (UTC); decides its period."
    )
    closed_at: pl.Datetime(time_unit="us") = pa.Field(
        nullable=True, description="When the item was closed (UTC); blank means still open."
    )
    rework_count: int = pa.Field(
        nullable=True, ge=0, description="Times the item was sent back for rework; blank means unknown."
    )
    touchpoints: int = pa.Field(
        nullable=True, ge=1, description="Hand-offs between people or systems; at least 1; blank means unknown."
    )
    had_error: bool = pa.Field(
        nullable=True, description="Whether an error reached a customer or a later step; blank means unknown."
    )
    external_spend: float = pa.Field(
        nullable=True,
        ge=0,
        description="Money spent outside the team on the item (vendors, contractors); blank means unknown.",
    )
    ai_assisted: bool = pa.Field(
        nullable=True, description="Whether AI assistance was used on the item; blank means unknown."
    )
    escalated: bool = pa.Field(
        nullable=False, description="Whether the item was escalated; optional column, blank means false."
    )
    team: str = pa.Field(
        nullable=True,
        description="Team that handled the item; optional column. Lets the mix-shift check compare like with like.",
    )
    overridden: bool = pa.Field(
        nullable=True, description="Optional: a person overrode the AI output on this item; blank means unknown."
    )
    corrected: bool = pa.Field(
        nullable=True, description="Optional: the AI output was corrected before use; blank means unknown."
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(name="closed_at_not_before_opened_at")
    def closed_after_opened(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """An item cannot close before it opened."""
        return data.lazyframe.select(pl.col("closed_at").is_null() | (pl.col("closed_at") >= pl.col("opened_at")))
