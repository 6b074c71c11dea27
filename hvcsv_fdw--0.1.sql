/* hvcsv_fdw--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION hvcsv_fdw" to load this file. \quit

CREATE FUNCTION hvcsv_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION hvcsv_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER hvcsv_fdw
  HANDLER hvcsv_fdw_handler
  VALIDATOR hvcsv_fdw_validator;

-- Sync state of hvcsv_refresh(): one row per foreign table, the last run.
CREATE TABLE hvcsv_sync_state (
  foreign_table regclass PRIMARY KEY,
  target text NOT NULL,
  source_url text,            -- without secrets
  etag text,
  last_modified text,
  bytes bigint,               -- size of the export last synced
  rows_inserted bigint,
  rows_updated bigint,
  rows_unchanged bigint,
  rows_deleted bigint,
  rows_rejected bigint,
  cursor_value text,          -- high-water mark of cursor_column
  started_at timestamptz,
  finished_at timestamptz,
  status text,                -- ok, unchanged, failed
  last_error text
);

-- Every run, newest kept: hvcsv_refresh() keeps the last 100 per table.
CREATE TABLE hvcsv_sync_history (
  run_id bigint NOT NULL,
  foreign_table regclass NOT NULL,
  target text,
  status text NOT NULL,       -- ok, unchanged, skipped, failed
  rows_inserted bigint,
  rows_updated bigint,
  rows_unchanged bigint,
  rows_deleted bigint,
  rows_rejected bigint,
  bytes_fetched bigint,
  started_at timestamptz,
  finished_at timestamptz,
  error text
);
CREATE INDEX hvcsv_sync_history_table ON hvcsv_sync_history (foreign_table, run_id);

-- Rows that on_error 'skip' rejected during a run (the first 1000 of a run),
-- kept as long as the run is in the history.
CREATE TABLE hvcsv_rejects (
  run_id bigint NOT NULL,
  foreign_table regclass NOT NULL,
  line bigint,                -- first line of the record
  byte_offset bigint,         -- where the record starts in the export
  error text,
  raw text                    -- the record, clipped to 1000 bytes
);
CREATE INDEX hvcsv_rejects_table ON hvcsv_rejects (foreign_table, run_id);
CREATE SEQUENCE hvcsv_run_id;

SELECT pg_catalog.pg_extension_config_dump('hvcsv_sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('hvcsv_sync_history', '');
SELECT pg_catalog.pg_extension_config_dump('hvcsv_rejects', '');

-- Everyone may read the state; hvcsv_refresh() writes it as the
-- extension's owner, and the targets as the caller.
GRANT SELECT ON hvcsv_sync_state, hvcsv_sync_history, hvcsv_rejects TO PUBLIC;

CREATE FUNCTION hvcsv_refresh(foreign_table regclass DEFAULT NULL)
RETURNS TABLE (
  foreign_table regclass,
  target text,
  status text,
  rows_inserted bigint,
  rows_updated bigint,
  rows_unchanged bigint,
  rows_deleted bigint,
  rows_rejected bigint,
  bytes_fetched bigint,
  duration interval)
AS 'MODULE_PATHNAME'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- Refreshes in progress, from PostgreSQL's COPY progress reporting.
CREATE VIEW hvcsv_refresh_progress AS
  SELECT p.pid, p.relid::regclass AS target, p.bytes_processed AS bytes_fetched,
         p.bytes_total, p.tuples_processed AS rows_processed
    FROM pg_stat_progress_copy p
    JOIN pg_stat_activity a ON a.pid = p.pid
   WHERE a.backend_type = 'hvcsv_fdw refresh';
GRANT SELECT ON hvcsv_refresh_progress TO PUBLIC;

-- The export rows a refresh's row filter let through, each with a last
-- column saying whether its key is stored, read back by the refresh's own
-- statement (src/changed_rows.c); the support function tells the planner
-- how many there are.  Anywhere else it returns no rows.
CREATE FUNCTION hvcsv_changed_rows_support(internal)
RETURNS internal
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION hvcsv_changed_rows()
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE
SUPPORT hvcsv_changed_rows_support;
