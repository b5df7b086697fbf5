"""When the warehouse is rebuilt: daily on a schedule, and whenever input files change."""

import hashlib
import json

import dagster as dg

from pipelines.ingest.sources import SOURCES
from pipelines.resources import InputFolderResource

build_warehouse_job = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.all(),
    description="Load every input source, validate it, and rebuild the marts.",
)

daily_build = dg.ScheduleDefinition(
    name="daily_build",
    job=build_warehouse_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="Rebuilds the warehouse every day at 06:00 UTC, whether or not files changed.",
)


def input_fingerprint(input_folder: InputFolderResource) -> str:
    """A digest of every input entry's name, size and modification time.

    Cheap (no file is read) and changes when a file is added, removed, replaced or edited,
    including a link the build would reject, an entry it would skip, and a connector
    mapping under `connectors/` (editing only the mapping changes what the build reads).
    """
    root = input_folder.resolved_path()
    entries: list[tuple[str, int, int]] = []
    for spec in SOURCES:
        listing = spec.listing(root)
        for path in listing.files:
            stat = path.stat()
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
        entries.extend((relative, -1, 0) for relative in sorted(listing.rejected_links))
        entries.extend((relative, -2, 0) for relative, _ in listing.skipped)
    connectors = root / "connectors"
    if connectors.is_dir():
        for path in sorted(connectors.iterdir()):
            if path.is_file():
                stat = path.stat()
                entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(sorted(set(entries))).encode()).hexdigest()


@dg.sensor(
    name="input_files_changed",
    target=build_warehouse_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a build when a file in the input folder is new, changed or removed.",
)
def input_files_changed(context: dg.SensorEvaluationContext, input_folder: InputFolderResource) -> dg.SensorResult:
    """Compare the folder's fingerprint with the cursor; request one run per new state."""
    fingerprint = input_fingerprint(input_folder)
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason="no input file changed since the last build", cursor=fingerprint)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=fingerprint)], cursor=fingerprint)


defs = dg.Definitions(jobs=[build_warehouse_job], schedules=[daily_build], sensors=[input_files_changed])
