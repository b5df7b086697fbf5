"""Connectors: native exports (event logs, ticket exports, Copilot usage reports) -> opvalue rows.

Native exports sit in the input folder's `connectors/` sub-folder, each named by a mapping
file (`*.yaml`) beside it. A connector turns its file into the string rows of an existing
source (`work_items` or `usage`); the reader then types, validates, quarantines and ledgers
them like any other file, under the native file's name. A Copilot seat list named by a
mapping supplies the registry's `eligible_users`.

The reader calls in at three points, all in `pipelines/ingest/` and all one line:

- `native_files(source, input_dir)`: the native files a source lists besides its own files;
- `native_digest(path)`: the digest that decides whether a file must be read again (the
  native bytes, its mapping, its seat list and this package's version);
- `native_frame(path, spec)`: the file's rows as strings, or a `FileRejected` with a reason.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.connectors import copilot, event_log, tickets
from pipelines.connectors.common import (
    ConnectorError,
    Conversion,
    csv_header,
    detect_format,
)
from pipelines.connectors.mapping import (
    MAPPING_SUFFIXES,
    TARGET_SOURCE,
    Mapping,
    MappingError,
    load_mapping,
)

log = logging.getLogger("opvalue")

FOLDER = "connectors"
# Bump when a connector's output changes for the same input, so every native file is read again.
CONNECTORS_VERSION = "1"
REGISTRY_STEM = "workflows"

_PLAIN_READ = contextvars.ContextVar("opvalue_connectors_plain_read", default=False)


@dataclass(frozen=True)
class Entry:
    """One file the connectors folder contributes to a source."""

    source: str
    path: Path
    mapping: Mapping | None
    problem: str | None = None
    """Why the file is rejected before it is read (a bad mapping, a missing file)."""


def _folder(input_dir: Path) -> Path:
    return input_dir / FOLDER


def plan(input_dir: Path) -> list[Entry]:
    """Every native file and broken mapping under `connectors/`, with the source it belongs to."""
    folder = _folder(input_dir)
    if not folder.is_dir():
        return []
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)
    mappings = [p for p in files if p.suffix.lower() in MAPPING_SUFFIXES]
    entries: list[Entry] = []
    claimed: dict[str, str] = {}
    for mapping_path in mappings:
        try:
            mapping = load_mapping(mapping_path)
        except MappingError as error:
            entries.append(Entry(_loose_source(mapping_path), mapping_path, None, str(error)))
            continue
        native = mapping.native_path
        if native.name in claimed:
            entries.append(
                Entry(
                    mapping.source,
                    mapping_path,
                    None,
                    f"mapping {mapping_path.name}: '{native.name}' is already read by mapping {claimed[native.name]}",
                )
            )
            continue
        if not native.is_file():
            entries.append(
                Entry(
                    mapping.source,
                    mapping_path,
                    None,
                    f"mapping {mapping_path.name}: the file '{native.name}' it names is not in {FOLDER}/",
                )
            )
            continue
        seats = mapping.get("seats")
        if seats and not (folder / seats).is_file():
            entries.append(
                Entry(
                    mapping.source,
                    mapping_path,
                    None,
                    f"mapping {mapping_path.name}: the seat list '{seats}' it names is not in {FOLDER}/",
                )
            )
            continue
        claimed[native.name] = mapping_path.name
        if mapping.get("seats"):
            claimed.setdefault(mapping.get("seats"), mapping_path.name)
        entries.append(Entry(mapping.source, native, mapping))
    for path in files:
        if path in mappings or path.name in claimed:
            continue
        # A native file nobody maps is reported, not ignored: the user meant it to be read.
        entries.append(
            Entry(
                "work_items",
                path,
                None,
                f"no mapping file in {FOLDER}/ names '{path.name}' (add one: see docs/connectors.md)",
            )
        )
    return entries


def _loose_source(path: Path) -> str:
    """The source a broken mapping is reported under: its connector's, when that can be read."""
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:50]:
            if line.strip().startswith("connector:"):
                return TARGET_SOURCE.get(line.split(":", 1)[1].strip().strip("'\""), "work_items")
    except OSError:
        pass
    return "work_items"


def native_files(source: str, input_dir: Path) -> list[Path]:
    """The connector files (native exports, or broken mappings) that belong to `source`."""
    return [entry.path for entry in plan(input_dir) if entry.source == source]


def _entry_for(path: Path) -> Entry | None:
    if path.parent.name != FOLDER:
        return None
    for entry in plan(path.parent.parent):
        if entry.path == path:
            return entry
    return None


def _seat_mappings(input_dir: Path) -> list[Mapping]:
    return [e.mapping for e in plan(input_dir) if e.mapping is not None and e.mapping.get("seats")]


def _is_registry(path: Path) -> bool:
    return path.stem == REGISTRY_STEM and path.parent.joinpath(FOLDER).is_dir()


def native_digest(path: Path) -> str | None:
    """sha256 over everything a connector-read file depends on, or None for an ordinary file."""
    if _is_registry(path):
        seats = _seat_mappings(path.parent)
        if not seats:
            return None
        parts = [path, *(p for m in seats for p in (m.path, m.path.parent / m.get("seats")))]
    else:
        entry = _entry_for(path)
        if entry is None:
            return None
        parts = [path]
        if entry.mapping is not None:
            parts.append(entry.mapping.path)
            if entry.mapping.get("seats"):
                parts.append(entry.mapping.path.parent / entry.mapping.get("seats"))
    digest = hashlib.sha256(f"opvalue-connectors-{CONNECTORS_VERSION}".encode())
    for part in parts:
        digest.update(part.name.encode() + b"\0")
        if part.is_file():
            with part.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def convert(path: Path, mapping: Mapping) -> Conversion:
    """Run the mapping's connector on its native file; `ConnectorError` when it cannot."""
    kind = detect_format(path)
    if mapping.connector == "event_log":
        if kind not in ("xes", "csv", "parquet"):
            raise ConnectorError(f"an event log must be XES, CSV or Parquet; this file looks like {kind}")
        return event_log.convert(path, mapping, kind)
    if mapping.connector in ("tickets", "jira"):
        return tickets.convert(path, mapping)
    if mapping.connector == "github_copilot":
        return copilot.convert_github(path, mapping)
    return copilot.convert_m365(path, mapping)


def native_frame(path: Path, spec):
    """The rows (strings, the source's columns; a frame, or the reader's RawRows for a registry) of a connector file, or None for an ordinary file.

    Raises the reader's `FileRejected` with the reason when the file or its mapping is unusable.
    """
    if _PLAIN_READ.get():
        return None
    from pipelines.ingest.reader import FileRejected

    if spec.name == "workflows":
        return _registry_with_seats(path, spec) if _is_registry(path) else None
    entry = _entry_for(path)
    if entry is None:
        return None
    if entry.problem is not None or entry.mapping is None:
        raise FileRejected(entry.problem or "no mapping")
    try:
        conversion = convert(path, entry.mapping)
    except ConnectorError as error:
        raise FileRejected(f"{entry.mapping.connector} connector ({entry.mapping.path.name}): {error}") from None
    log.info("  connector %s %s/%s: %s", entry.mapping.connector, FOLDER, path.name, conversion.note)
    return conversion.frame.select([c for c in spec.columns if c in conversion.frame.columns])


def _registry_with_seats(path: Path, spec):
    """The registry file as read, with `eligible_users` from each mapped Copilot seat list."""
    from pipelines.ingest.reader import _read_raw

    mappings = _seat_mappings(path.parent)
    if not mappings:
        return None
    token = _PLAIN_READ.set(True)
    try:
        raw = _read_raw(path, spec)
    finally:
        _PLAIN_READ.reset(token)
    frame = raw.frame
    counts: dict[str, int] = {}
    for mapping in mappings:
        try:
            for workflow_id, n in copilot.eligible_by_workflow(mapping).items():
                counts[workflow_id] = counts.get(workflow_id, 0) + n
        except ConnectorError as error:
            # The usage file of this mapping is rejected with the same reason; the registry
            # keeps its own eligible_users rather than losing every workflow.
            log.warning("  connector github_copilot %s: seat list not used: %s", mapping.path.name, error)
    if not counts:
        return raw
    seats = pl.DataFrame({"workflow_id": list(counts), "__seats": [str(n) for n in counts.values()]})
    frame = frame.with_row_index("__order").join(seats, on="workflow_id", how="left").sort("__order")
    log.info(
        "  connector github_copilot seat lists: eligible_users from seats for %s",
        ", ".join(f"{w}={n}" for w, n in sorted(counts.items())),
    )
    # The registry keeps its row numbers and malformed rows; only eligible_users changes.
    return dataclasses.replace(
        raw,
        frame=frame.with_columns(pl.coalesce("__seats", "eligible_users").alias("eligible_users")).drop(
            "__order", "__seats"
        ),
    )


def guess_mapping(path: Path) -> Mapping:
    """A default mapping for a file previewed without one, from its detected format."""
    from pipelines.connectors.mapping import parse_mapping

    kind = detect_format(path)
    workflow = "".join(ch if ch.isalnum() else "_" for ch in path.name.split(".")[0].lower()) or "workflow"
    if kind == "xes":
        text = f"connector: event_log\nfile: {path.name}\nworkflow: {{id: {workflow}}}\n"
    elif kind in ("json", "ndjson"):
        text = f"connector: github_copilot\nfile: {path.name}\nworkflow: {{id: {workflow}}}\n"
    elif kind in ("csv", "parquet"):
        header = csv_header(path) if kind == "csv" else []
        if copilot.M365_USER in header:
            text = f"connector: m365_copilot\nfile: {path.name}\nworkflow: {{id: {workflow}}}\n"
        elif "Issue key" in header:
            text = f"connector: jira\nfile: {path.name}\nworkflow: {{id: {workflow}}}\n"
        else:
            text = f"connector: event_log\nfile: {path.name}\nworkflow: {{id: {workflow}}}\n"
    else:
        raise ConnectorError(f"cannot tell what this file is (detected: {kind}); give --mapping")
    # The guess assumes UTC for naive timestamps; the preview says so.
    return parse_mapping(text + "timezone: UTC\n", path.parent / f"{path.name}.preview.yaml")
