"""Words and number formats the pages share: labels, changes with their CI, the plain summary.

Pure functions of their arguments, so the sentences a leader reads can be tested directly.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from pipelines.metrics.rules import value_decisions

VERDICT_LABELS = {
    "improved": "Improved",
    "worsened": "Worsened",
    "no_clear_change": "No clear change",
    "negligible": "Too small to matter",
    "insufficient_data": "Not enough data",
    "insufficient_baseline": "Too little baseline",
}
NOT_ENOUGH_DATA = ("insufficient_data", "insufficient_baseline")
"""Verdicts that make no claim: a tile shows no headline number for them."""
QUADRANT_LABELS = {
    "value_with_adoption": "Value with adoption",
    "adoption_without_value": "Adoption without value",
    "value_without_adoption": "Value without adoption",
    "no_value_no_adoption": "No value, no adoption",
    "adoption_unknown": "Adoption unknown",
    "not_deployed": "Not deployed",
    "insufficient_data": "Not enough data",
}
STAGE_LABELS = {
    "investigation": "Investigation",
    "pilot": "Pilot",
    "production": "Production",
    "retired": "Retired",
}
VIEW_LABELS = {
    "before_after": "Before / after",
    "assisted_vs_unassisted": "Assisted vs unassisted",
    "diff_in_diff": "Difference-in-differences",
}
CHECK_LABELS = {
    "placebo": "Placebo date",
    "parallel_trends": "Parallel trends",
    "mix_shift": "Team mix shift",
    "censoring": "Open items",
    "guardrail": "Guardrails",
    "novelty": "Novelty fade",
    "sample_size": "Sample size",
}
CHECK_STATUS_LABELS = {"ok": "passed", "warn": "warning", "not_applicable": "not applicable"}
DECISION_LABELS = {
    "scale": "Scale",
    "close_gaps": "Close gaps",
    "drive_adoption": "Drive adoption",
    "fix_guardrail": "Fix a guardrail",
    "redesign": "Redesign",
    "reconsider": "Reconsider",
    "contested": "Contested",
    "unknown_adoption": "Adoption unknown",
    "wait_for_data": "Wait for data",
    "not_deployed": "Not deployed",
}
"""Words for the per-workflow decision (`marts.workflow_scorecard.decision`), code -> label, in the
order the portfolio's headline lists them: value decisions first, then what to fix, then the rest.
The one label map every page and section uses; `label()` spells out a code added later."""
DECISION_MEANINGS = {
    "scale": "improved, adopted and every readiness requirement in place",
    "close_gaps": "improved and adopted, but readiness gaps remain",
    "drive_adoption": "improved, but too few eligible people use it",
    "fix_guardrail": "improved, while a guardrail (errors, rework, overrides, corrections) got worse",
    "redesign": "used by most eligible people, no measured improvement",
    "reconsider": "neither used much nor improved",
    "contested": "improved before/after, but other evidence disagrees or too few comparison workflows to check it",
    "unknown_adoption": "improved, but no usage data to say whether it is used",
    "wait_for_data": "too little data for a verdict yet",
    "not_deployed": "no go-live yet: a comparison workflow",
}
"""One line per decision, for tooltips and the legend's help (docs/methods.md has the rules)."""
VALUE_DECISIONS = value_decisions()
"""Decisions the portfolio counts as value: metrics.yaml `value_decisions`, the list the mart's `shows_value` uses."""
UNIT_AXIS = {
    "hours": "hours",
    "share": "% of items",
    "count": "per item",
    "money": "currency units per item",
}


# -- values from input data or the URL are text, never markup ----------------------------------
#
# Streamlit renders markdown (links, images, `:red[...]` directives, `:material/...:` icons,
# `$...$` maths) in st.markdown, st.caption, st.info/warning/..., headers and metric labels;
# Plotly renders a subset of HTML (`<a href>`, `<b>`, `<br>`, `<span style>`) in titles, tick
# labels, trace text, hover text and annotations. A workflow name, team, owner, reason or URL
# parameter goes through `md()` before it reaches the first and `plain()` before the second.
# Dataframe cells are drawn as text on a canvas and need neither (links: `detail_link()`).

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=^\"'])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
_AUTOLINK_STARTS = re.compile(r"(?i)(://|www\.|@)")
"""Where GitHub-flavoured markdown starts a bare link (`https://…`, `www.…`, `a@b.c`): it finds
them in the text after escapes are resolved, so escaping cannot stop it; an invisible word
joiner (U+2060) after the first character breaks the pattern and leaves the text as it reads."""
WORD_JOINER = "\u2060"


def md(value: Any) -> str:
    """`value` as literal text inside Streamlit markdown: every markdown-active character escaped.

    Backslash escapes are CommonMark's way to say "this character is text"; line breaks become
    spaces so a value cannot open a new block (a heading, a list, a code fence); bare URLs and
    e-mail addresses get a word joiner so they are not turned into links.
    """
    if is_missing(value):
        return "—"
    flat = _LINE_BREAKS.sub(" ", str(value))
    unlinked = _AUTOLINK_STARTS.sub(lambda m: m.group(1)[0] + WORD_JOINER + m.group(1)[1:], flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)


def plain(value: Any) -> str:
    """`value` as literal text in a Plotly string (title, tick label, trace text, hover text, annotation).

    Plotly turns `<a href>`, `<b>`, `<br>` and friends into SVG markup and decodes entities, so
    `<`, `>` and `&` are written as entities and show as themselves.
    """
    if is_missing(value):
        return "—"
    return html.escape(str(value), quote=False)


def detail_link(workflow_id: Any) -> str:
    """The relative link to a workflow's page, its id URL-encoded: `workflow?workflow=wf%20a`."""
    return "workflow?" + urlencode({"workflow": str(workflow_id)})


def is_missing(value: Any) -> bool:
    """True for None and NaN (polars and DuckDB give None, pandas NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def label(mapping: Mapping[str, str], key: Any) -> str:
    """The human label for a code, the code spelled out in words when unknown, "—" when missing."""
    if is_missing(key):
        return "—"
    return mapping.get(key) or words(key)


def words(code: Any) -> str:
    """A code as words: "no_clear_change" -> "No clear change"."""
    spelled = str(code).replace("_", " ").strip()
    return spelled[:1].upper() + spelled[1:]


def pct(value: Any, decimals: int = 1, signed: bool = True) -> str:
    """A percentage already in percent units: -29.2 -> "-29.2%"."""
    if is_missing(value):
        return "—"
    return f"{value:+.{decimals}f}%" if signed else f"{value:.{decimals}f}%"


def whole_pct(value: Any, signed: bool = True) -> str:
    """A percentage for tiles, in whole numbers: -24.4 -> "-24%"; one decimal where whole
    numbers would mislead (-99.6 is not "-100%", 0.3 is not "0%")."""
    if is_missing(value):
        return "—"
    rounded = round(value)
    decimals = 1 if (abs(rounded) >= 100 > abs(value)) or (rounded == 0 and value != 0) else 0
    return pct(value, decimals, signed)


def chance_clause(verdict: Any, p_adjusted: Any) -> str:
    """Leader-facing words for the adjusted p-value (analysts see the number in their table).

    ", very unlikely to be chance" below 0.01, ", unlikely to be chance" below 0.05, else
    ", could be chance"; nothing without a p-value or without a verdict to back.
    """
    if is_missing(p_adjusted) or verdict in NOT_ENOUGH_DATA:
        return ""
    if p_adjusted < 0.01:
        return ", very unlikely to be chance"
    if p_adjusted < 0.05:
        return ", unlikely to be chance"
    return ", could be chance"


def change_with_ci(change: Any, low: Any, high: Any) -> str:
    """A change and its 95% CI for tables: "-29.2% (-36.8 to -20.6)"; "—" without a change."""
    if is_missing(change):
        return "—"
    if is_missing(low) or is_missing(high):
        return pct(change)
    return f"{change:+.1f}% ({low:+.1f} to {high:+.1f})"


def share(value: Any, decimals: int = 0) -> str:
    """A fraction as a percentage: 0.85 -> "85%"."""
    if is_missing(value):
        return "—"
    return f"{value * 100:.{decimals}f}%"


def day(value: Any) -> str:
    """A date as "12 Jan 2026"."""
    if is_missing(value):
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.day} {value:%b %Y}"


def when(value: Any) -> str:
    """A UTC timestamp as "12 Jan 2026 14:05 UTC"."""
    if is_missing(value):
        return "—"
    if isinstance(value, datetime):
        return f"{day(value)} {value:%H:%M} UTC"
    return day(value)


def age(hours: Any) -> str:
    """An age in hours, readable: "5 h", "3.2 days", "28 days", "10.4 years"."""
    if is_missing(hours):
        return "—"
    if 0 <= hours < 1:
        return "under 1 h"
    if hours < 48:
        return f"{hours:.0f} h"
    days = hours / 24
    if days < 10:
        return f"{days:.1f}".removesuffix(".0") + " days"
    if days < 730:
        return f"{days:.0f} days"
    return f"{days / 365.25:.1f} years"


SOURCE_LABELS = {"work_items": "work items", "usage": "usage", "workflows": "workflow registry"}
MEASURED_SOURCES = ("work_items", "usage")
"""The sources whose records the numbers measure; the registry's date is when its file changed."""


def _age_hours(newest: Any, now: datetime) -> float | None:
    return None if is_missing(newest) else (now - newest).total_seconds() / 3600


def as_of_line(status: Any, now: datetime) -> str:
    """ "Data as of 2 Nov 2026 (newest work item; usage to 2 Nov 2026) · built 30 Nov 2026 14:04 UTC".

    `status` is `data.freshness_status()`: the date is the newest work item, what the metrics measure.
    """
    rows = {row["source"]: row for row in status.to_dicts()}
    items = rows.get("work_items", {}).get("newest_record_at")
    if is_missing(items):
        line = "Data as of: no work item staged yet"
    else:
        line = f"Data as of **{day(items)}** (newest work item"
        usage = rows.get("usage", {}).get("newest_record_at")
        line += f"; usage to {day(usage)})" if not is_missing(usage) else ")"
    built = next((row["built_at"] for row in rows.values() if not is_missing(row.get("built_at"))), None)
    if built is not None:
        line += f" · built {when(built)} ({age(_age_hours(built, now))} ago)"
    return line


def stale_sources(status: Any, now: datetime) -> str:
    """The stale sources with their age and limit ("work items: newest record 28 days old, limit 2 days"), or "".

    A source is stale when the pipeline judged it so, or when its newest record is older than its
    limit now (a build from last month was fresh then).
    """
    parts = []
    for row in status.to_dicts():
        hours = _age_hours(row["newest_record_at"], now)
        limit = row.get("limit_hours")
        late = hours is not None and not is_missing(limit) and hours > limit
        if row.get("is_stale") or late:
            name = SOURCE_LABELS.get(row["source"], md(row["source"]))
            parts.append(
                f"{name}: newest record {age(hours)} old ({day(row['newest_record_at'])}), limit {age(limit)}"
                if hours is not None
                else f"{name}: no record"
            )
    return "; ".join(parts)


def metric_value(value: Any, unit: str) -> str:
    """A period's value in its unit: hours "24.7 h", share "12.3%", count "5.10", money "36.82"."""
    if is_missing(value):
        return "—"
    if unit == "hours":
        return f"{value:.1f} h"
    if unit == "share":
        return f"{value * 100:.1f}%"
    return f"{value:,.2f}"


def _magnitudes(*values: float) -> list[str]:
    """Percentage magnitudes without sign, all with one precision: whole numbers when the
    smallest is at least 10, else one decimal (so "3.2–9.8%", "21–37%")."""
    sizes = [abs(v) for v in values]
    # Whole numbers from 10%, but never a rounded 100% for a fall short of it (-99.6% is not "fell 100%").
    decimals = 0 if min(sizes) >= 9.95 and not any(99.5 <= size < 100 for size in sizes) else 1
    return [f"{size:.{decimals}f}" for size in sizes]


def change_sentence(metric_label: str, result: Mapping[str, Any], min_closed: int) -> str:
    """One clause on the primary metric, honest about uncertainty.

    `result` is a row of `marts.value_metrics`. Improved and worsened say how much with the CI;
    otherwise the sentence says "no clear change" or "not enough data" and why.
    """
    since = day(result.get("deployed_on"))
    verdict = result.get("verdict")
    change, low, high = result.get("change_pct"), result.get("ci_low_pct"), result.get("ci_high_pct")
    if verdict == "insufficient_baseline":
        return (
            f"Too little baseline to judge {metric_label.lower()}: the data before deployment on {since} "
            f"covers {share(result.get('baseline_coverage'))} of the baseline window"
        )
    if verdict == "insufficient_data":
        return (
            f"Not enough data yet to judge {metric_label.lower()}: "
            f"{result.get('n_baseline_closed') or 0:,} closed items before and "
            f"{result.get('n_post_closed') or 0:,} after deployment on {since} "
            f"(at least {min_closed} needed in each)"
        )
    if is_missing(change):
        moved = metric_value(result.get("abs_change"), result.get("unit", ""))
        words = {"improved": "improved", "worsened": "worsened", "negligible": "changed too little to matter"}.get(
            verdict, "showed no clear change"
        )
        return (
            f"{metric_label} {words} since {since} (absolute change {moved}; the baseline was zero, so no percentage)"
        )
    if verdict == "improved" and not is_missing(low) and not is_missing(high):
        size, lo, hi = _magnitudes(change, *sorted((abs(high), abs(low))))
        return f"{metric_label} fell {size}% (95% CI {lo}–{hi}%) since {since}"
    if verdict == "worsened" and not is_missing(low) and not is_missing(high):
        size, lo, hi = _magnitudes(change, low, high)
        return f"{metric_label} rose {size}% (95% CI {lo}–{hi}%) since {since}"
    interval = "" if is_missing(low) or is_missing(high) else f", 95% CI {low:+.0f}% to {high:+.0f}%"
    if verdict == "negligible":
        return f"{metric_label} changed too little to matter since {since} ({change:+.0f}%{interval})"
    return f"No clear change in {metric_label.lower()} since {since} ({change:+.0f}%{interval})"


GUARDRAIL_METRICS = ("error_rate", "rework_rate")


def guardrail_clause(worsened: list[tuple[str, Mapping[str, Any]]]) -> str:
    """ ", but error rate rose 93% (95% CI 40–150%), a guardrail to resolve before scaling" or ""."""
    if not worsened:
        return ""
    parts = []
    for metric_label, result in worsened:
        change, low, high = result.get("change_pct"), result.get("ci_low_pct"), result.get("ci_high_pct")
        if is_missing(change) or is_missing(low) or is_missing(high):
            parts.append(f"{metric_label.lower()} worsened")
        else:
            size, lo, hi = _magnitudes(change, low, high)
            parts.append(f"{metric_label.lower()} rose {size}% (95% CI {lo}–{hi}%)")
    noun = "a guardrail" if len(parts) == 1 else "guardrails"
    return f", but {' and '.join(parts)}: {noun} to resolve before scaling"


def adoption_clause(adoption_rate: Any, assisted_share: Any) -> str:
    """How much the tool is used, kept apart from value: "85% of eligible users are active"."""
    if is_missing(adoption_rate):
        used = "adoption is unknown (no eligible users registered)"
    else:
        used = f"{share(adoption_rate)} of eligible users are active"
    if not is_missing(assisted_share):
        used += f" and {share(assisted_share)} of items were AI-assisted"
    return used


def summary_sentence(
    metric_label: str,
    result: Mapping[str, Any] | None,
    adoption_rate: Any,
    assisted_share: Any,
    min_closed: int,
    worsened_guardrails: list[tuple[str, Mapping[str, Any]]] | None = None,
) -> str:
    """The plain one-sentence answer at the top of a workflow's page.

    E.g. "Cycle time fell 34% (95% CI 30–38%) since 6 Apr 2026; 85% of eligible users are active."
    An improvement that came with a worsened error or rework rate says so in the same sentence.
    """
    if result is None:
        return (
            "Not deployed: there is no before/after for this workflow "
            "(it serves as a comparison workflow for the others)."
        )
    caveat = guardrail_clause(worsened_guardrails or []) if result.get("verdict") == "improved" else ""
    return f"{change_sentence(metric_label, result, min_closed)}{caveat}; {adoption_clause(adoption_rate, assisted_share)}."


def target_clause(target_change_pct: Any, target_met: Any) -> str:
    """Whether the registry's success target was reached: "target -20%: met"."""
    if is_missing(target_change_pct):
        return "no target set"
    if target_met is None:
        return f"target {pct(target_change_pct, 0)}"
    return f"target {pct(target_change_pct, 0)}: {'met' if target_met else 'not met'}"


def run_summary(run: Mapping[str, Any], now: datetime) -> str:
    """One line on a pipeline run: "success: finished 23 Nov 2026 09:29 UTC (2 h ago), took 4 s"."""
    ended = run.get("ended_at")
    started = run.get("started_at")
    parts = [f"**{md(run.get('status', 'unknown'))}**"]
    if ended is not None:
        parts.append(f"finished {when(ended)} ({age((now - ended).total_seconds() / 3600)} ago)")
        if started is not None:
            parts.append(f"took {(ended - started).total_seconds():.0f} s")
    line = ", ".join(parts)
    if run.get("message"):
        line += f". {md(run['message'])}"
    return line


def change_tile(verdict: Any, change: Any, low: Any, high: Any) -> tuple[str, str]:
    """Value and caption of the primary-change tile: no headline number without a verdict to back it."""
    if is_missing(verdict):
        return "—", "not deployed"
    interval = f"95% CI {whole_pct(low)} to {whole_pct(high)}"
    if verdict in NOT_ENOUGH_DATA:
        measured = (
            f"measured {whole_pct(change)} on too few items, {interval}" if not is_missing(change) else "too few items"
        )
        return "—", f"{VERDICT_LABELS[verdict]}; {measured}"
    return whole_pct(change), f"{label(VERDICT_LABELS, verdict)}; {interval}"


_CODE_IN_REASONS = re.compile(r"\(([a-z]+(?:_[a-z]+)+)\)")


def plain_reasons(reasons: Any) -> str:
    """The mart's `decision_reasons` with the verdict codes it quotes in words (plain text, for table cells).

    "cycle time did not improve (no_clear_change)" -> "cycle time did not improve (no clear change)".
    """
    if is_missing(reasons) or not str(reasons).strip():
        return ""
    return _CODE_IN_REASONS.sub(lambda m: f"({label(VERDICT_LABELS, m.group(1)).lower()})", str(reasons))


def decision_reasons(reasons: Any) -> str:
    """`plain_reasons()` escaped for Streamlit markdown."""
    worded = plain_reasons(reasons)
    return md(worded) if worded else ""


def decision_line(decision: Any, reasons: Any) -> str:
    """ "**Contested** — error rate improved before/after, but …": the decision in words, then why (markdown)."""
    why = decision_reasons(reasons)
    head = f"**{md(label(DECISION_LABELS, decision))}**"
    return f"{head} — {why}" if why else head
