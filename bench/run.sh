#!/usr/bin/env bash
# Benchmarks hvcsv_fdw's readers against file_fdw, and hvcsv_refresh()
# against COPY and the staging-table upsert, on the same generated CSV.
#
# Usage: bench/run.sh [--rows N] [--runs R] [--only scan|refresh|exports]
#        (defaults: 2000000 rows, 3 runs, all three sections; --only takes
#        a comma-separated list)
#
# Starts a throwaway PostgreSQL 15 cluster and the repository's fixture HTTP
# server, lets hvcsv_fdw download the file once into its spool (max_age '1h'
# keeps later scans off HTTP), then times pairs of statements R times each,
# interleaved, one fresh connection per timed statement.  Section "scan": the
# projected reader against file_fdw (W1-W3), the partitioned reader with 2
# workers against none (W2, W3), the streaming reader against the spool and
# file_fdw (W1, LIMIT 10), and against peers on the same file: the same rows
# in a heap table, and DuckDB (npm @duckdb/node-api, installed into
# bench/.duckdb on first use; skipped without node and npm) with 1 and 2
# threads.  Section "refresh": hvcsv_refresh() against COPY
# (full load) and against COPY into a staging table + INSERT ... ON CONFLICT
# (unchanged export, new ETag, 10% of rows changed), with WAL bytes.  Prints
# medians, min/max, peak RSS (VmHWM), and checks every result; at the end,
# the performance targets P1-P9 (see README, Performance), each marked met
# or missed (the script's exit status does not depend on them).  Everything
# it started is stopped and removed on exit.  Needs root (as
# test/run_all.sh) and an installed hvcsv_fdw (make && make install).
# Section "exports" is bench/exports.sh (tables of many exports; its own
# cluster and data, --rows does not apply), run last with --runs R.
set -euo pipefail

ROWS=2000000
RUNS=3
ONLY=scan,refresh,exports
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?--rows needs a value}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --only) ONLY=${2:?--only needs a value}; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ROWS" =~ ^[0-9]+$ && "$RUNS" =~ ^[1-9][0-9]*$ ]] || {
    echo "--rows must be a number >= 0 and --runs a number >= 1" >&2; exit 2; }
[[ "$ONLY" =~ ^(scan|refresh|exports)(,(scan|refresh|exports))*$ ]] || {
    echo "--only takes scan, refresh, exports or a comma-separated list of them" >&2; exit 2; }
# want SECTION: whether --only selects SECTION.
want() { [[ ",$ONLY," == *",$1,"* ]]; }
if ! want scan && ! want refresh; then
    exec "$(dirname "$0")/exports.sh" --runs "$RUNS"
fi

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"     # hv_start_cluster, hv_start_fixture, PG_BIN, ...
. "$top/bench/lib.sh"    # BENCH_COLS, bench_servers_sql, psql, fixture_get, http_requests, since
PGPORT=54339
FIXTURE_PORT=18799
API_KEY=bench-key
BLOCK_SIZE=32MB    # hv_part's partitions: about 9 of a 272 MB file
started=$(date +%s.%N)

bench_require_installed

# The cluster lives here, and file_fdw (run by the postgres OS user) reads
# the CSV file from here too.
bench_work hvcsv_bench

# 1. The data, generated once.
mkdir "$work/www"
csv="$work/www/bench.csv"
gen_start=$(date +%s.%N)
python3 "$top/bench/gen_csv.py" --rows "$ROWS" --out "$csv"
# The refresh section's second version: the same rows, 10% of the amounts
# raised by 1.00.
CHANGE_PCT=10
csv2="$work/www/bench_v2.csv"
if want refresh; then
    python3 "$top/bench/gen_csv.py" --rows "$ROWS" --change "$CHANGE_PCT" --out "$csv2"
    chmod 644 "$csv2"
fi
gen_secs=$(since "$gen_start")
chmod 644 "$csv"
size_bytes=$(stat -c %s "$csv")
# Each section appends its targets here: "ID<TAB>met|missed<TAB>figures".
targets="$work/targets.tsv"
: > "$targets"

# 2. The cluster (JIT off: its compile time would be noise here) and the
# vendor API stand-in.  The refresh section checkpoints before every timed
# statement; max_wal_size and checkpoint_timeout are raised so that no other
# checkpoint starts during one (it would change the WAL written: full-page
# images).  The scan section writes nothing, so they do not matter there.
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off" \
    "max_wal_size = 16GB" "checkpoint_timeout = 1h"
hv_start_fixture "$work/www" "$FIXTURE_PORT" "$API_KEY" "$work/fixture.log"


cols=$BENCH_COLS
psql <<SQL
$(bench_servers_sql "$FIXTURE_PORT" "$API_KEY")
CREATE FOREIGN TABLE hv ($cols) SERVER bench OPTIONS (path '/bench.csv');
CREATE FOREIGN TABLE hv_part ($cols) SERVER bench
    OPTIONS (path '/bench.csv', reader 'partitioned', block_size '$BLOCK_SIZE');
CREATE FOREIGN TABLE hv_stream ($cols) SERVER bench
    OPTIONS (path '/bench.csv', reader 'streaming');
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

# DuckDB, the peer that reads CSV files in place: npm's prebuilt package,
# installed once into bench/.duckdb.  Sets duck to the script's command, or
# leaves it empty (and says why) when it cannot be had.
DUCKDB_PACKAGE="@duckdb/node-api@1.5.6-r.1"
duck_setup() {
    local dir="$top/bench/.duckdb"
    duck=
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "note: node and npm are not installed: the DuckDB rows are skipped" >&2
        return 0
    fi
    if [ ! -d "$dir/node_modules/@duckdb/node-api" ]; then
        mkdir -p "$dir"
        (cd "$dir" && npm install --silent --no-audit --no-fund "$DUCKDB_PACKAGE" >/dev/null) || {
            echo "note: npm could not install $DUCKDB_PACKAGE: the DuckDB rows are skipped" >&2
            return 0
        }
    fi
    # node resolves the package from the script's directory upwards.
    cp "$top/bench/duckdb_query.mjs" "$dir/"
    duck="node $dir/duckdb_query.mjs"
}

# The scan section: hvcsv_fdw's readers against file_fdw and the peers.
scan_section() {
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
# The heap table the same rows are compared against, read once to warm it.
psql -c "CREATE TABLE heap AS SELECT * FROM hv" -c "VACUUM ANALYZE heap" \
    -c "SELECT count(*) FROM heap" >/dev/null
duck_setup
timezone=$(psql -c "SHOW TimeZone")

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
# The peers: the projected reader against a heap table holding the same rows
# (serial both), and against DuckDB with one thread; the partitioned reader
# with 2 workers against DuckDB with 2 threads.
for w in W1 W2 W3; do
    pair "H$w" agg "$SERIAL" "$(agg $w hv)" "$SERIAL" "$(agg $w heap)"
done
if [ -n "$duck" ]; then
    for w in W1 W2 W3; do
        for r in $(seq "$RUNS"); do
            out=$(timed "$SERIAL" "$(agg $w hv)" agg); echo "D$w L $r $out" >> "$results"
            out=$($duck "$csv" 1 "$timezone" "concat_ws('/', ${!w}) AS res")
            echo "D$w R $r $out" >> "$results"
            out=$(timed "$PARALLEL" "$(agg $w hv_part)" agg); echo "DP$w L $r $out" >> "$results"
            out=$($duck "$csv" 2 "$timezone" "concat_ws('/', ${!w}) AS res")
            echo "DP$w R $r $out" >> "$results"
        done
    done
fi
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
fixture_get _log.csv > "$log_csv"
# P9's memory bound: count(*) over a 2 GB body streamed from the fixture
# server's generator (no file), in a fresh backend, once.
GEN_MB=2048
psql -c "CREATE FOREIGN TABLE hv_gen (id integer, name text, city text, created_at timestamptz,
    amount numeric, notes text) SERVER bench OPTIONS (path '/_gen.csv?mb=$GEN_MB', reader 'streaming')"
out=$(timed "" "SELECT count(*) AS res FROM hv_gen" agg); read -r gen_secs gen_hwm gen_res <<< "$out"
block_bytes=$(psql -c "SELECT pg_size_bytes('$BLOCK_SIZE')")
spool_bytes=$(du -sb "$work/data/hvcsv_fdw/pgsql_tmp_spool" 2>/dev/null | cut -f1 || echo 0)

# 5. The report.
python3 - "$results" "$plans" "$ttfb" "$log_csv" "$targets" <<PY
import csv, re, statistics, sys
ROWS, RUNS, SIZE, IDLE_KB = $ROWS, $RUNS, $size_bytes, $idle_kb
DUCK = bool("$duck")
GEN_MB, GEN_SECS, GEN_HWM, GEN_RES = $GEN_MB, $gen_secs, $gen_hwm, "$gen_res"
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
section("4. peers on the same rows: a heap table (heap, serial)",
        ("workload", "hv s median [min-max]", "heap s median [min-max]",
         "ratio", "hv RSS MB", "heap RSS MB"),
        [("W1 count(*)", "HW1"), ("W2 4-col count", "HW2"), ("W3 10-col agg", "HW3")],
        ["   ratio = heap median / hv median (>1: hvcsv_fdw faster); both serial, the heap",
         "   table read once before (shared_buffers and the page cache hold what fits)"])
if DUCK:
    section("5. peers on the same file: DuckDB $DUCKDB_PACKAGE, read_csv of the local file",
            ("workload", "hvcsv s median [min-max]", "DuckDB s median [min-max]",
             "ratio", "hv RSS MB", "duck RSS MB"),
            [("W1 serial/1 thr", "DW1"), ("W2 serial/1 thr", "DW2"), ("W3 serial/1 thr", "DW3"),
             ("W1 2 wk/2 thr", "DPW1"), ("W2 2 wk/2 thr", "DPW2"), ("W3 2 wk/2 thr", "DPW3")],
            ["   hvcsv: hv (projected, serial) against 1 thread, hv_part with 2 workers against",
             "   2 threads; ratio = DuckDB median / hvcsv median (>1: hvcsv_fdw faster); DuckDB's",
             "   time is the query's alone (not node's start), its RSS the node process's"])
else:
    print()
    print("5. DuckDB: skipped (see the note above)")

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
for prefix in ("H", "D", "DP"):
    expect[prefix + "W1"] = expect["W1"]
    expect[prefix + "W2"] = expect["W2"]
for r in rows:
    w = r[0]
    if w in expect:
        check(r[5] == expect[w], "unexpected result: %s %s run %s -> %s" % tuple(r[:3] + [r[5]]))
# W3: the counts of never-empty columns equal the row count; every table and
# mode gives the same result as file_fdw.
W3_ROWS = ("W3", "PW3", "HW3", "DW3", "DPW3")
for r in rows:
    if r[0] in W3_ROWS:
        f = r[5].split("/")
        check(ROWS == 0 or (len(f) == 10 and all(f[i] == N for i in (0, 1, 2, 4, 5))),
              "unexpected W3 counts: %s %s run %s -> %s" % tuple(r[:3] + [r[5]]))
ref = [r[5] for r in rows if r[0] == "W3" and r[1] == "R"]
for r in rows:
    if r[0] in W3_ROWS and ref:
        check(r[5] == ref[0], "W3 result differs from file_fdw's: %s %s run %s -> %s (ff: %s)"
              % tuple(r[:3] + [r[5], ref[0]]))
check(all(int(e["bytes_sent"]) == SIZE and e["complete"] == "t" for e in full),
      "a streaming count(*) request was not a complete transfer: " + sent(full))
check(all(e["complete"] == "f" or SIZE < 1 << 20 for e in limited),
      "a streaming LIMIT 10 request transferred the whole file: " + sent(limited))
check(GEN_RES == str(GEN_MB * 14700), "count(*) over the %d MB body: %s" % (GEN_MB, GEN_RES))
for w in dict.fromkeys(warn):
    print("WARNING:", w)
print("W3 result (all tables and peers): " + (ref[0] if ref else "-"))
print("streaming count(*) over a generated %d MB body: %.2f s, %s rows, backend peak RSS %.1f MB "
      "(idle %.1f MB)" % (GEN_MB, GEN_SECS, GEN_RES, GEN_HWM / 1024, IDLE_KB / 1024))

# The targets of this section.
def ratio(row):
    return cell(row, "R")[0] / cell(row, "L")[0]
first_rows = cell("SL10", "L")[0] - statistics.median(ttfb)
with open(sys.argv[5], "a") as t:
    def target(tid, met, figures):
        t.write("%s\t%s\t%s\n" % (tid, "met" if met else "missed", figures))
    target("P1", ratio("W2") >= 3, "4 columns: %.2fx file_fdw (target >= 3x)" % ratio("W2"))
    target("P2", ratio("W1") >= 8, "count(*): %.2fx file_fdw (target >= 8x)" % ratio("W1"))
    target("P3", ratio("W3") >= 2.5, "10-column aggregate: %.2fx file_fdw (target >= 2.5x)" % ratio("W3"))
    target("P4", min(ratio("PW2"), ratio("PW3")) >= 1.7,
           "2 workers vs serial: %.2fx on 4 columns, %.2fx on 10 (target >= 1.7x each)"
           % (ratio("PW2"), ratio("PW3")))
    target("P9", first_rows <= 0.1 and (GEN_HWM - IDLE_KB) / 1024 <= 32,
           "LIMIT 10 %.0f ms after the server's first byte (target <= 100 ms); peak RSS +%.1f MB "
           "over an idle backend on a %d MB body (target <= 32 MB)"
           % (first_rows * 1000, (GEN_HWM - IDLE_KB) / 1024, GEN_MB))
PY
cat <<EOF
warm-up: hv first scan (download + scan) $(printf %.3f "$warm_hv")s -> $warm_hv_res rows; ff $(printf %.3f "$warm_ff")s -> $warm_ff_res; hv_part $(printf %.3f "$warm_part")s -> $warm_part_res; hv_stream $(printf %.3f "$warm_stream")s -> $warm_stream_res
hvcsv spool: $spool_bytes bytes; HTTP requests: $requests_spool for the spool during warm-up (expected 1 download: a 200, and a 206 for each other range), $((requests_warm - requests_spool)) by hv_stream's warm-up (1), $((requests_explain - requests_warm)) by EXPLAIN (0), $((requests_spooled - requests_explain)) during the spool-based timed runs (0), $((requests_streamed - requests_spooled)) during the streaming runs ($((2 * RUNS)))
EOF
}

# The refresh section: hvcsv_refresh() against COPY and the staging-table
# upsert.  Targets: tgt_hv (written by hvcsv_refresh) and tgt_pg (written by
# the peer), the same definition, primary key has_id, autovacuum off so that
# it neither runs during a timed statement nor writes WAL there.
VALUE_COLS="name city created_at email country amount quantity active notes"
refresh_section() {
    local c sets="" tcols="" ecols="" r out
    for c in $VALUE_COLS; do
        sets+="${sets:+, }$c = EXCLUDED.$c"
        tcols+="${tcols:+, }t.$c"
        ecols+="${ecols:+, }EXCLUDED.$c"
    done
    # What hvcsv_refresh() runs (src/sync_statement.c), with a
    # staging table as the source.
    upsert() {
        echo "INSERT INTO $1 AS t SELECT * FROM $2 ON CONFLICT (has_id) DO UPDATE SET $sets
              WHERE ($tcols) IS DISTINCT FROM ($ecols);"
    }
    # The staging pattern end to end: COPY the file into a temporary table,
    # upsert from it, drop it.
    staged() {
        echo "CREATE TEMP TABLE stage (LIKE tgt_pg);
              COPY stage FROM '$1' (FORMAT csv, HEADER);
              $(upsert tgt_pg stage)
              DROP TABLE stage;"
    }
    # The same with MERGE instead of INSERT ... ON CONFLICT (P7's WAL bound).
    staged_merge() {
        local c upd="" vals="s.has_id"
        for c in $VALUE_COLS; do
            upd+="${upd:+, }$c = s.$c"
            vals+=", s.$c"
        done
        echo "CREATE TEMP TABLE stage (LIKE tgt_pg);
              COPY stage FROM '$1' (FORMAT csv, HEADER);
              MERGE INTO tgt_pg t USING stage s ON t.has_id = s.has_id
              WHEN MATCHED AND ($tcols) IS DISTINCT FROM (${tcols//t./s.}) THEN UPDATE SET $upd
              WHEN NOT MATCHED THEN INSERT VALUES ($vals);
              DROP TABLE stage;"
    }
    refresh() {
        echo "SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged,
                  bytes_fetched, round(extract(epoch FROM duration), 3)) AS info
              FROM hvcsv_refresh('$1') \\gset"
    }
    forget() { echo "DELETE FROM hvcsv_sync_state WHERE foreign_table = '$1'::regclass;"; }
    # A target holding version 1, vacuumed and analyzed: the state before R4.
    reset_v1() { echo "TRUNCATE $1; COPY $1 FROM '$csv' (FORMAT csv, HEADER); VACUUM (ANALYZE) $1;"; }

    psql <<SQL
CREATE SERVER bench_rv FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', max_age '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench_rv OPTIONS (api_key '$API_KEY');
CREATE TABLE tgt_hv (has_id text PRIMARY KEY, name text, city text, created_at timestamptz,
    email text, country text, amount numeric, quantity integer, active boolean, notes text)
    WITH (autovacuum_enabled = off);
CREATE TABLE tgt_pg (LIKE tgt_hv INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE UNLOGGED TABLE stage_v1 (LIKE tgt_hv) WITH (autovacuum_enabled = off);
-- the export (spool shared with hv), its second version, and the export
-- again on a server that revalidates its spool on every use (max_age 0)
CREATE FOREIGN TABLE sync_v1 ($cols) SERVER bench OPTIONS (path '/bench.csv', target 'tgt_hv');
CREATE FOREIGN TABLE sync_v2 ($cols) SERVER bench OPTIONS (path '/bench_v2.csv', target 'tgt_hv');
-- the same with the partitioned reader: the refresh reads it in parallel
CREATE FOREIGN TABLE sync_v2p ($cols) SERVER bench
    OPTIONS (path '/bench_v2.csv', target 'tgt_hv', reader 'partitioned', block_size '32MB');
CREATE FOREIGN TABLE sync_rv ($cols) SERVER bench_rv OPTIONS (path '/bench.csv', target 'tgt_hv');
SQL

    rresults="$work/refresh_results.txt"
    rwarn="$work/refresh_stderr.txt"
    : > "$rresults"
    : > "$rwarn"
    # rtimed LABEL SETUP BODY TABLE: SETUP (untimed, on a connection of its
    # own, so that its memory does not count), then BODY timed, on a fresh
    # connection; prints "secs hwm wal info res": the clock_timestamp()
    # difference around BODY, the backend's VmHWM (kB) after it, the WAL
    # bytes between pg_current_wal_lsn() before and after it, what BODY put
    # in :info ("-" if nothing), and TABLE's row count, sum(amount) and a
    # fingerprint of its contents (sum of hashtext(row::text)), untimed.
    # Messages on stderr (hvcsv_refresh's WARNINGs) go to $rwarn under LABEL.
    rtimed() {
        local rc=0
        : > "$work/stderr.txt"
        if [ -n "$2" ]; then
            psql 2>> "$work/stderr.txt" <<< "$2" || rc=$?
        fi
        [ "$rc" -ne 0 ] || psql 2>> "$work/stderr.txt" <<SQL || rc=$?
SET hvcsv_fdw.refresh_failure = 'warning';
\set info -
SELECT pg_current_wal_lsn() AS w0, clock_timestamp() AS t0 \gset
$3
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs,
       pg_wal_lsn_diff(pg_current_wal_lsn(), :'w0') AS wal,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB') AS hwm \gset
SELECT concat_ws('/', count(*), sum(amount), sum(hashtext(t::text))) AS res FROM $4 t \gset
\echo :secs :hwm :wal :info :res
SQL
        if [ -s "$work/stderr.txt" ]; then
            { echo "== $1"; cat "$work/stderr.txt"; } >> "$rwarn"
        fi
        if [ "$rc" -ne 0 ]; then
            echo "bench: $1 failed:" >&2
            cat "$work/stderr.txt" >&2
        fi
        return "$rc"
    }
    # run ROW SIDE R SETUP BODY TABLE: one timed run, recorded as "ROW SIDE R
    # secs hwm wal workers n0 n1 info res", with the HTTP request count
    # before (n0) and after (n1), and for side H (hvcsv) what
    # bench/peak_rss.py sampled: "W_HWM/W_OWN/P_HWM/P_OWN" (kB), the refresh
    # worker's and its parallel workers' peak VmHWM and own memory.
    run() {
        local whwm=- n0 n1 out sampler
        n0=$(http_requests)
        if [ "$2" = H ]; then
            rm -f "$work/peak.txt"
            python3 "$top/bench/peak_rss.py" "$work/peak.txt" &
            sampler=$!
            until [ -s "$work/peak.txt" ]; do sleep 0.01; done
        fi
        out=$(rtimed "$1 $2 $3" "$4" "$5" "$6") || {
            [ "$2" = H ] && kill "$sampler"
            return 1
        }
        if [ "$2" = H ]; then
            kill "$sampler"
            wait "$sampler" || true
            whwm=$(tr ' ' / < "$work/peak.txt")
        fi
        n1=$(http_requests)
        read -r secs hwm wal info res <<< "$out"
        echo "$1 $2 $3 $secs $hwm $wal $whwm $n0 $n1 $info $res" >> "$rresults"
    }
    fault() {   # sets (or with no PARAMs clears) sticky faults on /bench.csv
        curl -sS -o /dev/null "http://127.0.0.1:$FIXTURE_PORT/_fault?path=/bench.csv${1:+&$1}"
    }

    # Warm-up (untimed, reported): the v1 spool (already there when the scan
    # section ran: it is hv's), the v2 spool, the loaded staging table, the
    # page cache for both files.
    local t0 warm_v1 warm_v2 warm_req0 warm_req1 warm_req2
    warm_req0=$(http_requests)
    t0=$(date +%s.%N); psql -c "SELECT count(*) FROM sync_v1" > /dev/null; warm_v1=$(since "$t0")
    warm_req1=$(http_requests)
    t0=$(date +%s.%N); psql -c "SELECT count(*) FROM sync_v2" > /dev/null; warm_v2=$(since "$t0")
    warm_req2=$(http_requests)
    # sync_v2p shares that spool; its first scan indexes it.
    psql -c "SELECT count(*) FROM sync_v2p" > /dev/null
    psql -c "COPY stage_v1 FROM '$csv' (FORMAT csv, HEADER)" -c "VACUUM (ANALYZE) stage_v1"
    cat "$csv" "$csv2" > /dev/null
    # What an idle backend takes, the base of "above idle": its VmHWM, and
    # its own memory as bench/peak_rss.py counts it.
    local idle_hwm idle_own
    idle_hwm=$(psql -c "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB')")
    idle_own=$(psql -c "SELECT pg_read_file('/proc/self/smaps')" | python3 "$top/bench/peak_rss.py" --own-memory)

    # R1 full load into an empty target: hvcsv_refresh() (sync state
    # forgotten, or it would be "unchanged") against COPY.
    for r in $(seq "$RUNS"); do
        run R1 H "$r" "TRUNCATE tgt_hv; $(forget sync_v1) CHECKPOINT;" "$(refresh sync_v1)" tgt_hv
        run R1 P "$r" "TRUNCATE tgt_pg; CHECKPOINT;" "COPY tgt_pg FROM '$csv' (FORMAT csv, HEADER);" tgt_pg
    done
    # R1h the same over HTTP (P5: "although we fetch over HTTP"): sync_rv's
    # revalidation gets a new ETag per run (a sticky fault) and downloads the
    # whole file, then loads it; the peer is COPY from the local file again.
    for r in $(seq "$RUNS"); do
        fault "etag=bench-r1h-$r"
        run R1h H "$r" "TRUNCATE tgt_hv; $(forget sync_rv) CHECKPOINT;" "$(refresh sync_rv)" tgt_hv
        run R1h P "$r" "TRUNCATE tgt_pg; CHECKPOINT;" "COPY tgt_pg FROM '$csv' (FORMAT csv, HEADER);" tgt_pg
    done
    fault ""
    # Both targets now hold version 1; vacuumed, as a target in service is.
    psql -c "VACUUM (ANALYZE) tgt_hv" -c "VACUUM (ANALYZE) tgt_pg"

    # R2 the same export again, right after a successful refresh: "unchanged".
    # R2a on sync_v1, whose spool is younger than max_age (1h): no request.
    # R1h's TRUNCATE gave tgt_hv new storage, which sync_v1's last run did
    # not write: an untimed refresh compares in full first.
    psql -c "SELECT * FROM hvcsv_refresh('sync_v1')" > /dev/null
    for r in $(seq "$RUNS"); do
        run R2a H "$r" "CHECKPOINT;" "$(refresh sync_v1)" tgt_hv
    done
    # R2b on sync_rv (max_age 0): one conditional request, answered 304.  Its
    # first refresh (untimed, reported) downloads its own spool (another
    # server, so another user mapping and spool) and makes a full pass.
    local first_rv first_rv_req
    first_rv_req=$(http_requests)
    out=$(rtimed "R2b setup" "" "$(refresh sync_rv)" tgt_hv)
    read -r first_rv _ _ first_rv_info _ <<< "$out"
    first_rv_req=$(( $(http_requests) - first_rv_req ))
    for r in $(seq "$RUNS"); do
        run R2b H "$r" "CHECKPOINT;" "$(refresh sync_rv)" tgt_hv
    done

    # R3 no row changed, but the ETag differs from the synced one, so the
    # refresh makes a full pass.  R3a and R3b forget sync_v1's ETag (spool
    # reused); the peers upsert from the loaded staging table (R3a) or COPY
    # into a temporary staging table first (R3b).
    for r in $(seq "$RUNS"); do
        run R3a H "$r" "$(forget sync_v1) CHECKPOINT;" "$(refresh sync_v1)" tgt_hv
        run R3a P "$r" "CHECKPOINT;" "$(upsert tgt_pg stage_v1)" tgt_pg
    done
    for r in $(seq "$RUNS"); do
        run R3b H "$r" "$(forget sync_v1) CHECKPOINT;" "$(refresh sync_v1)" tgt_hv
        run R3b P "$r" "CHECKPOINT;" "$(staged "$csv")" tgt_pg
    done
    # R3c a real new ETag: the fixture serves /bench.csv, unchanged, under
    # another ETag per run (a sticky fault), so sync_rv's revalidation gets a
    # 200 and the whole file again, then makes a full pass.
    for r in $(seq "$RUNS"); do
        fault "etag=bench-r3c-$r"
        run R3c H "$r" "CHECKPOINT;" "$(refresh sync_rv)" tgt_hv
        run R3c P "$r" "CHECKPOINT;" "$(staged "$csv")" tgt_pg
    done
    fault ""

    # R4 version 2 (10% of the amounts changed) over version 1: each target
    # is reset to version 1 before every run (untimed), sync_v2's state
    # forgotten (it would be "unchanged" after the first run; any state other
    # than version 2's ETag means the same full pass).  R4p: the same
    # through sync_v2p, whose partitioned reader the refresh reads in
    # parallel (same spool); its peer is R4's.
    # R4 and R4p take turns going first: a run can be slowed by the writeback
    # of the one before.
    r4() { run "$1" H "$2" "$(reset_v1 tgt_hv) $(forget "$3") CHECKPOINT;" "$(refresh "$3")" tgt_hv; }
    for r in $(seq "$RUNS"); do
        if [ $((r % 2)) = 1 ]; then r4 R4 "$r" sync_v2; r4 R4p "$r" sync_v2p
        else r4 R4p "$r" sync_v2p; r4 R4 "$r" sync_v2; fi
        run R4 P "$r" "$(reset_v1 tgt_pg) CHECKPOINT;" "$(staged "$csv2")" tgt_pg
        run R4 M "$r" "$(reset_v1 tgt_pg) CHECKPOINT;" "$(staged_merge "$csv2")" tgt_pg
    done

    fixture_get _log.csv > "$work/refresh_log.csv"
    local size2 v1_sum_sql
    size2=$(stat -c %s "$csv2")
    v1_sum_sql=$(psql -c "SELECT concat_ws('/', count(*), sum(amount), sum(hashtext(t::text))) FROM stage_v1 t")

    python3 - "$rresults" "$work/refresh_log.csv" "$rwarn" "$targets" <<PY
import csv, statistics, sys
ROWS, RUNS, SIZE, SIZE2, PCT = $ROWS, $RUNS, $size_bytes, $size2, $CHANGE_PCT
IDLE_HWM, IDLE_OWN = $idle_hwm, $idle_own     # kB, of an idle backend
CHANGED = round(ROWS * PCT / 100)
STAGE_V1 = "$v1_sum_sql"        # count/sum(amount)/fingerprint of version 1
def workers(field):
    v = [None if x == "-" else int(x) for x in field.split("/")] if field != "-" else [None] * 4
    return dict(whwm=v[0], wown=v[1], phwm=v[2], pown=v[3])
rows = []
for line in open(sys.argv[1]):
    f = line.split()
    rows.append(dict(row=f[0], side=f[1], run=int(f[2]), secs=float(f[3]), hwm=int(f[4]),
                     wal=int(f[5]), **workers(f[6]),
                     n0=int(f[7]), n1=int(f[8]), info=f[9], res=f[10] if len(f) > 10 else ""))
log = {int(e["seq"]): e for e in csv.DictReader(open(sys.argv[2]))}

def sel(row, side):
    return [r for r in rows if r["row"] == row and r["side"] == side]
def med(rs, key):
    return statistics.median(r[key] for r in rs)
def times(rs):
    s = [r["secs"] for r in rs]
    return "%.3f [%.3f-%.3f]" % (statistics.median(s), min(s), max(s))
def rss(r, side):
    kb = max(r["hwm"], r["whwm"] or 0) if side == "H" else r["hwm"]
    return kb
MB = 1048576
def wal_mb(b):      # MB, or kB (marked) below 0.1 MB
    return "%.1f" % (b / MB) if b >= MB / 10 else "%.0fkB" % (b / 1024)
def wal_text(b):    # with its unit
    return "%.1f MB" % (b / MB) if b >= MB / 10 else "%.0f kB" % (b / 1024)

print()
print("hvcsv_refresh benchmark: $ROWS rows, file %d bytes (%.1f MB), version 2 %d bytes with %d rows "
      "(%g%%) changed, nproc $(nproc), $RUNS runs per cell" % (SIZE, SIZE / MB, SIZE2, CHANGED, PCT))
FMT = "%-37s %-25s %-25s %6s %9s %9s %6s %6s"
print(FMT % ("workload", "hvcsv s median [min-max]", "peer s median [min-max]", "ratio",
             "hv WAL MB", "peer WAL MB", "hv RSS", "peer RSS"))
LINES = [("R1 full load / COPY", "R1", "R1"),
         ("R1h full load over HTTP / COPY", "R1h", "R1h"),
         ("R2a unchanged, no request / *", "R2a", "R3b"),
         ("R2b unchanged, 304 / *", "R2b", "R3b"),
         ("R3a 0 changed / staged upsert", "R3a", "R3a"),
         ("R3b 0 changed / COPY+upsert", "R3b", "R3b"),
         ("R3c new ETag, download / COPY+upsert", "R3c", "R3c"),
         ("R4 %g%% changed / COPY+upsert" % PCT, "R4", "R4"),
         ("R4p the same, partitioned reader *", "R4p", "R4")]
for label, hrow, prow in LINES:
    h, p = sel(hrow, "H"), sel(prow, "P")
    if not h or not p:
        continue
    ratio = med(p, "secs") / med(h, "secs") if med(h, "secs") > 0 else float("inf")
    print(FMT % (label, times(h), times(p), "%.2f" % ratio,
                 wal_mb(med(h, "wal")), wal_mb(med(p, "wal")),
                 "%.0f" % (max(rss(r, "H") for r in h) / 1024),
                 "%.0f" % (max(rss(r, "P") for r in p) / 1024)))
print("""   ratio = peer median / hvcsv median (>1: hvcsv_refresh faster); WAL = median of
   pg_wal_lsn_diff(pg_current_wal_lsn() after, before) around the timed statement, each run
   starting right after a CHECKPOINT (so first changes of pages carry full-page images);
   RSS = peak VmHWM in MB over the runs: hv = the refresh background worker (sampled every
   10 ms from /proc) or the calling backend if higher, peer = its backend; both include the
   shared_buffers pages the process touched (shared_buffers 256MB).
   peers: R1, R1h COPY tgt FROM the local file (R1h: hvcsv downloads the export in the timed
   run); R3a the upsert from the already loaded staging table;
   R3b, R3c, R4 CREATE TEMP TABLE + COPY file + the upsert + DROP, timed together;
   R4 MERGE: the same with MERGE ... WHEN MATCHED AND (row differs) THEN UPDATE ... WHEN NOT
   MATCHED THEN INSERT instead of the upsert (printed below the table).
   * R2 has no peer run of its own: a sync without change detection redoes the whole
   pass, so the peer column repeats R3b's peer (COPY+upsert of the unchanged file).
   R4p has none either: its peer column repeats R4's.  Its export is read by a parallel
   scan (the leader and up to max_parallel_workers_per_gather workers).""")

print()
print("hvcsv_refresh() results per run (status/inserted/updated/unchanged/bytes_fetched/duration s;")
print("the duration is the function's own, measured in the worker; HTTP = the requests made: status:bytes)")
for label, hrow, _ in LINES:
    h = sel(hrow, "H")
    if not h:
        continue
    parts = []
    for r in h:
        reqs = [log[s] for s in range(r["n0"] + 1, r["n1"] + 1) if s in log]
        http = ",".join("%s:%s" % (e["status"], e["bytes_sent"]) for e in reqs) or "none"
        parts.append("%s HTTP %s" % (r["info"], http))
    print("  %-4s %s" % (hrow, "; ".join(parts)))
    caller = max(r["hwm"] for r in h) / 1024
    def peak(key, idle):
        v = [r[key] for r in h if r[key] is not None]
        return "%.0f (+%.0f)" % (max(v) / 1024, (max(v) - idle) / 1024) if v else "- (not seen)"
    print("       MB (above idle): worker VmHWM %s, own %s; parallel workers VmHWM %s, own %s; "
          "calling backend %.0f" % (peak("whwm", IDLE_HWM), peak("wown", IDLE_OWN),
                                    peak("phwm", IDLE_HWM), peak("pown", IDLE_OWN), caller))

# Checks.
warn = []
def check(cond, msg):
    if not cond:
        warn.append(msg)
def info(r):
    f = r["info"].split("/")
    return f + [""] * (6 - len(f))
N = str(ROWS)
for r in rows:
    where = "%s %s run %d" % (r["row"], "hvcsv" if r["side"] == "H" else "peer", r["run"])
    check(r["res"].split("/")[0] == N, "%s: target has %s rows, not %s" % (where, r["res"].split("/")[0], N))
    check(r["n1"] == r["n0"] or (r["side"] == "H" and r["row"] in ("R1h", "R2b", "R3c")),
          "%s: %d HTTP requests, expected none" % (where, r["n1"] - r["n0"]))
    if r["side"] != "H":
        continue
    st, ins, upd, unch, fetched, _ = info(r)
    expect = {"R1": ("ok", N, "0", "0"), "R1h": ("ok", N, "0", "0"),
              "R2a": ("unchanged", "0", "0", "0"),
              "R2b": ("unchanged", "0", "0", "0"), "R3a": ("ok", "0", "0", N),
              "R3b": ("ok", "0", "0", N), "R3c": ("ok", "0", "0", N),
              "R4": ("ok", "0", str(CHANGED), str(ROWS - CHANGED)),
              "R4p": ("ok", "0", str(CHANGED), str(ROWS - CHANGED))}[r["row"]]
    check((st, ins, upd, unch) == expect, "%s: hvcsv_refresh returned %s, expected %s" %
          (where, r["info"], "/".join(expect)))
    reqs = [log.get(s, {}) for s in range(r["n0"] + 1, r["n1"] + 1)]
    if r["row"] == "R2b":
        check([e.get("status") for e in reqs] == ["304"], "%s: requests %s, expected one 304" %
              (where, [e.get("status") for e in reqs]))
    if r["row"] in ("R1h", "R3c"):
        # One download: a 200, and the 206s of its other ranges (download_connections).
        statuses = [e.get("status") for e in reqs]
        check(statuses[:1] == ["200"] and all(code == "206" for code in statuses[1:]) and
              all(e.get("complete") == "t" for e in reqs[1:]),
              "%s: requests %s, expected a 200 and its ranges' 206s" % (where, statuses))
        # The first answer runs on a little past its range before it is stopped.
        check(fetched.isdigit() and int(fetched) >= SIZE,
              "%s: bytes_fetched %s, expected at least %d" % (where, fetched, SIZE))
    elif r["row"] != "R2b":
        check(fetched == "0", "%s: bytes_fetched %s, expected 0 (spool reused)" % (where, fetched))
# hvcsv and peer end with the same contents after every run pair; version 1
# everywhere but R4; R4: version 1 with CHANGED amounts raised by 1.00.
v1 = STAGE_V1.split("/")
for row in ("R1", "R1h", "R2a", "R2b", "R3a", "R3b", "R3c", "R4", "R4p"):
    for h in sel(row, "H"):
        peer = "R4" if row == "R4p" else row
        p = [x for x in sel(peer, "P") if x["run"] == h["run"]] or sel("R1", "P")[-1:]
        if p:
            check(h["res"] == p[0]["res"], "%s run %d: hvcsv target %s, peer target %s (count/sum(amount)/fingerprint)"
                  % (row, h["run"], h["res"], p[0]["res"]))
        f = h["res"].split("/")
        if row not in ("R4", "R4p"):
            check(f == v1, "%s run %d: target %s, version 1 is %s" % (row, h["run"], h["res"], STAGE_V1))
        elif len(f) == 3 and f[1]:
            check(float(f[1]) == float(v1[1]) + CHANGED,
                  "%s run %d: sum(amount) %s, expected %.2f" % (row, h["run"], f[1], float(v1[1]) + CHANGED))
for w in dict.fromkeys(warn):
    print("WARNING:", w)
msgs = open(sys.argv[3]).read().strip()
if msgs:
    print("messages from the timed sessions (stderr):")
    for l in msgs.splitlines():
        print("   " + l)
print("version 1 in the targets: %s (count/sum(amount)/fingerprint)" % STAGE_V1)
m = sel("R4", "M")
for x in m:
    same = [p for p in sel("R4", "P") if p["run"] == x["run"]]
    if same and x["res"] != same[0]["res"]:
        print("WARNING: R4 run %d: MERGE target %s, upsert target %s" % (x["run"], x["res"], same[0]["res"]))
if m:
    print("R4 peer with MERGE instead of the upsert: %s s, WAL %s" % (times(m), wal_text(med(m, "wal"))))

# The targets of this section.
def ratio(row, peer=None):
    return med(sel(peer or row, "P"), "secs") / med(sel(row, "H"), "secs")
with open(sys.argv[4], "a") as t:
    def target(tid, met, figures):
        t.write("%s\t%s\t%s\n" % (tid, "met" if met else "missed", figures))
    target("P5", ratio("R1h") >= 1, "full load over HTTP: %.2fx COPY from the local file "
           "(target >= 1x; from the spool: %.2fx)" % (ratio("R1h"), ratio("R1")))
    wal6 = med(sel("R3a", "H"), "wal")
    target("P6", ratio("R3a") >= 3 and wal6 <= 5 * MB,
           "0 changed, new ETag: %.2fx the ON CONFLICT upsert (target >= 3x), WAL %s "
           "(target <= 5 MB)" % (ratio("R3a"), wal_text(wal6)))
    # Judged on the default reader; the partitioned reader's (parallel)
    # figure is printed with it.
    wal7, walm = med(sel("R4", "H"), "wal"), med(m, "wal") if m else 0
    target("P7", ratio("R4") >= 2.5 and wal7 <= walm,
           "%g%% changed: %.2fx the staging upsert (target >= 2.5x; partitioned reader, "
           "parallel: %.2fx), WAL %s vs MERGE's %s, %+.0f kB (target: no more)"
           % (PCT, ratio("R4"), ratio("R4p", "R4"), wal_text(wal7), wal_text(walm),
              (wal7 - walm) / 1024))
    t8 = med(sel("R2b", "H"), "secs")
    target("P8", t8 <= 0.05, "unchanged source, one 304: %.0f ms (target <= 50 ms)" % (t8 * 1000))
PY
    cat <<EOF
refresh warm-up: count(*) over sync_v1 $warm_v1 s ($((warm_req1 - warm_req0)) HTTP requests: 0 if the scan section already downloaded hv's spool, which sync_v1 shares, else its download: a 200 and a 206 for each other range); over sync_v2 $warm_v2 s ($((warm_req2 - warm_req1)) requests: its download); all timed R1, R2a, R3a, R3b and R4 refreshes use these spools (bytes_fetched 0)
first refresh of sync_rv (max_age 0, own spool: download + full pass, untimed above): $(printf %.3f "$first_rv") s, $first_rv_info, $first_rv_req HTTP request(s)
EOF
}

if want scan; then scan_section; fi
if want refresh; then refresh_section; fi
echo
echo "performance targets (README, Performance), this run:"
sort "$targets" | awk -F '\t' '{ printf "  %-3s %-7s %s\n", $1, $2, $3 }'
echo "generator: ${gen_secs}s; PostgreSQL: $(psql -c 'SHOW server_version'); total wall time $(since "$started")s"
if want exports; then
    "$top/bench/exports.sh" --runs "$RUNS"
fi
