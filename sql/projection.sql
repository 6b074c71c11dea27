--
-- The projected reader converts only the columns a query reads: those in
-- its target list and in its filters.  EXPLAIN says which, and says what it
-- knows of the spool without fetching anything.
--
SET hvcsv_fdw.spool_directory = 'pg_hvcsv_spool_projection';
SELECT * FROM fixture_reset;

CREATE FOREIGN TABLE accounts (
  has_id text, name text, city text, created_at timestamptz,
  email text, amount numeric, active boolean, notes text)
  SERVER fx OPTIONS (path '/accounts.csv');

-- EXPLAIN alone fetches nothing
EXPLAIN (COSTS OFF) SELECT has_id, city FROM accounts;
SELECT count(*) AS requests FROM fixture_log;

EXPLAIN (COSTS OFF) SELECT count(*) FROM accounts;
EXPLAIN (COSTS OFF) SELECT has_id FROM accounts WHERE amount > 10;
EXPLAIN (COSTS OFF) SELECT a FROM accounts a;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name, created_at FROM accounts;

-- once fetched, EXPLAIN shows the spool's size
SELECT count(*) FROM accounts;
EXPLAIN (COSTS OFF) SELECT has_id FROM accounts;

-- a value the query does not read is never converted: amount "1,5" on
-- line 3 is not a numeric, yet only the query that reads amount fails
CREATE FOREIGN TABLE bad_amount (id int, amount numeric) SERVER fx OPTIONS (path '/bad_type.csv');
SELECT id FROM bad_amount ORDER BY id;
SELECT count(*) FROM bad_amount;
SELECT id FROM bad_amount WHERE id > 1;
SELECT id, amount FROM bad_amount;
SELECT sum(amount) FROM bad_amount;
