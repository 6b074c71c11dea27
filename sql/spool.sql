--
-- The spool: a fresh copy is reused, an older one is revalidated with a
-- conditional GET, a failed download never replaces a complete spool, user
-- mappings never share one, and concurrent scans download once.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_spool';

-- the fixture's files can be rewritten by the server (test/run_all.sh
-- serves a writable copy of test/data from this directory)
COPY (SELECT * FROM (VALUES ('id,name'), ('1,one'), ('2,two')) v)
  TO '/tmp/hvcsv_fixture_www/spooled.csv';
CREATE FOREIGN TABLE spooled (id int, name text) SERVER fx OPTIONS (path '/spooled.csv');

-- first scan: a full GET; later scans: a conditional GET answered by 304
SELECT * FROM fixture_reset;
SELECT * FROM spooled ORDER BY id;
SELECT * FROM spooled ORDER BY id;
SELECT target, status, if_none_match <> '' AS conditional FROM fixture_log ORDER BY seq;

-- one statement reading the table twice fetches once
SELECT * FROM fixture_reset;
SELECT count(*) FROM spooled a, spooled b;
SELECT count(*) AS requests FROM fixture_log;

-- a changed file is fetched again
COPY (SELECT * FROM (VALUES ('id,name'), ('1,one'), ('2,two'), ('3,three')) v)
  TO '/tmp/hvcsv_fixture_www/spooled.csv';
SELECT * FROM fixture_reset;
SELECT * FROM spooled ORDER BY id;
SELECT status, bytes_sent > 0 AS body FROM fixture_log ORDER BY seq;

-- with max_age, a fresh spool is used without asking
ALTER SERVER fx OPTIONS (ADD max_age '1h');
SELECT * FROM fixture_reset;
SELECT count(*) FROM spooled;
SELECT count(*) AS requests FROM fixture_log;
ALTER SERVER fx OPTIONS (DROP max_age);

-- a download that breaks midway leaves the old spool whole and no debris:
-- the file changes, every transfer of it is cut, the scan fails ...
COPY (SELECT * FROM (VALUES ('id,name'), ('7,seven'), ('8,eight'), ('9,nine')) v)
  TO '/tmp/hvcsv_fixture_www/spooled.csv';
SELECT * FROM fixture_reset;
SELECT set_fault('/spooled.csv', 'cut=12&norange=1');
SELECT * FROM spooled;
SELECT status, complete FROM fixture_log ORDER BY seq;
SELECT count(*) AS leftovers FROM pg_ls_dir('pg_hvcsv_spool_spool') f WHERE f LIKE '%.tmp';
-- ... and the spool still holds the last complete download
ALTER SERVER fx OPTIONS (ADD max_age '1h');
SELECT * FROM spooled ORDER BY id;
ALTER SERVER fx OPTIONS (DROP max_age);
SELECT set_fault('/spooled.csv');
SELECT * FROM spooled ORDER BY id;

-- two user mappings never share a spool, even when one is fresh
ALTER SERVER fx OPTIONS (ADD max_age '1h');
SELECT count(*) FROM spooled;
CREATE ROLE hvcsv_alice;
CREATE ROLE hvcsv_bob;
GRANT SELECT ON spooled TO hvcsv_alice, hvcsv_bob;
CREATE USER MAPPING FOR hvcsv_alice SERVER fx OPTIONS (api_key 'alice-wrong-key');
CREATE USER MAPPING FOR hvcsv_bob SERVER fx OPTIONS (api_key 'test-secret-key');
SELECT * FROM fixture_reset;
SET ROLE hvcsv_alice;
SELECT count(*) FROM spooled;
SET ROLE hvcsv_bob;
SELECT count(*) FROM spooled;
SELECT count(*) FROM spooled;
RESET ROLE;
SELECT status, auth FROM fixture_log ORDER BY seq;
ALTER SERVER fx OPTIONS (DROP max_age);

-- two sessions scanning a slow export at once download it once
CREATE FOREIGN TABLE slow (id int, name text) SERVER fx OPTIONS (path '/spooled.csv?rate=40');
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('other', 'SET hvcsv_fdw.spool_directory = ''pg_hvcsv_spool_spool''');
SELECT * FROM fixture_reset;
SELECT dblink_send_query('other', 'SELECT count(*) FROM slow');
SELECT pg_sleep(0.3);
SELECT count(*) FROM slow;
SELECT * FROM dblink_get_result('other') AS t(n bigint);
-- (the server logs a throttled response a moment after its last byte)
SELECT pg_sleep(0.5);
SELECT target, status FROM fixture_log ORDER BY seq;
SELECT dblink_disconnect('other');

SET client_min_messages = warning;
DROP OWNED BY hvcsv_alice, hvcsv_bob CASCADE;
DROP ROLE hvcsv_alice;
DROP ROLE hvcsv_bob;
