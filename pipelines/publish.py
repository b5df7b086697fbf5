"""Build the warehouse beside the published file and swap it in atomically.

DuckDB lets one process write a file, or many read it, not both. Dashboards and analysts
hold read connections all day, so a run never opens the published file for writing:

1. it takes an exclusive lock (`.<name>.lock`; the kernel drops it if the process dies),
2. copies the published file to a private build file in the same folder, and starts writing
   the copy to disk in the background (`Build.writeback`),
3. writes every table there,
4. checkpoints it (no WAL left behind), fsyncs it and renames it over the published file.

The CLI starts steps 1 and 2 in a background thread before it imports the pipeline
(`prepare_build`), so the copy overlaps the imports and Dagster's start; the run's
`Build.begin` then takes that build over.

A reader that had the old file open keeps a consistent snapshot until it reconnects; a
new connection sees the new build. A run that fails or is killed, `kill -9` included,
leaves the published file exactly as it was; its build file is removed at once, or by the
next run when the process died.

Before the rename, `refusal_reason` decides whether the build may be published at all: a
mistyped input folder, a missing or empty registry, or a source that the published build
had and the new one lost would otherwise replace a good warehouse with an empty one.

Every run's outcome is appended to a JSON-lines runs log beside the warehouse; when that
folder cannot be written (read-only, full), to a side log in `$DAGSTER_HOME` instead (see
`side_log_path`). Both become `ops.pipeline_runs` at the next published build.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb

from pipelines.sqlfiles import table_exists

log = logging.getLogger("opvalue")
BUILD_SUFFIX = ".building"


class BuildLocked(RuntimeError):
    """Another build of the same warehouse is running."""


class BuildStartError(RuntimeError):
    """A build could not start (lock, copy or warehouse path); the message names the path and the reason."""


class PublishRefused(RuntimeError):
    """The build is complete but must not replace the published warehouse; the message says why."""


def describe(error: BaseException) -> str:
    """`<ErrorClass>: <message>` on one line, the form every recorded failure reason takes."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def lock_path(published: Path) -> Path:
    """The lock file that serialises builds of `published`."""
    return published.with_name(f".{published.name}.lock")


def runs_log_path(published: Path) -> Path:
    """Append-only JSON lines of every run's outcome, failed runs included."""
    return published.with_name(f".{published.name}.runs.jsonl")


SIDE_LOG_NAME = "opvalue-runs.jsonl"


def side_log_path() -> Path:
    """Where a run is recorded when the warehouse folder cannot be written.

    `$DAGSTER_HOME/opvalue-runs.jsonl` (the Makefile sets DAGSTER_HOME), else
    `~/.opvalue/opvalue-runs.jsonl`. Each line names the warehouse it belongs to.
    """
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / SIDE_LOG_NAME if home else Path.home() / ".opvalue" / SIDE_LOG_NAME


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    """Delete a file, or a folder (DuckDB's spill folder `<build>.tmp`), if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def build_leftovers(build: Path) -> list[Path]:
    """The build file and everything DuckDB keeps beside it: WAL and spill folder."""
    return [build, build.with_name(build.name + ".wal"), build.with_name(build.name + ".tmp")]


def remove_stale_builds(published: Path) -> list[Path]:
    """Delete build files (and their WAL and spill folder) left by processes that no longer run."""
    removed = []
    pattern = f".{published.name}.*{BUILD_SUFFIX}*"
    for path in published.parent.glob(pattern):
        try:
            pid = int(path.name[len(published.name) + 2 :].split(".", 1)[0].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or not _pid_alive(pid):
            _remove(path)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class SourceCounts:
    """One source's files and rows in a build, from `ops.ingested_files`."""

    files: int
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    location: str
    """Where the source lives in the input folder: `work_items/`, or the registry file(s)."""


def source_counts(con) -> dict[str, SourceCounts]:
    """Per source, what `ops.ingested_files` holds in the warehouse `con` is connected to."""
    if not table_exists(con, "ops.ingested_files"):
        return {}
    rows = con.execute(
        """
        select source, count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_staged), 0),
               coalesce(sum(rows_quarantined), 0), list(source_file order by source_file)
        from ops.ingested_files group by source
        """
    ).fetchall()
    return {
        source: SourceCounts(int(files), int(read), int(staged), int(quarantined), _location(list(paths)))
        for source, files, read, staged, quarantined, paths in rows
    }


def _location(source_files: list[str]) -> str:
    """`work_items/` for a folder source; the file name(s) for the registry at the input root."""
    folders = sorted({path.split("/", 1)[0] + "/" for path in source_files if "/" in path})
    return folders[0] if len(folders) == 1 else ", ".join(sorted(source_files))


@dataclass
class Build:
    """One run's private copy of the warehouse, and the lock that makes it the only one."""

    published: Path
    path: Path
    lock_handle: IO[str]
    previous: dict[str, SourceCounts] = field(default_factory=dict)
    """What the published build held when this one started, per source (empty on a first build)."""
    writeback: threading.Thread | None = field(default=None, repr=False)
    """The background fsync of the fresh copy (see `_start_writeback`), joined before publishing."""

    @classmethod
    def begin(cls, published: Path, tag: str) -> Build:
        """Lock, clean up after dead runs, and copy the published file (if any) to build on.

        A build this process prepared for the same file (`prepare_build`) is taken over
        instead, once its copy is done. Raises `BuildLocked` when another build runs and
        `BuildStartError`, naming the path and the reason, when the build cannot start;
        nothing is left behind in either case.
        """
        prepared = _claim_prepared(published)
        if prepared is not None:
            return prepared.result()
        return cls._begin(published, tag)

    @classmethod
    def _begin(cls, published: Path, tag: str) -> Build:
        if published.is_dir():
            raise BuildStartError(
                f"the warehouse path {published} is a directory, not a DuckDB file (check OPVALUE_WAREHOUSE)"
            )
        try:
            published.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_path(published).open("a+")
        except OSError as error:
            raise BuildStartError(f"cannot lock {published} for a build: {describe(error)}") from error
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.close()
            raise BuildLocked(
                f"another build of {published} is running (lock {lock_path(published)}); try again when it ends"
            ) from error
        build = published.with_name(f".{published.name}.{os.getpid()}-{tag}{BUILD_SUFFIX}")
        started = cls(published=published, path=build, lock_handle=handle)
        try:
            try:
                for stale in remove_stale_builds(published):
                    log.info("removed a build file left by an interrupted run: %s", stale.name)
                if published.exists():
                    shutil.copyfile(published, build)
                else:  # a first build: find out now, not in the first step, if the folder is writable
                    build.touch()
                    build.unlink()
            except OSError as error:
                raise BuildStartError(
                    f"cannot copy {published} to a build file in {published.parent}: {describe(error)}"
                ) from error
            if published.exists():
                started._start_writeback()
                started.previous = _published_sources(published, build)
        except BaseException:
            started.abandon()
            raise
        return started

    def _start_writeback(self) -> None:
        """fsync the fresh copy in a background thread while the run goes on.

        A copy of the published file is about a gigabyte of dirty pages at 10M items, below
        the kernel's background writeback threshold, so nothing writes it out until someone
        fsyncs the file: and DuckDB does, at the commit of the run's first insert large enough
        to write its rows straight to the file (the changed workflow's item periods). That
        insert took 0.45 s in the run against 0.09 s once the copy was on disk. Written out
        here, during the staging steps, which wait on the CPU, not the disk. Durability does
        not depend on it: `publish` joins it and fsyncs the file itself before the rename.
        """

        def flush(path: Path = self.path) -> None:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                return  # the build is already gone; publish's own fsync reports real trouble
            try:
                os.fsync(fd)
            except OSError as error:
                log.debug("background fsync of %s: %s", path, describe(error))
            finally:
                os.close(fd)

        self.writeback = threading.Thread(target=flush, name="opvalue-build-writeback", daemon=True)
        self.writeback.start()

    def _join_writeback(self) -> None:
        if self.writeback is not None:
            self.writeback.join()
            self.writeback = None

    def publish(self) -> None:
        """Make the build the published warehouse in one rename (the lock is kept: see `release`)."""
        self._join_writeback()
        if build_leftovers(self.path)[1].exists():
            # The run's connection checkpoints the build when it closes, which leaves no WAL;
            # one left behind (a run that never connected, a close that could not checkpoint)
            # is written into the file here. Opening a 1 GB build again only to find nothing
            # to do took 0.04-0.08 s of every publish.
            con = duckdb.connect(str(self.path))
            try:
                con.execute("checkpoint")
            finally:
                con.close()
        with self.path.open("rb") as handle:
            os.fsync(handle.fileno())
        retired = self._keep_published_alive() if _defer_retirement else None
        os.replace(self.path, self.published)
        directory = os.open(self.published.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        if retired is not None:
            _retire(retired)

    def _keep_published_alive(self) -> Path | None:
        """A second name for the published file, so the rename over it frees nothing.

        Freeing a gigabyte-sized file's blocks took 0.19-0.58 s inside the rename on this
        file system (ext4 mounted with `discard`); with the old file still linked here, the
        rename is instant and `_retire` frees it in a process of its own. The name is a build
        file's with this process's id, so a run that finds it after a crash removes it
        (`remove_stale_builds`). None when there is nothing to keep, or the file system
        has no hard links: the rename then frees the file itself, as before.
        """
        retired = self.path.with_name(f".{self.published.name}.{os.getpid()}-retired{BUILD_SUFFIX}")
        try:
            retired.unlink(missing_ok=True)
            os.link(self.published, retired)
        except OSError:
            return None
        return retired

    def abandon(self, release: bool = True) -> None:
        """Throw the build away (file, WAL, spill folder); the published file is untouched.

        `release=False` keeps the lock, so the run can record its outcome first.
        """
        self._join_writeback()
        for leftover in build_leftovers(self.path):
            try:
                _remove(leftover)
            except OSError as error:  # keep going: the next run removes what is left
                log.error("could not remove build leftover %s: %s", leftover, describe(error))
        if release:
            self.release()

    def release(self) -> None:
        """Let the next build start."""
        if not self.lock_handle.closed:
            fcntl.flock(self.lock_handle, fcntl.LOCK_UN)
            self.lock_handle.close()


# Replaced warehouse files being deleted in the background (`defer_retirement`).
_retiring: list[subprocess.Popen] = []
_defer_retirement = False


def defer_retirement(on: bool = True) -> None:
    """After each publish in this process (until called with False), hand the replaced
    warehouse file to a process of its own to delete (`_retire`) instead of freeing it in the
    rename. For a process of its own (the CLI), which then need not wait for it at exit
    (`finish_retirements(wait=False)`); otherwise the rename frees it, as before."""
    global _defer_retirement
    _defer_retirement = on


def _retire(path: Path) -> None:
    """Delete `path`, the replaced file's second name, in a detached `rm`.

    Freeing a gigabyte's blocks took 0.5 s at 10M items (ext4 with `discard`), and a thread
    doing it kept the CLI from exiting for that long after the summary. The `rm` runs in a
    session of its own, so it finishes after the CLI has exited. When it cannot start or
    fails, the name stays behind and the next run removes it (`remove_stale_builds`: the
    name carries this process's id, which is then dead).
    """
    try:
        process = subprocess.Popen(
            ["rm", "-f", "--", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as error:
        log.warning("could not start removing the replaced warehouse %s: %s", path, describe(error))
        return
    _retiring.append(process)


def finish_retirements(wait: bool = True) -> None:
    """Wait until every replaced warehouse file this process published over is deleted.

    `wait=False`: let the deletions finish on their own (the CLI, about to exit)."""
    while _retiring:
        process = _retiring.pop()
        if wait:
            process.wait()


# Builds started ahead of their run by `prepare_build`, by the published file they replace.
_prepared: dict[Path, Future] = {}
_prepared_guard = threading.Lock()


def prepare_build(published: Path, tag: str) -> None:
    """Start `Build.begin(published, tag)` (lock, copy, write-back) in a background thread.

    The next `Build.begin` of the same file in this process takes it over, waiting for the
    copy if need be, and raises what it raised (`BuildLocked`, `BuildStartError`), so a run
    fails and records the failure exactly as if it had started the build itself. The CLI
    calls this before importing the pipeline: copying the published file (0.3-0.5 s at 10M
    items) then overlaps the imports and Dagster's start instead of following them. A
    build never taken over is thrown away by `discard_prepared_builds`.
    """
    key = published.absolute()
    future: Future = Future()
    with _prepared_guard:
        if key in _prepared:
            return
        _prepared[key] = future

    def start() -> None:
        try:
            future.set_result(Build._begin(published, tag))
        except BaseException as error:  # noqa: BLE001 - handed to the run that takes the build over
            future.set_exception(error)

    threading.Thread(target=start, name="opvalue-build-prepare", daemon=True).start()


def _claim_prepared(published: Path) -> Future | None:
    with _prepared_guard:
        return _prepared.pop(published.absolute(), None)


def discard_prepared_builds() -> None:
    """Throw away every build `prepare_build` started that no run took over (the run never
    reached its first step): the build file goes and the lock is released."""
    with _prepared_guard:
        futures = list(_prepared.values())
        _prepared.clear()
    for future in futures:
        try:
            build = future.result()
        except BaseException:  # noqa: BLE001 - it never started: nothing to throw away
            continue
        build.abandon()


def _published_sources(published: Path, build: Path) -> dict[str, SourceCounts]:
    """Per source, what the published build held (read from its fresh copy)."""
    try:
        con = duckdb.connect(str(build), read_only=True)
    except duckdb.Error as error:
        raise BuildStartError(
            f"the published warehouse {published} cannot be opened as a DuckDB file: {describe(error)}"
        ) from error
    try:
        return source_counts(con)
    finally:
        con.close()


def refusal_reason(
    input_dir: Path | None,
    current: dict[str, SourceCounts],
    registry_rows: int,
    previous: dict[str, SourceCounts],
    allow_empty: bool,
) -> str | None:
    """Why this build must not replace the published warehouse, or None when it may.

    `current` and `registry_rows` (rows in `staging.workflows`) describe the build,
    `previous` the published warehouse it would replace. `input_dir` is None when the
    folder is not known (a run that did not select the publishing asset). `allow_empty`
    lets an empty registry or a lost source through, never a missing input folder.
    """
    if input_dir is not None:
        if not input_dir.exists():
            return f"refused to publish: the input folder {input_dir} does not exist (check OPVALUE_INPUT_DIR)"
        if not input_dir.is_dir():
            return f"refused to publish: the input folder {input_dir} is not a folder (check OPVALUE_INPUT_DIR)"
    if allow_empty:
        return None
    override = "; --allow-empty publishes it anyway"
    where = str(input_dir) if input_dir is not None else "the input folder"
    registry = current.get("workflows")
    if registry is None or registry.files == 0:
        return f"refused to publish: no registry in {where}: expected workflows.csv or workflows.parquet{override}"
    if registry_rows == 0:
        return (
            f"refused to publish: the registry {where}/{registry.location} has no valid row "
            f"({registry.rows_read} rows read, {registry.rows_quarantined} quarantined){override}"
        )
    for source, before in sorted(previous.items()):
        if source == "workflows" or before.rows_staged == 0:
            continue
        now = current.get(source)
        folder = f"{where}/{before.location}"
        had = f"the published build staged {before.rows_staged:,} rows from {before.files} file(s)"
        if now is None or now.files == 0:
            state = "is missing" if input_dir is not None and not Path(folder).exists() else "holds no file"
            return f"refused to publish: {folder} {state}, but {had}{override}"
        if now.rows_staged == 0:
            return (
                f"refused to publish: no row of {folder} could be staged ({now.files} file(s), "
                f"{now.rows_read:,} rows read, {now.rows_quarantined:,} quarantined), but {had}{override}"
            )
    return None


def append_run_log(published: Path, record: dict) -> None:
    """Record a run's outcome beside the warehouse (works while readers hold the file)."""
    with runs_log_path(published).open("a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def record_run(published: Path, record: dict) -> Path | None:
    """Append `record` to the runs log beside the warehouse, else to the side log.

    Returns the file it went to, or None when neither could be written (the reason is
    logged, so the operator still sees it). Never raises: a failing run must still end.
    """
    try:
        append_run_log(published, record)
        return runs_log_path(published)
    except OSError as error:
        beside = describe(error)
    side = side_log_path()
    entry = {**record, "warehouse": str(published.absolute()), "runs_log_error": beside}
    try:
        side.parent.mkdir(parents=True, exist_ok=True)
        with side.open("a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
    except OSError as error:
        log.error("could not record run %s anywhere: %s; %s", record.get("run_id"), beside, describe(error))
        return None
    log.warning("the runs log beside %s could not be written (%s); run recorded in %s", published, beside, side)
    return side


def _read_lines(path: Path) -> list[dict]:
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return []
    runs = []
    for line in text.splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def read_run_log(published: Path) -> list[dict]:
    """Every recorded run of this warehouse, oldest first: the runs log beside it, then the
    side log's lines that name it. Unreadable lines are skipped."""
    runs = _read_lines(runs_log_path(published))
    seen = {run.get("run_id") for run in runs}
    target = str(published.absolute())
    runs += [
        run for run in _read_lines(side_log_path()) if run.get("warehouse") == target and run.get("run_id") not in seen
    ]
    return sorted(runs, key=lambda run: str(run.get("started_at") or ""))


def find_run(published: Path, run_id: str) -> dict | None:
    """The recorded outcome of one run, or None when it was not recorded."""
    for run in reversed(read_run_log(published)):
        if run.get("run_id") == run_id:
            return run
    return None
