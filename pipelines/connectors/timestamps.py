"""Native timestamps to explicit UTC text, the form the reader's contract takes.

A value that carries an offset (`+02:00`, `Z`) keeps its instant. A naive value is read
in the mapping's `timezone` (default UTC) and converted. The DST rule, stated once:

- a clock time that occurs twice (the autumn fall-back hour) is read as its **first**
  occurrence, still on summer time (polars' `ambiguous="earliest"`);
- a clock time that never occurs (the spring-forward gap) cannot be an instant: the value
  is handed over as written, with a note, so the reader quarantines the row with it.

A value that cannot be read is handed over as written too: the reader then quarantines
the row and its reason quotes the native text. Nothing here drops or guesses.
"""

from __future__ import annotations

import polars as pl

OFFSET_PATTERN = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
# Naive ISO 8601 spellings tried in turn when the mapping gives no timestamp_format.
ISO_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
ISO_AWARE_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"
UTC_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S%.6f+00:00"


def utc_expr(column: str, *, fmt: str | None, timezone: str) -> tuple[pl.Expr, pl.Expr]:
    """(UTC datetime or null, text to hand over) for a string column of native timestamps.

    The text is ISO 8601 with an explicit `+00:00` when the value was read, and the native
    value (with a note for a DST-gap time) when it was not.
    """
    text = pl.col(column).str.strip_chars()
    # ISO with a space instead of T is common (CSV exports, pm4py's writer).
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    if fmt is None:
        has_offset = iso.str.contains(OFFSET_PATTERN)
        # `%z` wants +hhmm or +hh:mm; a bare Z means UTC.
        aware_text = iso.str.replace(r"[Zz]$", "+00:00")
        aware = aware_text.str.to_datetime(ISO_AWARE_FORMAT, time_unit="us", strict=False).dt.convert_time_zone("UTC")
        naive = pl.coalesce([iso.str.to_datetime(f, time_unit="us", strict=False) for f in ISO_NAIVE_FORMATS])
        local = _localise(naive, timezone)
        parsed = pl.when(has_offset).then(aware).otherwise(local)
        gap = (~has_offset) & naive.is_not_null() & local.is_null()
    elif "%z" in fmt or "%:z" in fmt:
        parsed = text.str.to_datetime(fmt, time_unit="us", strict=False).dt.convert_time_zone("UTC")
        gap = pl.lit(False)
    else:
        naive = text.str.to_datetime(fmt, time_unit="us", strict=False)
        parsed = _localise(naive, timezone)
        gap = naive.is_not_null() & parsed.is_null()
    handed = (
        pl.when(parsed.is_not_null())
        .then(parsed.dt.strftime(UTC_TEXT_FORMAT))
        .when(gap)
        .then(text + pl.lit(f" (DST gap in {timezone})"))
        .otherwise(text)
    )
    return parsed.dt.replace_time_zone(None), handed


def _localise(naive: pl.Expr, timezone: str) -> pl.Expr:
    """Naive local datetimes in `timezone` as UTC; ambiguous -> first occurrence, gap -> null."""
    return naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


def date_expr(column: str, *, fmt: str | None) -> pl.Expr:
    """A native date column as ISO `YYYY-MM-DD` text, or the native text when it cannot be read."""
    text = pl.col(column).str.strip_chars()
    if fmt is None:
        parsed = pl.coalesce(
            text.str.to_date("%Y-%m-%d", strict=False), text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        )
    else:
        parsed = text.str.to_date(fmt, strict=False)
    return pl.when(parsed.is_not_null()).then(parsed.dt.strftime("%Y-%m-%d")).otherwise(text)
