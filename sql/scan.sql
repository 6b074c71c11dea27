--
-- Typed scans through the projected reader, on CSV with the usual traps:
-- quoted delimiters, doubled quotes, quoted newlines, CRLF, NULL against
-- empty strings, UTF-8, a BOM, reordered and extra columns, other dialects.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_scan';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE FOREIGN TABLE accounts (
  has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts.csv');
SELECT * FROM accounts ORDER BY has_id;

-- an unquoted empty field is NULL; a quoted empty field ("") is ''
SELECT has_id, email IS NULL AS email_null, amount IS NULL AS amount_null,
       active IS NULL AS active_null, notes = '' AS notes_empty
  FROM accounts ORDER BY has_id;

-- quoted newlines stay in the value; doubled quotes become one
SELECT has_id, name, notes, position(E'\n' IN notes) > 0 AS has_newline
  FROM accounts WHERE has_id IN ('A002', 'A004', 'A005') ORDER BY has_id;

-- UTF-8: characters, not bytes
SELECT has_id, city, length(city) AS chars, octet_length(city) AS bytes
  FROM accounts ORDER BY has_id;

-- the same file with CRLF line endings gives the same rows
-- (quoted line breaks keep their CR, as the file has them)
CREATE FOREIGN TABLE accounts_crlf (
  has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts_crlf.csv');
SELECT count(*) FROM accounts_crlf;
SELECT has_id, name, city, created_at, email, amount, active, notes FROM accounts
EXCEPT
SELECT has_id, replace(name, E'\r', ''), city, created_at, email, amount, active,
       replace(notes, E'\r', '') FROM accounts_crlf;

-- columns are matched by header name: the order differs, an extra CSV
-- column is ignored, a BOM is skipped, and the last line has no newline
CREATE FOREIGN TABLE accounts_bom (has_id text, name text, city text, created_at timestamptz)
  SERVER fx OPTIONS (path '/accounts_bom.csv');
SELECT * FROM accounts_bom ORDER BY has_id;

-- column_name maps a column to a header spelled differently
CREATE FOREIGN TABLE upper_case (id int OPTIONS (column_name 'ID'), label text OPTIONS (column_name 'Name'))
  SERVER fx OPTIONS (path '/case_header.csv');
SELECT * FROM upper_case;

-- header 'false': fields by position, every line is data
CREATE FOREIGN TABLE noheader (id int, label text)
  SERVER fx OPTIONS (path '/noheader.csv', header 'false');
SELECT id, label, label IS NULL AS label_null FROM noheader ORDER BY id;

-- header 'match': the header must list the columns, in order
CREATE FOREIGN TABLE matched (id int, name text)
  SERVER fx OPTIONS (path '/case_header.csv', header 'match');
SELECT * FROM matched;
ALTER FOREIGN TABLE matched ALTER COLUMN id OPTIONS (ADD column_name 'ID');
ALTER FOREIGN TABLE matched ALTER COLUMN name OPTIONS (ADD column_name 'Name');
SELECT * FROM matched;

-- another dialect: ';' delimiter, ' quote, \ escape, NA as NULL;
-- a quoted 'NA' is the string NA, and \ outside quotes is an ordinary byte
CREATE FOREIGN TABLE dialect (id int, label text, note text)
  SERVER fx OPTIONS (path '/dialect.csv', delimiter ';', quote '''', escape '\', null 'NA');
SELECT id, label, note, note IS NULL AS note_null FROM dialect ORDER BY id;

-- a LATIN1 file is converted to the database encoding
CREATE FOREIGN TABLE latin1 (id int, city text)
  SERVER fx OPTIONS (path '/latin1.csv', encoding 'LATIN1');
SELECT id, city, octet_length(city) AS bytes FROM latin1 ORDER BY id;

-- a header alone, and an empty file, hold no rows
CREATE FOREIGN TABLE header_only (has_id text, name text) SERVER fx OPTIONS (path '/header_only.csv');
SELECT count(*) FROM header_only;
CREATE FOREIGN TABLE empty (has_id text, name text) SERVER fx OPTIONS (path '/empty.csv');
SELECT count(*) FROM empty;

-- dropped columns are skipped; added columns are matched by name
ALTER FOREIGN TABLE accounts_bom DROP COLUMN name;
SELECT * FROM accounts_bom ORDER BY has_id;
ALTER FOREIGN TABLE accounts_bom ADD COLUMN extra text;
SELECT has_id, extra FROM accounts_bom ORDER BY has_id;

-- rescans: the inner side of a nested loop is read again for each outer row
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM noheader a JOIN noheader b ON a.id = b.id;
SELECT count(*) FROM noheader a JOIN noheader b ON a.id = b.id;
SELECT a.has_id, count(*) FROM accounts a JOIN accounts_crlf b ON a.city = b.city
  GROUP BY a.has_id ORDER BY a.has_id;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- filters, ordering and LIMIT work as on any table
SELECT has_id, amount FROM accounts WHERE amount > 50 ORDER BY amount DESC;
SELECT has_id FROM accounts ORDER BY created_at DESC LIMIT 2;
