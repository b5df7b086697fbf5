"""The single Dagster Definitions of opvalue, merged from each domain's module."""

from __future__ import annotations

import dagster as dg

from pipelines import automation
from pipelines.governance import assets as governance
from pipelines.ingest import assets as ingest
from pipelines.measurement import assets as measurement
from pipelines.metrics import assets as metrics
from pipelines.monitoring import assets as monitoring
from pipelines.monitoring.publish_gate import published_warehouse_asset
from pipelines.resources import InputFolderResource, WarehouseResource
from pipelines.value import assets as value

_domains = [ingest.defs, metrics.defs, measurement.defs, monitoring.defs, value.defs, governance.defs]
# The publishing step comes after every asset of every domain, whatever they add.
_built = [key for domain in _domains for asset in (domain.assets or []) for key in asset.keys]

# Warehouse and input paths resolve from OPVALUE_WAREHOUSE / OPVALUE_INPUT_DIR when a run
# starts (see pipelines/settings.py); DuckDB allows one writer, so steps run in one process.
defs = dg.Definitions.merge(
    *_domains,
    automation.defs,
    dg.Definitions(
        assets=[published_warehouse_asset(_built)],
        resources={"warehouse": WarehouseResource(), "input_folder": InputFolderResource()},
        executor=dg.in_process_executor,
    ),
)
