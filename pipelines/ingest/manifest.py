"""Input files' sha256 without reading unchanged files again: a stat check, as git's index does.

The manifest (`ops.ingested_files`) decides whether a file must be read again by its sha256,
and hashing every input file on every run cost about 0.5 s at 10M items (1 GB of exports),
half the staging time of an incremental run. `ops.input_file_stats` keeps, beside each
file's sha256, what `stat` said about the file when it was hashed: size, modification and
change times in nanoseconds, inode and device. A later run that finds all five unchanged
takes the recorded sha256 instead of reading the file.

What the shortcut trusts: that a file whose content changed also shows a new size, mtime or
ctime, or is a new file (another inode). An ordinary write sets mtime and ctime; a tool that
writes new bytes and then sets mtime back (`touch -d`, `cp -p`, `rsync -t`) still moves
ctime, which no program can set back without changing the machine's clock. A replaced file
(a new inode, as `mv` or an editor's save gives) is hashed again whatever its times.

Racy files: timestamps have a resolution (a clock tick, up to 2 s on some file systems), so a
file written in the same tick as it was hashed could be written again without moving any
time. A file whose mtime or ctime is not at least RACY_NS older than the moment its stat was
taken is therefore always hashed again, as git treats an entry no older than its index.
Once a file has been still for that long, the next run records a stat it can trust.

A native export read by a connector (`pipelines.connectors.native_digest`) is never taken
from here: its digest also covers its mapping and seat list, which are hashed every run.
`OPVALUE_VERIFY_DIGESTS=1` (the CLI's `--verify-digests`) hashes every file whatever its stat.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines import settings
from pipelines.ingest.reader import file_digest
from pipelines.sqlfiles import run_script, sql_text

VERIFY_ENV = settings.VERIFY_DIGESTS_ENV
# A stat is trusted only when the file's mtime and ctime are this much older than the moment
# the stat was taken: 2 s covers the coarsest timestamps in use (FAT's 2 s, ext3's 1 s).
RACY_NS = 2_000_000_000


def _clock_ns() -> int:
    """Wall-clock time in ns since the epoch: what a file's times are compared with."""
    return time.time_ns()


def verify_digests() -> bool:
    """Whether every input file is hashed whatever its stat: `$OPVALUE_VERIFY_DIGESTS` set to 1/true/yes."""
    return (os.environ.get(VERIFY_ENV) or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class FileStat:
    """What `stat` says about a file: what the shortcut compares, and when it was taken."""

    size_bytes: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStat:
        """The stat of `path` (following a link inside the input folder to the file it names)."""
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class Recorded:
    """One file's sha256 and the stat it was taken under."""

    stat: FileStat
    sha256: str
    stat_at_ns: int
    """Wall-clock time (ns since the epoch) just before the stat was taken."""

    def settled(self) -> bool:
        """Whether the file had been still for RACY_NS when its stat was taken (else it is racy)."""
        return max(self.stat.mtime_ns, self.stat.ctime_ns) + RACY_NS <= self.stat_at_ns


class Digests:
    """The sha256 of a source's files, from their stat where it can be trusted.

    `load` reads what earlier runs recorded for the source, `digest` gives each file's
    sha256 (hashing it when the record cannot be used), and `save` writes back the records
    of the files seen this run, in the caller's transaction.
    """

    def __init__(self, source: str, recorded: dict[str, Recorded], *, verify: bool) -> None:
        self.source = source
        self.verify = verify
        self._recorded = recorded
        self._seen: dict[str, Recorded] = {}
        self.hashed: list[str] = []
        """Files whose bytes were read for their sha256 this run (the rest came from their stat)."""

    @classmethod
    def load(
        cls, con: duckdb.DuckDBPyConnection, source: str, *, verify: bool | None = None, create_table: bool = True
    ) -> Digests:
        """What earlier runs recorded for `source` (nothing when `verify`, which defaults to the setting).

        `create_table=False` when the caller knows `ops.input_file_stats` exists (it saves two statements).
        """
        if create_table:
            run_script(con, sql_text(__file__, "create_input_file_stats"))
        verify = verify_digests() if verify is None else verify
        rows = (
            []
            if verify
            else con.execute(
                "select source_file, size_bytes, mtime_ns, ctime_ns, inode, device, sha256, stat_at_ns "
                "from ops.input_file_stats where source = ?",
                [source],
            ).fetchall()
        )
        recorded = {row[0]: Recorded(FileStat(row[1], row[2], row[3], row[4], row[5]), row[6], row[7]) for row in rows}
        return cls(source, recorded, verify=verify)

    def digest(self, source_file: str, path: Path) -> str:
        """`path`'s sha256: the recorded one when its stat is unchanged and settled, else hashed now."""
        from pipelines.connectors import native_digest

        if (connector_digest := native_digest(path)) is not None:
            # Covers the native file's mapping and seat list, whose stats are not kept here.
            return connector_digest
        stat_at_ns = _clock_ns()
        before = FileStat.of(path)
        known = self._recorded.get(source_file)
        if not self.verify and known is not None and known.stat == before and known.settled():
            self._seen[source_file] = known
            return known.sha256
        sha256 = file_digest(path)
        self.hashed.append(source_file)
        # A file that changed while it was hashed gets no record: the next run hashes it again.
        if FileStat.of(path) == before:
            self._seen[source_file] = Recorded(before, sha256, stat_at_ns)
        return sha256

    def save(self, con: duckdb.DuckDBPyConnection) -> None:
        """Replace the source's records with those of the files seen this run (a file gone loses its record)."""
        if self._seen == self._recorded:
            return
        con.execute("delete from ops.input_file_stats where source = ?", [self.source])
        if not self._seen:
            return
        names = sorted(self._seen)
        records = [self._seen[name] for name in names]
        stats = pl.DataFrame(  # noqa: F841 - read by DuckDB's replacement scan below
            {
                "source": [self.source] * len(names),
                "source_file": names,
                "size_bytes": [r.stat.size_bytes for r in records],
                "mtime_ns": [r.stat.mtime_ns for r in records],
                "ctime_ns": [r.stat.ctime_ns for r in records],
                "inode": [r.stat.inode for r in records],
                "device": [r.stat.device for r in records],
                "sha256": [r.sha256 for r in records],
                "stat_at_ns": [r.stat_at_ns for r in records],
            },
            schema_overrides={
                "size_bytes": pl.Int64,
                "mtime_ns": pl.Int64,
                "ctime_ns": pl.Int64,
                "inode": pl.UInt64,
                "device": pl.UInt64,
                "stat_at_ns": pl.Int64,
            },
        )
        con.execute("insert into ops.input_file_stats by name select * from stats")
