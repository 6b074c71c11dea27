--
-- A large export whose server answers Range (guarded by If-Range) is
-- downloaded as download_connections ranges side by side, each written in
-- place and resumed on its own; the spool is byte for byte the one-request
-- download, and its row index serves a parallel scan.  A changed export
-- starts the download over, never splicing two versions; a server without
-- ranges, or a compressed body, gets one request; a cancel stops every
-- range and leaves no file behind.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_ranged';

-- download_connections is an integer from 1 to 64, set on the server
CREATE SERVER rd_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (download_connections '0');
CREATE SERVER rd_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (download_connections '65');
CREATE SERVER rd_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (download_connections 'four');
CREATE FOREIGN TABLE rd_bad (id int) SERVER fx OPTIONS (path '/x.csv', download_connections '2');

-- the default, 4 ranges, and one request at a time for comparison
CREATE SERVER rd FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER rd OPTIONS (api_key 'test-secret-key');
CREATE SERVER rd1 FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', download_connections '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER rd1 OPTIONS (api_key 'test-secret-key');

CREATE FOREIGN TABLE rd_log (seq int, target text, status int, range text, if_range text,
  bytes_sent bigint, complete boolean)
  SERVER control OPTIONS (path '/_log.csv');

-- a table of the generated export (mb=16: 16 MB, 16 * 14700 rows) on a server
CREATE FUNCTION rd_table(name text, server text, query text, options text DEFAULT '')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, name text, city text, created_at text,'
                 ' amount numeric, notes text) SERVER %I OPTIONS (path %L %s)',
                 name, server, '/_gen.csv?' || query, options);
END $$;

-- four ranges: the first request's answer goes on as the first, the other
-- three are asked for with Range and If-Range; together they are the file
SELECT * FROM fixture_reset;
SELECT rd_table('rd_gen', 'rd', 'mb=16');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_gen;
SELECT status, range, if_range, CASE WHEN status = 206 THEN complete END AS complete
  FROM rd_log ORDER BY range;
SELECT * FROM newest_spool('pg_hvcsv_spool_ranged');

-- one connection: one request, and the same bytes
SELECT * FROM fixture_reset;
SELECT rd_table('rd_one', 'rd1', 'mb=16');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_one;
SELECT status, range, complete FROM rd_log;
SELECT * FROM newest_spool('pg_hvcsv_spool_ranged');

-- the index built from the ranges splits the file for a parallel scan,
-- which reads what a serial one does
SELECT * FROM fixture_reset;
SELECT rd_table('rd_part', 'rd', 'mb=16&part', ', reader ''partitioned'', block_size ''1MB''');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_part;
SELECT count(*) FILTER (WHERE status = 206) AS ranges FROM rd_log;
CREATE FUNCTION rd_workers(query text, OUT launched int)
LANGUAGE plpgsql AS $$
DECLARE
  p jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO p;
  launched := jsonb_path_query_first(p, '$.**."Workers Launched"');
END $$;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM rd_part;
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_part;
SELECT launched > 0 AS workers_ran FROM rd_workers('SELECT count(*) FROM rd_part');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- a break in the third range costs only its rest: the one request after
-- it asks for that range from the byte it broke at
SELECT * FROM fixture_reset;
SELECT rd_table('rd_cut', 'rd', 'mb=16&cut=1000000&cut_from=8388626');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_cut;
SELECT status, range, CASE WHEN status = 206 THEN complete END AS complete,
       CASE WHEN NOT complete AND status = 206 THEN bytes_sent END AS bytes_sent
  FROM rd_log ORDER BY range;
SELECT * FROM newest_spool('pg_hvcsv_spool_ranged');

-- a break of the first answer, which goes on as the first range, is
-- resumed as that range, up to its end only
SELECT * FROM fixture_reset;
SELECT rd_table('rd_cut_first', 'rd', 'mb=16&cut=2000000&cut_times=1');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_cut_first;
SELECT status, range, if_range IS NOT NULL AS guarded, complete, bytes_sent
  FROM rd_log WHERE range IS NULL OR range LIKE 'bytes=2000000-%' ORDER BY seq;
SELECT * FROM newest_spool('pg_hvcsv_spool_ranged');

-- a 206 that is not the range asked for (it ends early) is an error, and
-- leaves no file behind
SELECT * FROM fixture_reset;
SELECT rd_table('rd_short', 'rd', 'mb=16&range_short=10');
SELECT try('SELECT count(*) FROM rd_short');
SELECT count(*) AS leftovers FROM pg_ls_dir('pg_hvcsv_spool_ranged') f WHERE f LIKE '%.tmp';

-- the export changes while its ranges are asked for (a range answered 200
-- to its If-Range): the download starts over, whole, and the spool is all
-- of the new version (20 MB: 20 * 14700 rows)
SELECT * FROM fixture_reset;
SELECT rd_table('rd_changed', 'rd', 'mb=16&then_mb=20&then_after=2');
SELECT count(*), sum(id), sum(amount), count(notes) FROM rd_changed;
SELECT count(*) FILTER (WHERE status = 206 AND if_range LIKE '"gen-20-%') AS new_ranges,
       count(*) FILTER (WHERE status = 200 AND if_range IS NULL) AS whole_requests
  FROM rd_log;
SELECT * FROM newest_spool('pg_hvcsv_spool_ranged');

-- the exports of a table, downloaded max_connections at a time, each use
-- ranges of their own: four each here
SELECT * FROM fixture_reset;
CREATE FOREIGN TABLE rd_two (id int, name text, city text, created_at text, amount numeric,
  notes text) SERVER rd OPTIONS (paths '/_gen.csv?mb=16&export=1,/_gen.csv?mb=16&export=2');
SELECT count(*), sum(id) FROM rd_two;
SELECT target, count(*) AS requests, count(*) FILTER (WHERE status = 206) AS ranges
  FROM rd_log GROUP BY target ORDER BY target;

-- no ranges from a server that does not say Accept-Ranges, nor for a body
-- with a Content-Encoding, nor without a validator for If-Range
SELECT * FROM fixture_reset;
SELECT rd_table('rd_norange', 'rd', 'mb=16&norange=1');
SELECT rd_table('rd_gzip', 'rd', 'mb=16&gzip=1');
SELECT rd_table('rd_noetag', 'rd', 'mb=16&noetag=1');
SELECT count(*) FROM rd_norange;
SELECT count(*) FROM rd_gzip;
SELECT count(*) FROM rd_noetag;
SELECT target, status, range FROM rd_log ORDER BY seq;

-- nor for an export too small to be worth more connections
SELECT * FROM fixture_reset;
SELECT rd_table('rd_small', 'rd', 'mb=7');
SELECT count(*) FROM rd_small;
SELECT status, range FROM rd_log;

-- a statement_timeout stops every range, and no file is left behind
SELECT * FROM fixture_reset;
SELECT rd_table('rd_slow', 'rd', 'mb=16&rate=500000');
SET statement_timeout = '2s';
\set VERBOSITY terse
SELECT count(*) FROM rd_slow;
\set VERBOSITY default
RESET statement_timeout;
SELECT count(*) AS requests, count(*) FILTER (WHERE complete) AS completed,
       count(*) FILTER (WHERE status = 206) AS ranges FROM rd_log;
SELECT count(*) AS leftovers FROM pg_ls_dir('pg_hvcsv_spool_ranged') f WHERE f LIKE '%.tmp';

DROP FOREIGN TABLE rd_log, rd_gen, rd_one, rd_part, rd_cut, rd_cut_first, rd_changed, rd_short,
  rd_two, rd_norange, rd_gzip, rd_noetag, rd_small, rd_slow;
DROP FUNCTION rd_workers(text);
DROP FUNCTION rd_table(text, text, text, text);
DROP SERVER rd CASCADE;
DROP SERVER rd1 CASCADE;
RESET hvcsv_fdw.spool_directory;
