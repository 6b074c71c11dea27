--
-- hvcsv_refresh(): upserts a foreign table's export into its target by key,
-- rewriting only rows that changed; skips an unchanged export with one
-- conditional request; incremental by cursor; deletes missing rows behind a
-- guard; each table all-or-nothing; sync state and history.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_refresh';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- the columns of a run that do not depend on timing
CREATE FUNCTION refresh(ft regclass DEFAULT NULL)
RETURNS TABLE (foreign_table regclass, target text, status text, inserted bigint, updated bigint,
               unchanged bigint, deleted bigint, bytes bigint)
LANGUAGE sql AS $$
  SELECT foreign_table, target, status, rows_inserted, rows_updated, rows_unchanged, rows_deleted,
         bytes_fetched FROM hvcsv_refresh(ft)
$$;

COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice,Berlin,2024-01-01T00:00:00Z,10'),
  ('A2,Bob,"Paris, France",2024-01-02T00:00:00Z,20'),
  ('A3,Carla,Zürich,2024-01-03T00:00:00Z,30')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
CREATE TABLE acct (has_id text PRIMARY KEY, name text, city text, created_at timestamptz, amount numeric);
CREATE FOREIGN TABLE sync_src (has_id text, name text, city text, created_at timestamptz, amount numeric)
  SERVER fx OPTIONS (path '/sync.csv', target 'acct');

-- the first run loads everything
SELECT * FROM refresh('sync_src');
SELECT * FROM acct ORDER BY has_id;

-- an unchanged export: one conditional request, answered 304; nothing written
SELECT * FROM fixture_reset;
SELECT * FROM refresh('sync_src');
SELECT target, status FROM fixture_log ORDER BY seq;

-- a changed export: one row changed, one new, two the same; only the
-- changed row gets a new row version
CREATE TEMP TABLE versions AS SELECT has_id, xmin::text AS version FROM acct;
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice,Berlin,2024-01-01T00:00:00Z,10'),
  ('A2,Bob,"Paris, France",2024-01-02T00:00:00Z,25'),
  ('A3,Carla,Zürich,2024-01-03T00:00:00Z,30'),
  ('A4,Dan,Oslo,2024-01-04T00:00:00Z,40')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
SELECT * FROM refresh('sync_src');
SELECT a.has_id, a.amount, a.xmin::text = v.version AS same_row_version
  FROM acct a LEFT JOIN versions v USING (has_id) ORDER BY has_id;

-- the sync state (no secrets in it) and the history of runs
SELECT foreign_table, target, source_url, etag <> '' AS has_etag, bytes, rows_inserted, rows_updated,
       rows_unchanged, rows_deleted, cursor_value, status, last_error, finished_at >= started_at AS timed
  FROM hvcsv_sync_state;
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_sync_history
  WHERE foreign_table = 'sync_src'::regclass ORDER BY run_id;

-- the key option, when the target has no primary key
CREATE TABLE cities (city text UNIQUE, n int);
CREATE FOREIGN TABLE city_src (n int, city text) SERVER fx
  OPTIONS (path '/noheader.csv', header 'false', target 'cities');
SELECT * FROM refresh('city_src');
ALTER FOREIGN TABLE city_src OPTIONS (ADD key 'city');
SELECT * FROM refresh('city_src');
SELECT * FROM cities ORDER BY n;

-- incremental: only rows past the stored high-water mark of cursor_column
CREATE TABLE events (has_id text PRIMARY KEY, name text, created_at timestamptz);
CREATE FOREIGN TABLE event_src (has_id text, name text, created_at timestamptz) SERVER fx
  OPTIONS (path '/sync.csv', target 'events', cursor_column 'created_at');
SELECT * FROM refresh('event_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'event_src'::regclass;
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice changed,Berlin,2024-01-01T00:00:00Z,10'),
  ('A5,Eve,Rome,2024-01-05T00:00:00Z,50')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
SELECT * FROM refresh('event_src');
SELECT * FROM events ORDER BY has_id;
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'event_src'::regclass;

-- delete_missing: rows the export lacks are deleted ...
ALTER FOREIGN TABLE sync_src OPTIONS (ADD delete_missing 'true');
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice,Berlin,2024-01-01T00:00:00Z,10'),
  ('A2,Bob,"Paris, France",2024-01-02T00:00:00Z,25'),
  ('A3,Carla,Zürich,2024-01-03T00:00:00Z,30')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
SELECT * FROM refresh('sync_src');
SELECT has_id FROM acct ORDER BY has_id;
-- ... unless that is more than delete_limit of the target: a truncated
-- export is refused, nothing is written, and the state says why
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice,Berlin,2024-01-01T00:00:00Z,99')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
SET hvcsv_fdw.refresh_failure = 'warning';
SELECT * FROM refresh('sync_src');
SELECT has_id, amount FROM acct ORDER BY has_id;
SELECT status, last_error FROM hvcsv_sync_state WHERE foreign_table = 'sync_src'::regclass;
ALTER FOREIGN TABLE sync_src OPTIONS (ADD delete_limit '70%');
SELECT * FROM refresh('sync_src');
SELECT has_id, amount FROM acct ORDER BY has_id;

-- a key twice in the export: a clear error naming it, nothing written;
-- other tables still refresh
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('B1,One,Berlin,2024-01-01T00:00:00Z,1'),
  ('B1,One again,Berlin,2024-01-01T00:00:00Z,2')) v) TO '/tmp/hvcsv_fixture_www/dups.csv';
CREATE TABLE dup_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE dup_src (has_id text, name text) SERVER fx OPTIONS (path '/dups.csv', target 'dup_target');
SELECT * FROM refresh();
SELECT count(*) FROM dup_target;
SELECT foreign_table, status, last_error FROM hvcsv_sync_state ORDER BY foreign_table::text;
-- also when the first copy equals the row already stored (nothing to
-- update, so ON CONFLICT alone would not notice the second copy)
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('B1,One,Berlin,2024-01-01T00:00:00Z,1')) v) TO '/tmp/hvcsv_fixture_www/dups.csv';
SELECT * FROM refresh('dup_src');
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('B1,One,Berlin,2024-01-01T00:00:00Z,1'),
  ('B1,One changed,Berlin,2024-01-01T00:00:00Z,1')) v) TO '/tmp/hvcsv_fixture_www/dups.csv';
SELECT * FROM refresh('dup_src');
SELECT * FROM dup_target;
-- more keys than the refresh's key watch may track in maintenance_work_mem
-- (1MB: its hashes may take 384kB, about 36,000 keys): a key twice is still found, by a second read of the
-- export, and an export without one still refreshes
COPY (SELECT 'has_id,name' UNION ALL SELECT 'K' || i || ',n' FROM generate_series(1, 70000) i)
  TO '/tmp/hvcsv_fixture_www/many_keys.csv';
CREATE TABLE many_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE many_src (has_id text, name text) SERVER fx OPTIONS (path '/many_keys.csv', target 'many_target');
SELECT * FROM refresh('many_src');
ALTER ROLE CURRENT_USER SET maintenance_work_mem = '1MB';
COPY (SELECT 'has_id,name' UNION ALL SELECT 'K' || i || ',n' FROM generate_series(1, 70000) i
      UNION ALL SELECT 'K1,n') TO '/tmp/hvcsv_fixture_www/many_keys.csv';
SELECT * FROM refresh('many_src');
COPY (SELECT 'has_id,name' UNION ALL SELECT 'K' || i || ',n' FROM generate_series(1, 70000) i
      UNION ALL SELECT 'K70001,n') TO '/tmp/hvcsv_fixture_www/many_keys.csv';
SELECT * FROM refresh('many_src');
ALTER ROLE CURRENT_USER RESET maintenance_work_mem;
SELECT count(*) FROM many_target;
DROP FOREIGN TABLE many_src;

-- by default a failure is a WARNING per table and an ERROR at the end, so
-- cron records the run as failed; the tables that succeeded stay refreshed
RESET hvcsv_fdw.refresh_failure;
COPY (SELECT * FROM (VALUES ('has_id,name,city,created_at,amount'),
  ('A1,Alice,Berlin,2024-01-01T00:00:00Z,11')) v) TO '/tmp/hvcsv_fixture_www/sync.csv';
SELECT * FROM refresh();
SELECT has_id, amount FROM acct ORDER BY has_id;
SELECT status FROM hvcsv_sync_history WHERE foreign_table = 'sync_src'::regclass ORDER BY run_id DESC LIMIT 1;

-- on_error 'skip': bad rows are counted and kept in hvcsv_rejects
COPY (SELECT * FROM (VALUES ('id,note'), ('1,"a'), ('b"'), ('2,x'), ('bad,y'), ('3,z,extra')) v)
  TO '/tmp/hvcsv_fixture_www/some_bad.csv';
CREATE TABLE notes (id int PRIMARY KEY, note text);
CREATE FOREIGN TABLE note_src (id int, note text) SERVER fx
  OPTIONS (path '/some_bad.csv', target 'notes', on_error 'skip');
SELECT * FROM refresh('note_src');
SELECT foreign_table, status, rows_inserted, rows_rejected FROM hvcsv_sync_state
  WHERE foreign_table = 'note_src'::regclass;
SELECT line, byte_offset, error, raw FROM hvcsv_rejects
  WHERE foreign_table = 'note_src'::regclass ORDER BY line;

-- errors for what cannot be refreshed
SELECT * FROM refresh('acct');
CREATE FOREIGN TABLE no_target (has_id text) SERVER fx OPTIONS (path '/sync.csv');
SET hvcsv_fdw.refresh_failure = 'warning';
SELECT * FROM refresh('no_target');
CREATE TABLE no_key (has_id text);
CREATE FOREIGN TABLE no_key_src (has_id text) SERVER fx OPTIONS (path '/sync.csv', target 'no_key');
SELECT * FROM refresh('no_key_src');
SET hvcsv_fdw.refresh_failure = 'maybe';
BEGIN;
SELECT * FROM refresh('sync_src');
ROLLBACK;
-- nor inside a PL/pgSQL block with an EXCEPTION clause (a subtransaction)
DO $$
BEGIN
  PERFORM hvcsv_refresh('sync_src');
EXCEPTION WHEN active_sql_transaction THEN
  RAISE NOTICE 'refused: %', SQLERRM;
END $$;

-- a refresh of a table already being refreshed returns at once: skipped
CREATE TABLE slow_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE slow_src (has_id text, name text) SERVER fx
  OPTIONS (path '/accounts.csv?rate=300', target 'public.slow_target');
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'SET hvcsv_fdw.spool_directory = ''pg_hvcsv_spool_refresh''');
SELECT dblink_send_query('other', 'SELECT status FROM hvcsv_refresh(''slow_src'')');
SELECT wait_for_download();
-- meanwhile its progress shows in hvcsv_refresh_progress
SELECT target, bytes_fetched > 0 AS fetching, bytes_total FROM hvcsv_refresh_progress;
SELECT * FROM refresh('slow_src');
SELECT * FROM dblink_get_result('other') AS t(status text);
SELECT dblink_disconnect('other');
SELECT count(*) FROM slow_target;

-- the target is written with the foreign table's owner's privileges: an
-- owner that may read the export but not write the target gets a failed run
-- and writes nothing (adversarial_roles has the rest of who runs what)
SET hvcsv_fdw.refresh_failure = 'warning';
CREATE ROLE hvcsv_refresh_user;
GRANT USAGE ON FOREIGN SERVER fx TO hvcsv_refresh_user;
CREATE USER MAPPING FOR hvcsv_refresh_user SERVER fx OPTIONS (api_key 'test-secret-key');
CREATE TABLE priv_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE priv_src (has_id text, name text) SERVER fx
  OPTIONS (path '/sync.csv', target 'priv_target');
ALTER FOREIGN TABLE priv_src OWNER TO hvcsv_refresh_user;
GRANT SELECT ON priv_target TO hvcsv_refresh_user;
SET ROLE hvcsv_refresh_user;
SELECT foreign_table, status, inserted FROM refresh('priv_src');
RESET ROLE;
SELECT count(*) FROM priv_target;
GRANT INSERT, UPDATE ON priv_target TO hvcsv_refresh_user;
SET ROLE hvcsv_refresh_user;
SELECT foreign_table, status, inserted FROM refresh('priv_src');
RESET ROLE;
SELECT count(*) FROM priv_target;
DROP FOREIGN TABLE priv_src;
DROP TABLE priv_target;
DROP USER MAPPING FOR hvcsv_refresh_user SERVER fx;
REVOKE USAGE ON FOREIGN SERVER fx FROM hvcsv_refresh_user;
DROP ROLE hvcsv_refresh_user;
RESET hvcsv_fdw.refresh_failure;
