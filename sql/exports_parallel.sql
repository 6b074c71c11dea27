--
-- The partitioned reader over several exports: partitions cut across all
-- of them, which parallel workers share, each export's header read by
-- whichever process claims one of its partitions.  The parallel answer
-- equals the serial one (rows neither lost nor repeated at an export's
-- boundary or a partition's), source columns and line numbers are each
-- export's, an export lacking a column reads NULL there, errors name the
-- export and the line, and a missing export is skipped.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_exports_parallel';

-- An export of n rows (ids 1..n) in the given column order: every tenth
-- row's note holds a quoted line break, so row i starts on line
-- 2 + (i - 1) + (i - 1) / 10 and partition bounds fall inside quotes.
CREATE FUNCTION xp_write(name text, n int, columns text DEFAULT 'id, tag, amount, note')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY (SELECT %s FROM (SELECT i AS id, %L AS tag, i * 0.5 AS amount, '
                 'CASE WHEN i %% 10 = 0 THEN E''two\nlines'' ELSE repeat(''n'', i %% 40) END AS note, '
                 '''x'' AS extra FROM generate_series(1, %s) i) r) TO %L WITH (FORMAT csv, HEADER)',
                 columns, name, n, '/tmp/hvcsv_fixture_www/' || name);
END $$;
-- the line row id starts on, as above
CREATE FUNCTION xp_line(id int) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT 2 + (id - 1) + (id - 1) / 10 $$;

-- exports of very different sizes: many 64 kB partitions, a few rows, the
-- columns in another order with one more, a header only, no amount
-- column, nothing at all, one row
SELECT xp_write('xp_big.csv', 30000);
SELECT xp_write('xp_small.csv', 3);
SELECT xp_write('xp_mid.csv', 5000, 'note, extra, amount, id, tag');
SELECT xp_write('xp_head.csv', 0);
SELECT xp_write('xp_noamount.csv', 2000, 'tag, id, note');
COPY (SELECT '' WHERE false) TO '/tmp/hvcsv_fixture_www/xp_empty.csv';
SELECT xp_write('xp_one.csv', 1);

-- the same exports through the partitioned reader (64 kB partitions) and
-- through the projected one, which reads them one after another
CREATE FUNCTION xp_tables(name text, paths text, extra text DEFAULT '') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, tag text, amount numeric, note text, '
                 'src_path text OPTIONS (source %L), src_line bigint OPTIONS (source %L)) '
                 'SERVER fx OPTIONS (paths %L, on_missing_columns %L, reader %L, block_size %L %s)',
                 name || '_par', 'path', 'line', paths, 'keep', 'partitioned', '64kB', extra);
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, tag text, amount numeric, note text, '
                 'src_path text OPTIONS (source %L), src_line bigint OPTIONS (source %L)) '
                 'SERVER fx OPTIONS (paths %L, on_missing_columns %L, reader %L %s)',
                 name || '_ser', 'path', 'line', paths, 'keep', 'projected', extra);
END $$;
SELECT xp_tables('xp', '/xp_big.csv,/xp_small.csv,/xp_mid.csv,/xp_head.csv,/xp_noamount.csv,/xp_empty.csv,/xp_one.csv');

-- workers really ran
CREATE FUNCTION xp_workers(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  RETURN jsonb_path_query_first(plan, 'strict $.**."Workers Launched"')::int;
END $$;

-- spooled once, serially
SELECT count(*) FROM xp_ser;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- a Gather over the partitions of every export; EXPLAIN shows how many
-- exports and their spools' total size, and fetches nothing
SELECT * FROM fixture_reset;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM xp_par;
EXPLAIN (COSTS OFF) SELECT * FROM xp_par EXCEPT ALL SELECT * FROM xp_ser;
SELECT count(*) AS requests FROM fixture_log;

-- the same rows as the serial read: counts, sums, and the multisets both ways
SELECT count(*), sum(id), sum(amount), count(amount), sum(length(note)), sum(src_line) FROM xp_par;
SELECT count(*), sum(id), sum(amount), count(amount), sum(length(note)), sum(src_line) FROM xp_ser;
SELECT count(*) AS missing_in_parallel FROM (SELECT * FROM xp_ser EXCEPT ALL SELECT * FROM xp_par) d;
SELECT count(*) AS extra_in_parallel FROM (SELECT * FROM xp_par EXCEPT ALL SELECT * FROM xp_ser) d;
SELECT xp_workers('SELECT count(*) FROM xp_par') > 0 AS workers_ran;

-- each row's source is its own export, with the line it starts on there
-- (each export counts from its top, also in partitions past the first);
-- the export without an amount column reads NULL there, the others not
SELECT src_path, count(*), count(DISTINCT id) AS ids, min(id), max(id), count(amount) AS amounts,
       count(*) FILTER (WHERE src_line <> xp_line(id)) AS wrong_lines,
       count(*) FILTER (WHERE '/' || tag <> src_path) AS wrong_sources
  FROM xp_par GROUP BY src_path ORDER BY src_path;

-- a rescan of the Gather claims every partition again
SET enable_material = off;
EXPLAIN (COSTS OFF)
  SELECT * FROM (SELECT count(*), sum(id) FROM xp_par WHERE id > 10) ss
    RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true;
SELECT * FROM (SELECT count(*), sum(id) FROM xp_par WHERE id > 10) ss
  RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true;
RESET enable_material;
-- and so does a rescan without workers
SET max_parallel_workers_per_gather = 0;
SELECT a.x, b.n FROM (VALUES (1), (29999)) a(x) LEFT JOIN LATERAL
  (SELECT count(*) AS n FROM xp_par WHERE xp_par.id >= a.x OFFSET 0) b ON true ORDER BY 1;
SELECT count(*), sum(id) FROM xp_par;
SET max_parallel_workers_per_gather = 2;

-- a value refused in the middle of the third export (a partition past its
-- first) names that export and the line, whichever process reads it
COPY (SELECT CASE WHEN i = 5000 THEN 'oops' ELSE i::text END AS id, 'xp_bad.csv' AS tag,
             i AS amount, CASE WHEN i % 10 = 0 THEN E'two\nlines' ELSE repeat('n', i % 40) END AS note
      FROM generate_series(1, 8000) i) TO '/tmp/hvcsv_fixture_www/xp_bad.csv' WITH (FORMAT csv, HEADER);
SELECT xp_line(5000) AS bad_line;
SELECT xp_tables('xp_err', '/xp_small.csv,/xp_mid.csv,/xp_bad.csv,/xp_big.csv');
CREATE FUNCTION xp_error(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  message text;
  context text;
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, context = PG_EXCEPTION_CONTEXT;
  -- a worker's error adds "parallel worker" below the scan's line
  RETURN SQLSTATE || ': ' || message || E'\n' || split_part(context, E'\n', 1);
END $$;
EXPLAIN (COSTS OFF) SELECT sum(id) FROM xp_err_par;
SELECT xp_error('SELECT sum(id) FROM xp_err_par');
SELECT xp_error('SELECT sum(id) FROM xp_err_ser');
SET max_parallel_workers_per_gather = 0;
SELECT xp_error('SELECT sum(id) FROM xp_err_par');
SET max_parallel_workers_per_gather = 2;

-- a missing export, with missing_exports 'skip': the leader's check of
-- the exports notes it (no subtransaction, which parallel mode refuses),
-- and it gets no partitions; the others are read in parallel
SELECT xp_tables('xp_skip', '/xp_small.csv,/xp_missing.csv,/xp_one.csv,/xp_mid.csv',
                 ', missing_exports ''skip''');
EXPLAIN (COSTS OFF) SELECT count(*) FROM xp_skip_par;
SELECT src_path, count(*), sum(id), count(*) FILTER (WHERE src_line <> xp_line(id)) AS wrong_lines
  FROM xp_skip_par GROUP BY src_path ORDER BY src_path;
SELECT count(*) AS differences FROM
  ((SELECT * FROM xp_skip_par EXCEPT ALL SELECT * FROM xp_skip_ser)
   UNION ALL (SELECT * FROM xp_skip_ser EXCEPT ALL SELECT * FROM xp_skip_par)) d;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM xp_skip_par;

-- a manifest's exports: the workers take the list from the leader
COPY (SELECT * FROM (VALUES ('/xp_mid.csv'), ('/xp_big.csv'), ('/xp_noamount.csv')) v)
  TO '/tmp/hvcsv_fixture_www/xp_manifest.txt';
CREATE FOREIGN TABLE xp_manifest (id int, tag text, amount numeric, src_path text OPTIONS (source 'path'))
  SERVER fx OPTIONS (manifest '/xp_manifest.txt', on_missing_columns 'keep', reader 'partitioned',
                     block_size '64kB');
SELECT count(*) FROM xp_manifest;
EXPLAIN (COSTS OFF) SELECT count(*) FROM xp_manifest;
SELECT * FROM fixture_reset;
SELECT src_path, count(*), sum(id), count(amount) FROM xp_manifest GROUP BY src_path ORDER BY src_path;
-- (the manifest first, then the exports, fetched side by side in no set order)
SELECT method, target, status FROM fixture_log ORDER BY target <> '/xp_manifest.txt', target;

-- a refresh of a partitioned table reads, after one export changed, only
-- that one: its watcher skips the others, which get no partitions (so no
-- row of theirs is counted unchanged), in the leader and in each worker;
-- the rows of each export are counted across the processes
CREATE TABLE xp_target (tag text, id int, amount numeric, PRIMARY KEY (tag, id));
CREATE FOREIGN TABLE xp_sync (id int, tag text, amount numeric)
  SERVER fx OPTIONS (paths '/xp_big.csv,/xp_small.csv,/xp_mid.csv', target 'xp_target',
                     reader 'partitioned', block_size '64kB');
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('xp_sync');
COPY (SELECT * FROM (VALUES ('id,tag,amount'), ('1,xp_small.csv,100'), ('2,xp_small.csv,1'),
                            ('3,xp_small.csv,1.5'), ('4,xp_small.csv,2')) v)
  TO '/tmp/hvcsv_fixture_www/xp_small.csv';
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('xp_sync');
SELECT tag, count(*), sum(id), sum(amount) FROM xp_target GROUP BY tag ORDER BY tag;
-- the big export gains a row: it alone is read, by more than one process
-- (the refresh's worker takes the database's settings, not the session's)
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET min_parallel_table_scan_size = 0', current_database());
  EXECUTE format('ALTER DATABASE %I SET parallel_setup_cost = 0', current_database());
END $$;
SELECT xp_write('xp_big.csv', 30001);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('xp_sync');
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I RESET min_parallel_table_scan_size', current_database());
  EXECUTE format('ALTER DATABASE %I RESET parallel_setup_cost', current_database());
END $$;
-- the first run loads (no key watch, so no process count), the small
-- export is read by one process, the big one by several; each export's
-- rows as last read
SELECT rows_inserted, rows_updated, rows_unchanged, export_processes > 1 AS parallel
  FROM hvcsv_sync_history WHERE foreign_table = 'xp_sync'::regclass ORDER BY run_id;
SELECT substring(export_url FROM '[^/]*$') AS export, rows
  FROM hvcsv_sync_exports WHERE foreign_table = 'xp_sync'::regclass ORDER BY export_url;

RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

DROP FOREIGN TABLE xp_par, xp_ser, xp_err_par, xp_err_ser, xp_skip_par, xp_skip_ser, xp_manifest, xp_sync;
DROP TABLE xp_target;
DROP FUNCTION xp_write(text, int, text);
DROP FUNCTION xp_line(int);
DROP FUNCTION xp_tables(text, text, text);
DROP FUNCTION xp_workers(text);
DROP FUNCTION xp_error(text);
