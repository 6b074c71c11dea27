/* hvcsv_fdw--0.4--0.5.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION hvcsv_fdw UPDATE TO '0.5'" to load this file. \quit

-- Version 0.5 has no install script of its own: CREATE EXTENSION runs the
-- 0.2 script, then the updates.
--
-- A foreign table that reads several exports (paths, manifest,
-- path_template) has a row here for each export that a good refresh read:
-- its validators and size, so that the next refresh downloads and reads
-- only the exports that are new or changed since.  Written and read as
-- the extension's owner, like hvcsv_sync_state; a role sees the rows of
-- the foreign tables it may read.
CREATE TABLE hvcsv_sync_exports (
  foreign_table regclass NOT NULL,
  export_url text NOT NULL,   -- without secrets
  etag text,
  last_modified text,
  bytes bigint,               -- size of the version read
  rows bigint,                -- rows the refresh read of it
  synced_at timestamptz NOT NULL,  -- start of the good run that read it
  PRIMARY KEY (foreign_table, export_url)
);
GRANT SELECT ON hvcsv_sync_exports TO PUBLIC;
ALTER TABLE hvcsv_sync_exports ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers_of_the_table ON hvcsv_sync_exports FOR SELECT
  USING (pg_catalog.has_table_privilege(foreign_table, 'SELECT'));
