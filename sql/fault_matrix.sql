--
-- The fault matrix: what hvcsv_refresh() does under every network, server
-- and disk fault the fixture server or the test can cause, one row per case
-- (the table at the end).  Every case starts from the same place: the
-- target, the spool and the sync state hold version 1 of the export, and the
-- server now has version 2.  A row says what the user sees, which run the
-- history records, what the spool and the target hold afterwards, and the
-- requests the server saw ("cut" marks a response that did not end well).
-- fetch.sql and spool.sql show the same faults in detail for plain scans;
-- crashes, restarts and a full disk are in t/002_kill_refresh.pl,
-- t/003_crash_restart.pl and t/008_spool_files.pl.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_fm';
SET hvcsv_fdw.refresh_failure = 'warning';

-- waits between attempts are short, as in setup.sql, but Retry-After may be 1 s
CREATE SERVER fm FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.1', max_retry_delay '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fm OPTIONS (api_key 'test-secret-key');
CREATE TABLE fm_target (id int PRIMARY KEY, name text);
CREATE FOREIGN TABLE fm_src (id int, name text) SERVER fm
  OPTIONS (path '/fm.csv', target 'fm_target', delete_missing 'true');

-- the two versions of the export: version 2 changes every 5th name and adds a row
CREATE TABLE fm_rows (v int, id int, name text);
INSERT INTO fm_rows SELECT v, i, CASE WHEN v = 2 AND i % 5 = 0 THEN 'changed ' ELSE 'name ' END
                                  || i || ', in version ' || v
  FROM generate_series(1, 2) v, generate_series(1, 11 + v) i;
CREATE FUNCTION fm_export(version int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('COPY (SELECT id, name FROM fm_rows WHERE v = %s ORDER BY id) '
                 'TO %L (FORMAT csv, HEADER)', version, '/tmp/hvcsv_fixture_www/fm.csv');
END $$;
-- the size of each version, to tell the spools apart
CREATE FUNCTION fm_size(version int) RETURNS bigint LANGUAGE sql AS $$
  SELECT octet_length('id,name' || E'\n')
         + sum(octet_length(id::text) + octet_length(format('"%s"', name)) + 2)
    FROM fm_rows WHERE v = version
$$;

-- which version the target holds
CREATE FUNCTION fm_target_holds() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  version int;
BEGIN
  FOR version IN 1 .. 2 LOOP
    IF NOT EXISTS ((SELECT id, name FROM fm_rows WHERE v = version
                    EXCEPT SELECT id, name FROM fm_target)
                   UNION ALL
                   (SELECT id, name FROM fm_target
                    EXCEPT SELECT id, name FROM fm_rows WHERE v = version)) THEN
      RETURN 'v' || version;
    END IF;
  END LOOP;
  RETURN 'neither: ' || (SELECT count(*) FROM fm_target) || ' rows';
END $$;

-- which version the spool holds (EXPLAIN never fetches), and any temporary file
CREATE FUNCTION fm_spool_holds(ft regclass DEFAULT 'fm_src') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  plan json;
  size bigint;
  temps bigint;
  holds text;
BEGIN
  EXECUTE format('EXPLAIN (FORMAT json) SELECT * FROM %s', ft) INTO plan;
  size := (plan -> 0 -> 'Plan' ->> 'Spool Size')::bigint;
  holds := CASE WHEN size IS NULL THEN 'none'
                WHEN size = fm_size(1) THEN 'v1'
                WHEN size = fm_size(2) THEN 'v2'
                ELSE size || ' bytes' END;
  SELECT count(*) INTO temps FROM pg_ls_dir('pg_hvcsv_spool_fm') f WHERE f LIKE '%.tmp';
  RETURN holds || CASE WHEN temps > 0 THEN ' and ' || temps || ' temporary files' ELSE '' END;
END $$;

-- waits until no refresh worker runs (a cancelled one takes a moment to
-- exit); pg_stat_activity is read afresh each time
CREATE FUNCTION fm_no_worker() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'hvcsv_fdw refresh');
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;

-- waits until the refresh worker is in the given state: 'downloading'
-- (bytes fetched), 'waiting' (between attempts) or 'locked' (its upsert
-- waits for a row lock)
CREATE FUNCTION fm_worker_is(wanted text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF EXISTS (SELECT FROM pg_stat_activity a LEFT JOIN hvcsv_refresh_progress p USING (pid)
                WHERE a.backend_type = 'hvcsv_fdw refresh'
                  AND CASE wanted WHEN 'downloading' THEN p.bytes_fetched > 0
                                 WHEN 'waiting' THEN a.wait_event_type = 'Extension'
                                 WHEN 'locked' THEN a.wait_event_type = 'Lock' END) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;

CREATE TABLE fm_matrix (n serial, fault text, user_sees text, run_recorded text,
                        spool text, target text, requests text);
CREATE TABLE fm_mark (run_before bigint);
INSERT INTO fm_mark VALUES (0);

-- the starting point: version 1 everywhere; then version 2 on the server,
-- the fault set on /fm.csv, the log cleared.  (Server options a case needs
-- are set by a statement of their own: the refresh worker sees only what
-- is committed.)
CREATE FUNCTION fm_begin(fault_params text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM fm_no_worker();
  PERFORM set_fault('/fm.csv');
  PERFORM fm_export(1);
  PERFORM * FROM hvcsv_refresh('fm_src');
  IF fm_target_holds() <> 'v1' OR fm_spool_holds() <> 'v1' THEN
    RAISE EXCEPTION 'the starting point was not reached: target %, spool %',
      fm_target_holds(), fm_spool_holds();
  END IF;
  PERFORM fm_export(2);
  UPDATE fm_mark SET run_before = (SELECT coalesce(max(run_id), 0) FROM hvcsv_sync_history);
  PERFORM * FROM fixture_reset;
  PERFORM set_fault('/fm.csv', fault_params);
END $$;

-- adds the row of a case; user_sees defaults to what the recorded run says
CREATE FUNCTION fm_record(fault text, user_sees text DEFAULT NULL, ft regclass DEFAULT 'fm_src')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  run record;
BEGIN
  PERFORM fm_no_worker();
  SELECT h.status, h.error INTO run FROM hvcsv_sync_history h
   WHERE h.foreign_table = ft AND h.run_id > (SELECT run_before FROM fm_mark)
   ORDER BY h.run_id DESC LIMIT 1;
  INSERT INTO fm_matrix (fault, user_sees, run_recorded, spool, target, requests)
  SELECT fault, coalesce(user_sees, run.status || coalesce(': ' || run.error, '')),
         coalesce(run.status, 'none'), fm_spool_holds(ft), fm_target_holds(),
         coalesce(string_agg(status || CASE WHEN complete THEN '' ELSE ' cut' END,
                             ', ' ORDER BY seq), 'none')
    FROM fixture_log WHERE target LIKE '/fm.csv%';
END $$;

-- one case: a refresh of fm_src with the fault set
CREATE FUNCTION fm_case(fault text, fault_params text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM fm_begin(fault_params);
  PERFORM * FROM hvcsv_refresh('fm_src');
  PERFORM fm_record(fault);
END $$;

-- another session, to cancel this one, and a third that holds row locks
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_connect('locker', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));

-- has the other session cancel this one's query once the refresh worker is in the given state
CREATE FUNCTION fm_cancel_when(state text) RETURNS void LANGUAGE sql AS $$
  SELECT dblink_send_query('other', format('SELECT fm_worker_is(%L) AND pg_cancel_backend(%s)',
                                           state, pg_backend_pid()))
$$;
-- whether the other session did cancel; after it, its connection is free again
CREATE FUNCTION fm_cancelled() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  cancelled boolean;
BEGIN
  SELECT c INTO cancelled FROM dblink_get_result('other') AS t(c boolean);
  PERFORM FROM dblink_get_result('other') AS t(c boolean);
  RETURN cancelled;
END $$;

SET client_min_messages = error;

-- the same refresh without a fault
SELECT fm_case('none', '');

-- the server is busy or failing
SELECT fm_case('429 once, Retry-After: 1', 'fail=1&status=429&retry_after=1');
SELECT fm_case('503 twice, then 200', 'fail=2&status=503');
SELECT fm_case('503 every time', 'always=1&status=503');

-- no server to talk to (separate foreign tables: another URL is another spool)
CREATE SERVER fm_refused FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:1', retry_delay '0.1', max_retry_delay '0.2');
CREATE FOREIGN TABLE fm_src_refused (id int, name text) SERVER fm_refused
  OPTIONS (path '/fm.csv', target 'fm_target');
SELECT fm_begin('');
SELECT * FROM hvcsv_refresh('fm_src_refused') \g /dev/null
SELECT fm_record('connection refused', NULL, 'fm_src_refused');
-- an unresolvable name (RFC 6761): fails at once, with or without a network
CREATE SERVER fm_unknown FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://hvcsv-fixture.invalid:18765', retry_delay '0.1', max_retry_delay '0.2');
CREATE FOREIGN TABLE fm_src_unknown (id int, name text) SERVER fm_unknown
  OPTIONS (path '/fm.csv', target 'fm_target');
SELECT fm_begin('');
SELECT * FROM hvcsv_refresh('fm_src_unknown') \g /dev/null
SELECT fm_record('DNS failure', NULL, 'fm_src_unknown');

-- bodies that break: resumed with Range where the server has it, started
-- over where it has not, a bounded number of times
SELECT fm_case('body cut once, Range supported', 'cut=100&cut_times=1');
SELECT fm_case('body cut once, no Range', 'cut=100&cut_times=1&norange=1');
SELECT fm_case('every response cut (fewer bytes than Content-Length), Range supported', 'cut=100');
SELECT fm_case('every response cut (fewer bytes than Content-Length), no Range', 'cut=100&norange=1');
SELECT fm_case('chunked body cut once (no last chunk)', 'chunked=1&cut=100&cut_times=1');
SELECT fm_case('chunked transfer', 'chunked=1');

-- transfers that stop, and one that is slow: timeout is the longest silence
ALTER SERVER fm OPTIONS (ADD timeout '1');
SELECT fm_case('stalled once after 50 bytes, timeout 1 s', 'stall=30&stall_after=50&stall_times=1');
SELECT fm_case('stalled every time before the body, timeout 1 s', 'stall=30');
SELECT fm_case('slow but steady (200 bytes/s), timeout 1 s', 'rate=200');
ALTER SERVER fm OPTIONS (DROP timeout);

-- redirects: followed, at most 5
SELECT fm_case('2 redirects', 'redirect=2');
SELECT fm_case('6 redirects', 'redirect=6');

-- a body larger than max_bytes (version 1 fits exactly).  Here and below,
-- where the client leaves early, the body is sent slowly, so that the server
-- always sees it leave.
SELECT format('ALTER SERVER fm OPTIONS (ADD max_bytes %L)', fm_size(1)) \gexec
SELECT fm_case('larger than max_bytes', 'rate=200');
ALTER SERVER fm OPTIONS (DROP max_bytes);

-- the spool directory not writable (the server's OS user runs chmod): a new
-- export cannot be stored; an unchanged one is still revalidated and used
SELECT fm_begin('rate=200');
COPY (SELECT WHERE false) TO PROGRAM 'chmod u-w pg_hvcsv_spool_fm';
SELECT * FROM hvcsv_refresh('fm_src') \g /dev/null
COPY (SELECT WHERE false) TO PROGRAM 'chmod u+w pg_hvcsv_spool_fm';
SELECT fm_record('spool directory not writable');
SELECT fm_begin('');
SELECT fm_export(1);
COPY (SELECT WHERE false) TO PROGRAM 'chmod u-w pg_hvcsv_spool_fm';
SELECT * FROM hvcsv_refresh('fm_src') \g /dev/null
COPY (SELECT WHERE false) TO PROGRAM 'chmod u+w pg_hvcsv_spool_fm';
SELECT fm_record('spool directory not writable, export unchanged');

-- statement_timeout and query cancel stop a refresh wherever it is: while
-- the body arrives ...
SELECT fm_begin('stall=60&stall_after=50');
SET statement_timeout = '3s';
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT fm_record('statement_timeout during the download', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');
SELECT fm_begin('stall=60&stall_after=50');
SELECT fm_cancel_when('downloading');
SET statement_timeout = '30s';  -- only if the cancel does not come
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT fm_cancelled();
SELECT fm_record('query cancel during the download', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');

-- ... while it waits to try again ...
ALTER SERVER fm OPTIONS (SET max_retry_delay '60');
SELECT fm_begin('always=1&status=503&retry_after=60');
SET statement_timeout = '3s';
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT fm_record('statement_timeout while waiting to retry', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');
SELECT fm_begin('always=1&status=503&retry_after=60');
SELECT fm_cancel_when('waiting');
SET statement_timeout = '30s';  -- only if the cancel does not come
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT fm_cancelled();
SELECT fm_record('query cancel while waiting to retry', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');
ALTER SERVER fm OPTIONS (SET max_retry_delay '2');

-- ... and in the upsert (another session locks a row that version 2
-- changes, so the upsert waits for it)
SELECT fm_begin('');
SELECT dblink_exec('locker', 'BEGIN');
SELECT dblink_exec('locker', 'UPDATE fm_target SET name = name WHERE id = 5');
SET statement_timeout = '3s';
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT dblink_exec('locker', 'ROLLBACK');
SELECT fm_record('statement_timeout during the upsert', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');
SELECT fm_begin('');
SELECT dblink_exec('locker', 'BEGIN');
SELECT dblink_exec('locker', 'UPDATE fm_target SET name = name WHERE id = 5');
SELECT fm_cancel_when('locked');
SET statement_timeout = '30s';  -- only if the cancel does not come
SELECT * FROM hvcsv_refresh('fm_src');
RESET statement_timeout;
SELECT fm_cancelled();
SELECT dblink_exec('locker', 'ROLLBACK');
SELECT fm_record('query cancel during the upsert', :'LAST_ERROR_SQLSTATE' || ': ' || :'LAST_ERROR_MESSAGE');

RESET client_min_messages;

\x on
SELECT fault, user_sees, run_recorded, spool, target, requests FROM fm_matrix ORDER BY n;
\x off

-- after all of it, the next run succeeds and no temporary file is left
SELECT fm_begin('');
SELECT status, rows_inserted, rows_updated, rows_unchanged, rows_deleted FROM hvcsv_refresh('fm_src');
SELECT fm_target_holds() AS target, fm_spool_holds() AS spool;

SELECT dblink_disconnect('other');
SELECT dblink_disconnect('locker');
