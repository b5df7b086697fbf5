"""Read one input file into typed rows and quarantined rows, never raising on bad input.

A file is either rejected whole (it cannot be read as the source's table at all) or
split row by row into valid rows and quarantined rows, each quarantined row carrying a
rule, a human reason naming the column, and its raw values as JSON. Everything is
vectorised: no Python loop runs per row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from pipelines.ingest.sources import SUPPORTED_SUFFIXES, SourceSpec

# Longest raw value kept in a quarantine record; a 10 MB field must not bloat the table.
RECORD_VALUE_LIMIT = 500
SNIFF_BYTES = 8192
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
# Rules, most fundamental first: a row's `rule` is the first one it breaks.
RULE_ORDER = ("missing_value", "unparseable", "out_of_range", "closed_before_opened", "invalid")

QUARANTINE_SCHEMA = {
    "source": pl.String,
    "source_file": pl.String,
    "row_number": pl.Int64,
    "rule": pl.String,
    "reason": pl.String,
    "record": pl.String,
}


class FileRejected(Exception):
    """The file cannot be read as a table of this source; the message is the reason."""


@dataclass
class FileResult:
    """What reading one file produced."""

    source: str
    source_file: str
    size_bytes: int
    sha256: str
    status: str = "loaded"
    """`loaded`, or `rejected` when the whole file was refused."""
    reason: str | None = None
    rows_read: int = 0
    extra_columns: list[str] = field(default_factory=list)
    valid: pl.DataFrame | None = None
    """Typed rows that passed every row rule, with `source_file` and `row_number`."""
    quarantined: pl.DataFrame | None = None
    """Rows that broke a rule, in the quarantine table's shape."""

    @property
    def quarantined_count(self) -> int:
        """Rows of this file sent to quarantine while reading."""
        return 0 if self.quarantined is None else self.quarantined.height


def file_digest(path: Path) -> str:
    """sha256 of the file's bytes, read in chunks so a large file costs little memory."""
    # connectors hook: a native export's digest also covers its mapping
    from pipelines.connectors import native_digest

    if (connector_digest := native_digest(path)) is not None:
        return connector_digest
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_source_file(path: Path, spec: SourceSpec, input_dir: Path, sha256: str | None = None) -> FileResult:
    """Read, type and validate one file of `spec`; a bad file comes back rejected, never raised.

    `sha256` may be passed when the caller has already hashed the file.
    """
    relative = path.relative_to(input_dir).as_posix() if path.is_relative_to(input_dir) else path.name
    result = FileResult(
        source=spec.name, source_file=relative, size_bytes=path.stat().st_size, sha256=sha256 or file_digest(path)
    )
    try:
        raw = _read_raw(path, spec)
        result.extra_columns = [c for c in raw.columns if c not in spec.columns]
        result.rows_read = raw.height
        # Extra columns are reported, then ignored: dropping them here also keeps input
        # names from ever meeting the reader's own working columns.
        raw = raw.select(list(spec.columns))
        valid, quarantined = _split_rows(raw, spec, relative)
    except FileRejected as rejected:
        result.status, result.reason = "rejected", str(rejected)
        return result
    result.valid, result.quarantined = valid, quarantined
    return result


def _read_raw(path: Path, spec: SourceSpec) -> pl.DataFrame:
    """The file as a frame of strings (blank cells null) with every contract column present."""
    # connectors hook: a native export's rows, as strings
    from pipelines.connectors import native_frame

    if (connector_rows := native_frame(path, spec)) is not None:
        return connector_rows
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejected(f"unsupported file type '{suffix or path.name}'; opvalue reads .csv and .parquet files")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FileRejected("empty file (0 bytes)")
    if suffix == ".csv":
        frame = _read_csv(path, head)
    else:
        frame = _read_parquet(path, head)
    missing = [c for c in spec.required_columns if c not in frame.columns]
    if missing:
        raise FileRejected(f"missing required column(s): {', '.join(missing)}")
    if frame.height == 0:
        raise FileRejected("no data rows (header only)")
    for column, default in spec.optional_columns.items():
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    # Cells of spaces count as blank; the contract has no meaningful leading/trailing spaces.
    return frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None))


def _read_csv(path: Path, head: bytes) -> pl.DataFrame:
    """A CSV as strings, after the checks that tell a CSV from something merely named .csv."""
    if head.startswith(b"PK\x03\x04"):
        raise FileRejected("this is a zip archive, probably an Excel workbook (.xlsx) named .csv; export it as CSV")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected("this is a legacy Excel workbook (.xls) named .csv; export it as CSV")
    if b"\x00" in head:
        raise FileRejected("binary content (NUL bytes), not a text CSV")
    bad_at = _first_invalid_utf8(path)
    if bad_at is not None:
        raise FileRejected(f"not valid UTF-8 (first bad byte at offset {bad_at}; Latin-1 or Windows-1252?); save the file as UTF-8")
    header = _header(head)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        delimiter = "';'" if ";" in header[0] else "a tab"
        raise FileRejected(f"the header is separated by {delimiter}; opvalue reads comma-separated files")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise FileRejected(f"duplicated header column(s): {', '.join(duplicated)}")
    try:
        return pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
    except Exception as error:  # polars raises several error types for malformed CSV
        raise FileRejected(f"cannot parse as CSV: {_first_line(error)}") from error


def _read_parquet(path: Path, head: bytes) -> pl.DataFrame:
    """A Parquet file with every column cast to string, so typed and text inputs share one path."""
    if not head.startswith(b"PAR1"):
        raise FileRejected("not a Parquet file (no PAR1 magic bytes)")
    try:
        frame = pl.read_parquet(path)
    except Exception as error:
        raise FileRejected(f"cannot read Parquet: {_first_line(error)}") from error
    casts = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if isinstance(dtype, pl.Datetime):
            column = column.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
        elif dtype.is_nested():
            # A list or struct cell can never be a contract value; keep it visibly unreadable.
            column = pl.when(column.is_not_null()).then(pl.lit(f"<{dtype}>"))
        casts.append(column.cast(pl.String, strict=False).alias(name))
    return frame.select(casts)


def _first_invalid_utf8(path: Path) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None; streams the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset + error.start
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def _header(head: bytes) -> list[str]:
    """Column names of the first line, BOM removed."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first_line = text.splitlines()[0] if text else ""
    return next(csv.reader(io.StringIO(first_line)), [])


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


# --- row rules ---------------------------------------------------------------------------


def _parse_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """Typed value of a string column; null where the text is blank or cannot be read."""
    text = pl.col(name)
    if dtype == pl.String:
        return text
    if dtype == pl.Int64:
        return text.cast(pl.Int64, strict=False)
    if dtype == pl.Float64:
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number)
    if dtype == pl.Boolean:
        word = text.str.to_lowercase()
        return pl.when(word.is_in(TRUE_WORDS)).then(True).when(word.is_in(FALSE_WORDS)).then(False).otherwise(None)
    if dtype == pl.Date:
        return text.str.to_date("%Y-%m-%d", strict=False)
    if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime:
        return pl.col(_timestamp_column(name))
    raise TypeError(f"no parser for {dtype}")


def _timestamp_column(name: str) -> str:
    return f"__timestamp_{name}"


def _parse_timestamps(raw: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """ISO 8601 text to naive UTC timestamps, one column per name, in `raw`'s row order.

    DuckDB's cast does this about six times faster than chained polars parses: an offset or
    `Z` (or a zone name) is converted to UTC, and a zone-less value is read as UTC because
    the session's time zone is UTC. Unreadable text becomes null.
    """
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        frame = raw.select("__index", *names)  # noqa: F841 - read by DuckDB below
        casts = ", ".join(
            f"cast(try_cast({name} as timestamptz) at time zone 'UTC' as timestamp) as {_timestamp_column(name)}"
            for name in names
        )
        return con.sql(f"select __index, {casts} from frame order by __index").pl()
    finally:
        con.close()


KIND_NAMES = {pl.Int64: "whole number", pl.Float64: "number", pl.Boolean: "boolean (true/false, 1/0, yes/no)", pl.Date: "date (YYYY-MM-DD)"}


def _kind_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime:
        return "ISO 8601 timestamp"
    return KIND_NAMES.get(dtype, str(dtype))


def _split_rows(raw: pl.DataFrame, spec: SourceSpec, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid typed rows and quarantined rows of one file's raw strings."""
    columns = spec.columns
    raw = raw.with_row_index("__index").with_columns((pl.col("__index") + 1).cast(pl.Int64).alias("row_number"))
    for name in spec.lowercase:
        raw = raw.with_columns(pl.col(name).str.to_lowercase())

    timestamps = spec.timestamp_columns
    if timestamps:
        parsed = _parse_timestamps(raw, timestamps)
        raw = raw.with_columns(parsed.drop("__index").cast({_timestamp_column(n): pl.Datetime("us") for n in timestamps}))

    typed_exprs = []
    for name, dtype in columns.items():
        parsed_expr = _parse_expr(name, dtype)
        if name in spec.blank_defaults:
            parsed_expr = pl.when(pl.col(name).is_null()).then(pl.lit(spec.blank_defaults[name])).otherwise(parsed_expr)
        typed_exprs.append(parsed_expr.cast(dtype).alias(f"__typed_{name}"))
    raw = raw.with_columns(typed_exprs)
    typed = raw.select("__index", "row_number", *[pl.col(f"__typed_{name}").alias(name) for name in columns])

    # A value that was there but did not parse is `unparseable`, named per column.
    parse_errors = [
        pl.when(pl.col(name).is_not_null() & pl.col(f"__typed_{name}").is_null())
        .then(pl.format("{}: cannot read '{}' as a {}", pl.lit(name), pl.col(name).str.slice(0, 60), pl.lit(_kind_name(dtype))))
        .alias(name)
        for name, dtype in columns.items()
        if dtype != pl.String
    ]
    parse_failures = (
        raw.select(pl.col("__index"), *parse_errors)
        .unpivot(index="__index", variable_name="column", value_name="reason")
        .drop_nulls("reason")
        .with_columns(pl.lit("unparseable").alias("rule"))
    ) if parse_errors else pl.DataFrame(schema={"__index": pl.UInt32, "column": pl.String, "reason": pl.String, "rule": pl.String})

    schema_failures = _schema_failures(typed.drop("__index", "row_number"), spec)
    # A parse failure already explains the null pandera sees in that cell.
    schema_failures = schema_failures.join(parse_failures.select("__index", "column"), on=["__index", "column"], how="anti")
    failures = pl.concat([parse_failures.select("__index", "column", "rule", "reason"), schema_failures], how="vertical")

    rank = {rule: i for i, rule in enumerate(RULE_ORDER)}
    per_row = (
        failures.with_columns(pl.col("rule").replace_strict(rank, default=len(RULE_ORDER)).alias("__rank"))
        .sort("__index", "__rank", "column")
        .group_by("__index", maintain_order=True)
        # Prefixed names: an input file may carry extra columns called `rule` or `reason`.
        .agg(pl.col("rule").first().alias("__rule"), pl.col("reason").str.join("; ").alias("__reason"))
    )
    bad_index = per_row.get_column("__index")
    bad_raw = raw.join(per_row, on="__index", how="inner")
    # JSON only for the bad rows: building it for every row would dominate large files.
    record = _record_json(list(columns))
    quarantined = (
        bad_raw.with_columns(record.alias("record"))
        .select(
            pl.lit(spec.name).alias("source"),
            pl.lit(source_file).alias("source_file"),
            "row_number",
            pl.col("__rule").alias("rule"),
            pl.col("__reason").alias("reason"),
            "record",
        )
        .sort("row_number")
    )
    valid = (
        typed.filter(~pl.col("__index").is_in(bad_index.implode()))
        .drop("__index")
        .with_columns(
            pl.lit(source_file).alias("source_file"),
            # One hash of every contract column makes "the same row twice" a cheap comparison.
            pl.struct(list(columns)).hash().alias("row_hash"),
        )
    )
    return valid, quarantined.cast(QUARANTINE_SCHEMA)


def _schema_failures(typed: pl.DataFrame, spec: SourceSpec) -> pl.DataFrame:
    """pandera's failure cases, one row per (row, column, rule) with a human reason."""
    empty = pl.DataFrame(schema={"__index": pl.UInt32, "column": pl.String, "rule": pl.String, "reason": pl.String})
    try:
        spec.model.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.filter(pl.col("index").is_not_null())
    else:
        return empty
    if cases.is_empty():
        return empty
    described = [_describe(row) for row in cases.select("column", "check", "failure_case").unique().iter_rows(named=True)]
    lookup = pl.DataFrame(
        described,
        schema={"column": pl.String, "check": pl.String, "failure_case": pl.String, "out_column": pl.String, "rule": pl.String, "reason": pl.String},
        orient="row",
    )
    joined = cases.join(lookup, on=["column", "check", "failure_case"], how="left", nulls_equal=True)
    return joined.select(
        pl.col("index").cast(pl.UInt32).alias("__index"),
        pl.col("out_column").alias("column"),
        "rule",
        "reason",
    )


def _describe(case: dict) -> tuple:
    """Rule and reason for one distinct pandera failure (column, check, value)."""
    column, check, value = case["column"], case["check"] or "", case["failure_case"]
    shown = "null" if value is None else str(value)[:60]
    if check == "not_nullable":
        return column, case["check"], value, column, "missing_value", f"{column}: required value is missing"
    if check.startswith("greater_than_or_equal_to("):
        bound = check[len("greater_than_or_equal_to(") : -1]
        return column, case["check"], value, column, "out_of_range", f"{column}: {shown} is out of range (must be >= {bound})"
    if check.startswith("isin("):
        allowed = check[len("isin(") : -1].replace("'", "").strip("[]")
        return column, case["check"], value, column, "out_of_range", f"{column}: '{shown}' is not one of {allowed}"
    if check.startswith("str_length("):
        return column, case["check"], value, column, "missing_value", f"{column}: required value is missing"
    if check == "closed_at_not_before_opened_at":
        return column, case["check"], value, "closed_at", "closed_before_opened", "closed_at: earlier than opened_at"
    if check == "eligible_users_required_when_deployed":
        return column, case["check"], value, "eligible_users", "missing_value", "eligible_users: required when deployed_on is set"
    return column, case["check"], value, column, "invalid", f"{column}: fails {check} (value {shown})"


def _record_json(names: list[str]) -> pl.Expr:
    """The raw values of each row as a JSON object, long values cut to RECORD_VALUE_LIMIT."""
    fields = [
        pl.when(pl.col(name).str.len_chars() > RECORD_VALUE_LIMIT)
        .then(pl.col(name).str.slice(0, RECORD_VALUE_LIMIT) + pl.lit("…[truncated]"))
        .otherwise(pl.col(name))
        .alias(name)
        for name in names
    ]
    return pl.struct(fields).struct.json_encode()
