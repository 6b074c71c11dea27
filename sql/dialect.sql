--
-- Ragged and decorated files: missing_fields 'null' reads a short record
-- with NULL for the fields it lacks, extra_fields 'ignore' drops the fields
-- past the last expected one (both counted in EXPLAIN ANALYZE), skip_lines
-- passes over lines before the header, and a line that starts with the
-- comment character is skipped, before the header or between records, but
-- not inside a quoted field.  Through every reader, partitions cut among
-- comments, a parallel scan, IMPORT FOREIGN SCHEMA and a refresh.
--
-- test/data/ubuntu.csv is distro-info-data's ubuntu.csv, unchanged.
-- Copyright 2009-2023 Benjamin Drung, 2009-2021 Stefano Rivera; ISC
-- licence: "Permission to use, copy, modify, and/or distribute this
-- software for any purpose with or without fee is hereby granted, provided
-- that the above copyright notice and this permission notice appear in all
-- copies."
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_dialect';
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS file_fdw;
RESET client_min_messages;
CREATE SERVER dl_files FOREIGN DATA WRAPPER file_fdw;

-- rows in one table and not the other, both ways, as multisets
CREATE FUNCTION dl_differences(a regclass, b regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  m bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', a, b) INTO n;
  EXECUTE format('SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s) d', b, a) INTO m;
  RETURN n + m;
END $$;

-- name_projected, name_streaming and name_partitioned over one export, in
-- partitions of 64 kB
CREATE FUNCTION dl_tables(name text, path text, columns text, options text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['projected', 'streaming', 'partitioned'] LOOP
    EXECUTE format('CREATE FOREIGN TABLE %I (%s) SERVER fx OPTIONS (path %L, reader %L, block_size %L, %s)',
                   name || '_' || r, columns, path, r, '64kB', options);
  END LOOP;
END $$;

-- runs query (%I stands for the table) through each reader: its one value,
-- or the error with its detail and the first line of its context
CREATE FUNCTION dl_each(name text, query text)
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
      outcome := 'ERROR: ' || msg || coalesce(' DETAIL: ' || nullif(detail, ''), '') ||
                 ' CONTEXT: ' || replace(split_part(context, E'\n', 1), name || '_' || reader, '*');
    END;
    RETURN NEXT;
  END LOOP;
END $$;

-- each reader's rows against the projected reader's
CREATE FUNCTION dl_compare(name text)
RETURNS TABLE (reader text, rows bigint, differences bigint) LANGUAGE plpgsql AS $$
BEGIN
  FOREACH reader IN ARRAY ARRAY['projected', 'streaming', 'partitioned'] LOOP
    EXECUTE format('SELECT count(*) FROM %I', name || '_' || reader) INTO rows;
    differences := dl_differences(format('%I', name || '_' || reader)::regclass,
                                  format('%I', name || '_projected')::regclass);
    RETURN NEXT;
  END LOOP;
END $$;

-- EXPLAIN ANALYZE's plan of query, and a property in a plan
CREATE FUNCTION dl_plan(query text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  RETURN plan;
END $$;
CREATE FUNCTION dl_property(plan jsonb, property text) RETURNS text
LANGUAGE sql AS $$
  SELECT jsonb_path_query_first(plan, ('strict $.**.' || quote_ident(property))::jsonpath) #>> '{}'
$$;

-- writes text as a file the fixture server serves
CREATE FUNCTION dl_put_file(name text, body text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lo oid := lo_from_bytea(0, convert_to(body, 'UTF8'));
BEGIN
  PERFORM lo_export(lo, '/tmp/hvcsv_fixture_www/' || name);
  PERFORM lo_unlink(lo);
END $$;

--
-- The options' values
--

-- missing_fields is 'error' (the default) or 'null'; extra_fields 'error'
-- (the default) or 'ignore'
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', missing_fields 'pad');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', missing_fields 'NULL');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', extra_fields 'drop');
-- skip_lines: a number of lines, zero or more
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', skip_lines '-1');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', skip_lines 'two');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', skip_lines '2147483648');
-- comment: one one-byte character, not a line break, nor the delimiter,
-- quote or escape character
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment '');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment '//');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment '§');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment E'\n');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment ',');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment '"');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment '\', escape '\');
CREATE FOREIGN TABLE dl_bad (id int) SERVER fx OPTIONS (path '/ragged.csv', comment ';', delimiter ';');
-- ALTER checks the options as they will be, together
CREATE FOREIGN TABLE dl_altered (id int) SERVER fx
  OPTIONS (path '/ragged.csv', comment ';', skip_lines '0', missing_fields 'error', extra_fields 'error');
ALTER FOREIGN TABLE dl_altered OPTIONS (ADD delimiter ';');
ALTER FOREIGN TABLE dl_altered OPTIONS (SET comment '#', SET skip_lines '1', SET missing_fields 'null',
                                        SET extra_fields 'ignore');
ALTER FOREIGN TABLE dl_altered OPTIONS (SET skip_lines '1.5');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'dl_altered'::regclass;
-- not on a server
CREATE SERVER dl_bad_server FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:18765', comment '#');

--
-- ubuntu.csv: rows stop at their last known date, so most are short
--

-- without missing_fields a short record is an error naming its line, as
-- before; with on_error 'skip' only the 7 full rows of 44 remain
SELECT dl_tables('dl_ubuntu_strict', '/ubuntu.csv',
  'version text, codename text, series text, created date, release date, eol date,
   eol_server date OPTIONS (column_name ''eol-server''), eol_esm date OPTIONS (column_name ''eol-esm''),
   eol_legacy date OPTIONS (column_name ''eol-legacy'')', 'header ''true''');
SELECT * FROM dl_each('dl_ubuntu_strict', 'SELECT count(*) FROM %I');
CREATE FOREIGN TABLE dl_ubuntu_skipping (version text, series text) SERVER fx
  OPTIONS (path '/ubuntu.csv', on_error 'skip');
SELECT count(*) FROM dl_ubuntu_skipping;

-- missing_fields 'null': every row, NULL in the fields it lacks
SELECT dl_tables('dl_ubuntu', '/ubuntu.csv',
  'version text, codename text, series text, created date, release date, eol date,
   eol_server date OPTIONS (column_name ''eol-server''), eol_esm date OPTIONS (column_name ''eol-esm''),
   eol_legacy date OPTIONS (column_name ''eol-legacy'')', 'missing_fields ''null''');
SELECT * FROM dl_ubuntu_projected;
SELECT * FROM dl_compare('dl_ubuntu');
-- the same as COPY reads the file with the missing fields added as empty
-- ones (file_fdw reads the lines, SQL pads them)
CREATE FOREIGN TABLE dl_ubuntu_lines (line text) SERVER dl_files
  OPTIONS (filename '/tmp/hvcsv_fixture_www/ubuntu.csv', format 'text', delimiter E'\x01');
COPY (SELECT line || repeat(',', 8 - (length(line) - length(replace(line, ',', '')))) FROM dl_ubuntu_lines)
  TO '/tmp/hvcsv_fixture_www/ubuntu_padded.csv';
CREATE FOREIGN TABLE dl_ubuntu_copy (version text, codename text, series text, created date, release date,
  eol date, eol_server date, eol_esm date, eol_legacy date) SERVER dl_files
  OPTIONS (filename '/tmp/hvcsv_fixture_www/ubuntu_padded.csv', format 'csv', header 'true');
SELECT count(*) AS rows, dl_differences('dl_ubuntu_projected', 'dl_ubuntu_copy') AS vs_copy FROM dl_ubuntu_copy;
-- only the columns a query reads are converted; the count is the same
SELECT count(*), count(eol_server), count(eol_esm), count(eol_legacy) FROM dl_ubuntu_streaming;
-- EXPLAIN ANALYZE counts the rows padded (with the option only)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM dl_ubuntu_streaming;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT series FROM dl_ubuntu_projected WHERE eol_legacy IS NOT NULL;
SELECT dl_property(dl_plan('SELECT * FROM dl_ubuntu_partitioned'), 'Rows Padded') AS padded;

--
-- Short and long records, with and without a header
--

-- ragged.csv: line 3 is short, 4 and 5 are long, 6 holds only an id,
-- 7 has a bad score, 8 is long, 9 long with a bad score
SELECT dl_tables('dl_short', '/ragged.csv', 'id int, name text, score int', 'missing_fields ''null''');
SELECT * FROM dl_each('dl_short', 'SELECT count(*) FROM %I');
SELECT dl_tables('dl_long', '/ragged.csv', 'id int, name text, score int', 'extra_fields ''ignore''');
SELECT * FROM dl_each('dl_long', 'SELECT count(*) FROM %I');
-- both, and on_error 'skip' for the bad scores: a rejected row is not
-- counted as padded or trimmed
SELECT dl_tables('dl_ragged', '/ragged.csv', 'id int, name text, score int',
                 'missing_fields ''null'', extra_fields ''ignore'', on_error ''skip'', log_verbosity ''silent''');
SELECT * FROM dl_ragged_projected;
SELECT * FROM dl_compare('dl_ragged');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM dl_ragged_streaming;
-- reject_limit counts only the rows rejected, not those padded or trimmed;
-- short records are rejected (for their fields, before any value is
-- converted) without missing_fields 'null'
CREATE FOREIGN TABLE dl_ragged_limit (id int, name text, score int) SERVER fx
  OPTIONS (path '/ragged.csv', missing_fields 'null', extra_fields 'ignore', on_error 'skip',
           reject_limit '2', log_verbosity 'verbose');
SELECT count(*), count(score) FROM dl_ragged_limit;
ALTER FOREIGN TABLE dl_ragged_limit OPTIONS (SET missing_fields 'error');
SELECT count(*) FROM dl_ragged_limit;
SELECT count(*), count(score) FROM dl_ragged_limit;

-- by name: fields are counted against the header, not the columns;
-- force_not_null leaves a missing field NULL (there is no text to keep),
-- and a NOT NULL column reads it as NULL, as any NULL a scan returns
CREATE FOREIGN TABLE dl_by_name (score int, name text OPTIONS (force_not_null 'true') NOT NULL,
                                 id int) SERVER fx
  OPTIONS (path '/ragged.csv', missing_fields 'null', extra_fields 'ignore', on_error 'skip',
           log_verbosity 'silent');
SELECT id, name, name IS NULL AS name_is_null, score FROM dl_by_name;
-- header 'match' takes the header as it is: extra_fields is about records
CREATE FOREIGN TABLE dl_match (id int, name text) SERVER fx
  OPTIONS (path '/ragged.csv', header 'match', extra_fields 'ignore');
SELECT * FROM dl_match;
CREATE FOREIGN TABLE dl_match_all (id int, name text, score text) SERVER fx
  OPTIONS (path '/ragged.csv', header 'match', missing_fields 'null', extra_fields 'ignore');
SELECT * FROM dl_match_all;
-- without a header, the columns are the fields expected; the header line
-- is a record too (a short one here)
CREATE FOREIGN TABLE dl_positional (a text, b text, c text, d text) SERVER fx
  OPTIONS (path '/ragged.csv', header 'false', missing_fields 'null', extra_fields 'ignore');
SELECT * FROM dl_positional;

--
-- Preambles and comments
--

-- decorated.csv: three lines of preamble (with an odd quote, and a blank
-- line), a comment before the header and comments between records, one
-- with an odd quote, one a record but for its '#', one ending in CRLF; a
-- quoted "#1", a quoted line that starts with '#' and a field that starts
-- with '#' after a delimiter are data
SELECT dl_tables('dl_decorated', '/decorated.csv', 'id int, label text, note text',
                 'skip_lines ''3'', comment ''#''');
SELECT * FROM dl_decorated_projected;
SELECT * FROM dl_compare('dl_decorated');
-- lines are still the file's lines in messages
SELECT dl_tables('dl_decorated_typed', '/decorated.csv', 'id int, label text, note int',
                 'skip_lines ''3'', comment ''#''');
SELECT * FROM dl_each('dl_decorated_typed', 'SELECT sum(note) FROM %I');
CREATE FOREIGN TABLE dl_decorated_lines (id int, label text, note int) SERVER fx
  OPTIONS (path '/decorated.csv', skip_lines '3', comment '#', on_error 'skip', log_verbosity 'verbose');
SELECT count(note) FROM dl_decorated_lines;
-- a rescan skips the preamble and comments again (the streaming reader
-- starts the file over; the others go back to the first record)
SELECT x, (SELECT count(*) FROM dl_decorated_projected d WHERE d.id > x) AS projected,
       (SELECT count(*) FROM dl_decorated_streaming d WHERE d.id > x) AS streaming,
       (SELECT count(*) FROM dl_decorated_partitioned d WHERE d.id > x) AS partitioned
  FROM generate_series(0, 2) x;
-- without skip_lines the preamble is read as CSV: its quote runs over two
-- lines, making a header of one field; without comment, comment lines are
-- records
CREATE FOREIGN TABLE dl_undecorated (id int, label text, note text) SERVER fx
  OPTIONS (path '/decorated.csv', comment '#');
SELECT * FROM dl_undecorated;
CREATE FOREIGN TABLE dl_uncommented (id text, label text, note text) SERVER fx
  OPTIONS (path '/decorated.csv', skip_lines '3');
SELECT * FROM dl_uncommented;
-- skip_lines counts physical lines, blank ones too, before any record:
-- without a header, skipping the header line as well
CREATE FOREIGN TABLE dl_headerless (id int, label text, note text) SERVER fx
  OPTIONS (path '/decorated.csv', header 'false', skip_lines '5', comment '#');
SELECT id, label FROM dl_headerless;
-- more lines than the file has: no header, so no rows
CREATE FOREIGN TABLE dl_skip_all (id int) SERVER fx OPTIONS (path '/decorated.csv', skip_lines '100');
SELECT count(*) FROM dl_skip_all;

-- An export of many partitions: comment lines with an odd quote every
-- tenth row, a quoted field whose second line starts with '#' every
-- seventh, a short record every thirteenth.  Partition bounds must fall
-- only where records start, and the file's line numbers stay exact.
CREATE TEMP TABLE dl_big_body AS
  SELECT E'Report "generated\n\n# id,label,note\nid,label,note\n' ||
         string_agg(CASE WHEN i % 10 = 0 THEN E'# note "' || i || E'\n' ELSE '' END ||
                    CASE WHEN i % 7 = 0 THEN i || E',multi,"first\n#second ' || i || E'"\n'
                         WHEN i % 13 = 0 THEN i || E',short\n'
                         ELSE i || ',plain,"p' || i || E'"\n' END, '' ORDER BY i) AS body
  FROM generate_series(1, 20000) i;
SELECT dl_put_file('decorated_big.csv', body) FROM dl_big_body;
SELECT dl_tables('dl_big', '/decorated_big.csv', 'id int, label text, note text',
                 'skip_lines ''2'', comment ''#'', missing_fields ''null''');
SELECT * FROM dl_compare('dl_big');
SELECT count(*), sum(id), count(*) FILTER (WHERE note = E'first\n#second ' || id) AS multiline,
       count(*) FILTER (WHERE note IS NULL) AS short FROM dl_big_partitioned;
SELECT dl_property(p, 'Partitions')::int > 4 AS several_partitions, dl_property(p, 'Rows Padded') AS padded
  FROM dl_plan('SELECT * FROM dl_big_partitioned') p;
-- the row index is built as the export is fetched, for the fetching
-- table's lines: a table that skips other lines builds its own
CREATE FOREIGN TABLE dl_big_fetch (line text) SERVER fx
  OPTIONS (path '/decorated_big.csv?again', header 'false', skip_lines '100000');
SELECT count(*) FROM dl_big_fetch;
CREATE FOREIGN TABLE dl_big_again (id int, label text, note text) SERVER fx
  OPTIONS (path '/decorated_big.csv?again', reader 'partitioned', block_size '64kB',
           skip_lines '2', comment '#', missing_fields 'null');
SELECT count(*), sum(id) FROM dl_big_again;
-- a bad record at the end is named by its line in the file, through every
-- reader
SELECT dl_put_file('decorated_big_bad.csv', body || E'oops,last,"end"\n'),
       length(body) - length(replace(body, E'\n', '')) + 1 AS last_line
  FROM dl_big_body;
SELECT dl_tables('dl_big_bad', '/decorated_big_bad.csv', 'id int, label text, note text',
                 'skip_lines ''2'', comment ''#'', missing_fields ''null''');
SELECT * FROM dl_each('dl_big_bad', 'SELECT sum(id) FROM %I');

-- a parallel scan: workers claim partitions and count the rows they pad;
-- without the leader's part, the count is only theirs
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM dl_big_partitioned;
SELECT count(*), sum(id), count(*) FILTER (WHERE note = E'first\n#second ' || id) AS multiline,
       count(*) FILTER (WHERE note IS NULL) AS short FROM dl_big_partitioned;
SELECT dl_differences('dl_big_partitioned', 'dl_big_projected') AS parallel_differences;
SET parallel_leader_participation = off;
SELECT dl_property(p, 'Workers Launched')::int > 0 AS workers_ran, dl_property(p, 'Rows Padded') AS padded
  FROM dl_plan('SELECT count(*) FROM dl_big_partitioned') p;
RESET parallel_leader_participation;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- IMPORT FOREIGN SCHEMA finds the header past the preamble and comments,
-- and the tables it creates keep the options
CREATE SCHEMA dl_imported;
IMPORT FOREIGN SCHEMA decorated LIMIT TO (decorated_streaming) FROM SERVER fx INTO dl_imported
  OPTIONS (path '/decorated.csv', skip_lines '3', comment '#');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'dl_imported.decorated_streaming'::regclass;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
  WHERE attrelid = 'dl_imported.decorated_streaming'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM dl_imported.decorated_streaming;

--
-- A refresh reads through the same scan
--
CREATE TABLE dl_releases (series text PRIMARY KEY, version text, release date, eol date,
                          eol_server date, eol_esm date);
CREATE FOREIGN TABLE dl_releases_src (version text, series text, release date, eol date,
  eol_server date OPTIONS (column_name 'eol-server'), eol_esm date OPTIONS (column_name 'eol-esm'))
  SERVER fx OPTIONS (path '/ubuntu.csv', target 'dl_releases');
SELECT status, rows_inserted FROM hvcsv_refresh('dl_releases_src');
ALTER FOREIGN TABLE dl_releases_src OPTIONS (ADD missing_fields 'null');
SELECT status, rows_inserted FROM hvcsv_refresh('dl_releases_src');
SELECT count(*), count(eol_server), count(eol_esm) FROM dl_releases;
-- a padded NULL in a key or a NOT NULL column of the target is refused as
-- any NULL there is
SELECT dl_put_file('short_keys.csv', E'name,id\none,1\ntwo\n');
CREATE TABLE dl_keyed (id int PRIMARY KEY, name text NOT NULL);
CREATE FOREIGN TABLE dl_keyed_src (id int, name text) SERVER fx
  OPTIONS (path '/short_keys.csv', target 'dl_keyed', missing_fields 'null');
SELECT status, rows_inserted FROM hvcsv_refresh('dl_keyed_src');
SELECT dl_put_file('short_keys.csv', E'id,name\n1,one\n2\n');
SELECT status, rows_inserted FROM hvcsv_refresh('dl_keyed_src');
SELECT * FROM dl_keyed;
-- the tables a refresh of every table would take up in later tests
DROP FOREIGN TABLE dl_releases_src, dl_keyed_src;
DROP TABLE dl_releases, dl_keyed;
