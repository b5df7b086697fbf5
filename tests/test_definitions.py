"""The Dagster definitions load and carry what the UI and operators rely on."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from pipelines.definitions import defs
from pipelines.resources import WarehouseResource  # resolved at module level: Dagster reads the annotation


def test_definitions_load_with_every_asset_check_schedule_and_sensor():
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {
        "staging/workflows",
        "staging/work_items",
        "staging/usage",
        "intermediate/item_periods",
        "marts/value_metrics",
        "marts/adoption",
        "marts/workflow_scorecard",
    } <= keys
    assert defs.resolve_job_def("build_warehouse") is not None
    assert defs.resolve_schedule_def("daily_build").cron_schedule == "0 6 * * *"
    assert defs.resolve_sensor_def("input_files_changed") is not None
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"rows_reconcile", "no_quarantined_rows", "no_rejected_files", "grain"} <= checks


def test_every_asset_has_a_description_group_and_kinds():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and len(node.description) > 40, key
        assert node.group_name in {"ingest", "metrics", "measurement", "value", "governance", "monitoring"}, key
        assert node.kinds, key


def test_the_group_is_the_folder_and_the_key_prefix_is_the_layer():
    """From the Dagster UI to the file: group `g` lives in `pipelines/g/`; a key starts with its layer."""
    for assets_def in defs.assets:
        function = assets_def.op.compute_fn
        module = getattr(function, "decorated_fn", function).__module__
        folder = module.split(".")[1]
        assert set(assets_def.group_names_by_key.values()) == {folder}, (module, assets_def.keys)
        for key in assets_def.keys:
            assert key.path[0] in {"staging", "intermediate", "marts", "monitoring"}, key


def test_workspace_points_at_the_definitions_module():
    from pathlib import Path

    import yaml

    workspace = yaml.safe_load((Path(__file__).parents[1] / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "pipelines.definitions"


def test_resources_default_to_the_documented_environment(monkeypatch, tmp_path):
    from pipelines.resources import InputFolderResource, WarehouseResource

    monkeypatch.delenv("OPVALUE_WAREHOUSE", raising=False)
    monkeypatch.delenv("OPVALUE_INPUT_DIR", raising=False)
    assert str(WarehouseResource().resolved_path()) == "data/warehouse/opvalue.duckdb"
    assert str(InputFolderResource().resolved_path()) == "data/sample"
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(tmp_path / "elsewhere.duckdb"))
    monkeypatch.setenv("OPVALUE_INPUT_DIR", str(tmp_path / "inputs"))
    assert WarehouseResource().resolved_path() == tmp_path / "elsewhere.duckdb"
    assert InputFolderResource().resolved_path() == tmp_path / "inputs"
    assert isinstance(defs.resources["warehouse"], WarehouseResource)
    assert isinstance(dg.in_process_executor, dg.ExecutorDefinition)


def test_a_shared_catalog_location_is_connected_to_in_place(monkeypatch):
    """OPVALUE_WAREHOUSE may name MotherDuck or DuckLake; no code change, no local copy."""
    import duckdb

    from pipelines.resources import WarehouseResource

    opened = []

    class FakeConnection:
        def close(self):
            opened.append("closed")

    monkeypatch.setattr(duckdb, "connect", lambda target, *a, **k: opened.append(target) or FakeConnection())
    monkeypatch.setenv("OPVALUE_WAREHOUSE", "md:opvalue")
    resource = WarehouseResource()
    assert resource.is_remote()
    with resource.connect():
        pass
    assert opened == ["md:opvalue", "closed"]
    assert WarehouseResource(path="ducklake:metadata.ducklake").is_remote()
    assert not WarehouseResource(path="/srv/opvalue/opvalue.duckdb").is_remote()


def test_a_warehouse_url_stays_intact_and_the_pipeline_and_dashboard_resolve_the_same_target(monkeypatch):
    """`s3://bucket/x.duckdb` once became `s3:/bucket/x.duckdb` (a Path); one function now resolves it."""
    import duckdb
    import pytest

    from dashboards import data
    from pipelines import settings
    from pipelines.resources import WarehouseResource

    for target in ("s3://bucket/x.duckdb", "md:opvalue", "/srv/opvalue/opvalue.duckdb"):
        monkeypatch.setenv("OPVALUE_WAREHOUSE", target)
        assert settings.warehouse_target() == WarehouseResource().target() == data.warehouse_target() == target
    monkeypatch.delenv("OPVALUE_WAREHOUSE")
    assert WarehouseResource().target() == data.warehouse_target() == "data/warehouse/opvalue.duckdb"

    monkeypatch.setenv("OPVALUE_WAREHOUSE", "s3://bucket/x.duckdb")
    assert WarehouseResource().is_remote()
    assert data.current_warehouse().path == "s3://bucket/x.duckdb"
    with pytest.raises(settings.SettingError, match="s3://bucket/x.duckdb"):
        settings.warehouse_path()
    opened = []

    class FakeConnection:
        def close(self):
            opened.append("closed")

    monkeypatch.setattr(duckdb, "connect", lambda target, *a, **k: opened.append(target) or FakeConnection())
    with WarehouseResource().connect():
        pass
    assert opened == ["s3://bucket/x.duckdb", "closed"]


def test_a_grouped_step_keeps_each_tables_asset_and_checks_and_a_failing_check_fails(tmp_path):
    """Small tables share one Dagster step (pipelines/asset_helpers.grouped_step): each is still
    its own asset with its own checks, and a check fails for its own table only."""
    from pipelines.asset_helpers import build_parts, grain_check, grouped_step, table_part

    graph = defs.resolve_asset_graph()
    step_of = {key.to_user_string(): graph.assets_def_for_key(key).node_def.name for key in graph.get_all_asset_keys()}
    assert step_of["marts/stage_funnel"] == step_of["intermediate/governance_as_of"] == "marts__governance"
    assert step_of["marts/readiness"] == "marts__governance_gate"
    assert step_of["marts/portfolio_value"] == step_of["marts/scorecard_history"] == "marts__value"
    assert step_of["marts/monthly_adoption"] == "marts__adoption"
    assert (
        step_of["intermediate/workflow_changes"]
        == step_of["intermediate/week_persistence"]
        == "intermediate__change_set"
    )
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert {
        ("marts/stage_funnel", "grain"),
        ("marts/portfolio_value", "grain"),
        ("marts/monthly_adoption", "grain"),
    } <= checks

    unique, doubled = dg.AssetKey(["marts", "unique_rows"]), dg.AssetKey(["marts", "doubled_rows"])

    def part(key: dg.AssetKey, rows: str):
        @table_part(
            key=key,
            group_name="metrics",
            kinds={"duckdb"},
            check_specs=[dg.AssetCheckSpec("grain", asset=key, description="One row per id.")],
        )
        def build(warehouse: WarehouseResource) -> dg.MaterializeResult:
            """A table of ids, for the test of a grouped step's checks (one row per id)."""
            with warehouse.connect() as con:
                con.execute("create schema if not exists marts")
                con.execute(f"create or replace table marts.{key.path[-1]} as select * from (values {rows}) as t (id)")
                return dg.MaterializeResult(check_results=[grain_check(con, f"marts.{key.path[-1]}", ["id"])])

        return build

    parts = [part(unique, "(1), (2)"), part(doubled, "(1), (1)")]

    @grouped_step("marts__test", parts)
    def test_step(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
        """Two tables in one step, one of them with a duplicated id."""
        yield from build_parts(warehouse, parts)

    result = dg.materialize(
        [test_step], resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))}, raise_on_error=False
    )
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialised == {unique, doubled}
    outcome = {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert outcome == {(unique, "grain"): True, (doubled, "grain"): False}
