--
-- The fast path for ISO 8601 timestamps gives exactly what timestamptz_in
-- gives, and leaves every other form to it.  Each value is in the file
-- twice: read into a timestamptz column (fast path or input function) and
-- into a text column cast by timestamptz_in; they must agree under any
-- DateStyle and TimeZone.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_convert';
SELECT setseed(0.25);
COPY (
  SELECT v AS t, v AS ts FROM (
    SELECT to_char(timestamp '0001-01-01' + random() * (timestamp '9999-12-31' - timestamp '0001-01-01'),
                   'YYYY-MM-DD') ||
           (ARRAY['T', ' '])[1 + (i % 2)] ||
           to_char(time '00:00' + random() * interval '24 hours', 'HH24:MI:SS') ||
           (ARRAY['', '.5', '.123456', '.1234567', '.0'])[1 + (i % 5)] ||
           (ARRAY['Z', '+00', '-08:00', '+0530', '+05:30', '+14', '-12:45', '', 'z', ' UTC',
                  '+15:00', '-00'])[1 + (i % 12)] AS v
    FROM generate_series(1, 20000) i
    UNION ALL
    SELECT unnest(ARRAY[
      '2024-02-29T12:00:00Z',       -- a leap day
      '2024-12-31T24:00:00Z',       -- hour 24 means the next midnight
      '2016-12-31T23:59:60Z',       -- a leap second
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999999+14',
      '2024-03-01 12:34:56',        -- no zone: TimeZone decides
      '2024-03-01T12:34:56.000001-00:01',
      '20240301T123456Z',
      '2024-3-1T12:34:56Z'])
  ) s
) TO '/tmp/hvcsv_fixture_www/timestamps.csv' WITH (FORMAT csv, HEADER);

CREATE FOREIGN TABLE timestamps (t text, ts timestamptz) SERVER fx OPTIONS (path '/timestamps.csv');
SELECT count(*) FROM timestamps;

SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT count(*) FILTER (WHERE ts IS DISTINCT FROM t::timestamptz) AS differ FROM timestamps;
SET TimeZone = 'America/New_York';
SET DateStyle = 'SQL, DMY';
SELECT count(*) FILTER (WHERE ts IS DISTINCT FROM t::timestamptz) AS differ FROM timestamps;
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'German, MDY';
SELECT count(*) FILTER (WHERE ts IS DISTINCT FROM t::timestamptz) AS differ FROM timestamps;
RESET TimeZone;
RESET DateStyle;

-- a typmod rounds, as the input function does
CREATE FOREIGN TABLE rounded (t text, ts timestamptz(0)) SERVER fx OPTIONS (path '/timestamps.csv');
SELECT count(*) FILTER (WHERE ts IS DISTINCT FROM t::timestamptz(0)) AS differ FROM rounded;

-- an invalid date is still an error naming the line, column and value
COPY (SELECT * FROM (VALUES ('t,ts'), ('a,2024-02-30T00:00:00Z')) v)
  TO '/tmp/hvcsv_fixture_www/bad_timestamp.csv';
CREATE FOREIGN TABLE bad_timestamp (t text, ts timestamptz) SERVER fx OPTIONS (path '/bad_timestamp.csv');
SELECT * FROM bad_timestamp;

-- plain decimals go the fast way, with the same value and display scale as
-- numeric_in; other forms go to numeric_in
COPY (
  SELECT v AS t, v AS n FROM (
    SELECT (CASE WHEN i % 3 = 0 THEN '-' ELSE '' END) ||
           floor(random() * 10 ^ (i % 19))::numeric::text ||
           (ARRAY['', '.5', '.50', '.05', '.123456789012', '.0'])[1 + (i % 6)] AS v
    FROM generate_series(1, 20000) i
    UNION ALL
    SELECT unnest(ARRAY['0', '-0', '-0.00', '007.50', '.5', '5.', '+5', '1e3', '1.5E-3',
      '123456789012345678', '1234567890123456789', '12345678901234567.8', 'NaN', 'Infinity',
      '-9223372036854775808', '99999999999999999.9'])
  ) s
) TO '/tmp/hvcsv_fixture_www/decimals.csv' WITH (FORMAT csv, HEADER);
CREATE FOREIGN TABLE decimals (t text, n numeric) SERVER fx OPTIONS (path '/decimals.csv');
SELECT count(*) AS values,
       count(*) FILTER (WHERE n::text IS DISTINCT FROM t::numeric::text) AS differ
  FROM decimals;
-- (with a typmod, numeric_in rounds and checks, so every value goes to it)
CREATE FOREIGN TABLE decimals_typmod (t text, n numeric(30, 3)) SERVER fx
  OPTIONS (path '/decimals.csv', on_error 'skip');
SELECT count(*) FILTER (WHERE n::text IS DISTINCT FROM t::numeric(30, 3)::text) AS differ
  FROM decimals_typmod;

-- booleans: true/false/t/f fast, every other spelling by boolin
COPY (SELECT v AS t, v AS b FROM unnest(ARRAY['true', 'false', 't', 'f', 'TRUE', 'False', 'yes',
  'no', 'on', 'off', '1', '0', 'y', 'n', 'tr', 'fa']) v) TO '/tmp/hvcsv_fixture_www/booleans.csv'
  WITH (FORMAT csv, HEADER);
CREATE FOREIGN TABLE booleans (t text, b boolean) SERVER fx OPTIONS (path '/booleans.csv');
SELECT count(*) AS values, count(*) FILTER (WHERE b IS DISTINCT FROM t::boolean) AS differ FROM booleans;
