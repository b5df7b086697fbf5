-- Tables shared by every source. Created once; each load replaces only its own source's rows.
create schema if not exists ingest;
create schema if not exists staging;
create schema if not exists quarantine;
create schema if not exists ops;

create table if not exists quarantine.rejected_rows (
    source        varchar not null,
    source_file   varchar not null,
    row_number    bigint  not null,
    rule          varchar not null,
    reason        varchar not null,
    record        json,
    ingested_at   timestamp not null
);

create table if not exists quarantine.rejected_files (
    source        varchar not null,
    source_file   varchar not null,
    reason        varchar not null,
    ingested_at   timestamp not null
);

create table if not exists ops.ingested_files (
    source             varchar not null,
    source_file        varchar not null,
    size_bytes         bigint  not null,
    sha256             varchar not null,
    reader_version     varchar not null,
    status             varchar not null,
    reason             varchar,
    extra_columns      varchar[],
    rows_read          bigint  not null,
    rows_invalid       bigint  not null,
    rows_staged        bigint,
    rows_quarantined   bigint,
    rows_deduplicated  bigint,
    rows_superseded    bigint,
    ingested_at        timestamp not null
);

create table if not exists ops.staging_state (
    source              varchar primary key,
    inputs_fingerprint  varchar not null,
    rules_fingerprint   varchar not null,
    restaged            varchar not null,
    rows_restaged       bigint  not null,
    staged_at           timestamp not null,
    restaged_from       varchar,    -- by key: the staged_at of the state it started from
    restaged_workflows  varchar[]   -- by key: the workflows whose rows were decided again
);

-- Entries in a source's place that are not input files (sub-folders, dot-files, dangling
-- links, devices), listed so nothing in the input folder is ignored without a record.
-- Replaced for a source on each of its loads.
create table if not exists ops.skipped_files (
    source        varchar not null,
    entry         varchar not null,
    reason        varchar not null,
    seen_at       timestamp not null
);
