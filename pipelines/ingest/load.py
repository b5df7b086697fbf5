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
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines import privacy
from pipelines.ingest.reader import FileResult, file_digest, read_source_file
from pipelines.ingest.sources import SourceSpec
from pipelines.settings import naive_time_zone
from pipelines.sqlfiles import run_script, sql_sections, sql_text

log = logging.getLogger("opvalue")
# Bump when reading rules change in a way the column contract does not show, so every
# file is read again under the new rules.
READER_RULES_VERSION = "2"  # 2: strict timestamps, field counts, pseudonyms, Parquet extras
# Bump when sql/stage_source.sql changes what it produces, so staging is rebuilt in full.
STAGING_RULES_VERSION = "4"  # 4: an item of a quarantined registry row says so

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


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the shared schemas and tables if this warehouse does not have them yet.

    `ops.staging_state` is only a cache of what staging was built from: an older layout is
    dropped, which makes the next load re-stage every source in full.
    """
    state_columns = {
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = 'ops' and table_name = 'staging_state'"
        ).fetchall()
    }
    if state_columns and "rules_fingerprint" not in state_columns:
        con.execute("drop table ops.staging_state")
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


def _ensure_rows_table(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Create `ingest.<source>_rows`; if an older layout is there, drop it and re-read every file."""
    wanted = [
        *((name, _duckdb_type(dtype)) for name, dtype in spec.columns.items()),
        ("row_number", "bigint"),
        ("source_file", "varchar"),
        ("row_hash", "ubigint"),
    ]
    existing = con.execute(
        "select column_name, lower(data_type) from information_schema.columns "
        "where table_schema = 'ingest' and table_name = ? order by ordinal_position",
        [f"{spec.name}_rows"],
    ).fetchall()
    if existing and [name for name, _ in existing] != [name for name, _ in wanted]:
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
    ensure_tables(con)
    _ensure_rows_table(con, spec)
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
        key_list = ", ".join(spec.key)
        con.execute(
            f"create or replace temp table scope_keys as select {key_list} from ingest.{spec.name}_rows limit 0"
        )
        gone = sorted(set(known) - set(current))
        for source_file in gone:
            _note_keys(con, spec, source_file)
            _forget_file(con, spec, source_file)
        _record_skipped(con, spec, listing.skipped, ingested_at)
        read, reused = 0, 0
        for position, (source_file, path) in enumerate(current.items(), start=1):
            link = listing.rejected_links.get(source_file)
            # A rejected link's digest names its target, never the target's bytes.
            digest = "symlink:" + hashlib.sha256(link[1].encode()).hexdigest() if link else file_digest(path)
            if known.get(source_file) == (digest, version):
                reused += 1
                continue
            started = time.perf_counter()
            try:
                if link:
                    result = FileResult(spec.name, source_file, 0, digest, status="rejected", reason=link[1])
                else:
                    result = read_source_file(path, spec, input_dir, sha256=digest)
                _note_keys(con, spec, source_file)
                _forget_file(con, spec, source_file)
                _store_file(con, spec, result, version, ingested_at)
                _note_keys(con, spec, source_file)
            except Exception as error:
                # Bad input is a rejection, not an exception; this is the machine or a bug,
                # and the operator needs to know which file it happened on.
                raise FileLoadError(f"{spec.name}: {source_file}: {type(error).__name__}: {error}") from error
            read += 1
            log.info(
                "  %s [%d/%d] %s: %s, %s rows read, %s invalid (%.1fs)",
                spec.name,
                position,
                len(current),
                source_file,
                result.status if result.status == "loaded" else f"REJECTED ({result.reason})",
                f"{result.rows_read:,}",
                f"{result.quarantined_count:,}",
                time.perf_counter() - started,
            )
        fingerprint, rules = _inputs_fingerprint(con, spec), _rules_fingerprint(con, spec, version)
        staged = _staged_state(con, spec)
        if staged is not None and staged == (fingerprint, rules):
            log.info("  %s: no file and no registry change since the last build; staging kept", spec.name)
        else:
            by_key = staged is not None and staged[1] == rules
            rows = _stage(con, spec, ingested_at, by_key=by_key)
            con.execute(
                "insert or replace into ops.staging_state "
                "(source, inputs_fingerprint, rules_fingerprint, restaged, rows_restaged, staged_at) "
                "values (?, ?, ?, ?, ?, ?)",
                [spec.name, fingerprint, rules, "by_key" if by_key else "full", rows, ingested_at],
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


def _staged_state(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> tuple[str, str] | None:
    """(inputs, rules) fingerprints staging was last built from, if the staging table is still there."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'staging' and table_name = ?",
        [spec.name],
    ).fetchall()[0][0]
    row = con.execute(
        "select inputs_fingerprint, rules_fingerprint from ops.staging_state where source = ?", [spec.name]
    ).fetchall()
    return (row[0][0], row[0][1]) if exists and row else None


def _note_keys(con: duckdb.DuckDBPyConnection, spec: SourceSpec, source_file: str) -> None:
    """Add the keys of one file's rows to `scope_keys`: their outcomes may change."""
    key_list = ", ".join(spec.key)
    con.execute(
        f"insert into scope_keys select distinct {key_list} from ingest.{spec.name}_rows where source_file = ?",
        [source_file],
    )


def _forget_file(con: duckdb.DuckDBPyConnection, spec: SourceSpec, source_file: str) -> None:
    """Drop everything the warehouse holds from one file of this source."""
    params = [spec.name, source_file]
    con.execute(f"delete from ingest.{spec.name}_rows where source_file = ?", [source_file])
    con.execute(f"delete from ingest.{spec.name}_outcomes where source_file = ?", [source_file])
    con.execute("delete from quarantine.rejected_rows where source = ? and source_file = ?", params)
    con.execute("delete from quarantine.rejected_files where source = ? and source_file = ?", params)
    con.execute("delete from ops.ingested_files where source = ? and source_file = ?", params)


def _store_file(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, result: FileResult, version: str, ingested_at: datetime
) -> None:
    """Write one file's valid rows, quarantined rows, rejection and manifest entry."""
    if result.valid is not None and result.valid.height:
        valid = result.valid  # noqa: F841 - read by DuckDB's replacement scan below
        con.execute(f"insert into ingest.{spec.name}_rows by name select * from valid")
    if result.quarantined is not None and result.quarantined.height:
        quarantined = result.quarantined.with_columns(pl.lit(ingested_at).alias("ingested_at"))  # noqa: F841
        con.execute("insert into quarantine.rejected_rows by name select * from quarantined")
    if result.status == "rejected":
        con.execute(
            "insert into quarantine.rejected_files values (?, ?, ?, ?)",
            [spec.name, result.source_file, result.reason, ingested_at],
        )
    con.execute(
        """
        insert into ops.ingested_files
            (source, source_file, size_bytes, sha256, reader_version, status, reason, extra_columns,
             rows_read, rows_invalid, ingested_at)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            spec.name,
            result.source_file,
            result.size_bytes,
            result.sha256,
            version,
            result.status,
            result.reason,
            result.extra_columns,
            result.rows_read,
            result.quarantined_count,
            ingested_at,
        ],
    )


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
    for placeholder, statement in sql_sections(__file__, "restage_by_key" if by_key else "restage_full").items():
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
        differing_columns=", ".join(
            f"case when count(distinct coalesce(cast({name} as varchar), '<blank>')) > 1 then '{name}' end"
            for name in business
            if name not in spec.key
        ),
    )
    run_script(con, sql, {"ingested_at": ingested_at})
    return con.execute("select count(*) from row_outcomes").fetchall()[0][0]


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
