"""The data contract page and templates stay in step with the pandera models."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.sources import SOURCES

ROOT = Path(__file__).parents[1]
TEMPLATES = {
    "workflows": "workflows.csv",
    "work_items": "work_items.csv",
    "usage": "usage.csv",
    "workflow_stages": "workflow_stages.csv",
    "feedback": "feedback.csv",
}


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_template_header_is_the_contract(spec):
    header = (ROOT / "data" / "templates" / TEMPLATES[spec.name]).read_text().strip().split(",")
    assert header == list(spec.columns)


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_every_column_is_documented_and_described(spec):
    doc = (ROOT / "docs" / "data-contract.md").read_text()
    schema = spec.model.to_schema()
    for name, column in schema.columns.items():
        assert f"`{name}`" in doc, name
        assert column.description, f"{spec.name}.{name} has no pandera description"
