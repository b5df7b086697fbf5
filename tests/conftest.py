"""Shared fixtures: small input folders written by hand, and warehouses under tmp_path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

REGISTRY_HEADER = (
    "workflow_id,name,business_owner,team,stage,deployed_on,eligible_users,risk_tier,"
    "primary_metric,target_change_pct,review_point,support_path,data_scope"
)
ITEMS_HEADER = "item_id,workflow_id,opened_at,closed_at,rework_count,touchpoints,had_error,external_spend,ai_assisted"


@pytest.fixture(autouse=True, scope="session")
def _pseudonym_key_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Builds under test create their pseudonym key in a temporary folder, never in data/keys/."""
    if "OPVALUE_PSEUDONYM_KEY" not in os.environ and "OPVALUE_PSEUDONYM_KEY_FILE" not in os.environ:
        os.environ["OPVALUE_PSEUDONYM_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "pseudonym.key")


@pytest.fixture
def own_pseudonym_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test reads and writes under a pseudonym key file of its own (`tmp_path/keys/`), never
    the checkout's or the session's; returns the key file's path (created on first use)."""
    key_file = tmp_path / "keys" / "pseudonym.key"
    monkeypatch.delenv("OPVALUE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("OPVALUE_PSEUDONYM_KEY_FILE", str(key_file))
    return key_file


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def tiny_inputs(tmp_path: Path) -> Path:
    """A small input folder where every row rule is broken once, with known outcomes."""
    root = tmp_path / "inputs"
    write(
        root / "workflows.csv",
        f"""
        {REGISTRY_HEADER}
        wf_a,Claims triage,Ann,Ops,Production,2026-03-01,10,low,,-20,QA lead,#help,claims
        wf_b,Invoice match,,Finance,pilot,,,,rework_rate,,,,
        wf_bad,Bad stage,Bob,Ops,someday,2026-03-01,5,low,,,,,
        wf_c,No users,Cy,Ops,production,2026-03-01,,low,,,,,
        """,
    )
    write(
        root / "work_items" / "items_2026_01.csv",
        f"""
        {ITEMS_HEADER},notes
        i1,wf_a,2026-01-05T09:00:00Z,2026-01-06T09:00:00Z,0,2,no,0,false,x
        i1,wf_a,2026-01-05T09:00:00Z,2026-01-06T09:00:00Z,0,2,no,0,false,x
        i2,wf_a,2026-01-05T09:00:00+02:00,,0,2,no,0,false,
        i3,wf_a,2026-01-05 09:00:00,2026-01-04 09:00:00,0,2,no,0,false,
        i4,wf_a,not-a-date,,0,2,no,0,false,
        i5,wf_a,2026-01-05,,-1,2,no,0,false,
        i6,wf_a,2026-01-05,,0,0,no,0,false,
        i7,wf_a,2026-01-05,,0,2,maybe,0,false,
        i8,wf_zzz,2026-01-05,,0,2,no,0,false,
        i9,wf_a,2026-01-05,,0,2,no,0,false,
        i9,wf_a,2026-01-05,,1,2,no,0,false,
        ,wf_a,2026-01-05,,0,2,no,0,false,
        i10,wf_b,2026-01-05,,0,2,YES,12.5,1,
        """,
    )
    write(
        root / "work_items" / "items_2026_02.csv",
        f"""
        {ITEMS_HEADER}
        i2,wf_a,2026-01-05T09:00:00+02:00,2026-01-07T00:00:00Z,1,3,no,0,true
        i11,wf_a,2026-02-01T00:00:00Z,,0,1,0,1e2,0
        """,
    )
    write(
        root / "work_items" / "items_legacy.csv",
        """
        item_id,workflow_id,opened_at
        x1,wf_a,2026-01-01
        """,
    )
    write(
        root / "usage" / "usage_2026_03.csv",
        """
        usage_date,user_id,workflow_id,actions
        2026-03-02,u1,wf_a,4
        2026-03-02,u2,wf_a,0
        2026-03-02,u3,wf_a,-2
        2026-03-32,u4,wf_a,1
        2026-03-02,u5,wf_nope,1
        """,
    )
    return root


SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


def build_warehouse(input_dir: Path, warehouse: Path) -> Path:
    """Materialise every asset in-process, as `make pipeline` does, into `warehouse`."""
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.resources import InputFolderResource, WarehouseResource

    assets = list(defs.assets or [])
    result = dg.materialize(
        assets,
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "input_folder": InputFolderResource(path=str(input_dir)),
        },
        raise_on_error=True,
    )
    assert result.success
    return warehouse


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> Path:
    """The bundled sample, built once per test session into a temporary DuckDB file."""
    return build_warehouse(SAMPLE_DIR, tmp_path_factory.mktemp("sample") / "opvalue.duckdb")
