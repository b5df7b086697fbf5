"""Where opvalue reads its inputs and writes its warehouse, and how it reads them.

Every setting comes from the environment and is read when it is needed, never at import
time, so a long-lived process (the Dagster UI, the dashboard) follows a change without a
restart. Relative paths are taken from the current directory, which is the repository
root for every `make` target.

| variable                      | default                          |
| ----------------------------- | -------------------------------- |
| OPVALUE_INPUT_DIR             | data/sample                      |
| OPVALUE_WAREHOUSE             | data/warehouse/opvalue.duckdb    |
| OPVALUE_TZ_<SOURCE>           | unset: naive timestamps are UTC  |
| OPVALUE_PSEUDONYM_KEY         | unset: the key file is used      |
| OPVALUE_PSEUDONYM_KEY_FILE    | data/keys/pseudonym.key          |
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

INPUT_DIR_ENV = "OPVALUE_INPUT_DIR"
WAREHOUSE_ENV = "OPVALUE_WAREHOUSE"
PSEUDONYM_KEY_ENV = "OPVALUE_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE_ENV = "OPVALUE_PSEUDONYM_KEY_FILE"
VERIFY_DIGESTS_ENV = "OPVALUE_VERIFY_DIGESTS"  # hash every input file (pipelines/ingest/manifest.py)
DEFAULT_INPUT_DIR = "data/sample"
DEFAULT_WAREHOUSE = "data/warehouse/opvalue.duckdb"
# Outside data/warehouse/ on purpose: the published warehouse file never sits next to it.
DEFAULT_PSEUDONYM_KEY_FILE = "data/keys/pseudonym.key"


def input_dir() -> Path:
    """The input folder: `$OPVALUE_INPUT_DIR`, else `data/sample`."""
    return Path(os.environ.get(INPUT_DIR_ENV) or DEFAULT_INPUT_DIR)


def warehouse_target() -> str:
    """What DuckDB connects to, exactly as written: `$OPVALUE_WAREHOUSE`, else `data/warehouse/opvalue.duckdb`.

    A local file, or a shared catalog (`md:opvalue`, `ducklake:...`, a URL such as
    `s3://bucket/opvalue.duckdb`). The one place the warehouse is resolved: the pipeline
    (`WarehouseResource.target()`) and the dashboard (`dashboards.data.warehouse_target()`) call it.
    """
    return os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE


def warehouse_path() -> Path:
    """The published DuckDB file of a local warehouse (`warehouse_target()` as a path)."""
    return local_warehouse_path(warehouse_target())


def local_warehouse_path(target: str) -> Path:
    """`target` as a local file path; a shared catalog has none (a `Path` would turn `s3://` into `s3:/`)."""
    if is_remote_warehouse(target):
        raise SettingError(f"{WAREHOUSE_ENV}={target!r} is a shared catalog, not a local file")
    return Path(target)


def time_zone_env(source: str) -> str:
    """Name of the variable holding `source`'s time zone for naive timestamps, e.g. `OPVALUE_TZ_WORK_ITEMS`."""
    return "OPVALUE_TZ_" + "".join(c if c.isalnum() else "_" for c in source).upper()


class SettingError(ValueError):
    """A setting holds a value opvalue cannot use; the message names the variable."""


def naive_time_zone(source: str) -> str | None:
    """The IANA time zone naive timestamps of `source` are written in, or None for UTC.

    `OPVALUE_TZ_<SOURCE>` (`OPVALUE_TZ_WORK_ITEMS`); unset or blank keeps the documented
    default: a timestamp without an offset is UTC. A name that is not an IANA zone is a
    configuration error, raised with the variable's name, never a silent fallback to UTC.
    """
    variable = time_zone_env(source)
    name = (os.environ.get(variable) or "").strip()
    if not name:
        return None
    if name not in available_timezones() and name != "UTC":
        raise SettingError(
            f"{variable}={name!r} is not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SettingError(f"{variable}={name!r} is not an IANA time zone name: {error}") from error
    return name


def pseudonym_key_file() -> Path:
    """Where the pseudonym key is kept when `$OPVALUE_PSEUDONYM_KEY` is not set."""
    return Path(os.environ.get(PSEUDONYM_KEY_FILE_ENV) or DEFAULT_PSEUDONYM_KEY_FILE)


# DuckDB connection strings that name a shared catalog rather than a local file:
# MotherDuck (`md:db`), a DuckLake catalog (`ducklake:...`), or any URL (`s3://...`).
REMOTE_PREFIXES = ("md:", "motherduck:", "ducklake:")


def is_remote_warehouse(target: str) -> bool:
    """Whether `target` is a shared catalog (written in place) rather than a local file."""
    return target.startswith(REMOTE_PREFIXES) or "://" in target
