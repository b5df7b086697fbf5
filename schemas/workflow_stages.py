"""Stage history: when each workflow entered each lifecycle stage, and who decided."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.workflows import STAGES


class WorkflowStages(pa.DataFrameModel):
    """One row per stage a workflow entered (`workflow_stages/*.csv|*.parquet`); optional source.

    A workflow leaves a stage when it enters the next one; the latest row is where it is now.
    """

    workflow_id: str = pa.Field(
        nullable=False, str_length={"min_value": 1}, description="Workflow that changed stage; must be in the registry."
    )
    stage: str = pa.Field(
        nullable=False,
        isin=STAGES,
        description="Stage entered: investigation, pilot, production or retired (case-insensitive).",
    )
    entered_on: pl.Date = pa.Field(nullable=False, description="Date the workflow entered the stage (YYYY-MM-DD).")
    decided_by: str = pa.Field(
        nullable=True, description="Who decided the move (a person or a board); blank means not recorded."
    )
    note: str = pa.Field(nullable=True, description="Free-text reason for the move; shown as text, never interpreted.")

    class Config:
        strict = True
        coerce = True
