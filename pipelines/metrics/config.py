"""The metric definitions in metrics.yaml, loaded once and fingerprinted."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS_FILE = Path(__file__).parent / "metrics.yaml"


@dataclass(frozen=True)
class MetricDefinition:
    """One metric as metrics.yaml defines it."""

    name: str
    label: str
    unit: str
    direction: str
    aggregation: str
    capping: str
    formula: str
    definition_hash: str
    """sha256 (first 16 hex) of this definition together with the shared settings."""
    min_meaningful_pct: float | None = None
    """This metric's smallest change worth a verdict (%); None: the settings' default."""


@dataclass(frozen=True)
class Decision:
    """One row of the decision table: its name and, in words, when it applies."""

    name: str
    when: str


@dataclass(frozen=True)
class MetricsConfig:
    """The settings, the five metric definitions and the lists the business rules read."""

    version: int
    settings: dict[str, Any]
    metrics: dict[str, MetricDefinition]
    method_checks: dict[str, Any] = field(default_factory=dict)
    guardrail_metrics: tuple[str, ...] = ()
    decisions: tuple[Decision, ...] = ()
    value_decisions: tuple[str, ...] = ()
    """The decisions that count as value (shows_value, the quadrant, the portfolio's totals)."""

    def min_meaningful_pct(self, metric: str) -> float:
        """The smallest change (in %, positive) that earns improved/worsened for `metric`."""
        own = self.metrics[metric].min_meaningful_pct
        return float(self.settings["min_meaningful_pct"] if own is None else own)

    @property
    def alpha(self) -> float:
        """1 - confidence level."""
        return round(1.0 - float(self.settings["confidence_level"]), 12)


@cache
def load_config(path: Path = DEFINITIONS_FILE) -> MetricsConfig:
    """Parse metrics.yaml; each metric's hash covers its own fields and the settings."""
    raw = yaml.safe_load(path.read_text())
    settings = raw["settings"]
    metrics = {}
    for name, body in raw["metrics"].items():
        canonical = json.dumps({"name": name, **body, "settings": settings, "version": raw["version"]}, sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        metrics[name] = MetricDefinition(name=name, definition_hash=digest, **body)
    decisions = tuple(Decision(**row) for row in raw.get("decisions", ()))
    value_decisions = tuple(raw.get("value_decisions", ()))
    unknown = set(value_decisions) - {d.name for d in decisions}
    if unknown:
        raise ValueError(f"{path}: value_decisions {sorted(unknown)} are not in the decision table")
    return MetricsConfig(
        version=raw["version"],
        settings=settings,
        metrics=metrics,
        method_checks=dict(raw.get("method_checks", {})),
        guardrail_metrics=tuple(raw.get("guardrail_metrics", ())),
        decisions=decisions,
        value_decisions=value_decisions,
    )
