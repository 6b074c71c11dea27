/* hvcsv_fdw--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hvcsv_fdw UPDATE TO '0.3'" to load this file. \quit

-- How each run read the export (see hvcsv_fdw--0.3.sql); NULL for the runs
-- before the update.
ALTER TABLE hvcsv_sync_history
  ADD COLUMN rows_filtered bigint,
  ADD COLUMN rows_key_stored bigint,
  ADD COLUMN export_processes integer,
  ADD COLUMN target_processes integer;

-- cursor_column is checked when a foreign table is created or altered.
CREATE FUNCTION hvcsv_check_foreign_table()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER hvcsv_check_foreign_table ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE',
               'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION hvcsv_check_foreign_table();
