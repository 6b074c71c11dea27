--
-- Bad rows and bad headers: each error names the table, the line, and for a
-- value, the column and the value.  Lines count from 1 with the header, and
-- a record that spans lines is named by its first line.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_errors';

-- an unterminated quoted field
CREATE FOREIGN TABLE bad_quote (id int, name text) SERVER fx OPTIONS (path '/bad_quote.csv');
SELECT * FROM bad_quote;
-- rows before the bad one are returned, in order, until the error
SELECT id FROM bad_quote LIMIT 1;

-- the wrong number of fields
CREATE FOREIGN TABLE bad_fields (id int, name text) SERVER fx OPTIONS (path '/bad_fields.csv');
SELECT * FROM bad_fields;
CREATE FOREIGN TABLE too_few (id int, label text) SERVER fx OPTIONS (path '/accounts_bom.csv', header 'false');
SELECT * FROM too_few;

-- invalid UTF-8, shown escaped
CREATE FOREIGN TABLE bad_utf8 (id int, name text) SERVER fx OPTIONS (path '/bad_utf8.csv');
SELECT * FROM bad_utf8;
SELECT id FROM bad_utf8;

-- a value the column's type rejects
CREATE FOREIGN TABLE bad_type (id int, amount numeric) SERVER fx OPTIONS (path '/bad_type.csv');
SELECT * FROM bad_type;
CREATE FOREIGN TABLE bad_int (id int, note text) SERVER fx OPTIONS (path '/bad_after_newline.csv');
SELECT * FROM bad_int;

-- header problems
CREATE FOREIGN TABLE missing_col (has_id text, nope text) SERVER fx OPTIONS (path '/accounts.csv');
SELECT * FROM missing_col;
CREATE FOREIGN TABLE near_miss (id int, name text) SERVER fx OPTIONS (path '/case_header.csv');
SELECT * FROM near_miss;
CREATE FOREIGN TABLE dup_header (id int, name text) SERVER fx OPTIONS (path '/dup_header.csv');
SELECT * FROM dup_header;
-- a duplicate name that no column uses is harmless
CREATE FOREIGN TABLE dup_unused (id int) SERVER fx OPTIONS (path '/dup_header.csv');
SELECT * FROM dup_unused;
CREATE FOREIGN TABLE not_matched (has_id text, name text) SERVER fx OPTIONS (path '/accounts.csv', header 'match');
SELECT * FROM not_matched;

-- on_error 'skip': bad rows are skipped and counted (a NOTICE says how
-- many); EXPLAIN ANALYZE shows them; reject_limit stops a scan that
-- rejects too many
CREATE FOREIGN TABLE skip_bad (id int, note text) SERVER fx
  OPTIONS (path '/bad_after_newline.csv', on_error 'skip');
SELECT * FROM skip_bad ORDER BY id;
CREATE FOREIGN TABLE skip_fields (id int, name text) SERVER fx
  OPTIONS (path '/bad_fields.csv', on_error 'skip');
SELECT * FROM skip_fields;
CREATE FOREIGN TABLE skip_utf8 (id int, name text) SERVER fx
  OPTIONS (path '/bad_utf8.csv', on_error 'skip');
SELECT * FROM skip_utf8;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM skip_utf8;
COPY (SELECT CASE WHEN i % 3 = 0 THEN 'x' || i ELSE i::text END FROM generate_series(1, 30) i)
  TO '/tmp/hvcsv_fixture_www/mostly_ints.csv';
CREATE FOREIGN TABLE limited (n int) SERVER fx
  OPTIONS (path '/mostly_ints.csv', header 'false', on_error 'skip', reject_limit '5');
SELECT sum(n) FROM limited;
ALTER FOREIGN TABLE limited OPTIONS (SET reject_limit '10');
SELECT sum(n) FROM limited;
-- (a row is rejected only for a column the query reads)
SELECT count(*) FROM limited;
-- an unterminated quote is not a bad row but a broken file: still an error
CREATE FOREIGN TABLE skip_quote (id int, name text) SERVER fx
  OPTIONS (path '/bad_quote.csv', on_error 'skip');
SELECT * FROM skip_quote;
-- skipping rows means no parallel scan (rows are converted in subtransactions)
CREATE FOREIGN TABLE skip_partitioned (id int, note text) SERVER fx
  OPTIONS (path '/bad_after_newline.csv', on_error 'skip', reader 'partitioned');
SET parallel_setup_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT * FROM skip_partitioned;
SELECT * FROM skip_partitioned ORDER BY id;
RESET parallel_setup_cost;
RESET min_parallel_table_scan_size;
