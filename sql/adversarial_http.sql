--
-- A hostile HTTP server (test/hostile_server.py on 127.0.0.1:18770, started
-- by test/run_all.sh) answers in each lying or malformed way of the security
-- review; each gets a clear error or the right rows, through a download
-- (the projected reader's spool) and through the streaming reader.  Its
-- export is "a,b" and 1000 rows "i,1" (version 1) or "i,2" (version 2),
-- 5897 bytes either way; a broken answer breaks after 3001 bytes.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_adversarial';

-- a superuser's server: its own host and port are reached on loopback
CREATE SERVER hostile FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18770', max_retries '2', retry_delay '0.05',
           max_retry_delay '0.1');
CREATE FOREIGN TABLE hostile_log (seq int, target text, status int, range text, if_range text,
  accept_encoding text) SERVER hostile OPTIONS (path '/_log.csv');
CREATE FOREIGN TABLE hostile_reset (reset boolean) SERVER hostile OPTIONS (path '/_reset');

-- reads path (with r=<reader> added, so each reader has its own requests)
-- through the projected and the streaming reader: the rows, or the error
-- with its SQLSTATE and detail
CREATE FUNCTION both_readers(path text) RETURNS TABLE (reader text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
  state text;
  msg text;
  detail text;
BEGIN
  FOREACH reader IN ARRAY ARRAY['projected', 'streaming'] LOOP
    BEGIN
      EXECUTE format('CREATE FOREIGN TABLE hostile_t (a int, b int) SERVER hostile OPTIONS (path %L, reader %L)',
                     path || CASE WHEN path LIKE '%?%' THEN '&' ELSE '?' END || 'r=' || reader, reader);
      SELECT format('%s rows, b from %s to %s', count(*), min(b), max(b)) INTO outcome FROM hostile_t;
      DROP FOREIGN TABLE hostile_t;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
      outcome := 'ERROR ' || state || ': ' || msg || coalesce(' DETAIL: ' || nullif(detail, ''), '');
    END;
    RETURN NEXT;
  END LOOP;
END $$;

--
-- Resumption: a 206 continues the body only if it is of the same version
-- of the export, by the first answer's strong ETag (or, without one, its
-- Last-Modified), and starts at the byte asked for.  Here the first answer
-- (version 1, ETag "OLD") breaks after 3001 bytes; the server then ignores
-- If-Range and answers from version 2 (ETag "NEW").  A download starts
-- over and holds version 2 alone; the streaming reader, which has returned
-- rows of version 1, fails.
--
SELECT * FROM hostile_reset;
SELECT * FROM both_readers('/ifrange_etag');
SELECT target, status, range, if_range FROM hostile_log ORDER BY seq;
-- the same by Last-Modified, when the first answer has no ETag, or only a
-- weak one (never used to resume)
SELECT * FROM both_readers('/ifrange_date');
SELECT * FROM both_readers('/ifrange_weak');
-- a 206 without the validator may be of any version
SELECT * FROM both_readers('/ifrange_no_etag');
-- an honest server is resumed, by ETag or by date
SELECT * FROM both_readers('/resume_etag');
SELECT * FROM both_readers('/resume_date');
-- hvcsv_refresh() writes one version, and records its ETag
CREATE TABLE splice_target (a int PRIMARY KEY, b int);
CREATE FOREIGN TABLE splice_src (a int, b int) SERVER hostile
  OPTIONS (path '/ifrange_etag?r=refresh', target 'splice_target');
SELECT status, rows_inserted FROM hvcsv_refresh('splice_src');
SELECT count(*), min(b), max(b) FROM splice_target;
SELECT etag FROM hvcsv_sync_state WHERE foreign_table = 'splice_src'::regclass;

-- 206 answers that do not say where they start, or start elsewhere, or are
-- compressed: each is named; a download starts over (at most max_retries
-- times), the streaming reader fails
SELECT p AS path, r.* FROM unnest(ARRAY['range_wrong_start', 'range_no_content_range',
  'range_bad_content_range', 'range_gzip']) p, both_readers('/' || p) r;
-- the whole body again (200) to a Range request: a download takes it, the
-- streaming reader cannot
SELECT * FROM both_readers('/range_200');
-- part of the body (206) to a request for all of it
SELECT p AS path, r.* FROM unnest(ARRAY['p206_no_range', 'p206_middle']) p, both_readers('/' || p) r;

--
-- Lengths: Content-Length headers that differ are an error (RFC 9112,
-- section 6.3), in two headers or in one list; equal ones are one.  A
-- length longer than the body is a break (resumed if it can be); HTTP/1.0
-- without a length ends with the connection.
--
SELECT p AS path, r.* FROM unnest(ARRAY['dup_length', 'dup_length_list', 'dup_length_same',
  'dup_length_list_same', 'negative_length', 'length_too_long', 'http10']) p, both_readers('/' || p) r;

--
-- Silence: a server that accepts the connection and never answers has
-- stalled `timeout` seconds after the connection, whatever connect_timeout
-- allows for connecting; one that sends a byte a second has not, and only
-- statement_timeout (or cancel) stops it
--
CREATE SERVER hostile_slow FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18770', connect_timeout '30', timeout '2', max_retries '1');
CREATE FOREIGN TABLE silent (a int, b int) SERVER hostile_slow OPTIONS (path '/silent');
SELECT seconds('SELECT count(*) FROM silent') < 6 AS stalled_after_timeout;
SELECT count(*) FROM silent;
CREATE FOREIGN TABLE trickle (a int, b int) SERVER hostile_slow
  OPTIONS (path '/trickle', reader 'streaming');
SET statement_timeout = '3s';
SELECT count(*) FROM trickle;
RESET statement_timeout;

--
-- Content encodings, whether asked for or not, are decoded: gzip, x-gzip,
-- deflate (zlib or raw), stacked, listed in two headers, with identity,
-- and a gzip body of two members; every request asks for gzip
--
SELECT * FROM hostile_reset;
SELECT p AS path, r.* FROM unnest(ARRAY['gzip', 'x_gzip', 'deflate_zlib', 'deflate_raw',
  'gzip_gzip', 'gzip_two_headers', 'gzip_identity', 'gzip_multimember']) p, both_readers('/' || p) r;
SELECT accept_encoding, count(*) FROM hostile_log GROUP BY accept_encoding;
-- what cannot be decoded is an error that names the coding: bad data,
-- compressed data cut short in a whole response, data after its end, six
-- codings, codings that are not decoded (br, zstd, unknown), a header that
-- is not a list of codings, and a transfer coding that was not asked for
SELECT p AS path, r.* FROM unnest(ARRAY['gzip_garbage', 'gzip_truncated', 'gzip_trailing',
  'gzip_six', 'br_garbage', 'zstd_garbage', 'unknown_encoding', 'bad_encoding', 'te_gzip']) p,
  both_readers('/' || p) r;
-- compressed twice, labelled once: the label undoes one, and what is left
-- is a gzip file, told by its first bytes (compression 'auto')
SELECT * FROM both_readers('/gzip_as_single');

--
-- A gzip bomb (2 GiB of "1,2" lines in 2 MB): max_bytes counts decoded
-- bytes, so it stops it at once, the server's option and hvcsv_fdw.max_bytes
-- alike
--
CREATE SERVER hostile_10mb FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18770', max_bytes '10MB', max_retries '1');
CREATE FOREIGN TABLE bomb_spool (a int, b int) SERVER hostile_10mb OPTIONS (path '/gzbomb');
CREATE FOREIGN TABLE bomb_stream (a int, b int) SERVER hostile_10mb
  OPTIONS (path '/gzbomb', reader 'streaming');
SELECT count(*) FROM bomb_spool;
-- (the line a streaming scan has reached depends on how the bytes came)
SELECT try('SELECT count(*) FROM bomb_stream');
CREATE FOREIGN TABLE bomb (a int, b int) SERVER hostile OPTIONS (path '/gzbomb', reader 'streaming');
SET hvcsv_fdw.max_bytes = '1MB';
SELECT try('SELECT count(*) FROM bomb');
RESET hvcsv_fdw.max_bytes;
-- streamed, a compressed body is decoded a buffer at a time, however much
-- a piece of it inflates to: 64 MiB of the bomb grow the backend's peak
-- memory by well under 16 MB
CREATE OR REPLACE FUNCTION peak_kb() RETURNS bigint LANGUAGE sql AS
  $$ SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint $$;
CREATE FOREIGN TABLE bomb_64 (a int, b int) SERVER hostile
  OPTIONS (path '/gzbomb?mb=64', reader 'streaming');
CREATE FOREIGN TABLE hostile_ok (a int, b int) SERVER hostile OPTIONS (path '/ok', reader 'streaming');
\c
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_adversarial';
SELECT count(*) FROM hostile_ok;
SELECT peak_kb() AS before_kb \gset
SELECT count(*) = 64 * 262144 AS every_row, sum(b) = 2 * 64 * 262144 AS every_value FROM bomb_64;
SELECT peak_kb() - :before_kb < 16 * 1024 AS bounded;
-- a layer that decodes to nothing under one that inflates it (empty
-- deflate blocks, gzipped): what the inner layer decodes counts against
-- max_bytes too, so 64 MiB of it stop at the server's 10 MB ...
CREATE FOREIGN TABLE empty_blocks (a int, b int) SERVER hostile_10mb
  OPTIONS (path '/empty_blocks_bomb', reader 'streaming');
SELECT try('SELECT count(*) FROM empty_blocks');
-- ... and without a limit the decoding is done a bounded piece at a time,
-- so a cancel stops it at once
SET hvcsv_fdw.max_bytes = -1;
CREATE FOREIGN TABLE empty_blocks_all (a int, b int) SERVER hostile
  OPTIONS (path '/empty_blocks_bomb?mb=100000', reader 'streaming');
SELECT clock_timestamp() AS started \gset
SET statement_timeout = '1s';
SELECT count(*) FROM empty_blocks_all;
RESET statement_timeout;
SELECT clock_timestamp() - :'started' < interval '5 s' AS cancelled_at_once;
RESET hvcsv_fdw.max_bytes;
-- a third layer could multiply the work a thousandfold again: refused
SELECT * FROM both_readers('/gzip_three');

--
-- Headers: a line longer than libcurl takes (1 MiB of a header, or of an
-- ETag) is named as such; an ETag too long to keep (300 bytes) is only not
-- used; more than 300 kB of headers, and a NUL byte in one, are libcurl's
-- to refuse
--
SELECT p AS path, r.* FROM unnest(ARRAY['huge_header_line', 'giant_etag', 'long_etag',
  'many_headers', 'nul_header']) p, both_readers('/' || p) r;
-- answers that are no HTTP, or not the answer asked for; Retry-After is
-- held to max_retry_delay
SELECT p AS path, r.* FROM unnest(ARRAY['garbage_status', 'empty_reply', 'status_999',
  'always_304', 'retry_after_huge']) p, both_readers('/' || p) r;

--
-- Chunked bodies: sizes that are not hex, too large or negative, and bodies
-- without their last chunk are errors; extensions, and a Content-Length
-- beside chunked, are not
--
SELECT p AS path, r.* FROM unnest(ARRAY['chunked_bad_hex', 'chunked_huge', 'chunked_negative',
  'chunked_no_final', 'chunked_short', 'chunked_and_length', 'chunked_extension']) p,
  both_readers('/' || p) r;

--
-- Redirects: at most 5, http and https only, with a Location; another host
-- or port (here this server by name, the fixture server's port, the cloud
-- metadata address) is a non-public address that hvcsv_fdw.allowed_hosts
-- must list, even from a superuser's server
--
SELECT p AS path, r.* FROM unnest(ARRAY['redirect_loop', 'redirect_file', 'redirect_gopher',
  'redirect_no_location', 'redirect_relative', 'redirect_other_host', 'redirect_other_port',
  'redirect_metadata']) p, both_readers('/' || p) r;
SET hvcsv_fdw.allowed_hosts = '127.0.0.1:18770, localhost:18770';
SELECT * FROM both_readers('/redirect_other_host');
RESET hvcsv_fdw.allowed_hosts;
