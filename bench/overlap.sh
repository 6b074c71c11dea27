#!/usr/bin/env bash
# Benchmarks the overlap of download and load (issue 18 item 2): a first
# hvcsv_refresh() of an export into an empty target, over a link limited
# per connection, against its two halves timed apart.
#
# bench/gen_csv.py's file (ROWS rows, keys unique) is served throttled to
# RATE bytes per second per request, on a server with download_connections
# 1: the fixture throttles each request, so one connection is a link of
# RATE.  Each run times, with a spool directory of its own:
#   download  a first scan of the table that reads one row: the download,
#             its row index and the spool's fsync (the scan stops at once,
#             and its spool is then downloaded to its end and published);
#   load      hvcsv_refresh() of that table into its empty target: a 304
#             for the spool just made, then the load from the spool;
#   overlap   hvcsv_refresh() of a second table of the same file (another
#             URL, so another spool) into its empty target: the download
#             and the load at once, the body read as it arrives;
#   first     the same for a third table whose requests ask the server to
#             ignore Range (norange=1): a body that a break could not
#             resume is downloaded first, then loaded, as every body was
#             before the overlap.
# Prints each run (with the statuses of its three refreshes), the medians,
# and overlap / max(download, load), the issue's goal being at most 1.15,
# beside first / max.
#
# Usage: bench/overlap.sh [--runs R] [--rows N] [--rate BPS]
#        (defaults: 3 runs, 2000000 rows, 50000000 bytes/s)
# Needs root and an installed hvcsv_fdw (make && make install), as
# bench/run.sh.  Everything it started is stopped and removed on exit.
set -euo pipefail

RUNS=3
ROWS=2000000
RATE=50000000
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --rows) ROWS=${2:?--rows needs a value}; shift 2 ;;
        --rate) RATE=${2:?--rate needs a value}; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in RUNS ROWS RATE; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "--${v,,} must be a number >= 1" >&2; exit 2; }
done

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"     # hv_start_cluster, hv_start_fixture, PG_BIN, ...
. "$top/bench/lib.sh"    # psql, BENCH_COLS, median, bench_require_installed
PGPORT=54361
FIXTURE_PORT=18821
API_KEY=bench-key

bench_require_installed

bench_work hvcsv_bench_overlap

mkdir -p "$work/www"
python3 "$top/bench/gen_csv.py" --rows "$ROWS" --out "$work/www/bench.csv"
size=$(stat -c %s "$work/www/bench.csv")
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off" \
    "max_wal_size = 16GB" "checkpoint_timeout = 1h"
hv_start_fixture "$work/www" "$FIXTURE_PORT" "$API_KEY" "$work/fixture.log"

psql <<SQL
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER ov FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', download_connections '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER ov OPTIONS (api_key '$API_KEY');
SQL

# table NAME [QUERY]: a foreign table of the throttled file (its URL names
# the table, so each has a spool of its own; QUERY is added to it) and its
# empty target NAME_t.
table() {
    echo "CREATE TABLE $1_t ($BENCH_COLS, PRIMARY KEY (has_id)) WITH (autovacuum_enabled = off);
          CREATE FOREIGN TABLE $1 ($BENCH_COLS) SERVER ov
              OPTIONS (path '/bench.csv?rate=$RATE&table=$1${2:-}', target '$1_t');"
}

# timed SQL: prints the seconds SQL took.
timed() {
    echo "CHECKPOINT;
          SELECT clock_timestamp() AS t0 \\gset
          $1 \\g /dev/null
          SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs \\gset
          \\echo :secs"
}

# one RUN: prints the download, load, overlap and first seconds.
one() {
    local dir="pg_hvcsv_spool_bench_overlap_$1"
    psql <<SQL | tr '\n' ' '
$(table "a_$1")
$(table "b_$1")
$(table "c_$1" "&norange=1")
SET hvcsv_fdw.spool_directory = '$dir';
$(timed "SELECT has_id FROM a_$1 LIMIT 1")
$(timed "SELECT status FROM hvcsv_refresh('a_$1')")
$(timed "SELECT status FROM hvcsv_refresh('b_$1')")
$(timed "SELECT status FROM hvcsv_refresh('c_$1')")
SELECT string_agg(status || ':' || rows_inserted, ',' ORDER BY run_id) FROM hvcsv_sync_history
 WHERE foreign_table IN ('a_$1'::regclass, 'b_$1'::regclass, 'c_$1'::regclass);
DROP FOREIGN TABLE a_$1, b_$1, c_$1;
DROP TABLE a_$1_t, b_$1_t, c_$1_t;
SQL
    rm -rf "${work:?}/data/$dir"
}

echo "export: $ROWS rows, $size bytes, $RATE bytes/s per connection"
: > "$work/times.txt"
for run in $(seq "$RUNS"); do
    read -r d l o f runs <<< "$(one "$run")"
    echo "$d $l $o $f" >> "$work/times.txt"
    printf 'run %d: download %.2f s, load %.2f s, overlap %.2f s, first %.2f s (refreshes %s)\n' \
        "$run" "$d" "$l" "$o" "$f" "$runs"
done
md=$(awk '{ print $1 }' "$work/times.txt" | median)
ml=$(awk '{ print $2 }' "$work/times.txt" | median)
mo=$(awk '{ print $3 }' "$work/times.txt" | median)
mf=$(awk '{ print $4 }' "$work/times.txt" | median)
printf 'median of %d runs: download %.2f s, load %.2f s, overlap %.2f s, first %.2f s; overlap / max %.2f, first / max %.2f\n' \
    "$RUNS" "$md" "$ml" "$mo" "$mf" \
    "$(awk -v d="$md" -v l="$ml" -v o="$mo" 'BEGIN { m = d > l ? d : l; print o / m }')" \
    "$(awk -v d="$md" -v l="$ml" -v f="$mf" 'BEGIN { m = d > l ? d : l; print f / m }')"
