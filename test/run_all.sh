#!/usr/bin/env bash
# Runs every test of hvcsv_fdw on this machine, from nothing:
#   installs what a fresh Debian 12 lacks (as root, with apt), builds and
#   installs the extension, starts a throwaway PostgreSQL cluster, runs the
#   tokenizer check against libcsv, the check of the library's exported
#   names and layers (test/check_layers.py), a bounded libFuzzer run (fuzz/run.sh),
#   the regression tests (make installcheck, which starts and stops the HTTP
#   servers they need) and the TAP tests (make prove_installcheck, one file
#   at a time; each starts its own throwaway clusters and fixture server),
#   and stops what it started.
# The last line reads "N passed, N failed"; the exit status is 0 only if
# every test passed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. test/lib.sh

PGPORT=${PGPORT:-54329}

test/install_deps.sh
hv_build_install

work=$(mktemp -d /tmp/hvcsv_test.XXXXXX)
cleanup() {
    # make installcheck stops its servers, unless this script was interrupted.
    test/fixture_ctl.sh stop
    hv_stop_cluster "$work"
    stop_tap_leftovers
    umount "$work/tap/small_fs" 2>/dev/null || true
    [ -n "${local_address:-}" ] && ip addr del "$local_address/32" dev lo 2>/dev/null || true
    rm -rf "$work"
}

# A TAP test that was killed (or timed out) leaves its clusters and fixture
# servers behind: stop them, by data directory and by pid file.
stop_tap_leftovers() {
    local f
    [ -d "$work/tap" ] || return 0
    while IFS= read -r f; do
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$(dirname "$f")" -m immediate stop \
            >/dev/null 2>&1 || true
    done < <(find "$work/tap" -name postmaster.pid 2>/dev/null)
    while IFS= read -r f; do
        hv_stop_pidfile "$f" fixture_server.py || true
    done < <(find "$work/tap" -name 'fixture_*.pid' 2>/dev/null)
}
trap cleanup EXIT

hv_start_cluster "$work" "$PGPORT" "log_min_messages = info"

passed=0
failed=0

make -s test/csv_diff_check
if test/csv_diff_check test/data/*.csv test/data/hostile/*.csv; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# The library's exported names, and the direction in which its files call
# each other (read from the objects the build left in src/).
if python3 test/check_layers.py; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# libFuzzer on the tokenizer (against libcsv) and the header matcher, 60 s.
if fuzz/run.sh 60; then
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

# TAP tests (PostgreSQL::Test::Cluster), one count per file.  initdb refuses
# to run as root, so make prove_installcheck runs as the postgres OS user,
# with a clean environment, on a copy of the Makefile, t/ and the fixture
# server in a directory postgres owns (the checkout may not be readable by
# postgres, and make writes tmp_check/ beside the Makefile).  Everything the
# tests create (clusters, sockets, logs) stays under $tap.
tap=$work/tap
mkdir -p "$tap/t" "$tap/test" "$tap/tmp"
cp Makefile "$tap/"
cp t/*.pl t/*.pm "$tap/t/"
cp test/fixture_server.py "$tap/test/"
cp -r test/corpus "$tap/test/"
# A 1 MB file system for the TAP tests to fill (mounting needs root and
# CAP_SYS_ADMIN; without it, the tests that need it skip).
small_fs=$tap/small_fs
mkdir -p "$small_fs"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$small_fs" 2>/dev/null || small_fs=
# An address in a public range (TEST-NET-1) on lo, so that the tests can
# show that this machine's own addresses are not reached like public ones
# (adding it needs root and CAP_NET_ADMIN; without them that check skips).
local_address=192.0.2.7
ip addr add "$local_address/32" dev lo 2>/dev/null || local_address=
chown -R postgres: "$tap"
for test_file in t/*.pl; do
    name=$(basename "$test_file" .pl)
    echo "# TAP: t/$name.pl"
    # make finds PG_BIN's pg_config first on PATH, so the tests run that
    # installation's programs, Perl modules and pg_regress.
    if (cd "$tap" && timeout -k 10 900 runuser -u postgres -- env -i \
            PATH="$PG_BIN:/usr/local/bin:/usr/bin:/bin" HOME="$tap" LANG=C.UTF-8 \
            TMPDIR="$tap/tmp" HVCSV_SMALL_FS="$small_fs" HVCSV_LOCAL_ADDRESS="$local_address" \
            make -s prove_installcheck PROVE_TESTS="t/$name.pl" PROVE_FLAGS=-v) 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        # The test's own log and the server logs of its clusters.
        for log in "$tap/tmp_check/log/regress_log_$name" "$tap/tmp_check/log/${name}_"*.log; do
            [ -f "$log" ] || continue
            echo "# ---- $log (last 200 lines)"
            tail -n 200 "$log"
        done
    fi
    # Before the next file: its make removes tmp_check/, data directories
    # of clusters this one may have left running included.
    stop_tap_leftovers
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
