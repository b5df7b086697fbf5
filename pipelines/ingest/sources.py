"""The three input sources and the rules that tell their files and columns apart.

A source is described once here; reading, validation, de-duplication and the asset that
loads it all follow from this description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandera.polars as pa
import polars as pl

from schemas import DEFAULT_PRIMARY_METRIC, Usage, WorkflowRegistry, WorkItems
from schemas.workflows import COST_COLUMNS, DEFAULT_CURRENCY

SUPPORTED_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class SourceSpec:
    """How one input source is found, typed and keyed."""

    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    """Columns that identify a record: a later file's row with the same key supersedes."""
    folder: str | None = None
    """Sub-folder holding the source's files (every file in it belongs to the source)."""
    root_stem: str | None = None
    """Or a single file at the input root with this stem (`workflows.csv`)."""
    optional_columns: dict[str, object] = field(default_factory=dict)
    """Columns a file may leave out, with the value they take; a blank value takes it too."""
    lowercase: tuple[str, ...] = ()
    """Enumerated columns compared without regard to case or surrounding spaces."""
    blank_defaults: dict[str, object] = field(default_factory=dict)
    """Values a blank cell takes, for columns whose contract gives a default."""
    checks_registry: bool = False
    """Whether every row's workflow_id must be in the registry."""

    @property
    def columns(self) -> dict[str, pl.DataType]:
        """Column name to polars dtype, in contract order."""
        schema = self.model.to_schema()
        return {name: column.dtype.type for name, column in schema.columns.items()}

    @property
    def required_columns(self) -> list[str]:
        """Columns every file must have in its header."""
        return [name for name in self.columns if name not in self.optional_columns]

    @property
    def timestamp_columns(self) -> list[str]:
        """Columns holding timestamps (parsed as UTC)."""
        return [name for name, dtype in self.columns.items() if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime]

    def files(self, input_dir: Path) -> list[Path]:
        """The source's files under `input_dir`, in file-name order (which decides supersession)."""
        if self.folder is not None:
            folder = input_dir / self.folder
            if not folder.is_dir():
                return []
            return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)
        assert self.root_stem is not None
        return sorted(
            (p for p in input_dir.glob(f"{self.root_stem}.*") if p.is_file()),
            key=lambda p: p.name,
        )


WORKFLOWS = SourceSpec(
    name="workflows",
    model=WorkflowRegistry,
    key=("workflow_id",),
    root_stem="workflows",
    lowercase=("stage", "risk_tier", "primary_metric"),
    # The money columns (issue 14) are optional, so registries written before them still load.
    optional_columns={"currency": DEFAULT_CURRENCY, **dict.fromkeys(COST_COLUMNS)},
    blank_defaults={"primary_metric": DEFAULT_PRIMARY_METRIC, "currency": DEFAULT_CURRENCY},
)

WORK_ITEMS = SourceSpec(
    name="work_items",
    model=WorkItems,
    key=("workflow_id", "item_id"),
    folder="work_items",
    optional_columns={"escalated": False, "team": None},
    blank_defaults={"escalated": False},
    checks_registry=True,
)

USAGE = SourceSpec(
    name="usage",
    model=Usage,
    key=("workflow_id", "user_id", "usage_date"),
    folder="usage",
    checks_registry=True,
)

SOURCES: tuple[SourceSpec, ...] = (WORKFLOWS, WORK_ITEMS, USAGE)
