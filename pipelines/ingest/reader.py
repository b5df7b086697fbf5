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
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandera.polars as pa
import polars as pl

from pipelines import privacy
from pipelines.ingest.sources import SUPPORTED_SUFFIXES, SourceSpec
from pipelines.settings import naive_time_zone

# Python's csv module refuses fields over 128 KiB by default; a huge field is a row
# problem (quarantined, its record cut), not a reason to stop reading the file.
csv.field_size_limit(2**31 - 1)

# Longest raw value kept in a quarantine record; a 10 MB field must not bloat the table.
RECORD_VALUE_LIMIT = 500
SNIFF_BYTES = 8192
# CSV files up to this size are read record by record (the exact path), larger ones by polars.
SMALL_CSV_BYTES = 256 * 1024
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
# Rules, most fundamental first: a row's `rule` is the first one it breaks.
RULE_ORDER = ("missing_value", "unparseable", "out_of_range", "closed_before_opened", "invalid")
# Above this share of lines with a double quote (exports that quote every field), fields
# are counted by one pass of the csv module rather than from each quoted line.
QUOTED_LINES_SHARE = 0.125
# A row that does not have the header's number of fields; its cells cannot be trusted.
WRONG_FIELD_COUNT = "wrong_field_count"

# Timestamps: the only accepted forms (docs/data-contract.md). A date, optionally a time
# (`T`, `t` or a space before it; minutes required, seconds and up to 9 fraction digits
# optional), optionally a zone: `Z` or a numeric offset `±HH`, `±HHMM`, `±HH:MM`.
# Four-digit years only: BC dates, signed and 5+ digit years never match. ASCII digits only:
# `\d` also matches other scripts' digits, which the offset's cast then refused, failing the file.
TIMESTAMP_PATTERN = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?)?$"
)
# The forms nearly every export writes: whole seconds, then `Z`, an offset `±HH:MM` or no
# zone. A value of exactly one of these forms is read by one strict format and its offset
# by position; any other value takes the exact path.
COMMON_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})?$"
COMMON_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Words databases and spreadsheets accept as timestamps; none is a moment in an export.
SPECIAL_TIMESTAMPS = (
    "infinity",
    "+infinity",
    "-infinity",
    "inf",
    "+inf",
    "-inf",
    "epoch",
    "now",
    "today",
    "tomorrow",
    "yesterday",
    "allballs",
    "nan",
    "nat",
)
EARLIEST_ACCEPTED = datetime(1990, 1, 1)
FUTURE_SLACK = timedelta(days=1)
MAX_OFFSET_MINUTES = 14 * 60

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


@dataclass
class RawRows:
    """One file's cells as text, before any rule: the reader's hand-over point.

    `frame` holds one string column per header column (blank cells null). `row_numbers`
    gives each frame row's 1-based data-row number when some rows were set aside as
    `malformed` (rows with the wrong number of fields), else None (numbered in order).
    """

    frame: pl.DataFrame
    row_numbers: pl.Series | None = None
    malformed: list[tuple[int, int, int, int, list[str]]] = field(default_factory=list)
    """(row number, first line, last line, fields found, the fields) of each malformed row."""
    width: int = 0
    """Fields in the header."""
    cut_last_line: bool = False
    """Whether the file ends without a newline (its last malformed row may be a cut line)."""


def build_time() -> datetime:
    """Now, as naive UTC: the upper bound of accepted timestamps is this plus one day."""
    return datetime.now(UTC).replace(tzinfo=None)


def read_source_file(
    path: Path, spec: SourceSpec, input_dir: Path, sha256: str | None = None, *, now: datetime | None = None
) -> FileResult:
    """Read, type and validate one file of `spec`; a bad file comes back rejected, never raised.

    `sha256` may be passed when the caller has already hashed the file; `now` (naive UTC)
    sets the latest accepted timestamp (`now` + 1 day) and defaults to the build time.
    """
    result, raw = read_raw_file(path, spec, input_dir, sha256)
    return result if raw is None else validate_rows(raw, spec, result, now=now)


def read_raw_file(
    path: Path, spec: SourceSpec, input_dir: Path, sha256: str | None = None
) -> tuple[FileResult, RawRows | None]:
    """The first half of reading a file: its cells as text, or the file rejected (RawRows None).

    The row rules run afterwards, for one file (`validate_rows`) or for many at once
    (`validate_many`), which is what makes thousands of small files cheap to read.
    """
    relative = path.relative_to(input_dir).as_posix() if path.is_relative_to(input_dir) else path.name
    result = FileResult(
        source=spec.name, source_file=relative, size_bytes=path.stat().st_size, sha256=sha256 or file_digest(path)
    )
    try:
        return result, _read_raw(path, spec)
    except FileRejected as rejected:
        result.status, result.reason = "rejected", str(rejected)
        return result, None


def validate_rows(raw: RawRows, spec: SourceSpec, result: FileResult, *, now: datetime | None = None) -> FileResult:
    """Type and validate rows already read as text; fills `result` and returns it.

    This is the entry point for rows that come from somewhere other than a CSV or Parquet
    file (a converted native export): build a `RawRows` of strings with the contract's
    column names and pass it here, so the rows meet exactly the same rules.
    """
    validate_many([(raw, result)], spec, now=now)
    return result


def validate_many(
    files: list[tuple[RawRows, FileResult]], spec: SourceSpec, *, now: datetime | None = None
) -> list[FileResult]:
    """Type and validate the rows of several files at once; fills each file's `FileResult`.

    Every rule is row-wise, so running them once over the files' rows stacked together
    (each row keeping its file and row number) gives every file exactly the result it gets
    alone, without paying polars' and pandera's fixed cost per call once per file. A file
    whose columns are not all text (a connector's frame) is validated on its own.
    """
    key = privacy.pseudonym_key() if spec.pseudonymised else None
    stacked: list[tuple[RawRows, FileResult]] = []
    for raw, result in files:
        if not _accept_frame(raw, spec, result):
            continue
        if all(dtype == pl.String for dtype in raw.frame.dtypes):
            stacked.append((raw, result))
        else:
            _validate_stacked([(raw, result)], spec, key, now)
    if stacked:
        _validate_stacked(stacked, spec, key, now)
    return [result for _, result in files]


def _accept_frame(raw: RawRows, spec: SourceSpec, result: FileResult) -> bool:
    """Whether a file's rows go on to the row rules; if not, `result` says why it is rejected."""
    columns = raw.frame.columns
    missing = [c for c in spec.required_columns if c not in columns]
    if missing:
        result.status, result.reason = "rejected", f"missing required column(s): {', '.join(missing)}"
        return False
    if raw.frame.height == 0 and not raw.malformed:
        result.status, result.reason = "rejected", "no data rows (header only)"
        return False
    result.extra_columns = [c for c in columns if c not in spec.columns]
    result.rows_read = raw.frame.height + len(raw.malformed)
    return True


def _validate_stacked(
    files: list[tuple[RawRows, FileResult]], spec: SourceSpec, key: bytes | None, now: datetime | None
) -> None:
    """Run the row rules once over the rows of `files`, stacked, and hand each file its rows."""
    frames = [raw.frame for raw, _ in files]
    frame = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    # Extra columns are reported, then ignored: dropping them here also keeps input
    # names from ever meeting the reader's own working columns.
    frame = frame.select(
        pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.String).alias(c) for c in spec.columns
    )
    numbers = [
        raw.row_numbers.cast(pl.Int64)
        if raw.row_numbers is not None
        else pl.int_range(1, raw.frame.height + 1, dtype=pl.Int64, eager=True)
        for raw, _ in files
    ]
    names = pl.Series([result.source_file for _, result in files], dtype=pl.String)
    heights = pl.Series([raw.frame.height for raw, _ in files], dtype=pl.Int64)
    frame = frame.with_columns(
        (pl.concat(numbers) if len(numbers) > 1 else numbers[0]).alias("row_number"),
        names.gather(
            pl.int_range(len(files), dtype=pl.Int64, eager=True).repeat_by(heights).explode().drop_nulls()
        ).alias("source_file"),
    )
    # Cells of spaces count as blank; the contract has no meaningful leading/trailing spaces.
    frame = frame.with_columns(
        pl.col(name).str.strip_chars().replace("", None)
        for name, dtype in frame.schema.items()
        if name in spec.columns and dtype == pl.String
    )
    if spec.pseudonymised:
        # Before any rule runs, so no raw id reaches a quarantine record either.
        frame = frame.with_columns(privacy.pseudonymise(frame.get_column(c), key).alias(c) for c in spec.pseudonymised)
    valid, quarantined = _split_rows(frame, spec, now=now or build_time())
    malformed = [_malformed_rows(raw, spec, result.source_file, key) for raw, result in files if raw.malformed]
    if malformed:
        quarantined = pl.concat([quarantined, *malformed]).sort("source_file", "row_number")
    quarantined_parts = {k[0]: part for k, part in quarantined.partition_by("source_file", as_dict=True).items()}
    valid_parts = {k[0]: part for k, part in valid.partition_by("source_file", as_dict=True).items()}
    for _, result in files:
        result.valid = valid_parts.get(result.source_file, valid.clear())
        result.quarantined = quarantined_parts.get(result.source_file, quarantined.clear())


def _malformed_rows(raw: RawRows, spec: SourceSpec, source_file: str, key: bytes | None) -> pl.DataFrame:
    """Quarantine rows for rows with the wrong number of fields, with line and field counts."""
    last = max(number for number, *_ in raw.malformed)
    rows = []
    for number, line, end_line, found, fields in raw.malformed:
        reason = f"line {line}: {found} of {raw.width} fields"
        if end_line > line:
            reason += f" (one quoted field runs from line {line} to {end_line}: an unmatched quote?)"
        if raw.cut_last_line and number == last:
            reason += " (the file's last line, with no line end: the file may be cut)"
        values = [value[:RECORD_VALUE_LIMIT] for value in fields]
        if key is not None:
            # Misaligned cells may hold a user id in any position: every cell is pseudonymised.
            values = [privacy.pseudonym(value, key) if value.strip() else value for value in values]
        record = json.dumps({"line": line, "fields": values}, ensure_ascii=False)
        rows.append((spec.name, source_file, number, WRONG_FIELD_COUNT, reason, record))
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA, orient="row")


def _read_raw(path: Path, spec: SourceSpec) -> RawRows:
    """The file's cells as strings, or FileRejected when it is not a table of this source.

    A native export under `connectors/` (or a registry completed from a seat list) comes
    back from its connector already as the source's columns; it then meets the same rules.
    """
    from pipelines.connectors import native_frame  # connectors hook: a native export's rows

    if (connector_rows := native_frame(path, spec)) is not None:
        return connector_rows if isinstance(connector_rows, RawRows) else RawRows(frame=connector_rows)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileRejected(f"unsupported file type '{suffix or path.name}'; opvalue reads .csv and .parquet files")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FileRejected("empty file (0 bytes)")
    if suffix == ".csv":
        return _read_csv(path, head)
    return RawRows(frame=_read_parquet(path, head, spec))


def _read_csv(path: Path, head: bytes) -> RawRows:
    """A CSV as strings, after the checks that tell a CSV from something merely named .csv."""
    if head.startswith(b"PK\x03\x04"):
        raise FileRejected("this is a zip archive, probably an Excel workbook (.xlsx) named .csv; export it as CSV")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected("this is a legacy Excel workbook (.xls) named .csv; export it as CSV")
    if b"\x00" in head:
        raise FileRejected("binary content (NUL bytes), not a text CSV")
    bad_at = _first_invalid_utf8(path)
    if bad_at is not None:
        raise FileRejected(
            f"not valid UTF-8 (first bad byte at offset {bad_at}; Latin-1 or Windows-1252?); save the file as UTF-8"
        )
    header = _header(head)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        delimiter = "';'" if ";" in header[0] else "a tab"
        raise FileRejected(f"the header is separated by {delimiter}; opvalue reads comma-separated files")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise FileRejected(f"duplicated header column(s): {', '.join(duplicated)}")
    # polars pads a short row with nulls without a word and refuses a whole file for one
    # long row, so the fields of every record are counted first (the csv module's C
    # parser, no Python code per row). Only a file with a wrong count, or one polars
    # cannot read, takes the exact record-by-record path.
    width = len(header)
    if path.stat().st_size <= SMALL_CSV_BYTES:
        # A small file goes straight to the exact path: the csv module reads it faster than
        # polars can start, and the result is the one the fast path must agree with anyway.
        try:
            return _read_csv_exactly(path, header)
        except csv.Error as error:
            raise FileRejected(f"cannot parse as CSV: {error}") from error
    try:
        counts = _field_counts(path)
    except csv.Error as error:
        raise FileRejected(f"cannot parse as CSV: {error}") from error
    records = sum(counts.values())
    if records <= 1:
        return RawRows(frame=pl.DataFrame(schema=dict.fromkeys(header, pl.String)), width=width)
    if set(counts) <= {width, 0}:
        try:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
        except Exception:  # noqa: BLE001 - polars raises several error types; the exact path decides
            frame = None
        if frame is not None and frame.height == records - 1 and frame.width == width:
            return RawRows(frame=frame, width=width)
    try:
        return _read_csv_exactly(path, header)
    except csv.Error as error:
        raise FileRejected(f"cannot parse as CSV: {error}") from error


def _field_counts(path: Path) -> Counter:
    """How many records have each number of fields (the header included), as the csv module counts them.

    A line without a double quote is one whole record when it starts one, with one field
    more than its commas (none when it is blank): those are counted on the bytes at once.
    From each line with a quote, the csv module reads the record it starts, however many
    lines its quoted fields span. Counting every record through the csv module was 10% of
    the reading CPU at 1M items. A file with a NUL byte or a carriage return not followed by
    a line feed (which the csv module also ends a line on) is read by the csv module whole.
    """
    raw = path.read_bytes()
    # bytes' own searches (memchr) decide the fallbacks without a pass of numpy each.
    returns = raw.count(b"\r") if b"\r" in raw else 0  # the search stops at the first; the count reads all
    if b"\x00" in raw or (returns and (raw.endswith(b"\r") or returns != raw.count(b"\r\n"))):
        return _field_counts_by_csv(path)
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [data.size]))
    if starts[-1] == data.size:
        # The file ends with a line end: no record after it.
        starts, stops = starts[:-1], stops[:-1]
    lines = starts.size
    # Commas before each line's end, from the (sorted) comma positions: one lookup per line.
    commas = np.diff(np.searchsorted(np.flatnonzero(data == ord(",")), stops), prepend=0)
    lengths = stops - starts
    if returns:
        lengths = lengths - (data[np.maximum(stops - 1, 0)] == ord("\r")) * (lengths > 0)
    fields = np.where(lengths == 0, 0, commas + 1)
    quoted = np.unique(np.searchsorted(ends, np.flatnonzero(data == ord('"')))) if b'"' in raw else np.empty(0, int)
    if quoted.size > lines * QUOTED_LINES_SHARE:
        return _field_counts_by_csv(path)

    def text_from(first: int):
        """The file's lines from `first` on, line ends kept, as the csv module reads them."""
        for number in range(first, lines):
            chunk = data[starts[number] : min(stops[number] + 1, data.size)].tobytes()
            yield chunk.decode("utf-8-sig" if number == 0 else "utf-8")

    counts: Counter = Counter()
    whole = np.ones(lines, dtype=bool)
    position = 0
    for line in quoted.tolist():
        if line < position:
            continue  # inside a record the csv module already read
        reader = csv.reader(text_from(line))
        record = next(reader, None)
        consumed = max(reader.line_num, 1)
        counts[0 if record is None else len(record)] += 1
        whole[line : line + consumed] = False
        position = line + consumed
    counts.update(_tally(fields[whole]))
    return +counts


def _tally(values: np.ndarray) -> Counter:
    """How many times each value occurs."""
    distinct, times = np.unique(values, return_counts=True)
    return Counter(dict(zip(distinct.tolist(), times.tolist(), strict=True)))


def _field_counts_by_csv(path: Path) -> Counter:
    """`_field_counts` through the csv module, record by record."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return Counter(map(len, csv.reader(handle)))


def _read_csv_exactly(path: Path, header: list[str]) -> RawRows:
    """Record by record: rows with the header's field count kept, the others set aside with their line."""
    width = len(header)
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, int, int, int, list[str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        for number, fields in enumerate(reader, start=1):
            line, previous_end = previous_end + 1, reader.line_num
            if not fields:
                # A blank line: a row with every cell blank, as the fast path reads it.
                rows.append([None] * width)
                numbers.append(number)
            elif len(fields) == width:
                rows.append(fields)
                numbers.append(number)
            else:
                malformed.append((number, line, previous_end, len(fields), fields))
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - 1, 0))
        cut = handle.read(1) not in (b"\n", b"\r")
    frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    return RawRows(
        frame=frame, row_numbers=pl.Series(numbers, dtype=pl.Int64), malformed=malformed, width=width, cut_last_line=cut
    )


def _read_parquet(path: Path, head: bytes, spec: SourceSpec) -> pl.DataFrame:
    """A Parquet file's contract columns cast to string, so typed and text inputs share one path.

    Only the contract's columns are read: an extra column of any type (a Duration, a
    decimal, a nested list) is reported by name and never loaded, so it cannot fail the file.
    """
    if not head.startswith(b"PAR1"):
        raise FileRejected("not a Parquet file (no PAR1 magic bytes)")
    try:
        schema = pl.read_parquet_schema(path)
        wanted = [name for name in schema if name in spec.columns]
        frame = pl.read_parquet(path, columns=wanted)
    except Exception as error:
        raise FileRejected(f"cannot read Parquet: {_first_line(error)}") from error
    casts = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if isinstance(dtype, pl.Datetime):
            column = column.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
        elif dtype.is_nested() or isinstance(dtype, (pl.Duration, pl.Time, pl.Object, pl.Binary)):
            # Such a cell can never be a contract value; keep it visibly unreadable.
            column = pl.when(column.is_not_null()).then(pl.lit(f"<{dtype}>"))
        casts.append(column.cast(pl.String, strict=False).alias(name))
    frame = frame.select(casts)
    # Extra columns: names only, in the file's order (their values are never read).
    extras = [name for name in schema if name not in spec.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in extras)


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


def _parse_timestamps(raw: pl.DataFrame, names: list[str], time_zone: str | None, now: datetime) -> pl.DataFrame:
    """`raw` with, per timestamp column, its naive UTC value and, where it fails, a rule and reason.

    Only the forms of TIMESTAMP_PATTERN are read. An offset or `Z` is converted to UTC. A
    value without one is UTC, or local time in `time_zone` when the source has one set: a
    local time the clocks skipped (a daylight-saving gap) fails with a reason, and one they
    passed twice (an overlap) is read as the earlier of the two instants. Accepted values
    lie from 1990-01-01 to `now` + 1 day.

    Values in the forms nearly every export writes (`2026-03-01T09:30:00Z`, `...+02:00`, or
    no zone where the source has no local time zone) are read with one strict format;
    every other value takes the exact path (`_parse_timestamps_exactly`), which gives
    those values the same result (tests/test_reader_hardening.py). The exact path's
    pattern match and piecewise assembly were 17% of the reading CPU at 1M items.
    """
    latest = now + FUTURE_SLACK
    latest_text = latest.strftime("%Y-%m-%d %H:%M")

    # Built in stages, each part a column and every timestamp column in the same pass: one
    # expression reusing the same slices in several branches cost polars twice as much,
    # and one pass per column left the columns to be read one after the other.
    def part(key: str, name: str) -> str:
        return f"__ts_fast_{key}_{name}"

    raw = raw.with_columns(
        expression.alias(part(key, name))
        for name in names
        for key, expression in (
            ("common", pl.col(name).str.contains(COMMON_TIMESTAMP_PATTERN)),
            ("length", pl.col(name).str.len_chars()),
            (
                "local",
                pl.col(name).str.slice(0, 19).str.to_datetime(COMMON_TIMESTAMP_FORMAT, strict=False, time_unit="us"),
            ),
            ("hours", pl.col(name).str.slice(20, 2).cast(pl.Int64, strict=False)),
            ("minutes", pl.col(name).str.slice(23, 2).cast(pl.Int64, strict=False)),
            ("west", pl.col(name).str.slice(19, 1) == "-"),
        )
    )

    def utc(name: str) -> pl.Expr:
        """The value of a common form in UTC; null for any other value (the exact path's)."""
        offset = (pl.col(part("hours", name)) * 60 + pl.col(part("minutes", name))) * pl.when(
            pl.col(part("west", name))
        ).then(-1).otherwise(1)
        # Of a value of the common form, the length tells the zone: 19 none, 20 `Z`, 25 `±HH:MM`.
        offset = (
            pl.when(pl.col(part("length", name)) == 20)
            .then(pl.lit(0, dtype=pl.Int64))
            # A time without a zone is UTC unless the source has a local time zone (then the
            # exact path decides, daylight-saving gaps and overlaps included).
            .when(pl.col(part("length", name)) == 19)
            .then(pl.lit(0 if time_zone is None else None, dtype=pl.Int64))
            # An offset the exact path would refuse (minutes >= 60, beyond ±14:00) goes there.
            .when((pl.col(part("minutes", name)) < 60) & (offset.abs() <= MAX_OFFSET_MINUTES))
            .then(offset)
        )
        return pl.when(pl.col(part("common", name))).then(pl.col(part("local", name)) - pl.duration(minutes=offset))

    raw = raw.with_columns(utc(name).alias(part("utc", name)) for name in names)
    slow = {name: raw.get_column(part("utc", name)).is_null() & raw.get_column(name).is_not_null() for name in names}

    def outside(name: str) -> pl.Expr:
        value = pl.col(part("utc", name))
        return (value < pl.lit(EARLIEST_ACCEPTED)) | (value > pl.lit(latest))

    raw = raw.with_columns(
        column
        for name in names
        for column in (
            pl.when(outside(name)).then(_outside_reason(name, latest_text)).alias(_failure_column(name)),
            pl.when(outside(name)).then(pl.lit("out_of_range")).alias(_failure_rule_column(name)),
            pl.when(~outside(name))
            .then(pl.col(part("utc", name)))
            .cast(pl.Datetime("us"))
            .alias(_timestamp_column(name)),
        )
    ).drop(pl.selectors.starts_with("__ts_fast_"))
    for name in names:
        if slow[name].any():
            positions = slow[name].arg_true()
            exact = _parse_timestamps_exactly(raw.select(name).filter(slow[name]), [name], time_zone, now)
            raw = raw.with_columns(
                raw.get_column(column).clone().scatter(positions, exact.get_column(column))
                for column in (_failure_column(name), _failure_rule_column(name), _timestamp_column(name))
            )
    return raw


def _outside_reason(name: str, latest_text: str) -> pl.Expr:
    """The reason of a timestamp outside the accepted range (both paths word it alike)."""
    return pl.format(
        "{}: '{}' is outside the accepted range 1990-01-01 to {} UTC (build time + 1 day)",
        pl.lit(name),
        pl.col(name).str.slice(0, 60),
        pl.lit(latest_text),
    )


def _parse_timestamps_exactly(
    raw: pl.DataFrame, names: list[str], time_zone: str | None, now: datetime
) -> pl.DataFrame:
    """`_parse_timestamps` for any value: every form of TIMESTAMP_PATTERN, each failure's reason."""
    latest = now + FUTURE_SLACK
    latest_text = latest.strftime("%Y-%m-%d %H:%M")
    for name in names:
        # Built in stages, each step a column: one expression tree reusing the same parts
        # in every branch costs polars several times as much.
        def tmp(key: str, name: str = name) -> str:
            return f"__ts_{key}_{name}"

        text = pl.col(name)
        parts = raw.select(text.str.extract_groups(TIMESTAMP_PATTERN).alias("__parts")).unnest("__parts")
        raw = raw.with_columns(parts.get_column(key).alias(tmp(key)) for key in parts.columns)

        def part(key: str) -> pl.Expr:
            return pl.col(tmp(key))

        offset_minutes = part("offset_minutes").fill_null("0").cast(pl.Int64)
        raw = raw.with_columns(
            pl.concat_str(
                part("date"),
                pl.lit(" "),
                part("hour").fill_null("00"),
                pl.lit(":"),
                part("minute").fill_null("00"),
                pl.lit(":"),
                part("second").fill_null("00"),
                pl.lit("."),
                part("fraction").fill_null("0").str.slice(0, 6),
            )
            .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
            .alias(tmp("local")),
            pl.when(part("zone").str.to_uppercase() == "Z")
            .then(pl.lit(0, dtype=pl.Int64))
            .when(part("sign").is_not_null())
            .then(
                (part("offset_hours").cast(pl.Int64) * 60 + offset_minutes)
                * pl.when(part("sign") == "-").then(-1).otherwise(1)
            )
            .alias(tmp("offset")),
        )
        raw = raw.with_columns(
            (part("sign").is_not_null() & ((offset_minutes >= 60) | (part("offset").abs() > MAX_OFFSET_MINUTES)))
            .fill_null(False)
            .alias(tmp("bad_offset"))
        )
        local = part("local")
        if time_zone is None:
            naive = local
        else:
            naive = (
                local.dt.replace_time_zone(time_zone, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
            )
        raw = raw.with_columns(
            pl.when(part("zone").is_not_null())
            .then(local - pl.duration(minutes=part("offset")))
            .otherwise(naive)
            .alias(tmp("utc"))
        )
        utc, bad_offset, shown = part("utc"), part("bad_offset"), text.str.slice(0, 60)
        raw = raw.with_columns(
            ((utc < pl.lit(EARLIEST_ACCEPTED)) | (utc > pl.lit(latest))).fill_null(False).alias(tmp("outside"))
        )
        outside = part("outside")
        raw = raw.with_columns(
            pl.when(text.is_null())
            .then(pl.lit(None, dtype=pl.String))
            .when(text.str.to_lowercase().is_in(SPECIAL_TIMESTAMPS))
            .then(pl.format("{}: '{}' is a special value, not a timestamp", pl.lit(name), shown))
            .when(part("date").is_null())
            .then(pl.format("{}: cannot read '{}' as a ISO 8601 timestamp", pl.lit(name), shown))
            .when(bad_offset)
            .then(pl.format("{}: '{}' has an offset outside -14:00 to +14:00", pl.lit(name), shown))
            .when(local.is_null())
            .then(pl.format("{}: '{}' is not a real date and time", pl.lit(name), shown))
            .when(utc.is_null())
            .then(
                pl.format(
                    "{}: '{}' does not exist in {} (the clocks skipped that hour for daylight saving time)",
                    pl.lit(name),
                    shown,
                    pl.lit(time_zone or "UTC"),
                )
            )
            .when(outside)
            .then(_outside_reason(name, latest_text))
            .alias(_failure_column(name))
        )
        failed = pl.col(_failure_column(name)).is_not_null()
        raw = raw.with_columns(
            pl.when(~failed)
            .then(pl.lit(None, dtype=pl.String))
            .when(utc.is_not_null() & ~bad_offset & outside)
            .then(pl.lit("out_of_range"))
            .otherwise(pl.lit("unparseable"))
            .alias(_failure_rule_column(name)),
            pl.when(~failed).then(utc).cast(pl.Datetime("us")).alias(_timestamp_column(name)),
        )
        raw = raw.drop(pl.selectors.starts_with("__ts_") & pl.selectors.ends_with(f"_{name}"))
    return raw


def _date_range_failures(names: tuple[str, ...], now: datetime) -> list[pl.Expr]:
    """Reasons for dates before 1990-01-01 or after build time + 1 day, per column."""
    latest = (now + FUTURE_SLACK).date()
    return [
        pl.when((pl.col(f"__typed_{name}") < pl.lit(date(1990, 1, 1))) | (pl.col(f"__typed_{name}") > pl.lit(latest)))
        .then(
            pl.format(
                "{}: '{}' is outside the accepted range 1990-01-01 to {} (build time + 1 day)",
                pl.lit(name),
                pl.col(name).str.slice(0, 60),
                pl.lit(latest.isoformat()),
            )
        )
        .alias(name)
        for name in names
    ]


def _failure_column(name: str) -> str:
    return f"__failure_{name}"


def _failure_rule_column(name: str) -> str:
    return f"__failure_rule_{name}"


KIND_NAMES = {
    pl.Int64: "whole number",
    pl.Float64: "number",
    pl.Boolean: "boolean (true/false, 1/0, yes/no)",
    pl.Date: "date (YYYY-MM-DD)",
}


def _kind_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime:
        return "ISO 8601 timestamp"
    return KIND_NAMES.get(dtype, str(dtype))


def _split_rows(
    raw: pl.DataFrame, spec: SourceSpec, source_file: str | None = None, *, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid typed rows and quarantined rows of the raw strings of one or more files.

    `raw` holds the contract's columns and, for rows of several files, `row_number` (within
    its file) and `source_file`; without them the rows are one file's, `source_file`,
    numbered in order from 1.
    """
    columns = spec.columns
    raw = raw.with_row_index("__index")
    if "row_number" not in raw.columns:
        raw = raw.with_columns((pl.col("__index") + 1).cast(pl.Int64).alias("row_number"))
    if "source_file" not in raw.columns:
        raw = raw.with_columns(pl.lit(source_file or "", dtype=pl.String).alias("source_file"))
    for name in spec.lowercase:
        raw = raw.with_columns(pl.col(name).str.to_lowercase())

    timestamps = spec.timestamp_columns
    if timestamps:
        raw = _parse_timestamps(raw, timestamps, naive_time_zone(spec.name), now)

    typed_exprs = []
    for name, dtype in columns.items():
        parsed_expr = _parse_expr(name, dtype)
        if name in spec.blank_defaults:
            parsed_expr = pl.when(pl.col(name).is_null()).then(pl.lit(spec.blank_defaults[name])).otherwise(parsed_expr)
        typed_exprs.append(parsed_expr.cast(dtype).alias(f"__typed_{name}"))
    raw = raw.with_columns(typed_exprs)
    typed = raw.select(
        "__index", "row_number", *[pl.col(f"__typed_{name}").alias(name) for name in columns], "source_file"
    )

    # A value that was there but did not parse is `unparseable`, named per column.
    parse_errors = [
        pl.when(pl.col(name).is_not_null() & pl.col(f"__typed_{name}").is_null())
        .then(
            pl.format(
                "{}: cannot read '{}' as a {}", pl.lit(name), pl.col(name).str.slice(0, 60), pl.lit(_kind_name(dtype))
            )
        )
        .alias(name)
        for name, dtype in columns.items()
        if dtype != pl.String and name not in timestamps
    ]
    failure_schema = {"__index": pl.UInt32, "column": pl.String, "reason": pl.String, "rule": pl.String}
    parse_failures = (
        (
            raw.select(pl.col("__index"), *parse_errors)
            # Only rows with a failure: unpivoting every row made a frame of rows x columns.
            .filter(pl.any_horizontal(pl.exclude("__index").is_not_null()))
            .unpivot(index="__index", variable_name="column", value_name="reason")
            .drop_nulls("reason")
            .with_columns(pl.lit("unparseable").alias("rule"))
        )
        if parse_errors
        else pl.DataFrame(schema=failure_schema)
    )
    # Timestamps carry their own rule: unparseable (form, special value, DST gap) or out_of_range.
    timestamp_failures = [
        raw.select(
            "__index",
            pl.lit(name).alias("column"),
            pl.col(_failure_column(name)).alias("reason"),
            pl.col(_failure_rule_column(name)).alias("rule"),
        ).drop_nulls("reason")
        for name in timestamps
    ]
    date_failures = (
        raw.select(pl.col("__index"), *_date_range_failures(spec.dated_in_range, now))
        .filter(pl.any_horizontal(pl.exclude("__index").is_not_null()))
        .unpivot(index="__index", variable_name="column", value_name="reason")
        .drop_nulls("reason")
        .with_columns(pl.lit("out_of_range").alias("rule"))
        if spec.dated_in_range
        else pl.DataFrame(schema=failure_schema)
    )
    parse_failures = pl.concat(
        [
            frame.select(failure_schema.keys()).cast(failure_schema)
            for frame in (parse_failures, *timestamp_failures, date_failures)
        ],
        how="vertical",
    )

    schema_failures = _schema_failures(typed.drop("__index", "row_number", "source_file"), spec)
    # A parse failure already explains the null pandera sees in that cell.
    schema_failures = schema_failures.join(
        parse_failures.select("__index", "column"), on=["__index", "column"], how="anti"
    )
    failures = pl.concat(
        [parse_failures.select("__index", "column", "rule", "reason"), schema_failures], how="vertical"
    )

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
            "source_file",
            "row_number",
            pl.col("__rule").alias("rule"),
            pl.col("__reason").alias("reason"),
            "record",
        )
        .sort("source_file", "row_number")
    )
    valid = (
        typed.filter(~pl.col("__index").is_in(bad_index.implode()))
        .drop("__index")
        .with_columns(
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
    described = [
        _describe(row) for row in cases.select("column", "check", "failure_case").unique().iter_rows(named=True)
    ]
    lookup = pl.DataFrame(
        described,
        schema={
            "column": pl.String,
            "check": pl.String,
            "failure_case": pl.String,
            "out_column": pl.String,
            "rule": pl.String,
            "reason": pl.String,
        },
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
        return (
            column,
            case["check"],
            value,
            column,
            "out_of_range",
            f"{column}: {shown} is out of range (must be >= {bound})",
        )
    if check.startswith("isin("):
        allowed = check[len("isin(") : -1].replace("'", "").strip("[]")
        return column, case["check"], value, column, "out_of_range", f"{column}: '{shown}' is not one of {allowed}"
    if check.startswith("str_length("):
        return column, case["check"], value, column, "missing_value", f"{column}: required value is missing"
    if check == "closed_at_not_before_opened_at":
        return column, case["check"], value, "closed_at", "closed_before_opened", "closed_at: earlier than opened_at"
    if check == "resolved_on_not_before_raised_on":
        return (
            column,
            case["check"],
            value,
            "resolved_on",
            "resolved_before_raised",
            "resolved_on: earlier than raised_on",
        )
    if check == "open_feedback_has_no_resolved_on":
        return (
            column,
            case["check"],
            value,
            "resolved_on",
            "invalid",
            "resolved_on: set on feedback whose status is open",
        )
    if check == "eligible_users_required_when_deployed":
        return (
            column,
            case["check"],
            value,
            "eligible_users",
            "missing_value",
            "eligible_users: required when deployed_on is set",
        )
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
