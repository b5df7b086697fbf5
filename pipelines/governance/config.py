"""The governance settings, read from governance.yaml beside this module."""

from __future__ import annotations

from pathlib import Path

import yaml

SETTINGS_FILE = Path(__file__).with_name("governance.yaml")
REQUIRED = (
    "stall_days",
    "feedback_active_days",
    "fresh_data_days",
    "guardrail_window_days",
    "min_assisted_items",
    "confidence_level",
)


def load_settings(path: Path = SETTINGS_FILE) -> dict[str, float]:
    """The settings as a dict; a missing or non-positive setting is a configuration error."""
    settings = yaml.safe_load(path.read_text()) or {}
    missing = [name for name in REQUIRED if name not in settings]
    if missing:
        raise ValueError(f"{path.name}: missing setting(s) {', '.join(missing)}")
    for name in REQUIRED:
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{path.name}: {name} must be a positive number, not {value!r}")
    if settings["confidence_level"] >= 1:
        raise ValueError(f"{path.name}: confidence_level must be below 1")
    return {name: settings[name] for name in REQUIRED}
