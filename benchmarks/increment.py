"""The new file of the incremental run: 10,000 valid work items for one deployed workflow.

The items are copies of that workflow's most recently opened staged items under new item
ids (repeated when it holds fewer), so every row is valid, belongs to a registered workflow
and is new (it supersedes nothing). One workflow, as a daily export from one system would
be: the run recomputes that workflow's marts and reuses every other's (pipelines/changes.py).
The workflow is the deployed one with the most staged items, the costliest to recompute.
The file's name sorts after every monthly export, as the next export would.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

INCREMENT_NAME = "items_zzzz_bench_increment.csv"
INCREMENT_ITEMS = 10_000


def increment_workflow(con: duckdb.DuckDBPyConnection) -> str:
    """The deployed workflow with the most staged items (ties: the first by id)."""
    return con.execute(
        """
        select work_items.workflow_id
        from staging.work_items as work_items
        inner join staging.workflows as workflows using (workflow_id)
        where workflows.deployed_on is not null
        group by 1
        order by count(*) desc, 1
        limit 1
        """
    ).fetchone()[0]


def write_increment(warehouse: Path, input_dir: Path, items: int = INCREMENT_ITEMS) -> tuple[Path, str]:
    """Write `work_items/<INCREMENT_NAME>` under `input_dir` from the built warehouse.

    Returns its path and the workflow it adds to."""
    target = input_dir / "work_items" / INCREMENT_NAME
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set enable_progress_bar = false").fetchall()
        workflow_id = increment_workflow(con)
        held = con.execute("select count(*) from staging.work_items where workflow_id = ?", [workflow_id]).fetchone()[0]
        copies = -(-int(items) // max(int(held), 1))
        con.execute(
            f"""
            copy (
                select
                    'BENCH-' || lpad(cast(row_number() over (order by copy, opened_at desc, item_id) as varchar), 6, '0')
                        as item_id,
                    workflow_id,
                    strftime(opened_at, '%Y-%m-%dT%H:%M:%SZ') as opened_at,
                    strftime(closed_at, '%Y-%m-%dT%H:%M:%SZ') as closed_at,
                    rework_count,
                    touchpoints,
                    had_error,
                    external_spend,
                    ai_assisted,
                    escalated
                from staging.work_items
                cross join range({copies}) as copies (copy)
                where workflow_id = $workflow_id
                order by copy, opened_at desc, item_id
                limit {int(items)}
            ) to '{target.as_posix().replace("'", "''")}' (header, delimiter ',')
            """,
            {"workflow_id": workflow_id},
        ).fetchall()
    finally:
        con.close()
    return target, workflow_id
