"""Which workflows a run recomputes: the change set, and running a mart on it alone.

Every number of a workflow's marts comes from that workflow's own inputs: its staged items,
its usage rows, its registry row, its stage history and its feedback (the cutoff is per
workflow, METHODS v2). So a run fingerprints each workflow's inputs, compares them with the
fingerprints of the build it starts from, and recomputes the per-workflow marts only for the
workflows whose fingerprint moved (`intermediate.workflow_changes`). What is shared across
workflows (Benjamini-Hochberg over every test, the comparison composite of the
difference-in-differences, the portfolio, readiness and governance marts) is recomputed from
the per-workflow results every run.

Everything is recomputed when the metric definitions (metrics.yaml, governance.yaml), the
settings or the code of the marts (the package version and a hash of their .py/.sql files)
differ from the previous build's, when a mart table is missing, or when the warehouse is a
shared catalog written in place (a failed run there could leave fingerprints ahead of marts).

A mart runs on the change set through `Scope`: an in-memory DuckDB catalog attached beside
the warehouse and made the default (`USE`), holding the mart's inputs limited to the changed
workflows (or whole, where the mart compares with every workflow). The mart's own code and SQL
run unchanged against it; its output rows then replace those workflows' rows in the warehouse.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import duckdb

from pipelines.sqlfiles import table_exists

log = logging.getLogger("opvalue")

CHANGES_TABLE = "intermediate.workflow_changes"
INPUTS_TABLE = "intermediate.workflow_inputs"
BUILD_INPUTS_TABLE = "intermediate.build_inputs"
SCOPE_CATALOG = "opvalue_scope"

# Each workflow's inputs: the staged table and its workflow column. Every column of a staged
# row enters its fingerprint, so any change of a row (or a row added or removed) is seen.
SOURCES = {
    "items": "staging.work_items",
    "usage": "staging.usage",
    "registry": "staging.workflows",
    "stages": "staging.workflow_stages",
    "feedback": "staging.feedback",
}

# Tables the incremental marts keep rows in per workflow: when one is missing, nothing can be
# reused and everything is recomputed.
PER_WORKFLOW_TABLES = (
    "intermediate.workflow_cutoffs",
    "intermediate.workflow_windows",
    "intermediate.item_periods",
    "marts.value_metrics",
    "marts.adoption",
    "marts.monthly_adoption",
    "marts.weekly_metrics",
    "marts.effect_views",
    "marts.method_checks",
    "intermediate.value_changes",
    "intermediate.week_persistence_terms",
)

# One value per build that every mart reads whole, inside a scope too (the build's week
# persistence): a scope always sees it.
SHARED_TABLES = ("intermediate.week_persistence",)

# The code of the marts: a change to any of these files recomputes everything.
_ROOT = Path(__file__).resolve().parent
CODE_FOLDERS = ("metrics", "measurement", "stats", "value", "governance")
CODE_FILES = ("changes.py", "asset_helpers.py", "sqlfiles.py")


@dataclass(frozen=True)
class ChangeSet:
    """What this run recomputes."""

    full: bool
    """Everything: no previous build, or definitions, settings or code changed."""
    reason: str
    """Why everything, or which inputs moved."""
    workflows: tuple[str, ...]
    """The workflows recomputed (every workflow when `full`)."""
    comparison_moved: bool
    """A comparison workflow (or a registry row) changed: every deployed workflow's
    difference-in-differences moves with the comparison composite."""

    def label(self) -> str:
        """`all 200 workflows (code changed)` or `2 of 200 workflows: wf_a, wf_b`."""
        if self.full:
            return f"all {len(self.workflows)} workflows ({self.reason})"
        if not self.workflows:
            return "none (no workflow's inputs changed)"
        shown = ", ".join(self.workflows[:10]) + (", ..." if len(self.workflows) > 10 else "")
        return f"{len(self.workflows)} workflow(s): {shown}"


def code_version() -> str:
    """The package version and a sha256 over the marts' code (.py, .sql, .yaml), in path order."""
    try:
        version = metadata.version("opvalue")
    except metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256(version.encode())
    paths = [_ROOT / name for name in CODE_FILES]
    for folder in CODE_FOLDERS:
        paths += [p for p in (_ROOT / folder).rglob("*") if p.suffix in (".py", ".sql", ".yaml")]
    for path in sorted(paths):
        if path.is_file():
            digest.update(str(path.relative_to(_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{version}+{digest.hexdigest()[:16]}"


def definitions_hash() -> str:
    """A sha256 over the metric definitions and settings as the marts load them."""
    from pipelines.governance.config import load_settings
    from pipelines.metrics.config import DEFINITIONS_FILE, load_config

    config = load_config()
    canonical = json.dumps(
        {
            "metrics_yaml": DEFINITIONS_FILE.read_text(),
            "metrics": {name: d.definition_hash for name, d in config.metrics.items()},
            "settings": config.settings,
            "method_checks": config.method_checks,
            "governance": load_settings(),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_EMPTY_FINGERPRINTS = (
    "select cast(null as varchar) as workflow_id, cast(null as varchar) as source, "
    "cast(0 as bigint) as row_count, cast(0 as hugeint) as fingerprint where false"
)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = current_database() "
            "and table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    }


def _hash_sql(source: str, table: str, workflows: Sequence[str] | None) -> tuple[str, list]:
    """One hash per workflow over every column of its staged rows (only `workflows`', when given)."""
    chosen = "" if workflows is None else " and workflow_id in (select unnest(?::varchar[]))"
    sql = (
        f"select workflow_id, '{source}' as source, count(*) as row_count, "
        f"sum(hash(source_rows)) as fingerprint "
        f"from {table} as source_rows where workflow_id is not null{chosen} group by workflow_id"
    )
    return sql, [] if workflows is None else [list(workflows)]


def _staging_states(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str | None, list[str] | None]]:
    """Per source, from the loader's `ops.staging_state`: (the state's identity, the state a
    re-stage by key started from, the workflows it decided again). Empty when not recorded."""
    if not table_exists(con, "ops.staging_state") or "restaged_workflows" not in _columns(con, "ops.staging_state"):
        return {}
    return {
        r[0]: (r[1], r[2], r[3])
        for r in con.execute(
            "select source, cast(staged_at as varchar), restaged_from, restaged_workflows from ops.staging_state"
        ).fetchall()
    }


def _previous_states(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per source, the staging state the previous fingerprints were taken from."""
    if not table_exists(con, BUILD_INPUTS_TABLE) or "staging_states" not in _columns(con, BUILD_INPUTS_TABLE):
        return {}
    row = con.execute(f"select staging_states from {BUILD_INPUTS_TABLE}").fetchone()
    try:
        recorded = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in recorded.items()} if isinstance(recorded, dict) else {}


def _fingerprints_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, list, dict[str, str], dict[str, str]]:
    """The query of every workflow's fingerprints, its parameters, how each source got them,
    and the staging state each source's fingerprints now stand for.

    A source's staged rows change only when the loader re-stages it (`ops.staging_state`). So
    a source still in the state its previous fingerprints were taken from keeps them without
    reading a row; one re-staged by key from that state re-hashes only the workflows of the
    keys it decided again (every other workflow's rows were not touched); anything else (a
    full re-stage, a state not recorded) hashes every staged row, as a first build does.
    Either way the fingerprints equal a hash of every staged row (`tests/test_incremental.py`
    compares them with a fresh build's).
    """
    states = _staging_states(con)
    previous = _previous_states(con) if table_exists(con, INPUTS_TABLE) else {}
    parts, params, how, now = [], [], {}, {}
    for source, table in SOURCES.items():
        if not table_exists(con, table):
            continue
        # The loader names a source by its staging table (`work_items`), the fingerprints by input (`items`).
        state, restaged_from, restaged_workflows = states.get(table.split(".")[1], (None, None, None))
        before = previous.get(source)
        if state is not None and before == state:
            parts.append(f"select workflow_id, source, row_count, fingerprint from {INPUTS_TABLE} where source = ?")
            params.append(source)
            how[source] = "kept"
        elif state is not None and before is not None and before == restaged_from and restaged_workflows is not None:
            parts.append(
                f"select workflow_id, source, row_count, fingerprint from {INPUTS_TABLE} "
                "where source = ? and workflow_id not in (select unnest(?::varchar[]))"
            )
            params += [source, list(restaged_workflows)]
            sql, values = _hash_sql(source, table, restaged_workflows)
            parts.append(sql)
            params += values
            how[source] = f"{len(restaged_workflows)} workflow(s) hashed"
        else:
            sql, values = _hash_sql(source, table, None)
            parts.append(sql)
            params += values
            how[source] = "every row hashed"
        if state is not None:
            now[source] = state
    if not parts:
        return _EMPTY_FINGERPRINTS, [], how, now
    return "\nunion all\n".join(parts), params, how, now


def detect_changes(
    con: duckdb.DuckDBPyConnection, force_full_reason: str | None = None, run_id: str | None = None
) -> ChangeSet:
    """Fingerprint every workflow's inputs, compare with the previous build's, record the change set.

    Writes `intermediate.workflow_inputs` (the fingerprints, for the next run),
    `intermediate.build_inputs` (definitions, settings, code version) and
    `intermediate.workflow_changes` (one row per workflow: recomputed or reused, and why).
    """
    con.execute("create schema if not exists intermediate")
    definitions, code = definitions_hash(), code_version()
    reason = force_full_reason
    if reason is None:
        if not table_exists(con, BUILD_INPUTS_TABLE) or not table_exists(con, INPUTS_TABLE):
            reason = "no previous build to reuse"
        else:
            previous = con.execute(f"select definitions_hash, code_version from {BUILD_INPUTS_TABLE}").fetchall()
            if not previous:
                reason = "no previous build to reuse"
            elif previous[0][0] != definitions:
                reason = "metric definitions or settings changed"
            elif previous[0][1] != code:
                reason = "code version changed"
            else:
                missing = [t for t in PER_WORKFLOW_TABLES if not table_exists(con, t)]
                if missing:
                    reason = f"{missing[0]} missing"
    fingerprints, params, how, staging_states = _fingerprints_sql(con)
    con.execute(f"create or replace temp table current_inputs as {fingerprints}", params)
    log.info("  fingerprints: %s", ", ".join(f"{source} {way}" for source, way in how.items()))
    if reason is None:
        moved = con.execute(
            f"""
            select workflow_id, source
            from (
                select workflow_id, source, row_count, fingerprint from temp.main.current_inputs
                union all
                select workflow_id, source, row_count, fingerprint from {INPUTS_TABLE}
            )
            group by workflow_id, source
            having count(*) <> 2 or count(distinct (row_count, fingerprint)) <> 1
            """
        ).fetchall()
        # One row per (workflow, source) that moved: gather the sources per workflow.
        by_workflow: dict[str, list[str]] = {}
        for workflow_id, source in moved:
            by_workflow.setdefault(workflow_id, []).append(source)
    else:
        by_workflow = {}
    everyone = [
        r[0]
        for r in con.execute(
            f"select workflow_id from temp.main.current_inputs union select workflow_id from {INPUTS_TABLE} order by 1"
            if table_exists(con, INPUTS_TABLE)
            else "select distinct workflow_id from temp.main.current_inputs order by 1"
        ).fetchall()
    ]
    deployed = {
        r[0]
        for r in con.execute(
            "select workflow_id from staging.workflows where deployed_on is not null"
            if table_exists(con, "staging.workflows")
            else "select null where false"
        ).fetchall()
    }
    full = reason is not None
    workflows = tuple(everyone) if full else tuple(sorted(by_workflow))
    comparison_moved = full or any(w not in deployed or "registry" in by_workflow[w] for w in by_workflow)
    rows = [
        (
            w,
            w in deployed,
            full or w in by_workflow,
            reason if full else ("inputs changed: " + ", ".join(sorted(by_workflow[w])) if w in by_workflow else None),
        )
        for w in everyone
    ]
    con.execute(
        f"create or replace table {CHANGES_TABLE} "
        "(workflow_id varchar, is_deployed boolean, recomputed boolean, reason varchar)"
    )
    if rows:
        # One statement, not executemany: 200 one-row inserts took 0.7 s of an unchanged 1M rebuild.
        columns = [list(column) for column in zip(*rows, strict=True)]
        con.execute(
            f"insert into {CHANGES_TABLE} select unnest(?::varchar[]), unnest(?::boolean[]), "
            "unnest(?::boolean[]), unnest(?::varchar[])",
            columns,
        )
    con.execute(f"create or replace table {INPUTS_TABLE} as select * from temp.main.current_inputs")
    con.execute(
        # Typed casts: a null parameter would otherwise give the column DuckDB's NULL type, which
        # a later update (intermediate/week_persistence widening the set) cannot write into.
        f"create or replace table {BUILD_INPUTS_TABLE} as select cast(? as varchar) as definitions_hash, "
        "cast(? as varchar) as code_version, cast(? as boolean) as full_rebuild, "
        "cast(? as varchar) as full_reason, cast(? as boolean) as comparison_moved, cast(? as varchar) as run_id, "
        "cast(? as varchar) as staging_states",
        [definitions, code, full, reason, comparison_moved, run_id, json.dumps(staging_states, sort_keys=True)],
    )
    if full:
        summary = reason or ""
    else:
        summary = f"{len(workflows)} of {len(everyone)} workflows' inputs changed"
    return ChangeSet(full, summary, workflows, comparison_moved)


def widen_change_set(con: duckdb.DuckDBPyConnection, run_id: str | None, reason: str) -> bool:
    """Make this run's change set everything, from here on: a value shared by every workflow's
    numbers moved (the build's week persistence). The steps that already ran on the change set
    stay valid (they do not read that value). True when the set was widened; False when it was
    already everything or was recorded by another run (which `load_change_set` treats as
    everything anyway)."""
    if not table_exists(con, BUILD_INPUTS_TABLE) or not table_exists(con, CHANGES_TABLE):
        return False
    recorded = con.execute(f"select full_rebuild, run_id from {BUILD_INPUTS_TABLE}").fetchone()
    if recorded is None or recorded[0] or recorded[1] != run_id:
        return False
    con.execute(
        f"update {BUILD_INPUTS_TABLE} set full_rebuild = true, full_reason = ?, comparison_moved = true", [reason]
    )
    con.execute(f"update {CHANGES_TABLE} set recomputed = true, reason = coalesce(reason, ?)", [reason])
    return True


def load_change_set(con: duckdb.DuckDBPyConnection, run_id: str | None = None, any_run: bool = False) -> ChangeSet:
    """This run's change set, as `detect_changes` recorded it in the same run.

    Everything when there is none, or when it was recorded by another run (a run launched
    from the UI without `intermediate/workflow_changes` must not reuse the last run's set).
    `any_run`: the set of whichever run built this warehouse (the CLI's summary)."""
    if not table_exists(con, CHANGES_TABLE) or not table_exists(con, BUILD_INPUTS_TABLE):
        return ChangeSet(True, "no change set recorded", (), True)
    recorded = con.execute(
        f"select full_rebuild, full_reason, comparison_moved, run_id from {BUILD_INPUTS_TABLE}"
    ).fetchone()
    if recorded is None or (recorded[3] != run_id and not any_run):
        return ChangeSet(True, "no change set recorded by this run", (), True)
    full, reason, comparison_moved, _ = recorded
    workflows = tuple(
        r[0] for r in con.execute(f"select workflow_id from {CHANGES_TABLE} where recomputed order by 1").fetchall()
    )
    return ChangeSet(bool(full), reason or "inputs changed", workflows, bool(comparison_moved))


def nothing_changed(con: duckdb.DuckDBPyConnection, run_id: str | None, table: str) -> bool:
    """True when this run recomputes no workflow (its change set, recorded by this run, is
    empty and not full) and `table` is there: a table computed from every workflow's inputs
    is then what the previous build left, to the last bit, and can be kept as it is."""
    if not table_exists(con, table):
        return False
    changes = load_change_set(con, run_id)
    return not changes.full and not changes.workflows


def deployed_workflows(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Every deployed workflow with a window in this build (`intermediate.workflow_windows`)."""
    return tuple(
        r[0] for r in con.execute("select workflow_id from intermediate.workflow_windows order by 1").fetchall()
    )


T = TypeVar("T")


class Scope:
    """An attached in-memory catalog holding one mart's inputs for a set of workflows.

    `inputs` maps a warehouse table to how it enters the scope: "rows" (a copy of the
    workflows' rows), "view" (a view of the workflows' rows: large tables read once),
    or "all" (a view of the whole table: the mart compares with every workflow).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, workflows: Sequence[str], inputs: dict[str, str]) -> None:
        self.con = con
        self.workflows = tuple(workflows)
        self.inputs = inputs
        self.home = con.execute("select current_database()").fetchone()[0]

    def _home(self, table: str) -> str:
        schema, name = table.split(".")
        return f'"{self.home}"."{schema}"."{name}"'

    def _scoped(self, table: str) -> str:
        schema, name = table.split(".")
        return f'{SCOPE_CATALOG}."{schema}"."{name}"'

    def __enter__(self) -> Scope:
        con = self.con
        con.execute(f"attach ':memory:' as {SCOPE_CATALOG}")
        con.execute(f"create table {SCOPE_CATALOG}.main.scope_workflows (workflow_id varchar)")
        if self.workflows:
            # One statement: executemany cost about 3.5 ms a row (0.7 s for 200 workflows).
            con.execute(
                f"insert into {SCOPE_CATALOG}.main.scope_workflows select unnest(?::varchar[])", [list(self.workflows)]
            )
        chosen = f"workflow_id in (select workflow_id from {SCOPE_CATALOG}.main.scope_workflows)"
        inputs = dict(self.inputs)
        for table in SHARED_TABLES:
            if table not in inputs and table_exists(con, table):
                inputs[table] = "all"
        for table, how in inputs.items():
            schema = table.split(".")[0]
            con.execute(f'create schema if not exists {SCOPE_CATALOG}."{schema}"')
            source = self._home(table)
            if how == "rows":
                con.execute(f"create table {self._scoped(table)} as select * from {source} where {chosen}")
            elif how == "view":
                con.execute(f"create view {self._scoped(table)} as select * from {source} where {chosen}")
            elif how == "all":
                con.execute(f"create view {self._scoped(table)} as select * from {source}")
            else:
                raise ValueError(f"unknown scope input {how!r} for {table}")
        return self

    def run(self, compute: Callable[[], T]) -> T:
        """Call `compute` with the scope as the default catalog (unqualified names resolve there)."""
        self.con.execute(f"use {SCOPE_CATALOG}")
        try:
            return compute()
        finally:
            self.con.execute(f'use "{self.home}"')

    def merge(self, table: str, order_by: str | None = None) -> None:
        """Replace the scope's workflows' rows of `table` in the warehouse with the scope's result.

        `order_by`: rewrite the (small) table in this order, as a full build writes it.
        """
        con = self.con
        target = self._home(table)
        con.execute(
            f"delete from {target} where workflow_id in (select workflow_id from {SCOPE_CATALOG}.main.scope_workflows)"
        )
        con.execute(f"insert into {target} by name select * from {self._scoped(table)}")
        if order_by:
            con.execute(f"create or replace table {target} as select * from {target} order by {order_by}")

    def __exit__(self, *exc: object) -> None:
        self.con.execute(f'use "{self.home}"')
        self.con.execute(f"detach {SCOPE_CATALOG}")


@contextmanager
def scope(con: duckdb.DuckDBPyConnection, workflows: Sequence[str], inputs: dict[str, str]) -> Iterator[Scope]:
    """`with scope(con, workflows, {...}) as s: s.run(...); s.merge(...)`."""
    with Scope(con, workflows, inputs) as opened:
        yield opened
