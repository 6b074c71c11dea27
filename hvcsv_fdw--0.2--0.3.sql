/* hvcsv_fdw--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hvcsv_fdw UPDATE TO '0.3'" to load this file. \quit

-- Version 0.3 has no install script of its own: CREATE EXTENSION runs the
-- 0.2 script, then this one.
--
-- How each run read the export (NULL for the runs before the update).
-- rows_filtered: export rows equal to a stored row, dropped while the export
-- was scanned, before any SQL compared them; rows_key_stored: of the rows
-- that passed, those whose key the target stores (both NULL when the run
-- compared every row in SQL).  export_processes: processes that read the
-- export (more than 1: in parallel); target_processes: processes that read
-- the target to find its stored rows.
ALTER TABLE hvcsv_sync_history
  ADD COLUMN rows_filtered bigint,
  ADD COLUMN rows_key_stored bigint,
  ADD COLUMN export_processes integer,
  ADD COLUMN target_processes integer;

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
