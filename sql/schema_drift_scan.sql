--
-- on_missing_columns 'keep': a declared column that the export's header
-- lacks reads as NULL, through every reader (the partitioned one in
-- parallel workers too), in filters, counts, whole rows and ANALYZE, and
-- EXPLAIN ANALYZE names it.  Without it, the column is an error as before.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_drift';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- the default: a column the header lacks is an error, with every reader
CREATE FOREIGN TABLE drift_error (has_id text, phone text)
  SERVER fx OPTIONS (path '/accounts.csv');
SELECT * FROM drift_error;
CREATE FOREIGN TABLE drift_error_streaming (has_id text, phone text)
  SERVER fx OPTIONS (path '/accounts.csv', reader 'streaming', on_missing_columns 'error');
CREATE FOREIGN TABLE drift_error_partitioned (has_id text, phone text)
  SERVER fx OPTIONS (path '/accounts.csv', reader 'partitioned');
SELECT try('SELECT * FROM drift_error_streaming') AS streaming,
       try('SELECT * FROM drift_error_partitioned') AS partitioned;

-- keep needs columns matched by name
CREATE FOREIGN TABLE drift_by_position (has_id text)
  SERVER fx OPTIONS (path '/accounts.csv', header 'false', on_missing_columns 'keep');

-- keep: the missing columns (phone, fax, seen_at, vip under its column_name,
-- score: types with a fast conversion among them) are NULL in every row,
-- NOT NULL or not; the others read as usual
CREATE FOREIGN TABLE drift_projected (
  has_id text, phone text, amount numeric, fax int NOT NULL, created_at timestamptz,
  seen_at timestamptz, active boolean, vip boolean OPTIONS (column_name 'VIP'),
  name text, score numeric)
  SERVER fx OPTIONS (path '/accounts.csv', on_missing_columns 'keep');
CREATE FOREIGN TABLE drift_streaming (
  has_id text, phone text, amount numeric, fax int NOT NULL, created_at timestamptz,
  seen_at timestamptz, active boolean, vip boolean OPTIONS (column_name 'VIP'),
  name text, score numeric)
  SERVER fx OPTIONS (path '/accounts.csv', on_missing_columns 'keep', reader 'streaming');
CREATE FOREIGN TABLE drift_partitioned (
  has_id text, phone text, amount numeric, fax int NOT NULL, created_at timestamptz,
  seen_at timestamptz, active boolean, vip boolean OPTIONS (column_name 'VIP'),
  name text, score numeric)
  SERVER fx OPTIONS (path '/accounts.csv', on_missing_columns 'keep', reader 'partitioned');
SELECT * FROM drift_projected ORDER BY has_id;
-- every reader gives the same rows, whole rows included
SELECT 'streaming' AS reader, count(*) AS differences FROM (
  SELECT t::text FROM drift_projected t EXCEPT ALL SELECT t::text FROM drift_streaming t) d
UNION ALL
SELECT 'partitioned', count(*) FROM (
  SELECT t::text FROM drift_projected t EXCEPT ALL SELECT t::text FROM drift_partitioned t) d;
SELECT t::text FROM drift_streaming t WHERE has_id = 'A001';

-- counts, and filters on a missing column
SELECT 'projected' AS reader, count(*), count(phone) AS phones, count(*) FILTER (WHERE vip) AS vips
  FROM drift_projected
UNION ALL SELECT 'streaming', count(*), count(phone), count(*) FILTER (WHERE vip) FROM drift_streaming
UNION ALL SELECT 'partitioned', count(*), count(phone), count(*) FILTER (WHERE vip)
  FROM drift_partitioned;
SELECT 'projected' AS reader, count(*) FROM drift_projected WHERE phone IS NULL AND fax IS NULL
UNION ALL SELECT 'streaming', count(*) FROM drift_streaming WHERE phone IS NULL AND fax IS NULL
UNION ALL SELECT 'partitioned', count(*) FROM drift_partitioned WHERE phone IS NULL AND fax IS NULL;
SELECT has_id FROM drift_projected WHERE fax = 1 OR phone = 'x' OR seen_at > now();
SELECT has_id FROM drift_streaming WHERE score IS NOT NULL;
SELECT has_id FROM drift_partitioned WHERE vip IS NULL AND amount > 100 ORDER BY has_id;
-- only the missing column read
SELECT count(*), count(seen_at) FROM drift_partitioned;

-- a name the header gives twice is still an error for a column that takes it
CREATE FOREIGN TABLE drift_dup (id int, name text, phone text)
  SERVER fx OPTIONS (path '/dup_header.csv', on_missing_columns 'keep');
SELECT * FROM drift_dup;

-- EXPLAIN ANALYZE names the missing columns (all of them, read or not);
-- not before the scan ran, and not when none is missing
EXPLAIN (COSTS OFF) SELECT has_id, phone FROM drift_projected;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT has_id, phone FROM drift_projected;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM drift_streaming;
CREATE FOREIGN TABLE drift_none_missing (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', on_missing_columns 'keep');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM drift_none_missing;

-- ANALYZE samples through every reader: the missing columns are all NULL
ANALYZE drift_projected, drift_streaming, drift_partitioned;
SELECT relname, reltuples FROM pg_class
  WHERE relname IN ('drift_projected', 'drift_streaming', 'drift_partitioned') ORDER BY relname;
SELECT attname, array_agg(DISTINCT null_frac) AS null_frac, count(*) AS readers FROM pg_stats
  WHERE tablename IN ('drift_projected', 'drift_streaming', 'drift_partitioned')
  GROUP BY attname ORDER BY attname;

-- a dropped column is not missing; a column_name the header has is not either
ALTER FOREIGN TABLE drift_projected DROP COLUMN phone;
ALTER FOREIGN TABLE drift_projected ALTER COLUMN score OPTIONS (ADD column_name 'amount');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT has_id, score FROM drift_projected;
SELECT has_id, amount, score, fax FROM drift_projected ORDER BY has_id;

-- a parallel scan: the leader and the workers each match the header, and
-- each reads the missing columns as NULL
COPY (SELECT i AS id, md5(i::text) AS body, i % 7 = 0 AS flag
        FROM generate_series(1, 20000) i) TO '/tmp/hvcsv_fixture_www/drift_big.csv'
  WITH (FORMAT csv, HEADER);
CREATE FOREIGN TABLE drift_big (id int, gone text, body text, also_gone numeric, flag boolean)
  SERVER fx OPTIONS (path '/drift_big.csv', reader 'partitioned', block_size '64kB',
                     on_missing_columns 'keep');
SELECT count(*) FROM drift_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), count(gone), sum(id) FROM drift_big WHERE also_gone IS NULL;
SELECT count(*), count(gone), count(also_gone), sum(id), count(*) FILTER (WHERE flag),
       count(DISTINCT body) FROM drift_big WHERE also_gone IS NULL;
SELECT count(*) FROM drift_big WHERE gone IS NOT NULL;
CREATE FUNCTION drift_parallel_plan(query text, OUT workers_launched int, OUT columns_missing text)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  workers_launched := jsonb_path_query_first(plan, 'strict $.**."Workers Launched"')::int;
  columns_missing := jsonb_path_query_first(plan, 'strict $.**."Columns Missing"') #>> '{}';
END $$;
SELECT workers_launched > 0 AS workers_ran, columns_missing
  FROM drift_parallel_plan('SELECT count(*), count(gone) FROM drift_big');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

SET client_min_messages = warning;
DROP FUNCTION drift_parallel_plan(text);
DROP FOREIGN TABLE drift_error, drift_error_streaming, drift_error_partitioned,
  drift_projected, drift_streaming, drift_partitioned, drift_dup, drift_none_missing, drift_big;
RESET client_min_messages;
