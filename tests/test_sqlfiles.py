"""The exact sum that the SQL files write as `exact_sum(x)` / `exact_sum_sq(x)` (pipelines/sqlfiles.py)."""

from __future__ import annotations

import random

import duckdb
import pytest

from pipelines.sqlfiles import expand_exact_sums


def _sums(values: list[float | None]) -> tuple[float, float]:
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.execute("create table t (x double)")
    con.execute("insert into t select unnest(?::double[])", [values])
    return con.execute(expand_exact_sums("select exact_sum(x), exact_sum_sq(x) from t")).fetchall()[0]


def test_an_exact_sum_is_the_same_to_the_last_bit_in_any_order():
    rng = random.Random(7)
    values = [rng.uniform(0, 1000) for _ in range(20_000)] + [None] * 50
    totals = {_sums(rng.sample(values, len(values))) for _ in range(5)}
    assert len(totals) == 1
    total, total_sq = totals.pop()
    finite = [v for v in values if v is not None]
    assert total == pytest.approx(sum(finite), rel=1e-12)
    assert total_sq == pytest.approx(sum(v * v for v in finite), rel=1e-12)


def test_values_too_large_for_the_decimal_are_added_as_doubles_and_squares_split_on_the_value():
    # 4e4 squared is 1.6e9, above the decimal's limit, yet its square is summed exactly because
    # the split is on the value's size, not the square's; 2e9 goes the double way.
    total, total_sq = _sums([0.5, 4e4, 2e9, -2e9, None])
    assert total == 0.5 + 4e4
    assert total_sq == 0.25 + 1.6e9 + 8e18


def test_an_empty_or_all_blank_column_sums_to_zero():
    assert _sums([None, None]) == (0.0, 0.0)


def test_only_a_call_on_a_column_name_is_written_out():
    sql = "select exact_sum(a), exact_sum_sq(b), my_exact_sum(c), exact_sum(a * b) from t"
    expanded = expand_exact_sums(sql)
    assert "exact_sum(a)" not in expanded and "exact_sum_sq(b)" not in expanded
    assert "my_exact_sum(c)" in expanded  # another function's name is left alone
    assert "exact_sum(a * b)" in expanded  # not a column: left for DuckDB to refuse loudly
    assert expanded.count("decimal(38, 10)") == 2
