#!/usr/bin/env bash
# Benchmarks the first download of a large export through a link limited
# per connection (README, "download_connections"):
#
# The fixture server's generated CSV (/_gen.csv?mb=MB, MB MiB of complete
# rows: the default 259 MiB is the 272 MB of bench/run.sh's file) is served
# throttled to RATE bytes per second per request, as a vendor or a proxy
# that limits each connection does.  A table on a server with
# download_connections 1 and one with 4 (the default) each download it
# anew (a fresh spool per run), interleaved, R times: the time of a first
# scan that reads one row, so what is timed is the download, its row index
# and the spool's fsync, not the scan.  Prints each run, the medians, their
# ratio, and the HTTP requests of the last run of each (ranges and their
# Range headers).  With --rtt-ms, lo gets that round-trip time (netem, half
# each way), which every new connection and range pays.  A kernel without
# netem can have --latency-ms instead: the fixture server waits that long
# before it answers each request (its delay fault), as a distant server's
# first byte does; the packets themselves are not slowed.
#
# Usage: bench/network.sh [--runs R] [--mb MB] [--rate BPS] [--rtt-ms MS]
#                         [--latency-ms MS]
#        (defaults: 3 runs, 259 MiB, 20000000 bytes/s, no added latency)
# --rtt-ms needs tc (iproute2) and must run inside a network namespace of
# its own (ip netns exec NAME bench/network.sh ...): netem on lo would slow
# every local connection of the machine.  Needs root and an installed
# hvcsv_fdw (make && make install), as bench/run.sh.  Everything it
# started is stopped and removed on exit.
set -euo pipefail

RUNS=3
MB=259
RATE=20000000
RTT_MS=0
LATENCY_MS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --mb) MB=${2:?--mb needs a value}; shift 2 ;;
        --rate) RATE=${2:?--rate needs a value}; shift 2 ;;
        --rtt-ms) RTT_MS=${2:?--rtt-ms needs a value}; shift 2 ;;
        --latency-ms) LATENCY_MS=${2:?--latency-ms needs a value}; shift 2 ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in RUNS MB RATE; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "--${v,,} must be a number >= 1" >&2; exit 2; }
done
[[ "$RTT_MS" =~ ^[0-9]+$ ]] || { echo "--rtt-ms must be a number >= 0" >&2; exit 2; }
[[ "$LATENCY_MS" =~ ^[0-9]+$ ]] || { echo "--latency-ms must be a number >= 0" >&2; exit 2; }
delay=
[ "$LATENCY_MS" -gt 0 ] && delay="&delay=$(awk -v l="$LATENCY_MS" 'BEGIN { printf "%.3f", l / 1000 }')"
if [ "$RTT_MS" -gt 0 ]; then
    command -v tc >/dev/null || { echo "--rtt-ms needs tc (Debian package iproute2)" >&2; exit 2; }
    [ -n "$(ip netns identify 2>/dev/null)" ] || {
        echo "--rtt-ms: run it inside a network namespace (ip netns exec NAME $0 ...)" >&2; exit 2; }
fi

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"     # hv_start_cluster, hv_start_fixture, PG_BIN, ...
. "$top/bench/lib.sh"    # psql, since, median, fixture_get, bench_require_installed
PGPORT=54359
FIXTURE_PORT=18819
API_KEY=bench-key

bench_require_installed

netem=
bench_extra_cleanup() {
    [ -n "$netem" ] && tc qdisc del dev lo root 2>/dev/null || true
}
bench_work hvcsv_bench_network

mkdir -p "$work/www"
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off"
hv_start_fixture "$work/www" "$FIXTURE_PORT" "$API_KEY" "$work/fixture.log"
if [ "$RTT_MS" -gt 0 ]; then
    tc qdisc add dev lo root netem delay "$(awk -v r="$RTT_MS" 'BEGIN { printf "%.1f", r / 2 }')ms" || {
        echo "--rtt-ms: tc could not add netem to lo (a kernel without sch_netem?)" >&2; exit 2; }
    netem=1
fi

psql <<SQL
CREATE EXTENSION hvcsv_fdw;
CREATE SERVER one FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', download_connections '1');
CREATE SERVER four FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', download_connections '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER one OPTIONS (api_key '$API_KEY');
CREATE USER MAPPING FOR CURRENT_USER SERVER four OPTIONS (api_key '$API_KEY');
SQL

# download SERVER RUN: a table of the export on SERVER, with a spool
# directory of its own, read for one row; prints the seconds it took.  The
# spool is removed afterwards, so that runs do not fill the disk.
download() {
    local table="t_$1_$2" dir="pg_hvcsv_spool_bench_$1_$2"
    fixture_get _reset >/dev/null
    psql <<SQL
CREATE FOREIGN TABLE $table (id int, name text, city text, created_at text, amount numeric,
    notes text) SERVER $1 OPTIONS (path '/_gen.csv?mb=$MB&rate=$RATE$delay&run=$2');
SET hvcsv_fdw.spool_directory = '$dir';
SELECT clock_timestamp() AS t0 \gset
SELECT id FROM $table LIMIT 1 \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs \gset
\echo :secs
DROP FOREIGN TABLE $table;
SQL
    rm -rf "${work:?}/data/$dir"
}

echo "export: /_gen.csv?mb=$MB ($(( MB * 1048576 + 37 )) bytes), $RATE bytes/s per connection, added round trip ${RTT_MS} ms, latency before each answer ${LATENCY_MS} ms"
: > "$work/one.txt"
: > "$work/four.txt"
for run in $(seq "$RUNS"); do
    a=$(download one "$run")
    echo "$a" >> "$work/one.txt"
    fixture_get _log.csv > "$work/log_one.csv"
    b=$(download four "$run")
    echo "$b" >> "$work/four.txt"
    fixture_get _log.csv > "$work/log_four.csv"
    printf 'run %d: download_connections 1: %.2f s, 4: %.2f s\n' "$run" "$a" "$b"
done
m1=$(median < "$work/one.txt")
m4=$(median < "$work/four.txt")
printf 'median of %d runs: download_connections 1: %.2f s (%.1f MB/s), 4: %.2f s (%.1f MB/s), ratio %.2f\n' \
    "$RUNS" "$m1" "$(awk -v s="$m1" -v b=$(( MB * 1048576 + 37 )) 'BEGIN { print b / s / 1e6 }')" \
    "$m4" "$(awk -v s="$m4" -v b=$(( MB * 1048576 + 37 )) 'BEGIN { print b / s / 1e6 }')" \
    "$(awk -v a="$m1" -v b="$m4" 'BEGIN { print a / b }')"
for s in one four; do
    echo "requests of the last run, download_connections $s (status, Range, bytes sent):"
    python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print("  %s %-24s %s" % (r["status"], r["range"] or "-", r["bytes_sent"]))' "$work/log_$s.csv"
done
