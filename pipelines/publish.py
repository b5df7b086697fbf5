"""Build the warehouse beside the published file and swap it in atomically.

DuckDB lets one process write a file, or many read it, not both. Dashboards and analysts
hold read connections all day, so a run never opens the published file for writing:

1. it takes an exclusive lock (`.<name>.lock`; the kernel drops it if the process dies),
2. copies the published file to a private build file in the same folder,
3. writes every table there,
4. checkpoints it (no WAL left behind), fsyncs it and renames it over the published file.

A reader that had the old file open keeps a consistent snapshot until it reconnects; a
new connection sees the new build. A run that fails or is killed, `kill -9` included,
leaves the published file exactly as it was; its build file is removed at once, or by the
next run when the process died.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import duckdb

log = logging.getLogger("opvalue")
BUILD_SUFFIX = ".building"


class BuildLocked(RuntimeError):
    """Another build of the same warehouse is running."""


def lock_path(published: Path) -> Path:
    """The lock file that serialises builds of `published`."""
    return published.with_name(f".{published.name}.lock")


def runs_log_path(published: Path) -> Path:
    """Append-only JSON lines of every run's outcome, failed runs included."""
    return published.with_name(f".{published.name}.runs.jsonl")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_builds(published: Path) -> list[Path]:
    """Delete build files (and their WAL) left by processes that no longer run."""
    removed = []
    pattern = f".{published.name}.*{BUILD_SUFFIX}*"
    for path in published.parent.glob(pattern):
        try:
            pid = int(path.name[len(published.name) + 2 :].split(".", 1)[0].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or not _pid_alive(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@dataclass
class Build:
    """One run's private copy of the warehouse, and the lock that makes it the only one."""

    published: Path
    path: Path
    lock_handle: IO[str]

    @classmethod
    def begin(cls, published: Path, tag: str) -> Build:
        """Lock, clean up after dead runs, and copy the published file (if any) to build on."""
        published.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path(published).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.close()
            raise BuildLocked(
                f"another build of {published} is running (lock {lock_path(published)}); try again when it ends"
            ) from error
        for stale in remove_stale_builds(published):
            log.info("removed a build file left by an interrupted run: %s", stale.name)
        build = published.with_name(f".{published.name}.{os.getpid()}-{tag}{BUILD_SUFFIX}")
        if published.exists():
            shutil.copyfile(published, build)
        return cls(published=published, path=build, lock_handle=handle)

    def publish(self) -> None:
        """Make the build the published warehouse in one rename."""
        con = duckdb.connect(str(self.path))
        try:
            con.execute("checkpoint")
        finally:
            con.close()
        with self.path.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.path, self.published)
        directory = os.open(self.published.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._release()

    def abandon(self) -> None:
        """Throw the build away; the published file is untouched."""
        for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if not self.lock_handle.closed:
            fcntl.flock(self.lock_handle, fcntl.LOCK_UN)
            self.lock_handle.close()


def append_run_log(published: Path, record: dict) -> None:
    """Record a run's outcome beside the warehouse (works while readers hold the file)."""
    with runs_log_path(published).open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def read_run_log(published: Path) -> list[dict]:
    """Every recorded run, oldest first; unreadable lines are skipped."""
    path = runs_log_path(published)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs
