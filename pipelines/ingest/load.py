"""Load one source's input folder into DuckDB: manifest, rows, quarantine and staging.

Loading is incremental. A file whose bytes (sha256) and reader are unchanged since it was
last read keeps its rows without being parsed again; a changed file replaces its own rows;
a file that left the folder takes its rows with it. Staging then follows the rows held, so
the warehouse always equals the folder's content, whatever the history:

- nothing this source depends on changed: staging is kept as it is;
- only this source's files changed: only the keys found in the added, changed or removed
  files are decided again (a re-stage *by key*), since a row's outcome depends only on the
  rows that share its key;
- the registry, the staging rules or the reader changed, or there is no earlier staging:
  every row is decided again (a *full* re-stage).

Files to read go in batches (up to BATCH_FILES files or BATCH_BYTES of input): each file is
hashed, checked and read as text on its own, so a bad file is rejected alone; the row rules
then run once over the batch's rows and each table gets one insert per batch, which is what
makes thousands of small daily files cheap (docs/performance.md, "Many files").
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines import privacy
from pipelines.ingest.manifest import Digests
from pipelines.ingest.reader import (
    FileResult,
    RawRows,
    build_time,
    read_raw_file,
    validate_many,
    validate_rows,
)
from pipelines.ingest.sources import SourceSpec
from pipelines.settings import naive_time_zone
from pipelines.sqlfiles import run_script, sql_sections, sql_text

log = logging.getLogger("opvalue")
# Bump when reading rules change in a way the column contract does not show, so every
# file is read again under the new rules.
READER_RULES_VERSION = "3"  # 2: strict timestamps, field counts, pseudonyms, Parquet extras; 3: ASCII digits
# Bump when sql/stage_source.sql changes what it produces, so staging is rebuilt in full.
STAGING_RULES_VERSION = "4"  # 4: an item of a quarantined registry row says so
# Files read together: their rows meet the row rules in one pass and are written with one
# insert per table. A batch ends at BATCH_FILES files or once it holds BATCH_BYTES of input.
BATCH_FILES = 500
BATCH_BYTES = 32 * 1024 * 1024
# Batches read on a worker thread while the batch before them is written (see _read_ahead).
READ_AHEAD = 1

DUCKDB_TYPES = {
    pl.String: "varchar",
    pl.Int64: "bigint",
    pl.Float64: "double",
    pl.Boolean: "boolean",
    pl.Date: "date",
}


class FileLoadError(RuntimeError):
    """Loading one file failed for a reason outside the data (I/O, disk, a bug)."""


@dataclass(frozen=True)
class SourceSummary:
    """Counts for one source after a load; they reconcile by construction and are checked."""

    source: str
    files_seen: int
    files_read: int
    files_reused: int
    files_rejected: int
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    rows_deduplicated: int
    rows_superseded: int
    extra_columns: dict[str, list[str]]
    rejected_files: dict[str, str]
    skipped_entries: dict[str, str] = field(default_factory=dict)
    """Entries in the source's place that are not input files, with the reason (`ops.skipped_files`)."""

    @property
    def reconciles(self) -> bool:
        """rows read = staged + quarantined + de-duplicated + superseded."""
        return (
            self.rows_read == self.rows_staged + self.rows_quarantined + self.rows_deduplicated + self.rows_superseded
        )


# What sql/create_tables.sql makes. When all of it is there the script is not run: its ten
# statements and the catalog lookups around them were most of what an unchanged source's
# load cost (about 20 of 30 ms).
SHARED_SCHEMAS = frozenset({"ingest", "staging", "quarantine", "ops"})
SHARED_TABLES = frozenset(
    {
        "quarantine.rejected_rows",
        "quarantine.rejected_files",
        "ops.ingested_files",
        "ops.staging_state",
        "ops.skipped_files",
    }
)


@dataclass(frozen=True)
class Layout:
    """The warehouse's schemas and each table's (or view's) column names in order: one catalog query."""

    schemas: frozenset[str]
    columns: dict[str, list[str]]
    """`schema.table` -> its column names, in order."""


def read_layout(con: duckdb.DuckDBPyConnection) -> Layout:
    """The schemas and tables of the database `con` is connected to (not attached ones, not temp)."""
    rows = con.execute(
        """
        select schema_name, table_name, column_name, column_index
        from duckdb_columns() where database_name = current_database()
        union all
        select schema_name, null, null, null from duckdb_schemas() where database_name = current_database()
        order by schema_name, table_name, column_index
        """
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for schema, table, column, _ in rows:
        if table is not None:
            columns.setdefault(f"{schema}.{table}", []).append(column)
    return Layout(schemas=frozenset(row[0] for row in rows), columns=columns)


def ensure_tables(con: duckdb.DuckDBPyConnection, layout: Layout | None = None) -> None:
    """Create the shared schemas and tables if this warehouse does not have them yet.

    `ops.staging_state` is only a cache of what staging was built from: an older layout is
    dropped, which makes the next load re-stage every source in full. `layout` is the
    warehouse's as read before (`read_layout`), to spare the catalog query.
    """
    layout = read_layout(con) if layout is None else layout
    state_columns = set(layout.columns.get("ops.staging_state", []))
    if state_columns and "rules_fingerprint" not in state_columns:
        con.execute("drop table ops.staging_state")
    elif state_columns and "restaged_workflows" not in state_columns:
        # Added for the change set (pipelines/changes.py); null reads as "not known": hash all.
        con.execute("alter table ops.staging_state add column restaged_from varchar")
        con.execute("alter table ops.staging_state add column restaged_workflows varchar[]")
    elif SHARED_SCHEMAS <= layout.schemas and SHARED_TABLES <= layout.columns.keys():
        return
    run_script(con, sql_text(__file__, "create_tables"))


def reader_version(spec: SourceSpec) -> str:
    """Fingerprint of the rules a file was read under; a change forces a re-read."""
    contract = repr(sorted((name, str(dtype)) for name, dtype in spec.columns.items()))
    contract += repr((spec.optional_columns, spec.lowercase, spec.blank_defaults, READER_RULES_VERSION))
    # Settings that change what a file reads as: the time zone of naive timestamps, and
    # the pseudonym key (a new key must replace every stored pseudonym).
    if spec.timestamp_columns:
        contract += repr(("time_zone", naive_time_zone(spec.name)))
    if spec.pseudonymised:
        contract += repr(("pseudonym_key", privacy.key_fingerprint()))
    return hashlib.sha256(contract.encode()).hexdigest()[:16]


def _duckdb_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime:
        return "timestamp"
    return DUCKDB_TYPES[dtype]


def _ensure_rows_table(con: duckdb.DuckDBPyConnection, spec: SourceSpec, layout: Layout) -> None:
    """Create `ingest.<source>_rows`; if an older layout is there, drop it and re-read every file."""
    wanted = [
        *((name, _duckdb_type(dtype)) for name, dtype in spec.columns.items()),
        ("row_number", "bigint"),
        ("source_file", "varchar"),
        ("row_hash", "ubigint"),
    ]
    existing = layout.columns.get(f"ingest.{spec.name}_rows", [])
    names = [name for name, _ in wanted]
    if existing == names and f"ingest.{spec.name}_outcomes" in layout.columns:
        return
    if existing and existing != names:
        con.execute(f"drop table ingest.{spec.name}_rows")
        con.execute(f"drop table if exists ingest.{spec.name}_outcomes")
        for table in ("ops.ingested_files", "quarantine.rejected_rows", "quarantine.rejected_files"):
            con.execute(f"delete from {table} where source = ?", [spec.name])
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in wanted)
    con.execute(f"create table if not exists ingest.{spec.name}_rows (\n    {columns}\n)")
    # Every held row's outcome (staged, superseded, ...), kept so a re-stage by key can
    # recount each file without deciding every row again.
    con.execute(
        f"create table if not exists ingest.{spec.name}_outcomes (source_file varchar, row_number bigint, outcome varchar)"
    )


def load_source(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    input_dir: Path,
    ingested_at: datetime,
) -> SourceSummary:
    """Bring `spec`'s rows in the warehouse in line with its files under `input_dir`."""
    layout = read_layout(con)
    ensure_tables(con, layout)
    _ensure_rows_table(con, spec, layout)
    version = reader_version(spec)
    listing = spec.listing(input_dir)
    current = {(path.relative_to(input_dir).as_posix()): path for path in listing.files}
    # A link leading outside the folder is a file of the source, rejected: its target is never read.
    current.update({relative: path for relative, (path, _) in listing.rejected_links.items()})
    current = dict(sorted(current.items()))
    known = {
        row[0]: (row[1], row[2])
        for row in con.execute(
            "select source_file, sha256, reader_version from ops.ingested_files where source = ?", [spec.name]
        ).fetchall()
    }

    con.execute("begin transaction")
    try:
        # Whether staging can be brought up to date key by key is known before any file is
        # read (it depends on the rules and the registry, not on this source's files). A
        # full re-stage decides every row, so it needs no list of the keys files touched:
        # collecting them cost a scan of every batch's rows (0.37 CPU-s at 1M items).
        rules = _rules_fingerprint(con, spec, version)
        staged = _staged_state(con, spec, staging_exists=f"staging.{spec.name}" in layout.columns)
        by_key = staged is not None and staged[1] == rules
        key_list = ", ".join(spec.key)
        con.execute(
            f"create or replace temp table scope_keys as select {key_list} from ingest.{spec.name}_rows limit 0"
        )
        gone = sorted(set(known) - set(current))
        if gone:
            _set_batch_files(con, gone)
            if by_key:
                _note_keys(con, spec)
            _forget_files(con, spec)
        _record_skipped(con, spec, listing.skipped, ingested_at)
        pending: list[tuple[int, str, Path, str, str | None]] = []
        reused = 0
        # An unchanged file's sha256 comes from its stat, not its bytes (pipelines/ingest/manifest.py).
        digests = Digests.load(con, spec.name, create_table="ops.input_file_stats" not in layout.columns)
        for position, (source_file, path) in enumerate(current.items(), start=1):
            link = listing.rejected_links.get(source_file)
            # A rejected link's digest names its target, never the target's bytes.
            digest = (
                "symlink:" + hashlib.sha256(link[1].encode()).hexdigest() if link else digests.digest(source_file, path)
            )
            if known.get(source_file) == (digest, version):
                reused += 1
                continue
            pending.append((position, source_file, path, digest, link[1] if link else None))
        digests.save(con)
        for batch, results, read_s in _read_ahead(list(_batches(pending)), spec, input_dir):
            started = time.perf_counter()
            files = [result.source_file for result in results]
            try:
                # Only a file read before holds anything to forget (a file's rows, outcomes,
                # quarantine and ledger entry are written together): for a new file the
                # lookups and deletes each scanned a 10M-row table to find nothing.
                recorded = [source_file for source_file in files if source_file in known]
                if recorded:
                    _set_batch_files(con, recorded)
                    if by_key:
                        _note_keys(con, spec)
                    _forget_files(con, spec)
                _store_files(con, spec, results, version, ingested_at, note_keys=by_key)
            except Exception as error:
                # The machine or a bug while writing; name the batch's files for the operator.
                shown = files[0] if len(files) == 1 else f"{files[0]} .. {files[-1]} ({len(files)} files)"
                raise FileLoadError(f"{spec.name}: {shown}: {type(error).__name__}: {error}") from error
            elapsed = read_s + time.perf_counter() - started
            for (position, *_), result in zip(batch, results, strict=True):
                log.info(
                    "  %s [%d/%d] %s: %s, %s rows read, %s invalid (%s)",
                    spec.name,
                    position,
                    len(current),
                    result.source_file,
                    result.status if result.status == "loaded" else f"REJECTED ({result.reason})",
                    f"{result.rows_read:,}",
                    f"{result.quarantined_count:,}",
                    f"{elapsed:.1f}s"
                    if len(batch) == 1
                    else f"one of a batch of {len(batch)} files read in {elapsed:.1f}s",
                )
            # Release this batch's frames before another batch is read: held until the name
            # is bound again, one batch more would be in memory at once.
            del results
        read = len(pending)
        fingerprint = _inputs_fingerprint(con, spec)
        if staged is not None and staged == (fingerprint, rules):
            log.info("  %s: no file and no registry change since the last build; staging kept", spec.name)
        else:
            # Which state a re-stage by key started from, and the workflows of the keys it
            # decided again: every other workflow's staged rows are untouched, so the change
            # set re-fingerprints only these (pipelines/changes.py).
            restaged_from = _staged_at(con, spec) if by_key else None
            rows = _stage(con, spec, ingested_at, by_key=by_key)
            workflows = (
                [
                    r[0]
                    for r in con.execute(
                        "select distinct workflow_id from scope_keys where workflow_id is not null order by 1"
                    ).fetchall()
                ]
                if by_key
                else None
            )
            con.execute(
                "insert or replace into ops.staging_state "
                "(source, inputs_fingerprint, rules_fingerprint, restaged, rows_restaged, staged_at, "
                "restaged_from, restaged_workflows) values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    spec.name,
                    fingerprint,
                    rules,
                    "by_key" if by_key else "full",
                    rows,
                    ingested_at,
                    restaged_from,
                    workflows,
                ],
            )
            log.info("  %s: re-staged %s, %s rows decided", spec.name, "by key" if by_key else "in full", f"{rows:,}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return _summarise(con, spec, files_seen=len(current), files_read=read, files_reused=reused)


def _record_skipped(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, skipped: list[tuple[str, str]], ingested_at: datetime
) -> None:
    """Replace the source's entries in `ops.skipped_files`: what sits in its place but is not an input file."""
    con.execute("delete from ops.skipped_files where source = ?", [spec.name])
    if skipped:
        con.executemany(
            "insert into ops.skipped_files values (?, ?, ?, ?)",
            [[spec.name, entry, reason, ingested_at] for entry, reason in skipped],
        )


def _inputs_fingerprint(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> str:
    """Everything staging is a function of: this source's files as read, and the registry.

    Staging is rebuilt only when this changes, so an untouched source costs nothing on an
    incremental run.
    """
    sources = [spec.name, "workflows"] if spec.checks_registry else [spec.name]
    rows = con.execute(
        "select source, source_file, sha256, reader_version from ops.ingested_files "
        "where source in (select unnest(?::varchar[])) order by all",
        [sources],
    ).fetchall()
    return hashlib.sha256(repr((STAGING_RULES_VERSION, rows)).encode()).hexdigest()


def _rules_fingerprint(con: duckdb.DuckDBPyConnection, spec: SourceSpec, version: str) -> str:
    """What every row's outcome depends on besides the rows that share its key: the staging
    rules, the reader and (for work items and usage) the registry. While it is unchanged,
    staging can be brought up to date key by key."""
    registry = (
        con.execute(
            "select source_file, sha256, reader_version from ops.ingested_files where source = 'workflows' order by all"
        ).fetchall()
        if spec.checks_registry
        else []
    )
    return hashlib.sha256(repr((STAGING_RULES_VERSION, version, registry)).encode()).hexdigest()


def _staged_state(con: duckdb.DuckDBPyConnection, spec: SourceSpec, *, staging_exists: bool) -> tuple[str, str] | None:
    """(inputs, rules) fingerprints staging was last built from, if the staging table is still there."""
    if not staging_exists:
        return None
    row = con.execute(
        "select inputs_fingerprint, rules_fingerprint from ops.staging_state where source = ?", [spec.name]
    ).fetchall()
    return (row[0][0], row[0][1]) if row else None


def _staged_at(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> str | None:
    """When staging was last brought up to date (the identity of its state), as text."""
    row = con.execute(
        "select cast(staged_at as varchar) from ops.staging_state where source = ?", [spec.name]
    ).fetchone()
    return row[0] if row else None


def _batches(pending: list[tuple[int, str, Path, str, str | None]]):
    """`pending` in consecutive batches of at most BATCH_FILES files and about BATCH_BYTES bytes.

    Small files share a batch (one pass of the row rules, one insert per table); a large
    file fills a batch alone, so memory stays that of the largest file, as before.
    """
    batch: list[tuple[int, str, Path, str, str | None]] = []
    size = 0
    for entry in pending:
        path, link = entry[2], entry[4]
        batch.append(entry)
        size += 0 if link is not None else _size(path)
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_ahead(
    batches: list[list[tuple[int, str, Path, str, str | None]]], spec: SourceSpec, input_dir: Path
) -> Iterator[tuple[list[tuple[int, str, Path, str, str | None]], list[FileResult], float]]:
    """Each batch with its files read (`_read_batch`) and the seconds reading took, in order.

    The next READ_AHEAD batches are read on worker threads while the caller writes this
    one: reading is polars, numpy and a little Python, writing is DuckDB, and all of them
    let go of the GIL while they work. At most READ_AHEAD + 1 batches' rows are in memory:
    two batches ahead took a 10M-item build's peak to 4.04 GiB, over its 4 GiB target (one:
    3.74 GiB; none: 3.56 GiB), so one it is. An error reading a batch is raised when the
    caller reaches that batch, as before.
    """
    if not batches:
        return

    def read(batch: list[tuple[int, str, Path, str, str | None]]) -> tuple[list[FileResult], float]:
        started = time.perf_counter()
        return _read_batch(batch, spec, input_dir), time.perf_counter() - started

    pool = ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix=f"opvalue-read-{spec.name}")
    try:
        ahead = deque(pool.submit(read, batch) for batch in batches[:READ_AHEAD])
        for index, batch in enumerate(batches):
            results, read_s = ahead.popleft().result()
            if index + READ_AHEAD < len(batches):
                ahead.append(pool.submit(read, batches[index + READ_AHEAD]))
            yield batch, results, read_s
            del results
    finally:
        # A write that failed stops the run: the batches being read are not waited for.
        pool.shutdown(wait=False, cancel_futures=True)


def _read_batch(
    batch: list[tuple[int, str, Path, str, str | None]], spec: SourceSpec, input_dir: Path
) -> list[FileResult]:
    """Read a batch of files: each file's text on its own, then the row rules once for all of them.

    Bad input never raises (the file is rejected or its rows quarantined). If running the
    rules over the whole batch raises anyway (a bug meeting an odd value), every file of
    the batch is validated again on its own, so only the file that raises stops the run,
    and the error names it.
    """
    files: list[tuple[RawRows, FileResult]] = []
    results: list[FileResult] = []
    for _, source_file, path, digest, link_reason in batch:
        try:
            if link_reason is not None:
                result, raw = FileResult(spec.name, source_file, 0, digest, status="rejected", reason=link_reason), None
            else:
                result, raw = read_raw_file(path, spec, input_dir, sha256=digest)
        except Exception as error:
            # Bad input is a rejection, not an exception; this is the machine or a bug,
            # and the operator needs to know which file it happened on.
            raise FileLoadError(f"{spec.name}: {source_file}: {type(error).__name__}: {error}") from error
        results.append(result)
        if raw is not None:
            files.append((raw, result))
    now = build_time()
    try:
        validate_many(files, spec, now=now)
    except Exception as error:  # noqa: BLE001 - fall back to one file at a time, which names the culprit
        log.warning(
            "  %s: the batch's row rules failed (%s); validating its %d files one by one", spec.name, error, len(files)
        )
        for raw, result in files:
            fresh = FileResult(spec.name, result.source_file, result.size_bytes, result.sha256)
            try:
                validate_rows(raw, spec, fresh, now=now)
            except Exception as file_error:
                raise FileLoadError(
                    f"{spec.name}: {result.source_file}: {type(file_error).__name__}: {file_error}"
                ) from file_error
            result.__dict__.update(fresh.__dict__)
    return results


def _set_batch_files(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    """Fill the temp table `batch_files`: the files the next statements act on."""
    con.execute("create or replace temp table batch_files as select unnest(?::varchar[]) as source_file", [files])


def _note_keys(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Add the keys of the rows of the files in `batch_files` to `scope_keys`: their outcomes may change."""
    key_list = ", ".join(spec.key)
    con.execute(
        f"insert into scope_keys select distinct {key_list} from ingest.{spec.name}_rows "
        "where source_file in (select source_file from batch_files)"
    )


def _forget_files(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Drop everything the warehouse holds from the files in `batch_files`."""
    in_batch = "source_file in (select source_file from batch_files)"
    con.execute(f"delete from ingest.{spec.name}_rows where {in_batch}")
    con.execute(f"delete from ingest.{spec.name}_outcomes where {in_batch}")
    for table in ("quarantine.rejected_rows", "quarantine.rejected_files", "ops.ingested_files"):
        con.execute(f"delete from {table} where source = ? and {in_batch}", [spec.name])


def _store_files(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    results: list[FileResult],
    version: str,
    ingested_at: datetime,
    *,
    note_keys: bool = False,
) -> None:
    """Write a batch's valid rows, quarantined rows, rejections and manifest entries: one insert per table.

    With `note_keys`, the keys of the rows written are added to `scope_keys` (their outcomes
    may change), taken from the batch's rows in memory rather than found again in the table.
    """
    valid_parts = [r.valid for r in results if r.valid is not None and r.valid.height]
    if valid_parts:
        # One chunk: DuckDB scans a frame of many small chunks ten times slower.
        valid = pl.concat(valid_parts, how="vertical", rechunk=True)  # noqa: F841 - read by DuckDB's replacement scan below
        con.execute(f"insert into ingest.{spec.name}_rows by name select * from valid")
        if note_keys:
            con.execute(f"insert into scope_keys select distinct {', '.join(spec.key)} from valid")
    quarantined_parts = [r.quarantined for r in results if r.quarantined is not None and r.quarantined.height]
    if quarantined_parts:
        quarantined = pl.concat(quarantined_parts, how="vertical", rechunk=True).with_columns(  # noqa: F841
            pl.lit(ingested_at).alias("ingested_at")
        )
        con.execute("insert into quarantine.rejected_rows by name select * from quarantined")
    rejected = [[spec.name, r.source_file, r.reason, ingested_at] for r in results if r.status == "rejected"]
    if rejected:
        con.executemany("insert into quarantine.rejected_files values (?, ?, ?, ?)", rejected)
    manifest = pl.DataFrame(  # noqa: F841 - read by DuckDB's replacement scan below
        {
            "source": [spec.name] * len(results),
            "source_file": [r.source_file for r in results],
            "size_bytes": [r.size_bytes for r in results],
            "sha256": [r.sha256 for r in results],
            "reader_version": [version] * len(results),
            "status": [r.status for r in results],
            "reason": [r.reason for r in results],
            "extra_columns": [r.extra_columns for r in results],
            "rows_read": [r.rows_read for r in results],
            "rows_invalid": [r.quarantined_count for r in results],
            "ingested_at": [ingested_at] * len(results),
        },
        schema_overrides={"reason": pl.String, "extra_columns": pl.List(pl.String), "size_bytes": pl.Int64},
    )
    con.execute("insert into ops.ingested_files by name select * from manifest")


def _stage(con: duckdb.DuckDBPyConnection, spec: SourceSpec, ingested_at: datetime, *, by_key: bool) -> int:
    """Bring `staging.<source>` in line with the rows held and record every row's outcome.

    By key, only the rows whose key is in `scope_keys` are decided again; otherwise all of
    them. Returns how many rows were decided.
    """
    business = list(spec.columns)
    known = "workflow_id in (select workflow_id from staging.workflows)" if spec.checks_registry else "true"
    # The statements that differ between a re-stage by key and a full one fill the
    # placeholders of sql/stage_source.sql; `scope_keys` is a temp table of the keys to decide again.
    sql = sql_text(__file__, "stage_source")
    sections = sql_sections(__file__, "restage_by_key" if by_key else "restage_full")
    for placeholder, statement in sections.items():
        sql = sql.replace("{" + placeholder + "}", statement)
    sql = sql.format(
        source=spec.name,
        business_columns=", ".join(business),
        key_columns=", ".join(spec.key),
        row_columns=", ".join([*business, "source_file", "row_number"]),
        key_label=" + ".join(spec.key),
        known_workflow=known,
        # The registry itself has no registry to be missing from.
        registry_match="quarantined_registry.workflow_id = source_rows.workflow_id"
        if spec.checks_registry
        else "false",
        record_fields=", ".join(f"{name} := source_rows.{name}" for name in business),
        staged_key_match=" and ".join(f"{spec.name}.{name} = scope_keys.{name}" for name in spec.key),
        # Versions differ on a column when their smallest and largest text differ: the same
        # test as counting distinct texts, but count(distinct) per column made DuckDB plan a
        # join of one aggregate per column (30 ms of planning every re-stage).
        differing_columns=", ".join(
            f"case when min({text}) <> max({text}) then '{name}' end"
            for name in business
            if name not in spec.key
            for text in [f"coalesce(cast({name} as varchar), '<blank>')"]
        ),
    )
    run_script(con, sql, {"ingested_at": ingested_at})
    decided = con.execute("select count(*) from row_outcomes").fetchall()[0][0]
    # `row_outcomes` is a view or a table by scope, and `create or replace` cannot turn one
    # into the other: the next load on this connection may re-stage the other way.
    con.execute(f"drop {sections['outcomes_relation']} row_outcomes")
    return decided


def _summarise(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, *, files_seen: int, files_read: int, files_reused: int
) -> SourceSummary:
    totals = con.execute(
        """
        select
            count(*) filter (where status = 'rejected'),
            coalesce(sum(rows_read), 0),
            coalesce(sum(rows_staged), 0),
            coalesce(sum(rows_quarantined), 0),
            coalesce(sum(rows_deduplicated), 0),
            coalesce(sum(rows_superseded), 0)
        from ops.ingested_files where source = ?
        """,
        [spec.name],
    ).fetchone()
    extras = dict(
        con.execute(
            "select source_file, extra_columns from ops.ingested_files where source = ? and len(extra_columns) > 0 order by 1",
            [spec.name],
        ).fetchall()
    )
    rejected = dict(
        con.execute(
            "select source_file, reason from quarantine.rejected_files where source = ? order by 1", [spec.name]
        ).fetchall()
    )
    skipped = dict(
        con.execute("select entry, reason from ops.skipped_files where source = ? order by 1", [spec.name]).fetchall()
    )
    return SourceSummary(
        source=spec.name,
        files_seen=files_seen,
        files_read=files_read,
        files_reused=files_reused,
        files_rejected=totals[0],
        rows_read=totals[1],
        rows_staged=totals[2],
        rows_quarantined=totals[3],
        rows_deduplicated=totals[4],
        rows_superseded=totals[5],
        extra_columns=extras,
        rejected_files=rejected,
        skipped_entries=skipped,
    )
