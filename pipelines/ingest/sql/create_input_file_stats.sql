-- What `stat` said about each input file when its sha256 was taken (pipelines/ingest/manifest.py).
-- A later run that finds the same size, times, inode and device takes the recorded sha256
-- instead of reading the file again. A cache: dropping it only makes the next run hash
-- every file.
create schema if not exists ops;

create table if not exists ops.input_file_stats (
    source        varchar not null,
    source_file   varchar not null,
    size_bytes    bigint  not null,
    mtime_ns      bigint  not null,
    ctime_ns      bigint  not null,
    inode         ubigint not null,
    device        ubigint not null,
    sha256        varchar not null,
    stat_at_ns    bigint  not null
);
