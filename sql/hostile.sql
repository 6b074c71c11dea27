--
-- Hostile CSV: every bad input has a defined behaviour, the same through
-- every reader (they share the tokenizer but differ in buffering and
-- partitioning): a clear error naming the line, and the column and value
-- where there is one, or a rule the README states ("CSV rules").  Small
-- inputs are in test/data/hostile/; bigger ones are generated here.
-- Covered elsewhere and not repeated: the projected reader on the basic bad
-- rows, duplicate header names and on_error 'skip' (errors), BOM, CRLF,
-- dialects (scan), a header alone and an empty file (readers), duplicate
-- keys during a refresh (refresh).  Sizes and memory: hostile_limits.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_hostile';

-- name_projected, name_streaming and name_partitioned over one export;
-- partitions of 64 kB, so exports above that are read in several
CREATE FUNCTION readers_for(name text, path text, columns text, extra text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['projected', 'streaming', 'partitioned'] LOOP
    EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L, block_size %L %s)',
                   name || '_' || r, columns, path, r, '64kB', extra);
  END LOOP;
END $$;

-- runs query (%I stands for the table) through each reader: its one value,
-- or the error with its detail and the first line of its context (a BOM
-- there is shown as <BOM>)
CREATE FUNCTION each_reader(name text, query text)
RETURNS TABLE (reader text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
  msg text;
  detail text;
  context text;
BEGIN
  FOREACH reader IN ARRAY ARRAY['projected', 'streaming', 'partitioned'] LOOP
    BEGIN
      EXECUTE format(query, name || '_' || reader) INTO outcome;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                              context = PG_EXCEPTION_CONTEXT;
      outcome := replace('ERROR: ' || msg || coalesce(' DETAIL: ' || nullif(detail, ''), '') ||
                         ' CONTEXT: ' || replace(split_part(context, E'\n', 1), name || '_' || reader, '*'),
                         U&'\FEFF', '<BOM>');
    END;
    RETURN NEXT;
  END LOOP;
END $$;

-- how many partitions the partitioned reader read
CREATE FUNCTION partitions(query text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  RETURN jsonb_path_query_first(plan, 'strict $.**."Partitions"')::int;
END $$;

-- writes bytes as a file the fixture server serves
CREATE FUNCTION put_file(name text, body bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lo oid := lo_from_bytea(0, body);
BEGIN
  PERFORM lo_export(lo, '/tmp/hvcsv_fixture_www/' || name);
  PERFORM lo_unlink(lo);
END $$;

--
-- Broken structure
--

-- A quoted field still open at the end of the input: an error naming the
-- line the field starts on, also with on_error 'skip' (without its closing
-- quote the rest of the file cannot be split into rows).  Rows before it
-- are returned until then.
SELECT readers_for('open_quote', '/bad_quote.csv', 'id int, name text');
SELECT * FROM each_reader('open_quote', 'SELECT count(*) FROM %I');
SELECT * FROM each_reader('open_quote', 'SELECT id FROM %I LIMIT 1');
-- the same in a 300 kB export read in partitions: the line is the same
SELECT put_file('open_quote_big.csv', convert_to(
  'id,name' || E'\n' || (SELECT string_agg(i || ',row ' || i, E'\n') FROM generate_series(1, 20000) i) ||
  E'\n20001,"never closed\n' || (SELECT string_agg(i || ',after', E'\n') FROM generate_series(20002, 25000) i) ||
  E'\n', 'UTF8'));
SELECT readers_for('open_quote_big', '/open_quote_big.csv', 'id int, name text');
SELECT partitions('SELECT id FROM open_quote_big_partitioned LIMIT 1') AS partitions;
SELECT * FROM each_reader('open_quote_big', 'SELECT count(*) FROM %I');
SELECT * FROM each_reader('open_quote_big', 'SELECT count(*) FROM (SELECT * FROM %I LIMIT 20000) s');
-- in the header line
SELECT readers_for('header_quote', '/hostile/header_quote.csv', 'id int');
SELECT * FROM each_reader('header_quote', 'SELECT count(*) FROM %I');

-- A quote inside an unquoted field starts a quoted section, as in COPY: it
-- runs to the next quote, line breaks included, so here two lines are one
-- record (5 tall\n2,6 wide) and the export has 2 rows, not 3
SELECT readers_for('stray_quote', '/hostile/stray_quote.csv', 'id int, name text');
SELECT * FROM each_reader('stray_quote', $$SELECT string_agg(id || '=' || replace(name, E'\n', '\n'), ' ' ORDER BY id) FROM %I$$);

-- Ragged rows: every record must have as many fields as the header; a blank
-- line is no record.  Line 3 has too few fields, lines 4 (a trailing
-- delimiter) and 5 too many.
SELECT readers_for('ragged', '/hostile/ragged.csv', 'id int, name text');
SELECT * FROM each_reader('ragged', 'SELECT count(*) FROM %I');
-- even when the query reads no column: the row would be wrong
SELECT * FROM each_reader('ragged', 'SELECT count(*) FROM %I WHERE false');
-- with on_error 'skip' they are rejected and counted; reject_limit stops the scan
SELECT readers_for('ragged_skip', '/hostile/ragged.csv', 'id int, name text', ', on_error ''skip''');
SELECT * FROM ragged_skip_projected ORDER BY id;
SELECT * FROM ragged_skip_streaming ORDER BY id;
SELECT * FROM ragged_skip_partitioned ORDER BY id;
SELECT readers_for('ragged_limit', '/hostile/ragged.csv', 'id int, name text',
                   ', on_error ''skip'', reject_limit ''2''');
SELECT * FROM each_reader('ragged_limit', 'SELECT count(*) FROM %I');
-- without a header, by the table's number of columns
SELECT readers_for('ragged_noheader', '/hostile/ragged.csv', 'id text, name text', ', header ''false''');
SELECT * FROM each_reader('ragged_noheader', 'SELECT count(*) FROM %I');

--
-- Nothing to read: no rows, no error
--

-- an empty body (200 with Content-Length 0, or chunked), only line breaks,
-- only a BOM, a header alone
SELECT readers_for('empty_chunked', '/empty.csv?chunked=1', 'has_id text');
SELECT * FROM each_reader('empty_chunked', 'SELECT count(*) FROM %I');
SELECT readers_for('empty_noheader', '/empty.csv', 'has_id text', ', header ''false''');
SELECT * FROM each_reader('empty_noheader', 'SELECT count(*) FROM %I');
SELECT readers_for('empty_match', '/empty.csv', 'has_id text', ', header ''match''');
SELECT * FROM each_reader('empty_match', 'SELECT count(*) FROM %I');
SELECT readers_for('blank_lines', '/hostile/blank_lines.csv', 'has_id text');
SELECT * FROM each_reader('blank_lines', 'SELECT count(*) FROM %I');
SELECT readers_for('blank_lines_noheader', '/hostile/blank_lines.csv', 'has_id text', ', header ''false''');
SELECT * FROM each_reader('blank_lines_noheader', 'SELECT count(*) FROM %I');
SELECT readers_for('bom_only', '/hostile/bom_only.csv', 'has_id text');
SELECT * FROM each_reader('bom_only', 'SELECT count(*) FROM %I');
SELECT readers_for('header_only_match', '/header_only.csv', 'has_id text, name text', ', header ''match''');
SELECT * FROM each_reader('header_only_match', 'SELECT count(*) FROM %I');

--
-- Bytes that are not text
--

-- A BOM is skipped only at the very start of the body, and only when the
-- file's encoding is UTF-8; anywhere else it is data (shown as <BOM>)
SELECT readers_for('bom_mid', '/hostile/bom_mid.csv', 'id text, name text');
SELECT * FROM each_reader('bom_mid',
  $$SELECT string_agg(replace(id || '=' || name, U&'\FEFF', '<BOM>'), ' ' ORDER BY id) FROM %I$$);
SELECT readers_for('bom_mid_int', '/hostile/bom_mid.csv', 'id int, name text');
SELECT * FROM each_reader('bom_mid_int', 'SELECT sum(id) FROM %I');
SELECT readers_for('bom_noheader', '/hostile/bom_mid.csv', 'id text, name text', ', header ''false''');
SELECT * FROM each_reader('bom_noheader', $$SELECT string_agg(replace(id, U&'\FEFF', '<BOM>'), ' ') FROM %I$$);
-- in a LATIN1 file the same bytes are three characters of the header name
SELECT readers_for('bom_latin1', '/hostile/bom_mid.csv', 'id text, name text', ', encoding ''LATIN1''');
SELECT * FROM each_reader('bom_latin1', 'SELECT count(*) FROM %I');

-- NUL bytes: PostgreSQL text cannot hold them, so a NUL in a value the
-- query reads is an error naming the line, the column and the value (with
-- the NUL shown as \x00); in a value it does not read, it is never looked at
SELECT readers_for('nul', '/hostile/nul.csv', 'id int, name text, note text');
SELECT * FROM each_reader('nul', 'SELECT count(name) FROM %I');
SELECT * FROM each_reader('nul', 'SELECT count(note) FROM %I WHERE id <> 2');
SELECT * FROM each_reader('nul', 'SELECT sum(id) FROM %I');
-- the same when the file's encoding is converted
SELECT readers_for('nul_latin1', '/hostile/nul.csv', 'id int, name text', ', encoding ''LATIN1''');
SELECT * FROM each_reader('nul_latin1', 'SELECT count(name) FROM %I');
-- with on_error 'skip' the row is rejected, only for a column the query reads
SELECT readers_for('nul_skip', '/hostile/nul.csv', 'id int, name text, note text', ', on_error ''skip''');
SELECT id, name, note FROM nul_skip_streaming;
SELECT * FROM each_reader('nul_skip', $$SELECT string_agg(id || '=' || name, ' ' ORDER BY id) FROM %I$$);
-- a NUL in the header is an error at line 1
SELECT put_file('nul_header.csv', '\x69642c6e61006d650a312c610a'::bytea);  -- id,na\0me\n1,a\n
SELECT readers_for('nul_header', '/nul_header.csv', 'id int');
SELECT * FROM each_reader('nul_header', 'SELECT count(*) FROM %I');

-- Invalid UTF-8: an error naming the line, the column and the value (the
-- projected reader is in the errors test); in the header, at line 1
SELECT readers_for('bad_utf8', '/bad_utf8.csv', 'id int, name text');
SELECT * FROM each_reader('bad_utf8', 'SELECT count(name) FROM %I');
SELECT readers_for('utf16', '/hostile/utf16.csv', 'id int, name text');
SELECT * FROM each_reader('utf16', 'SELECT count(*) FROM %I');
-- read as UTF-16 is not possible, but as LATIN1 the bytes convert (to
-- nonsense): the header then lacks the columns
SELECT readers_for('utf16_latin1', '/hostile/utf16.csv', 'id int, name text', ', encoding ''LATIN1''');
SELECT * FROM each_reader('utf16_latin1', 'SELECT count(*) FROM %I');

--
-- Line endings: LF, CRLF and a lone CR each end a record, mixed freely
-- (COPY requires one kind per file); inside quotes they are data
--
SELECT readers_for('lone_cr', '/hostile/lone_cr.csv', 'id int, name text');
SELECT * FROM each_reader('lone_cr', $$SELECT string_agg(id || '=' || replace(name, E'\r', '\r'), ' ' ORDER BY id) FROM %I$$);
SELECT readers_for('mixed_eol', '/hostile/mixed_eol.csv', 'id int, name text');
SELECT * FROM each_reader('mixed_eol', $$SELECT string_agg(id || '=' || name, ' ' ORDER BY id) FROM %I$$);
-- line numbers count every line break, quoted ones and blank lines too:
-- the bad value is on line 7
SELECT readers_for('mixed_eol_bad', '/hostile/mixed_eol_bad.csv', 'id int, note text');
SELECT * FROM each_reader('mixed_eol_bad', 'SELECT sum(id) FROM %I');
-- 300 kB with lone CRs, quoted CRs and CRLFs, read in partitions, gives
-- the same rows as with LF
SELECT put_file('big_' || name || '.csv', convert_to(
  'id,note' || eol || (SELECT string_agg(i || ',' || CASE WHEN i % 5 = 0 THEN '"a' || E'\r' || 'b' || E'\r\n' || 'c"' ELSE 'plain' END, eol)
                       FROM generate_series(1, 30000) i) || eol, 'UTF8'))
  FROM (VALUES ('cr', E'\r'), ('lf', E'\n')) v(name, eol);
SELECT readers_for('big_cr', '/big_cr.csv', 'id int, note text');
SELECT readers_for('big_lf', '/big_lf.csv', 'id int, note text');
SELECT * FROM each_reader('big_cr', $$SELECT count(*) || ' ' || sum(id) || ' ' || md5(string_agg(note, '|' ORDER BY id)) FROM %I$$);
SELECT * FROM each_reader('big_lf', $$SELECT count(*) || ' ' || sum(id) || ' ' || md5(string_agg(note, '|' ORDER BY id)) FROM %I$$);
SELECT partitions('SELECT count(*) FROM big_cr_partitioned') AS partitions;
SELECT count(*) AS quoted_breaks_kept FROM big_cr_partitioned WHERE note = E'a\rb\r\nc';

--
-- Wide rows: any number of fields (here 5,000); a table has at most 1,600
-- columns, so it declares the ones it needs, matched by header name
--
COPY (SELECT string_agg('c' || c, ',' ORDER BY c) FROM generate_series(1, 5000) c
      UNION ALL
      SELECT string_agg((r * c)::text, ',' ORDER BY c) FROM generate_series(1, 100) r, generate_series(1, 5000) c GROUP BY r)
  TO '/tmp/hvcsv_fixture_www/wide.csv';
SELECT readers_for('wide', '/wide.csv', 'c1 int, c2500 int, c5000 int');
SELECT * FROM each_reader('wide', $$SELECT count(*) || ' ' || sum(c1) || ' ' || sum(c2500) || ' ' || sum(c5000) FROM %I$$);
-- the table's widest: 1,600 columns
DO $$ BEGIN
  EXECUTE 'CREATE FOREIGN TABLE wide1600 (' ||
          (SELECT string_agg('c' || c || ' int', ', ') FROM generate_series(1, 1600) c) ||
          ') SERVER fx OPTIONS (path ''/wide.csv'')';
END $$;
SELECT count(*), sum(c1), sum(c800), sum(c1600) FROM wide1600;
-- a missing column lists the header's first names
CREATE FOREIGN TABLE wide_missing (c1 int, c5001 int) SERVER fx OPTIONS (path '/wide.csv');
SELECT count(*) FROM wide_missing;
-- without a header, the record has the wrong number of fields
SELECT readers_for('wide_noheader', '/wide.csv', 'c1 text, c2 text', ', header ''false''');
SELECT * FROM each_reader('wide_noheader', 'SELECT count(*) FROM %I');
-- IMPORT FOREIGN SCHEMA cannot create a table that wide: PostgreSQL's error
CREATE SCHEMA wide_import;
IMPORT FOREIGN SCHEMA wide FROM SERVER fx INTO wide_import OPTIONS (path '/wide.csv');
DROP SCHEMA wide_import;

--
-- Refresh: a row without a key fails the run, nothing written (duplicate
-- keys: see the refresh test); with on_error 'skip' the first 1,000
-- rejected rows of a run are kept, their text and error messages clipped to
-- 1,000 bytes, and all are counted
--
SET hvcsv_fdw.refresh_failure = 'warning';
COPY (SELECT * FROM (VALUES ('has_id,name'), ('K1,one'), (',no key'), ('K2,two')) v)
  TO '/tmp/hvcsv_fixture_www/null_key.csv';
CREATE TABLE null_key_target (has_id text PRIMARY KEY, name text);
CREATE FOREIGN TABLE null_key_src (has_id text, name text) SERVER fx
  OPTIONS (path '/null_key.csv', target 'null_key_target');
SELECT status, rows_inserted FROM hvcsv_refresh('null_key_src');
SELECT count(*) FROM null_key_target;
COPY (SELECT 'id,note' UNION ALL
      SELECT CASE WHEN i % 3 = 0 THEN i::text ELSE 'bad' || repeat('!', 5000) END || ',n' || i
        FROM generate_series(1, 3000) i)
  TO '/tmp/hvcsv_fixture_www/mostly_bad.csv';
CREATE TABLE mostly_bad_target (id int PRIMARY KEY, note text);
CREATE FOREIGN TABLE mostly_bad_src (id int, note text) SERVER fx
  OPTIONS (path '/mostly_bad.csv', target 'mostly_bad_target', on_error 'skip', reader 'streaming');
SELECT status, rows_inserted, rows_rejected FROM hvcsv_refresh('mostly_bad_src');
SELECT count(*) AS kept, min(line), max(line), max(octet_length(error)) AS longest_error,
       max(octet_length(raw)) AS longest_raw
  FROM hvcsv_rejects WHERE foreign_table = 'mostly_bad_src'::regclass;
SELECT left(error, 60) AS error, right(error, 10) AS error_end FROM hvcsv_rejects
  WHERE foreign_table = 'mostly_bad_src'::regclass AND line = 2;
RESET hvcsv_fdw.refresh_failure;
