"""The mapping file: one YAML format for every connector, validated before any data is read.

A mapping names the connector, the native export it reads (`file`, in the mapping's own
folder) and how that export's columns or attributes become opvalue's rows. A bad mapping is
never a crash: `load_mapping` raises `MappingError` whose message is the reason the
native file is rejected. docs/connectors.md documents every key.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAPPING_SUFFIXES = (".yaml", ".yml")
# Largest mapping file read; a mapping is a few dozen lines, a huge one is hostile.
MAPPING_LIMIT_BYTES = 256 * 1024

CONNECTORS = ("event_log", "tickets", "jira", "github_copilot", "m365_copilot")
TARGET_SOURCE = {
    "event_log": "work_items",
    "tickets": "work_items",
    "jira": "work_items",
    "github_copilot": "usage",
    "m365_copilot": "usage",
}


class MappingError(ValueError):
    """The mapping file cannot be used; the message says which key and why."""


# --- the grammar: key -> checker; a checker returns the cleaned value or raises ------------


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
        raise MappingError(f"{where}: expected a non-empty text, got {value!r}")
    return str(value).strip()


def _text_list(value: Any, where: str) -> list[str]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise MappingError(f"{where}: expected a list of texts, got {value!r}")
    return [_text(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _value_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise MappingError(f"{where}: expected a mapping of native value -> opvalue value, got {value!r}")
    return {_text(k, f"{where} key"): _text(v, f"{where}[{k!r}]") for k, v in value.items()}


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise MappingError(f"{where}: expected true or false, got {value!r}")
    return value


def _section(keys: dict[str, Any], *, one_of: tuple[str, ...] = (), requires: dict[str, tuple[str, ...]] | None = None):
    """A checker for a nested section with its own known keys."""

    def check(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise MappingError(f"{where}: expected a section with keys {', '.join(keys)}, got {value!r}")
        cleaned = _check_keys(value, keys, where)
        present = [k for k in one_of if k in cleaned]
        if one_of and len(present) != 1:
            raise MappingError(f"{where}: give exactly one of {', '.join(one_of)}")
        for key, needed in (requires or {}).items():
            if key in cleaned and not all(n in cleaned for n in needed):
                raise MappingError(f"{where}: '{key}' needs {', '.join(needed)} too")
        return cleaned

    return check


def _check_keys(raw: dict, keys: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(str(k) for k in raw if k not in keys)
    if unknown:
        raise MappingError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; known keys: {', '.join(keys)}"
        )
    return {key: keys[key](value, f"{where}.{key}" if where else key) for key, value in raw.items()}


def _timezone(value: Any, where: str) -> str:
    name = _text(value, where)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"{where}: '{name}' is not an IANA time zone (e.g. UTC, Europe/Amsterdam)") from None
    return name


WORKFLOW = _section(
    {
        "id": _text,
        "attribute": _text,
        "values": _value_map,
        "default": _text,
        "users": _value_map,
        "teams": _value_map,
        "apps": _value_map,
    },
    requires={"values": ("attribute",)},
)
MATCH = _section(
    {"activities": _text_list, "attribute": _text, "values": _text_list}, requires={"values": ("attribute",)}
)

COMMON = {
    "connector": _text,
    "file": _text,
    "timezone": _timezone,
    "timestamp_format": _text,
    "workflow": WORKFLOW,
    "missing_values": _text_list,
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "event_log": {
        **COMMON,
        "columns": _section(
            {"case": _text, "activity": _text, "timestamp": _text, "resource": _text, "lifecycle": _text}
        ),
        "lifecycle_counted": _text_list,
        "complete": MATCH,
        "rework": _section({"activities": _text_list}),
        "error": MATCH,
        "spend": _text,
        "team": _text,
        "touchpoints": _text,
        "ai_assisted": _section({"attribute": _text, "values": _text_list}),
    },
    "tickets": {
        **COMMON,
        "rows": _text,
        "columns": _section(
            {
                "key": _text,
                "opened": _text,
                "resolved": _text,
                "closed": _text,
                "updated": _text,
                "state": _text,
                "team": _text,
                "reassignment_count": _text,
                "reopen_count": _text,
                "spend": _text,
            }
        ),
        "open_states": _text_list,
        "rework": _section({"states": _text_list}),
        "error": _section({"reopened": _bool, "column": _text, "values": _text_list}),
        "ai_assisted": _section({"column": _text, "values": _text_list}),
    },
    "github_copilot": {**COMMON, "seats": _text, "user": _text},
    "m365_copilot": dict(COMMON),
}
SCHEMAS["jira"] = SCHEMAS["tickets"]

# Jira's issue CSV export ("Export > CSV (all fields)"): the columns a preset can rely on.
JIRA_PRESET = {
    "rows": "ticket",
    "timestamp_format": "%d/%b/%y %I:%M %p",
    "columns": {
        "key": "Issue key",
        "opened": "Created",
        "resolved": "Resolved",
        "updated": "Updated",
        "state": "Status",
    },
}


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    path: Path
    connector: str
    file: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The opvalue source the connector's rows belong to."""
        return TARGET_SOURCE[self.connector]

    @property
    def native_path(self) -> Path:
        return self.path.parent / self.file

    @property
    def timezone(self) -> str:
        return self.options.get("timezone", "UTC")

    def get(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


def parse_mapping(text: str, path: Path) -> Mapping:
    """A validated `Mapping` from YAML text; `MappingError` names the first problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        first = str(error).strip().splitlines()
        raise MappingError(f"mapping {path.name}: not valid YAML: {' '.join(first[:3])[:300]}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"mapping {path.name}: expected key: value lines, got {type(raw).__name__}")
    connector = raw.get("connector")
    if connector not in CONNECTORS:
        raise MappingError(
            f"mapping {path.name}: 'connector' must be one of {', '.join(CONNECTORS)}, got {connector!r}"
        )
    try:
        options = _check_keys(raw, SCHEMAS[connector], "")
    except MappingError as error:
        raise MappingError(f"mapping {path.name}: {error}") from None
    if "file" not in options:
        raise MappingError(f"mapping {path.name}: 'file' (the native export, next to the mapping) is required")
    native = options["file"]
    for key in ("file", "seats"):
        name = options.get(key)
        if name is not None and ("/" in name or "\\" in name or name.startswith(".")):
            raise MappingError(
                f"mapping {path.name}: '{key}' must name a file in the mapping's own folder, got {name!r}"
            )
    if connector in ("jira",):
        options = _with_preset(options, JIRA_PRESET)
    if "workflow" not in options:
        raise MappingError(
            f"mapping {path.name}: 'workflow' is required (id, attribute + values, users, teams or apps)"
        )
    if connector == "tickets" and options.get("rows", "ticket") not in ("ticket", "update"):
        raise MappingError(f"mapping {path.name}: 'rows' must be 'ticket' or 'update', got {options['rows']!r}")
    if connector in ("tickets", "jira"):
        # Ticket tools write local times without an offset: the zone must be said, not assumed.
        if "timezone" not in options:
            raise MappingError(
                f"mapping {path.name}: 'timezone' is required for ticket exports (e.g. UTC, Europe/London)"
            )
        columns = options.get("columns", {})
        for needed in ("key", "opened"):
            if needed not in columns:
                raise MappingError(f"mapping {path.name}: columns.{needed} is required")
    workflow = options.get("workflow", {})
    if not any(key in workflow for key in ("id", "attribute", "users", "teams", "apps", "default")):
        raise MappingError(f"mapping {path.name}: 'workflow' needs id, attribute, users, teams, apps or default")
    if connector == "github_copilot" and workflow.get("teams") and "seats" not in options:
        raise MappingError(f"mapping {path.name}: workflow.teams needs 'seats' (the seat list says each user's team)")
    return Mapping(path=path, connector=connector, file=native, options=options)


def _with_preset(options: dict[str, Any], preset: dict[str, Any]) -> dict[str, Any]:
    """The preset's values, overridden key by key (and column by column) by the mapping's."""
    merged = {**preset, **options}
    merged["columns"] = {**preset.get("columns", {}), **options.get("columns", {})}
    return merged


def load_mapping(path: Path) -> Mapping:
    """Read and validate one mapping file; every problem is a `MappingError`."""
    try:
        size = path.stat().st_size
        if size > MAPPING_LIMIT_BYTES:
            raise MappingError(f"mapping {path.name}: {size:,} bytes is too large for a mapping file")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MappingError(f"mapping {path.name}: not valid UTF-8") from None
    except OSError as error:
        raise MappingError(f"mapping {path.name}: cannot read: {error.strerror or error}") from None
    return parse_mapping(text, path)
