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
    # The copy is ours if our pid file named the server that served it, even
    # if that server is gone already (an interrupted run).
    local ours=
    [ -f "$state/fixture.pid" ] && ours=1
    hv_stop_pidfile "$state/fixture.pid" fixture_server.py || true
    hv_stop_pidfile "$state/hostile.pid" hostile_server.py || true
    if [ -n "$ours" ]; then
        rm -rf "$WWW"
    fi
}

# The OS user the database server runs as: the owner of its data directory
# (installcheck connects as a superuser, who may read the setting), or ours
# when no server answers (a start by hand).
server_os_user() {
    local dir
    dir=$(psql -XAtqc 'SHOW data_directory' 2>/dev/null) || true
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        stat -c %U "$dir"
    else
        id -un
    fi
}

# Lets the database server write into the copy, and no one else: the tests
# write there as the server's OS user, through COPY ... TO.
grant_server() {
    local user
    user=$(server_os_user)
    if [ "$user" = "$(id -un)" ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ]; then
        chown -R "$user": "$WWW"
        return 0
    fi
    echo "the database server runs as $user: run this as $user or as root" >&2
    return 1
}

start() {
    stop
    hv_port_free "$FIXTURE_PORT"
    hv_port_free "$HOSTILE_PORT"
    mkdir -p "$state"
    rm -rf "$WWW"
    # A directory of our own, made afresh: mkdir fails on anything planted
    # at that path meanwhile, a symlink included.
    mkdir -m 0700 "$WWW"
    cp -r "$(dirname "$0")/data/." "$WWW/"
    grant_server
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
