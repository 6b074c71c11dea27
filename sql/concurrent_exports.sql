--
-- A table's exports downloaded side by side before the scan reads them, at
-- most max_connections at a time (the fixture's log tells which requests
-- overlapped); an unchanged second read revalidates each once; a missing
-- export skipped or an error naming it; a cancel stops them all.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_concurrent';

-- max_connections is an integer from 1 to 64
CREATE SERVER cc_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (max_connections '0');
CREATE SERVER cc_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (max_connections '65');
CREATE SERVER cc_bad FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (max_connections 'four');
CREATE FOREIGN TABLE cc_bad (id int) SERVER fx OPTIONS (path '/x.csv', max_connections '2');
CREATE SERVER cc FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_connections '64');
ALTER SERVER cc OPTIONS (SET max_connections '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER cc OPTIONS (api_key 'test-secret-key');

-- eight exports of two rows each
DO $$
BEGIN
  FOR i IN 1..8 LOOP
    EXECUTE format('COPY (SELECT * FROM (VALUES (%L), (%L), (%L)) v) TO %L',
                   'id,name', i * 10 + 1 || ',a' || i, i * 10 + 2 || ',b' || i,
                   '/tmp/hvcsv_fixture_www/cc_' || i || '.csv');
  END LOOP;
END $$;
CREATE FOREIGN TABLE cc (id int, name text) SERVER cc OPTIONS (paths
  '/cc_1.csv,/cc_2.csv,/cc_3.csv,/cc_4.csv,/cc_5.csv,/cc_6.csv,/cc_7.csv,/cc_8.csv');

-- the requests of the fixture's log, with when each began and ended
CREATE FOREIGN TABLE cc_log (seq int, target text, status int, range text,
  if_none_match text, started_ms bigint, ended_ms bigint)
  SERVER control OPTIONS (path '/_log.csv');
-- the most requests that were answering at once: those that began by the
-- time one began and ended more than 200 ms after (a request's end is logged
-- just after its last byte, maybe after the next request began)
CREATE VIEW cc_overlap AS
  SELECT max((SELECT count(*) FROM cc_log s
              WHERE s.started_ms <= r.started_ms AND s.ended_ms > r.started_ms + 200))
         AS most_at_once, count(*) AS requests
  FROM cc_log r;
-- every export answers after 0.6 s
CREATE FUNCTION cc_delay(params text) RETURNS void
LANGUAGE sql AS $$
  SELECT set_fault('/cc_' || i || '.csv', params) FROM generate_series(1, 8) i
$$;

-- the first read downloads all eight, three at a time, then reads them in
-- the list's order without asking again
SELECT * FROM fixture_reset;
SELECT cc_delay('delay=0.6');
SELECT * FROM cc;
SELECT * FROM cc_overlap;
SELECT status, count(*), count(if_none_match) AS conditional
  FROM cc_log GROUP BY status;

-- an unchanged second read asks each export once, conditionally: 304
SELECT * FROM fixture_reset;
SELECT cc_delay('delay=0.6');
SELECT count(*), sum(id) FROM cc;
SELECT * FROM cc_overlap;
SELECT status, count(*), count(if_none_match) AS conditional
  FROM cc_log GROUP BY status;

-- max_connections 1: one after the other
ALTER SERVER cc OPTIONS (SET max_connections '1');
SELECT * FROM fixture_reset;
SELECT cc_delay('delay=0.6');
SELECT count(*), sum(id) FROM cc;
SELECT * FROM cc_overlap;
ALTER SERVER cc OPTIONS (DROP max_connections);

-- an export that answers 404: skipped with missing_exports 'skip' (asked
-- once, by the downloads; the scan skips it) ...
ALTER FOREIGN TABLE cc OPTIONS (SET paths '/cc_1.csv,/cc_missing.csv,/cc_2.csv',
  ADD missing_exports 'skip');
SELECT * FROM fixture_reset;
SELECT * FROM cc;
SELECT target, status FROM cc_log ORDER BY target, seq;
-- ... and an error naming it with missing_exports 'error'
ALTER FOREIGN TABLE cc OPTIONS (SET missing_exports 'error');
SELECT * FROM cc;
ALTER FOREIGN TABLE cc OPTIONS (SET paths
  '/cc_1.csv,/cc_2.csv,/cc_3.csv,/cc_4.csv,/cc_5.csv,/cc_6.csv,/cc_7.csv,/cc_8.csv');

-- bodies larger than a transfer's buffer, throttled, so that their bytes
-- come interleaved: one breaks once midway and is resumed where it broke,
-- one comes compressed (Content-Encoding: gzip)
DO $$
BEGIN
  FOR i IN 1..4 LOOP
    EXECUTE format('COPY (SELECT g AS id, %L || g AS name FROM generate_series(1, 40000) g) TO %L
                    WITH (FORMAT csv, HEADER)',
                   'row ' || i || '.', '/tmp/hvcsv_fixture_www/cc_big_' || i || '.csv');
  END LOOP;
END $$;
CREATE FOREIGN TABLE cc_big (id int, name text) SERVER cc OPTIONS (paths
  '/cc_big_1.csv,/cc_big_2.csv,/cc_big_3.csv,/cc_big_4.csv');
ALTER SERVER cc OPTIONS (ADD retry_delay '0.1');
SELECT * FROM fixture_reset;
SELECT set_fault('/cc_big_' || i || '.csv', 'rate=1000000') FROM generate_series(1, 4) i;
SELECT set_fault('/cc_big_2.csv', 'rate=1000000&cut=300000&cut_times=1');
SELECT set_fault('/cc_big_3.csv', 'rate=300000&gzip=1');
SELECT count(*), count(DISTINCT name), sum(id), min(name), max(name) FROM cc_big;
SELECT target, status, range FROM cc_log ORDER BY target, seq;
SELECT most_at_once FROM cc_overlap;
SELECT set_fault('/cc_big_' || i || '.csv') FROM generate_series(1, 4) i;

-- two sessions read the same exports at once, in opposite orders: neither
-- waits for a spool's lock while it holds another's (no deadlock), and each
-- export is downloaded once, by whichever took its lock first
SELECT dblink_connect('cc_other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('cc_other', 'SET hvcsv_fdw.spool_directory = ''pg_hvcsv_spool_concurrent_both''');
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_concurrent_both';
CREATE FOREIGN TABLE cc_reversed (id int, name text) SERVER cc OPTIONS (paths
  '/cc_8.csv,/cc_7.csv,/cc_6.csv,/cc_5.csv,/cc_4.csv,/cc_3.csv,/cc_2.csv,/cc_1.csv');
SELECT * FROM fixture_reset;
SELECT cc_delay('delay=0.6');
SELECT dblink_send_query('cc_other', 'SELECT count(*), sum(id) FROM cc_reversed');
SELECT count(*), sum(id) FROM cc;
SELECT * FROM dblink_get_result('cc_other') AS t(n bigint, sum bigint);
SELECT * FROM dblink_get_result('cc_other') AS t(n bigint, sum bigint);
SELECT count(*) AS requests, count(DISTINCT target) AS exports, min(status), max(status)
  FROM cc_log;
SELECT dblink_disconnect('cc_other');
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_concurrent';

-- a statement_timeout stops the downloads that wait on slow exports
SELECT * FROM fixture_reset;
SELECT cc_delay('delay=30');
SET statement_timeout = '2s';
\set VERBOSITY terse
SELECT count(*) FROM cc;
\set VERBOSITY default
RESET statement_timeout;
-- the four requests it had sent ended at once: the server logs a request
-- when the client leaves, and its log waits a moment at most for the others
SELECT count(*) FROM cc_log;
-- nothing of it is left in the way of the next read
SELECT cc_delay('');
SELECT count(*), sum(id) FROM cc;

DROP FOREIGN TABLE cc, cc_big, cc_reversed, cc_log CASCADE;
DROP FUNCTION cc_delay(text);
DROP SERVER cc CASCADE;
