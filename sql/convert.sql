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
