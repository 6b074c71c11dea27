/* hvcsv_fdw--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hvcsv_fdw UPDATE TO '0.2'" to load this file. \quit

-- What the last run synced, hashed.  Rows of 0.1 have none, so the first
-- run after the update compares in full and starts the cursor over (0.1
-- stored the mark in the caller's DateStyle, which cannot be read back
-- safely).
ALTER TABLE hvcsv_sync_state ADD COLUMN definition_hash text;

-- Only roles that may read a foreign table see its state, history and
-- rejected rows.
ALTER TABLE hvcsv_sync_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE hvcsv_sync_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE hvcsv_rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_table ON hvcsv_sync_state FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
CREATE POLICY readers_of_the_table ON hvcsv_sync_history FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
CREATE POLICY readers_of_the_table ON hvcsv_rejects FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));

-- State of foreign tables dropped before the update.
DELETE FROM hvcsv_sync_state s
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.foreign_table);
DELETE FROM hvcsv_sync_history s
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.foreign_table);
DELETE FROM hvcsv_rejects s
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.foreign_table);

-- The tables are no longer dumped: they hold what one role may not show
-- another, and a dump by a database owner who is not a superuser would fail
-- on the policies above.
ALTER EXTENSION hvcsv_fdw DROP TABLE hvcsv_sync_state;
ALTER EXTENSION hvcsv_fdw ADD TABLE hvcsv_sync_state;
ALTER EXTENSION hvcsv_fdw DROP TABLE hvcsv_sync_history;
ALTER EXTENSION hvcsv_fdw ADD TABLE hvcsv_sync_history;
ALTER EXTENSION hvcsv_fdw DROP TABLE hvcsv_rejects;
ALTER EXTENSION hvcsv_fdw ADD TABLE hvcsv_rejects;

-- A refresh now runs as the foreign table's owner; force is new (an
-- overload, so that what calls hvcsv_refresh(regclass) keeps working).
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

CREATE OR REPLACE VIEW hvcsv_refresh_progress AS
  SELECT p.pid, p.relid::regclass AS target, p.bytes_processed AS bytes_fetched,
         p.bytes_total, p.tuples_processed AS rows_processed
    FROM pg_stat_progress_copy p
    JOIN pg_stat_activity a ON a.pid = p.pid
   WHERE a.backend_type = 'hvcsv_fdw refresh'
     AND pg_catalog.has_table_privilege(p.relid, 'SELECT');

CREATE FUNCTION hvcsv_forget_dropped()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER hvcsv_forget_dropped ON sql_drop
  EXECUTE FUNCTION hvcsv_forget_dropped();
