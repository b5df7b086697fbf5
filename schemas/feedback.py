"""Feedback: corrections, exceptions, suggestions and incidents raised about a workflow's AI."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

FEEDBACK_KINDS = ["correction", "exception", "suggestion", "incident"]
FEEDBACK_STATUSES = ["open", "incorporated", "declined"]


class Feedback(pa.DataFrameModel):
    """One row per piece of feedback (`feedback/*.csv|*.parquet`); optional source.

    A later file's row with the same (workflow_id, feedback_id) supersedes, so an export of
    the current status can be dropped in beside older ones.
    """

    feedback_id: str = pa.Field(
        nullable=False, str_length={"min_value": 1}, description="Identifier of the feedback within its workflow."
    )
    workflow_id: str = pa.Field(
        nullable=False,
        str_length={"min_value": 1},
        description="Workflow the feedback is about; must be in the registry.",
    )
    raised_on: pl.Date = pa.Field(nullable=False, description="Date the feedback was raised (YYYY-MM-DD).")
    kind: str = pa.Field(
        nullable=False,
        isin=FEEDBACK_KINDS,
        description="correction, exception, suggestion or incident (case-insensitive).",
    )
    status: str = pa.Field(
        nullable=False,
        isin=FEEDBACK_STATUSES,
        description="open, incorporated (the fix is in the workflow) or declined (case-insensitive).",
    )
    resolved_on: pl.Date = pa.Field(
        nullable=True,
        description="Date it was incorporated or declined; blank while open (a date on open feedback is quarantined). Not before raised_on.",
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(name="resolved_on_not_before_raised_on")
    def resolved_after_raised(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Feedback cannot be resolved before it was raised."""
        return data.lazyframe.select(pl.col("resolved_on").is_null() | (pl.col("resolved_on") >= pl.col("raised_on")))

    @pa.dataframe_check(name="open_feedback_has_no_resolved_on")
    def open_not_resolved(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Open feedback has not been resolved: a resolution date means the status is stale or wrong."""
        return data.lazyframe.select((pl.col("status") != "open") | pl.col("resolved_on").is_null())
