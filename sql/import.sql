--
-- IMPORT FOREIGN SCHEMA reads the header and every row, infers the
-- column types, and creates one foreign table per reader.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_import';
SET timezone = 'UTC';
CREATE SCHEMA imported;

IMPORT FOREIGN SCHEMA accounts FROM SERVER fx INTO imported OPTIONS (path '/accounts.csv');
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE c.relnamespace = 'imported'::regnamespace ORDER BY c.relname;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'imported.accounts_projected'::regclass AND attnum > 0 ORDER BY attnum;
SELECT has_id, created_at, amount, active FROM imported.accounts_partitioned ORDER BY has_id;
SELECT count(*) FROM imported.accounts_streaming;

-- names are kept as the CSV spells them; LIMIT TO and EXCEPT pick tables
IMPORT FOREIGN SCHEMA upper LIMIT TO (upper_streaming) FROM SERVER fx INTO imported
  OPTIONS (path '/case_header.csv');
IMPORT FOREIGN SCHEMA other EXCEPT (other_streaming) FROM SERVER fx INTO imported
  OPTIONS (path '/noheader.csv', header 'false');
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'imported'::regnamespace ORDER BY 1;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'imported.upper_streaming'::regclass AND attnum > 0 ORDER BY attnum;
SELECT "ID", "Name" FROM imported.upper_streaming;
SELECT * FROM imported.other_projected ORDER BY 1;

-- a cursor_column the imported tables do not have is refused, as by CREATE;
-- one they have is kept
IMPORT FOREIGN SCHEMA cursored FROM SERVER fx INTO imported
  OPTIONS (path '/accounts.csv', cursor_column 'updated_at');
IMPORT FOREIGN SCHEMA cursored LIMIT TO (cursored_projected) FROM SERVER fx INTO imported
  OPTIONS (path '/accounts.csv', cursor_column 'created_at');
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE c.relname LIKE 'cursored%' ORDER BY c.relname;

-- CSV options are honoured, and copied onto the tables
IMPORT FOREIGN SCHEMA dialect FROM SERVER fx INTO imported
  OPTIONS (path '/dialect.csv', delimiter ';', quote '''', escape '\', null 'NA');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'imported.dialect_projected'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM imported.dialect_projected ORDER BY id;

-- types: every value must fit; dates, integers and bigints; yes/no stay text
COPY (SELECT * FROM (VALUES
  ('d,i,b,n,t,flag,mixed,empty'),
  ('2024-01-01,1,3000000000,1.5,2024-01-01 10:00:00+02,yes,1,'),
  ('2024-12-31,-7,1,2,2024-01-02T00:00:00Z,no,x,')) v) TO '/tmp/hvcsv_fixture_www/types.csv';
IMPORT FOREIGN SCHEMA types LIMIT TO (types_projected) FROM SERVER fx INTO imported
  OPTIONS (path '/types.csv');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'imported.types_projected'::regclass AND attnum > 0 ORDER BY attnum;

-- every column reads its own field, whatever the header holds: a name that
-- cannot be a column's name as it is (empty, with a control character,
-- longer than 63 bytes, or taken) gives the column another name, clipped at
-- a character boundary and made unique, and a column_name option; case and
-- reserved words are kept as they are.  Field i holds i (name: three).
-- (a large object writes the file byte for byte, line break in a name included)
SELECT lo_from_bytea(0, convert_to(
    'id,,name,ID,select,"new' || chr(10) || 'line",' || repeat('x', 70) || 'a,' ||
    repeat('x', 70) || 'b,' || repeat('é', 40) || ',column_2' || chr(10) ||
    '1,2,three,4,5,6,7,8,9,10' || chr(10), 'UTF8')) AS lo \gset
SELECT lo_export(:lo, '/tmp/hvcsv_fixture_www/odd_names.csv');
SELECT lo_unlink(:lo);
IMPORT FOREIGN SCHEMA odd FROM SERVER fx INTO imported OPTIONS (path '/odd_names.csv');
SELECT attname, octet_length(attname) AS bytes, format_type(atttypid, atttypmod), attfdwoptions
  FROM pg_attribute WHERE attrelid = 'imported.odd_projected'::regclass AND attnum > 0
  ORDER BY attnum;
SELECT 'projected' AS reader, t::text AS fields FROM imported.odd_projected t
UNION ALL SELECT 'streaming', t::text FROM imported.odd_streaming t
UNION ALL SELECT 'partitioned', t::text FROM imported.odd_partitioned t;
SELECT "ID", "select", "new_line", "column_2", "column_2_2" FROM imported.odd_streaming;

-- a name the header repeats cannot tell its fields apart: the tables read
-- the fields by position, with header 'match' (which checks every name)
IMPORT FOREIGN SCHEMA dup FROM SERVER fx INTO imported OPTIONS (path '/dup_header.csv');
SELECT lo_from_bytea(0, convert_to('a,a,b,,' || chr(10) || '1,2,3,4,5' || chr(10), 'UTF8')) AS lo \gset
SELECT lo_export(:lo, '/tmp/hvcsv_fixture_www/dup_names.csv');
SELECT lo_unlink(:lo);
IMPORT FOREIGN SCHEMA dupe FROM SERVER fx INTO imported
  OPTIONS (path '/dup_names.csv', header 'true');
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE c.relnamespace = 'imported'::regnamespace AND c.relname ~ '^dupe?_' ORDER BY c.relname;
SELECT attname, attfdwoptions FROM pg_attribute
  WHERE attrelid = 'imported.dupe_projected'::regclass AND attnum > 0 ORDER BY attnum;
SELECT 'dup' AS import, t::text AS fields FROM imported.dup_partitioned t
UNION ALL SELECT 'dupe projected', t::text FROM imported.dupe_projected t
UNION ALL SELECT 'dupe streaming', t::text FROM imported.dupe_streaming t
UNION ALL SELECT 'dupe partitioned', t::text FROM imported.dupe_partitioned t;

-- errors
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO imported OPTIONS (path '/empty.csv');
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO imported OPTIONS (path '/accounts.csv', reader 'streaming');
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO imported OPTIONS (path '/accounts.csv', bogus 'x');
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO imported OPTIONS (path '/no_such_file.csv');

SET client_min_messages = warning;
DROP SCHEMA imported CASCADE;
