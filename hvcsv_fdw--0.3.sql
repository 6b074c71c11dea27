/* hvcsv_fdw--0.3.sql */

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
  cursor_value text,          -- high-water mark of cursor_column, in a canonical form
                              -- (ISO dates, UTC, exact floats) whatever the session's settings
  started_at timestamptz,
  finished_at timestamptz,
  status text,                -- ok, unchanged, failed
  last_error text,
  definition_hash text        -- what was synced (URL without secrets, target, columns, key,
                              -- cursor and CSV options), hashed: a change means a full compare
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
  error text,
  -- How the export was read.  rows_filtered: export rows equal to a stored
  -- row, dropped while the export was scanned, before any SQL compared
  -- them; rows_key_stored: of the rows that passed, those whose key the
  -- target stores (both NULL when the run compared every row in SQL).
  -- export_processes: processes that read the export (more than 1: in
  -- parallel); target_processes: processes that read the target to find
  -- its stored rows.
  rows_filtered bigint,
  rows_key_stored bigint,
  export_processes integer,
  target_processes integer
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

-- The tables are not dumped: they hold what one role may not show another
-- (a dump by a database owner who is not a superuser would fail on the
-- policies below), and without them the first refresh after a restore
-- compares in full, which is safe.

-- A role sees the state, history and rejected rows of the foreign tables it
-- may read (superusers and the extension's owner see all): rejected rows and
-- error texts hold the export's values.  hvcsv_refresh() writes them as the
-- extension's owner.
GRANT SELECT ON hvcsv_sync_state, hvcsv_sync_history, hvcsv_rejects TO PUBLIC;
ALTER TABLE hvcsv_sync_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE hvcsv_sync_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE hvcsv_rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_table ON hvcsv_sync_state FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
CREATE POLICY readers_of_the_table ON hvcsv_sync_history FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
CREATE POLICY readers_of_the_table ON hvcsv_rejects FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));

-- Refreshes one foreign table, or all those the caller may refresh, each as
-- its owner; with force, compares the whole export even if it did not
-- change.
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

CREATE FUNCTION hvcsv_refresh(foreign_table regclass, force boolean)
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
   WHERE a.backend_type = 'hvcsv_fdw refresh'
     AND pg_catalog.has_table_privilege(p.relid, 'SELECT');
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

-- Forgets the sync state, history and rejected rows of dropped foreign
-- tables, so that a later table given the same OID inherits nothing.
CREATE FUNCTION hvcsv_forget_dropped()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER hvcsv_forget_dropped ON sql_drop
  EXECUTE FUNCTION hvcsv_forget_dropped();

-- Checks, when a foreign table of hvcsv_fdw is created, imported or
-- altered, what its options validator cannot see: that cursor_column is one
-- of its columns, of a type that sorts (a warning only while restoring).
CREATE FUNCTION hvcsv_check_foreign_table()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER hvcsv_check_foreign_table ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE',
               'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION hvcsv_check_foreign_table();
