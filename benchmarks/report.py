"""The bench's table, its targets, and its blocks in `docs/performance.md`.

Every size gets its own block between `<!-- bench:<items>:start -->` and
`<!-- bench:<items>:end -->`, replaced in place when that size is run again. The block
carries its figures as JSON in an HTML comment, so the scaling block (1M beside 10M) can
be rebuilt from whatever sizes the file holds. Nothing outside the bench's markers is
touched: another section of the same file belongs to someone else.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3
MIB = 1024**2

BUILD_RATIO_TARGET = 2.5
BUILD_RSS_TARGET = 4 * GIB
INCREMENTAL_SHARE_TARGET = 0.10
PAGE_SECONDS_TARGET = 0.300

TARGETS_MARKDOWN = f"""\
| target (10,000,000 work items, 2 cores) | measured as |
| --- | --- |
| full build ≤ {BUILD_RATIO_TARGET}× the floor, peak RSS ≤ {BUILD_RSS_TARGET // GIB} GiB | `python -m pipelines.cli build` (what `make pipeline` runs), cold: a fresh warehouse path, `DAGSTER_HOME` unset |
| incremental build ≤ {INCREMENTAL_SHARE_TARGET:.0%} of the full build | the same command after one new file of 10,000 valid items is added to `work_items/` |
| each dashboard page's queries ≤ {PAGE_SECONDS_TARGET * 1000:.0f} ms warm | the queries a page runs on load, through `dashboards/data.py`, second and later loads |
| nothing grows worse than linearly | each step's time and peak RSS at 10,000,000 ≤ 10× its figure at 1,000,000 |"""


@dataclass
class Step:
    """One row of the table: a step and every run of it."""

    key: str
    """`floor`, `build`, `incremental` or `page:<name>`."""
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    """User plus system CPU seconds of each run (every thread of the process)."""
    rss: list[int] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)
    """Cores kept busy by other jobs on the machine during each run."""
    first_s: float | None = None
    """Pages only: the first (cold) load, reported beside the warm median."""

    @property
    def median_s(self) -> float:
        """Median wall seconds over the runs."""
        return statistics.median(self.walls)

    @property
    def median_cpu_s(self) -> float:
        """Median CPU seconds over the runs (NaN when not measured)."""
        return statistics.median(self.cpus) if self.cpus else math.nan

    @property
    def best_s(self) -> float:
        """The fastest run: the one least disturbed by other jobs."""
        return min(self.walls)

    @property
    def median_others(self) -> float:
        """Median cores busy with other jobs during the runs (NaN when not measured)."""
        values = [v for v in self.others if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    @property
    def median_load(self) -> float:
        """Median 1-minute load average at the end of the runs (NaN when not measured)."""
        values = [v for v in self.loads if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    @property
    def max_rss(self) -> int:
        """The highest peak RSS of any run (the conservative figure)."""
        return max(self.rss) if self.rss else 0


@dataclass(frozen=True)
class Verdict:
    """A step's target in words, and whether it was met (None: no target)."""

    target: str
    passed: bool | None
    detail: str = ""

    @property
    def result(self) -> str:
        """`pass`, `miss (...)`, `pass (best runs miss, ...)` or `—`."""
        if self.passed is None:
            return self.detail or "—"
        word = "pass" if self.passed else "miss"
        return f"{word} ({self.detail})" if self.detail else word


def _judge(step: Step, steps: dict[str, Step], pick) -> tuple[str, bool | None, str]:
    """Target text, whether it is met and a short detail, on the runs `pick` selects (median or best)."""
    floor, build = steps.get("floor"), steps.get("build")
    if step.key == "build":
        ratio = pick(step) / pick(floor) if floor else math.nan
        time_ok, rss_ok = ratio <= BUILD_RATIO_TARGET, step.max_rss <= BUILD_RSS_TARGET
        misses = [
            m for m, ok in ((f"time {ratio:.1f}×", time_ok), (f"RSS {fmt_bytes(step.max_rss)}", rss_ok)) if not ok
        ]
        detail = ", ".join(misses) or f"{ratio:.1f}×"
        return f"≤ {BUILD_RATIO_TARGET}× floor, ≤ {BUILD_RSS_TARGET // GIB} GiB", time_ok and rss_ok, detail
    if step.key == "incremental":
        share = pick(step) / pick(build) if build else math.nan
        return f"≤ {INCREMENTAL_SHARE_TARGET:.0%} of build", share <= INCREMENTAL_SHARE_TARGET, f"{share:.0%} of build"
    if step.key.startswith("page:"):
        seconds = pick(step)
        return f"≤ {PAGE_SECONDS_TARGET * 1000:.0f} ms warm", seconds <= PAGE_SECONDS_TARGET, f"{seconds * 1000:.0f} ms"
    return "—", None, ""


def verdict(step: Step, steps: dict[str, Step]) -> Verdict:
    """The target that applies to `step` and whether its median figures meet it.

    On a shared machine a median can be pushed over (or under) a target by other jobs, so
    the verdict is also taken on each step's fastest run; when the two disagree, the result
    says so rather than pick the flattering one.
    """
    if step.key == "floor":
        return Verdict("reference", None, "reference")
    target, passed, detail = _judge(step, steps, lambda s: s.median_s)
    if passed is None:
        return Verdict(target, None)
    _, best_passed, best_detail = _judge(step, steps, lambda s: s.best_s)
    if passed and not best_passed:
        return Verdict(target, True, f"best runs miss: {best_detail}")
    if not passed and best_passed:
        return Verdict(target, False, f"{detail}; best runs pass: {best_detail}")
    return Verdict(target, passed, "" if passed else detail)


def fmt_seconds(seconds: float) -> str:
    """Seconds with precision that suits their size."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds >= 100:
        return f"{seconds:.0f}"
    if seconds >= 10:
        return f"{seconds:.1f}"
    if seconds >= 1:
        return f"{seconds:.2f}"
    return f"{seconds:.3f}"


def fmt_bytes(size: int) -> str:
    """MiB below a GiB, GiB above."""
    return f"{size / GIB:.2f} GiB" if size >= GIB else f"{size / MIB:.0f} MiB"


def fmt_ratio(ratio: float) -> str:
    """A ratio to the floor."""
    if math.isnan(ratio):
        return "—"
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.3f}×"


TABLE_HEADER = [
    "step",
    "runs",
    "wall s (median)",
    "range s",
    "CPU s",
    "others' cores",
    "load avg",
    "peak RSS",
    "× floor",
    "target",
    "result",
]


def table_rows(steps: dict[str, Step]) -> list[list[str]]:
    """The table's cells, one row per step, in run order."""
    floor = steps.get("floor")
    rows = []
    for step in steps.values():
        check = verdict(step, steps)
        # A page has no counterpart in the floor, which builds tables and serves no dashboard.
        ratio = step.median_s / floor.median_s if floor and not step.key.startswith("page:") else math.nan
        spread = f"{fmt_seconds(min(step.walls))}–{fmt_seconds(max(step.walls))}" if len(step.walls) > 1 else "—"
        runs = f"{len(step.walls)} warm" if step.key.startswith("page:") else str(len(step.walls))
        rows.append(
            [
                step.label,
                runs,
                fmt_seconds(step.median_s),
                spread,
                fmt_seconds(step.median_cpu_s),
                "—" if math.isnan(step.median_others) else f"{step.median_others:.1f}",
                "—" if math.isnan(step.median_load) else f"{step.median_load:.1f}",
                fmt_bytes(step.max_rss),
                fmt_ratio(ratio),
                check.target,
                check.result,
            ]
        )
    return rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    """The same table, aligned for a terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def summary_data(items: int, steps: dict[str, Step], date: str) -> dict:
    """The figures the scaling block needs, kept in the size's block."""
    return {
        "items": items,
        "date": date,
        "steps": {
            key: {
                "label": s.label,
                "median_s": s.median_s,
                "best_s": s.best_s,
                "median_cpu_s": s.median_cpu_s,
                "max_rss": s.max_rss,
                "runs": len(s.walls),
                "median_others_cores": s.median_others,
                "median_load_1min": s.median_load,
            }
            for key, s in steps.items()
        },
    }


# -- docs/performance.md -------------------------------------------------------------------

DATA_PATTERN = re.compile(r"<!-- bench:data (\{.*?\}) -->", re.S)


def start_marker(name: str) -> str:
    return f"<!-- bench:{name}:start -->"


def end_marker(name: str) -> str:
    return f"<!-- bench:{name}:end -->"


def _block_span(text: str, name: str) -> tuple[int, int] | None:
    """Start and end offsets of a block, markers included; None when absent."""
    start = text.find(start_marker(name))
    if start < 0:
        return None
    end = text.find(end_marker(name), start)
    if end < 0:
        raise ValueError(f"{start_marker(name)} without {end_marker(name)}: fix the file by hand")
    return start, end + len(end_marker(name))


def size_blocks(text: str) -> list[int]:
    """The sizes that have a block in `text`, ascending."""
    return sorted({int(m) for m in re.findall(r"<!-- bench:(\d+):start -->", text)})


def upsert_block(text: str, name: str, body: str, after: str | None) -> str:
    """Replace block `name` in place, or insert it after block `after` (else after the title line)."""
    block = f"{start_marker(name)}\n{body.strip()}\n{end_marker(name)}"
    span = _block_span(text, name)
    if span:
        return text[: span[0]] + block + text[span[1] :]
    anchor = _block_span(text, after) if after else None
    if anchor:
        position = anchor[1]
    else:
        title = re.match(r"# [^\n]*\n", text)
        position = title.end() if title else 0
    return text[:position].rstrip("\n") + ("\n\n" if position else "") + block + "\n\n" + text[position:].lstrip("\n")


def size_data(text: str) -> dict[int, dict]:
    """The JSON figures of every size block in `text`."""
    found = {}
    for items in size_blocks(text):
        span = _block_span(text, str(items))
        match = DATA_PATTERN.search(text[span[0] : span[1]])
        if match:
            found[items] = json.loads(match.group(1))
    return found


def scaling_markdown(data: dict[int, dict]) -> str:
    """Smallest and largest size side by side: does anything grow worse than linearly?"""
    lines = ["### Scaling: smallest and largest size side by side", ""]
    if len(data) < 2:
        lines.append("Run the bench at two sizes (`make bench` and `BENCH_ITEMS=10000000 make bench`) to fill this in.")
        return "\n".join(lines)
    small, large = min(data), max(data)
    factor = large / small
    lines.append(
        f"Linear growth would multiply every figure by {factor:g} (from {small:,} to {large:,} items); a step passes "
        f"when both its time and its peak RSS grow by at most that. The exponent is log(growth) / log({factor:g}): "
        "1 is linear, below 1 is better than linear (fixed costs such as start-up dominate small sizes)."
    )
    lines.append("")
    header = [
        "step",
        f"wall s at {small:,}",
        f"at {large:,}",
        "growth (exponent)",
        f"RSS at {small:,}",
        f"at {large:,}",
        "growth",
        "linear or better",
    ]
    rows = []
    for key, first in data[small]["steps"].items():
        second = data[large]["steps"].get(key)
        if not second:
            continue
        time_growth = second["median_s"] / first["median_s"]
        rss_growth = second["max_rss"] / first["max_rss"] if first["max_rss"] else math.nan
        exponent = math.log(time_growth) / math.log(factor) if time_growth > 0 else math.nan
        ok = time_growth <= factor and (math.isnan(rss_growth) or rss_growth <= factor)
        rows.append(
            [
                first["label"],
                fmt_seconds(first["median_s"]),
                fmt_seconds(second["median_s"]),
                f"{time_growth:.1f}× ({exponent:.2f})",
                fmt_bytes(first["max_rss"]),
                fmt_bytes(second["max_rss"]),
                f"{rss_growth:.1f}×",
                "pass" if ok else "miss",
            ]
        )
    lines.append(markdown_table(header, rows))
    lines.append("")
    lines.append(
        f"Measured on {data[small]['date']} ({small:,}) and {data[large]['date']} ({large:,}); each size's block above has the conditions."
    )
    return "\n".join(lines)


def write_docs(path: Path, items: int, body: str, intro: str) -> None:
    """Put this size's block, the intro and the scaling block in `path`, leaving everything else as it is.

    The file is read just before it is written, and replaced in one rename, so a section
    another engineer saved while the bench ran is kept.
    """
    text = path.read_text() if path.exists() else "# Performance\n"
    text = upsert_block(text, "intro", intro, after=None)
    sizes = sorted(set(size_blocks(text)) | {items})
    before = [s for s in sizes if s < items]
    text = upsert_block(text, str(items), body, after=str(before[-1]) if before else "intro")
    text = upsert_block(text, "scaling", scaling_markdown(size_data(text)), after=str(max(size_blocks(text))))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text.rstrip("\n") + "\n")
    os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    os.replace(temporary, path)
