--
-- Several exports as one table: paths (comma- and newline-separated) and a
-- manifest (plain text or JSON), read one after another by every reader,
-- each export spooled on its own; columns matched by header per export;
-- errors name the export; every URL kept below api_url; option checks;
-- a refresh over several exports (exports_refresh has more).
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_exports';

COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,10'), ('2,Bob,20')) v)
  TO '/tmp/hvcsv_fixture_www/ex_2026-12-01.csv';
-- the columns in another order, and one more
COPY (SELECT * FROM (VALUES ('amount,extra,id,name'), ('30,x,3,Carla')) v)
  TO '/tmp/hvcsv_fixture_www/ex_2026-12-02.csv';
-- no amount column
COPY (SELECT * FROM (VALUES ('id,name'), ('4,Dan'), ('5,Eve')) v)
  TO '/tmp/hvcsv_fixture_www/ex_2026-12-03.csv';
-- a value its column's type refuses, on line 3
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('6,Finn,60'), ('7,Gus,seven')) v)
  TO '/tmp/hvcsv_fixture_www/ex_bad.csv';
-- no id column
COPY (SELECT * FROM (VALUES ('name,amount'), ('Hal,80')) v)
  TO '/tmp/hvcsv_fixture_www/ex_noid.csv';
-- an export with nothing in it: no rows, and the scan goes on
COPY (SELECT '' WHERE false) TO '/tmp/hvcsv_fixture_www/ex_empty.csv';

-- paths, comma-separated; the columns are matched by name in each export
CREATE FOREIGN TABLE ex_paths (id int, name text, amount numeric)
  SERVER fx OPTIONS (paths '/ex_2026-12-01.csv, /ex_2026-12-02.csv', on_missing_columns 'keep');
SELECT * FROM ex_paths;

-- newline-separated, blank lines ignored; an export without amount reads NULL
-- (on_missing_columns 'keep', as for one export), an empty one adds no rows
ALTER FOREIGN TABLE ex_paths OPTIONS (SET paths '
/ex_2026-12-01.csv
/ex_empty.csv

/ex_2026-12-03.csv
');
SELECT * FROM ex_paths;
-- without on_missing_columns 'keep' that export is an error naming it
ALTER FOREIGN TABLE ex_paths OPTIONS (DROP on_missing_columns);
SELECT * FROM ex_paths;

-- every reader reads the exports in list order
ALTER FOREIGN TABLE ex_paths OPTIONS (SET paths '/ex_2026-12-01.csv,/ex_2026-12-02.csv,/ex_2026-12-01.csv');
ALTER FOREIGN TABLE ex_paths OPTIONS (ADD reader 'streaming');
SELECT * FROM ex_paths;
ALTER FOREIGN TABLE ex_paths OPTIONS (SET reader 'partitioned');
SELECT * FROM ex_paths;
-- the partitioned reader cuts partitions across the exports, which workers
-- share (see exports_parallel.sql): a parallel plan when forced
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ex_paths;
SELECT count(*), sum(amount) FROM ex_paths;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
ALTER FOREIGN TABLE ex_paths OPTIONS (SET reader 'projected');
-- a rescan starts over from the first export
SELECT a.id, b.id FROM (VALUES (1), (2)) a(id) LEFT JOIN LATERAL
  (SELECT id FROM ex_paths WHERE ex_paths.id >= a.id OFFSET 0) b ON true ORDER BY 1, 2;

-- ANALYZE samples every export
ANALYZE ex_paths;
SELECT reltuples FROM pg_class WHERE oid = 'ex_paths'::regclass;

-- source columns: where each row came from (the path as listed, the URL
-- without secrets, the line), not read from the CSV
CREATE FOREIGN TABLE ex_source (id int, src_path text OPTIONS (source 'path'),
  src_url text OPTIONS (source 'url'), src_line bigint OPTIONS (source 'line'), name text)
  SERVER fx OPTIONS (paths '/ex_2026-12-01.csv, /ex_2026-12-02.csv');
SELECT * FROM ex_source;
SELECT src_line, src_path FROM ex_source;
ALTER FOREIGN TABLE ex_source OPTIONS (ADD reader 'streaming');
SELECT * FROM ex_source WHERE src_line = 2;
ALTER FOREIGN TABLE ex_source OPTIONS (SET reader 'partitioned');
SELECT * FROM ex_source WHERE src_line = 2;
-- a table with one path has them too, also without a header
CREATE FOREIGN TABLE ex_source_one (a text, b text, src_path text OPTIONS (source 'path'),
  src_line int OPTIONS (source 'line'), c text, d text)
  SERVER fx OPTIONS (path '/ex_2026-12-02.csv', header 'false');
SELECT * FROM ex_source_one;
-- a value the column's type refuses is an error naming the column
ALTER FOREIGN TABLE ex_source_one ALTER COLUMN src_line TYPE boolean;
SELECT * FROM ex_source_one;
DROP FOREIGN TABLE ex_source, ex_source_one;

-- EXPLAIN: the exports and their spools' total size, without fetching
SELECT * FROM fixture_reset;
EXPLAIN (COSTS OFF) SELECT * FROM ex_paths;
SELECT count(*) FROM fixture_log;
-- with ANALYZE, after the run
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM ex_paths;

-- each export has its own spool: within max_age no export is asked for again
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('8,Ivy,80')) v)
  TO '/tmp/hvcsv_fixture_www/ex_change.csv';
ALTER SERVER fx OPTIONS (ADD max_age '1h');
ALTER FOREIGN TABLE ex_paths OPTIONS (SET paths '/ex_2026-12-01.csv,/ex_change.csv');
SELECT count(*) FROM ex_paths;
SELECT * FROM fixture_reset;
SELECT count(*) FROM ex_paths;
SELECT count(*) FROM fixture_log;
ALTER SERVER fx OPTIONS (DROP max_age);
-- without max_age, each export is revalidated: two conditional requests, 304
-- (side by side, so the log is in no set order)
SELECT * FROM fixture_reset;
SELECT count(*) FROM ex_paths;
SELECT method, target, status, if_none_match <> '' AS conditional FROM fixture_log ORDER BY target;
-- one export changes: it alone is downloaded again
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('8,Ivy,81')) v)
  TO '/tmp/hvcsv_fixture_www/ex_change.csv';
SELECT * FROM fixture_reset;
SELECT * FROM ex_paths;
SELECT method, target, status, if_none_match <> '' AS conditional FROM fixture_log ORDER BY target;

-- errors name the export as well as the line
ALTER FOREIGN TABLE ex_paths OPTIONS (SET paths '/ex_2026-12-01.csv,/ex_bad.csv');
SELECT * FROM ex_paths;
ALTER FOREIGN TABLE ex_paths OPTIONS (SET paths '/ex_2026-12-01.csv,/ex_missing.csv');
SELECT * FROM ex_paths;

-- a manifest in plain text: one path or URL per line, blank and "#" lines ignored
COPY (SELECT * FROM (VALUES ('# the exports of December'), ('/ex_2026-12-01.csv'), (''),
  ('  http://127.0.0.1:18765/ex_2026-12-02.csv  ')) v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.txt';
CREATE FOREIGN TABLE ex_manifest (id int, name text, amount numeric)
  SERVER fx OPTIONS (manifest '/ex_manifest.txt');
EXPLAIN (COSTS OFF) SELECT * FROM ex_manifest;
SELECT * FROM fixture_reset;
SELECT * FROM ex_manifest;
SELECT method, target, status FROM fixture_log
  ORDER BY target <> '/ex_manifest.txt', target;

-- a JSON manifest: an array of strings, or of objects with url or path
COPY (SELECT '["/ex_2026-12-02.csv", "/ex_2026-12-01.csv"]')
  TO '/tmp/hvcsv_fixture_www/ex_manifest.json';
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_manifest.json');
SELECT * FROM ex_manifest;
COPY (SELECT '[{"path": "/ex_2026-12-01.csv", "size": 10}, {"url": "http://127.0.0.1:18765/ex_2026-12-02.csv"}]')
  TO '/tmp/hvcsv_fixture_www/ex_manifest.json';
SELECT * FROM ex_manifest;
-- a CSV manifest: a header with a path or url column (in any case)
COPY (SELECT * FROM (VALUES ('name,URL,size'), ('first,/ex_2026-12-01.csv,1'), (''),
  ('"second, quoted",http://127.0.0.1:18765/ex_2026-12-02.csv,2')) v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.csv';
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_manifest.csv');
SELECT * FROM ex_manifest;
COPY (SELECT * FROM (VALUES ('path'), ('/ex_2026-12-02.csv')) v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.csv';
SELECT * FROM ex_manifest;
-- a line without a path, two columns that could name the exports
COPY (SELECT * FROM (VALUES ('name,path'), ('a,/ex_2026-12-02.csv'), ('b,')) v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.csv';
SELECT * FROM ex_manifest;
COPY (SELECT * FROM (VALUES ('url,path'), ('/ex_2026-12-02.csv,/ex_2026-12-02.csv')) v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.csv';
SELECT * FROM ex_manifest;
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_manifest.json');
-- an empty list: no rows
COPY (SELECT '[]') TO '/tmp/hvcsv_fixture_www/ex_manifest.json';
SELECT count(*) FROM ex_manifest;

-- hostile manifests
CREATE FUNCTION manifest_error(content text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY (SELECT %L) TO %L', content, '/tmp/hvcsv_fixture_www/ex_hostile.txt');
  RETURN try('SELECT * FROM ex_manifest');
END $$;
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_hostile.txt');
-- another host, another port, another scheme, a path above api_url's
SELECT manifest_error('http://127.0.0.2:18765/ex_2026-12-01.csv');
SELECT manifest_error('http://127.0.0.1:18770/ex_2026-12-01.csv');
SELECT manifest_error('file:///etc/passwd');
SELECT manifest_error('/../ex_2026-12-01.csv');
SELECT manifest_error('/%2e%2e/ex_2026-12-01.csv');
SELECT manifest_error('@127.0.0.2/ex.csv');
SELECT manifest_error('http://127.0.0.1:18765/ex/../ex_2026-12-01.csv');
SELECT manifest_error('http://127.0.0.1:18765//127.0.0.2/ex_2026-12-01.csv');
SELECT manifest_error(E'http://127.0.0.1:18765\x01/ex_2026-12-01.csv');
-- credentials in a URL
SELECT manifest_error('http://user:pw@127.0.0.1:18765/ex_2026-12-01.csv');
-- a control character
SELECT manifest_error(E'/ex_2026-12-01.csv\x01');
-- a URL longer than 2048 bytes
SELECT manifest_error('/' || repeat('a', 2030) || '.csv');
-- JSON that is not a list of exports
SELECT manifest_error('{"url": "/ex_2026-12-01.csv"}');
SELECT manifest_error('[["/ex_2026-12-01.csv"]]');
SELECT manifest_error('[{"name": "/ex_2026-12-01.csv"}]');
SELECT manifest_error('[{"url": "/ex_2026-12-01.csv", "path": "/ex_2026-12-02.csv"}]');
SELECT manifest_error('[1]');
SELECT manifest_error('[{"url": {"deep": [[[[["x"]]]]]}}]');
SELECT manifest_error('["/ex_2026-12-01.csv"');
-- export_origins: a manifest may list exports on other origins that the
-- server names (a CDN, pre-signed URLs).  No credentials go there: an
-- export that needs none is read, one that needs them gets none (401)
CREATE SERVER fx_cdn FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765',
  export_origins 'http://localhost:18765', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_cdn OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE ex_cdn (id int, name text) SERVER fx_cdn OPTIONS (manifest '/ex_cdn.txt');
COPY (SELECT * FROM (VALUES ('/ex_2026-12-01.csv'),
                            ('http://localhost:18765/ex_2026-12-02.csv?noauth=1')) v)
  TO '/tmp/hvcsv_fixture_www/ex_cdn.txt';
SET hvcsv_fdw.allowed_hosts = '127.0.0.1:18765, localhost:18765';
SELECT * FROM fixture_reset;
SELECT * FROM ex_cdn;
-- the two exports download side by side, in either order
SELECT target, status, auth FROM fixture_log ORDER BY target <> '/ex_cdn.txt', target;
COPY (SELECT 'http://localhost:18765/ex_2026-12-02.csv') TO '/tmp/hvcsv_fixture_www/ex_cdn.txt';
SELECT try('SELECT * FROM ex_cdn');
-- any other origin is still refused
COPY (SELECT 'http://127.0.0.2:18765/ex_2026-12-02.csv') TO '/tmp/hvcsv_fixture_www/ex_cdn.txt';
SELECT try('SELECT * FROM ex_cdn');
-- an origin that hvcsv_fdw.allowed_hosts does not admit, and values that
-- are not origins
SET hvcsv_fdw.allowed_hosts = '127.0.0.1:18765';
SELECT try($$ALTER SERVER fx_cdn OPTIONS (SET export_origins 'http://localhost:18765')$$);
RESET hvcsv_fdw.allowed_hosts;
SELECT try(format('ALTER SERVER fx_cdn OPTIONS (SET export_origins %L)', o))
  FROM unnest(ARRAY['ftp://localhost', 'https://localhost/exports', 'https://u@localhost',
                    'https://localhost?x=1', ' , ', 'localhost']) o;
SELECT try($$ALTER SERVER fx_cdn OPTIONS (SET export_origins 'https://a.example, https://B.example:8443/')$$);
DROP SERVER fx_cdn CASCADE;

-- more than 10000 exports
COPY (SELECT '/ex_2026-12-01.csv' FROM generate_series(1, 10001)) TO '/tmp/hvcsv_fixture_www/ex_hostile.txt';
SELECT try('SELECT * FROM ex_manifest');
SELECT manifest_error('[' || string_agg('"/ex_2026-12-01.csv"', ',') || ']') FROM generate_series(1, 10001);
-- a manifest that is not there
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_no_manifest.txt');
SELECT * FROM ex_manifest;

-- dated exports: path_template from dates_from to today (UTC), a day
-- apart; the dates are relative to today, shown as D-2, D-1, D
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE FUNCTION dated(t text) RETURNS text LANGUAGE sql AS $$
  SELECT replace(replace(replace(replace(t, (current_date - 3)::text, 'D-3'),
         (current_date - 2)::text, 'D-2'), (current_date - 1)::text, 'D-1'), current_date::text, 'D')
$$;
CREATE FUNCTION dated_explain(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE query LOOP
    RETURN NEXT dated(line);
  END LOOP;
END $$;
-- one transaction: every "today" below, the extension's included, is the
-- same day, even around midnight (UTC)
BEGIN;
DO $$
BEGIN
  EXECUTE format('COPY (SELECT * FROM (VALUES (''id,name''), (''21,Ida'')) v) TO %L',
                 '/tmp/hvcsv_fixture_www/ex_d_' || (current_date - 2) || '.csv');
  EXECUTE format('COPY (SELECT * FROM (VALUES (''id,name''), (''23,Kim'')) v) TO %L',
                 '/tmp/hvcsv_fixture_www/ex_d_' || current_date || '.csv');
  EXECUTE format('CREATE FOREIGN TABLE ex_dated (id int, name text, src text OPTIONS (source %L)) '
                 'SERVER fx OPTIONS (path_template %L, dates_from %L)',
                 'path', '/ex_d_{date}.csv', current_date - 2);
END $$;
-- EXPLAIN counts the dates without fetching
SELECT * FROM fixture_reset;
SELECT dated_explain('EXPLAIN (COSTS OFF) SELECT * FROM ex_dated');
SELECT count(*) FROM fixture_log;
-- yesterday's export is not published: 404, skipped (asked once, by the
-- downloads before the scan)
SELECT id, name, dated(src) FROM ex_dated;
SELECT method, dated(target), status FROM fixture_log ORDER BY target, seq;
SELECT dated_explain('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM ex_dated');
SELECT dated_explain('EXPLAIN (COSTS OFF) SELECT * FROM ex_dated');
-- every reader skips it
ALTER FOREIGN TABLE ex_dated OPTIONS (ADD reader 'streaming');
SELECT id, name, dated(src) FROM ex_dated;
ALTER FOREIGN TABLE ex_dated OPTIONS (SET reader 'partitioned');
SELECT id, name, dated(src) FROM ex_dated;
ALTER FOREIGN TABLE ex_dated OPTIONS (DROP reader);
-- with missing_exports 'error' it is an error naming it
ALTER FOREIGN TABLE ex_dated OPTIONS (ADD missing_exports 'error');
SELECT dated(try('SELECT * FROM ex_dated'));
-- two days apart: no date is missing
ALTER FOREIGN TABLE ex_dated OPTIONS (ADD dates_step '2 days');
SELECT * FROM fixture_reset;
SELECT id, name, dated(src) FROM ex_dated;
SELECT method, dated(target), status FROM fixture_log ORDER BY target;
-- {yyyy}, {mm} and {dd}; a dates_from after today names no export
DO $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE ex_dated OPTIONS (SET path_template %L, SET dates_from %L, DROP dates_step)',
                 '/ex_d_{yyyy}-{mm}-{dd}.csv', current_date - 3);
END $$;
ALTER FOREIGN TABLE ex_dated OPTIONS (SET missing_exports 'skip');
SELECT id, name, dated(src) FROM ex_dated;
DO $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE ex_dated OPTIONS (SET dates_from %L)', current_date + 1);
END $$;
SELECT count(*) FROM ex_dated;
COMMIT;
-- more than 10000 dates
ALTER FOREIGN TABLE ex_dated OPTIONS (SET dates_from '1990-01-01');
SELECT * FROM ex_dated;
DROP FOREIGN TABLE ex_dated;
DROP FUNCTION dated_explain(text);
DROP FUNCTION dated(text);
-- missing_exports 'skip' applies to paths too
CREATE FOREIGN TABLE ex_skip (id int, name text)
  SERVER fx OPTIONS (paths '/ex_missing.csv,/ex_2026-12-03.csv', missing_exports 'skip');
SELECT * FROM ex_skip;
-- a 404 is skipped, nothing else is
ALTER FOREIGN TABLE ex_skip OPTIONS (SET paths '/ex_2026-12-03.csv,/ex_bad_header.csv');
SELECT set_fault('/ex_bad_header.csv', 'always=1&status=500');
SELECT * FROM ex_skip;
SELECT set_fault('/ex_bad_header.csv');
DROP FOREIGN TABLE ex_skip;
RESET timezone;
RESET datestyle;

-- IMPORT reads one export
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO public OPTIONS (paths '/ex_2026-12-01.csv');

-- option checks
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path '/a.csv', paths '/b.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/b.csv', manifest '/m.txt');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths ' , ');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/a.csv,http://127.0.0.1:18765/b.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/a.csv,/../b.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/a.csv,/b c.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (manifest 'http://127.0.0.2/m.txt');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/a.csv', cursor_param 'since');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (manifest '/m.txt', on_new_columns 'add');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path '/a.csv', path_template '/a_{date}.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path '/a.csv', dates_from '2026-01-01');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path '/a.csv', missing_exports 'skip');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths '/a.csv', missing_exports 'maybe');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a.csv', dates_from '2026-01-01');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{day}.csv', dates_from '2026-01-01');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/../a_{date}.csv', dates_from '2026-01-01');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv', dates_from 'infinity');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv', dates_from '12/01/2026');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv', dates_from '2026-02-30');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv', dates_from '2026-01-01', dates_step '-1 day');
CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (path_template '/a_{date}.csv', dates_from '2026-01-01', dates_step '12 hours');
CREATE FOREIGN TABLE ex_bad (id int OPTIONS (source 'file')) SERVER fx OPTIONS (path '/a.csv');
ALTER FOREIGN TABLE ex_paths OPTIONS (ADD path '/a.csv');
-- a path that leads away from api_url once joined to it
CREATE FOREIGN TABLE ex_away (id int) SERVER fx OPTIONS (paths '/a.csv,@127.0.0.2/b.csv');
SELECT * FROM ex_away;
-- too many paths
SELECT try(format('CREATE FOREIGN TABLE ex_bad (id int) SERVER fx OPTIONS (paths %L)',
                  string_agg('/a.csv', ','))) FROM generate_series(1, 10001);

-- a refresh over several exports
COPY (SELECT * FROM (VALUES ('/ex_2026-12-01.csv'), ('/ex_2026-12-02.csv'))v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.txt';
CREATE TABLE ex_target (id int PRIMARY KEY, name text, amount numeric);
ALTER FOREIGN TABLE ex_manifest OPTIONS (SET manifest '/ex_manifest.txt', ADD target 'ex_target',
  ADD delete_missing 'true', ADD delete_limit '1');
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('ex_manifest');
SELECT * FROM ex_target ORDER BY id;
SELECT source_url FROM hvcsv_sync_state WHERE foreign_table = 'ex_manifest'::regclass;
-- nothing changed: no export is read again
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('ex_manifest');
-- one export changes, one is removed from the manifest, one is added
COPY (SELECT * FROM (VALUES ('id,name,amount'), ('1,Alice,11'), ('2,Bob,20')) v)
  TO '/tmp/hvcsv_fixture_www/ex_2026-12-01.csv';
COPY (SELECT * FROM (VALUES ('/ex_2026-12-01.csv'), ('/ex_2026-12-03.csv'))v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.txt';
ALTER FOREIGN TABLE ex_manifest OPTIONS (ADD on_missing_columns 'keep');
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('ex_manifest');
SELECT * FROM ex_target ORDER BY id;
-- an export without the key column fails the run, naming the export, and
-- nothing is written
COPY (SELECT * FROM (VALUES ('/ex_2026-12-01.csv'), ('/ex_noid.csv'))v)
  TO '/tmp/hvcsv_fixture_www/ex_manifest.txt';
SET hvcsv_fdw.refresh_failure = 'warning';
SELECT status FROM hvcsv_refresh('ex_manifest');
SELECT * FROM ex_target ORDER BY id;
-- so does it when the target is empty (a load, not a compare)
TRUNCATE ex_target;
SELECT status FROM hvcsv_refresh('ex_manifest');
SELECT count(*) FROM ex_target;
RESET hvcsv_fdw.refresh_failure;

DROP FOREIGN TABLE ex_paths, ex_manifest, ex_away;
DROP TABLE ex_target;
DROP FUNCTION manifest_error(text);
