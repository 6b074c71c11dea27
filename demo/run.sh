#!/usr/bin/env bash
# The main job with defaults: a throwaway PostgreSQL cluster, a bundled
# sample CSV API (the fixture server with an API key, serving a generated
# seed-shaped export), and hvcsv_fdw querying it in place.  Installs what a
# fresh Debian 12 lacks (as root), and stops what it started.
#   demo/run.sh [--rows N]     (default 200000)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib.sh

rows=200000
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
chown -R postgres: "$work"
hv_start_cluster "$work" "$PGPORT"
hv_start_fixture "$work/api" "$API_PORT" "$API_KEY" "$work/api.log"
echo "sample CSV API: http://127.0.0.1:$API_PORT/accounts.csv (Authorization: apiKey $API_KEY)"

psql -X -h "$work" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 <<SQL
\echo
\echo == set up: the extension, the API, its key, and the export as a table
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER csv_api FOREIGN DATA WRAPPER hvcsv_fdw
  OPTIONS (api_url 'http://127.0.0.1:$API_PORT', max_age '10min');
CREATE USER MAPPING FOR CURRENT_USER SERVER csv_api OPTIONS (api_key '$API_KEY');
CREATE FOREIGN TABLE accounts (
  has_id text, name text, city text, created_at timestamptz, email text,
  country text, amount numeric, quantity integer, active boolean, notes text)
  SERVER csv_api OPTIONS (path '/accounts.csv');

\echo
\echo == EXPLAIN alone fetches nothing
EXPLAIN SELECT has_id, city FROM accounts;

\timing on
\echo
\echo == the first query downloads the export into the spool
SELECT count(*) AS rows FROM accounts;
\echo
\echo == later queries read the spool, converting only the columns they use
SELECT city, count(*) AS accounts, round(avg(amount), 2) AS avg_amount
  FROM accounts GROUP BY city ORDER BY accounts DESC, city LIMIT 5;
SELECT has_id, name, city, created_at FROM accounts ORDER BY created_at DESC LIMIT 5;
\timing off
\echo
EXPLAIN SELECT has_id, city FROM accounts;
SQL

echo
echo "== requests the API saw"
curl -s "http://127.0.0.1:$API_PORT/_log.csv" | cut -d, -f2-4,10
