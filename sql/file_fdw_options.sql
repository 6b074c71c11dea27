--
-- file_fdw's options with file_fdw's meaning: format, the force_null and
-- force_not_null column options (through every reader, parallel workers,
-- ANALYZE and the fast conversions), on_error 'ignore', log_verbosity and
-- reject_limit as PostgreSQL 18 defines it.  A table definition copied
-- from file_fdw reads the same rows as file_fdw itself.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_file_fdw_options';
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS file_fdw;
RESET client_min_messages;
CREATE SERVER ffo_files FOREIGN DATA WRAPPER file_fdw;

-- rows in one table and not the other, both ways, as multisets
CREATE FUNCTION ffo_differences(a regclass, b regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  m bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', a, b) INTO n;
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', b, a) INTO m;
  RETURN n + m;
END $$;

-- the same definition on both wrappers: hvcsv_fdw with each reader, and file_fdw
CREATE FUNCTION ffo_tables(name text, file text, columns text, options text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader ''projected'', %s)',
                 name || '_projected', columns, '/' || file, options);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader ''streaming'', %s)',
                 name || '_streaming', columns, '/' || file, options);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader ''partitioned'', block_size ''64kB'', %s)',
                 name || '_partitioned', columns, '/' || file, options);
  EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER ffo_files OPTIONS (filename %L, %s)',
                 name || '_file_fdw', columns, '/tmp/hvcsv_fixture_www/' || file, options);
END $$;

-- each reader against file_fdw
CREATE FUNCTION ffo_compare(name text)
RETURNS TABLE (reader text, differences bigint) LANGUAGE sql AS $$
  SELECT r, ffo_differences(format('%I', name || '_' || r)::regclass,
                            format('%I', name || '_file_fdw')::regclass)
  FROM unnest(ARRAY['projected', 'streaming', 'partitioned']) r
$$;

-- An export that quotes every value, as many do: an empty string is "",
-- a NULL an empty unquoted field.  Big enough for several partitions.
COPY (SELECT i AS id,
             CASE WHEN i % 3 = 0 THEN '' ELSE (i * 1.5)::text END AS amount,
             CASE WHEN i % 4 = 0 THEN '' ELSE (i % 2 = 0)::text END AS flag,
             CASE WHEN i % 5 = 0 THEN '' ELSE '2024-03-01T12:00:00Z' END AS seen_at,
             CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'n' || i END AS label,
             CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'b' || i END AS both_ways,
             CASE WHEN i % 7 = 0 THEN NULL ELSE 'p' || i END AS plain
      FROM generate_series(1, 6000) i)
  TO '/tmp/hvcsv_fixture_www/ffo_quoted.csv' WITH (FORMAT csv, HEADER, FORCE_QUOTE *);

-- without force_null, "" is an empty string, which numeric refuses, as COPY does
SELECT ffo_tables('ffo_unforced', 'ffo_quoted.csv',
  'id int, amount numeric, flag boolean, seen_at timestamptz, label text, both_ways text, plain text',
  'format ''csv'', header ''true''');
SELECT sum(amount) FROM ffo_unforced_projected;
SELECT sum(amount) FROM ffo_unforced_file_fdw;

-- A definition as file_fdw takes it (filename replaced by path), with
-- force_null on typed columns (numeric, boolean and timestamptz have fast
-- conversions) and force_not_null on text, and both on one column.
SELECT ffo_tables('ffo_quoted', 'ffo_quoted.csv',
  'id int, amount numeric OPTIONS (force_null ''true''), flag boolean OPTIONS (force_null ''true''),
   seen_at timestamptz OPTIONS (force_null ''on''), label text OPTIONS (force_not_null ''true''),
   both_ways text OPTIONS (force_null ''true'', force_not_null ''true''), plain text',
  'format ''csv'', header ''true'', delimiter '','', quote ''"'', escape ''"'', null '''', encoding ''UTF8''');
SELECT * FROM ffo_compare('ffo_quoted');
-- force_null: "" is NULL; force_not_null: an unquoted empty field is an
-- empty string; both: the first NULL, the second an empty string
SELECT count(*) FILTER (WHERE amount IS NULL) AS amount_nulls,
       count(*) FILTER (WHERE flag IS NULL) AS flag_nulls,
       count(*) FILTER (WHERE seen_at IS NULL) AS seen_at_nulls,
       count(*) FILTER (WHERE label IS NULL) AS label_nulls,
       count(*) FILTER (WHERE label = '') AS label_empty,
       count(*) FILTER (WHERE both_ways IS NULL) AS both_nulls,
       count(*) FILTER (WHERE both_ways = '') AS both_empty,
       count(*) FILTER (WHERE plain IS NULL) AS plain_nulls
  FROM ffo_quoted_streaming;
SELECT * FROM ffo_quoted_projected WHERE id IN (4, 5, 6) ORDER BY id;

-- the partitioned reader in parallel: the workers apply the column options
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM ffo_quoted_partitioned WHERE amount IS NULL AND label = '';
SELECT count(*) FROM ffo_quoted_partitioned WHERE amount IS NULL AND label = '';
SELECT count(*) FROM ffo_quoted_file_fdw WHERE amount IS NULL AND label = '';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- ANALYZE sees the same NULLs as file_fdw's ANALYZE
ANALYZE ffo_quoted_projected;
ANALYZE ffo_quoted_streaming;
ANALYZE ffo_quoted_file_fdw;
SELECT s.attname, round(s.null_frac::numeric, 4) AS null_frac,
       (SELECT round(f.null_frac::numeric, 4) FROM pg_stats f
        WHERE f.tablename = 'ffo_quoted_file_fdw' AND f.attname = s.attname) AS file_fdw,
       (SELECT round(t.null_frac::numeric, 4) FROM pg_stats t
        WHERE t.tablename = 'ffo_quoted_streaming' AND t.attname = s.attname) AS streaming
  FROM pg_stats s WHERE s.tablename = 'ffo_quoted_projected' ORDER BY s.attname;

-- another null string: force_not_null keeps NA as text, force_null makes "NA" NULL
COPY (VALUES ('id,v'), ('1,NA'), ('2,"NA"'), ('3,x'), ('4,'), ('5,""'))
  TO '/tmp/hvcsv_fixture_www/ffo_na.csv';
SELECT ffo_tables('ffo_na', 'ffo_na.csv', 'id int, v text', 'format ''csv'', header ''true'', null ''NA''');
SELECT ffo_tables('ffo_na_not_null', 'ffo_na.csv', 'id int, v text OPTIONS (force_not_null ''true'')',
                  'format ''csv'', header ''true'', null ''NA''');
SELECT ffo_tables('ffo_na_null', 'ffo_na.csv', 'id int, v text OPTIONS (force_null ''true'')',
                  'format ''csv'', header ''true'', null ''NA''');
SELECT * FROM ffo_compare('ffo_na');
SELECT * FROM ffo_compare('ffo_na_not_null');
SELECT * FROM ffo_compare('ffo_na_null');
SELECT a.id, a.v AS plain, b.v AS force_not_null, c.v AS force_null
  FROM ffo_na_projected a JOIN ffo_na_not_null_streaming b USING (id) JOIN ffo_na_null_partitioned c USING (id)
  ORDER BY id;

-- the option values are checked as file_fdw checks them
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', format 'CSV');
DROP FOREIGN TABLE ffo_bad;
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', format 'text');
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', format 'binary');
CREATE FOREIGN TABLE ffo_bad (a int OPTIONS (force_null 'maybe')) SERVER fx OPTIONS (path '/ffo_na.csv');
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', force_not_null 'true');
CREATE FOREIGN TABLE ffo_bad (a int OPTIONS (format 'csv')) SERVER fx OPTIONS (path '/ffo_na.csv');
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', on_error 'continue');
CREATE FOREIGN TABLE ffo_bad (a int) SERVER fx OPTIONS (path '/ffo_na.csv', log_verbosity 'loud');

-- on_error 'ignore' is 'skip'; log_verbosity says how much is told about
-- the rows skipped: a count at the end (default), each row as well
-- (verbose), or nothing (silent)
COPY (SELECT CASE WHEN i % 3 = 0 THEN 'x' || i ELSE i::text END FROM generate_series(1, 10) i)
  TO '/tmp/hvcsv_fixture_www/ffo_ints.csv';
CREATE FOREIGN TABLE ffo_ignore (n int) SERVER fx
  OPTIONS (path '/ffo_ints.csv', header 'false', on_error 'ignore');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (ADD log_verbosity 'verbose');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (ADD reader 'streaming');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET log_verbosity 'silent');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET log_verbosity 'default', SET on_error 'stop');
SELECT sum(n) FROM ffo_ignore;

-- reject_limit: at most this many rows skipped, a positive count, and only
-- with on_error 'ignore' (or 'skip')
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET on_error 'ignore', ADD reject_limit '2');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET reject_limit '3');
SELECT sum(n) FROM ffo_ignore;
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET reject_limit '0');
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET reject_limit '-1');
ALTER FOREIGN TABLE ffo_ignore OPTIONS (SET on_error 'stop');
ALTER FOREIGN TABLE ffo_ignore OPTIONS (DROP on_error);
ALTER FOREIGN TABLE ffo_ignore OPTIONS (DROP reject_limit);
SELECT sum(n) FROM ffo_ignore;

-- A table whose catalog entry holds reject_limit '0', which meant "no
-- limit" before (set here behind the validator's back, as an older
-- version stored it), still scans with no limit; ALTER asks to drop it.
CREATE FOREIGN TABLE ffo_legacy (n int) SERVER fx
  OPTIONS (path '/ffo_ints.csv', header 'false', on_error 'skip');
UPDATE pg_foreign_table SET ftoptions = ftoptions || '{reject_limit=0}'
  WHERE ftrelid = 'ffo_legacy'::regclass;
SELECT sum(n) FROM ffo_legacy;
ALTER FOREIGN TABLE ffo_legacy OPTIONS (ADD log_verbosity 'silent');
ALTER FOREIGN TABLE ffo_legacy OPTIONS (DROP reject_limit);
ALTER FOREIGN TABLE ffo_legacy OPTIONS (ADD log_verbosity 'silent');
SELECT sum(n) FROM ffo_legacy;
