--
-- Security: where requests may go (http and https only, paths that stay
-- below api_url, hvcsv_fdw.allowed_hosts, checked when options are set and
-- again at every request and every redirect; non-public addresses only for
-- listed hosts and for superusers' servers), who may set what (ca_file,
-- allowed_hosts, max_bytes), and the API key kept out of everything but the
-- user mapping: EXPLAIN, errors, the sync state, pg_stat_activity and
-- progress.  (t/004_secrets.pl checks the server log at debug5, and TLS.)
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_security';

-- the key of the fx user mapping, read from the mapping itself, so that the
-- statements that look for it do not spell it (pg_stat_activity shows them)
CREATE FUNCTION the_key() RETURNS text LANGUAGE sql AS $$
  SELECT option_value FROM pg_options_to_table(
    (SELECT umoptions FROM pg_user_mappings WHERE srvname = 'fx' AND usename = current_user))
  WHERE option_name = 'api_key' $$;
SELECT length(the_key()) > 0 AS have_key;
-- how many of the given texts contain the key
CREATE FUNCTION key_count(texts text[]) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM unnest(texts) t WHERE position(the_key() IN t) > 0 $$;

-- a role that is not a superuser, allowed to create servers and tables,
-- and another one
CREATE ROLE hvcsv_sec_user;
CREATE ROLE hvcsv_sec_other;
GRANT USAGE ON FOREIGN DATA WRAPPER hvcsv_fdw TO hvcsv_sec_user;
GRANT USAGE ON FOREIGN SERVER fx TO hvcsv_sec_user;
GRANT CREATE ON SCHEMA public TO hvcsv_sec_user;
CREATE USER MAPPING FOR hvcsv_sec_user SERVER fx OPTIONS (api_key 'sec-user-key');

-- the key is shown only where PostgreSQL shows user mapping options: to
-- the mapped user and the server's owner, not to another role
SET ROLE hvcsv_sec_other;
SELECT usename, umoptions FROM pg_user_mappings WHERE usename = 'hvcsv_sec_user' ORDER BY srvname;
SELECT count(*) FROM pg_user_mapping;
SET ROLE hvcsv_sec_user;
SELECT usename, umoptions FROM pg_user_mappings WHERE usename = 'hvcsv_sec_user' ORDER BY srvname;
RESET ROLE;

--
-- Schemes and paths: nothing but http and https, and a path stays below
-- api_url (for every role; shown here as the non-superuser)
--
SET ROLE hvcsv_sec_user;
CREATE SERVER sec_file FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'file:///etc/passwd');
CREATE SERVER sec_ftp FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'ftp://127.0.0.1/x.csv');
CREATE SERVER sec_dict FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'dict://127.0.0.1:11211/');
CREATE SERVER sec_relative FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url '/etc/passwd');
CREATE FOREIGN TABLE sec_t (has_id text) SERVER fx OPTIONS (path '/../../etc/passwd');
CREATE FOREIGN TABLE sec_t (has_id text) SERVER fx OPTIONS (path '/exports/%2E%2e/secret.csv');
CREATE FOREIGN TABLE sec_t (has_id text) SERVER fx OPTIONS (path '/exports/..\secret.csv');
CREATE FOREIGN TABLE sec_t (has_id text) SERVER fx OPTIONS (path 'file:///etc/passwd');
CREATE FOREIGN TABLE sec_t (has_id text) SERVER fx OPTIONS (path '//other.example/x.csv');
-- dots that are not a whole segment are fine
CREATE FOREIGN TABLE sec_dots (has_id text) SERVER fx OPTIONS (path '/accounts.csv?v=..');
-- a path that would move the request to another host (and send it the key)
-- or port is accepted here, as the server is not known yet ...
CREATE FOREIGN TABLE sec_elsewhere (has_id text) SERVER fx
  OPTIONS (path '@localhost:18765/accounts.csv');
CREATE FOREIGN TABLE sec_other_port (has_id text) SERVER fx OPTIONS (path ':18766/accounts.csv');
-- ... and the redirects these ask for are known only when they come
CREATE FOREIGN TABLE sec_to_file (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?redirect_to=file%3A%2F%2F%2Fetc%2Fpasswd');
CREATE FOREIGN TABLE sec_to_ftp (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?redirect_to=ftp%3A%2F%2F127.0.0.1%2Fx.csv');
RESET ROLE;
-- scanned (by any role): the path leading away fails before any request,
-- and a redirect to another scheme is refused
SELECT * FROM fixture_reset;
SELECT count(*) FROM sec_dots;
SELECT count(*) FROM sec_elsewhere;
SELECT count(*) FROM sec_other_port;
EXPLAIN (COSTS OFF) SELECT * FROM sec_elsewhere;
SELECT count(*) FROM sec_to_file;
SELECT count(*) FROM sec_to_ftp;
SELECT target, status FROM fixture_log ORDER BY seq;
SET ROLE hvcsv_sec_user;

-- ca_file is a path on the database server: superusers and
-- pg_read_server_files only, like file_fdw's filename
CREATE SERVER sec_ca FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'https://export.example.com', ca_file '/etc/ssl/certs/ca-certificates.crt');
-- and so is hvcsv_fdw.allowed_hosts
SET hvcsv_fdw.allowed_hosts = '';
RESET ROLE;
CREATE SERVER sec_ca FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'https://127.0.0.1:18766', ca_file '/etc/ssl/certs/ca-certificates.crt');
CREATE SERVER sec_ca_empty FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'https://127.0.0.1:18766', ca_file '');
GRANT pg_read_server_files TO hvcsv_sec_user;
SET ROLE hvcsv_sec_user;
CREATE SERVER sec_ca_granted FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'https://export.example.com', ca_file '/etc/ssl/certs/ca-certificates.crt');
RESET ROLE;
REVOKE pg_read_server_files FROM hvcsv_sec_user;

--
-- hvcsv_fdw.allowed_hosts
--
-- entries are checked when set
SET hvcsv_fdw.allowed_hosts = 'api.example.com, exa mple.com';
SET hvcsv_fdw.allowed_hosts = '*.';
SET hvcsv_fdw.allowed_hosts = '[::1';
SET hvcsv_fdw.allowed_hosts = '::1';
SET hvcsv_fdw.allowed_hosts = '[example.com]';
SET hvcsv_fdw.allowed_hosts = '10.1.2';
SET hvcsv_fdw.allowed_hosts = 'example.com:0';
SET hvcsv_fdw.allowed_hosts = 'example.com:65536';
SET hvcsv_fdw.allowed_hosts = '*.10.0.0.1';
SHOW hvcsv_fdw.allowed_hosts;

-- a host, with or without a port; servers are checked when created or altered
SET hvcsv_fdw.allowed_hosts = '127.0.0.1:18765, example.com';
CREATE SERVER sec_ok FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765/x');
CREATE SERVER sec_port FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18766/x');
CREATE SERVER sec_name FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://localhost:18765/x');
CREATE SERVER sec_any_port FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://EXAMPLE.com.:8443/x');
CREATE SERVER sec_sub FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://api.example.com/x');
ALTER SERVER sec_ok OPTIONS (SET api_url 'http://127.0.0.2:18765/x');
-- other spellings of an address are the address libcurl connects to
CREATE SERVER sec_number FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://2130706433:18765/');
CREATE SERVER sec_hex FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://0x7f.1:18765/');
CREATE SERVER sec_number2 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://2130706434:18765/');
-- a wildcard admits the names below it, not the name itself or look-alikes
SET hvcsv_fdw.allowed_hosts = '*.example.com';
CREATE SERVER sec_w1 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://a.b.example.com/');
CREATE SERVER sec_w2 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://example.com/');
CREATE SERVER sec_w3 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://evilexample.com/');
CREATE SERVER sec_w4 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://example.com.evil.net/');
CREATE SERVER sec_w5 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://x%2eexample.com/');
-- IPv6 addresses, in brackets, compared by value
SET hvcsv_fdw.allowed_hosts = '[::1]:8080';
CREATE SERVER sec_v6 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://[0:0:0:0:0:0:0:1]:8080/');
CREATE SERVER sec_v6_port FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://[::1]/');

-- at every request: fx was created before the setting, and fails now,
-- before any request is sent
RESET hvcsv_fdw.allowed_hosts;
CREATE FOREIGN TABLE sec_plain (has_id text) SERVER fx OPTIONS (path '/accounts.csv');
SELECT * FROM fixture_reset;
SET hvcsv_fdw.allowed_hosts = 'localhost';
SELECT try('SELECT count(*) FROM sec_plain');
RESET hvcsv_fdw.allowed_hosts;
SELECT count(*) AS requests FROM fixture_log;
SELECT count(*) FROM sec_plain;

-- every redirect is held to it too; the error names the host
SET hvcsv_fdw.allowed_hosts = '127.0.0.1';
CREATE FOREIGN TABLE sec_redirected (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv%3Fnoauth%3D1');
SELECT * FROM fixture_reset;
SELECT count(*) FROM sec_redirected;
SELECT target, status, auth FROM fixture_log ORDER BY seq;
SET hvcsv_fdw.allowed_hosts = '127.0.0.1, localhost';
SELECT count(*) FROM sec_redirected;
RESET hvcsv_fdw.allowed_hosts;

--
-- Non-public addresses (loopback, private, link-local, ...) are reached
-- only for hosts that hvcsv_fdw.allowed_hosts lists, and for the host and
-- port of the api_url of a server that a superuser owns.  Every address a
-- connection goes to is checked, on every hop: an address, a name that
-- resolves to one, and a redirect are refused alike.
--
-- a role that is not a superuser is refused an address when it creates a
-- server ...
SET ROLE hvcsv_sec_user;
CREATE SERVER sec_loopback FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
CREATE SERVER sec_metadata FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://169.254.169.254/latest/meta-data/');
CREATE SERVER sec_private FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://10.20.30.40/');
CREATE SERVER sec_shared FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://100.64.0.1/');
CREATE SERVER sec_zero FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://0.0.0.0:18765/');
CREATE SERVER sec_np_number FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://2130706433:18765/');
CREATE SERVER sec_np_v6 FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://[::1]:18765/');
CREATE SERVER sec_v6_mapped FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://[::ffff:127.0.0.1]:18765/');
CREATE SERVER sec_v6_local FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://[fd00::1]/');
-- ... and a name that resolves to one, when it connects
CREATE SERVER sec_localhost FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://localhost:18765', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_localhost OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE sec_by_name (has_id text) SERVER sec_localhost OPTIONS (path '/accounts.csv');
SELECT count(*) FROM sec_by_name;
-- public addresses are fine (nothing is fetched here)
CREATE SERVER sec_public FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'https://93.184.215.14/');
-- a superuser's server reaches its own api_url for any role: fx is on
-- 127.0.0.1:18765 (the fixture answers noauth=1 without the key)
CREATE FOREIGN TABLE sec_on_fx (has_id text) SERVER fx OPTIONS (path '/accounts.csv?noauth=1');
SELECT count(*) FROM sec_on_fx;
-- but not another host or port it redirects to
CREATE FOREIGN TABLE sec_fx_to_name (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?noauth=1&redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv%3Fnoauth%3D1');
SELECT count(*) FROM sec_fx_to_name;
RESET ROLE;
-- nor for the superuser itself: here to the hostile server's /ok, another
-- port of the same address
CREATE FOREIGN TABLE sec_fx_to_port (a int, b int) SERVER fx
  OPTIONS (path '/accounts.csv?redirect_to=http%3A%2F%2F127.0.0.1%3A18770%2Fok');
SELECT * FROM fixture_reset;
SELECT count(*) FROM sec_fx_to_name;
SELECT count(*) FROM sec_fx_to_port;
SELECT target, status FROM fixture_log ORDER BY seq;
-- the owner counts, not who created the server: given to a role that is
-- not a superuser, a server on 127.0.0.1 is refused
CREATE SERVER sec_given FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
CREATE FOREIGN TABLE sec_on_given (has_id text) SERVER sec_given OPTIONS (path '/accounts.csv?noauth=1');
SELECT count(*) FROM sec_on_given;
ALTER SERVER sec_given OWNER TO hvcsv_sec_user;
SELECT count(*) FROM sec_on_given;
-- hvcsv_fdw.allowed_hosts admits the hosts it lists, for every role
SET hvcsv_fdw.allowed_hosts = '127.0.0.1:18765, localhost:18765, 127.0.0.1:18770';
SELECT count(*) FROM sec_on_given;
SELECT count(*) FROM sec_fx_to_port;
SET ROLE hvcsv_sec_user;
CREATE SERVER sec_loopback FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:18765');
SELECT count(*) FROM sec_by_name;
SELECT count(*) FROM sec_fx_to_name;
RESET ROLE;
RESET hvcsv_fdw.allowed_hosts;

--
-- The key: never in EXPLAIN, errors, the sync state, pg_stat_activity or
-- the progress view
--
CREATE FUNCTION explain_lines(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
    RETURN NEXT line;
  END LOOP;
END $$;
SELECT key_count(array_agg(l)) AS explain_lines_with_key, count(*) > 0 AS explained
  FROM explain_lines('SELECT * FROM sec_plain') l;
SELECT key_count(array_agg(l)) AS explain_lines_with_key
  FROM explain_lines('SELECT has_id FROM sec_plain WHERE has_id > ''A''') l;

-- errors of every kind, each one checked for the key
CREATE SERVER sec_small FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '10', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_small
  OPTIONS (api_key 'test-secret-key', auth_scheme 'Bearer');
CREATE FOREIGN TABLE sec_too_big (has_id text) SERVER sec_small OPTIONS (path '/accounts.csv?scheme=Bearer');
CREATE FOREIGN TABLE sec_401 (has_id text) SERVER sec_small OPTIONS (path '/accounts.csv');
CREATE FOREIGN TABLE sec_503 (has_id text) SERVER fx OPTIONS (path '/accounts.csv?always=1');
CREATE FOREIGN TABLE sec_404 (has_id text) SERVER fx OPTIONS (path '/no_such.csv');
CREATE FOREIGN TABLE sec_loop (has_id text) SERVER fx OPTIONS (path '/accounts.csv?redirect=9');
CREATE FOREIGN TABLE sec_bad_csv (has_id int) SERVER fx OPTIONS (path '/accounts.csv');
CREATE FOREIGN TABLE sec_to_http_only (has_id text) SERVER fx
  OPTIONS (path '/accounts.csv?redirect_to=gopher%3A%2F%2F127.0.0.1%2F');
CREATE TABLE sec_errors AS
SELECT e FROM unnest(ARRAY[
  try('SELECT count(*) FROM sec_too_big'),
  try('SELECT count(*) FROM sec_401'),
  try('SELECT count(*) FROM sec_503'),
  try('SELECT count(*) FROM sec_404'),
  try('SELECT count(*) FROM sec_loop'),
  try('SELECT sum(has_id) FROM sec_bad_csv'),
  try('SELECT count(*) FROM sec_elsewhere'),
  try('SELECT count(*) FROM sec_to_http_only'),
  try('CREATE USER MAPPING FOR hvcsv_sec_other SERVER fx OPTIONS (api_key E''test-secret-key\n'')'),
  try('ALTER USER MAPPING FOR CURRENT_USER SERVER fx OPTIONS (ADD api_key ''x'')'),
  try('CREATE SERVER s_key FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url ''http://127.0.0.1/'', api_key ''test-secret-key'')')
  ]) e;
SELECT * FROM sec_errors;
SELECT key_count(array_agg(e)) AS errors_with_key FROM sec_errors;
-- a key of up to 64 kB is taken; a longer one is refused, not shown
SELECT try(format('CREATE USER MAPPING FOR hvcsv_sec_other SERVER fx OPTIONS (api_key %L)',
                  repeat('k', 64 * 1024)));
SELECT try(format('ALTER USER MAPPING FOR hvcsv_sec_other SERVER fx OPTIONS (SET api_key %L)',
                  repeat('k', 64 * 1024 + 1)));
DROP USER MAPPING FOR hvcsv_sec_other SERVER fx;

-- the sync state, history and rejects of refreshes that worked and failed
CREATE TABLE sec_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE sec_src (has_id text, name text) SERVER fx
  OPTIONS (path '/accounts.csv', target 'sec_target');
CREATE TABLE sec_target_bad (has_id text PRIMARY KEY, name int);
CREATE FOREIGN TABLE sec_src_bad (has_id text, name int) SERVER fx
  OPTIONS (path '/accounts.csv', target 'sec_target_bad', on_error 'skip');
CREATE TABLE sec_target_401 (has_id text PRIMARY KEY);
CREATE FOREIGN TABLE sec_src_401 (has_id text) SERVER sec_small
  OPTIONS (path '/accounts.csv', target 'sec_target_401');
SET hvcsv_fdw.refresh_failure = 'warning';
SELECT foreign_table, status, rows_inserted, rows_rejected FROM hvcsv_refresh('sec_src')
UNION ALL SELECT foreign_table, status, rows_inserted, rows_rejected FROM hvcsv_refresh('sec_src_bad')
UNION ALL SELECT foreign_table, status, rows_inserted, rows_rejected FROM hvcsv_refresh('sec_src_401');
RESET hvcsv_fdw.refresh_failure;
SELECT foreign_table, status, last_error FROM hvcsv_sync_state
 WHERE foreign_table::text LIKE 'sec_%' ORDER BY 1;
SELECT (SELECT count(*) FROM hvcsv_rejects) > 0 AS have_rejects,
       key_count((SELECT array_agg(s::text) FROM hvcsv_sync_state s)) AS state_rows_with_key,
       key_count((SELECT array_agg(h::text) FROM hvcsv_sync_history h)) AS history_rows_with_key,
       key_count((SELECT array_agg(r::text) FROM hvcsv_rejects r)) AS reject_rows_with_key;
-- nor the spool's metadata
SELECT count(*) > 0 AS have_meta,
       key_count(array_agg(pg_read_file('pg_hvcsv_spool_security/' || f))) AS meta_files_with_key
  FROM pg_ls_dir('pg_hvcsv_spool_security') f WHERE f LIKE '%.meta';

-- pg_stat_activity and hvcsv_refresh_progress while a refresh worker downloads
CREATE TABLE sec_slow_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE sec_slow_src (has_id text, name text) SERVER fx
  OPTIONS (path '/accounts.csv?rate=150', target 'sec_slow_target');
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'SET hvcsv_fdw.spool_directory = ''pg_hvcsv_spool_security''');
SELECT dblink_send_query('other', 'SELECT status FROM hvcsv_refresh(''sec_slow_src'')');
SELECT wait_for_download();
SELECT count(*) AS refresh_workers,
       key_count(array_agg(a::text)) AS activity_rows_with_key
  FROM pg_stat_activity a WHERE backend_type = 'hvcsv_fdw refresh';
SELECT key_count((SELECT array_agg(a::text) FROM pg_stat_activity a)) AS activity_rows_with_key,
       key_count((SELECT array_agg(p::text) FROM hvcsv_refresh_progress p)) AS progress_rows_with_key,
       key_count((SELECT array_agg(p::text) FROM pg_stat_progress_copy p)) AS copy_progress_rows_with_key;
SELECT * FROM dblink_get_result('other') AS t(status text);
SELECT dblink_disconnect('other');

--
-- hvcsv_fdw.max_bytes: a superuser's limit on every body, whatever a
-- server's max_bytes says (the smaller of the two applies), in decoded bytes
--
SHOW hvcsv_fdw.max_bytes;
SET ROLE hvcsv_sec_user;
SET hvcsv_fdw.max_bytes = '-1';
RESET ROLE;
SET hvcsv_fdw.max_bytes = '0';
SET hvcsv_fdw.max_bytes = '1 TB of it';
-- accounts.csv has 493 bytes; gzip=1 sends 351 of them, compressed
CREATE FOREIGN TABLE sec_capped (has_id text) SERVER fx OPTIONS (path '/accounts.csv?v=capped');
CREATE FOREIGN TABLE sec_capped_gz (has_id text) SERVER fx OPTIONS (path '/accounts.csv?v=capped&gzip=1');
SET hvcsv_fdw.max_bytes = '400';
SELECT count(*) FROM sec_capped;
SELECT count(*) FROM sec_capped_gz;
-- a server's smaller max_bytes still applies (sec_small: 10 bytes)
SELECT count(*) FROM sec_too_big;
SET hvcsv_fdw.max_bytes = '-1';
SELECT count(*) FROM sec_capped;
SELECT count(*) FROM sec_capped_gz;
RESET hvcsv_fdw.max_bytes;

SET client_min_messages = warning;
DROP OWNED BY hvcsv_sec_user, hvcsv_sec_other CASCADE;
DROP ROLE hvcsv_sec_user;
DROP ROLE hvcsv_sec_other;
RESET client_min_messages;
