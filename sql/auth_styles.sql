--
-- Authentication styles (user mapping options): the key in a header of its
-- own (api_key_header) or in a query parameter (api_key_param), HTTP Basic
-- (user, password), extra fixed headers (headers); what is refused at
-- CREATE/ALTER; what the fixture server received; the key's parameter
-- masked in every URL shown; nothing sent across a redirect to another
-- scheme, host or port.  The fixture server logs the raw Authorization,
-- X-API-Key, X-API-Version and X-Account-Id headers (the tests' keys are not
-- secrets); noauth=1 lets it serve without its own Authorization check.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_auth';

-- runs a statement and returns its error and detail, or 'ok'
CREATE FUNCTION try_detail(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  detail text;
BEGIN
  EXECUTE query;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RETURN SQLERRM || coalesce(' / ' || nullif(detail, ''), '');
END $$;

CREATE FOREIGN TABLE auth_log (seq int, target text, status int, if_none_match text, auth_header text,
  x_api_key text, x_api_version text, x_account_id text)
  SERVER control OPTIONS (path '/_log.csv');
CREATE SERVER au FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_retries '1');
CREATE FUNCTION au_table(name text, path text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (has_id text, name text) SERVER au
    OPTIONS (path %L)', name, path);
END $$;

--
-- What is refused; no message shows a key, a password or a header's value
--
SELECT try_detail(format('CREATE USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (%s)', o)) AS refused
FROM unnest(ARRAY[
  $$api_key 'k1', api_key_header 'X API Key'$$,
  $$api_key 'k1', api_key_header 'Host'$$,
  $$api_key 'k1', api_key_header 'accept-encoding'$$,
  $$api_key_header 'X-API-Key'$$,
  $$api_key 'k1', api_key_header 'X-API-Key', api_key_param 'apikey'$$,
  $$api_key 'k1', auth_scheme 'Bearer', api_key_param 'apikey'$$,
  $$api_key 'k1', api_key_param 'api key'$$,
  $$api_key_param 'apikey'$$,
  $$api_key 'k1', user 'alice', password 'pw1'$$,
  $$password 'pw1'$$,
  $$user 'al:ice', password 'pw1'$$,
  $$user 'alice', password E'pw1\n'$$,
  $$headers 'X-Account-Id acct-secret'$$,
  $$headers 'X Account: acct-secret'$$,
  $$headers E'X-Account-Id: acct-secret\r\nHost: evil.example'$$,
  $$headers E'X-Account-Id: acct\u0001secret'$$,
  $$headers 'X-Account-Id:   '$$,
  $$headers E'X-API-Version: 1\nhost: evil.example'$$,
  $$headers 'Range: bytes=0-'$$,
  $$headers 'If-None-Match: "x"'$$,
  $$headers 'Transfer-Encoding: chunked'$$,
  $$api_key 'k1', headers 'Authorization: Bearer other-secret'$$,
  $$user 'alice', headers 'authorization: Bearer other-secret'$$,
  $$api_key 'k1', api_key_header 'X-API-Key', headers 'x-api-key: other-secret'$$
]) AS o;
-- on a server or a table, credentials and headers are refused
SELECT try($$CREATE SERVER au2 FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', headers 'X-API-Version: 1')$$);
SELECT try($$CREATE FOREIGN TABLE au_bad (a int) SERVER au OPTIONS (user 'alice')$$);
-- auth_scheme alone is accepted, as before there were other styles
CREATE USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (auth_scheme 'Bearer');
DROP USER MAPPING FOR CURRENT_USER SERVER au;
-- ALTER is checked the same way, against the options already there
CREATE USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (api_key 'k1', api_key_param 'apikey');
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (ADD api_key_header 'X-Key')$$);
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP api_key)$$);
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (ADD user 'alice')$$);
-- with the key in the query, an Authorization header of one's own is allowed
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER au
  OPTIONS (ADD headers 'Authorization: Bearer other')$$);
DROP USER MAPPING FOR CURRENT_USER SERVER au;

--
-- api_key_header, with extra headers
--
CREATE USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (api_key 'test-secret-key',
  api_key_header 'X-API-Key', headers E'X-API-Version:2024-01-01\n\nX-Account-Id:  acct 42 \n');
SELECT au_table('au_plain', '/accounts.csv?noauth=1');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_plain;
SELECT target, status, auth_header, x_api_key, x_api_version, x_account_id
  FROM auth_log ORDER BY seq;
-- without noauth=1 the fixture wants its Authorization header: a 401
SELECT au_table('au_401', '/accounts.csv');
SELECT count(*) FROM au_401;

--
-- api_key_param: percent-encoded, appended to the request; shown masked
--
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP api_key_header, DROP headers,
  ADD api_key_param 'q', SET api_key 'a b&c=d/ü');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_plain;
SELECT target, status, auth_header, x_api_key FROM auth_log ORDER BY seq;
EXPLAIN (COSTS OFF) SELECT * FROM au_plain;
-- an error names the URL with the parameter masked, also where a server
-- redirected with the key in the URL
SELECT au_table('au_missing', '/missing.csv?noauth=1');
SELECT count(*) FROM au_missing;
SELECT au_table('au_echo', '/accounts.csv?noauth=1&redirect_to=%2Fmissing.csv%3Fnoauth%3D1%26q%3Decho');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_echo;
-- the key replaces the parameter the server echoed, it is not sent twice
SELECT target, status FROM auth_log ORDER BY seq;
-- nor when the path names the parameter itself, percent-encoded or not
SELECT au_table('au_own_q', '/accounts.csv?q=mine&noauth=1&%71=again&qq=kept');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_own_q;
SELECT target, status FROM auth_log ORDER BY seq;
-- the spool is revalidated while the credentials stay; the same key in
-- another parameter gets a spool of its own
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_plain;
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (SET api_key_param 'r');
SELECT count(*) FROM au_plain;
SELECT target, status, coalesce(if_none_match, '') <> '' AS conditional FROM auth_log ORDER BY seq;
-- and so does the sync state
CREATE TABLE au_target (has_id text PRIMARY KEY, name text);
ALTER FOREIGN TABLE au_plain OPTIONS (ADD target 'au_target');
SELECT status, rows_inserted FROM hvcsv_refresh('au_plain');
SELECT source_url, status FROM hvcsv_sync_state WHERE foreign_table = 'au_plain'::regclass;

--
-- HTTP Basic
--
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP api_key, DROP api_key_param,
  ADD user 'alice', ADD password 'pa:ss wörd');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_plain;
SELECT target, status,
       auth_header = 'Basic ' || encode(convert_to('alice:pa:ss wörd', 'UTF8'), 'base64')
         AS basic_ok
  FROM auth_log ORDER BY seq;
-- a user without a password sends an empty one
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP password);
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_plain;
SELECT auth_header FROM auth_log ORDER BY seq;

--
-- Redirects: everything goes to the same scheme, host and port; nothing
-- to another origin (localhost is another host than 127.0.0.1)
--
SET hvcsv_fdw.allowed_hosts = '127.0.0.1, localhost';
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP user, ADD api_key 'test-secret-key',
  ADD api_key_param 'apikey', ADD headers 'X-Account-Id: acct-42');
SELECT au_table('au_same', '/accounts.csv?noauth=1&redirect_to=%2Faccounts.csv%3Fnoauth%3D1');
SELECT au_table('au_cross',
  '/accounts.csv?noauth=1&redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv%3Fnoauth%3D1');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_same;
SELECT count(*) FROM au_cross;
SELECT target, status, x_api_key, x_account_id FROM auth_log ORDER BY seq;
-- a server that echoes the key and a header's value into the URL it
-- redirects to, under other names and in the path: messages mask them
-- wherever they are, as written and percent-encoded
SELECT au_table('au_echo_path', '/accounts.csv?noauth=1&redirect_to=%2Fdl%2Ftest-secret-key%2Fx.csv%3Ft%3Dtest%252Dsecret%252Dkey%26a%3Dacct-42');
SELECT count(*) FROM au_echo_path;
EXPLAIN (COSTS OFF) SELECT * FROM au_echo_path;
ALTER USER MAPPING FOR CURRENT_USER SERVER au OPTIONS (DROP api_key_param,
  ADD api_key_header 'X-API-Key');
SELECT * FROM fixture_reset;
SELECT count(*) FROM au_same;
SELECT count(*) FROM au_cross;
SELECT target, status, x_api_key, x_account_id FROM auth_log ORDER BY seq;
-- an export that needs the key fails after a redirect to another origin,
-- and the hint says why
SELECT au_table('au_cross_401',
  '/accounts.csv?noauth=1&redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv');
SELECT count(*) FROM au_cross_401;
RESET hvcsv_fdw.allowed_hosts;

DROP TABLE au_target;
DROP SERVER au CASCADE;
DROP FUNCTION try_detail(text);
DROP FUNCTION au_table(text, text);
DROP FOREIGN TABLE auth_log;
