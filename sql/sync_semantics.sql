--
-- Sync semantics (the README's table): an inclusive cursor with a lag, NULL
-- cursors, the cursor in the request, change detection that knows the
-- target (TRUNCATE, VACUUM FULL, force, hvcsv_reset), schema drift,
-- duplicate keys and soft deletes.  Each case shows the target after the
-- run, and which rows got a new row version.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_semantics';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET hvcsv_fdw.refresh_failure = 'warning';

CREATE FUNCTION sem_run(ft regclass, force boolean DEFAULT false)
RETURNS TABLE (status text, inserted bigint, updated bigint, unchanged bigint, deleted bigint)
LANGUAGE sql AS $$
  SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted
    FROM hvcsv_refresh(ft, force)
$$;
CREATE FUNCTION sem_last(ft regclass)
RETURNS TABLE (status text, rows_duplicate bigint, schema_changes text, error text)
LANGUAGE sql AS $$
  SELECT status, rows_duplicate, schema_changes, error FROM hvcsv_sync_history
   WHERE foreign_table = ft ORDER BY run_id DESC LIMIT 1
$$;
CREATE FUNCTION sem_put(name text, lines text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY (SELECT unnest(%L::text[])) TO %L', lines,
                 '/tmp/hvcsv_fixture_www/' || name);
END $$;

-- 1. The cursor bound is inclusive and lowered by cursor_lag.
SELECT sem_put('events.csv', ARRAY['id,what,at',
  '1,a,2026-12-01 10:00:00+00', '2,b,2026-12-01 11:00:00+00']);
CREATE TABLE sem_events (id int PRIMARY KEY, what text, at timestamptz);
CREATE FOREIGN TABLE sem_events_src (id int, what text, at timestamptz) SERVER fx
  OPTIONS (path '/events.csv', target 'sem_events', cursor_column 'at', cursor_lag '30min');
SELECT * FROM sem_run('sem_events_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_events_src'::regclass;
CREATE TEMP TABLE v AS SELECT id, xmin::text AS x FROM sem_events;
-- a tie at the mark, a NULL cursor, a late row within the lag, an old row
-- below it, and rows out of order: the tie, the NULL and the late row are
-- synced; the rows already synced are read again and left alone
SELECT sem_put('events.csv', ARRAY['id,what,at',
  '3,tie,2026-12-01 11:00:00+00', '1,a,2026-12-01 10:00:00+00', '4,null,',
  '2,b,2026-12-01 11:00:00+00', '5,late,2026-12-01 10:40:00+00', '6,old,2026-12-01 09:00:00+00']);
SELECT * FROM sem_run('sem_events_src');
SELECT e.*, v.x IS NOT DISTINCT FROM e.xmin::text AS same_version
  FROM sem_events e LEFT JOIN v USING (id) ORDER BY id;
-- a NULL cursor is compared like any row: read again, not rewritten
SELECT sem_put('events.csv', ARRAY['id,what,at', '4,null,', '7,next,2026-12-02 00:00:00+00']);
SELECT * FROM sem_run('sem_events_src');
-- cursor_nulls 'error' fails the run, and nothing is written
ALTER FOREIGN TABLE sem_events_src OPTIONS (ADD cursor_nulls 'error');
SELECT sem_put('events.csv', ARRAY['id,what,at', '4,null,', '8,more,2026-12-03 00:00:00+00']);
SELECT * FROM sem_run('sem_events_src');
SELECT error FROM sem_last('sem_events_src');
SELECT count(*) FROM sem_events WHERE id = 8;
ALTER FOREIGN TABLE sem_events_src OPTIONS (DROP cursor_nulls);
-- a lag of a number for a numeric cursor; a lag the column cannot take
CREATE TABLE sem_seqs (id int PRIMARY KEY, n int);
CREATE FOREIGN TABLE sem_seqs_src (id int, n int) SERVER fx
  OPTIONS (path '/seqs.csv', target 'sem_seqs', cursor_column 'n', cursor_lag '5');
SELECT sem_put('seqs.csv', ARRAY['id,n', '1,10', '2,20']);
SELECT * FROM sem_run('sem_seqs_src');
SELECT sem_put('seqs.csv', ARRAY['id,n', '3,16', '4,14']);
SELECT * FROM sem_run('sem_seqs_src');
SELECT id, n FROM sem_seqs ORDER BY id;
ALTER FOREIGN TABLE sem_seqs_src OPTIONS (SET cursor_lag '1 hour');
SELECT sem_put('seqs.csv', ARRAY['id,n', '5,30']);
SELECT * FROM sem_run('sem_seqs_src');
SELECT error FROM sem_last('sem_seqs_src');
-- cursor_param: the request carries the bound, URL-encoded
ALTER FOREIGN TABLE sem_seqs_src OPTIONS (DROP cursor_lag, ADD cursor_param 'since');
SELECT * FROM sem_run('sem_seqs_src');
SELECT sem_put('seqs.csv', ARRAY['id,n', '5,30', '6,31']);
SELECT * FROM fixture_reset;
SELECT * FROM sem_run('sem_seqs_src');
SELECT target FROM fixture_log WHERE target LIKE '/seqs.csv%' ORDER BY seq;
ALTER FOREIGN TABLE sem_events_src OPTIONS (ADD cursor_param 'from');
SELECT * FROM sem_run('sem_events_src');
SELECT sem_put('events.csv', ARRAY['id,what,at', '7,next,2026-12-02 00:00:00+00', '9,nine,2026-12-04 00:00:00+00']);
SELECT * FROM fixture_reset;
SELECT * FROM sem_run('sem_events_src');
SELECT target FROM fixture_log WHERE target LIKE '/events.csv%' ORDER BY seq;
-- options that need others
ALTER FOREIGN TABLE sem_events_src OPTIONS (ADD delete_missing 'true');
ALTER FOREIGN TABLE sem_seqs_src OPTIONS (DROP cursor_column);
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (cursor_column 'a', cursor_lag '-1');
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (cursor_column 'a', cursor_lag 'soon');
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (cursor_column 'a', cursor_param 'a b');
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (cursor_column 'a', cursor_nulls 'skip');

-- 2. Change detection knows the target.
SELECT sem_put('plain.csv', ARRAY['id,name', '1,one', '2,two']);
CREATE TABLE sem_plain (id int PRIMARY KEY, name text);
CREATE FOREIGN TABLE sem_plain_src (id int, name text) SERVER fx
  OPTIONS (path '/plain.csv', target 'sem_plain');
SELECT * FROM sem_run('sem_plain_src');
SELECT * FROM sem_run('sem_plain_src');
-- TRUNCATE: the export is unchanged, the target is not; the next run loads it again
TRUNCATE sem_plain;
SELECT * FROM sem_run('sem_plain_src');
SELECT * FROM sem_plain ORDER BY id;
-- VACUUM FULL keeps the rows but not the storage: a full compare that writes nothing
VACUUM FULL sem_plain;
SELECT * FROM sem_run('sem_plain_src');
SELECT * FROM sem_run('sem_plain_src');
-- force compares in full whatever the ETag
DELETE FROM sem_plain WHERE id = 2;
SELECT * FROM sem_run('sem_plain_src');
SELECT * FROM sem_run('sem_plain_src', true);
-- hvcsv_reset forgets the state (a cursor's mark too)
SELECT hvcsv_reset('sem_plain_src');
SELECT count(*) FROM hvcsv_sync_state WHERE foreign_table = 'sem_plain_src'::regclass;
SELECT * FROM sem_run('sem_plain_src');
SELECT sem_put('events.csv', ARRAY['id,what,at', '1,a,2026-12-01 10:00:00+00', '9,nine,2026-12-04 00:00:00+00']);
DELETE FROM sem_events WHERE id = 1;
SELECT * FROM sem_run('sem_events_src');
SELECT count(*) FROM sem_events WHERE id = 1;
SELECT hvcsv_reset('sem_events_src');
SELECT * FROM sem_run('sem_events_src');
SELECT count(*) FROM sem_events WHERE id = 1;
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_events_src'::regclass;

-- 3. Schema drift.
SELECT sem_put('drift.csv', ARRAY['id,name,city', '1,one,Oslo', '2,two,Rome']);
CREATE TABLE sem_drift (id int PRIMARY KEY, name text, city text, note text);
CREATE FOREIGN TABLE sem_drift_src (id int, name text, city text) SERVER fx
  OPTIONS (path '/drift.csv', target 'sem_drift', on_new_columns 'add', on_missing_columns 'keep');
SELECT * FROM sem_run('sem_drift_src');
UPDATE sem_drift SET note = 'local';
-- a new column: added to both tables, typed as IMPORT FOREIGN SCHEMA would, and filled
SELECT sem_put('drift.csv', ARRAY['id,name,city,score', '1,one,Oslo,7', '2,two,Rome,8']);
SELECT * FROM sem_run('sem_drift_src');
SELECT schema_changes FROM sem_last('sem_drift_src');
SELECT * FROM sem_drift ORDER BY id;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'sem_drift_src'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM sem_run('sem_drift_src');
-- a column that vanishes: kept in the target, NULL in scans
SELECT sem_put('drift.csv', ARRAY['id,name,score', '1,uno,7', '2,two,8', '3,three,9']);
SELECT * FROM sem_run('sem_drift_src');
SELECT schema_changes FROM sem_last('sem_drift_src');
SELECT * FROM sem_drift ORDER BY id;
SELECT * FROM sem_drift_src ORDER BY id;
-- a new column named like a column the target keeps for itself is refused
SELECT sem_put('drift.csv', ARRAY['id,name,score,note', '1,uno,7,vendor']);
SELECT * FROM sem_run('sem_drift_src');
SELECT error FROM sem_last('sem_drift_src');
SELECT note FROM sem_drift WHERE id = 1;
-- on_new_columns 'error'
ALTER FOREIGN TABLE sem_drift_src OPTIONS (SET on_new_columns 'error');
SELECT sem_put('drift.csv', ARRAY['id,name,score,extra', '1,uno,7,x']);
SELECT * FROM sem_run('sem_drift_src');
SELECT error FROM sem_last('sem_drift_src');
-- a key column the export lacks cannot be kept
ALTER FOREIGN TABLE sem_drift_src OPTIONS (SET on_new_columns 'ignore');
SELECT sem_put('drift.csv', ARRAY['name,score', 'uno,7']);
SELECT * FROM sem_run('sem_drift_src');
SELECT error FROM sem_last('sem_drift_src');
-- the default: a missing column fails scans and runs
ALTER FOREIGN TABLE sem_drift_src OPTIONS (DROP on_missing_columns);
SELECT sem_put('drift.csv', ARRAY['id,name,score', '1,uno,7']);
SELECT * FROM sem_run('sem_drift_src');
SELECT error FROM sem_last('sem_drift_src');
-- drift options need header matching by name
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (header 'false', on_new_columns 'add');

-- 4. Duplicate keys.
SELECT sem_put('dups.csv', ARRAY['id,name', '1,a', '2,b', '1,a2', '3,c', '2,b2', '2,b3']);
CREATE TABLE sem_dups (id int PRIMARY KEY, name text);
CREATE FOREIGN TABLE sem_dups_src (id int, name text) SERVER fx
  OPTIONS (path '/dups.csv', target 'sem_dups');
SELECT * FROM sem_run('sem_dups_src');
SELECT error FROM sem_last('sem_dups_src');
ALTER FOREIGN TABLE sem_dups_src OPTIONS (ADD on_duplicate_key 'last');
SELECT * FROM sem_run('sem_dups_src');
SELECT * FROM sem_dups ORDER BY id;
SELECT rows_duplicate FROM sem_last('sem_dups_src');
ALTER FOREIGN TABLE sem_dups_src OPTIONS (SET on_duplicate_key 'first');
SELECT * FROM sem_run('sem_dups_src');
SELECT * FROM sem_dups ORDER BY id;
-- a rejected row is counted once, though the choice reads the export twice
ALTER FOREIGN TABLE sem_dups_src OPTIONS (ADD on_error 'skip');
SELECT sem_put('dups.csv', ARRAY['id,name', '1,a', 'x,bad', '1,a3']);
SELECT * FROM sem_run('sem_dups_src');
SELECT rows_rejected, rows_duplicate FROM hvcsv_sync_history
 WHERE foreign_table = 'sem_dups_src'::regclass ORDER BY run_id DESC LIMIT 1;
SELECT count(*) FROM hvcsv_rejects WHERE foreign_table = 'sem_dups_src'::regclass;
ALTER FOREIGN TABLE sem_dups_src OPTIONS (DROP on_error);
-- the same choice when the export is read in parallel
SELECT sem_put('dups.csv', array_cat(ARRAY['id,name'],
  array_cat(ARRAY(SELECT i || ',v' || i FROM generate_series(1, 20000) i),
            ARRAY(SELECT i || ',late' || i FROM generate_series(1, 20000, 97) i))));
ALTER FOREIGN TABLE sem_dups_src OPTIONS (SET on_duplicate_key 'last', ADD reader 'partitioned',
  ADD block_size '64kB');
ALTER ROLE CURRENT_USER SET min_parallel_table_scan_size = 0;
ALTER ROLE CURRENT_USER SET parallel_setup_cost = 0;
SELECT * FROM sem_run('sem_dups_src');
SELECT count(*), count(*) FILTER (WHERE name LIKE 'late%') AS late FROM sem_dups;
SELECT rows_duplicate, export_processes > 1 AS parallel FROM hvcsv_sync_history
 WHERE foreign_table = 'sem_dups_src'::regclass ORDER BY run_id DESC LIMIT 1;
ALTER ROLE CURRENT_USER RESET min_parallel_table_scan_size;
ALTER ROLE CURRENT_USER RESET parallel_setup_cost;

-- 5. Soft deletes.
SELECT sem_put('soft.csv', ARRAY['id,name', '1,one', '2,two', '3,three', '4,four']);
CREATE TABLE sem_soft (id int PRIMARY KEY, name text, deleted_at timestamptz);
CREATE FOREIGN TABLE sem_soft_src (id int, name text) SERVER fx
  OPTIONS (path '/soft.csv', target 'sem_soft', delete_missing 'soft', deleted_column 'deleted_at');
SELECT * FROM sem_run('sem_soft_src');
SELECT sem_put('soft.csv', ARRAY['id,name', '1,one', '2,two', '3,three']);
SELECT * FROM sem_run('sem_soft_src');
SELECT id, name, deleted_at IS NOT NULL AS deleted FROM sem_soft ORDER BY id;
CREATE TEMP TABLE soft_mark AS SELECT deleted_at FROM sem_soft WHERE id = 4;
-- still gone: the first time stays
SELECT sem_put('soft.csv', ARRAY['id,name', '1,one', '2,two', '3,three', '5,five']);
SELECT * FROM sem_run('sem_soft_src');
SELECT deleted_at = (SELECT deleted_at FROM soft_mark) AS same_time FROM sem_soft WHERE id = 4;
-- back, with a new value: undeleted and updated
SELECT sem_put('soft.csv', ARRAY['id,name', '1,one', '2,two', '3,three', '4,FOUR', '5,five']);
SELECT * FROM sem_run('sem_soft_src');
SELECT id, name, deleted_at IS NOT NULL AS deleted FROM sem_soft ORDER BY id;
-- the delete guard counts soft deletes
SELECT sem_put('soft.csv', ARRAY['id,name', '1,one']);
SELECT * FROM sem_run('sem_soft_src');
SELECT error FROM sem_last('sem_soft_src');
SELECT count(*) FILTER (WHERE deleted_at IS NULL) FROM sem_soft;
-- deleted_column must be a timestamptz column of the target only
ALTER FOREIGN TABLE sem_soft_src OPTIONS (SET deleted_column 'name');
SELECT * FROM sem_run('sem_soft_src');
SELECT error FROM sem_last('sem_soft_src');
ALTER FOREIGN TABLE sem_soft_src OPTIONS (DROP deleted_column);
ALTER FOREIGN TABLE sem_soft_src OPTIONS (SET delete_missing 'true', DROP deleted_column);
CREATE FOREIGN TABLE bad (a int) SERVER fx OPTIONS (deleted_column 'a');

-- 6. A cursor column whose target type rounds (timestamptz(0) here): the
-- mark is a value as the target stores it, so the export's values are
-- compared as the target will store them, and rows that tie with the mark
-- once stored are read, after a first load and after a compare.
SELECT sem_put('round.csv', ARRAY['id,at', '1,2026-12-01 09:59:59.6+00']);
CREATE TABLE sem_round (id int PRIMARY KEY, at timestamptz(0));
CREATE FOREIGN TABLE sem_round_src (id int, at timestamptz) SERVER fx
  OPTIONS (path '/round.csv', target 'sem_round', cursor_column 'at');
SELECT status, inserted FROM sem_run('sem_round_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_round_src'::regclass;
SELECT sem_put('round.csv', ARRAY['id,at', '1,2026-12-01 09:59:59.6+00',
  '2,2026-12-01 09:59:59.6+00', '3,2026-12-01 09:59:59.7+00']);
SELECT status, inserted FROM sem_run('sem_round_src');
SELECT sem_put('round.csv', ARRAY['id,at', '4,2026-12-01 10:00:00.2+00']);
SELECT status, inserted FROM sem_run('sem_round_src');
SELECT * FROM sem_round ORDER BY id;
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_round_src'::regclass;

-- 7. A new header field named like a system column cannot be added, and
-- the error says why.
SELECT sem_put('sys.csv', ARRAY['id,name,xmin', '1,one,5']);
CREATE TABLE sem_sys (id int PRIMARY KEY, name text);
CREATE FOREIGN TABLE sem_sys_src (id int, name text) SERVER fx
  OPTIONS (path '/sys.csv', target 'sem_sys', on_new_columns 'add');
SELECT * FROM sem_run('sem_sys_src');
SELECT error FROM sem_last('sem_sys_src');

-- 8. hvcsv_reset() is for whoever may refresh the table: another role's
-- call is refused and forgets nothing; a relation that is gone is named
-- by its OID.
CREATE ROLE regress_sem_other;
SET ROLE regress_sem_other;
SELECT hvcsv_reset('sem_events_src');
SELECT hvcsv_reset(0);
RESET ROLE;
SELECT count(*) FROM hvcsv_sync_state WHERE foreign_table = 'sem_events_src'::regclass;
DROP ROLE regress_sem_other;

-- 9. NaN and infinity are above every ordinary cursor value: they never
-- become the mark (which would stop the cursor), and such rows are read in
-- every run, as NULL cursors are.
SELECT sem_put('nan.csv', ARRAY['id,n', '1,1', '2,NaN', '3,infinity']);
CREATE TABLE sem_nan (id int PRIMARY KEY, n float8);
CREATE FOREIGN TABLE sem_nan_src (id int, n float8) SERVER fx
  OPTIONS (path '/nan.csv', target 'sem_nan', cursor_column 'n');
SELECT * FROM sem_run('sem_nan_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_nan_src'::regclass;
SELECT sem_put('nan.csv', ARRAY['id,n', '1,1', '2,NaN', '3,infinity', '4,5']);
SELECT * FROM sem_run('sem_nan_src');
SELECT * FROM sem_nan ORDER BY id;
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_nan_src'::regclass;
CREATE TABLE sem_inf (id int PRIMARY KEY, d date);
CREATE FOREIGN TABLE sem_inf_src (id int, d date) SERVER fx
  OPTIONS (path '/inf.csv', target 'sem_inf', cursor_column 'd');
SELECT sem_put('inf.csv', ARRAY['id,d', '1,2026-12-01', '2,infinity']);
SELECT * FROM sem_run('sem_inf_src');
SELECT sem_put('inf.csv', ARRAY['id,d', '1,2026-12-01', '2,infinity', '3,2026-12-02']);
SELECT * FROM sem_run('sem_inf_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_inf_src'::regclass;

-- 10. on_duplicate_key reads the export twice; when the two reads do not
-- see the same file (here a streaming reader's transfers, the server
-- publishing a new export after the first two requests: the check for a
-- change and the survey), the choice cannot be trusted, and the run fails
-- with nothing written.
SELECT sem_put('swap.csv', ARRAY['id,name', '1,a', '2,b', '1,a2']);
SELECT sem_put('swap2.csv', ARRAY['id,name', '0,new', '1,a', '2,b', '1,a2']);
CREATE TABLE sem_swap (id int PRIMARY KEY, name text);
INSERT INTO sem_swap VALUES (9, 'local');
CREATE FOREIGN TABLE sem_swap_src (id int, name text) SERVER fx
  OPTIONS (path '/swap.csv?then=/swap2.csv&then_after=2', target 'sem_swap',
           reader 'streaming', on_duplicate_key 'last');
SELECT * FROM fixture_reset;
SELECT * FROM sem_run('sem_swap_src');
SELECT error FROM sem_last('sem_swap_src');
SELECT * FROM sem_swap ORDER BY id;
SELECT count(*) FROM fixture_log WHERE target LIKE '/swap.csv%';
-- the next run reads one file every time
SELECT * FROM sem_run('sem_swap_src');
SELECT * FROM sem_swap ORDER BY id;

-- 11. A run that fails after adding a column rolls the column back, and its
-- history says no schema change was made.
SELECT sem_put('sys.csv', ARRAY['id,name,score,score', '1,one,5,6']);
SELECT * FROM sem_run('sem_sys_src');
SELECT schema_changes, error FROM sem_last('sem_sys_src');
SELECT count(*) FROM pg_attribute WHERE attrelid = 'sem_sys_src'::regclass AND attname = 'score';

-- 12. With on_error 'skip', a row that the refresh's read rejects for a
-- value outside the key is not chosen by on_duplicate_key: the last row of
-- key 1 is rejected, and the last valid one wins.
SELECT sem_put('dupskip.csv', ARRAY['id,n', '1,10', '2,20', '1,xx']);
CREATE TABLE sem_dupskip (id int PRIMARY KEY, n int);
CREATE FOREIGN TABLE sem_dupskip_src (id int, n int) SERVER fx
  OPTIONS (path '/dupskip.csv', target 'sem_dupskip', on_duplicate_key 'last', on_error 'skip');
SELECT * FROM sem_run('sem_dupskip_src');
SELECT rows_rejected, rows_duplicate, error FROM hvcsv_sync_history
 WHERE foreign_table = 'sem_dupskip_src'::regclass ORDER BY run_id DESC LIMIT 1;
SELECT * FROM sem_dupskip ORDER BY id;


-- 13. on_duplicate_key's survey starts sized for the target's estimated
-- rows, but within maintenance_work_mem: a large target (its estimate set
-- here as ANALYZE would leave it) does not fail a small export.
SELECT sem_put('dupbig.csv', ARRAY['id,n', '1,10', '2,20', '1,11']);
CREATE TABLE sem_dupbig (id int PRIMARY KEY, n int);
INSERT INTO sem_dupbig VALUES (100, 1);
UPDATE pg_class SET reltuples = 2000000, relpages = 1 WHERE oid = 'sem_dupbig'::regclass;
CREATE FOREIGN TABLE sem_dupbig_src (id int, n int) SERVER fx
  OPTIONS (path '/dupbig.csv', target 'sem_dupbig', on_duplicate_key 'last');
ALTER ROLE CURRENT_USER SET maintenance_work_mem = '64MB';
SELECT * FROM sem_run('sem_dupbig_src');
ALTER ROLE CURRENT_USER RESET maintenance_work_mem;
SELECT rows_duplicate, error FROM sem_last('sem_dupbig_src');
SELECT * FROM sem_dupbig ORDER BY id;

-- 14. A column added with cursor_param: the run that adds it reads the
-- whole export, so its request carries no bound either (an API that
-- filters would otherwise send only the newer rows, and the older would
-- never get the column); the definition recorded has no bound in it, so
-- the next run is unchanged.
SELECT sem_put('addsince.csv', ARRAY['id,n', '1,10', '2,20']);
CREATE TABLE sem_addsince (id int PRIMARY KEY, n int);
CREATE FOREIGN TABLE sem_addsince_src (id int, n int) SERVER fx
  OPTIONS (path '/addsince.csv', target 'sem_addsince', cursor_column 'n', cursor_param 'since',
           on_new_columns 'add');
SELECT * FROM sem_run('sem_addsince_src');
SELECT sem_put('addsince.csv', ARRAY['id,n,extra', '1,10,e1', '2,20,e2', '3,30,e3']);
SELECT * FROM fixture_reset;
SELECT * FROM sem_run('sem_addsince_src');
SELECT target FROM fixture_log WHERE target LIKE '/addsince.csv%' ORDER BY seq;
SELECT * FROM sem_addsince ORDER BY id;
SELECT * FROM sem_run('sem_addsince_src');

-- 15. The second read of on_duplicate_key must be the file the survey
-- read, row for row: a new export that happens to have a row of the same
-- key at the chosen offset is caught too.
SELECT sem_put('swap3.csv', ARRAY['id,name', '1,a', '1,b']);
SELECT sem_put('swap4.csv', ARRAY['id,name', '1,x', '1,a', '1,b']);
CREATE TABLE sem_swap3 (id int PRIMARY KEY, name text);
INSERT INTO sem_swap3 VALUES (9, 'local');
CREATE FOREIGN TABLE sem_swap3_src (id int, name text) SERVER fx
  OPTIONS (path '/swap3.csv?then=/swap4.csv&then_after=2', target 'sem_swap3',
           reader 'streaming', on_duplicate_key 'last');
SELECT * FROM fixture_reset;
SELECT * FROM sem_run('sem_swap3_src');
SELECT error FROM sem_last('sem_swap3_src');
SELECT * FROM sem_swap3 ORDER BY id;

-- 16. on_missing_columns 'keep' with a cursor: while a column is missing,
-- the mark does not advance, so when it comes back every row since the
-- mark is read again and gets it.
SELECT sem_put('keepcur.csv', ARRAY['id,n,note', '1,10,a', '2,20,b']);
CREATE TABLE sem_keepcur (id int PRIMARY KEY, n int, note text);
CREATE FOREIGN TABLE sem_keepcur_src (id int, n int, note text) SERVER fx
  OPTIONS (path '/keepcur.csv', target 'sem_keepcur', cursor_column 'n',
           on_missing_columns 'keep');
SELECT * FROM sem_run('sem_keepcur_src');
SELECT sem_put('keepcur.csv', ARRAY['id,n', '1,10', '2,20', '3,30', '4,40']);
SELECT * FROM sem_run('sem_keepcur_src');
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_keepcur_src'::regclass;
SELECT sem_put('keepcur.csv', ARRAY['id,n,note', '1,10,a', '2,20,b', '3,30,c', '4,40,d', '5,50,e']);
SELECT * FROM sem_run('sem_keepcur_src');
SELECT * FROM sem_keepcur ORDER BY id;
SELECT cursor_value FROM hvcsv_sync_state WHERE foreign_table = 'sem_keepcur_src'::regclass;

-- 17. deleted_column must start NULL in a new row: no default, not NOT NULL.
CREATE TABLE sem_softdef (id int PRIMARY KEY, name text, deleted_at timestamptz DEFAULT now());
CREATE FOREIGN TABLE sem_softdef_src (id int, name text) SERVER fx
  OPTIONS (path '/soft.csv', target 'sem_softdef', delete_missing 'soft', deleted_column 'deleted_at');
SELECT * FROM sem_run('sem_softdef_src');
SELECT error FROM sem_last('sem_softdef_src');
