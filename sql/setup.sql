--
-- Objects the other test files share: a server for the fixture HTTP server
-- on 127.0.0.1:18765 (started by test/run_all.sh), its request log and its
-- controls, read through hvcsv_fdw itself, and two small helpers.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvcsv_fdw;
RESET client_min_messages;

-- short waits between attempts keep the tests quick
CREATE SERVER fx FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', retry_delay '0.1', max_retry_delay '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (api_key 'test-secret-key');

-- the fixture server's own endpoints, fetched once each time
CREATE SERVER control FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_retries '1');
CREATE FOREIGN TABLE fixture_log (
  seq int, method text, target text, status int, range text, if_none_match text,
  if_modified_since text, if_range text, auth text, bytes_sent bigint, complete boolean)
  SERVER control OPTIONS (path '/_log.csv');
CREATE FOREIGN TABLE fixture_reset (reset boolean) SERVER control OPTIONS (path '/_reset');
CREATE FOREIGN TABLE fixture_fault (fault boolean) SERVER control OPTIONS (path '/_fault');

-- makes every request for path misbehave as the query parameters say
CREATE FUNCTION set_fault(path text, params text DEFAULT '') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE fixture_fault OPTIONS (SET path %L)',
                 '/_fault?path=' || path || CASE WHEN params <> '' THEN '&' || params ELSE '' END);
  PERFORM * FROM fixture_fault;
END $$;

-- runs a statement and returns its error as "SQLSTATE: message", or 'ok'
CREATE FUNCTION try(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- waits (5 s at most) until a refresh worker has downloaded a first byte
CREATE FUNCTION wait_for_download() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    IF EXISTS (SELECT FROM hvcsv_refresh_progress WHERE bytes_fetched > 0) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
  RETURN false;
END $$;

-- runs a statement and returns the seconds it took, error or not
CREATE FUNCTION seconds(query text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  BEGIN
    EXECUTE query;
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  RETURN extract(epoch FROM clock_timestamp() - started);
END $$;

-- the size and md5 of the newest spool file over 1 MB in the spool
-- directory dir (files are named by when they were made, in hex; the
-- fixture's log, read through a spool too, is smaller)
CREATE FUNCTION newest_spool(dir text) RETURNS TABLE (size bigint, md5 text)
LANGUAGE sql AS $$
  SELECT (pg_stat_file(p)).size, md5(pg_read_binary_file(p))
  FROM (SELECT dir || '/' || f AS p FROM pg_ls_dir(dir) f WHERE f LIKE '%.csv') s
  WHERE (pg_stat_file(p)).size > 1000000
  ORDER BY split_part(p, '.', 2) DESC LIMIT 1
$$;

SELECT * FROM fixture_reset;
SELECT count(*) FROM fixture_log;
