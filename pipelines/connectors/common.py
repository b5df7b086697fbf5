"""What every connector shares: the hand-over shape, errors, format sniffing and table reading."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SNIFF_BYTES = 8192
# Native exports are decompressed in memory; beyond this a file is refused, not read.
MAX_DECOMPRESSED_BYTES = 2 << 30


class ConnectorError(Exception):
    """The native file cannot be converted at all; the message is the rejection reason."""


@dataclass
class Conversion:
    """One native file converted: rows of an opvalue source, all strings, plus what was read."""

    frame: pl.DataFrame
    """Contract columns as strings, plus `native_row`: where in the native file each row came from.

    Rows are in native order, so the reader's `row_number` (the row's position in this
    frame) is the N-th case, ticket or record of the file; `native_row` is for the preview.
    """
    unit: str
    """What one row is and what its native_row points at."""
    note: str
    """One line: what was read and produced (printed by `make pipeline`)."""
    stats: dict = field(default_factory=dict)


def sniff(path: Path) -> bytes:
    """The first bytes of a file (raw, not decompressed)."""
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def head_text(path: Path) -> bytes:
    """The first bytes of a file's content, decompressed when it is gzip."""
    raw = sniff(path)
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return b""


def content_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when gzip; refuses corrupt or oversized archives."""
    if sniff(path)[:2] != b"\x1f\x8b":
        return path.read_bytes()
    out = io.BytesIO()
    try:
        with gzip.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                out.write(chunk)
                if out.tell() > MAX_DECOMPRESSED_BYTES:
                    raise ConnectorError("the gzip file decompresses to more than 2 GiB; refused")
    except (OSError, EOFError, zlib.error) as error:
        raise ConnectorError(f"corrupt gzip file: {error}") from None
    return out.getvalue()


def detect_format(path: Path) -> str:
    """`xes`, `csv`, `parquet`, `json`, `ndjson` or `unknown`, from the content, not the name."""
    raw = sniff(path)
    if raw.startswith(b"PAR1"):
        return "parquet"
    head = head_text(path).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "xes" if b"<log" in head or b"<trace" in head else "unknown"
    if head.startswith((b"{", b"[")):
        first_line = head.split(b"\n", 1)[0].strip()
        if head.startswith(b"{") and first_line.endswith(b"}") and b"\n" in head.strip():
            try:
                json.loads(first_line)
                return "ndjson"
            except ValueError:
                pass
        return "json"
    if b"\x00" in head:
        return "unknown"
    return "csv" if head else "unknown"


def csv_header(path: Path) -> list[str]:
    """Column names of a (possibly gzip) CSV's first line."""
    import csv

    text = head_text(path).decode("utf-8", errors="replace").lstrip("\ufeff")
    first = text.splitlines()[0] if text else ""
    return [name.strip() for name in next(csv.reader(io.StringIO(first)), [])]


def read_table(path: Path, missing_values: list[str]) -> pl.DataFrame:
    """A CSV (plain or gzip) or Parquet file as strings; blank cells and `missing_values` are null."""
    kind = detect_format(path)
    if kind == "parquet":
        frame = _parquet_as_text(path)
    elif kind == "csv":
        data = content_bytes(path)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConnectorError(
                f"not valid UTF-8 (first bad byte at offset {error.start}); save the export as UTF-8"
            ) from None
        try:
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8", raise_if_empty=False)
        except Exception as error:  # noqa: BLE001 - polars raises several error types for malformed CSV
            raise ConnectorError(f"cannot parse as CSV: {str(error).strip().splitlines()[0][:300]}") from None
        frame = frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})
    else:
        raise ConnectorError(f"expected a CSV or Parquet table, found {kind} content")
    if frame.height == 0:
        raise ConnectorError("no data rows (header only)")
    nulls = ["", *missing_values]
    return frame.with_columns(pl.col(pl.String).str.strip_chars().replace(nulls, None))


def _parquet_as_text(path: Path) -> pl.DataFrame:
    """A Parquet file with every column as text; a zoned timestamp keeps its instant as `+00:00`."""
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - polars and pyarrow raise several error types
        raise ConnectorError(f"cannot read Parquet: {str(error).strip().splitlines()[0][:300]}") from None
    casts = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00")
        elif isinstance(dtype, pl.Datetime):
            # A naive timestamp stays naive: the mapping's time zone applies to it.
            column = column.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
        elif dtype.is_nested():
            column = pl.when(column.is_not_null()).then(pl.lit(f"<{dtype}>"))
        casts.append(column.cast(pl.String, strict=False).alias(name))
    return frame.select(casts)
