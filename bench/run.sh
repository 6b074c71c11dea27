#!/usr/bin/env bash
# Benchmarks hvcsv_fdw's readers against file_fdw on the same generated CSV.
#
# Usage: bench/run.sh [--rows N] [--runs R]      (defaults: 2000000 rows, 3 runs)
#
# Starts a throwaway PostgreSQL 15 cluster and the repository's fixture HTTP
# server, lets hvcsv_fdw download the file once into its spool (max_age '1h'
# keeps later scans off HTTP), then times pairs of queries R times each,
# interleaved, one fresh connection per timed query: the projected reader
# against file_fdw (W1-W3), the partitioned reader with 2 workers against
# none (W2, W3), the streaming reader against the spool and file_fdw (W1,
# LIMIT 10).  Prints medians, min/max, each backend's peak RSS (VmHWM), the
# plans of the parallel case, and checks every result.  Everything it
# started is stopped and removed on exit.  Needs root (as test/run_all.sh)
# and an installed hvcsv_fdw (make && make install).
set -euo pipefail

ROWS=2000000
RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?--rows needs a value}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
BLOCK_SIZE=32MB    # hv_part's partitions: about 9 of a 272 MB file
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
CREATE FOREIGN TABLE hv_part ($cols) SERVER bench
    OPTIONS (path '/bench.csv', reader 'partitioned', block_size '$BLOCK_SIZE');
CREATE FOREIGN TABLE hv_stream ($cols) SERVER bench
    OPTIONS (path '/bench.csv', reader 'streaming');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE ff ($cols) SERVER files
    OPTIONS (filename '$csv', format 'csv', header 'true');
SQL

# One query on a fresh connection: timed SETUP QUERY KIND.  SETUP (SET
# commands, may be empty) runs before the clock starts.  KIND "agg": QUERY
# returns one row with one column, res; KIND "rows": QUERY's rows are
# discarded and res is their number.  Prints "seconds peak_kB res": the time
# between clock_timestamp() just before and just after the query, the
# backend's VmHWM read by the backend itself after the query, and the result
# (to check that every table returns the same thing).
timed() {
    local run
    case "$3" in
        agg)  run="$2 \\gset" ;;
        rows) run="$2 \\g /dev/null
\\set res :ROW_COUNT" ;;
        *) echo "timed: bad kind $3" >&2; return 2 ;;
    esac
    psql <<SQL
$1
SELECT clock_timestamp() AS t0 \gset
$run
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB') AS hwm \gset
\echo :secs :hwm :res
SQL
}

# The workloads, as select lists (res is their results joined by "/").
W1="count(*)"
W2="count(has_id), count(name), count(city), count(created_at)"
W3="count(has_id), count(name), count(city), max(created_at), count(email),
    count(country), sum(amount), sum(quantity), count(*) FILTER (WHERE active),
    count(notes)"
agg() { echo "SELECT concat_ws('/', ${!1}) AS res FROM $2"; }
SERIAL="SET max_parallel_workers_per_gather = 0;"
PARALLEL="SET max_parallel_workers_per_gather = 2;"

# 3. Warm-up: the first hv scan downloads the spool (which hv_part shares:
# same server, user mapping and path); ff warms the page cache; hv_part and
# hv_stream run once each (the latter over HTTP, as always).
# (Plain assignments, so that set -e stops on a failed query.)
out=$(timed "" "$(agg W1 hv)" agg); read -r warm_hv _ warm_hv_res <<< "$out"
out=$(timed "" "$(agg W1 ff)" agg); read -r warm_ff _ warm_ff_res <<< "$out"
out=$(timed "" "$(agg W1 hv_part)" agg); read -r warm_part _ warm_part_res <<< "$out"
requests_spool=$(http_requests)
out=$(timed "" "$(agg W1 hv_stream)" agg); read -r warm_stream _ warm_stream_res <<< "$out"
idle_kb=$(psql -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')")
requests_warm=$(http_requests)

# The plans of the partitioned reader, as the planner picks them with default
# costs: 2 workers allowed, then none; one EXPLAIN ANALYZE shows whether the
# workers were really launched.
explain() { psql -c "$1" -c "EXPLAIN $2"; }
plans="$work/plans.txt"
{
    for w in W2 W3; do
        echo "== $w 2 workers"; explain "$PARALLEL" "$(agg $w hv_part)"
        echo "== $w 0 workers"; explain "$SERIAL" "$(agg $w hv_part)"
    done
    echo "== W3 2 workers analyze"
    explain "$PARALLEL" "(ANALYZE, COSTS OFF, TIMING OFF) $(agg W3 hv_part)"
} > "$plans"
parallel_conf=$(psql -c "SELECT format('max_worker_processes %s, max_parallel_workers %s, max_parallel_workers_per_gather %s (default), parallel_setup_cost %s, parallel_tuple_cost %s, min_parallel_table_scan_size %s',
    current_setting('max_worker_processes'), current_setting('max_parallel_workers'),
    current_setting('max_parallel_workers_per_gather'), current_setting('parallel_setup_cost'),
    current_setting('parallel_tuple_cost'), current_setting('min_parallel_table_scan_size'))")
requests_explain=$(http_requests)

# 4. The timed runs.  Each row compares a left and a right query, R times
# each, interleaved (left, right, left, right, ...) so drift hits both alike.
# pair ROW KIND LEFT_SETUP LEFT_QUERY RIGHT_SETUP RIGHT_QUERY
results="$work/results.txt"
: > "$results"
pair() {
    local row=$1 kind=$2 r out
    for r in $(seq "$RUNS"); do
        out=$(timed "$3" "$4" "$kind"); echo "$row L $r $out" >> "$results"
        out=$(timed "$5" "$6" "$kind"); echo "$row R $r $out" >> "$results"
    done
}
# hvcsv_fdw (projected reader, spool local) against file_fdw.
for w in W1 W2 W3; do
    pair "$w" agg "" "$(agg $w hv)" "" "$(agg $w ff)"
done
# The partitioned reader with 2 workers allowed against none.
for w in W2 W3; do
    pair "P$w" agg "$PARALLEL" "$(agg $w hv_part)" "$SERIAL" "$(agg $w hv_part)"
done
requests_spooled=$(http_requests)
# The streaming reader (one HTTP request per scan) against the projected
# reader on its local spool, and the time of LIMIT 10 (to the first rows)
# against file_fdw's.
pair SW1 agg "" "$(agg W1 hv_stream)" "" "$(agg W1 hv)"
pair SL10 rows "" "SELECT * FROM hv_stream LIMIT 10" "" "SELECT * FROM ff LIMIT 10"
requests_streamed=$(http_requests)
# For reference: the fixture server's own time to first byte on this file
# (it reads and hashes the whole file before it answers), by curl, for a
# 1 kB range so that the transfer does not count.
ttfb="$work/ttfb.txt"
: > "$ttfb"
for r in $(seq "$RUNS"); do
    curl -sS -o /dev/null -r 0-1023 -H "Authorization: apiKey $API_KEY" \
        -w '%{time_starttransfer}\n' "http://127.0.0.1:$FIXTURE_PORT/bench.csv" >> "$ttfb"
done
sleep 0.5   # lets the server log the last aborted transfer
log_csv="$work/http_log.csv"
python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "http://127.0.0.1:$FIXTURE_PORT/_log.csv" > "$log_csv"
block_bytes=$(psql -c "SELECT pg_size_bytes('$BLOCK_SIZE')")
spool_bytes=$(du -sb "$work/data/pg_hvcsv_spool" 2>/dev/null | cut -f1 || echo 0)

# 5. The report.
python3 - "$results" "$plans" "$ttfb" "$log_csv" <<PY
import csv, re, statistics, sys
ROWS, RUNS, SIZE, IDLE_KB = $ROWS, $RUNS, $size_bytes, $idle_kb
rows = [l.rstrip("\n").split(None, 5) for l in open(sys.argv[1])]
for r in rows:                          # an empty result (0 rows) leaves 5 fields
    r += [""] * (6 - len(r))

def cell(row, side):
    sel = [r for r in rows if r[0] == row and r[1] == side]
    secs = [float(r[3]) for r in sel]
    return (statistics.median(secs), min(secs), max(secs),
            max(int(r[4]) for r in sel) / 1024)

FMT = "%-16s %-27s %-27s %6s %9s %9s"
def section(title, head, lines, legend):
    print()
    print(title)
    print(FMT % head)
    for label, row in lines:
        a, b = cell(row, "L"), cell(row, "R")
        print(FMT % (label, "%.3f [%.3f-%.3f]" % a[:3], "%.3f [%.3f-%.3f]" % b[:3],
                     "%.2f" % (b[0] / a[0]), "%.1f" % a[3], "%.1f" % b[3]))
    for l in legend:
        print(l)

# The plans.
plans, name = {}, None
for line in open(sys.argv[2]):
    if line.startswith("== "):
        name = line[3:].strip()
        plans[name] = []
    elif name:
        plans[name].append(line.rstrip("\n"))
def shape(lines):
    nodes = [lines[0].split("  (")[0].strip()] + [
        l.split("->", 1)[1].split("  (")[0].strip() for l in lines[1:] if "->" in l]
    planned = [l.strip() for l in lines if "Workers Planned:" in l]
    return " -> ".join(nodes) + ("  [%s]" % planned[0] if planned else "")
parts = [l.split(":")[1].strip() for l in plans["W3 2 workers"] if "Partitions:" in l]

print()
print("hvcsv_fdw benchmark: $ROWS rows, file $size_bytes bytes (%.1f MB), "
      "nproc $(nproc), $RUNS runs per cell" % (SIZE / 1048576))
section("1. hvcsv_fdw (hv: projected reader, spool local) vs file_fdw (ff)",
        ("workload", "hvcsv s median [min-max]", "file_fdw s median [min-max]",
         "ratio", "hv RSS MB", "ff RSS MB"),
        [("W1 count(*)", "W1"), ("W2 4-col count", "W2"), ("W3 10-col agg", "W3")],
        ["   ratio = file_fdw median / hvcsv median (>1: hvcsv_fdw faster)"])
section("2. partitioned reader (hv_part, block_size $BLOCK_SIZE, partitions: %s): "
        "max_parallel_workers_per_gather 2 vs 0" % (parts[0] if parts else "?"),
        ("workload", "2 workers s med [min-max]", "0 workers s med [min-max]",
         "ratio", "2w RSS MB", "0w RSS MB"),
        [("W2 4-col count", "PW2"), ("W3 10-col agg", "PW3")],
        ["   ratio = serial (0 workers) median / parallel (2 workers) median (>1: parallel faster);",
         "   RSS is the leader backend's only (workers are separate processes)"])
section("3. streaming reader (hv_stream: one HTTP request per scan, no spool)",
        ("workload", "hv_stream s med [min-max]", "baseline s median [min-max]",
         "ratio", "st RSS MB", "bl RSS MB"),
        [("W1 count(*)/hv", "SW1"), ("LIMIT 10/ff", "SL10")],
        ["   baseline: hv (projected, spool local) for W1, ff for LIMIT 10 (SELECT * ... LIMIT 10);",
         "   ratio = baseline median / hv_stream median (>1: streaming faster); streaming",
         "   times include the HTTP request and transfer from the local fixture server"])

print()
print("legend: times are seconds between clock_timestamp() just before and after the query,"
      " each on a fresh connection;")
print("  RSS = peak VmHWM of the backend over the runs; idle backend VmHWM: %.1f MB" % (IDLE_KB / 1024))
peak = cell("SW1", "L")[3]
print("streaming full count(*): backend peak RSS %.1f MB, peak - idle %.1f MB" %
      (peak, peak - IDLE_KB / 1024))
ttfb = [float(x) for x in open(sys.argv[3]).read().split()]
print("fixture server time to first byte (curl, 1 kB range of the file): %.3f [%.3f-%.3f] s"
      % (statistics.median(ttfb), min(ttfb), max(ttfb)))

# What the HTTP log says about the streaming requests (the last 3*RUNS
# entries: RUNS full count(*), RUNS LIMIT 10, RUNS curl ranges).
log = list(csv.DictReader(open(sys.argv[4])))
stream_log = log[-3 * RUNS:-RUNS] if RUNS else []
full, limited = stream_log[:RUNS], stream_log[RUNS:]
def sent(entries):
    return "/".join(e["bytes_sent"] for e in entries) + " bytes, complete " + \
        "/".join(e["complete"] for e in entries)
print("HTTP, streaming count(*): " + sent(full))
print("HTTP, streaming LIMIT 10: " + sent(limited))

print()
print("parallel settings: $parallel_conf")
for name in ("W2 2 workers", "W2 0 workers", "W3 2 workers", "W3 0 workers"):
    print("plan %-13s %s" % (name + ":", shape(plans[name])))
print("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) W3, 2 workers:")
for l in plans["W3 2 workers analyze"]:
    print("    " + l)

# Checks.
warn = []
def check(cond, msg):
    if not cond:
        warn.append(msg)
# The planner gives a partial path at most size / block_size workers.
small = SIZE < $block_bytes
for name in ("W2 2 workers", "W3 2 workers"):
    check(small or any("Gather" in l for l in plans[name]), "no Gather in the plan of " + name)
for name in ("W2 0 workers", "W3 0 workers"):
    check(not any("Gather" in l for l in plans[name]), "a Gather in the plan of " + name)
launched = [l.strip() for l in plans["W3 2 workers analyze"] if "Workers Launched" in l]
check(small or (launched and not launched[0].endswith(" 0")),
      "workers launched: %s" % (launched or "none"))
if small:
    print("note: the file is smaller than block_size $BLOCK_SIZE, so no parallel plan is expected")
N = str(ROWS)
expect = {"W1": N, "W2": "/".join([N] * 4), "SW1": N, "SL10": str(min(10, ROWS)),
          "PW2": "/".join([N] * 4)}
for r in rows:
    w = r[0]
    if w in expect:
        check(r[5] == expect[w], "unexpected result: %s %s run %s -> %s" % tuple(r[:3] + [r[5]]))
# W3: the counts of never-empty columns equal the row count; every table and
# mode gives the same result as file_fdw.
w3 = {(r[0], r[1]): r[5] for r in rows if r[0] in ("W3", "PW3")}
for r in rows:
    if r[0] in ("W3", "PW3"):
        f = r[5].split("/")
        check(ROWS == 0 or (len(f) == 10 and all(f[i] == N for i in (0, 1, 2, 4, 5))),
              "unexpected W3 counts: %s %s run %s -> %s" % tuple(r[:3] + [r[5]]))
ref = [r[5] for r in rows if r[0] == "W3" and r[1] == "R"]
for r in rows:
    if r[0] in ("W3", "PW3") and ref:
        check(r[5] == ref[0], "W3 result differs from file_fdw's: %s %s run %s -> %s (ff: %s)"
              % tuple(r[:3] + [r[5], ref[0]]))
check(all(int(e["bytes_sent"]) == SIZE and e["complete"] == "t" for e in full),
      "a streaming count(*) request was not a complete transfer: " + sent(full))
check(all(e["complete"] == "f" or SIZE < 1 << 20 for e in limited),
      "a streaming LIMIT 10 request transferred the whole file: " + sent(limited))
for w in dict.fromkeys(warn):
    print("WARNING:", w)
print("W3 result (all tables): " + (ref[0] if ref else "-"))
PY
cat <<EOF
warm-up: hv first scan (download + scan) $(printf %.3f "$warm_hv")s -> $warm_hv_res rows; ff $(printf %.3f "$warm_ff")s -> $warm_ff_res; hv_part $(printf %.3f "$warm_part")s -> $warm_part_res; hv_stream $(printf %.3f "$warm_stream")s -> $warm_stream_res
hvcsv spool: $spool_bytes bytes; HTTP requests: $requests_spool for the spool during warm-up (expected 1), $((requests_warm - requests_spool)) by hv_stream's warm-up (1), $((requests_explain - requests_warm)) by EXPLAIN (0), $((requests_spooled - requests_explain)) during the spool-based timed runs (0), $((requests_streamed - requests_spooled)) during the streaming runs ($((2 * RUNS)))
generator: ${gen_secs}s; PostgreSQL: $(psql -c 'SHOW server_version'); total wall time $(since "$started")s
EOF
