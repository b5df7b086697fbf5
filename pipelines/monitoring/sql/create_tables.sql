-- The run history tables the publishing step writes into every build (pipelines/monitoring/run_history.py).
-- ops.pipeline_runs is rewritten from the runs log each time; ops.run_source_counts keeps a
-- row per run and source, carried from build to build.
create schema if not exists ops;

create or replace table ops.pipeline_runs (
    run_id varchar,
    started_at timestamp,
    ended_at timestamp,
    status varchar,
    message varchar,
    recomputed_workflows varchar[]
);

create table if not exists ops.run_source_counts (
    run_id varchar,
    source varchar,
    files bigint,
    rows_read bigint,
    rows_staged bigint,
    rows_quarantined bigint,
    rows_deduplicated bigint,
    rows_superseded bigint
);
