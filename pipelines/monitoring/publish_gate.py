"""The last asset of every build: refuse a wrong warehouse, or publish the build.

It runs after every other asset, so the check sees the finished build. Refusing fails this
step, and so the run, the same way whether the run came from `make pipeline`, the schedule,
the sensor or the UI; the build is then thrown away and the published file is untouched.
"""

import dagster as dg

from pipelines.monitoring.assets import MONITORING_GROUP
from pipelines.progress import step
from pipelines.resources import InputFolderResource, WarehouseResource

PUBLISHED_WAREHOUSE = dg.AssetKey(["monitoring", "published_warehouse"])
PUBLISH_STEP = "monitoring__published_warehouse"


class PublishConfig(dg.Config):
    """Run configuration of the publishing step."""

    allow_empty: bool = False
    """Publish even when the registry has no valid row or a source the published build had is
    now missing or empty (`python -m pipelines.cli build --allow-empty`). A missing input
    folder is refused whatever this says."""


def published_warehouse_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publishing asset, downstream of every asset in `upstream` (all of the build)."""

    @dg.asset(key=PUBLISHED_WAREHOUSE, group_name=MONITORING_GROUP, kinds={"duckdb"}, deps=upstream)
    def published_warehouse(
        context: dg.AssetExecutionContext,
        config: PublishConfig,
        warehouse: WarehouseResource,
        input_folder: InputFolderResource,
    ) -> dg.MaterializeResult:
        """The warehouse readers see. This step refuses to publish the build when the input
        folder is missing or not a folder, when the registry is missing or has no valid row,
        or when a source the published build had (work items, usage) is now missing or empty;
        each refusal fails the run with one line naming the path, and the published file stays
        byte-identical. Otherwise it swaps the build in atomically."""
        with step("publish"):
            published = warehouse.publish(input_folder.resolved_path(), config.allow_empty, context.run_id)
        return dg.MaterializeResult(
            metadata={
                "warehouse": dg.MetadataValue.path(published["warehouse"]),
                "allow_empty": config.allow_empty,
                **({"bytes": published["bytes"]} if "bytes" in published else {}),
                "rows_staged": dg.MetadataValue.json(published["sources"]),
            }
        )

    return published_warehouse
