#!/usr/bin/env bash
# Benchmarks tables of many exports (README, "Many exports as one table"):
#
# Section "many": a dated series of small exports, one file per day, served
# by the fixture server, read by one foreign table with path_template
# '/exports/{date}.csv' and dates_from the first day (the last day is
# today, UTC), synced into a local table keyed by id with hvcsv_refresh():
#   E1 the first refresh (every export downloaded, the target empty);
#   E2 a second refresh with nothing changed (every export revalidated);
#   E3 a refresh after some exports changed (rows updated, a row added).
# For each: wall time, the HTTP requests the fixture server logged (200
# downloads, 304 answers, others) and the bytes it sent, what the refresh
# returned, WAL bytes, and the refresh worker's peak RSS (bench/peak_rss.py).
# Peers, COPY from the same local files into a table of their own: the
# first load (COPY of every file), and the sync by hand of the changed
# files alone (COPY into a staging table + MERGE) and of every file (the
# same, as a sync that does not know which exports changed does).
#
# Section "big": a few big exports (one generated file, hard-linked under
# several names) as one table with reader 'partitioned', downloaded once by
# a first scan (max_age '1h' keeps the timed scans off HTTP), then count(*)
# and a 4-column projection with max_parallel_workers_per_gather 2 against
# 0, and one of those exports alone for reference; EXPLAIN ANALYZE shows
# whether workers were launched.
#
# Usage: bench/exports.sh [--only many|big] [--runs R]   (default: both, 3 runs)
# Environment:
#   BENCH_EXPORTS          exports in the series (default 1000)
#   BENCH_EXPORT_ROWS      rows per export (default 300)
#   BENCH_CHANGED          exports changed before E3 (default 10)
#   BENCH_BIG_EXPORTS      big exports (default 20)
#   BENCH_BIG_MB           size of each big export in MB (default 100)
#   BENCH_MAX_CONNECTIONS  sets the server option max_connections to this,
#                          if this build of hvcsv_fdw accepts it (default:
#                          not set; the report says whether it exists)
# Needs root and an installed hvcsv_fdw (make && make install), as
# bench/run.sh.  Everything it started is stopped and removed on exit.
set -euo pipefail

ONLY=many,big
RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY=${2:?--only needs a value}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        -h|--help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ONLY" =~ ^(many|big)(,(many|big))*$ ]] || {
    echo "--only takes many, big or many,big" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a number >= 1" >&2; exit 2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

EXPORTS=${BENCH_EXPORTS:-1000}
EXPORT_ROWS=${BENCH_EXPORT_ROWS:-300}
CHANGED=${BENCH_CHANGED:-10}
BIG_EXPORTS=${BENCH_BIG_EXPORTS:-20}
BIG_MB=${BENCH_BIG_MB:-100}
MAX_CONNECTIONS=${BENCH_MAX_CONNECTIONS:-}
for v in EXPORTS EXPORT_ROWS CHANGED BIG_EXPORTS BIG_MB; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_$v must be a number >= 1" >&2; exit 2; }
done
[ "$CHANGED" -le "$EXPORTS" ] || { echo "BENCH_CHANGED must not exceed BENCH_EXPORTS" >&2; exit 2; }
[ "$EXPORTS" -le 10000 ] || { echo "BENCH_EXPORTS: at most 10000 (a table's limit)" >&2; exit 2; }
[[ -z "$MAX_CONNECTIONS" || "$MAX_CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || {
    echo "BENCH_MAX_CONNECTIONS must be a number >= 1" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/test/lib.sh"     # hv_start_cluster, hv_start_fixture, PG_BIN, ...
. "$top/bench/lib.sh"    # BENCH_COLS, bench_servers_sql, psql, fixture_get, http_requests, since
PGPORT=54349
FIXTURE_PORT=18809
API_KEY=bench-key
BLOCK_SIZE=32MB
started=$(date +%s.%N)

bench_require_installed

bench_extra_cleanup() {
    [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
}
bench_work hvcsv_bench_exports

www="$work/www"
mkdir -p "$www/exports" "$www/big"

# The cluster as bench/run.sh starts it (checkpoints only where the script
# asks for them, so that the WAL of a timed statement is comparable).
hv_start_cluster "$work" "$PGPORT" "shared_buffers = 256MB" "jit = off" \
    "max_wal_size = 16GB" "checkpoint_timeout = 1h"
hv_start_fixture "$www" "$FIXTURE_PORT" "$API_KEY" "$work/fixture.log"

psql <<SQL
$(bench_servers_sql "$FIXTURE_PORT" "$API_KEY")
-- the series' server: max_age 0 (the default), so every use of a spool
-- revalidates it with a conditional request
CREATE SERVER ex FOREIGN DATA WRAPPER hvcsv_fdw OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT');
CREATE USER MAPPING FOR CURRENT_USER SERVER ex OPTIONS (api_key '$API_KEY');
SQL

# max_connections (concurrent downloads) is a server option of later builds:
# probed on a throwaway server, set only when asked for and accepted.
if psql -c "BEGIN" -c "CREATE SERVER probe FOREIGN DATA WRAPPER hvcsv_fdw
        OPTIONS (api_url 'http://127.0.0.1:$FIXTURE_PORT', max_connections '2')" \
        -c "ROLLBACK" >/dev/null 2>&1; then
    maxconn_note="max_connections: accepted by this build"
    if [ -n "$MAX_CONNECTIONS" ]; then
        psql -c "ALTER SERVER ex OPTIONS (ADD max_connections '$MAX_CONNECTIONS')" \
             -c "ALTER SERVER bench OPTIONS (ADD max_connections '$MAX_CONNECTIONS')"
        maxconn_note+=", set to $MAX_CONNECTIONS on both servers"
    else
        maxconn_note+=", not set (the build's default)"
    fi
else
    maxconn_note="max_connections: not an option of this build (downloads are serial)"
    [ -z "$MAX_CONNECTIONS" ] || maxconn_note+="; BENCH_MAX_CONNECTIONS=$MAX_CONNECTIONS ignored"
fi

# rtimed LABEL BODY TABLE: CHECKPOINT on a connection of its own, then BODY
# timed on a fresh connection, with the refresh worker's peak RSS sampled
# and the HTTP requests counted.  Appends to $results one line "LABEL secs
# hwm wal whwm n0 n1 info res": the clock_timestamp() difference around
# BODY, the backend's VmHWM (kB), the WAL bytes between pg_current_wal_lsn()
# before and after, the worker's peak VmHWM (kB, "-" if none ran), the
# HTTP request count before and after, what BODY put in :info ("-" if
# nothing) and TABLE's row count, sum(amount) and fingerprint.
results="$work/results.txt"
: > "$results"
rtimed() {
    local n0 n1 out whwm
    psql -c "CHECKPOINT"
    n0=$(http_requests)
    rm -f "$work/peak.txt"
    python3 "$top/bench/peak_rss.py" "$work/peak.txt" &
    sampler=$!
    until [ -s "$work/peak.txt" ]; do sleep 0.01; done
    out=$(psql <<SQL
\set info -
SELECT pg_current_wal_lsn() AS w0, clock_timestamp() AS t0 \gset
$2
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs,
       pg_wal_lsn_diff(pg_current_wal_lsn(), :'w0') AS wal,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB') AS hwm \gset
SELECT concat_ws('/', count(*), sum(amount), sum(hashtext(t::text))) AS res FROM $3 t \gset
\echo :secs :hwm :wal :info :res
SQL
)
    kill "$sampler"
    wait "$sampler" || true
    sampler=
    # The refresh workers' VmHWM, the first of what bench/peak_rss.py writes.
    read -r whwm _ < "$work/peak.txt"
    n1=$(http_requests)
    read -r secs hwm wal info res <<< "$out"
    echo "$1 $secs $hwm $wal $whwm $n0 $n1 $info $res" >> "$results"
}

# The section "many".
many_section() {
    local t0 gen_secs dates_from changed_list c copy_all copy_changed
    t0=$(date +%s.%N)
    # One CSV per day, the last one today (UTC): id (unique across the
    # series), day, name, city, amount, quantity.  Prints the first day.
    dates_from=$(python3 - "$www/exports" "$EXPORTS" "$EXPORT_ROWS" <<'PY'
import datetime, random, sys
out, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
today = datetime.datetime.now(datetime.timezone.utc).date()
rng = random.Random(12)
cities = ["Berlin", "Zürich", "São Paulo", "Paris", "London", "Kraków", "Tokyo", "Oslo"]
for k in range(n):
    day = today - datetime.timedelta(days=n - 1 - k)
    with open("%s/%s.csv" % (out, day), "w") as f:
        f.write("id,day,name,city,amount,quantity\n")
        for i in range(rows):
            name = rng.choice(["Anna", "Ben", "Carla", "David", "Elif"]) + " " + \
                rng.choice(["Schmidt", "Rossi", "Novak", "O'Brien", "Smith, Jr."])
            if "," in name:
                name = '"%s"' % name
            f.write("%d,%s,%s,%s,%.2f,%d\n" % (k * 100000 + i + 1, day, name, rng.choice(cities),
                                                rng.randint(-5000, 500000) / 100, rng.randint(1, 500)))
print(today - datetime.timedelta(days=n - 1))
PY
)
    gen_secs=$(since "$t0")
    chmod -R a+rX "$www"
    local bytes
    bytes=$(du -sb "$www/exports" | cut -f1)

    psql <<SQL
CREATE TABLE ex_hv (id bigint PRIMARY KEY, day date, name text, city text, amount numeric,
    quantity integer) WITH (autovacuum_enabled = off);
CREATE TABLE ex_pg (LIKE ex_hv INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE FOREIGN TABLE ex_series (id bigint, day date, name text, city text, amount numeric,
    quantity integer) SERVER ex
    OPTIONS (path_template '/exports/{date}.csv', dates_from '$dates_from', target 'ex_hv');
SQL
    refresh="SELECT concat_ws('/', status, rows_inserted, rows_updated, rows_unchanged, rows_deleted,
                  bytes_fetched, round(extract(epoch FROM duration), 3)) AS info
              FROM hvcsv_refresh('ex_series') \\gset"
    # copy_into TABLE FILE...: one COPY per file.
    copy_into() {
        local t=$1 f
        shift
        for f in "$@"; do echo "COPY $t FROM '$f' (FORMAT csv, HEADER);"; done
    }
    # merge_from FILE...: COPY the files into a staging table, MERGE it into
    # ex_pg (updating only rows that differ), drop it.
    merge_from() {
        echo "CREATE TEMP TABLE stage (LIKE ex_pg);"
        copy_into stage "$@"
        echo "MERGE INTO ex_pg t USING stage s ON t.id = s.id
              WHEN MATCHED AND (t.day, t.name, t.city, t.amount, t.quantity)
                   IS DISTINCT FROM (s.day, s.name, s.city, s.amount, s.quantity)
                THEN UPDATE SET day = s.day, name = s.name, city = s.city, amount = s.amount,
                                quantity = s.quantity
              WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.day, s.name, s.city, s.amount, s.quantity);
              DROP TABLE stage;"
    }
    local all=("$www"/exports/*.csv)

    # E1: the first refresh, every export downloaded; the peer COPYs every file.
    rtimed E1 "$refresh" ex_hv
    rtimed P1 "$(copy_into ex_pg "${all[@]}")" ex_pg
    # Both targets in service from here on: vacuumed and analyzed.
    psql -c "VACUUM (ANALYZE) ex_hv" -c "VACUUM (ANALYZE) ex_pg"
    # A second peer table for the sync by hand of every file.
    psql -c "CREATE TABLE ex_pg_all (LIKE ex_pg INCLUDING ALL) WITH (autovacuum_enabled = off)" \
         -c "INSERT INTO ex_pg_all SELECT * FROM ex_pg" -c "VACUUM (ANALYZE) ex_pg_all"
    merge_all() { merge_from "${all[@]}" | sed 's/ex_pg\b/ex_pg_all/g'; }

    # E2: nothing changed.  The peer: COPY every file + MERGE.
    rtimed E2 "$refresh" ex_hv
    rtimed P2all "$(merge_all)" ex_pg_all

    # E3: CHANGED exports, spread over the series, change: the amount of
    # their first 5 rows raised by 1.00, and one row added.
    changed_list=$(python3 - "$www/exports" "$EXPORTS" "$CHANGED" "$EXPORT_ROWS" <<'PY'
import os, sys
out, n, changed, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = sorted(os.listdir(out))
for j in range(changed):
    k = (j * n) // changed + n // (2 * changed)
    path = os.path.join(out, files[k])
    lines = open(path).read().splitlines()
    for i in range(1, 6):
        f = lines[i].rsplit(",", 2)
        f[1] = "%.2f" % (float(f[1]) + 1)
        lines[i] = ",".join(f)
    day = files[k][:-4]
    lines.append("%d,%s,Added Row,Oslo,1.00,1" % (k * 100000 + rows + 1, day))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(path)
PY
)
    local changed_files
    mapfile -t changed_files <<< "$changed_list"
    rtimed E3 "$refresh" ex_hv
    rtimed P3 "$(merge_from "${changed_files[@]}")" ex_pg
    rtimed P3all "$(merge_all)" ex_pg_all

    # For reference: the fixture server's own time for as many conditional
    # requests (If-None-Match: *, so every one answers 304), one connection
    # each, from one Python client.
    local ref_304
    ref_304=$(python3 - "$FIXTURE_PORT" "$API_KEY" "${all[@]##*/}" <<'PY'
import http.client, sys, time
port, key, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
for name in names:
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/exports/" + name, headers={"Authorization": "apiKey " + key, "If-None-Match": "*"})
    r = c.getresponse()
    r.read()
    assert r.status == 304, r.status
    c.close()
print("%.3f" % (time.monotonic() - t0))
PY
)
    fixture_get _log.csv > "$work/log_many.csv"
    python3 - "$results" "$work/log_many.csv" <<PY
import collections, csv, sys
N, ROWS, CHANGED, BYTES, GEN = $EXPORTS, $EXPORT_ROWS, $CHANGED, $bytes, "$gen_secs"
res = {}
for line in open(sys.argv[1]):
    f = line.split()
    res[f[0]] = dict(secs=float(f[1]), hwm=int(f[2]), wal=int(f[3]),
                     whwm=None if f[4] == "-" else int(f[4]), n0=int(f[5]), n1=int(f[6]),
                     info=f[7], res=f[8] if len(f) > 8 else "")
log = list(csv.DictReader(open(sys.argv[2])))
def http(r):
    reqs = [e for e in log if r["n0"] < int(e["seq"]) <= r["n1"]]
    by = collections.Counter(e["status"] for e in reqs)
    return len(reqs), by.get("200", 0), by.get("304", 0), len(reqs) - by.get("200", 0) - by.get("304", 0), \
        sum(int(e["bytes_sent"] or 0) for e in reqs)
MB = 1048576
def wal(b):
    return "%.1f MB" % (b / MB) if b >= MB / 10 else "%.0f kB" % (b / 1024)
print()
print("many exports: %d daily exports of %d rows (%d rows, %.1f MB), path_template, "
      "%d changed before E3; nproc $(nproc); one run per step" % (N, ROWS, N * ROWS, BYTES / MB, CHANGED))
FMT = "%-44s %8s %6s %5s %5s %5s %10s %10s %8s"
print(FMT % ("step", "wall s", "HTTP", "200", "304", "other", "bytes sent", "WAL", "RSS MB"))
LINES = [("E1 first refresh (all downloaded)", "E1"),
         ("   peer: COPY of every file", "P1"),
         ("E2 refresh, nothing changed", "E2"),
         ("   peer: COPY every file + MERGE", "P2all"),
         ("E3 refresh, %d exports changed" % CHANGED, "E3"),
         ("   peer: COPY the %d changed files + MERGE" % CHANGED, "P3"),
         ("   peer: COPY every file + MERGE", "P3all")]
for label, key in LINES:
    r = res[key]
    n, ok, nm, other, sent = http(r)
    rss = max(r["hwm"], r["whwm"] or 0) if key.startswith("E") else r["hwm"]
    print(FMT % (label, "%.3f" % r["secs"], n, ok, nm, other, sent, wal(r["wal"]), "%.0f" % (rss / 1024)))
print("""   wall = clock_timestamp() around the statement(s) on one connection, right after a
   CHECKPOINT; HTTP = requests the fixture server logged during it, by status; WAL =
   pg_wal_lsn_diff around it; RSS = the refresh worker's peak VmHWM (or the calling
   backend's if higher) for E*, the peer backend's for P*.  The peers read the local
   files (no HTTP) into ex_pg (P1, P3: it knows which files changed) and ex_pg_all
   (P2all, P3all: it does not, so it merges every file).""")
print("hvcsv_refresh() returned (status/inserted/updated/unchanged/deleted/bytes_fetched/duration s):")
for key in ("E1", "E2", "E3"):
    print("  %s %s" % (key, res[key]["info"]))
# Checks.
warn = []
def check(cond, msg):
    if not cond:
        warn.append(msg)
total = N * ROWS
def counts(key):
    f = res[key]["info"].split("/")
    return f[0], [int(x) if x.isdigit() else -1 for x in f[1:5]]
# E2 and E3 either compare every export in full (every row unchanged) or
# read only the exports that changed (E2 unchanged, E3 those exports' rows).
st, c = counts("E1")
check(st == "ok" and c == [total, 0, 0, 0], "E1 returned %s, expected ok/%d/0/0/0" % (res["E1"]["info"], total))
st, c = counts("E2")
e2_full = st == "ok" and c == [0, 0, total, 0]
check(e2_full or (st in ("ok", "unchanged") and c == [0, 0, 0, 0]),
      "E2 returned %s, expected ok/0/0/%d/0 or unchanged/0/0/0/0" % (res["E2"]["info"], total))
st, c = counts("E3")
e3_full = c[2] == total - 5 * CHANGED
check(st == "ok" and c[:2] == [CHANGED, 5 * CHANGED] and c[3] == 0 and
      c[2] in (total - 5 * CHANGED, CHANGED * ROWS - 5 * CHANGED),
      "E3 returned %s, expected ok/%d/%d/%d or %d/0" % (res["E3"]["info"], CHANGED, 5 * CHANGED,
                                                       total - 5 * CHANGED, CHANGED * ROWS - 5 * CHANGED))
print("rows compared: E2 %s, E3 %s" % ("every export (in full)" if e2_full else "none (only changed exports)",
                                      "every export (in full)" if e3_full else "only the changed exports"))
for h, p in (("E1", "P1"), ("E2", "P2all"), ("E3", "P3"), ("E3", "P3all")):
    check(res[h]["res"] == res[p]["res"], "%s target %s, %s target %s (count/sum(amount)/fingerprint)"
          % (h, res[h]["res"], p, res[p]["res"]))
for key in ("P1", "P2all", "P3", "P3all"):
    check(http(res[key])[0] == 0, "peer %s made HTTP requests" % key)
n, ok, nm, other, _ = http(res["E1"])
check(ok == N and n == N, "E1: %d requests, %d answered 200, expected %d and %d" % (n, ok, N, N))
for w in warn:
    print("WARNING:", w)
print("for reference, the fixture server alone: %d conditional requests (304), one connection each, "
      "from one Python client: $ref_304 s" % N)
print("targets after E3: %s (count/sum(amount)/fingerprint); generator %s s" % (res["E3"]["res"], GEN))
PY
}

# The section "big".
big_section() {
    local rows t0 gen_secs i paths="" size
    # Rows of about 136 bytes: BIG_MB MB per export.
    rows=$(( BIG_MB * 1048576 / 136 ))
    t0=$(date +%s.%N)
    python3 "$top/bench/gen_csv.py" --rows "$rows" --out "$www/big/export_01.csv"
    for i in $(seq 2 "$BIG_EXPORTS"); do
        ln "$www/big/export_01.csv" "$(printf '%s/big/export_%02d.csv' "$www" "$i")"
    done
    chmod -R a+rX "$www"
    gen_secs=$(since "$t0")
    size=$(stat -c %s "$www/big/export_01.csv")
    for i in $(seq 1 "$BIG_EXPORTS"); do
        paths+="${paths:+,}$(printf '/big/export_%02d.csv' "$i")"
    done
    psql <<SQL
CREATE FOREIGN TABLE big ($BENCH_COLS) SERVER bench
    OPTIONS (paths '$paths', reader 'partitioned', block_size '$BLOCK_SIZE');
CREATE FOREIGN TABLE big_one ($BENCH_COLS) SERVER bench
    OPTIONS (path '/big/export_01.csv', reader 'partitioned', block_size '$BLOCK_SIZE');
SQL
    # timed SETUP QUERY: QUERY (one row, one column res) on a fresh
    # connection after SETUP; prints "secs hwm res".
    timed() {
        psql <<SQL
$1
SELECT clock_timestamp() AS t0 \gset
$2 \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs,
       substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s*(\d+) kB') AS hwm \gset
\echo :secs :hwm :res
SQL
    }
    local SERIAL="SET max_parallel_workers_per_gather = 0;"
    local PARALLEL="SET max_parallel_workers_per_gather = 2;"
    local W1="SELECT count(*) AS res FROM"
    local W2="SELECT concat_ws('/', count(has_id), count(name), count(city), count(created_at)) AS res FROM"
    local n0 n1 first first_one
    n0=$(http_requests)
    first=$(timed "" "$W1 big")
    n1=$(http_requests)
    first_one=$(timed "" "$W1 big_one")
    local bresults="$work/big_results.txt" r w t
    : > "$bresults"
    for r in $(seq "$RUNS"); do
        for w in W1 W2; do
            for t in big big_one; do
                echo "$w $t 2 $r $(timed "$PARALLEL" "${!w} $t")" >> "$bresults"
                echo "$w $t 0 $r $(timed "$SERIAL" "${!w} $t")" >> "$bresults"
            done
        done
    done
    local n2 plans="$work/big_plans.txt"
    n2=$(http_requests)
    {
        echo "== EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) count(*), 2 workers allowed, $BIG_EXPORTS exports"
        psql -c "$PARALLEL" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $W1 big"
        echo "== the same, one export"
        psql -c "$PARALLEL" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $W1 big_one"
    } > "$plans"
    fixture_get _log.csv > "$work/log_big.csv"
    python3 - "$bresults" "$plans" "$work/log_big.csv" <<PY
import collections, csv, statistics, sys
N, ROWS, SIZE, RUNS, BLOCK = $BIG_EXPORTS, $rows, $size, $RUNS, "$BLOCK_SIZE"
first, first_one = "$first".split(), "$first_one".split()
rows = [l.split() for l in open(sys.argv[1])]
MB = 1048576
print()
print("big exports: %d exports of %.1f MB (%d rows each; %.2f GB, %d rows in all), reader "
      "partitioned, block_size %s; nproc $(nproc); %d runs per cell" %
      (N, SIZE / MB, ROWS, N * SIZE / 1024 ** 3, N * ROWS, BLOCK, RUNS))
log = [e for e in csv.DictReader(open(sys.argv[3]))]
dl = [e for e in log if $n0 < int(e["seq"]) <= $n1]
by = collections.Counter(e["status"] for e in dl)
print("first count(*) (downloads every export into its spool): %.2f s, %d requests (%s), %.0f MB sent"
      % (float(first[0]), len(dl), ", ".join("%s: %d" % kv for kv in sorted(by.items())),
         sum(int(e["bytes_sent"] or 0) for e in dl) / MB))
print("requests during the timed scans and EXPLAIN: %d (expected 0: max_age '1h')"
      % sum(1 for e in log if int(e["seq"]) > $n1))
FMT = "%-34s %-24s %-24s %6s %8s"
print(FMT % ("workload", "2 workers s med [min-max]", "0 workers s med [min-max]", "ratio", "MB/s 2w"))
def cell(w, t, p):
    s = [float(r[4]) for r in rows if r[0] == w and r[1] == t and r[2] == p]
    return statistics.median(s), min(s), max(s)
for w, wl in (("W1", "count(*)"), ("W2", "4 columns")):
    for t, tl in (("big", "%d exports" % N), ("big_one", "1 export")):
        a, b = cell(w, t, "2"), cell(w, t, "0")
        size = SIZE * (N if t == "big" else 1)
        print(FMT % ("%s, %s" % (wl, tl), "%.3f [%.3f-%.3f]" % a, "%.3f [%.3f-%.3f]" % b,
                     "%.2f" % (b[0] / a[0]), "%.0f" % (size / MB / a[0])))
print("   ratio = 0-worker median / 2-worker median (>1: the workers help); each query on a fresh")
print("   connection, the spools local (no HTTP); backend peak RSS over all runs: %.0f MB"
      % (max(int(r[5]) for r in rows) / 1024))
plans = open(sys.argv[2]).read().splitlines()
for l in plans:
    print("    " + l if not l.startswith("==") else l)
warn = []
exp = {"W1": str(N * ROWS), "W2": "/".join([str(N * ROWS)] * 4)}
for r in rows:
    e = exp[r[0]] if r[1] == "big" else exp[r[0]].replace(str(N * ROWS), str(ROWS))
    if r[6] != e:
        warn.append("%s %s %s workers run %s: %s, expected %s" % (r[0], r[1], r[2], r[3], r[6], e))
if first[2] != exp["W1"]:
    warn.append("first count(*): %s, expected %s" % (first[2], exp["W1"]))
for w in warn:
    print("WARNING:", w)
parts, name = {}, None
for l in plans:
    if l.startswith("== "):
        name = "%d exports" % N if "exports" in l else "1 export"
        parts[name] = []
    elif name:
        parts[name].append(l)
for name, lines in parts.items():
    launched = [l.strip() for l in lines if "Workers Launched" in l]
    print("EXPLAIN ANALYZE with 2 workers allowed, %s: %s" %
          (name, launched[0] if launched else "no Gather (no parallel plan)"))
print("generator (one file, under %d names by hard links): %s s" % (N, "$gen_secs"))
PY
}

if want many; then many_section; fi
if want big; then big_section; fi
echo
echo "$maxconn_note"
echo "PostgreSQL $(psql -c 'SHOW server_version'); hvcsv_fdw $(psql -c "SELECT extversion FROM pg_extension WHERE extname = 'hvcsv_fdw'"); total wall time $(since "$started")s"
