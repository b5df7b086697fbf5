"""Shared Dagster resources: the DuckDB warehouse and the input folder.

Each resource's field is optional. Left empty, it resolves from the environment when a
run starts (see `pipelines.settings` for the variables and their defaults), so the same
definitions serve `make pipeline`, the Dagster UI and tests, which pass explicit paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines import settings


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file that staging, quarantine, ops and marts tables live in."""

    path: str | None = None
    """Path of the DuckDB file; empty means `$OPVALUE_WAREHOUSE`, else `data/warehouse/opvalue.duckdb`."""

    def resolved_path(self) -> Path:
        """The file this resource writes to."""
        return Path(self.path) if self.path else settings.warehouse_path()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed on exit. Creates the folder on first use."""
        target = self.resolved_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(target))
        try:
            yield con
        finally:
            con.close()


class InputFolderResource(dg.ConfigurableResource):
    """The folder holding `workflows.csv`, `work_items/` and `usage/`."""

    path: str | None = None
    """Path of the input folder; empty means `$OPVALUE_INPUT_DIR`, else `data/sample`."""

    def resolved_path(self) -> Path:
        """The folder this resource reads from."""
        return Path(self.path) if self.path else settings.input_dir()
