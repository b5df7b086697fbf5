"""`python -m pipelines.connectors preview <file> [--mapping M] [--rows N]`: try a native export.

Prints the detected format, the connector and what it read, the first mapped rows, and the
first reasons a row would be quarantined, without building or writing anything. The
registry is not consulted, so a workflow id that is not registered is not flagged here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from pipelines.connectors import convert, guess_mapping
from pipelines.connectors.common import ConnectorError, detect_format
from pipelines.connectors.mapping import MappingError, load_mapping


def preview(file: Path, mapping_path: Path | None, rows: int) -> int:
    """Print the preview; 0 when the file converts, 1 when it or its mapping cannot be used."""
    from pipelines.ingest.reader import _split_rows, build_time
    from pipelines.ingest.sources import USAGE, WORK_ITEMS

    if not file.is_file():
        print(f"no such file: {file}")
        return 1
    print(f"file: {file}")
    print(f"detected format: {detect_format(file)}")
    try:
        if mapping_path is not None:
            # The file given is read, whatever the mapping's `file` says; a seat list is
            # looked for next to the mapping.
            mapping = load_mapping(mapping_path)
            print(f"mapping: {mapping_path}")
        else:
            mapping = guess_mapping(file)
            print(
                "mapping: none given; a default one for the detected format (workflow id from the file name, naive times read as UTC)"
            )
        print(f"connector: {mapping.connector} -> {mapping.source}")
        conversion = convert(file, mapping)
    except (MappingError, ConnectorError) as error:
        print(f"REJECTED: {error}")
        return 1
    print(f"read: {conversion.note}")
    print(f"one row = {conversion.unit}")
    spec = WORK_ITEMS if mapping.source == "work_items" else USAGE
    with pl.Config(tbl_cols=-1, tbl_rows=rows, tbl_width_chars=200, fmt_str_lengths=40):
        print(f"\nfirst {rows} mapped rows:")
        print(conversion.frame.head(rows))
        # Optional contract columns a connector does not produce (e.g. overridden) stay blank.
        raw = conversion.frame.with_columns(
            pl.lit(None, dtype=pl.String).alias(c) for c in spec.columns if c not in conversion.frame.columns
        ).select(list(spec.columns))
        valid, quarantined = _split_rows(raw, spec, file.name, now=build_time())
        print(
            f"\n{valid.height:,} rows would be read, {quarantined.height:,} quarantined by the reader's rules "
            "(the registry check happens at build time)"
        )
        if quarantined.height:
            print(f"first {rows} reasons:")
            print(quarantined.select("row_number", "rule", "reason", "record").head(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.connectors", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("preview", help="show how a native export maps, without building anything")
    show.add_argument("file", type=Path)
    show.add_argument(
        "--mapping", type=Path, default=None, help="the mapping file (YAML); default: guessed from the format"
    )
    show.add_argument("--rows", type=int, default=5)
    args = parser.parse_args(argv)
    return preview(args.file, args.mapping, max(1, args.rows))


if __name__ == "__main__":
    sys.exit(main())
