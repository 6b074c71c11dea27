--
-- The refresh's row filter (src/row_filter.c): export rows equal byte for
-- byte to a stored row stop at the scan; the rest are compared exactly in
-- SQL.  Whatever the column's type, a change in it is found, equal rows keep
-- their row version, and values equal in SQL but stored in another binary
-- form (numeric 1.0 and 1.00, float -0 and 0) count as unchanged.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_row_filter';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- one column of each storage shape: by value (1, 2, 4, 8 bytes), fixed
-- length by reference (uuid, interval), variable length
CREATE TABLE shapes (id int PRIMARY KEY, small smallint, big bigint, flag boolean, f8 float8,
  day date, at timestamptz, u uuid, span interval, amount numeric, label text, tags text[],
  doc jsonb);
CREATE FOREIGN TABLE shapes_src (id int, small smallint, big bigint, flag boolean, f8 float8,
  day date, at timestamptz, u uuid, span interval, amount numeric, label text, tags text[],
  doc jsonb)
  SERVER fx OPTIONS (path '/shapes.csv', target 'shapes');

-- version 1: rows 1-13 will each change one column, 20 is all NULLs, 21
-- has an empty label, 30 and 31 will be rewritten in an equal form
CREATE TABLE v1 (LIKE shapes);
INSERT INTO v1 SELECT i, 7, 9000000000, true, 2.5, '2024-03-01', '2024-03-01 12:00:00+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 2 hours', 12.50, 'label ' || i, '{a,"b c"}',
  '{"k": [1, 2]}'
  FROM unnest(ARRAY[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 30, 31]) i;
INSERT INTO v1 (id) VALUES (20);
INSERT INTO v1 (id, label) VALUES (21, '');
UPDATE v1 SET amount = 1.0 WHERE id = 30;
UPDATE v1 SET f8 = 0 WHERE id = 31;
COPY v1 TO '/tmp/hvcsv_fixture_www/shapes.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('shapes_src');
CREATE TEMP TABLE shape_versions AS SELECT id, xmin::text AS version FROM shapes;

-- version 2: one change per row; 21's empty label becomes NULL; 22 is new
CREATE TABLE v2 AS SELECT * FROM v1;
UPDATE v2 SET id = id WHERE id = 0;
UPDATE v2 SET small = 8 WHERE id = 1;
UPDATE v2 SET big = 9000000001 WHERE id = 2;
UPDATE v2 SET flag = false WHERE id = 3;
UPDATE v2 SET f8 = 2.5000000000000004 WHERE id = 4;
UPDATE v2 SET day = '2024-03-02' WHERE id = 5;
UPDATE v2 SET at = at + interval '1 microsecond' WHERE id = 6;
UPDATE v2 SET u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12' WHERE id = 7;
UPDATE v2 SET span = '1 day 3 hours' WHERE id = 8;
UPDATE v2 SET amount = 12.51 WHERE id = 9;
UPDATE v2 SET label = 'label 10 ' WHERE id = 10;
UPDATE v2 SET tags = '{a,"b c",NULL}' WHERE id = 11;
UPDATE v2 SET doc = '{"k": [1, 2, 3]}' WHERE id = 12;
UPDATE v2 SET label = NULL WHERE id = 13;
UPDATE v2 SET label = NULL WHERE id = 21;
INSERT INTO v2 (id, label) VALUES (22, 'new');
UPDATE v2 SET amount = 1.00 WHERE id = 30;
UPDATE v2 SET f8 = '-0' WHERE id = 31;
COPY v2 TO '/tmp/hvcsv_fixture_www/shapes.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('shapes_src');
-- the target is version 2, row for row (30 keeps 1.0, 31 keeps 0: equal)
SELECT count(*) AS differences FROM (
  (SELECT * FROM shapes EXCEPT SELECT * FROM v2) UNION ALL (SELECT * FROM v2 EXCEPT SELECT * FROM shapes)) d;
SELECT amount::text, f8::text FROM shapes WHERE id IN (30, 31) ORDER BY id;
-- only the changed and new rows have new row versions
SELECT s.id, s.xmin::text = v.version AS same_row_version
  FROM shapes s LEFT JOIN shape_versions v USING (id) ORDER BY s.id;

-- the rows a refresh keeps for its own statement are not visible outside it
SELECT count(*) FROM hvcsv_changed_rows() AS kept(id int);

-- a row edited in the target is written back by the next changed export
UPDATE shapes SET label = 'edited here' WHERE id = 0;
UPDATE v2 SET label = 'label 1 again' WHERE id = 1;
COPY v2 TO '/tmp/hvcsv_fixture_www/shapes.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('shapes_src');
SELECT id, label FROM shapes WHERE id IN (0, 1) ORDER BY id;

-- a large target, some rows changed, some new; and the same with too
-- little memory for the filter (1MB: its fingerprints may take 384kB, about
-- 36,000 rows), where SQL alone compares: the same result
CREATE TABLE wide (id int PRIMARY KEY, name text, n bigint);
CREATE FOREIGN TABLE wide_src (id int, name text, n bigint)
  SERVER fx OPTIONS (path '/wide.csv', target 'wide');
COPY (SELECT i AS id, 'name ' || i AS name, i * 3 AS n FROM generate_series(1, 100000) i)
  TO '/tmp/hvcsv_fixture_www/wide.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('wide_src');
COPY (SELECT i AS id, 'name ' || i AS name, CASE WHEN i % 25000 = 7 THEN -i ELSE i * 3 END AS n
      FROM generate_series(1, 100002) i)
  TO '/tmp/hvcsv_fixture_www/wide.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('wide_src');
SELECT id, n FROM wide WHERE n < 0 OR id > 100000 ORDER BY id;
-- the refresh worker takes the settings of the session's user
ALTER ROLE CURRENT_USER SET maintenance_work_mem = '1MB';
COPY (SELECT i AS id, 'name ' || i AS name, CASE WHEN i % 25000 = 8 THEN -i ELSE i * 3 END AS n
      FROM generate_series(1, 100002) i)
  TO '/tmp/hvcsv_fixture_www/wide.csv' (FORMAT csv, HEADER);
SELECT status, rows_inserted, rows_updated, rows_unchanged FROM hvcsv_refresh('wide_src');
ALTER ROLE CURRENT_USER RESET maintenance_work_mem;
SELECT id, n FROM wide WHERE n < 0 OR id > 100000 ORDER BY id;
