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
. test/lib.sh

PGPORT=${PGPORT:-54329}
FIXTURE_PORT=18765
FIXTURE_KEY=test-secret-key
# The spool test rewrites files here through COPY ... TO, so the path is fixed.
WWW=/tmp/hvcsv_fixture_www

test/install_deps.sh
hv_build_install

work=$(mktemp -d /tmp/hvcsv_test.XXXXXX)
cleanup() {
    hv_stop_fixture
    hv_stop_cluster "$work"
    rm -rf "$work" "$WWW"
}
trap cleanup EXIT

hv_start_cluster "$work" "$PGPORT" "log_min_messages = info"
rm -rf "$WWW"
cp -r test/data "$WWW"
chown -R postgres: "$WWW"
hv_start_fixture "$WWW" "$FIXTURE_PORT" "$FIXTURE_KEY" "$work/fixture.log"

passed=0
failed=0

make -s test/csv_diff_check
if test/csv_diff_check test/data/*.csv; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

export PGHOST=$work PGPORT PGUSER=postgres
if make -s installcheck > "$work/regress.log" 2>&1; then
    regress_failed=0
else
    regress_failed=1
fi
cat "$work/regress.log"
[ -f regression.diffs ] && cat regression.diffs
# pg_regress prints "... ok" or "... FAILED" per test; count them.
regress_ok=$(grep -cE '^test .* \.\.\. ok' "$work/regress.log" || true)
regress_bad=$(grep -cE '^test .* \.\.\. FAILED' "$work/regress.log" || true)
passed=$((passed + regress_ok))
failed=$((failed + regress_bad))
if [ "$regress_failed" = 1 ] && [ "$regress_bad" = 0 ]; then
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
