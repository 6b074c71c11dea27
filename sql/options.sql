--
-- Options are checked when they are set: names, the object they belong on,
-- and their values.  Nothing here fetches anything.
--
SET client_min_messages = warning;
CREATE EXTENSION hvcsv_fdw;
RESET client_min_messages;

-- a server needs an http or https api_url
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw;
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'ftp://example.com/x.csv');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'file:///etc/passwd');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'example.com/x.csv');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://');

-- unknown names get a hint; options on the wrong object say where they go
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', timout '5');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', bogus 'x');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', api_key 'k');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', reader 'projected');

-- invalid values name the option and the value
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', connect_timeout '0');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', timeout 'abc');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', max_retries '0');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', max_retries '1.5');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', retry_delay '-1');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', max_bytes '0');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', max_age 'forever');
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/', retry_delay '10', max_retry_delay '5');

-- every server option, with units
CREATE SERVER s0 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (
  api_url 'https://example.com/export.csv', connect_timeout '2s', timeout '1min',
  max_retries '5', retry_delay '500ms', max_retry_delay '30', max_age '15min', max_bytes '10GB');
ALTER SERVER s0 OPTIONS (DROP api_url);
ALTER SERVER s0 OPTIONS (SET api_url 'gopher://example.com/');

-- user mapping: the key is never echoed back, even when it is refused
CREATE USER MAPPING FOR CURRENT_USER SERVER s0 OPTIONS (api_key E'my-secret\nkey');
CREATE USER MAPPING FOR CURRENT_USER SERVER s0 OPTIONS (auth_scheme 'api Key');
CREATE USER MAPPING FOR CURRENT_USER SERVER s0 OPTIONS (path '/x.csv');
CREATE USER MAPPING FOR CURRENT_USER SERVER s0 OPTIONS (api_key 'my-secret', auth_scheme 'Bearer');

-- foreign table options
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (reader 'fast');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (header 'maybe');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delimiter ',,');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delimiter E'\n');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (quote ',');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (null 'a,b');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (null '"');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (encoding 'klingon');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (block_size '1kB');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (batch_rows '0');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (on_error 'continue');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (reject_limit '-1');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (target 'a.b.c.d');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (key '');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_missing 'sometimes');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_limit '150%');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_limit 'half');
-- NaN compares false with everything, so it would turn the delete guard off
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_limit 'NaN');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_limit 'nan%');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (delete_limit '-Infinity');
-- a key column whose name needs quotes is quoted, as in SQL
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (key 'Order Id');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (path '/a b.csv');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (api_url 'http://example.com/');
CREATE FOREIGN TABLE t0 (a int) SERVER s0 OPTIONS (api_key 'my-secret');
CREATE FOREIGN TABLE t0 (a int, created_at timestamptz) SERVER s0 OPTIONS (
  path '/v2/export.csv', reader 'projected', header 'match', delimiter '|', quote '''',
  escape '\', null 'NA', encoding 'LATIN1', block_size '64MB', batch_rows '5000',
  on_error 'skip', reject_limit '10', target 'public.accounts', key 'has_id',
  delete_missing 'on', delete_limit '0.25');
ALTER FOREIGN TABLE t0 OPTIONS (SET delimiter '''');
ALTER FOREIGN TABLE t0 OPTIONS (SET escape '|');
ALTER FOREIGN TABLE t0 OPTIONS (SET header 'off');

-- cursor_column is checked against the table's columns when the table is
-- created or altered, whatever the statement
CREATE FOREIGN TABLE t2 (a int) SERVER s0 OPTIONS (cursor_column 'created_at');
CREATE FOREIGN TABLE t2 (a int, doc json) SERVER s0 OPTIONS (cursor_column 'doc');
CREATE FOREIGN TABLE t2 (a int, "Created At" date) SERVER s0 OPTIONS (cursor_column 'Created At');
ALTER FOREIGN TABLE t2 OPTIONS (SET cursor_column 'a');
ALTER FOREIGN TABLE t2 OPTIONS (SET cursor_column 'b');
ALTER FOREIGN TABLE t2 DROP COLUMN a;
ALTER TABLE t2 RENAME COLUMN a TO b;
ALTER TABLE t2 DROP COLUMN "Created At";
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 't2'::regclass;
-- a system column is not in the export
CREATE FOREIGN TABLE t3 (a int) SERVER s0 OPTIONS (cursor_column 'ctid');
-- a column renamed or dropped on a parent goes from its foreign partitions
-- and children too
CREATE TABLE p3 (a int, created_at date) PARTITION BY LIST (a);
CREATE FOREIGN TABLE t3 PARTITION OF p3 FOR VALUES IN (1) SERVER s0
  OPTIONS (cursor_column 'created_at');
ALTER TABLE p3 RENAME COLUMN created_at TO c2;
ALTER TABLE p3 DROP COLUMN created_at;
CREATE TABLE i3 (a int, created_at date);
CREATE FOREIGN TABLE t4 () INHERITS (i3) SERVER s0 OPTIONS (cursor_column 'created_at');
ALTER TABLE i3 DROP COLUMN created_at;
-- a restore (check_function_bodies off, as pg_dump's scripts set it) keeps
-- a table that an older version accepted, with a warning
SET check_function_bodies = off;
CREATE FOREIGN TABLE t5 (a int) SERVER s0 OPTIONS (cursor_column 'created_at');
RESET check_function_bodies;
SELECT ftrelid::regclass, ftoptions FROM pg_foreign_table
 WHERE ftrelid IN ('t3'::regclass, 't4'::regclass, 't5'::regclass) ORDER BY 1::text;

-- column options
CREATE FOREIGN TABLE t1 (a int OPTIONS (colum_name 'A')) SERVER s0;
CREATE FOREIGN TABLE t1 (a int OPTIONS (column_name 'A')) SERVER s0;
ALTER FOREIGN TABLE t1 ALTER COLUMN a OPTIONS (ADD delimiter ';');

-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://example.com/');

SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 's0';
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 't0'::regclass;

-- a restore (pg_dump's scripts turn check_function_bodies off) takes what
-- an older version accepted: reject_limit '0' (no limit), and
-- delete_missing with cursor_column (which the refresh then refuses)
SET check_function_bodies = off;
CREATE FOREIGN TABLE t_restored (a int) SERVER s0
  OPTIONS (reject_limit '0', cursor_column 'a', delete_missing 'true');
RESET check_function_bodies;
ALTER FOREIGN TABLE t_restored OPTIONS (SET reject_limit '5');

SET client_min_messages = warning;
DROP SERVER s0 CASCADE;
DROP TABLE p3, i3;
