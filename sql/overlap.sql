--
-- hvcsv_refresh() reads a changed export as it downloads (a growing spool)
-- when a break would resume it at the byte it broke at: a 200 with
-- Accept-Ranges: bytes, a validator for If-Range, no Content-Encoding, and
-- a file that is not compressed.  A break is resumed unseen, every row
-- loaded once; a download that must start over (the export changed under
-- a break) makes the run start over, downloading first.  The spool
-- published is the one a download first makes.  A user's query reads
-- complete spools only: the rows it returns may have reached a client.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_overlap';
SET hvcsv_fdw.refresh_failure = 'warning';

-- one request at a time, and the default of ranges side by side
CREATE SERVER ov FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', download_connections '1',
           retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER ov OPTIONS (api_key 'test-secret-key');
CREATE SERVER ovr FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER ovr OPTIONS (api_key 'test-secret-key');

CREATE FOREIGN TABLE ov_log (seq int, target text, status int, range text, if_range text,
  bytes_sent bigint, complete boolean)
  SERVER control OPTIONS (path '/_log.csv');

-- a target keyed by id, and a foreign table of path?query on server that
-- syncs into it (the generated export by default: 14700 rows a MB)
CREATE FUNCTION ov_refresh_table(name text, query text, path text DEFAULT '/_gen.csv',
                                 server text DEFAULT 'ov')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, name text, city text, created_at text,'
                 ' amount numeric, notes text)', name);
  EXECUTE format('CREATE FOREIGN TABLE %I (id int, name text, city text, created_at text,'
                 ' amount numeric, notes text) SERVER %I OPTIONS (path %L, target %L)',
                 name || '_src', server, path || '?' || query, name);
END $$;

CREATE FUNCTION ov_last_run(ft regclass) RETURNS TABLE (status text, rows_inserted bigint, error text)
LANGUAGE sql AS $$
  SELECT status, rows_inserted, error FROM hvcsv_sync_history WHERE foreign_table = ft
   ORDER BY run_id DESC LIMIT 1
$$;

CREATE FUNCTION ov_leftovers() RETURNS bigint
LANGUAGE sql AS $$
  SELECT count(*) FROM pg_ls_dir('pg_hvcsv_spool_overlap') f WHERE f LIKE '%.tmp'
$$;

-- whether the load reads the export as it downloads: the first row breaks
-- a CHECK of the target, so the run fails at once if it reads the
-- throttled body as it comes (the body is then incomplete: the download
-- stops with the run), or after the whole body if it downloads first.
-- Either way the target stays empty and no file is left.
CREATE FUNCTION ov_bad_table(name text, query text, path text DEFAULT '/_gen.csv')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM * FROM fixture_reset;
  PERFORM ov_refresh_table(name, query, path);
  EXECUTE format('ALTER TABLE %I ADD CHECK (id > 1)', name);
END $$;
CREATE FUNCTION ov_outcome(name text)
RETURNS TABLE (status text, complete boolean, rows_kept bigint, leftovers bigint)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'SELECT r.status, l.complete, (SELECT count(*) FROM %I), ov_leftovers()'
    ' FROM ov_last_run(%L::regclass) r, ov_log l', name, name || '_src');
END $$;

-- read as it downloads: the run fails while most of the body is to come
SELECT ov_bad_table('ov_bad', 'mb=1&rate=500000');
SELECT status FROM hvcsv_refresh('ov_bad_src');
SELECT * FROM ov_outcome('ov_bad');
SELECT bytes_sent < 1048613 AS partly_sent FROM ov_log;

-- downloaded first: a server without ranges, a body without a validator,
-- a body with a Content-Encoding, and a compressed file (its checksum
-- comes at its end: read as it arrived, a corrupt one would give rows of
-- garbage before its error)
SELECT ov_bad_table('ov_bad_norange', 'mb=1&rate=2000000&norange=1');
SELECT status FROM hvcsv_refresh('ov_bad_norange_src');
SELECT * FROM ov_outcome('ov_bad_norange');
SELECT ov_bad_table('ov_bad_noetag', 'mb=1&rate=2000000&noetag=1');
SELECT status FROM hvcsv_refresh('ov_bad_noetag_src');
SELECT * FROM ov_outcome('ov_bad_noetag');
SELECT ov_bad_table('ov_bad_encoded', 'mb=1&rate=2000000&gzip=1');
SELECT status FROM hvcsv_refresh('ov_bad_encoded_src');
SELECT * FROM ov_outcome('ov_bad_encoded');
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at, i AS amount,
  '' AS notes FROM generate_series(1, 20000) i)
  TO PROGRAM 'gzip -n > /tmp/hvcsv_fixture_www/ov_comp.csv.gz' WITH (FORMAT csv, HEADER);
SELECT ov_bad_table('ov_bad_gz', 'rate=100000', '/ov_comp.csv.gz');
SELECT status FROM hvcsv_refresh('ov_bad_gz_src');
SELECT * FROM ov_outcome('ov_bad_gz');

-- a user's query downloads first, even when a break could be resumed: the
-- query fails only after the whole body came
SELECT * FROM fixture_reset;
CREATE FOREIGN TABLE ov_user (id int, name text) SERVER ov
  OPTIONS (path '/_gen.csv?mb=1&rate=2000000&user=1');
SELECT try('SELECT 1 / (id - 1) FROM ov_user');
SELECT status, complete FROM ov_log;
-- the same export downloaded first, for the md5 of the spool below
SELECT * FROM newest_spool('pg_hvcsv_spool_overlap');

-- a full load as it downloads: every row, the spool published is the one
-- a download first makes, and the next run finds it unchanged (304)
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_good', 'mb=1&rate=2000000');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_good_src');
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_good;
SELECT * FROM newest_spool('pg_hvcsv_spool_overlap');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_good_src');
SELECT status, complete FROM ov_log ORDER BY seq;

-- a changed export synced into a full target (the row filter's path) as
-- it downloads.  Version 2 has ids 501 to 21000, every tenth amount up by
-- one: 1000 rows new, 500 gone, 1950 changed, 17550 the same.
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at, i AS amount,
  '' AS notes FROM generate_series(1, 20000) i)
  TO '/tmp/hvcsv_fixture_www/ov_v1.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at,
  i + (i % 10 = 0)::int AS amount, '' AS notes FROM generate_series(501, 21000) i)
  TO '/tmp/hvcsv_fixture_www/ov_v2.csv' WITH (FORMAT csv, HEADER);
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_sync', 'then=/ov_v2.csv&then_after=1&rate=200000', '/ov_v1.csv');
ALTER FOREIGN TABLE ov_sync_src OPTIONS (ADD delete_missing 'true');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_sync_src');
SELECT status, rows_inserted, rows_updated, rows_deleted, rows_unchanged
  FROM hvcsv_refresh('ov_sync_src');
SELECT count(*), sum(id), sum(amount) FROM ov_sync;
SELECT status, complete FROM ov_log ORDER BY seq;

-- a break mid-body: resumed at the exact byte, every row loaded once
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_rcut', 'mb=1&cut=300000&cut_times=1');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_rcut_src');
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_rcut;
SELECT status, range, if_range <> '' AS guarded, complete, bytes_sent FROM ov_log ORDER BY seq;

-- the export (a file of 20000 rows) changes under a break: its resumption
-- is answered with the new version (3 rows), whole.  The rows loaded
-- cannot be told apart, so the run starts over in a new transaction,
-- downloading first, and loads the new version alone; no file is left
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at, i AS amount,
  '' AS notes FROM generate_series(1, 20000) i)
  TO '/tmp/hvcsv_fixture_www/ov_old.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT * FROM (VALUES ('id,name,city,created_at,amount,notes'), ('1,a,b,c,1,'),
  ('2,a,b,c,2,'), ('3,a,b,c,3,')) v) TO '/tmp/hvcsv_fixture_www/ov_new.csv';
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_rchg', 'cut=300000&cut_times=1&then=/ov_new.csv&then_after=1',
                        '/ov_old.csv');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_rchg_src');
SELECT count(*), sum(id) FROM ov_rchg;
SELECT ov_leftovers();
SELECT status, range, complete FROM ov_log ORDER BY seq;
SELECT status, rows_inserted FROM hvcsv_refresh('ov_rchg_src');

-- the same, with a trigger on the target that reads the export too and
-- swallows its errors, counting the refusals (a sequence: the run's
-- transaction is rolled back).  The body is slow, so the first row's
-- trigger is what finishes the download, and its start over is refused
-- there; the refusal stays, so that the trigger of each row after it is
-- refused too, and the run cannot go on with the new version's bytes: it
-- runs again, downloading first, and loads the new version alone
CREATE SEQUENCE ov_refusals;
CREATE FUNCTION ov_peek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM 1 FROM public.ov_trig_src LIMIT 1;
  EXCEPTION WHEN serialization_failure THEN
    PERFORM nextval('public.ov_refusals');
  END;
  RETURN NEW;
END $$;
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_trig',
  'cut=300000&cut_times=1&then=/ov_new.csv&then_after=1&rate=200000&t=trig', '/ov_old.csv');
CREATE TRIGGER ov_peek BEFORE INSERT ON ov_trig FOR EACH ROW EXECUTE FUNCTION ov_peek();
SELECT status, rows_inserted FROM hvcsv_refresh('ov_trig_src');
SELECT count(*), sum(id) FROM ov_trig;
SELECT is_called AND last_value > 1 AS refused_in_triggers FROM ov_refusals;
SELECT ov_leftovers();
SELECT status, range, complete FROM ov_log ORDER BY seq;

-- a hostile owner: a role without privileges owns the table and puts a
-- trigger on its target that would act as whoever runs it.  A superuser's
-- hvcsv_refresh() runs both tries of the table (the overlapped one, whose
-- start over is refused, and the one that downloads first) as the owner,
-- under the fixed search_path: the trigger counts the rows it saw so, and
-- those it saw otherwise (sequences: the first try is rolled back)
CREATE ROLE ov_owner;
GRANT USAGE ON FOREIGN SERVER ov TO ov_owner;
CREATE USER MAPPING FOR ov_owner SERVER ov OPTIONS (api_key 'test-secret-key');
GRANT CREATE ON SCHEMA public TO ov_owner;
CREATE SEQUENCE ov_as_owner;
CREATE SEQUENCE ov_as_other;
GRANT USAGE ON SEQUENCE ov_as_owner, ov_as_other TO ov_owner;
SET ROLE ov_owner;
SELECT ov_refresh_table('ov_own',
  'cut=300000&cut_times=1&then=/ov_new.csv&then_after=1&rate=200000&t=own', '/ov_old.csv');
CREATE FUNCTION ov_own_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = 'ov_owner' AND current_setting('search_path') = 'pg_catalog, pg_temp' THEN
    PERFORM nextval('public.ov_as_owner');
  ELSE
    PERFORM nextval('public.ov_as_other');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ov_own_check BEFORE INSERT ON ov_own FOR EACH ROW EXECUTE FUNCTION ov_own_check();
RESET ROLE;
SELECT * FROM fixture_reset;
SELECT status, rows_inserted FROM hvcsv_refresh('ov_own_src');
SELECT count(*), sum(id) FROM ov_own;
SELECT (SELECT is_called AND last_value > 3 FROM ov_as_owner) AS both_tries_as_owner,
       (SELECT is_called FROM ov_as_other) AS any_as_another;
SELECT status, range, complete FROM ov_log ORDER BY seq;
DROP FOREIGN TABLE ov_own_src;
DROP TABLE ov_own;
DROP FUNCTION ov_own_check();
DROP USER MAPPING FOR ov_owner SERVER ov;
REVOKE CREATE ON SCHEMA public FROM ov_owner;
REVOKE USAGE ON FOREIGN SERVER ov FROM ov_owner;
DROP SEQUENCE ov_as_owner, ov_as_other;
DROP ROLE ov_owner;

-- a download in ranges is read up to the first byte still missing, once
-- every range answered; a break of the first range is resumed as that
-- range, and every row is loaded once.  A file of 10 MB, in two ranges.
COPY (SELECT i AS id, 'name ' || i AS name, 'city' AS city, 'c' AS created_at, i AS amount,
  repeat('x', 20) AS notes FROM generate_series(1, 200000) i)
  TO '/tmp/hvcsv_fixture_www/ov_big.csv' WITH (FORMAT csv, HEADER);
SELECT * FROM fixture_reset;
SELECT ov_refresh_table('ov_ranged', 'cut=2000000&cut_times=1', '/ov_big.csv', 'ovr');
SELECT status, rows_inserted FROM hvcsv_refresh('ov_ranged_src');
SELECT count(*) FILTER (WHERE status = 206) AS ranges,
       count(*) FILTER (WHERE range LIKE 'bytes=2000000-%') AS resumed FROM ov_log;
SELECT count(*), sum(id), sum(amount), count(notes) FROM ov_ranged;
SELECT s.md5 = md5(pg_read_binary_file('/tmp/hvcsv_fixture_www/ov_big.csv')) AS same_bytes
  FROM newest_spool('pg_hvcsv_spool_overlap') s;

RESET hvcsv_fdw.refresh_failure;
DROP FOREIGN TABLE ov_bad_src, ov_bad_norange_src, ov_bad_noetag_src, ov_bad_encoded_src,
  ov_bad_gz_src, ov_good_src, ov_sync_src, ov_rcut_src, ov_rchg_src, ov_trig_src, ov_ranged_src,
  ov_user, ov_log;
DROP TABLE ov_bad, ov_bad_norange, ov_bad_noetag, ov_bad_encoded, ov_bad_gz, ov_good,
  ov_sync, ov_rcut, ov_rchg, ov_trig, ov_ranged;
DROP FUNCTION ov_peek();
DROP SEQUENCE ov_refusals;
DROP FUNCTION ov_bad_table(text, text, text);
DROP FUNCTION ov_outcome(text);
DROP FUNCTION ov_refresh_table(text, text, text, text);
DROP FUNCTION ov_last_run(regclass);
DROP FUNCTION ov_leftovers();
DROP SERVER ov CASCADE;
DROP SERVER ovr CASCADE;
RESET hvcsv_fdw.spool_directory;
