--
-- The three readers: partitioned (parallel, by row-index partitions),
-- projected and streaming give the same rows on every input, and the same
-- as file_fdw where it applies.  Also: parallel plans, streaming without a
-- spool (LIMIT stops the transfer, breaks resume, memory stays bounded),
-- EXPLAIN, ANALYZE and IMPORT FOREIGN SCHEMA.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_readers';
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS file_fdw;
RESET client_min_messages;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;

-- rows in one table and not the other, both ways, as multisets
CREATE FUNCTION differences(a regclass, b regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  m bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', a, b) INTO n;
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', b, a) INTO m;
  RETURN n + m;
END $$;

-- one table per reader (and block size) over the same export
CREATE FUNCTION tables_for(name text, path text, columns text, extra text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L %s)',
                 name || '_projected', columns, path, 'projected', extra);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L %s)',
                 name || '_streaming', columns, path, 'streaming', extra);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L %s)',
                 name || '_partitioned', columns, path, 'partitioned', extra);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L, block_size %L %s)',
                 name || '_part64k', columns, path, 'partitioned', '64kB', extra);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L, block_size %L %s)',
                 name || '_part192k', columns, path, 'partitioned', '192kB', extra);
END $$;

-- compares every reader's rows with the projected reader's
CREATE FUNCTION compare_readers(name text) RETURNS TABLE (reader text, rows bigint, differences bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['projected', 'streaming', 'partitioned', 'part64k', 'part192k'] LOOP
    reader := r;
    EXECUTE format('SELECT count(*) FROM %I', name || '_' || r) INTO rows;
    differences := differences(format('%I', name || '_' || r)::regclass,
                               format('%I', name || '_projected')::regclass);
    RETURN NEXT;
  END LOOP;
END $$;

-- A generated export with the hard cases for partitions: quoted newlines
-- everywhere (so 64 kB boundaries fall inside quoted fields), rows of 100 kB
-- (longer than a 64 kB block), quoted delimiters and quotes, NULL against
-- empty strings, UTF-8.
COPY (
  SELECT i AS id,
         CASE WHEN i % 7 = 0 THEN repeat(E'line\n', 1 + i % 40) ELSE 'plain ' || i END AS note,
         CASE WHEN i % 11 = 0 THEN 'comma, "quote"' WHEN i % 13 = 0 THEN '' END AS tricky,
         CASE WHEN i % 500 = 0 THEN repeat('x', 100000) ELSE 'w' END AS wide,
         'Zürich' AS city
  FROM generate_series(1, 6000) i
) TO '/tmp/hvcsv_fixture_www/tricky.csv' WITH (FORMAT csv, HEADER);

SELECT tables_for('tricky', '/tricky.csv', 'id int, note text, tricky text, wide text, city text');
CREATE FOREIGN TABLE tricky_file_fdw (id int, note text, tricky text, wide text, city text)
  SERVER files OPTIONS (filename '/tmp/hvcsv_fixture_www/tricky.csv', format 'csv', header 'true');
SELECT * FROM compare_readers('tricky');
SELECT differences('tricky_projected', 'tricky_file_fdw') AS vs_file_fdw;
SELECT count(*) FILTER (WHERE tricky IS NULL) AS nulls, count(*) FILTER (WHERE tricky = '') AS empties,
       count(*) FILTER (WHERE note LIKE E'%\n%') AS multiline, max(length(wide)) AS widest
  FROM tricky_part64k;

-- the small corpus, through every reader
SELECT tables_for('accounts', '/accounts.csv',
  'has_id text, name text, city text, created_at timestamptz, email text, amount numeric, active boolean, notes text');
SELECT * FROM compare_readers('accounts');
CREATE FOREIGN TABLE accounts_file_fdw (has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER files OPTIONS (filename '/tmp/hvcsv_fixture_www/accounts.csv', format 'csv', header 'true');
SELECT differences('accounts_projected', 'accounts_file_fdw') AS vs_file_fdw;
SELECT tables_for('crlf', '/accounts_crlf.csv',
  'has_id text, name text, city text, created_at timestamptz, email text, amount numeric, active boolean, notes text');
SELECT * FROM compare_readers('crlf');
SELECT tables_for('bom', '/accounts_bom.csv', 'has_id text, name text, city text, created_at timestamptz');
SELECT * FROM compare_readers('bom');
SELECT tables_for('dialect', '/dialect.csv', 'id int, label text, note text',
                  ', delimiter '';'', quote '''''''', escape ''\'', null ''NA''');
SELECT * FROM compare_readers('dialect');
SELECT tables_for('header_only', '/header_only.csv', 'has_id text, name text');
SELECT * FROM compare_readers('header_only');
SELECT tables_for('empty', '/empty.csv', 'has_id text, name text');
SELECT * FROM compare_readers('empty');

-- EXPLAIN names the reader, the source and the spool or "streaming", and
-- fetches nothing
SELECT * FROM fixture_reset;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tricky_part64k;
EXPLAIN (COSTS OFF) SELECT id FROM tricky_streaming;
CREATE FOREIGN TABLE never_fetched (id int) SERVER fx OPTIONS (path '/tricky.csv?never', reader 'partitioned');
EXPLAIN (COSTS OFF) SELECT id FROM never_fetched;
SELECT count(*) AS requests FROM fixture_log;

-- EXPLAIN ANALYZE adds what the spool did, the bytes read and rows rejected
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM accounts_projected;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM accounts_streaming;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM tricky_part192k;

-- A parallel scan: Gather over a Parallel Foreign Scan, workers claiming
-- partitions; the answer equals the serial scan's, rescans included
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM tricky_part64k;
SELECT count(*), sum(id), sum(length(note)), sum(length(wide)) FROM tricky_part64k;
SELECT differences('tricky_part64k', 'tricky_projected') AS parallel_differences;
-- the Gather below is rescanned once per outer row: every partition again
SET enable_material = off;
EXPLAIN (COSTS OFF)
  SELECT * FROM (SELECT count(*), sum(id) FROM tricky_part64k WHERE id > 10) ss
    RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true;
SELECT * FROM (SELECT count(*), sum(id) FROM tricky_part64k WHERE id > 10) ss
  RIGHT JOIN (VALUES (1), (2), (3)) v(x) ON true;
RESET enable_material;
-- without workers the partitions are read one after another
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tricky_part64k;
SELECT count(*), sum(id) FROM tricky_part64k;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- the planner chooses a parallel plan for the partitioned reader before
-- the first download (the reader is for big exports), and after it by the
-- spool's size: not for a small export, yes for a big one (64 MB, in 8 MB
-- partitions)
CREATE FUNCTION workers_launched(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  RETURN jsonb_path_query_first(plan, 'strict $.**."Workers Launched"')::int;
END $$;
CREATE FOREIGN TABLE big_partitioned (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=64', reader 'partitioned', block_size '8MB');
EXPLAIN (COSTS OFF) SELECT count(*) FROM big_partitioned;
SELECT workers_launched('SELECT count(*) FROM big_partitioned') > 0 AS workers_ran;
SELECT count(*) FROM big_partitioned;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tricky_part64k;
EXPLAIN (COSTS OFF) SELECT count(*) FROM big_partitioned;
SELECT count(*), sum(id), count(DISTINCT city) FROM big_partitioned;
-- workers really ran (the counts above show no row twice and none lost)
SELECT workers_launched('SELECT count(*) FROM big_partitioned') > 0 AS workers_ran;
-- a small export planned in parallel before its download is read whole, by
-- one participant (the others find no partition), and then planned serially
CREATE FOREIGN TABLE small_first (has_id text, amount numeric) SERVER fx
  OPTIONS (path '/accounts.csv?first', reader 'partitioned');
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM small_first;
SELECT count(*), sum(amount) FROM small_first;
SELECT count(*), sum(amount) FROM accounts_projected;
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM small_first;
SET max_parallel_workers_per_gather = 0;
SELECT count(*), sum(id), count(DISTINCT city) FROM big_partitioned;
RESET max_parallel_workers_per_gather;

-- Streaming: LIMIT returns at once and stops the transfer; the server sent
-- only a little of a 256 MB export
CREATE FOREIGN TABLE gen_streaming (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=256', reader 'streaming');
SELECT * FROM fixture_reset;
SELECT seconds('SELECT id FROM gen_streaming LIMIT 10') < 2 AS quick;
SELECT id FROM gen_streaming LIMIT 3;
SELECT pg_sleep(0.5);
SELECT count(*) AS requests, bool_and(NOT complete) AS all_stopped,
       max(bytes_sent) < 64 * 1024 * 1024 AS sent_little
  FROM fixture_log;

-- a broken connection resumes from where it broke (Range, If-Range): no row
-- twice, none skipped
CREATE FOREIGN TABLE gen_whole (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=4', reader 'streaming');
CREATE FOREIGN TABLE gen_broken (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=4&cut=1000000&cut_times=2', reader 'streaming');
SELECT * FROM fixture_reset;
SELECT count(*), sum(id), md5(string_agg(name || notes, '|' ORDER BY id, name, notes)) FROM gen_broken;
SELECT count(*), sum(id), md5(string_agg(name || notes, '|' ORDER BY id, name, notes)) FROM gen_whole;
SELECT status, range, if_range <> '' AS guarded, complete FROM fixture_log ORDER BY seq;
-- a server without Range support cannot resume: a clear error
CREATE FOREIGN TABLE gen_no_range (id int) SERVER fx
  OPTIONS (path '/_gen.csv?mb=4&cut=1000000&cut_times=1&norange=1', reader 'streaming');
SELECT count(*) FROM gen_no_range;

-- statement_timeout stops a stalled stream
CREATE SERVER patient_stream FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', timeout '60');
CREATE USER MAPPING FOR CURRENT_USER SERVER patient_stream OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE gen_stalled (id int) SERVER patient_stream
  OPTIONS (path '/_gen.csv?mb=4&stall=60&stall_after=100000', reader 'streaming');
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT count(*) FROM gen_stalled;
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '2.5 s' AS stopped_within_a_second;

-- ANALYZE samples rows through every reader; the planner then uses its counts
ANALYZE accounts_projected, accounts_streaming, accounts_partitioned;
SELECT relname, reltuples FROM pg_class
  WHERE relname IN ('accounts_projected', 'accounts_streaming', 'accounts_partitioned') ORDER BY relname;
SELECT tablename, count(*) AS columns_with_stats FROM pg_stats
  WHERE tablename IN ('accounts_projected', 'accounts_streaming', 'accounts_partitioned')
  GROUP BY tablename ORDER BY tablename;
SELECT attname, null_frac, n_distinct FROM pg_stats WHERE tablename = 'accounts_partitioned' ORDER BY attname;
EXPLAIN SELECT * FROM accounts_streaming;

-- memory stays bounded: a 1 GB export streamed through a fresh backend
-- grows its peak resident memory by well under 32 MB
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_readers';
CREATE FOREIGN TABLE gen_huge (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=1024', reader 'streaming');
CREATE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS
  $$ SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint $$;
SELECT id FROM gen_huge LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT count(*), sum(id), count(city) FROM gen_huge;
SELECT peak_kb() - :before_kb < 32 * 1024 AS bounded;
