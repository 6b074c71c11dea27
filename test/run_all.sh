#!/usr/bin/env bash
# Runs every test of hvcsv_fdw on this machine, from nothing:
#   installs what a fresh Debian 12 lacks (as root, with apt), builds and
#   installs the extension, starts a throwaway PostgreSQL cluster and the
#   fixture HTTP server on 127.0.0.1, runs the tokenizer check against
#   libcsv and the regression tests, and stops what it started.
# The last line reads "N passed, N failed"; the exit status is 0 only if
# every test passed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

PGPORT=${PGPORT:-54329}
FIXTURE_PORT=18765
FIXTURE_KEY=test-secret-key
WWW=/tmp/hvcsv_fixture_www
PG_BIN=/usr/lib/postgresql/15/bin

# 1. What a fresh machine lacks.
"$top/test/install_deps.sh"

# 2. Build and install.
make -s clean >/dev/null
make -s 2>&1 | tee /tmp/hvcsv_build.log
if grep -q 'warning:' /tmp/hvcsv_build.log; then
    echo "the build printed warnings" >&2
    exit 1
fi
make -s install >/dev/null

# 3. A throwaway cluster, owned by postgres since the server refuses root.
work=$(mktemp -d /tmp/hvcsv_test.XXXXXX)
chown postgres: "$work"
fixture_pid=
cleanup() {
    [ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null || true
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work" "$WWW"
}
trap cleanup EXIT

runuser -u postgres -- "$PG_BIN/initdb" -D "$work/data" -U postgres -A trust \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$work'
max_worker_processes = 8
max_parallel_workers_per_gather = 2
log_min_messages = info
CONF
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

# 4. The fixture server, serving a copy of test/data that tests may rewrite.
rm -rf "$WWW"
cp -r "$top/test/data" "$WWW"
chown -R postgres: "$WWW"
python3 "$top/test/fixture_server.py" --port "$FIXTURE_PORT" --root "$WWW" \
    --api-key "$FIXTURE_KEY" > "$work/fixture.log" 2>&1 &
fixture_pid=$!
for _ in $(seq 50); do
    grep -q listening "$work/fixture.log" && break
    sleep 0.1
done

# 5. The tests.
passed=0
failed=0

make -s test/csv_diff_check
if test/csv_diff_check test/data/*.csv; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

export PGHOST=$work PGPORT PGUSER=postgres
if make -s installcheck; then
    regress_failed=0
else
    regress_failed=1
    [ -f regression.diffs ] && cat regression.diffs
fi
# pg_regress prints "ok"/"FAILED" per test; count them.
if [ -f regression.out ]; then
    regress_ok=$(grep -cE '^(test| ) .* \.\.\. ok' regression.out || true)
    regress_bad=$(grep -cE '\.\.\. FAILED' regression.out || true)
    passed=$((passed + regress_ok))
    failed=$((failed + regress_bad))
fi
if [ "$regress_failed" = 1 ] && [ "${regress_bad:-0}" = 0 ]; then
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
