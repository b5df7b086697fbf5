"""An input file's sha256 from its stat (pipelines/ingest/manifest.py): when it is trusted, when not.

The clock the manifest compares file times with is moved forward in these tests (the
files were written a moment ago, so each would otherwise be racy and hashed every time);
`hashed` lists the files whose bytes were read, through the real `file_digest`.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import manifest
from pipelines.ingest.load import load_source
from pipelines.ingest.manifest import RACY_NS, VERIFY_ENV, Digests
from pipelines.ingest.sources import WORK_ITEMS, WORKFLOWS
from tests.test_connectors import SMALL_XES, SMALL_XES_MAPPING

INGESTED_AT = datetime(2026, 11, 1)
JAN = "work_items/items_2026_01.csv"


@pytest.fixture(autouse=True)
def _own_pseudonym_key(own_pseudonym_key, monkeypatch):
    """Every test reads under its own key file (tests/conftest.py) and trusts stats unless it says otherwise."""
    monkeypatch.delenv(VERIFY_ENV, raising=False)


@pytest.fixture
def later(monkeypatch):
    """Runs happen a minute after the files were last written: their stats are settled."""
    monkeypatch.setattr(manifest, "_clock_ns", lambda: manifest.time.time_ns() + 60 * 1_000_000_000)


@pytest.fixture
def hashed(monkeypatch) -> list[Path]:
    """Every file whose bytes are read for a digest, in order."""
    calls: list[Path] = []
    real = manifest.file_digest

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(manifest, "file_digest", counting)
    return calls


def _run(con: duckdb.DuckDBPyConnection, source: str, files: dict[str, Path], **kwargs) -> tuple[dict, list[str]]:
    digests = Digests.load(con, source, **kwargs)
    found = {name: digests.digest(name, path) for name, path in files.items()}
    digests.save(con)
    return found, digests.hashed


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unchanged_settled_file_is_not_read_again(tmp_path, later, hashed):
    con = duckdb.connect()
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n")
    first, first_hashed = _run(con, "work_items", {"a.csv": path})
    again, again_hashed = _run(con, "work_items", {"a.csv": path})
    assert first == again == {"a.csv": _sha(path)}
    assert (first_hashed, again_hashed, len(hashed)) == (["a.csv"], [], 1)


def test_new_content_with_a_new_mtime_is_hashed_and_the_file_read_again(tiny_inputs, tmp_path, later, hashed):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_source(con, WORKFLOWS, tiny_inputs, INGESTED_AT)
    load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT).files_read == 0
    path = tiny_inputs / JAN
    hashed.clear()
    path.write_text(path.read_text().replace("i9,wf_a,2026-01-05,,1,2", "i9,wf_a,2026-01-05,,1,3"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    after = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert (after.files_read, [p.name for p in hashed]) == (1, [path.name])
    assert con.execute("select sha256 from ops.ingested_files where source_file = ?", [JAN]).fetchone()[0] == _sha(path)


def test_rewritten_bytes_with_size_and_mtime_put_back_are_caught_by_ctime(tiny_inputs, tmp_path, later, hashed):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_source(con, WORKFLOWS, tiny_inputs, INGESTED_AT)
    load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    path = tiny_inputs / JAN
    before = path.stat()
    recorded_ctime = con.execute("select ctime_ns from ops.input_file_stats where source_file = ?", [JAN]).fetchone()[0]
    # Same size, same mtime (as `touch -d` or `cp -p` would leave it): only ctime moves.
    text = path.read_text()
    path.write_text(text.replace("i9,wf_a,2026-01-05,,1,2", "i9,wf_a,2026-01-05,,1,3"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    now = path.stat()
    assert (now.st_size, now.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    if now.st_ctime_ns == recorded_ctime:
        pytest.skip("this file system did not move ctime between two writes; nothing to compare")
    hashed.clear()
    after = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert (after.files_read, [p.name for p in hashed]) == (1, [path.name])
    assert con.execute(
        "select rework_count, touchpoints from ingest.work_items_rows where item_id = 'i9' and rework_count = 1"
    ).fetchall() == [(1, 3)]


def test_a_touched_file_is_hashed_again_and_its_rows_kept(tiny_inputs, tmp_path, later, hashed):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_source(con, WORKFLOWS, tiny_inputs, INGESTED_AT)
    load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    path = tiny_inputs / JAN
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    hashed.clear()
    after = load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    # Hashed again (its mtime moved), found unchanged, so not read: reused like the others.
    assert [p.name for p in hashed] == [path.name]
    assert (after.files_read, after.files_reused) == (0, 3)
    # The new stat is recorded, so the run after that reads nothing at all.
    hashed.clear()
    load_source(con, WORK_ITEMS, tiny_inputs, INGESTED_AT)
    assert hashed == []


def test_a_racy_file_is_hashed_again_until_it_has_been_still_long_enough(tmp_path, monkeypatch, hashed):
    con = duckdb.connect()
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n")
    mtime = path.stat().st_mtime_ns
    ctime = path.stat().st_ctime_ns
    # Hashed in the same clock tick as the file was written: its stat proves nothing.
    monkeypatch.setattr(manifest, "_clock_ns", lambda: max(mtime, ctime) + RACY_NS // 2)
    _run(con, "usage", {"a.csv": path})
    assert _run(con, "usage", {"a.csv": path})[1] == ["a.csv"]
    assert con.execute("select stat_at_ns from ops.input_file_stats").fetchone()[0] < max(mtime, ctime) + RACY_NS
    # A run once the file has been still for RACY_NS records a stat that the next run trusts.
    monkeypatch.setattr(manifest, "_clock_ns", lambda: max(mtime, ctime) + RACY_NS + 1)
    assert _run(con, "usage", {"a.csv": path})[1] == ["a.csv"]
    assert _run(con, "usage", {"a.csv": path})[1] == []


def test_verify_hashes_every_file_the_setting_and_the_argument(tmp_path, later, monkeypatch, hashed):
    con = duckdb.connect()
    files = {name: tmp_path / name for name in ("a.csv", "b.csv")}
    for name, path in files.items():
        path.write_text(f"x\n{name}\n")
    _run(con, "work_items", files)
    assert _run(con, "work_items", files)[1] == []
    assert _run(con, "work_items", files, verify=True)[1] == ["a.csv", "b.csv"]
    monkeypatch.setenv(VERIFY_ENV, "1")
    assert _run(con, "work_items", files)[1] == ["a.csv", "b.csv"]
    monkeypatch.setenv(VERIFY_ENV, "0")
    assert _run(con, "work_items", files)[1] == []


def test_a_file_replaced_by_another_of_the_same_size_and_times_is_hashed(tmp_path, later, hashed):
    con = duckdb.connect()
    path = tmp_path / "a.csv"
    path.write_text("x\n1\n")
    before = path.stat()
    first, _ = _run(con, "work_items", {"a.csv": path})
    # Another file (a new inode), same size, given the old file's times, moved over it.
    other = tmp_path / "a.csv.new"
    other.write_text("x\n2\n")
    keep = tmp_path / "a.csv.kept"
    path.rename(keep)  # kept, so the new file cannot reuse the old inode number
    other.rename(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino != before.st_ino and path.stat().st_size == before.st_size
    again, again_hashed = _run(con, "work_items", {"a.csv": path})
    assert again_hashed == ["a.csv"] and again["a.csv"] == _sha(path) != first["a.csv"]


def test_a_file_gone_loses_its_record(tmp_path, later):
    con = duckdb.connect()
    files = {name: tmp_path / name for name in ("a.csv", "b.csv")}
    for name, path in files.items():
        path.write_text(f"x\n{name}\n")
    _run(con, "work_items", files)
    _run(con, "work_items", {"a.csv": files["a.csv"]})
    assert con.execute("select source_file from ops.input_file_stats").fetchall() == [("a.csv",)]


def test_a_connector_file_digest_still_covers_its_mapping(tmp_path, later, hashed):
    root = tmp_path / "inputs" / "connectors"
    root.mkdir(parents=True)
    native, mapping = root / "log.xes", root / "log.yaml"
    native.write_text(SMALL_XES)
    mapping.write_text(SMALL_XES_MAPPING)
    con = duckdb.connect()
    first, _ = _run(con, "work_items", {"connectors/log.xes": native})
    # The native file's own stat is unchanged; its mapping is not.
    mapping.write_text(SMALL_XES_MAPPING.replace("close]", "close, check]"))
    again, _ = _run(con, "work_items", {"connectors/log.xes": native})
    assert again != first
    # Never taken from a stat: no record is kept for it.
    assert con.execute("select count(*) from ops.input_file_stats").fetchone()[0] == 0


def test_the_cli_flag_verifies_every_digest(tiny_inputs, tmp_path, later, hashed, monkeypatch):
    from pipelines import cli

    monkeypatch.setenv(VERIFY_ENV, "")  # restored after the test: the flag sets it for the process
    monkeypatch.setenv("OPVALUE_INPUT_DIR", str(tiny_inputs))
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(tmp_path / "wh" / "w.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    inputs = sorted(p.name for p in tiny_inputs.rglob("*") if p.is_file())
    assert cli.main(["build"]) == 0
    assert sorted(p.name for p in hashed) == inputs
    hashed.clear()
    assert cli.main(["build", "--verify-digests"]) == 0
    assert sorted(p.name for p in hashed) == inputs


def test_the_cli_names_the_same_setting(capsys):
    from pipelines import cli

    with pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    assert f"{VERIFY_ENV}=1" in " ".join(capsys.readouterr().out.split())
