"""Where opvalue reads its inputs and writes its warehouse.

Both settings come from the environment and are read when they are needed, never at
import time, so a long-lived process (the Dagster UI, the dashboard) follows a change
without a restart. Relative paths are taken from the current directory, which is the
repository root for every `make` target.

| variable            | default                          |
| ------------------- | -------------------------------- |
| OPVALUE_INPUT_DIR   | data/sample                      |
| OPVALUE_WAREHOUSE   | data/warehouse/opvalue.duckdb    |
"""

from __future__ import annotations

import os
from pathlib import Path

INPUT_DIR_ENV = "OPVALUE_INPUT_DIR"
WAREHOUSE_ENV = "OPVALUE_WAREHOUSE"
DEFAULT_INPUT_DIR = "data/sample"
DEFAULT_WAREHOUSE = "data/warehouse/opvalue.duckdb"


def input_dir() -> Path:
    """The input folder: `$OPVALUE_INPUT_DIR`, else `data/sample`."""
    return Path(os.environ.get(INPUT_DIR_ENV) or DEFAULT_INPUT_DIR)


def warehouse_path() -> Path:
    """The published DuckDB file: `$OPVALUE_WAREHOUSE`, else `data/warehouse/opvalue.duckdb`."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


# DuckDB connection strings that name a shared catalog rather than a local file:
# MotherDuck (`md:db`), a DuckLake catalog (`ducklake:...`), or any URL (`s3://...`).
REMOTE_PREFIXES = ("md:", "motherduck:", "ducklake:")


def is_remote_warehouse(target: str) -> bool:
    """Whether `target` is a shared catalog (written in place) rather than a local file."""
    return target.startswith(REMOTE_PREFIXES) or "://" in target
