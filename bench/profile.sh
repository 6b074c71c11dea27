#!/usr/bin/env bash
# Profiles hvcsv_fdw's hot paths with perf, on the benchmark's generated file.
#
# Usage: bench/profile.sh [--rows N] [--out DIR]
#        (defaults: 2000000 rows, bench/profiles)
#
# Starts a throwaway cluster and the fixture server (as bench/run.sh does),
# then records, with `perf record -g`, one run each of:
#   scan_count    SELECT count(*)                          (projected reader)
#   scan_10cols   the 10-column aggregate (W3 of bench/run.sh)
#   file_fdw_10cols  the same over file_fdw, for comparison
#   refresh_0changed  hvcsv_refresh() of an unchanged export under a new ETag
#                 (its background worker, where the work runs)
# and writes DIR/NAME.txt: the functions with at least 1% of the samples,
# by self time (perf report --no-children).  Needs root, perf
# (Debian package linux-perf) and an installed hvcsv_fdw.
set -euo pipefail

ROWS=2000000
top=$(cd "$(dirname "$0")/.." && pwd)
OUT=$top/bench/profiles
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
command -v perf >/dev/null || { echo "perf is not installed (apt install linux-perf)" >&2; exit 1; }
. "$top/test/lib.sh"
. "$top/bench/lib.sh"
PGPORT=54349
FIXTURE_PORT=18798
bench_work hvcsv_profile
mkdir -p "$OUT" "$work/www"
python3 "$top/bench/gen_csv.py" --rows "$ROWS" --out "$work/www/bench.csv"
chmod 644 "$work/www/bench.csv"
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off" "max_wal_size = 16GB"
hv_start_fixture "$work/www" "$FIXTURE_PORT" key "$work/fixture.log"

cols=$BENCH_COLS
psql <<SQL
$(bench_servers_sql "$FIXTURE_PORT" key)
CREATE TABLE tgt ($cols, PRIMARY KEY (has_id));
CREATE FOREIGN TABLE hv ($cols) SERVER bench OPTIONS (path '/bench.csv', target 'tgt');
CREATE FOREIGN TABLE ff ($cols) SERVER files
    OPTIONS (filename '$work/www/bench.csv', format 'csv', header 'true');
SELECT count(*) FROM hv;
SELECT count(*) FROM ff;
SELECT status FROM hvcsv_refresh('hv');
VACUUM ANALYZE tgt;
SQL

W3="SELECT count(has_id), count(name), count(city), max(created_at), count(email),
    count(country), sum(amount), sum(quantity), count(*) FILTER (WHERE active), count(notes)"

# report NAME: the text profile of $work/NAME.data.
report() {
    {
        echo "# $1: perf record -g, $ROWS rows ($(stat -c %s "$work/www/bench.csv") bytes), $(date -u +%F)"
        echo "# top functions by self time"
        echo "# (postgres is stripped: its own functions show as addresses)"
        perf report -i "$work/$1.data" --stdio --no-children --sort dso,symbol \
            --percent-limit 1 -g none 2>/dev/null | grep -v '^$' | grep -v '^#' | head -40
    } > "$OUT/$1.txt"
    echo "wrote $OUT/$1.txt"
}
# backend NAME QUERY: profiles QUERY in its backend.
backend() {
    psql <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! perf record -q -g -p \$BACKEND_PID -o $work/$1.data >/dev/null 2>&1 & echo \$! > $work/perf.pid; sleep 1
$2;
\! kill -INT \$(cat $work/perf.pid); sleep 1
SQL
    report "$1"
}
backend scan_count "SELECT count(*) FROM hv"
backend scan_10cols "$W3 FROM hv"
backend file_fdw_10cols "$W3 FROM ff"

# The refresh runs in a background worker: record that process, from the
# moment it appears until it ends.
psql -c "DELETE FROM hvcsv_sync_state"
psql -c "SELECT status, rows_unchanged FROM hvcsv_refresh('hv')" &
refresh_pid=$!
worker=""
while [ -z "$worker" ]; do
    worker=$(psql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'hvcsv_fdw refresh'")
done
perf record -q -g -p "$worker" -o "$work/refresh_0changed.data" >/dev/null 2>&1 || true
wait "$refresh_pid"
report refresh_0changed
