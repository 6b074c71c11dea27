/* hvcsv_fdw--0.3--0.4.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hvcsv_fdw UPDATE TO '0.4'" to load this file. \quit

-- Version 0.4 has no install script of its own: CREATE EXTENSION runs the
-- 0.2 script, then the updates.
--
-- rows_duplicate: export rows dropped because an earlier (on_duplicate_key
-- 'last': a later) row had their key (NULL unless on_duplicate_key is
-- 'first' or 'last').  schema_changes: what the run did about columns that
-- the export added or lost (NULL if none).
ALTER TABLE hvcsv_sync_history
  ADD COLUMN rows_duplicate bigint,
  ADD COLUMN schema_changes text;

-- Forgets what the last runs of a foreign table saw (its ETag and cursor
-- mark among them), so that its next refresh compares the whole export
-- with the target.  For whoever may refresh the table.
CREATE FUNCTION hvcsv_reset(foreign_table regclass)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;
