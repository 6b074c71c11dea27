--
-- HTTP behaviours: redirects (followed by hvcsv_fdw itself: at most 5, the
-- Authorization header only for the scheme, host and port of the first
-- request, every retry from the URL the user gave) and compressed bodies
-- (asked for, decoded, never resumed at a decoded offset).  Hosts and
-- schemes of redirects: see the security test.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_http';

-- the fixture's log, with the columns this test looks at
CREATE FOREIGN TABLE http_log (seq int, target text, status int, range text, auth text,
  bytes_sent bigint, complete boolean, accept_encoding text)
  SERVER control OPTIONS (path '/_log.csv');

CREATE FOREIGN TABLE http_plain (has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts.csv');
-- makes a table like http_plain for another path and reader
CREATE FUNCTION accounts_table(name text, path text, reader text DEFAULT 'projected')
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE FOREIGN TABLE %I (has_id text, name text, city text, created_at timestamptz,
    email text, amount numeric, active boolean, notes text)
    SERVER fx OPTIONS (path %L, reader %L)', name, path, reader);
END $$;
-- rows of a table that http_plain lacks, and the other way round
CREATE FUNCTION differences(name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM %I EXCEPT ALL SELECT * FROM http_plain)
    UNION ALL (SELECT * FROM http_plain EXCEPT ALL SELECT * FROM %I)) d', name, name) INTO n;
  RETURN n;
END $$;

--
-- Redirects
--
-- five are followed, with the key on every hop to the same host and port
SELECT accounts_table('five_redirects', '/accounts.csv?redirect=5');
SELECT * FROM fixture_reset;
SELECT count(*) FROM five_redirects;
SELECT target, status, auth FROM http_log ORDER BY seq;
-- a sixth is an error
SELECT accounts_table('six_redirects', '/accounts.csv?redirect=6');
SELECT * FROM fixture_reset;
SELECT count(*) FROM six_redirects;
SELECT count(*) AS requests FROM http_log;

-- a relative Location, and an absolute one to the same scheme, host and
-- port, keep the key
SELECT accounts_table('relative', '/accounts.csv?redirect_to=%2Faccounts.csv%3Fv%3D2');
SELECT accounts_table('same_origin',
  '/accounts.csv?redirect_to=HTTP%3A%2F%2F127.0.0.1%3A18765%2Faccounts.csv%3Fv%3D3');
SELECT * FROM fixture_reset;
SELECT count(*) FROM relative;
SELECT count(*) FROM same_origin;
SELECT target, status, auth FROM http_log ORDER BY seq;

-- another host gets no Authorization header: an export that needs the key
-- fails, with a hint that says why; a pre-signed one (noauth=1) works
-- (a redirect to another host or port reaches a loopback address only if
-- hvcsv_fdw.allowed_hosts lists it, whoever owns the server: see the
-- security test)
SET hvcsv_fdw.allowed_hosts = '127.0.0.1, localhost';
SELECT accounts_table('cross_host',
  '/accounts.csv?redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv');
SELECT accounts_table('presigned',
  '/accounts.csv?redirect_to=http%3A%2F%2Flocalhost%3A18765%2Faccounts.csv%3Fnoauth%3D1%26X-Amz-Signature%3Dabc');
SELECT * FROM fixture_reset;
SELECT count(*) FROM cross_host;
SELECT differences('presigned');
SELECT target, status, auth FROM http_log ORDER BY seq;

-- a failure after a redirect names both URLs; another port is another
-- origin; each retry starts from the URL the user gave
SELECT accounts_table('other_port',
  '/accounts.csv?redirect_to=http%3A%2F%2F127.0.0.1%3A1%2Faccounts.csv');
SELECT accounts_table('redirect_then_503', '/accounts.csv?redirect_to=%2Faccounts.csv%3Ffail%3D1');
SELECT * FROM fixture_reset;
SELECT try('SELECT count(*) FROM other_port');
SELECT count(*) FROM redirect_then_503;
SELECT target, status, auth FROM http_log ORDER BY seq;
RESET hvcsv_fdw.allowed_hosts;

--
-- Compressed bodies
--
-- every request asks for gzip; a plain answer is read as it is
SELECT * FROM fixture_reset;
SELECT count(*) FROM http_plain;
SELECT target, accept_encoding FROM http_log ORDER BY seq;

-- a gzip body is decoded: the spool holds the CSV (the export's 493 bytes),
-- though fewer bytes travelled; it is revalidated by its own ETag; the rows
-- are those of the plain export
SELECT accounts_table('gz', '/accounts.csv?gzip=1');
SELECT * FROM fixture_reset;
-- (a spool directory of its own, new at every run, holds only this spool)
SELECT 'pg_hvcsv_spool_http_gz' || txid_current() AS gz_dir \gset
SET hvcsv_fdw.spool_directory = :'gz_dir';
SELECT count(*) FROM gz;
SELECT md5(pg_read_binary_file(:'gz_dir' || '/' || f)) =
       md5(pg_read_binary_file('/tmp/hvcsv_fixture_www/accounts.csv')) AS spool_is_the_csv
  FROM pg_ls_dir(:'gz_dir') f WHERE f LIKE '%.csv';
EXPLAIN (COSTS OFF) SELECT * FROM gz;
SELECT count(*) FROM gz;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_http';
SELECT status, bytes_sent < 493 AS compressed, complete, if_none_match
  FROM fixture_log ORDER BY seq;
SELECT differences('gz');

-- a compressed body that breaks is not resumed with Range (that would count
-- decoded bytes as compressed ones): a download starts over ...
SELECT accounts_table('gz_cut', '/accounts.csv?gzip=1&cut=300&cut_times=1');
SELECT * FROM fixture_reset;
SELECT differences('gz_cut');
SELECT status, range, complete FROM http_log WHERE target LIKE '%gzip%' ORDER BY seq;
-- ... and the streaming reader, which cannot take back rows, fails clearly
CREATE FOREIGN TABLE gen_gz_cut (id int) SERVER fx
  OPTIONS (path '/_gen.csv?mb=1&gzip=1&cut=100000&cut_times=1', reader 'streaming');
SELECT * FROM fixture_reset;
SELECT count(*) FROM gen_gz_cut;
SELECT status, range, complete FROM http_log ORDER BY seq;
-- whole, it streams
CREATE FOREIGN TABLE gen_gz (id int) SERVER fx
  OPTIONS (path '/_gen.csv?mb=2&gzip=1', reader 'streaming');
SELECT count(*), count(DISTINCT id) FROM gen_gz;
SELECT accounts_table('gz_streaming', '/accounts.csv?gzip=1', 'streaming');
SELECT differences('gz_streaming');

-- max_bytes limits the decoded size: 351 compressed bytes are 493 decoded
CREATE SERVER http_small FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '400');
CREATE USER MAPPING FOR CURRENT_USER SERVER http_small OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE gz_small (has_id text) SERVER http_small OPTIONS (path '/accounts.csv?gzip=1');
SELECT count(*) FROM gz_small;
-- an error page larger than max_bytes is reported by its status
CREATE SERVER http_tiny FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER http_tiny OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE tiny_404 (has_id text) SERVER http_tiny OPTIONS (path '/no_such.csv');
SELECT count(*) FROM tiny_404;
