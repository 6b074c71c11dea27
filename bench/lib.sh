# bench/lib.sh: what the scripts of bench/ share.  Source it after test/lib.sh.

# The columns of the file bench/gen_csv.py writes, as a table definition.
BENCH_COLS="has_id text, name text, city text, created_at timestamptz, email text,
      country text, amount numeric, quantity integer, active boolean, notes text"

# bench_servers_sql FIXTURE_PORT API_KEY: the SQL that creates hvcsv_fdw's
# server "bench" on the fixture server (spools fresh for an hour, so timed
# scans stay off HTTP) with a user mapping, and file_fdw's server "files".
bench_servers_sql() {
    cat <<SQL
CREATE EXTENSION hvcsv_fdw;
CREATE EXTENSION file_fdw;
CREATE SERVER bench FOREIGN DATA WRAPPER hvcsv_fdw
    OPTIONS (api_url 'http://127.0.0.1:$1', max_age '1h');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench OPTIONS (api_key '$2');
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
SQL
}

# psql ARGS: psql on the benchmark's cluster ($work, $PGPORT), unaligned,
# stopping at the first error.
psql() {
    "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$PGPORT" -U postgres -d postgres "$@"
}

# fixture_get PATH: prints what the fixture server ($FIXTURE_PORT) answers
# for PATH (_log.csv: its request log; _reset: empties it).
fixture_get() {
    python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
        "http://127.0.0.1:$FIXTURE_PORT/$1"
}

# http_requests: how many requests the fixture server has logged so far
# (header line excluded).
http_requests() {
    echo $(( $(fixture_get _log.csv | wc -l) - 1 ))
}

# since START: seconds since START (a `date +%s.%N`), one decimal.
since() {
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# bench_require_installed: stops unless PG_BIN's PostgreSQL has hvcsv_fdw.
bench_require_installed() {
    [ -f "$("$PG_BIN/pg_config" --sharedir)/extension/hvcsv_fdw.control" ] || {
        echo "hvcsv_fdw is not installed; run make && make install" >&2; exit 1; }
}

# median: the median of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_work NAME: makes $work, a temporary directory that the cluster's
# user can read, and on exit (or INT, TERM) stops the fixture server and
# the cluster and removes it, after bench_extra_cleanup if the script
# defines one.
bench_work() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$work"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
    hv_stop_fixture
    hv_stop_cluster "$work"
    rm -rf "$work"
}
