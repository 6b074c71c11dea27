--
-- A refresh of a table with several exports tracks each one on its own
-- (hvcsv_sync_exports): every export costs one request, conditional once
-- it was read, and only the new or changed ones are downloaded and read;
-- an export that 404s is skipped until it is published; one removed from
-- the manifest keeps its rows unless delete_missing deletes them, a key
-- at a time, only when no export holds it, under the delete guard; an
-- export that fails fails the run and nothing is written.  The fixture
-- server's log shows every request.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_exports_refresh';

COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,10'), ('2,Bob,20'), ('3,Carla,30')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-01.csv';
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('4,Dan,40'), ('5,Eve,50')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-02.csv';
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('6,Finn,60'), ('7,Gus,70')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-03.csv';
-- the fourth day is listed but not published yet (404)
COPY (SELECT * FROM (VALUES ('/er_2026-11-01.csv'), ('/er_2026-11-02.csv'),
                            ('/er_2026-11-03.csv'), ('/er_2026-11-04.csv')) v)
  TO '/tmp/hvcsv_fixture_www/er_manifest.txt';

CREATE TABLE er_target (id int PRIMARY KEY, name text, amount numeric);
CREATE FOREIGN TABLE er (id int, name text, amount numeric) SERVER fx
  OPTIONS (manifest '/er_manifest.txt', missing_exports 'skip', target 'er_target');

-- the requests of a run (the manifest's first, then the exports', which go
-- side by side, in no set order), and what each export's state says
CREATE VIEW er_requests AS
  SELECT target, status, if_none_match <> '' AS conditional FROM fixture_log
  ORDER BY target <> '/er_manifest.txt', target, seq;
CREATE VIEW er_exports AS
  SELECT substr(export_url, length('http://127.0.0.1:18765/') + 1) AS export, rows, bytes,
         etag IS NOT NULL AS has_etag
    FROM hvcsv_sync_exports WHERE foreign_table = 'er'::regclass ORDER BY export_url;

-- the first run downloads the three exports and reads them all
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
SELECT * FROM er_exports;
SELECT bytes, source_url FROM hvcsv_sync_state WHERE foreign_table = 'er'::regclass;
CREATE TEMP TABLE er_seen AS
  SELECT export_url, synced_at, xmin::text AS version FROM hvcsv_sync_exports
   WHERE foreign_table = 'er'::regclass;

-- nothing changed: one conditional request per export, each answered 304,
-- no export read, the run "unchanged", and no export's state rewritten
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
SELECT count(*) AS rewritten FROM hvcsv_sync_exports e JOIN er_seen s USING (export_url)
 WHERE e.xmin::text <> s.version;

-- one export changes (a row updated, one added) and the fourth day is
-- published: only those two are downloaded and read, so the rows of the
-- other two are neither read nor counted
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('4,Dan,41'), ('5,Eve,50'), ('8,Hal,80')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-02.csv';
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('9,Ida,90')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-04.csv';
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
SELECT * FROM er_exports;
SELECT e.export_url LIKE '%11-02.csv' AS changed, e.synced_at > s.synced_at AS read_again
  FROM hvcsv_sync_exports e JOIN er_seen s USING (export_url) ORDER BY e.export_url;
SELECT * FROM er_target ORDER BY id;

-- the third day is removed from the manifest: without delete_missing its
-- rows stay, and its state goes
COPY (SELECT * FROM (VALUES ('/er_2026-11-01.csv'), ('/er_2026-11-02.csv'),
                            ('/er_2026-11-04.csv')) v)
  TO '/tmp/hvcsv_fixture_www/er_manifest.txt';
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
SELECT * FROM er_exports;
SELECT count(*) FROM er_target WHERE id IN (6, 7);

-- with delete_missing a key goes only when no export holds it: every
-- export's keys are read (the unchanged ones from their spools, after a
-- 304), so a key that moves to another export stays
ALTER FOREIGN TABLE er OPTIONS (ADD delete_missing 'true', ADD delete_limit '0.4');
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
-- key 3 moves from the first day to the fourth; key 2 is gone from both
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,10')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-01.csv';
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('9,Ida,90'), ('3,Carla,31')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-04.csv';
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
SELECT * FROM er_exports;
SELECT * FROM er_target ORDER BY id;

-- a vanished export whose rows are most of the target: the delete guard
-- refuses, nothing is written, and the export's state stays
COPY (SELECT * FROM (VALUES ('/er_2026-11-01.csv'), ('/er_2026-11-04.csv')) v)
  TO '/tmp/hvcsv_fixture_www/er_manifest.txt';
SET hvcsv_fdw.refresh_failure = 'warning';
SELECT status, rows_deleted FROM hvcsv_refresh('er');
SELECT count(*) FROM er_target;
SELECT * FROM er_exports;
SELECT status, last_error FROM hvcsv_sync_state WHERE foreign_table = 'er'::regclass;

-- an export that fails fails the run: nothing is written, no state moves
COPY (SELECT * FROM (VALUES ('/er_2026-11-01.csv'), ('/er_2026-11-02.csv'),
                            ('/er_2026-11-04.csv')) v)
  TO '/tmp/hvcsv_fixture_www/er_manifest.txt';
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,12')) v)
  TO '/tmp/hvcsv_fixture_www/er_2026-11-01.csv';
-- (one connection at a time, in list order, so that the changed export's
-- download ends before the failure: downloads side by side that the
-- failure interrupts are not kept)
ALTER SERVER fx OPTIONS (ADD max_connections '1');
SELECT set_fault('/er_2026-11-04.csv', 'always=1&status=500');
SELECT status, rows_updated FROM hvcsv_refresh('er');
SELECT amount FROM er_target WHERE id = 1;
SELECT * FROM er_exports;
SELECT set_fault('/er_2026-11-04.csv');
ALTER SERVER fx OPTIONS (DROP max_connections);
-- and once it answers again, the next run reads what changed since the
-- last good run (the last run failed: all exports are read, none
-- downloaded again: the failed run kept the changed one's download)
SELECT * FROM fixture_reset;
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('er');
SELECT * FROM er_requests;
RESET hvcsv_fdw.refresh_failure;

-- force reads every export again; hvcsv_reset forgets every export's state
SELECT status, rows_unchanged FROM hvcsv_refresh('er', force => true);
SELECT hvcsv_reset('er');
SELECT count(*) FROM hvcsv_sync_exports WHERE foreign_table = 'er'::regclass;

-- a role that may not read the foreign table sees none of its exports' state
SELECT status FROM hvcsv_refresh('er');
CREATE ROLE er_stranger;
SET ROLE er_stranger;
SELECT count(*) FROM hvcsv_sync_exports;
RESET ROLE;
DROP ROLE er_stranger;

-- an export's URL is kept without the user mapping's secret, even where
-- the path carries it
CREATE TABLE er_secret_target (id int PRIMARY KEY, name text, amount numeric);
CREATE FOREIGN TABLE er_secret (id int, name text, amount numeric) SERVER fx
  OPTIONS (paths '/er_2026-11-01.csv?token=test-secret-key', target 'er_secret_target');
SELECT status FROM hvcsv_refresh('er_secret');
SELECT export_url, position('test-secret-key' IN export_url) AS secret_at
  FROM hvcsv_sync_exports WHERE foreign_table = 'er_secret'::regclass;
DROP FOREIGN TABLE er_secret;
DROP TABLE er_secret_target;

-- dropping the foreign table drops its exports' state
DROP VIEW er_requests, er_exports;
DROP FOREIGN TABLE er;
SELECT count(*) FROM hvcsv_sync_exports;
DROP TABLE er_target;
