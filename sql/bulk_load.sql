--
-- hvcsv_refresh()'s first load into an empty target: inserted in batches,
-- as COPY does (heap MULTI_INSERT WAL records), when INSERT would only store
-- the rows, check constraints and fill indexes; otherwise by INSERT ...
-- SELECT, as before.  Either way the same rows, counts and errors.
-- pg_walinspect shows which way each load went.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_bulk';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET hvcsv_fdw.refresh_failure = 'warning';
CREATE EXTENSION pg_walinspect;

-- how rows of the table written went to the WAL since an LSN: batched,
-- in multi-insert records, or one_by_one, a record each (as the superuser
-- that may read the WAL, for the roles below too)
CREATE FUNCTION wal_inserts(written regclass, since pg_lsn, OUT batched boolean, OUT one_by_one bigint)
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT count(*) FILTER (WHERE w.record_type LIKE 'MULTI_INSERT%') > 0,
         count(*) FILTER (WHERE w.resource_manager = 'Heap' AND w.record_type LIKE 'INSERT%')
    FROM pg_get_wal_records_info_till_end_of_wal(since) w
   WHERE w.block_ref ~ ('/' || pg_relation_filenode(written) || ' fork main ')
$$;

-- refreshes ft, and tells how the rows of written went to the WAL
CREATE FUNCTION first_load(ft regclass, written regclass)
RETURNS TABLE (run_status text, rows_loaded bigint, batched boolean, one_by_one bigint)
LANGUAGE plpgsql AS $$
DECLARE
  before pg_lsn := pg_current_wal_lsn();
BEGIN
  SELECT r.status, r.rows_inserted INTO run_status, rows_loaded FROM hvcsv_refresh(ft) r;
  SELECT w.batched, w.one_by_one INTO batched, one_by_one FROM wal_inserts(written, before) w;
  RETURN NEXT;
END $$;

-- the last run of ft as the history has it
CREATE FUNCTION last_run(ft regclass)
RETURNS TABLE (status text, rows_inserted bigint, error text)
LANGUAGE sql AS $$
  SELECT status, rows_inserted, error FROM hvcsv_sync_history WHERE foreign_table = ft
   ORDER BY run_id DESC LIMIT 1
$$;

-- An eligible target: columns in another order, a dropped column, a column
-- the export lacks (no default: NULL), NOT NULL and CHECK constraints that
-- hold, and a foreign key pointing at it (its triggers are not insert ones).
CREATE TABLE bulk_acct (notes text, gone int, has_id text PRIMARY KEY, name text NOT NULL,
  city text, not_exported text, created_at timestamptz, email text,
  amount numeric CHECK (amount > -10), active boolean);
ALTER TABLE bulk_acct DROP COLUMN gone;
CREATE TABLE bulk_acct_ref (has_id text REFERENCES bulk_acct);
CREATE FOREIGN TABLE bulk_acct_src (has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_acct');
SELECT * FROM first_load('bulk_acct_src', 'bulk_acct');
SELECT * FROM last_run('bulk_acct_src');
SELECT has_id, name, city, not_exported, created_at, email, amount, active, notes
  FROM bulk_acct ORDER BY has_id;
-- the index is there for every row
SET enable_seqscan = off;
SELECT count(*) FROM bulk_acct WHERE has_id IN ('A001', 'A003', 'A005');
RESET enable_seqscan;

-- Fallback: a column with a default that the export lacks gets its default
-- from INSERT.  The rows are the same as the batched load's.
CREATE TABLE bulk_acct_default (has_id text PRIMARY KEY, name text NOT NULL, city text,
  created_at timestamptz, email text, amount numeric, active boolean, notes text,
  loaded_by text DEFAULT 'insert');
CREATE FOREIGN TABLE bulk_acct_default_src (has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_acct_default');
SELECT * FROM first_load('bulk_acct_default_src', 'bulk_acct_default');
SELECT DISTINCT loaded_by FROM bulk_acct_default;
SELECT count(*) AS differing FROM (
  (SELECT has_id, name, city, created_at, email, amount, active, notes FROM bulk_acct
   EXCEPT ALL SELECT has_id, name, city, created_at, email, amount, active, notes FROM bulk_acct_default)
  UNION ALL
  (SELECT has_id, name, city, created_at, email, amount, active, notes FROM bulk_acct_default
   EXCEPT ALL SELECT has_id, name, city, created_at, email, amount, active, notes FROM bulk_acct)) d;

-- Many batches, and values large enough to be stored out of line (TOAST):
-- the same rows as INSERT writes
COPY (SELECT 'id,body' UNION ALL
      SELECT i || ',' || CASE WHEN i % 1000 = 0
                              THEN (SELECT string_agg(md5(i::text || j), '') FROM generate_series(1, 300) j)
                              ELSE 'row ' || i END
        FROM generate_series(1, 2500) i) TO '/tmp/hvcsv_fixture_www/bulk_many.csv';
CREATE TABLE bulk_many (id int PRIMARY KEY, body text);
CREATE FOREIGN TABLE bulk_many_src (id int, body text)
  SERVER fx OPTIONS (path '/bulk_many.csv', target 'bulk_many');
SELECT * FROM first_load('bulk_many_src', 'bulk_many');
CREATE TABLE bulk_many_default (id int PRIMARY KEY, body text, loaded_by text DEFAULT 'insert');
CREATE FOREIGN TABLE bulk_many_default_src (id int, body text)
  SERVER fx OPTIONS (path '/bulk_many.csv', target 'bulk_many_default');
SELECT * FROM first_load('bulk_many_default_src', 'bulk_many_default');
SELECT count(*), sum(length(body)), max(length(body)) FROM bulk_many;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE oid = 'bulk_many'::regclass;
SELECT count(*) AS differing FROM (
  (SELECT id, body FROM bulk_many EXCEPT ALL SELECT id, body FROM bulk_many_default)
  UNION ALL
  (SELECT id, body FROM bulk_many_default EXCEPT ALL SELECT id, body FROM bulk_many)) d;

-- A reader whose scan may run in parallel (partitioned): the load still
-- runs in one process, which inserts as it reads.  The refresh worker takes
-- the role's settings, under which the SELECT alone would be parallel.
ALTER ROLE CURRENT_USER SET parallel_setup_cost = 0;
ALTER ROLE CURRENT_USER SET parallel_tuple_cost = 0;
ALTER ROLE CURRENT_USER SET min_parallel_table_scan_size = 0;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
COPY (SELECT 'id,body' UNION ALL SELECT i || ',' || md5(i::text) FROM generate_series(1, 20000) i)
  TO '/tmp/hvcsv_fixture_www/bulk_parallel.csv';
CREATE TABLE bulk_parallel (id int PRIMARY KEY, body text);
CREATE FOREIGN TABLE bulk_parallel_src (id int, body text)
  SERVER fx OPTIONS (path '/bulk_parallel.csv', target 'bulk_parallel', reader 'partitioned',
                     block_size '64kB');
SELECT count(*) FROM bulk_parallel_src;
EXPLAIN (COSTS OFF) SELECT id, body FROM bulk_parallel_src;
SELECT * FROM first_load('bulk_parallel_src', 'bulk_parallel');
SELECT count(*) AS rows, count(*) FILTER (WHERE body = md5(id::text)) AS same FROM bulk_parallel;
ALTER ROLE CURRENT_USER RESET parallel_setup_cost;
ALTER ROLE CURRENT_USER RESET parallel_tuple_cost;
ALTER ROLE CURRENT_USER RESET min_parallel_table_scan_size;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- Fallback: a row trigger runs for every row
CREATE TABLE bulk_trigger (has_id text PRIMARY KEY, name text);
CREATE FUNCTION bulk_shout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.name := upper(NEW.name);
  RETURN NEW;
END $$;
CREATE TRIGGER bulk_shout BEFORE INSERT ON bulk_trigger FOR EACH ROW EXECUTE FUNCTION bulk_shout();
CREATE FOREIGN TABLE bulk_trigger_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_trigger');
SELECT * FROM first_load('bulk_trigger_src', 'bulk_trigger');
SELECT * FROM bulk_trigger ORDER BY has_id;

-- Fallback: a target with an INSERT rule keeps the INSERT statement, which
-- refuses the rule (the batched load would ignore it)
CREATE TABLE bulk_rule (has_id text PRIMARY KEY, name text);
CREATE TABLE bulk_rule_log (has_id text);
CREATE RULE bulk_rule_log AS ON INSERT TO bulk_rule DO ALSO INSERT INTO bulk_rule_log VALUES (NEW.has_id);
CREATE FOREIGN TABLE bulk_rule_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_rule');
SELECT * FROM first_load('bulk_rule_src', 'bulk_rule');
SELECT count(*) FROM bulk_rule_log;

-- Fallback: a foreign key of the target is checked (here: it fails)
CREATE TABLE bulk_city (city text PRIMARY KEY);
INSERT INTO bulk_city VALUES ('Berlin');
CREATE TABLE bulk_fk (has_id text PRIMARY KEY, city text REFERENCES bulk_city);
CREATE FOREIGN TABLE bulk_fk_src (has_id text, city text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_fk');
SELECT * FROM first_load('bulk_fk_src', 'bulk_fk');
SELECT * FROM last_run('bulk_fk_src');
SELECT count(*) FROM bulk_fk;

-- Fallback: a stored generated column, and an identity column, get their
-- values from INSERT
CREATE TABLE bulk_generated (has_id text PRIMARY KEY, name text,
  name_length int GENERATED ALWAYS AS (length(name)) STORED);
CREATE FOREIGN TABLE bulk_generated_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_generated');
SELECT * FROM first_load('bulk_generated_src', 'bulk_generated');
SELECT has_id, name_length FROM bulk_generated ORDER BY has_id;
CREATE TABLE bulk_identity (n int GENERATED ALWAYS AS IDENTITY, has_id text PRIMARY KEY);
CREATE FOREIGN TABLE bulk_identity_src (has_id text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_identity');
SELECT * FROM first_load('bulk_identity_src', 'bulk_identity');
SELECT n, has_id FROM bulk_identity ORDER BY n;

-- Fallback: a column the export lacks whose domain rejects NULL fails as
-- INSERT fails
CREATE DOMAIN bulk_required AS text NOT NULL;
CREATE TABLE bulk_domain (has_id text PRIMARY KEY, name text, origin bulk_required);
CREATE FOREIGN TABLE bulk_domain_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_domain');
SELECT * FROM first_load('bulk_domain_src', 'bulk_domain');
SELECT count(*) FROM bulk_domain;

-- Fallback: a target column of another type than the foreign table's
-- takes INSERT's assignment cast ...
CREATE TABLE bulk_type (has_id text PRIMARY KEY, amount int);
CREATE FOREIGN TABLE bulk_type_src (has_id text, amount numeric)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_type');
SELECT * FROM first_load('bulk_type_src', 'bulk_type');
SELECT * FROM bulk_type ORDER BY has_id;
-- ... and of another typmod, INSERT's length coercion and its error
CREATE TABLE bulk_typmod (has_id text PRIMARY KEY, city varchar(3));
CREATE FOREIGN TABLE bulk_typmod_src (has_id text, city varchar(20))
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_typmod');
SELECT * FROM first_load('bulk_typmod_src', 'bulk_typmod');
SELECT count(*) FROM bulk_typmod;

-- Fallback: a partitioned target routes rows to its partitions
CREATE TABLE bulk_parted (has_id text PRIMARY KEY, name text) PARTITION BY RANGE (has_id);
CREATE TABLE bulk_parted_low PARTITION OF bulk_parted FOR VALUES FROM (MINVALUE) TO ('A003');
CREATE TABLE bulk_parted_high PARTITION OF bulk_parted FOR VALUES FROM ('A003') TO (MAXVALUE);
CREATE FOREIGN TABLE bulk_parted_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_parted');
SELECT * FROM first_load('bulk_parted_src', 'bulk_parted_high');
SELECT tableoid::regclass, has_id FROM bulk_parted ORDER BY has_id;
-- ... and a partition as the target checks its partition constraint
CREATE TABLE bulk_parted2 (has_id text PRIMARY KEY, name text) PARTITION BY RANGE (has_id);
CREATE TABLE bulk_parted2_low PARTITION OF bulk_parted2 FOR VALUES FROM (MINVALUE) TO ('A003');
CREATE FOREIGN TABLE bulk_parted2_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_parted2_low');
SELECT * FROM first_load('bulk_parted2_src', 'bulk_parted2_low');
SELECT count(*) FROM bulk_parted2;

-- Fallback: an incremental table keeps its cursor
CREATE TABLE bulk_cursor (has_id text PRIMARY KEY, created_at timestamptz);
CREATE FOREIGN TABLE bulk_cursor_src (has_id text, created_at timestamptz)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_cursor', cursor_column 'created_at');
SELECT * FROM first_load('bulk_cursor_src', 'bulk_cursor');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'bulk_cursor_src'::regclass;

-- Foreign tables owned by a role that may read the export, with row level
-- security on the target or without INSERT privilege on it: the refresh
-- writes as the owner
CREATE ROLE hvcsv_bulk_user;
GRANT USAGE ON FOREIGN SERVER fx TO hvcsv_bulk_user;
CREATE USER MAPPING FOR hvcsv_bulk_user SERVER fx OPTIONS (api_key 'test-secret-key');
CREATE TABLE bulk_rls (has_id text PRIMARY KEY, name text);
ALTER TABLE bulk_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY bulk_no_eve ON bulk_rls FOR ALL TO hvcsv_bulk_user USING (true) WITH CHECK (name <> 'Eve');
CREATE FOREIGN TABLE bulk_rls_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_rls');
CREATE TABLE bulk_noinsert (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE bulk_noinsert_src (has_id text, name text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_noinsert');
ALTER FOREIGN TABLE bulk_rls_src OWNER TO hvcsv_bulk_user;
ALTER FOREIGN TABLE bulk_noinsert_src OWNER TO hvcsv_bulk_user;
GRANT SELECT ON bulk_noinsert TO hvcsv_bulk_user;
GRANT SELECT, INSERT ON bulk_rls TO hvcsv_bulk_user;
SET ROLE hvcsv_bulk_user;
-- the policy is applied: Eve's row is refused, so nothing is written
SELECT * FROM first_load('bulk_rls_src', 'bulk_rls');
SELECT * FROM first_load('bulk_noinsert_src', 'bulk_noinsert');
RESET ROLE;
SELECT * FROM last_run('bulk_rls_src');
SELECT * FROM last_run('bulk_noinsert_src');
SELECT (SELECT count(*) FROM bulk_rls) AS rls_rows, (SELECT count(*) FROM bulk_noinsert) AS noinsert_rows;
-- with the policy dropped, the same role loads the target in batches
DROP POLICY bulk_no_eve ON bulk_rls;
ALTER TABLE bulk_rls DISABLE ROW LEVEL SECURITY;
SET ROLE hvcsv_bulk_user;
SELECT * FROM first_load('bulk_rls_src', 'bulk_rls');
RESET ROLE;
DROP FOREIGN TABLE bulk_rls_src, bulk_noinsert_src;
DROP TABLE bulk_rls, bulk_noinsert;
DROP USER MAPPING FOR hvcsv_bulk_user SERVER fx;
REVOKE USAGE ON FOREIGN SERVER fx FROM hvcsv_bulk_user;
DROP ROLE hvcsv_bulk_user;

-- Errors on the batched path: the run fails, the target stays empty, and
-- the message is the one INSERT gives.  (INSERT would have written the rows
-- before the bad one, one record each: one_by_one would not be 0.)
-- A NOT NULL violation (A003 has no email) ...
CREATE TABLE bulk_notnull (has_id text PRIMARY KEY, name text, email text NOT NULL);
CREATE FOREIGN TABLE bulk_notnull_src (has_id text, name text, email text)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_notnull');
SELECT * FROM first_load('bulk_notnull_src', 'bulk_notnull');
SELECT * FROM last_run('bulk_notnull_src');
SELECT count(*) FROM bulk_notnull;
SELECT try('INSERT INTO bulk_notnull SELECT * FROM bulk_notnull_src');
-- ... a CHECK violation (A005's amount is negative) ...
CREATE TABLE bulk_check (has_id text PRIMARY KEY, amount numeric CONSTRAINT bulk_no_debt CHECK (amount >= 0));
CREATE FOREIGN TABLE bulk_check_src (has_id text, amount numeric)
  SERVER fx OPTIONS (path '/accounts.csv', target 'bulk_check');
SELECT * FROM first_load('bulk_check_src', 'bulk_check');
SELECT * FROM last_run('bulk_check_src');
SELECT count(*) FROM bulk_check;
SELECT try('INSERT INTO bulk_check SELECT * FROM bulk_check_src');
-- ... and a key twice in the export, in different batches: a unique
-- violation, explained as the SQL path explains it
COPY (SELECT 'has_id,name' UNION ALL SELECT 'K' || i || ',n' FROM generate_series(1, 2000) i
      UNION ALL SELECT 'K5,again') TO '/tmp/hvcsv_fixture_www/bulk_dups.csv';
CREATE TABLE bulk_dups (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE bulk_dups_src (has_id text, name text)
  SERVER fx OPTIONS (path '/bulk_dups.csv', target 'bulk_dups');
SELECT * FROM first_load('bulk_dups_src', 'bulk_dups');
SELECT * FROM last_run('bulk_dups_src');
SELECT count(*) FROM bulk_dups;
SELECT try('INSERT INTO bulk_dups SELECT * FROM bulk_dups_src');

RESET hvcsv_fdw.refresh_failure;
