#!/usr/bin/env bash
# test/fixture_ctl.sh start|stop: the two HTTP servers the regression tests
# (sql/*.sql) talk to.  `make installcheck` runs start before the tests and
# stop after them, even when a test fails; run them by hand to try a test with
# psql.  Ports and paths are fixed, because the expected output names them:
#   - test/fixture_server.py on 127.0.0.1:18765 (API key test-secret-key),
#     serving a copy of test/data at /tmp/hvcsv_fixture_www, where the tests
#     write files through COPY ... TO;
#   - test/hostile_server.py on 127.0.0.1:18770.
# start fails before it copies or starts anything if either port is taken:
# by a stranger, or by a run in another checkout.  Pid files and logs are in
# results/fixture/ of the current directory (make's build directory, where
# pg_regress keeps its results and make clean removes them), so that start
# first stops what a killed run here left behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIXTURE_PORT=18765
HOSTILE_PORT=18770
WWW=/tmp/hvcsv_fixture_www
state=$PWD/results/fixture

stop() {
    # The copy is removed only if our fixture server was still serving it:
    # while it held the port, no other run can have been using the copy.
    if hv_stop_pidfile "$state/fixture.pid" fixture_server.py; then
        rm -rf "$WWW"
    fi
    hv_stop_pidfile "$state/hostile.pid" hostile_server.py || true
}

start() {
    stop
    hv_port_free "$FIXTURE_PORT"
    hv_port_free "$HOSTILE_PORT"
    mkdir -p "$state"
    rm -rf "$WWW"
    cp -r "$(dirname "$0")/data" "$WWW"
    # The database server writes here as its own OS user, which is not ours
    # when make runs as root or as a user other than the server's, and which
    # we cannot name (or chown to, unless root).
    chmod -R a+rwX "$WWW"
    hv_start_fixture "$WWW" "$FIXTURE_PORT" test-secret-key "$state/fixture.log"
    echo "$HV_FIXTURE_PID" > "$state/fixture.pid"
    hv_start_server "$HOSTILE_PORT" "$state/hostile.log" hostile_server.py \
        --other-port "$FIXTURE_PORT"
    echo "$HV_SERVER_PID" > "$state/hostile.pid"
}

case "${1:-}" in
    start | stop) "$1" ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
