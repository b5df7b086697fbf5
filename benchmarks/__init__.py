"""`make bench`: opvalue's build and dashboard timed against a plain DuckDB floor.

`python -m benchmarks.run` generates a synthetic input folder, times the raw DuckDB floor
(`floor.sql`), the full build, an incremental build and each dashboard page's queries,
prints one table and writes it to `docs/performance.md`. See `docs/performance.md`.
"""
