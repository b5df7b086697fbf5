"""The data contract page and templates stay in step with the pandera models."""

from __future__ import annotations

import inspect
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


# --- README's Layout: the table -> asset -> file map, generated from the Definitions ---

LAYERS = ("staging", "intermediate", "marts", "monitoring")
# Asset key prefix = layer; the warehouse schema is the analysts' API and keeps its name.
SCHEMA_OF_LAYER = {"monitoring": "ops"}
MAP_START = "<!-- asset-map:start (generated: .venv/bin/python -m tests.test_contract_docs) -->"
MAP_END = "<!-- asset-map:end -->"


def asset_map() -> str:
    """The README's map, one row per asset: the table it writes, its key and group, its files."""
    from pipelines.definitions import defs
    from pipelines.monitoring.publish_gate import PUBLISHED_WAREHOUSE

    graph = defs.resolve_asset_graph()
    rows = []
    for key in graph.get_all_asset_keys():
        assets_def = graph.assets_def_for_key(key)
        function = assets_def.op.compute_fn
        module = (
            Path(inspect.getfile(getattr(function, "decorated_fn", function))).resolve().relative_to(ROOT.resolve())
        )
        files = [module.as_posix()]
        sql = module.parent / "sql" / f"{key.path[-1]}.sql"
        if (ROOT / sql).is_file():
            files.append(sql.as_posix())
        layer, name = key.path[0], key.path[-1]
        if key == PUBLISHED_WAREHOUSE:
            table = "the published file; `ops.pipeline_runs`, `ops.run_source_counts`"
        else:
            table = f"`{SCHEMA_OF_LAYER.get(layer, layer)}.{name}`"
        group = graph.get(key).group_name
        cells = f"| {table} | `{key.to_user_string()}` ({group}) | {', '.join(f'`{f}`' for f in files)} |"
        rows.append(((LAYERS.index(layer), *key.path), cells))
    lines = ["| table | asset (group) | files |", "|---|---|---|"] + [cells for _, cells in sorted(rows)]
    return "\n".join(lines)


def test_the_readme_maps_every_table_to_its_asset_and_file():
    readme = (ROOT / "README.md").read_text()
    assert MAP_START in readme and MAP_END in readme, "README's Layout lost the generated map's markers"
    documented = readme.split(MAP_START, 1)[1].split(MAP_END, 1)[0].strip()
    expected = asset_map()
    assert documented == expected, f"README's table -> asset -> file map is stale; paste:\n{expected}"


def test_every_file_the_map_names_exists_and_every_warehouse_table_is_in_it():
    mapped = asset_map()
    for cell in mapped.split("`"):
        if cell.startswith("pipelines/"):
            assert (ROOT / cell).is_file(), cell
    warehouse = (ROOT / "docs" / "warehouse.md").read_text()
    for line in warehouse.splitlines():
        if line.startswith("### `") and line.split("`")[1].split(".")[0] in {"staging", "marts"}:
            assert f"`{line.split('`')[1]}`" in mapped, line


def test_the_layout_lists_every_top_level_folder_module_and_doc():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for entry in sorted((ROOT / "pipelines").iterdir()):
        if entry.name not in {"__init__.py", "__pycache__"}:
            assert f"pipelines/{entry.name}{'/' if entry.is_dir() else ''}" in layout, entry.name
    for entry in sorted(ROOT.iterdir()):
        if not entry.name.startswith(".") and entry.name not in {"pipelines", "README.md"}:
            assert entry.name in layout, entry.name
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{doc.name})" in readme, doc.name


if __name__ == "__main__":
    print(asset_map())
