"""Issue 10, part A: never publish a wrong warehouse; every failure says why and is recorded.

Finding 1: a mistyped, missing or empty input folder, registry or source is refused (exit 3,
one line naming the path, a failed run record) and the published file stays byte-identical.
Finding 7: failures before the first step (read-only folder, a directory as the warehouse,
no space) print the real reason, are recorded, and leave no build file behind.
Finding 13: Dagster's run history in DAGSTER_HOME stays bounded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines import cli
from pipelines.monitoring.publish_gate import PUBLISH_STEP
from pipelines.publish import SIDE_LOG_NAME, runs_log_path
from tests.conftest import REGISTRY_HEADER
from tests.test_operations import write_items

ROOT = Path(__file__).parents[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(warehouse: Path) -> list[Path]:
    """Build files, WAL and spill folders of any run, beside the warehouse."""
    return sorted(warehouse.parent.glob(f".{warehouse.name}.*building*"))


def records(warehouse: Path) -> list[dict]:
    path = runs_log_path(warehouse)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME of the test's own, holding the shipped dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def run_cli(monkeypatch, capsys, dagster_home):
    """`python -m pipelines.cli build [args]` in-process: (exit code, stderr, stdout)."""

    def run(input_dir: Path, warehouse: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("OPVALUE_INPUT_DIR", str(input_dir))
        monkeypatch.setenv("OPVALUE_WAREHOUSE", str(warehouse))
        capsys.readouterr()
        code = cli.main(["build", *args])
        out = capsys.readouterr()
        return code, out.err, out.out

    return run


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> dict[str, Path]:
    """Warehouses already built, by the digest of the input folder they were built from."""
    return {"_root": tmp_path_factory.mktemp("built_once")}


def folder_digest(folder: Path) -> str:
    entries = sorted((p.relative_to(folder).as_posix(), p.read_bytes()) for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(repr(entries).encode()).hexdigest()


@pytest.fixture
def published(tiny_inputs, tmp_path, run_cli, built_once) -> Path:
    """A good warehouse built from the tiny inputs by the CLI, with its runs log.

    The CLI builds it once per module; later tests get a byte-identical copy (a build
    depends on the input files' content, not on where the folder is).
    """
    warehouse = tmp_path / "wh" / "w.duckdb"
    key = folder_digest(tiny_inputs)
    if key not in built_once:
        code, err, _ = run_cli(tiny_inputs, warehouse)
        assert code == 0, err
        template = built_once["_root"] / key
        template.mkdir()
        for path in (warehouse, runs_log_path(warehouse)):
            shutil.copy(path, template / path.name)
        built_once[key] = template
    else:
        warehouse.parent.mkdir(parents=True)
        for path in built_once[key].iterdir():
            shutil.copy(path, warehouse.parent / path.name)
    return warehouse


def _header_only_registry(inputs: Path) -> None:
    (inputs / "workflows.csv").write_text(REGISTRY_HEADER + "\n")


def _mistyped(inputs: Path) -> Path:
    return inputs.with_name(inputs.name + "_typo")


def _a_file(inputs: Path) -> Path:
    target = inputs.parent / "inputs.txt"
    target.write_text("not a folder")
    return target


# case: (how to break the input folder, the folder to pass, the expected message's words)
REFUSALS = {
    "mistyped_folder": (None, _mistyped, "the input folder {inputs}_typo does not exist"),
    "input_is_a_file": (None, _a_file, "the input folder {parent}/inputs.txt is not a folder"),
    "missing_registry": (lambda i: (i / "workflows.csv").unlink(), None, "no registry in {inputs}"),
    "header_only_registry": (
        _header_only_registry,
        None,
        "the registry {inputs}/workflows.csv has no valid row (0 rows read",
    ),
    "missing_work_items": (
        lambda i: shutil.rmtree(i / "work_items"),
        None,
        "{inputs}/work_items/ is missing, but the published build staged",
    ),
    "empty_usage": (
        lambda i: [p.unlink() for p in (i / "usage").iterdir()],
        None,
        "{inputs}/usage/ holds no file, but the published build staged",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_finding_1_a_wrong_input_folder_is_refused_and_the_published_warehouse_kept(
    case, tiny_inputs, published, run_cli
):
    before = digest(published)
    breaks, folder, expected = REFUSALS[case]
    if breaks:
        breaks(tiny_inputs)
    input_dir = folder(tiny_inputs) if folder else tiny_inputs

    code, err, out = run_cli(input_dir, published)

    message = expected.format(inputs=tiny_inputs, parent=tiny_inputs.parent)
    assert code == cli.EXIT_REFUSED, err
    refusal = [line for line in err.splitlines() if line.startswith("refused to publish:")]
    assert len(refusal) == 1 and message in refusal[0], err
    assert "Summary" not in out
    assert digest(published) == before
    assert not leftovers(published)
    last = records(published)[-1]
    assert last["status"] == "failed" and message in last["message"]


def test_finding_1_a_refused_run_reaches_ops_pipeline_runs_at_the_next_publish(tiny_inputs, published, run_cli):
    shutil.move(tiny_inputs / "work_items", tiny_inputs.parent / "aside")
    assert run_cli(tiny_inputs, published)[0] == cli.EXIT_REFUSED
    shutil.move(tiny_inputs.parent / "aside", tiny_inputs / "work_items")
    assert run_cli(tiny_inputs, published)[0] == 0
    con = duckdb.connect(str(published), read_only=True)
    statuses = con.execute("select status, message from ops.pipeline_runs order by started_at").fetchall()
    assert [s for s, _ in statuses] == ["success", "failed", "success"]
    assert "work_items/ is missing" in statuses[1][1]


def test_finding_1_allow_empty_publishes_what_was_refused(tiny_inputs, published, run_cli):
    before = digest(published)
    shutil.rmtree(tiny_inputs / "work_items")
    code, err, _ = run_cli(tiny_inputs, published, "--allow-empty")
    assert code == 0, err
    assert digest(published) != before
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("select count(*) from staging.work_items").fetchone()[0] == 0
    assert con.execute("select count(*) from staging.workflows").fetchone()[0] > 0


def test_finding_1_allow_empty_never_publishes_a_missing_input_folder(tiny_inputs, published, run_cli):
    before = digest(published)
    code, err, _ = run_cli(_mistyped(tiny_inputs), published, "--allow-empty")
    assert code == cli.EXIT_REFUSED and "does not exist" in err
    assert digest(published) == before


def test_finding_1_a_first_build_without_a_registry_is_refused(tmp_path, run_cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    warehouse = tmp_path / "first.duckdb"
    code, err, _ = run_cli(empty, warehouse)
    assert code == cli.EXIT_REFUSED and f"no registry in {empty}" in err
    assert not warehouse.exists() and not leftovers(warehouse)
    assert run_cli(empty, warehouse, "--allow-empty")[0] == 0 and warehouse.exists()


def test_finding_1_the_dagster_job_refuses_the_same_way(tiny_inputs, published):
    """The schedule and the sensor run the job, not the CLI: the publishing step fails there too."""
    from pipelines.definitions import defs
    from pipelines.resources import InputFolderResource, WarehouseResource

    before = digest(published)
    shutil.rmtree(tiny_inputs / "work_items")
    resources = {
        "warehouse": WarehouseResource(path=str(published)),
        "input_folder": InputFolderResource(path=str(tiny_inputs)),
    }
    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failed == [PUBLISH_STEP]
    assert digest(published) == before
    assert "work_items/ is missing" in records(published)[-1]["message"]


def test_finding_1_make_passes_allow_empty_through():
    def recipe(*args: str) -> str:
        run = subprocess.run(["make", "-n", "pipeline", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return next(line for line in run.stdout.splitlines() if "pipelines.cli build" in line)

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    assert recipe("ALLOW_EMPTY=1").endswith("pipelines.cli build --allow-empty")
    assert recipe().endswith("pipelines.cli build")


# Finding 7: failures before the first step, and a full disk.


def test_finding_7_a_warehouse_path_that_is_a_directory_is_named_and_recorded(tiny_inputs, tmp_path, run_cli):
    warehouse = tmp_path / "wh.duckdb"
    warehouse.mkdir()
    code, err, _ = run_cli(tiny_inputs, warehouse)
    assert code == cli.EXIT_FAILED
    assert f"FAILED the warehouse path {warehouse} is a directory" in err
    assert records(warehouse)[-1]["status"] == "failed"
    assert "is a directory" in records(warehouse)[-1]["message"]
    assert not leftovers(warehouse)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size under tmp_path (needs mount rights), unmounted afterwards."""
    mounted = []

    def mount(name: str, size: str) -> Path:
        path = tmp_path / name
        if not _mount_tmpfs(path, size):
            pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def test_finding_7_a_read_only_warehouse_folder_prints_why_and_is_recorded_in_the_side_log(
    tiny_inputs, tmp_path, run_cli, dagster_home, small_disk
):
    if os.geteuid() != 0:  # permissions bind an ordinary user
        folder = tmp_path / "ro"
        folder.mkdir()
        read_only, writable = (lambda: folder.chmod(0o555)), (lambda: folder.chmod(0o755))
    else:  # root ignores permissions: use a file system mounted read-only
        folder = small_disk("ro", "64m")

        def remount(mode: str) -> None:
            assert (
                subprocess.run(
                    ["mount", "-o", f"remount,{mode}", str(folder)], capture_output=True, check=False
                ).returncode
                == 0
            )

        read_only, writable = (lambda: remount("ro")), (lambda: remount("rw"))
    code, err, _ = run_cli(tiny_inputs, folder / "w.duckdb")
    assert code == 0, err
    warehouse = folder / "w.duckdb"
    before = digest(warehouse)
    read_only()

    code, err, _ = run_cli(tiny_inputs, warehouse)
    assert code == cli.EXIT_FAILED
    assert ("Read-only file system" in err or "Permission denied" in err) and str(folder) in err
    reason = "Read-only file system" if "Read-only file system" in err else "Permission denied"
    side_log = dagster_home / SIDE_LOG_NAME
    if os.geteuid() == 0:  # nothing in a read-only file system can be written: the side log takes it
        assert f"recorded in {side_log}" in err
        last = json.loads(side_log.read_text().splitlines()[-1])
        assert last["warehouse"] == str(warehouse)
    else:  # a read-only folder still lets its existing runs log be appended to
        last = records(warehouse)[-1]
    assert last["status"] == "failed" and reason in last["message"]
    assert digest(warehouse) == before

    # Writable again: the next published build carries the failed run in ops.pipeline_runs.
    writable()
    assert run_cli(tiny_inputs, warehouse)[0] == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    messages = [m for (m,) in con.execute("select message from ops.pipeline_runs where status = 'failed'").fetchall()]
    assert any(reason in m for m in messages)


def test_finding_7_no_space_for_the_copy_prints_why_leaves_nothing_and_is_recorded(
    published, tiny_inputs, run_cli, monkeypatch
):
    from pipelines import publish

    before = digest(published)

    def copy_half_then_fill_the_disk(source, target, *args, **kwargs):
        Path(target).write_bytes(Path(source).read_bytes()[: 1 << 20])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(publish.shutil, "copyfile", copy_half_then_fill_the_disk)
    code, err, _ = run_cli(tiny_inputs, published)
    assert code == cli.EXIT_FAILED
    assert "No space left on device" in err and f"cannot copy {published}" in err
    assert not leftovers(published)
    assert digest(published) == before
    assert "No space left on device" in records(published)[-1]["message"]


def test_finding_7_a_full_disk_mid_build_leaves_no_build_file_and_keeps_the_record(
    published, tiny_inputs, run_cli, monkeypatch
):
    """The disk is full while the build file exists: a step fails, and so would any write
    beside the warehouse, until the build's files are gone."""
    import pipelines.monitoring.assets as monitoring_assets

    before = digest(published)
    folder = published.parent
    real_open = Path.open

    def full_while_building(self, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and Path(self).parent == folder and leftovers(published):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_open(self, mode, *args, **kwargs)

    def fill_the_disk(con, *args, **kwargs):
        con.execute(
            "create or replace table ops.ballast as select range as n, repeat('x', 100) as pad from range(200000)"
        )
        raise duckdb.IOException(f'Could not write file "{folder}/.w.duckdb.wal": No space left on device')

    monkeypatch.setattr(Path, "open", full_while_building)
    monkeypatch.setattr(monitoring_assets, "run_script", fill_the_disk)
    code, err, _ = run_cli(tiny_inputs, published)
    assert code == cli.EXIT_FAILED
    assert "FAILED monitoring__source_freshness failed: IOException" in err and "No space left on device" in err
    assert not leftovers(published)
    assert digest(published) == before
    last = records(published)[-1]
    assert last["status"] == "failed" and "No space left on device" in last["message"]


def test_finding_7_a_really_full_disk_mid_build_leaves_no_build_file(published, tiny_inputs, run_cli, small_disk):
    """The same on a real small filesystem: the build outgrows it."""
    size = published.stat().st_size
    disk = small_disk("full", f"{(2 * size + (1 << 20)) // 1024}k")  # the copy fits; the new rows do not
    warehouse = disk / "w.duckdb"
    shutil.copy(published, warehouse)
    before = digest(warehouse)
    write_items(tiny_inputs / "work_items" / "items_2026_03.csv", 60_000, seed=3)

    code, err, _ = run_cli(tiny_inputs, warehouse)
    assert code == cli.EXIT_FAILED, err
    # Which error names the full disk depends on where DuckDB ran out; a step failed either way.
    assert "FAILED staging__" in err or "FAILED monitoring__" in err or "FAILED marts__" in err, err
    assert not leftovers(warehouse)
    assert digest(warehouse) == before
    assert records(warehouse)[-1]["status"] == "failed"


# Finding 13: Dagster's run history.


def test_finding_13_run_history_in_dagster_home_stays_bounded(
    tiny_inputs, tmp_path, run_cli, dagster_home, monkeypatch
):
    monkeypatch.setenv("OPVALUE_KEEP_RUNS", "1")
    warehouse = tmp_path / "w.duckdb"
    for _ in range(3):
        assert run_cli(tiny_inputs, warehouse)[0] == 0

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_run_records()
    assert len(runs) == 2  # the one kept, and the run that was pruning when it ended
    kept = {record.dagster_run.run_id for record in runs}
    recorded = [run["run_id"] for run in records(warehouse)]
    assert kept == set(recorded[1:]), "the oldest run should be the one deleted"
    assert {p.name for p in (dagster_home / "storage").iterdir()} <= kept
    shards = {p.stem for p in (dagster_home / "history" / "runs").glob("*.db")} - {"index"}
    assert shards <= kept


def test_finding_13_the_shipped_dagster_yaml_sets_tick_retention_and_make_installs_it(tmp_path, dagster_home):
    with dg.DagsterInstance.get() as instance:
        retention = instance.get_settings("retention")
    assert retention["sensor"]["purge_after_days"]["skipped"] > 0
    assert retention["schedule"]["purge_after_days"] > 0
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    home = tmp_path / "fresh_home"
    run = subprocess.run(
        ["make", "-n", "pipeline", f"DAGSTER_HOME={home}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert f"cp pipelines/dagster.yaml {home}/dagster.yaml" in run.stdout


def test_finding_1_a_run_of_some_assets_only_passes_the_same_gate(tiny_inputs, published):
    """A subset launched from the UI has no publishing step; the teardown applies the same rules."""
    from pipelines.definitions import defs
    from pipelines.resources import InputFolderResource, WarehouseResource

    before = digest(published)
    shutil.rmtree(tiny_inputs / "work_items")
    resources = {
        "warehouse": WarehouseResource(path=str(published)),
        "input_folder": InputFolderResource(path=str(tiny_inputs)),
    }
    staging_only = ["staging/workflows", "staging/work_items", "staging/usage"]
    with dg.instance_for_test() as instance:
        dg.materialize(
            list(defs.assets), selection=staging_only, resources=resources, instance=instance, raise_on_error=False
        )
    assert digest(published) == before
    assert not leftovers(published)
    last = records(published)[-1]
    assert last["status"] == "failed" and "work_items/ holds no file" in last["message"]
