"""AI usage: how much each user used the AI tool, per day and workflow."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class Usage(pa.DataFrameModel):
    """One row per user, day and workflow (`usage/*.csv|*.parquet`); every value is required."""

    usage_date: pl.Date = pa.Field(nullable=False, description="Day of the activity (ISO date).")
    user_id: str = pa.Field(
        nullable=False,
        str_length={"min_value": 1},
        description="User identifier; replaced by a keyed pseudonym (HMAC-SHA256) as the file is read, so no raw id is stored.",
    )
    workflow_id: str = pa.Field(
        nullable=False,
        str_length={"min_value": 1},
        description="Workflow the activity was for; must be in the registry.",
    )
    actions: int = pa.Field(
        nullable=False,
        ge=0,
        description="AI actions the user took that day (prompts, accepted suggestions); 0 is allowed.",
    )

    class Config:
        strict = True
        coerce = True
