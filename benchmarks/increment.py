"""The new file of the incremental run: 10,000 valid work items for existing workflows.

The items are copies of the most recently opened staged items under new item ids, so every
row is valid, belongs to a registered workflow and is new (it supersedes nothing). The file's
name sorts after every monthly export, as the next export would.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

INCREMENT_NAME = "items_zzzz_bench_increment.csv"
INCREMENT_ITEMS = 10_000


def write_increment(warehouse: Path, input_dir: Path, items: int = INCREMENT_ITEMS) -> Path:
    """Write `work_items/<INCREMENT_NAME>` under `input_dir` from the built warehouse; return its path."""
    target = input_dir / "work_items" / INCREMENT_NAME
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set enable_progress_bar = false").fetchall()
        con.execute(
            f"""
            copy (
                select
                    'BENCH-' || lpad(cast(row_number() over (order by opened_at desc, workflow_id, item_id) as varchar), 6, '0')
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
                order by opened_at desc, workflow_id, item_id
                limit {int(items)}
            ) to '{target.as_posix().replace("'", "''")}' (header, delimiter ',')
            """
        ).fetchall()
    finally:
        con.close()
    return target
