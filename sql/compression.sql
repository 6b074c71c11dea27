--
-- Compression by content: a file served as it is (no Content-Encoding, the
-- fixture calls everything text/csv) that gzip, zstd, bzip2, xz or zip made
-- is told by its first bytes and read through every reader; the option
-- compression names the format or 'none'; a broken transfer resumes at the
-- compressed offset; max_bytes counts decoded bytes; damaged files fail.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression';

-- the export, and its copies made by the real tools
COPY (SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 20000) g)
  TO '/tmp/hvcsv_fixture_www/comp.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT g AS id, 'new ' || g AS name FROM generate_series(1, 5) g)
  TO '/tmp/hvcsv_fixture_www/comp_new.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && rm -f comp.zip two.zip && gzip -kfn comp.csv && zstd -qkf comp.csv && bzip2 -kf comp.csv && xz -kf comp.csv && zip -q comp.zip comp.csv && zip -q two.zip comp.csv comp_new.csv && gzip -kfn comp_new.csv';
-- zip writing to a pipe puts the CRC and sizes after the data (a data
-- descriptor), and with its input from a pipe too, as zip64 numbers
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && zip -q - comp.csv | cat > comp_pipe.zip && cat comp.csv | zip -q | cat > comp_stdin.zip';
-- the export in two parts, each compressed on its own and concatenated (as
-- parallel compressors and cat make them), and a zip that stores it as it is
COPY (SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 12345) g)
  TO '/tmp/hvcsv_fixture_www/part1.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT g AS id, md5(g::text) AS name FROM generate_series(12346, 20000) g)
  TO '/tmp/hvcsv_fixture_www/part2.csv' WITH (FORMAT csv);
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && gzip -nc part1.csv part2.csv > multi.csv.gz && zstd -qc part1.csv part2.csv > multi.csv.zst && bzip2 -c part1.csv part2.csv > multi.csv.bz2 && xz -c part1.csv part2.csv > multi.csv.xz && rm -f stored.zip && zip -q -0 stored.zip comp.csv';
-- each cut short on disk: served whole, it ends inside its compressed data
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && for f in comp.csv.gz comp.csv.zst comp.csv.bz2 comp.csv.xz comp.zip; do head -c 50000 $f > short_$f; done';
-- each with bytes overwritten midway
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && for f in comp.csv.gz comp.csv.zst comp.csv.bz2 comp.csv.xz comp.zip; do cp $f bad_$f && printf XXXXXXXXXXXXXXXX | dd of=bad_$f bs=1 seek=30000 conv=notrunc status=none; done';
-- 50 MB of zeros in about 50 kB
COPY (SELECT 1) TO PROGRAM 'head -c 50000000 /dev/zero | gzip -n > /tmp/hvcsv_fixture_www/bomb.csv.gz';

CREATE FOREIGN TABLE comp_plain (id int, name text) SERVER fx OPTIONS (path '/comp.csv');
CREATE FOREIGN TABLE comp (id int, name text) SERVER fx
  OPTIONS (path '/comp.csv.gz', block_size '64kB');

-- rows and a digest of them, of comp with path and reader set
CREATE FUNCTION comp_digest(path text, reader text, OUT rows bigint, OUT digest text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE comp OPTIONS (SET path %L, ADD reader %L)', path, reader);
  SELECT count(*), md5(string_agg(id || ',' || name, E'\n' ORDER BY id))
    INTO rows, digest FROM comp;
  ALTER FOREIGN TABLE comp OPTIONS (DROP reader);
END $$;

SELECT count(*) AS rows, md5(string_agg(id || ',' || name, E'\n' ORDER BY id)) AS digest
  FROM comp_plain \gset plain_

-- every format through every reader gives the export's rows
SELECT path, reader, d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM unnest(ARRAY['/comp.csv.gz', '/comp.csv.zst', '/comp.csv.bz2', '/comp.csv.xz',
                    '/comp.zip']) path,
       unnest(ARRAY['projected', 'partitioned', 'streaming']) reader,
       comp_digest(path, reader) d
  ORDER BY 1, 2;

SELECT path, d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM unnest(ARRAY['/comp_pipe.zip', '/comp_stdin.zip']) path,
       comp_digest(path, 'streaming') d;

SELECT path, d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM unnest(ARRAY['/multi.csv.gz', '/multi.csv.zst', '/multi.csv.bz2', '/multi.csv.xz',
                    '/stored.zip']) path,
       comp_digest(path, 'streaming') d;

-- zero bytes after the end (a writer's padding) are skipped, as gzip, bzip2
-- and xz skip them; zstd's tool refuses them, and so does its format here
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && for f in comp.csv.gz comp.csv.bz2 comp.csv.xz comp.csv.zst; do cp $f padded_$f && head -c 512 /dev/zero >> padded_$f; done';
SELECT path, d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM unnest(ARRAY['/padded_comp.csv.gz', '/padded_comp.csv.bz2', '/padded_comp.csv.xz']) path,
       comp_digest(path, 'streaming') d;
ALTER FOREIGN TABLE comp OPTIONS (SET path '/padded_comp.csv.zst');
SELECT count(*) FROM comp;

-- a plain CSV file that begins as bzip2's does ("BZh" and a digit) is read
-- as it is: bzip2's first block follows those bytes in a bzip2 file
COPY (VALUES ('BZh9 code', 'name'), ('BZh9A', 'x')) TO '/tmp/hvcsv_fixture_www/bzh.csv' (FORMAT csv);
CREATE FOREIGN TABLE comp_bzh (a text, b text) SERVER fx OPTIONS (path '/bzh.csv', header 'false');
SELECT * FROM comp_bzh;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM comp_bzh;

-- EXPLAIN shows the format a run found, or the one the option names; the
-- spool holds the CSV, which the partitioned reader splits as usual, and
-- records the format, so a scan that revalidates it shows it too
ALTER FOREIGN TABLE comp OPTIONS (SET path '/comp.csv.xz', ADD reader 'partitioned');
EXPLAIN (COSTS OFF) SELECT * FROM comp;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression_explain';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM comp;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM comp;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression';
ALTER FOREIGN TABLE comp OPTIONS (SET reader 'streaming', ADD compression 'xz');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM comp;
ALTER FOREIGN TABLE comp OPTIONS (DROP reader, DROP compression);
ALTER FOREIGN TABLE comp_plain OPTIONS (ADD reader 'streaming');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM comp_plain;
ALTER FOREIGN TABLE comp_plain OPTIONS (DROP reader);

-- under a Content-Encoding (undone first), the file's own compression
SELECT d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM comp_digest('/comp.csv.bz2?gzip=1', 'streaming') d;

-- a plain file whose first bytes begin like a magic number is plain
COPY (SELECT * FROM (VALUES ('PK'), ('1')) v) TO '/tmp/hvcsv_fixture_www/pk.csv';
CREATE FOREIGN TABLE pk_plain ("PK" int) SERVER fx OPTIONS (path '/pk.csv', reader 'streaming');
SELECT * FROM pk_plain;

-- the option: a format that matches, 'none' (the raw bytes, not a CSV),
-- a format that does not match, a value that is not one
ALTER FOREIGN TABLE comp OPTIONS (SET path '/comp.csv.gz', ADD compression 'gzip');
SELECT count(*) FROM comp;
-- (a spool of its own: it holds the file read as the option says)
ALTER FOREIGN TABLE comp OPTIONS (SET compression 'none');
SELECT left(try('SELECT count(*) FROM comp'), 5) AS sqlstate;
ALTER FOREIGN TABLE comp OPTIONS (SET compression 'zstd');
SELECT count(*) FROM comp;
ALTER FOREIGN TABLE comp OPTIONS (SET path '/comp.zip', SET compression 'zip');
SELECT count(*) FROM comp;
ALTER FOREIGN TABLE comp OPTIONS (SET compression 'lz4');
ALTER FOREIGN TABLE comp OPTIONS (DROP compression);
CREATE FOREIGN TABLE comp_bad (id int) SERVER fx OPTIONS (compression 'brotli');

-- a transfer cut midway resumes with Range at the compressed bytes taken,
-- If-Range guarding it, and the decoder carries on: the same rows, through
-- the spool and streaming alike (spools of their own: each a new download)
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression_cut';
SELECT * FROM fixture_reset;
CREATE FUNCTION cut_once_digest(path text, reader text, OUT rows bigint, OUT digest text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_fault(path, 'cut=100000&cut_times=1');
  SELECT * INTO rows, digest FROM comp_digest(path, reader);
  PERFORM set_fault(path);
END $$;
SELECT path, reader, d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM (VALUES ('/comp.csv.gz', 'projected'), ('/comp.csv.zst', 'streaming'),
               ('/comp.csv.bz2', 'projected'), ('/comp.csv.xz', 'streaming'),
               ('/comp.zip', 'partitioned')) v(path, reader),
       cut_once_digest(path, reader) d;
SELECT target, status, range, if_range <> '' AS if_range, complete
  FROM fixture_log ORDER BY seq;

-- the file changed between the break and the resumption: the server
-- answers the whole new file, and the download starts over with a request
-- of its own, so the decoder starts over too
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression_then';
SELECT * FROM fixture_reset;
SELECT set_fault('/comp.csv.gz', 'cut=100000&cut_times=1&then=/comp_new.csv.gz');
ALTER FOREIGN TABLE comp OPTIONS (SET path '/comp.csv.gz');
SELECT * FROM comp ORDER BY id;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression';
SELECT set_fault('/comp.csv.gz');
SELECT status, range, bytes_sent < 100000 AS new_file
  FROM fixture_log WHERE target = '/comp.csv.gz' ORDER BY seq;
-- a server that changes the file but not its ETag nor its length: the
-- resumed bytes are another file's (4 kB of the bzip2 file at the break),
-- which the decoder finds corrupt, and the hint says why
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && cp comp.csv.gz spliced.csv.gz && dd if=comp.csv.bz2 of=spliced.csv.gz bs=4096 count=1 iflag=skip_bytes oflag=seek_bytes skip=100000 seek=100000 conv=notrunc status=none';
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression_lie';
SELECT set_fault('/comp.csv.gz', 'cut=100000&cut_times=1&etag=same&then=/spliced.csv.gz');
SELECT count(*) FROM comp;
-- the same with a file of another length: the resumption does not end at
-- the body's last byte, so the download starts over, with the new file
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression_lie2';
SELECT set_fault('/comp.csv.gz', 'cut=100000&cut_times=1&etag=same&then=/comp.csv.bz2');
SELECT count(*) FROM comp;
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_compression';
SELECT set_fault('/comp.csv.gz');

-- a server that cannot resume: the streaming reader cannot start over, and
-- gives no rows (how many bytes came before the break depends on the tool)
SELECT set_fault('/comp.csv.gz', 'cut=100000&norange=1');
ALTER FOREIGN TABLE comp OPTIONS (ADD reader 'streaming');
SELECT regexp_replace(try('SELECT count(*) FROM comp'), 'after \d+ bytes', 'after N bytes') AS result;
ALTER FOREIGN TABLE comp OPTIONS (DROP reader);
SELECT set_fault('/comp.csv.gz');

-- but a bzip2 file decodes nothing until a whole block came: cut before,
-- nothing was handed out, so even the streaming reader starts over
SELECT * FROM fixture_reset;
SELECT set_fault('/comp.csv.bz2', 'cut=50000&cut_times=1&norange=1');
SELECT d.rows = :plain_rows AND d.digest = :'plain_digest' AS same
  FROM comp_digest('/comp.csv.bz2', 'streaming') d;
SELECT set_fault('/comp.csv.bz2');
SELECT status, range FROM fixture_log ORDER BY seq;

-- max_bytes counts decoded bytes: 50 MB of zeros in a 50 kB file is
-- stopped at 4 MB, through the spool and streaming alike
CREATE SERVER fx_comp_small FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '4MB', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_comp_small OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE comp_bomb (a text) SERVER fx_comp_small OPTIONS (path '/bomb.csv.gz', header 'false');
SELECT count(*) FROM comp_bomb;
ALTER FOREIGN TABLE comp_bomb OPTIONS (ADD reader 'streaming');
SELECT count(*) FROM comp_bomb;
-- and a break right at the limit leaves the rest of the file not a byte
-- more: a first gzip member of exactly max_bytes (588,895 bytes decoded),
-- the transfer (chunked, so that no length tells before) cut where it
-- ends, then a member of 10 MB of zeros in 10 kB: the compressed bytes
-- stay far below the limit, which only the decoded bytes reach
COPY (SELECT 1) TO PROGRAM 'cd /tmp/hvcsv_fixture_www && seq 1 100000 > m1.csv && gzip -nc m1.csv > m1.csv.gz && cat m1.csv.gz > mbomb.csv.gz && yes 0 | head -n 5000000 | gzip -n >> mbomb.csv.gz';
CREATE SERVER fx_comp_exact FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', max_bytes '588895');
CREATE USER MAPPING FOR CURRENT_USER SERVER fx_comp_exact OPTIONS (api_key 'test-secret-key');
CREATE FOREIGN TABLE comp_exact (a text) SERVER fx_comp_exact
  OPTIONS (path '/mbomb.csv.gz', header 'false');
SELECT * FROM fixture_reset;
SELECT set_fault('/mbomb.csv.gz',
  format('chunked=1&cut=%s&cut_times=1', (pg_stat_file('/tmp/hvcsv_fixture_www/m1.csv.gz')).size));
SELECT count(*) FROM comp_exact;
SELECT set_fault('/mbomb.csv.gz');
SELECT status, range IS NOT NULL AS ranged FROM fixture_log ORDER BY seq;

-- memory stays bounded whatever the file asks for: a zstd window of 1 GB
-- (--long=30, from a pipe, so the tool does not shrink it) is refused
COPY (SELECT 1) TO PROGRAM 'seq 1 1000 | zstd -q --long=30 > /tmp/hvcsv_fixture_www/long.csv.zst';
ALTER FOREIGN TABLE comp OPTIONS (SET path '/long.csv.zst');
SELECT count(*) FROM comp;

-- a zip archive with two files is refused
ALTER FOREIGN TABLE comp OPTIONS (SET path '/two.zip');
SELECT count(*) FROM comp;

-- a file cut short on disk, served whole, fails rather than giving the
-- rows before the cut
CREATE FUNCTION comp_try(path text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER FOREIGN TABLE comp OPTIONS (SET path %L)', path);
  RETURN try('SELECT count(*) FROM comp');
END $$;
SELECT path, comp_try(path) AS result
  FROM unnest(ARRAY['/short_comp.csv.gz', '/short_comp.csv.zst', '/short_comp.csv.bz2',
                    '/short_comp.csv.xz', '/short_comp.zip']) path;
-- and so does a corrupt file, the message naming the format
SELECT path, comp_try(path) AS result
  FROM unnest(ARRAY['/bad_comp.csv.gz', '/bad_comp.csv.zst', '/bad_comp.csv.bz2',
                    '/bad_comp.csv.xz', '/bad_comp.zip']) path;
-- streaming: rows before the cut were read, and the statement fails all the same
ALTER FOREIGN TABLE comp OPTIONS (ADD reader 'streaming');
SELECT comp_try('/short_comp.csv.xz') AS result;
