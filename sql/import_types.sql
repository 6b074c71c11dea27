--
-- IMPORT FOREIGN SCHEMA types every column from every row of the export,
-- with the narrowest type that reads each value exactly, whatever the
-- session's settings; and its own options: readers (one table, named after
-- the remote schema, for one reader), column_names 'snake', and
-- target_schema with key (the targets created, the target option set).
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_import_types';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE SCHEMA it;

-- a table's columns: name, type and options
CREATE FUNCTION cols(t regclass) RETURNS TABLE (col name, type text, options text[])
LANGUAGE sql AS $$
  SELECT attname, format_type(atttypid, atttypmod), attfdwoptions FROM pg_attribute
  WHERE attrelid = t AND attnum > 0 AND NOT attisdropped ORDER BY attnum $$;

-- 1. a value at row 5,000, past any sample of the first rows: the column is
-- numeric, and every row scans, from the spool and from the response
COPY (SELECT g AS id, CASE WHEN g = 5000 THEN '.5' ELSE g::text END AS v
      FROM generate_series(1, 6000) g) TO '/tmp/hvcsv_fixture_www/late.csv' (FORMAT csv, HEADER);
IMPORT FOREIGN SCHEMA late FROM SERVER fx INTO it OPTIONS (path '/late.csv', readers 'projected');
SELECT * FROM cols('it.late');
SELECT count(*), sum(v), min(v) FROM it.late;
IMPORT FOREIGN SCHEMA late_s FROM SERVER fx INTO it OPTIONS (path '/late.csv', readers 'streaming');
SELECT * FROM cols('it.late_s');
SELECT count(*), sum(v), min(v) FROM it.late_s;

-- 2. shaped like statsmodels' randhie.csv: a float column whose first 1,166
-- values are whole numbers and whose 1,167th is .12982
COPY (SELECT g AS id, CASE WHEN g = 1167 THEN '.12982' ELSE (g % 3)::text END AS lpi
      FROM generate_series(1, 2000) g) TO '/tmp/hvcsv_fixture_www/randhie.csv' (FORMAT csv, HEADER);
IMPORT FOREIGN SCHEMA randhie FROM SERVER fx INTO it
  OPTIONS (path '/randhie.csv', readers 'partitioned');
SELECT * FROM cols('it.randhie');
SELECT id, lpi FROM it.randhie WHERE id BETWEEN 1166 AND 1168 ORDER BY id;

-- 3. shaped like PostgreSQL's sql_features.txt: tab-separated, no header,
-- subfeature numbers with leading zeros and YES/NO, which stay as written
IMPORT FOREIGN SCHEMA features FROM SERVER fx INTO it
  OPTIONS (path '/sql_features_like.tsv', header 'false', delimiter E'\t', readers 'projected');
SELECT * FROM cols('it.features');
SELECT column_1, column_3, column_5 FROM it.features ORDER BY column_1, column_3;

-- 4. each rule: leading zeros, yes/no, on/off, t/f and a leading plus stay
-- text; 1/0 are integers; only true/false make a boolean; integer up to
-- 2147483647, bigint past it, numeric past int8; ISO dates (real days
-- only), timestamps without a zone, with one; a date among timestamps is
-- a timestamp; zoned and unzoned together, 01/02/2026, a leap second, a
-- column of NULLs and a quoted empty field are text
COPY (SELECT * FROM (VALUES
  ('zeros,zero_dec,yes_no,on_off,one_zero,t_f,bool,int,big,huge,num,plus,d,bad_date,ts,tstz,date_ts,mixed_zone,slash_date,leap,empty,quoted_empty'),
  ('007,0.5,yes,on,1,t,true,2147483647,2147483647,9223372036854775808,1.5,+5,2026-01-02,2026-01-02,2026-01-02 03:04:05,2026-01-02 03:04:05+02,2026-01-02,2026-01-02 03:04:05,01/02/2026,2026-01-02 23:59:59,,1'),
  ('01,007.5,no,off,0,f,FALSE,-2147483648,2147483648,-1,-.25,3,2024-02-29,2023-02-29,2026-01-02T03:04,2026-01-02T03:04:05.123456Z,2026-01-02 03:04:05,2026-01-02 03:04:05Z,02/01/2026,2026-01-02 23:59:60,,""'),
  ('10,,YES,,1,,True,0,-9223372036854775808,1,1e5,,,,,,,,,,,')) v)
  TO '/tmp/hvcsv_fixture_www/rules.csv';
IMPORT FOREIGN SCHEMA rules FROM SERVER fx INTO it OPTIONS (path '/rules.csv', readers 'projected');
SELECT col, type FROM cols('it.rules');
SELECT zeros, yes_no, one_zero, bool, int, big, huge, num, d, ts, tstz, date_ts FROM it.rules;

-- the same types in a session with other DateStyle and TimeZone settings
SET datestyle = 'SQL, DMY';
SET timezone = 'America/New_York';
IMPORT FOREIGN SCHEMA rules_dmy FROM SERVER fx INTO it
  OPTIONS (path '/rules.csv', readers 'projected');
SELECT count(*) AS differences FROM cols('it.rules') a FULL JOIN cols('it.rules_dmy') b USING (col)
  WHERE a.type IS DISTINCT FROM b.type;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';

-- 5. readers: one table per reader named; for one, named after the remote schema
IMPORT FOREIGN SCHEMA two FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', readers 'streaming, partitioned');
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE c.relnamespace = 'it'::regnamespace ORDER BY c.relname;
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO it OPTIONS (path '/accounts.csv', readers 'fast');
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', readers 'projected,projected');
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', readers 'projected', readers 'streaming');

-- 6. column_names 'snake': lower case, runs of other characters one
-- underscore, trimmed, an underscore before a leading digit, other scripts'
-- letters kept, names taken after folding made unique; column_name keeps
-- the header's name, by which the fields are read
COPY (SELECT * FROM (VALUES
  ('Created At,created-at,2nd Place,ID,  Total  (EUR) ,Größe,%%,id'),
  ('2026-01-02 03:04:05,x,1,7,12.50,42,z,8')) v) TO '/tmp/hvcsv_fixture_www/snake.csv';
IMPORT FOREIGN SCHEMA snake FROM SERVER fx INTO it
  OPTIONS (path '/snake.csv', readers 'projected', column_names 'snake');
SELECT * FROM cols('it.snake');
SELECT * FROM it.snake;
IMPORT FOREIGN SCHEMA x FROM SERVER fx INTO it
  OPTIONS (path '/snake.csv', column_names 'camel');

-- 7. target_schema and key: the target is created with the foreign table's
-- columns and types and the key as primary key, the target option is set,
-- and a refresh fills it
CREATE SCHEMA it_target;
IMPORT FOREIGN SCHEMA accounts FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', readers 'projected', target_schema 'it_target', key 'has_id');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'it.accounts'::regclass;
SELECT col, type FROM cols('it_target.accounts');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'it_target.accounts'::regclass;
SELECT status, rows_inserted FROM hvcsv_refresh('it.accounts');
SELECT has_id, created_at, amount, active FROM it_target.accounts ORDER BY has_id;

-- LIMIT TO and EXCEPT pick the targets too; a key of several columns, in
-- the names column_names gives them
IMPORT FOREIGN SCHEMA snake LIMIT TO (snake_streaming) FROM SERVER fx INTO it
  OPTIONS (path '/snake.csv', column_names 'snake', target_schema 'it_target',
           key 'id, created_at');
SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'it_target'::regnamespace
  AND c.relkind = 'r' ORDER BY 1;
SELECT pg_get_constraintdef(oid) FROM pg_constraint
  WHERE conrelid = 'it_target.snake_streaming'::regclass;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'it.snake_streaming'::regclass;
-- names are clipped to 63 bytes as the parser clips LIMIT TO's and
-- EXCEPT's, so they pick the same tables and targets; two readers whose
-- names clip alike are refused
IMPORT FOREIGN SCHEMA nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
  EXCEPT (nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_partitioned,
          nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_projected)
  FROM SERVER fx INTO it OPTIONS (path '/accounts.csv', target_schema 'it_target', key 'has_id');
SELECT c.relnamespace::regnamespace, c.relname, c.relkind FROM pg_class c
  WHERE c.relname LIKE 'nnnn%' AND c.relkind IN ('r', 'f') ORDER BY 1, 2;
DROP FOREIGN TABLE it.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_streami;
DROP TABLE it_target.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_streami;
IMPORT FOREIGN SCHEMA qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
  FROM SERVER fx INTO it OPTIONS (path '/accounts.csv');

-- refused before anything is created: a key that is not a column, a target
-- that exists, the foreign tables' own schema, no key, a target option too,
-- a schema that does not exist
IMPORT FOREIGN SCHEMA nokey FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', target_schema 'it_target', key 'id');
CREATE SCHEMA it2;
IMPORT FOREIGN SCHEMA accounts FROM SERVER fx INTO it2
  OPTIONS (path '/accounts.csv', readers 'projected', target_schema 'it_target', key 'has_id');
IMPORT FOREIGN SCHEMA same FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', target_schema 'it', key 'has_id');
IMPORT FOREIGN SCHEMA nokey FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', target_schema 'it_target');
IMPORT FOREIGN SCHEMA dual FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', target_schema 'it_target', key 'has_id', target 'acct');
IMPORT FOREIGN SCHEMA gone FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', target_schema 'no_such_schema', key 'has_id');
SELECT c.relname FROM pg_class c
  WHERE c.relnamespace IN ('it_target'::regnamespace, 'it2'::regnamespace) ORDER BY 1;

-- 8. the importer creates the targets in its own rights, and owns them: a
-- role may not create in a schema it lacks CREATE on
CREATE ROLE regress_hvcsv_importer;
GRANT USAGE ON FOREIGN SERVER fx TO regress_hvcsv_importer;
CREATE USER MAPPING FOR regress_hvcsv_importer SERVER fx OPTIONS (api_key 'test-secret-key');
CREATE SCHEMA it_own AUTHORIZATION regress_hvcsv_importer;
CREATE SCHEMA it_granted;
GRANT USAGE, CREATE ON SCHEMA it_granted TO regress_hvcsv_importer;
SET ROLE regress_hvcsv_importer;
IMPORT FOREIGN SCHEMA mine FROM SERVER fx INTO it_own
  OPTIONS (path '/accounts.csv', readers 'projected', target_schema 'it_target', key 'has_id');
IMPORT FOREIGN SCHEMA accounts FROM SERVER fx INTO it_own
  OPTIONS (path '/accounts.csv', readers 'projected', target_schema 'it_granted', key 'has_id');
SELECT status, rows_inserted FROM hvcsv_refresh('it_own.accounts');
RESET ROLE;
SELECT c.oid::regclass, pg_get_userbyid(c.relowner) FROM pg_class c
  WHERE c.relnamespace IN ('it_own'::regnamespace, 'it_granted'::regnamespace)
  AND c.relkind IN ('r', 'f') ORDER BY 1;
SELECT count(*) FROM it_granted.accounts;

-- 9. a column the export gains is typed by the same rules, from every row:
-- on_new_columns 'add' makes score numeric for the 1,500th row's 2.5, and
-- the run that adds it fills it
COPY (SELECT g AS id FROM generate_series(1, 2000) g)
  TO '/tmp/hvcsv_fixture_www/drift.csv' (FORMAT csv, HEADER);
IMPORT FOREIGN SCHEMA drift FROM SERVER fx INTO it
  OPTIONS (path '/drift.csv', readers 'projected', target_schema 'it_target', key 'id',
           on_new_columns 'add');
SELECT status, rows_inserted FROM hvcsv_refresh('it.drift');
COPY (SELECT g AS id, CASE WHEN g = 1500 THEN '2.5' ELSE (g % 10)::text END AS score
      FROM generate_series(1, 2000) g) TO '/tmp/hvcsv_fixture_www/drift.csv' (FORMAT csv, HEADER);
SELECT status, rows_updated FROM hvcsv_refresh('it.drift');
SELECT col, type FROM cols('it_target.drift');
SELECT schema_changes FROM hvcsv_sync_history WHERE foreign_table = 'it.drift'::regclass
  AND schema_changes IS NOT NULL;
SELECT sum(score) FROM it_target.drift;

-- 10. a hostile role that plants types and operators named as pg_catalog's
-- in a schema a superuser has on its search_path ahead of pg_catalog: what
-- IMPORT creates (the foreign table and the target with its key) uses none
CREATE ROLE regress_hvcsv_planter;
CREATE SCHEMA it_planted AUTHORIZATION regress_hvcsv_planter;
SET ROLE regress_hvcsv_planter;
CREATE DOMAIN it_planted.text AS pg_catalog.varchar(1);
CREATE DOMAIN it_planted.numeric AS pg_catalog.int2;
CREATE FUNCTION it_planted.text_eq(pg_catalog.text, pg_catalog.text) RETURNS boolean
  LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR it_planted.= (FUNCTION = it_planted.text_eq,
  LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text);
RESET ROLE;
SET search_path = it_planted, pg_catalog, public;
IMPORT FOREIGN SCHEMA planted FROM SERVER fx INTO it
  OPTIONS (path '/accounts.csv', readers 'projected', target_schema 'it_target', key 'has_id');
RESET search_path;
SELECT c.relnamespace::regnamespace AS schema, a.attname, t.typnamespace::regnamespace AS type_schema, t.typname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid IN ('it.planted'::regclass, 'it_target.planted'::regclass) AND a.attnum > 0
  ORDER BY 1, a.attnum;
SELECT opc.opcnamespace::regnamespace, opc.opcname
  FROM pg_index i JOIN pg_opclass opc ON opc.oid = i.indclass[0]
  WHERE i.indrelid = 'it_target.planted'::regclass;
SELECT status, rows_inserted FROM hvcsv_refresh('it.planted');

SET client_min_messages = warning;
DROP SCHEMA it_planted CASCADE;
DROP ROLE regress_hvcsv_planter;
DROP SCHEMA it, it2, it_target, it_own, it_granted CASCADE;
DROP USER MAPPING FOR regress_hvcsv_importer SERVER fx;
REVOKE USAGE ON FOREIGN SERVER fx FROM regress_hvcsv_importer;
DROP ROLE regress_hvcsv_importer;
DROP FUNCTION cols(regclass);
