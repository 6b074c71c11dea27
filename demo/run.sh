#!/usr/bin/env bash
# The main job with defaults: a throwaway PostgreSQL cluster, a bundled
# sample CSV API (the fixture server with an API key, serving a generated
# seed-shaped export), the seed connector's three tables as foreign tables
# (one per reader), synced into local tables by hvcsv_refresh(), twice:
# the second run finds the export unchanged.  Then the same export as the
# vendor's gzip file, set up for a sync by one IMPORT FOREIGN SCHEMA (one
# table, snake_case names, the target created with its key) and synced.
# Part 2: a dated series of daily exports (the last 5 days; today's not
# published yet) as one foreign table (path_template + dates_from), synced
# into one table; then today's export is published and a second refresh
# downloads and reads it alone, with the requests the API saw for each
# refresh.
# Installs what a fresh Debian 12 lacks (as root), and stops what it
# started.
#   demo/run.sh [--rows N]     (default 1000000)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib.sh

rows=1000000
[ "${1:-}" = "--rows" ] && rows=$2

PGPORT=54319
API_PORT=18766
API_KEY=demo-api-key

test/install_deps.sh
hv_build_install

work=$(mktemp -d /tmp/hvcsv_demo.XXXXXX)
cleanup() {
    hv_stop_fixture
    hv_stop_cluster "$work"
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/api"
echo "generating a seed-shaped export of $rows rows ..."
python3 bench/gen_csv.py --rows "$rows" --out "$work/api/accounts.csv"
gzip -c "$work/api/accounts.csv" > "$work/api/accounts_export.csv.gz"
chown -R postgres: "$work"
hv_start_cluster "$work" "$PGPORT"
hv_start_fixture "$work/api" "$API_PORT" "$API_KEY" "$work/api.log"
echo "sample CSV API: http://127.0.0.1:$API_PORT/accounts.csv (Authorization: apiKey $API_KEY)"

psql -X -h "$work" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 <<SQL
\echo
\echo == set up: the extension, the API and its key
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER csv_api FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$API_PORT');
CREATE USER MAPPING FOR CURRENT_USER SERVER csv_api OPTIONS (api_key '$API_KEY');

\echo
\echo == the seed's three tables, one per reader, typed from every row of the export
IMPORT FOREIGN SCHEMA accounts FROM SERVER csv_api INTO public OPTIONS (path '/accounts.csv');
\d accounts_projected

\echo
\echo == local target tables, keyed by has_id, and each foreign table pointed at one
CREATE TABLE table_using_dask (LIKE accounts_partitioned, PRIMARY KEY (has_id));
CREATE TABLE table_using_pandas_pyarrow (LIKE accounts_projected, PRIMARY KEY (has_id));
CREATE TABLE table_using_polars (LIKE accounts_streaming, PRIMARY KEY (has_id));
ALTER FOREIGN TABLE accounts_partitioned OPTIONS (ADD target 'table_using_dask');
ALTER FOREIGN TABLE accounts_projected OPTIONS (ADD target 'table_using_pandas_pyarrow');
ALTER FOREIGN TABLE accounts_streaming OPTIONS (ADD target 'table_using_polars');

\echo
\echo == EXPLAIN alone fetches nothing
EXPLAIN SELECT has_id, city FROM accounts_projected;

\echo
\echo == sync: SELECT * FROM hvcsv_refresh()   (what cron would run)
SELECT * FROM hvcsv_refresh();

\echo
\echo == the sync state
SELECT foreign_table, target, source_url, etag, bytes, rows_inserted, status, finished_at - started_at AS took
  FROM hvcsv_sync_state ORDER BY foreign_table::text;

\echo
\echo == a few synced rows
SELECT has_id, name, city, created_at FROM table_using_polars ORDER BY has_id LIMIT 5;
SELECT (SELECT count(*) FROM table_using_dask) AS dask_rows,
       (SELECT count(*) FROM table_using_pandas_pyarrow) AS pandas_rows,
       (SELECT count(*) FROM table_using_polars) AS polars_rows;

\echo
\echo == the same sync again: the export has not changed, so nothing is written
SELECT * FROM hvcsv_refresh();

\echo
\echo == queries in place, converting only the columns they use
\timing on
SELECT city, count(*) AS accounts, round(avg(amount), 2) AS avg_amount
  FROM accounts_projected GROUP BY city ORDER BY accounts DESC, city LIMIT 5;
SELECT has_id, name FROM accounts_streaming LIMIT 3;
\timing off

\echo
\echo == the export as a gzip file: one statement sets up a sync (one table, its target with the key)
CREATE SCHEMA synced;
IMPORT FOREIGN SCHEMA vendor_accounts FROM SERVER csv_api INTO public
  OPTIONS (path '/accounts_export.csv.gz', readers 'projected', column_names 'snake',
           target_schema 'synced', key 'has_id');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'vendor_accounts'::regclass;
\d synced.vendor_accounts
SELECT * FROM hvcsv_refresh('vendor_accounts');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM vendor_accounts;
SQL

echo
echo "== requests the API saw"
curl -s "http://127.0.0.1:$API_PORT/_log.csv" | python3 -c '
import csv, sys
for r in csv.DictReader(sys.stdin):
    print(r["method"], r["target"], r["status"], r["bytes_sent"], "bytes",
          "(conditional)" if r["if_none_match"] else "", "" if r["complete"] == "t" else "(stopped early)")'

# Part 2: a dated series of exports, one file per day, as one table.
sql() {
    psql -X -q -h "$work" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}
# daily_export DAY ROWS: the export of DAY, ROWS orders (ids unique across
# days: the day's number since 2000-01-01 times 10000 plus 1..ROWS).
daily_export() {
    python3 - "$1" "$2" > "$work/api/daily/$1.csv" <<'PY'
import datetime, random, sys
day, rows = sys.argv[1], int(sys.argv[2])
base = (datetime.date.fromisoformat(day) - datetime.date(2000, 1, 1)).days * 10000
rng = random.Random(day)
print("order_id,day,customer,amount")
for i in range(1, rows + 1):
    print("%d,%s,C%04d,%.2f" % (base + i, day, rng.randint(1, 500), rng.randint(100, 50000) / 100))
PY
}
# api_requests: the requests the API logged under /daily/ since the last
# reset, as "METHOD target status bytes".
api_requests() {
    curl -s "http://127.0.0.1:$API_PORT/_log.csv?target_prefix=/daily/" | python3 -c '
import collections, csv, sys
log = list(csv.DictReader(sys.stdin))
for r in log:
    print("  ", r["method"], r["target"], r["status"], r["bytes_sent"], "bytes" +
          (" (conditional)" if r["if_none_match"] or r["if_modified_since"] else ""))
by = collections.Counter(r["status"] for r in log)
print("   %d requests: %s" % (len(log), ", ".join("%d answered %s" % (n, s) for s, n in sorted(by.items()))))'
}

DAYS=5
DAY_ROWS=1000
today=$(date -u +%F)
first_day=$(date -u -d "$today - $DAYS days" +%F)
mkdir "$work/api/daily"
for i in $(seq "$DAYS" -1 1); do
    daily_export "$(date -u -d "$today - $i days" +%F)" "$DAY_ROWS"
done
chown -R postgres: "$work/api"

echo
echo "== part 2: a dated series of exports, one file per day, as one table"
echo "the API publishes /daily/YYYY-MM-DD.csv each day, $DAY_ROWS orders a day; the files of"
echo "$first_day to yesterday are there, today's ($today) is not yet:"
ls "$work/api/daily"
echo
echo "== one foreign table over every day from $first_day to today (UTC), and its target;"
echo "== EXPLAIN counts the dates and fetches nothing"
sql <<SQL
CREATE TABLE daily_orders_synced (order_id bigint PRIMARY KEY, day date, customer text, amount numeric);
CREATE FOREIGN TABLE daily_orders (order_id bigint, day date, customer text, amount numeric)
  SERVER csv_api OPTIONS (path_template '/daily/{date}.csv', dates_from '$first_day',
                          key 'order_id', target 'daily_orders_synced');
EXPLAIN (COSTS OFF) SELECT * FROM daily_orders;
SQL
echo
echo "== first sync: every published day is downloaded; today's export is not published yet:"
echo "== it answers 404 and is skipped (missing_exports 'skip', the default for path_template)"
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/_reset"
sql <<SQL
SELECT status, rows_inserted, rows_updated, rows_unchanged, bytes_fetched FROM hvcsv_refresh('daily_orders');
SELECT day, count(*) AS orders, sum(amount) AS amount FROM daily_orders_synced GROUP BY day ORDER BY day;
SQL
echo "requests the API saw for this sync:"
api_requests

echo
echo "== one new day is published: today's export ($today.csv) appears"
daily_export "$today" "$DAY_ROWS"
chown postgres: "$work/api/daily/$today.csv"
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/_reset"
echo
echo "== second sync: the days already synced are revalidated (conditional requests, 304:"
echo "== nothing downloaded again) and not read; today's is downloaded, and only its orders"
echo "== are read and written"
sql <<SQL
SELECT status, rows_inserted, rows_updated, rows_unchanged, bytes_fetched FROM hvcsv_refresh('daily_orders');
SELECT count(DISTINCT day) AS days, count(*) AS orders, max(day) AS last_day FROM daily_orders_synced;
\echo
\echo == what the syncs read of each day (hvcsv_sync_exports)
SELECT substring(export_url FROM '[^/]*\$') AS export, rows, bytes, synced_at - min(synced_at) OVER () AS read_later_by
  FROM hvcsv_sync_exports WHERE foreign_table = 'daily_orders'::regclass ORDER BY export_url;
SQL
echo "requests the API saw for this sync:"
api_requests
echo
echo "== the sync history of the series"
sql <<SQL
SELECT run_id, status, rows_inserted, rows_unchanged, bytes_fetched, finished_at - started_at AS took
  FROM hvcsv_sync_history WHERE foreign_table = 'daily_orders'::regclass ORDER BY run_id;
SQL
