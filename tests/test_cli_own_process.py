"""`python -m pipelines.cli build` keeps what it imported out of Python's garbage collection;
a build called in-process (tests, scripts) leaves the caller's collector alone."""

from __future__ import annotations

import gc

from pipelines import cli


def test_only_a_process_of_its_own_freezes_its_imports(tiny_inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("OPVALUE_INPUT_DIR", str(tiny_inputs))
    monkeypatch.setenv("OPVALUE_WAREHOUSE", str(tmp_path / "wh" / "w.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    gc.unfreeze()
    try:
        assert cli.main(["build"]) == 0
        assert gc.get_freeze_count() == 0
        assert cli.main(["build"], own_process=True) == 0
        # Dagster's and the pipeline's modules, at least: well over a hundred thousand objects.
        assert gc.get_freeze_count() > 100_000
        assert gc.isenabled()  # stopped only while the pipeline was imported
    finally:
        gc.unfreeze()
