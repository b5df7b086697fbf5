"""The three input sources and the rules that tell their files and columns apart.

A source is described once here; reading, validation, de-duplication and the asset that
loads it all follow from this description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandera.polars as pa
import polars as pl

from schemas import DEFAULT_PRIMARY_METRIC, Usage, WorkflowRegistry, WorkItems
from schemas.feedback import Feedback
from schemas.workflow_stages import WorkflowStages
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
    pseudonymised: tuple[str, ...] = ()
    """Columns naming a person: replaced by a keyed pseudonym as the file is read (docs/privacy.md)."""
    dated_in_range: tuple[str, ...] = ()
    """Date columns held to the same range as timestamps (1990-01-01 to build time + 1 day)."""

    @cached_property
    def columns(self) -> dict[str, pl.DataType]:
        """Column name to polars dtype, in contract order (built once: reading asks for it per file)."""
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
        """The source's readable files under `input_dir`, in file-name order (which decides supersession),
        then the native exports that a connector mapping turns into this source's rows (docs/connectors.md)."""
        return self.listing(input_dir).files

    def listing(self, input_dir: Path) -> Listing:
        """Every entry the source's place holds: files to read, links to reject, entries skipped.

        Native exports under `connectors/` whose mapping targets this source come last in
        `files` (docs/connectors.md). A symlink is followed only when it resolves to a file inside the input folder;
        one that leads outside is rejected (its target is never read), and sub-folders,
        dot-files, dangling links and other non-files are skipped, each with a reason.
        """
        root = input_dir.resolve()
        if self.folder is not None:
            folder = input_dir / self.folder
            entries = sorted(folder.iterdir(), key=lambda p: p.name) if folder.is_dir() else []
            # A plain file in a folder that resolves inside the input folder is inside it too:
            # only links need resolving, which saves a system call per file of a daily export.
            inside = folder.is_dir() and folder.resolve().is_relative_to(root)
        else:
            assert self.root_stem is not None
            entries = sorted(input_dir.glob(f"{self.root_stem}.*"), key=lambda p: p.name)
            inside = True
        listing = Listing()
        for path in entries:
            relative = path.relative_to(input_dir).as_posix()
            if path.name.startswith("."):
                listing.skipped.append((relative, "dot-file (hidden); not read"))
            elif path.is_symlink() and not path.exists():
                listing.skipped.append(
                    (relative, f"dangling symlink (target {_link_target(path)} does not exist); not read")
                )
            elif path.is_dir():
                listing.skipped.append(
                    (relative, "sub-folder; opvalue reads only the files directly in the source's folder")
                )
            elif (path.is_symlink() or not inside) and not path.resolve().is_relative_to(root):
                # Through a link to the file itself, or to a folder on its way.
                how = (
                    f"symlink to {_link_target(path)}"
                    if path.is_symlink()
                    else f"resolves to {path.resolve()} through a linked folder"
                )
                listing.rejected_links[relative] = (
                    path,
                    f"{how}, outside the input folder; opvalue reads only files inside it",
                )
            elif not path.is_file():
                listing.skipped.append((relative, "not a regular file (device, socket or pipe); not read"))
            else:
                listing.files.append(path)
        from pipelines.connectors import native_files  # connectors hook: native exports under connectors/

        listing.files.extend(native_files(self.name, input_dir))
        return listing


def _link_target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"


@dataclass
class Listing:
    """What one source's place in the input folder holds."""

    files: list[Path] = field(default_factory=list)
    """Files to read, in file-name order."""
    rejected_links: dict[str, tuple[Path, str]] = field(default_factory=dict)
    """Relative path to (path, reason) for symlinks that lead outside the input folder."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(relative path, reason) for entries that are not input files."""


WORKFLOWS = SourceSpec(
    name="workflows",
    model=WorkflowRegistry,
    key=("workflow_id",),
    root_stem="workflows",
    # The money columns (issue 14) are optional, so registries written before them still load;
    # so are the governance columns (issue 13).
    optional_columns={"data_through": None, "currency": DEFAULT_CURRENCY, **dict.fromkeys(COST_COLUMNS)}
    | dict.fromkeys(("exception_path", "target_set_on", "baseline_frozen_on", "last_reviewed_on", "review_every_days")),
    lowercase=("stage", "risk_tier", "primary_metric"),
    blank_defaults={"primary_metric": DEFAULT_PRIMARY_METRIC, "currency": DEFAULT_CURRENCY},
)

WORK_ITEMS = SourceSpec(
    name="work_items",
    model=WorkItems,
    key=("workflow_id", "item_id"),
    folder="work_items",
    optional_columns={"escalated": False, "team": None, "overridden": None, "corrected": None},
    blank_defaults={"escalated": False},
    checks_registry=True,
)

USAGE = SourceSpec(
    name="usage",
    model=Usage,
    key=("workflow_id", "user_id", "usage_date"),
    folder="usage",
    checks_registry=True,
    pseudonymised=("user_id",),
    dated_in_range=("usage_date",),
)

# Governance sources (issue 13): optional folders; without them the marts say what is unknown.
WORKFLOW_STAGES = SourceSpec(
    name="workflow_stages",
    model=WorkflowStages,
    key=("workflow_id", "stage", "entered_on"),
    folder="workflow_stages",
    lowercase=("stage",),
    checks_registry=True,
    dated_in_range=("entered_on",),
)

FEEDBACK = SourceSpec(
    name="feedback",
    model=Feedback,
    key=("workflow_id", "feedback_id"),
    folder="feedback",
    lowercase=("kind", "status"),
    checks_registry=True,
    dated_in_range=("raised_on", "resolved_on"),
)

SOURCES: tuple[SourceSpec, ...] = (WORKFLOWS, WORK_ITEMS, USAGE, WORKFLOW_STAGES, FEEDBACK)
