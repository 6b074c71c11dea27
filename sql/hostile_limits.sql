--
-- Resource limits on hostile input: memory stays bounded, which the peak
-- resident memory of a fresh backend (VmHWM, as in the readers test) shows,
-- for a streaming scan of a body over 2 GB, for scans whose every row is
-- rejected, and for a record longer than the limit of 128 MB, which is an
-- error naming its line and field, not an allocation failure.  A field of
-- 64 MB, below the limit, reads whole through every reader.
--
-- (the readers test defines the same)
CREATE OR REPLACE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS
  $$ SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint $$;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
CREATE FOREIGN TABLE small (has_id text) SERVER fx OPTIONS (path '/accounts.csv', reader 'streaming');

-- A streaming scan of 2,100 MB (past 2^31 bytes) grows the backend's peak
-- memory by well under 32 MB, and returns every row
CREATE FOREIGN TABLE gen_2g (id int, name text, city text, created_at timestamptz,
  amount numeric, notes text) SERVER fx OPTIONS (path '/_gen.csv?mb=2100', reader 'streaming');
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
SELECT id FROM gen_2g LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT count(*) = 2100 * 14700 AS every_row, sum(id) = 2100::bigint * (14700 * 14701 / 2) AS every_id FROM gen_2g;
SELECT peak_kb() - :before_kb < 32 * 1024 AS bounded;

-- Every row rejected: nothing a rejected row needs is kept, so memory does
-- not grow with their number.  Here 940,801 records of 6 fields for a table
-- of 1 (cheap to reject), then 235,200 values an int column refuses (each
-- converted in a subtransaction).
CREATE FOREIGN TABLE all_wrong_fields (id int) SERVER fx
  OPTIONS (path '/_gen.csv?mb=64', reader 'streaming', header 'false', on_error 'skip');
CREATE FOREIGN TABLE all_bad_values (name int) SERVER fx
  OPTIONS (path '/_gen.csv?mb=16', reader 'streaming', on_error 'skip');
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
SELECT * FROM small LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT count(*) FROM all_wrong_fields;
SELECT count(name) FROM all_bad_values;
SELECT peak_kb() - :before_kb < 32 * 1024 AS bounded;

-- A field of 64 MB is read whole by every reader (one partition holds the
-- record; the partitions inside it are empty)
COPY (SELECT 'id,note' UNION ALL SELECT '1,' || repeat('x', 64 * 1024 * 1024) UNION ALL SELECT '2,short')
  TO '/tmp/hvcsv_fixture_www/long_field.csv';
CREATE FOREIGN TABLE long_field_projected (id int, note text) SERVER fx
  OPTIONS (path '/long_field.csv', reader 'projected');
CREATE FOREIGN TABLE long_field_streaming (id int, note text) SERVER fx
  OPTIONS (path '/long_field.csv', reader 'streaming');
CREATE FOREIGN TABLE long_field_partitioned (id int, note text) SERVER fx
  OPTIONS (path '/long_field.csv', reader 'partitioned', block_size '64kB');
SELECT id, length(note), note = repeat('x', 64 * 1024 * 1024) AS whole FROM long_field_projected;
SELECT id, length(note), note = repeat('x', 64 * 1024 * 1024) AS whole FROM long_field_streaming;
SELECT id, length(note), note = repeat('x', 64 * 1024 * 1024) AS whole FROM long_field_partitioned;

-- A record past 128 MB (here a quoted field of 200 lines of 1 MB) is an
-- error naming its line and field, whatever the reader, after buffering at
-- most the limit: the input buffer and the copy of the fields read each
-- hold at most 128 MB, so the backend's peak grows by well under 400 MB
COPY (SELECT 'id,note' UNION ALL SELECT '1,"' UNION ALL
      SELECT repeat('x', 1024 * 1024 - 1) FROM generate_series(1, 200) UNION ALL
      SELECT '"' UNION ALL SELECT '2,short')
  TO '/tmp/hvcsv_fixture_www/huge_field.csv';
CREATE FOREIGN TABLE huge_field_projected (id int, note text) SERVER fx
  OPTIONS (path '/huge_field.csv', reader 'projected');
CREATE FOREIGN TABLE huge_field_streaming (id int, note text) SERVER fx
  OPTIONS (path '/huge_field.csv', reader 'streaming');
CREATE FOREIGN TABLE huge_field_partitioned (id int, note text) SERVER fx
  OPTIONS (path '/huge_field.csv', reader 'partitioned', block_size '64kB');
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
SELECT * FROM small LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT id, length(note) FROM huge_field_projected;
SELECT peak_kb() - :before_kb < 400 * 1024 AS bounded;
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
SELECT * FROM small LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT id, length(note) FROM huge_field_streaming;
SELECT peak_kb() - :before_kb < 400 * 1024 AS bounded;
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';
SELECT * FROM small LIMIT 1;
SELECT peak_kb() AS before_kb \gset
SELECT id FROM huge_field_partitioned;
SELECT peak_kb() - :before_kb < 400 * 1024 AS bounded;
-- also when the query does not read the field, and without a header (the
-- field then has a number but no name)
SELECT count(*) FROM huge_field_projected;
CREATE FOREIGN TABLE huge_field_noheader (id text, note text) SERVER fx
  OPTIONS (path '/huge_field.csv', reader 'streaming', header 'false');
SELECT count(*) FROM huge_field_noheader;
