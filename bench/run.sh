#!/usr/bin/env bash
# Benchmarks hvcsv_fdw against file_fdw on the same generated CSV file.
#
# Usage: bench/run.sh [--rows N] [--runs R]      (defaults: 2000000 rows, 3 runs)
#
# Starts a throwaway PostgreSQL 15 cluster and the repository's fixture HTTP
# server, lets hvcsv_fdw download the file once into its spool (max_age '1h'
# keeps later scans off HTTP), then times each workload R times on both
# foreign tables, interleaved, one fresh connection per timed query, and
# prints medians, min/max and each backend's peak RSS (VmHWM).  Everything
# it started is stopped and removed on exit.  Needs root (as test/run_all.sh)
# and an installed hvcsv_fdw (make && make install).
set -euo pipefail

ROWS=2000000
RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?--rows needs a value}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ROWS" =~ ^[0-9]+$ && "$RUNS" =~ ^[1-9][0-9]*$ ]] || {
    echo "--rows must be a number >= 0 and --runs a number >= 1" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"     # hv_start_cluster, hv_start_fixture, PG_BIN, ...
PGPORT=54339
FIXTURE_PORT=18799
API_KEY=bench-key
started=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[ -f "$("$PG_BIN/pg_config" --sharedir)/extension/hvcsv_fdw.control" ] || {
    echo "hvcsv_fdw is not installed; run make && make install" >&2; exit 1; }

# The cluster lives here, and file_fdw (run by the postgres OS user) reads
# the CSV file from here too.
work=$(mktemp -d /tmp/hvcsv_bench.XXXXXX)
chmod 755 "$work"
cleanup() {
    hv_stop_fixture
    hv_stop_cluster "$work"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The data, generated once.
mkdir "$work/www"
csv="$work/www/bench.csv"
gen_start=$(date +%s.%N)
python3 "$top/bench/gen_csv.py" --rows "$ROWS" --out "$csv"
gen_secs=$(since "$gen_start")
chmod 644 "$csv"
size_bytes=$(stat -c %s "$csv")

# 2. The cluster (JIT off: its compile time would be noise here) and the
# vendor API stand-in.
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off"
hv_start_fixture "$work/www" "$FIXTURE_PORT" "$API_KEY" "$work/fixture.log"

psql() {
    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$PGPORT" -U postgres -d postgres "$@"
}
# Requests the fixture server has logged so far (header line excluded).
http_requests() {
    python3 -c 'import sys, urllib.request
print(len(urllib.request.urlopen(sys.argv[1]).read().decode().splitlines()) - 1)' \
        "http://127.0.0.1:$FIXTURE_PORT/_log.csv"
}

cols="has_id text, name text, city text, created_at timestamptz, email text,
      country text, amount numeric, quantity integer, active boolean, notes text"
psql <<SQL
CREATE EXTENSION hvcsv_fdw;
CREATE EXTENSION file_fdw;
CREATE SERVER bench FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', max_age '1h');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench OPTIONS (api_key '$API_KEY');
CREATE FOREIGN TABLE hv ($cols) SERVER bench OPTIONS (path '/bench.csv');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE ff ($cols) SERVER files
    OPTIONS (filename '$csv', format 'csv', header 'true');
SQL

# One query on a fresh connection.  Prints "seconds peak_kB result": the
# time between clock_timestamp() just before and just after the query,
# the backend's VmHWM read by the backend itself after the query, and the
# query's result (to check that both tables return the same thing).
timed() {
    psql <<SQL
SELECT clock_timestamp() AS t0 \gset
SELECT concat_ws('/', $1) AS res FROM $2 \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB') AS hwm \gset
\echo :secs :hwm :res
SQL
}

W1="count(*)"
W2="count(has_id), count(name), count(city), count(created_at)"

# 3. Warm-up: the first hv scan downloads the spool; ff warms the page cache.
# (Plain assignments, so that set -e stops on a failed query.)
out=$(timed "$W1" hv); read -r warm_hv _ warm_hv_res <<< "$out"
out=$(timed "$W1" ff); read -r warm_ff _ warm_ff_res <<< "$out"
idle_kb=$(psql -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')")
requests_before=$(http_requests)

# 4. The timed runs, interleaved so drift hits both tables alike.
results="$work/results.txt"
: > "$results"
for w in W1 W2; do
    for r in $(seq "$RUNS"); do
        for t in hv ff; do
            out=$(timed "${!w}" "$t")
            echo "$w $t $r $out" >> "$results"
        done
    done
done
requests_after=$(http_requests)
spool_bytes=$(du -sb "$work/data/pg_hvcsv_spool" 2>/dev/null | cut -f1 || echo 0)

# 5. The report.
python3 - "$results" <<PY
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
desc = {"W1": "W1 count(*)", "W2": "W2 4-col count"}
def cell(w, t):
    secs = [float(r[3]) for r in rows if r[0] == w and r[1] == t]
    return statistics.median(secs), min(secs), max(secs), \
        max(int(r[4]) for r in rows if r[0] == w and r[1] == t) / 1024
print()
print("hvcsv_fdw vs file_fdw: $ROWS rows, file $size_bytes bytes (%.1f MB), "
      "nproc $(nproc), $RUNS runs per cell" % ($size_bytes / 1048576))
print("%-16s %-27s %-27s %6s %9s %9s" % ("workload", "hvcsv s median [min-max]",
      "file_fdw s median [min-max]", "ratio", "hv RSS MB", "ff RSS MB"))
for w in ("W1", "W2"):
    h, f = cell(w, "hv"), cell(w, "ff")
    print("%-16s %-27s %-27s %6.2f %9.1f %9.1f" % (
        desc[w], "%.3f [%.3f-%.3f]" % h[:3], "%.3f [%.3f-%.3f]" % f[:3],
        f[0] / h[0], h[3], f[3]))
print("ratio = file_fdw median / hvcsv median (>1: hvcsv_fdw faster); "
      "RSS = peak VmHWM of the backend over the runs")
print("idle backend VmHWM: %.1f MB" % ($idle_kb / 1024))
# Both tables must agree with each other and with the generator.
bad = sorted({" ".join(r[:3]) + " -> " + r[5] for r in rows
              if r[5] != {"W1": "$ROWS", "W2": "/".join(["$ROWS"] * 4)}[r[0]]})
for b in bad:
    print("WARNING: unexpected result:", b)
PY
cat <<EOF
warm-up: hvcsv first scan (download + scan) $(printf %.3f "$warm_hv")s -> $warm_hv_res rows; file_fdw $(printf %.3f "$warm_ff")s -> $warm_ff_res rows
hvcsv spool: $spool_bytes bytes; HTTP requests: $requests_before during warm-up, $((requests_after - requests_before)) during the timed runs
generator: ${gen_secs}s; PostgreSQL: $(psql -c 'SHOW server_version'); total wall time $(since "$started")s
EOF
