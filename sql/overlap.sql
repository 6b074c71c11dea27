--
-- A serial scan of an export that must be downloaded reads the body as it
-- is written to the spool (a growing spool) when a break would resume it
-- at the byte it broke at: a 200 with Accept-Ranges: bytes, a validator
-- for If-Range, and no Content-Encoding.  A break is resumed unseen, every
-- row read once; a download that must start over after rows were read
-- fails the statement and leaves no file.  The spool published is the one
-- a download first would make, and is revalidated next time.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_overlap';

-- one request at a time, and the default of ranges side by side
CREATE SERVER ov FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', download_connections '1',
           retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER ov OPTIONS (api_key 'test-secret-key');
CREATE SERVER ovr FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER ovr OPTIONS (api_key 'test-secret-key');

CREATE FOREIGN TABLE ov_log (seq int, target text, status int, range text, if_range text,
  bytes_sent bigint, complete boolean)
  SERVER control OPTIONS (path '/_log.csv');

-- a table of the generated export on a server
CREATE FUNCTION ov_table(name text, server text, query text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, name text, city text, created_at text,'
                 ' amount numeric, notes text) SERVER %I OPTIONS (path %L)',
                 name, server, '/_gen.csv?' || query);
END $$;

-- what EXPLAIN ANALYZE says the scan of query did with the spool
CREATE FUNCTION ov_spool_note(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  p jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO p;
  RETURN jsonb_path_query_first(p, '$.**."Spool"') #>> '{}';
END $$;

-- the size and md5 of the newest big spool file
CREATE FUNCTION ov_spool() RETURNS TABLE (size bigint, md5 text)
LANGUAGE sql AS $$
  SELECT (pg_stat_file(p)).size, md5(pg_read_binary_file(p))
  FROM (SELECT 'pg_hvcsv_spool_overlap/' || f AS p
        FROM pg_ls_dir('pg_hvcsv_spool_overlap') f WHERE f LIKE '%.csv') s
  WHERE (pg_stat_file(p)).size > 1000000
  ORDER BY split_part(p, '.', 2) DESC LIMIT 1
$$;

CREATE FUNCTION ov_leftovers() RETURNS bigint
LANGUAGE sql AS $$
  SELECT count(*) FROM pg_ls_dir('pg_hvcsv_spool_overlap') f WHERE f LIKE '%.tmp'
$$;

-- read as it arrived: 8 MB, 8 * 14700 rows; the spool is what a download
-- first makes (the md5 of the no-ranges table below), and is revalidated
SELECT * FROM fixture_reset;
SELECT ov_table('ov_gen', 'ov', 'mb=8');
SELECT ov_spool_note('SELECT count(*) FROM ov_gen');
SELECT * FROM ov_spool();
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_gen;
SELECT ov_spool_note('SELECT count(*) FROM ov_gen');
SELECT status, range, complete FROM ov_log ORDER BY seq;

-- rows are read before the download ends: the first row fails the
-- statement while most of the throttled body is still to come, and the
-- download stops with it, leaving no file
SELECT * FROM fixture_reset;
SELECT ov_table('ov_early', 'ov', 'mb=8&rate=2000000');
SELECT try('SELECT 1 / (id - 1) FROM ov_early');
SELECT status, complete, bytes_sent < 8388645 AS partly_sent FROM ov_log;
SELECT ov_leftovers();

-- a break mid-body is resumed at the exact byte, guarded by If-Range, and
-- every row is read once (the sums of the read above)
SELECT * FROM fixture_reset;
SELECT ov_table('ov_cut', 'ov', 'mb=8&cut=3000000&cut_times=1');
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_cut;
SELECT status, range, if_range <> '' AS guarded, complete, bytes_sent FROM ov_log ORDER BY seq;
SELECT * FROM ov_spool();
SELECT ov_spool_note('SELECT count(*) FROM ov_cut');

-- the export changes under a break (its resumption is answered with the
-- new version, whole): rows already read cannot be taken back, so the
-- statement fails and leaves no file; the next reads the new version
SELECT * FROM fixture_reset;
SELECT ov_table('ov_changed', 'ov', 'mb=8&cut=3000000&cut_times=1&then_mb=9&then_after=1');
SELECT try('SELECT count(*) FROM ov_changed');
SELECT ov_leftovers();
SELECT count(*), sum(id) FROM ov_changed;
SELECT status, range, complete FROM ov_log ORDER BY seq;

-- downloaded first, as before: a server without ranges, a body without a
-- validator, a body with a Content-Encoding
SELECT * FROM fixture_reset;
SELECT ov_table('ov_norange', 'ov', 'mb=8&norange=1');
SELECT ov_table('ov_noetag', 'ov', 'mb=8&noetag=1');
SELECT ov_table('ov_gzip', 'ov', 'mb=1&gzip=1');
SELECT ov_spool_note('SELECT count(*) FROM ov_norange');
SELECT * FROM ov_spool();
SELECT ov_spool_note('SELECT count(*) FROM ov_noetag');
SELECT ov_spool_note('SELECT count(*) FROM ov_gzip');
SELECT count(*) FROM ov_gzip;
-- nor a compressed file, whose checksum comes at its end: read as it
-- arrives, a corrupt one would give rows of garbage before its error
COPY (SELECT i AS id, 'name ' || i AS name FROM generate_series(1, 1000) i)
  TO PROGRAM 'gzip -n > /tmp/hvcsv_fixture_www/ov_comp.csv.gz' WITH (FORMAT csv, HEADER);
CREATE FOREIGN TABLE ov_comp (id int, name text) SERVER ov OPTIONS (path '/ov_comp.csv.gz');
SELECT ov_spool_note('SELECT count(*) FROM ov_comp');
SELECT count(*), sum(id) FROM ov_comp;

-- a download in ranges is read up to the first byte still missing; a
-- break of the first range is resumed as that range
SELECT * FROM fixture_reset;
SELECT ov_table('ov_ranged', 'ovr', 'mb=16&cut=2000000&cut_times=1');
SELECT ov_spool_note('SELECT count(*) FROM ov_ranged');
SELECT count(*) FILTER (WHERE status = 206) AS ranges,
       count(*) FILTER (WHERE range LIKE 'bytes=2000000-%') AS resumed FROM ov_log;
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_ranged;
SELECT * FROM ov_spool();

-- a scan that stops early still downloads and publishes the whole spool
SELECT * FROM fixture_reset;
SELECT ov_table('ov_limit', 'ov', 'mb=2');
SELECT id FROM ov_limit LIMIT 1;
SELECT status, complete FROM ov_log;
SELECT ov_spool_note('SELECT count(*) FROM ov_limit');

-- a self-join: the second scan finishes the first one's download and both
-- read the one spool, downloaded once
SELECT * FROM fixture_reset;
SELECT ov_table('ov_self', 'ov', 'mb=1');
SELECT count(*) FROM ov_self a JOIN ov_self b USING (id);
SELECT status, complete FROM ov_log;
SELECT * FROM ov_spool();

-- a statement_timeout stops the overlapped read and the download; no file
-- is left, and no spool is published
SELECT * FROM fixture_reset;
SELECT ov_table('ov_slow', 'ov', 'mb=8&rate=1000000');
SET statement_timeout = '1s';
\set VERBOSITY terse
SELECT count(*) FROM ov_slow;
\set VERBOSITY default
RESET statement_timeout;
SELECT ov_leftovers();

-- hvcsv_refresh(): a first load into an empty target reads a changed
-- export as it downloads.  One block of the generated export (ids 1 to
-- 14700, a key).
SET hvcsv_fdw.refresh_failure = 'warning';
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at, i AS amount,
  '' AS notes FROM generate_series(1, 20000) i)
  TO '/tmp/hvcsv_fixture_www/ov_old.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT * FROM (VALUES ('id,name,city,created_at,amount,notes'), ('1,a,b,c,1,'),
  ('2,a,b,c,2,'), ('3,a,b,c,3,')) v) TO '/tmp/hvcsv_fixture_www/ov_new.csv';
CREATE FUNCTION ov_refresh_table(name text, query text, path text DEFAULT '/_gen.csv')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, name text, city text, created_at text,'
                 ' amount numeric, notes text)', name);
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, name text, city text, created_at text,'
                 ' amount numeric, notes text) SERVER ov OPTIONS (path %L, target %L)',
                 name || '_src', path || '?' || query, name);
END $$;
CREATE FUNCTION ov_last_run(ft regclass) RETURNS TABLE (status text, rows_inserted bigint, error text)
LANGUAGE sql AS $$
  SELECT status, rows_inserted, error FROM hvcsv_sync_history WHERE foreign_table = ft
   ORDER BY run_id DESC LIMIT 1
$$;

-- the first row breaks a CHECK of the target: the load fails while most of
-- the throttled body is still to come (the download stops with it) and
-- leaves the target empty and no file; downloaded first, without ranges,
-- the body is complete before the load fails
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_bad', 'mb=1&rate=500000');
ALTER TABLE ov_bad ADD CHECK (id > 1);
SELECT status FROM hvcsv_refresh('ov_bad_src');
SELECT status, rows_inserted, error FROM ov_last_run('ov_bad_src');
SELECT status, complete, bytes_sent < 1048613 AS partly_sent FROM ov_log;
SELECT count(*) FROM ov_bad;
SELECT ov_leftovers();
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_bad_norange', 'mb=1&rate=2000000&norange=1');
ALTER TABLE ov_bad_norange ADD CHECK (id > 1);
SELECT status FROM hvcsv_refresh('ov_bad_norange_src');
SELECT status, complete FROM ov_log;

-- a full load as it downloads; the spool published is the one a download
-- first makes (md5 above), and the next run finds it unchanged (304)
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_good', 'mb=1&rate=2000000');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_good_src');
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_good;
SELECT * FROM ov_spool();
SELECT status, rows_inserted FROM hvcsv_refresh('ov_good_src');
SELECT status, complete FROM ov_log ORDER BY seq;

-- a break mid-body: resumed at the exact byte, every row loaded once
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_rcut', 'mb=1&cut=300000&cut_times=1');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_rcut_src');
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_rcut;
SELECT status, range, if_range <> '' AS guarded, complete, bytes_sent FROM ov_log ORDER BY seq;

-- the export (a file of 20000 rows) changes under a break: the run fails,
-- the target stays empty, no file is left; the next run loads the new
-- export (3 rows)
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_rchg', 'cut=300000&cut_times=1&then=/ov_new.csv&then_after=1',
                        '/ov_old.csv');
SELECT status FROM hvcsv_refresh('ov_rchg_src');
SELECT status, rows_inserted, error FROM ov_last_run('ov_rchg_src');
SELECT count(*) FROM ov_rchg;
SELECT ov_leftovers();
SELECT status, rows_inserted FROM hvcsv_refresh('ov_rchg_src');
SELECT count(*), sum(id) FROM ov_rchg;
SELECT status, range, complete FROM ov_log ORDER BY seq;
RESET hvcsv_fdw.refresh_failure;

DROP FOREIGN TABLE ov_bad_src, ov_bad_norange_src, ov_good_src, ov_rcut_src, ov_rchg_src;
DROP TABLE ov_bad, ov_bad_norange, ov_good, ov_rcut, ov_rchg;
DROP FUNCTION ov_refresh_table(text, text, text);
DROP FUNCTION ov_last_run(regclass);
DROP FOREIGN TABLE ov_log, ov_gen, ov_early, ov_cut, ov_changed, ov_norange,
  ov_noetag, ov_gzip, ov_comp, ov_ranged, ov_limit, ov_self, ov_slow;
DROP FUNCTION ov_table(text, text, text);
DROP FUNCTION ov_spool_note(text);
DROP FUNCTION ov_spool();
DROP FUNCTION ov_leftovers();
DROP SERVER ov CASCADE;
DROP SERVER ovr CASCADE;
RESET hvcsv_fdw.spool_directory;
