--
-- Fetching: the Authorization header, retries with backoff on transient
-- failures only, timeouts, cancellation, size limits, redirects, and URLs
-- and keys kept out of every message.  The fixture server's log shows what
-- was actually requested.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_fetch';

CREATE FOREIGN TABLE plain (has_id text) SERVER fx OPTIONS (path '/accounts.csv');

-- the key goes in "Authorization: apiKey <key>"
SELECT * FROM fixture_reset;
SELECT count(*) FROM plain;
SELECT target, status, auth FROM fixture_log ORDER BY seq;

-- 503 twice, then success: three attempts, the default
CREATE FOREIGN TABLE flaky (has_id text) SERVER fx OPTIONS (path '/accounts.csv?fail=2&status=503');
SELECT * FROM fixture_reset;
SELECT count(*) FROM flaky;
SELECT target, status FROM fixture_log ORDER BY seq;

-- every retryable status is retried
CREATE FOREIGN TABLE flaky_any (has_id text) SERVER fx OPTIONS (path '/accounts.csv');
CREATE FUNCTION attempts_after(status int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  PERFORM * FROM fixture_reset;
  EXECUTE format('ALTER FOREIGN TABLE flaky_any OPTIONS (SET path %L)',
                 '/accounts.csv?fail=1&status=' || status);
  PERFORM count(*) FROM flaky_any;
  RETURN (SELECT count(*) FROM fixture_log);
END $$;
SELECT s AS status, attempts_after(s) AS requests FROM unnest(ARRAY[429, 500, 502, 503, 504]) s;

-- 503 every time: three attempts, then an error naming the URL and status
CREATE FOREIGN TABLE down (has_id text) SERVER fx OPTIONS (path '/accounts.csv?fail=99&status=503');
SELECT * FROM fixture_reset;
SELECT count(*) FROM down;
SELECT count(*) AS requests FROM fixture_log;

-- max_retries sets the number of attempts
CREATE SERVER fx5 FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_retries '5', retry_delay '0.05', max_retry_delay '0.05');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx5 OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE down5 (has_id text) SERVER fx5 OPTIONS (path '/accounts.csv?fail=99&status=502');
SELECT * FROM fixture_reset;
SELECT count(*) FROM down5;
SELECT count(*) AS requests FROM fixture_log;

-- permanent errors fail at once, with no retry
CREATE FOREIGN TABLE forbidden (has_id text) SERVER fx OPTIONS (path '/accounts.csv?fail=9&status=403');
CREATE FOREIGN TABLE missing (has_id text) SERVER fx OPTIONS (path '/no_such_file.csv');
CREATE FOREIGN TABLE bad_request (has_id text) SERVER fx OPTIONS (path '/accounts.csv?fail=9&status=400');
SELECT * FROM fixture_reset;
SELECT count(*) FROM forbidden;
SELECT count(*) FROM missing;
SELECT count(*) FROM bad_request;
SELECT target, status FROM fixture_log ORDER BY seq;

-- a wrong key: 401 at once, and the key is in no message
CREATE SERVER wrong_key FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
CREATE USER MAPPING FOR CURRENT_USER SERVER wrong_key OPTIONS (api_key 'not-the-key');
CREATE FOREIGN TABLE wrong (has_id text) SERVER wrong_key OPTIONS (path '/accounts.csv');
SELECT * FROM fixture_reset;
SELECT count(*) FROM wrong;
SELECT try('SELECT count(*) FROM wrong') LIKE '%not-the-key%' AS key_shown;
SELECT status, auth FROM fixture_log ORDER BY seq;

-- no user mapping: no Authorization header
CREATE SERVER no_mapping FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
CREATE FOREIGN TABLE anonymous (has_id text) SERVER no_mapping OPTIONS (path '/accounts.csv');
SELECT * FROM fixture_reset;
SELECT count(*) FROM anonymous;
SELECT status, auth FROM fixture_log ORDER BY seq;

-- another scheme: "Authorization: Bearer <key>"
CREATE SERVER bearer FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
CREATE USER MAPPING FOR CURRENT_USER SERVER bearer OPTIONS (api_key 'test-secret-key', auth_scheme 'Bearer');
CREATE FOREIGN TABLE bearer_table (has_id text) SERVER bearer OPTIONS (path '/accounts.csv?scheme=Bearer');
SELECT count(*) FROM bearer_table;
CREATE FOREIGN TABLE bearer_wrong (has_id text) SERVER fx OPTIONS (path '/accounts.csv?scheme=Bearer');
SELECT count(*) FROM bearer_wrong;

-- secrets in the URL are masked in messages
CREATE SERVER with_password FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://reader:hunter2@127.0.0.1:18765', max_retries '1');
CREATE FOREIGN TABLE masked (has_id text) SERVER with_password
  OPTIONS (path '/no_such_file.csv?export=accounts&access_token=abc123');
SELECT count(*) FROM masked;
EXPLAIN (COSTS OFF) SELECT * FROM masked;

-- connection refused is retried, then reported
CREATE SERVER refused FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:1', retry_delay '0.05', max_retry_delay '0.05');
CREATE FOREIGN TABLE unreachable (has_id text) SERVER refused OPTIONS (path '/x.csv');
SELECT try('SELECT count(*) FROM unreachable');

-- Retry-After is honoured (here 1 s, within max_retry_delay)
CREATE SERVER patient FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.05', max_retry_delay '5');
CREATE USER MAPPING FOR CURRENT_USER SERVER patient OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE rate_limited (has_id text) SERVER patient
  OPTIONS (path '/accounts.csv?fail=1&status=429&retry_after=1');
SELECT seconds('SELECT count(*) FROM rate_limited') BETWEEN 1 AND 4 AS waited_retry_after;
SELECT count(*) FROM rate_limited;

-- a broken body resumes where it broke: Range, guarded by If-Range
CREATE FOREIGN TABLE cut_once (has_id text) SERVER fx OPTIONS (path '/accounts.csv?cut=100&cut_times=1');
SELECT * FROM fixture_reset;
SELECT count(*) FROM cut_once;
SELECT status, range, if_range <> '' AS guarded, bytes_sent, complete FROM fixture_log ORDER BY seq;
-- each break that makes progress may be resumed: 493 bytes, 100 at a time
CREATE FOREIGN TABLE cut_always (has_id text) SERVER fx OPTIONS (path '/accounts.csv?cut=100');
SELECT * FROM fixture_reset;
SELECT count(*) FROM cut_always;
SELECT status, range, bytes_sent FROM fixture_log ORDER BY seq;
-- without Range support the body starts over, a bounded number of times
CREATE FOREIGN TABLE cut_no_range (has_id text) SERVER fx OPTIONS (path '/accounts.csv?cut=100&norange=1');
SELECT * FROM fixture_reset;
SELECT count(*) FROM cut_no_range;
SELECT status, range, bytes_sent FROM fixture_log ORDER BY seq;
CREATE FOREIGN TABLE cut_no_range_once (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?cut=100&cut_times=1&norange=1');
SELECT count(*) FROM cut_no_range_once;
SELECT count(*) AS leftovers FROM pg_ls_dir('pg_hvcsv_spool_fetch') f WHERE f LIKE '%.tmp';

-- chunked transfer, and redirects
CREATE FOREIGN TABLE chunked (has_id text) SERVER fx OPTIONS (path '/accounts.csv?chunked=1');
SELECT count(*) FROM chunked;
CREATE FOREIGN TABLE redirected (has_id text) SERVER fx OPTIONS (path '/accounts.csv?redirect=2');
SELECT count(*) FROM redirected;

-- max_bytes stops a body that is too large
CREATE SERVER small FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER small OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE too_big (has_id text) SERVER small OPTIONS (path '/accounts.csv');
SELECT count(*) FROM too_big;
CREATE FOREIGN TABLE too_big_chunked (has_id text) SERVER small OPTIONS (path '/accounts.csv?chunked=1');
SELECT count(*) FROM too_big_chunked;
-- a break right at the limit leaves the resumed transfer not a byte more
-- (a server that cuts a chunked body after exactly max_bytes)
CREATE FOREIGN TABLE too_big_cut (has_id text) SERVER small
  OPTIONS (path '/accounts.csv?chunked=1&cut=100&cut_times=1');
SELECT count(*) FROM too_big_cut;

-- a stalled transfer fails after `timeout` seconds instead of hanging
CREATE SERVER impatient FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', timeout '1', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER impatient OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE stalled (has_id text) SERVER impatient OPTIONS (path '/accounts.csv?stall=30&stall_after=50');
SELECT seconds('SELECT count(*) FROM stalled') < 5 AS gave_up_quickly;
SELECT try('SELECT count(*) FROM stalled');

-- statement_timeout stops a stalled download, and a wait between attempts
CREATE SERVER slow_to_fail FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', timeout '60', max_retry_delay '60');
CREATE USER MAPPING FOR CURRENT_USER SERVER slow_to_fail OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE hung (has_id text) SERVER slow_to_fail OPTIONS (path '/accounts.csv?stall=60');
CREATE FOREIGN TABLE backing_off (has_id text) SERVER slow_to_fail
  OPTIONS (path '/accounts.csv?fail=9&status=503&retry_after=60');
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT count(*) FROM hung;
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '2.5 s' AS stopped_within_a_second;
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT count(*) FROM backing_off;
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '2.5 s' AS stopped_within_a_second;

-- query cancel stops a stalled download in another session
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'SET hvcsv_fdw.spool_directory = ''pg_hvcsv_spool_fetch''');
SELECT pid AS other_pid FROM dblink('other', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_send_query('other', 'SELECT count(*) FROM hung');
SELECT pg_sleep(0.5);
SELECT clock_timestamp() AS started \gset
SELECT pg_cancel_backend(:other_pid);
SELECT * FROM dblink_get_result('other') AS t(n bigint);
SELECT clock_timestamp() - :'started' < interval '1.5 s' AS cancelled_within_a_second;
SELECT dblink_disconnect('other');
