# test/lib.sh: a throwaway PostgreSQL cluster and the fixture HTTP server,
# for test/run_all.sh, test/fixture_ctl.sh, demo/run.sh and bench/run.sh.
# Source it.  The cluster functions run as root (the server itself runs as the
# postgres OS user); the HTTP server functions run as any user.

# PG_BIN (and PG_CONFIG, which the Makefile reads) may name another
# installation, such as a relocated copy used to run two suites at once.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# hv_start_cluster DIR PORT [CONF_LINE...]: initdb in DIR/data, start on PORT,
# with the Unix socket in DIR and no TCP listener.
hv_start_cluster() {
    local dir=$1 port=$2
    shift 2
    chown postgres: "$dir"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir'"
        for line in "$@"; do echo "$line"; done
    } >> "$dir/data/postgresql.conf"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

# hv_stop_cluster DIR: stop the cluster started in DIR, if it runs.
hv_stop_cluster() {
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}

# hv_port_free PORT: fails, saying so, if something listens on 127.0.0.1:PORT
# (the tests would otherwise talk to a stranger's server).
hv_port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "port $1 is in use; stop whatever listens there first" >&2
        return 1
    fi
}

# hv_start_server PORT LOG SCRIPT [ARG...]: runs one of this directory's
# Python servers on 127.0.0.1:PORT (SCRIPT --port PORT ARG...), writing to
# LOG; sets HV_SERVER_PID.  Fails if the port is taken or the server does not
# say it is listening (and then leaves no server running).
hv_start_server() {
    local port=$1 log=$2 script=$3
    shift 3
    hv_port_free "$port" || return 1
    python3 "$(dirname "${BASH_SOURCE[0]}")/$script" --port "$port" "$@" > "$log" 2>&1 &
    HV_SERVER_PID=$!
    for _ in $(seq 50); do
        grep -q listening "$log" && return 0
        sleep 0.1
    done
    kill "$HV_SERVER_PID" 2>/dev/null || true
    cat "$log" >&2
    return 1
}

# hv_stop_pidfile FILE SCRIPT: stops the server whose pid FILE holds, waiting
# until it is gone (so that its port is free), and removes FILE.  The pid is
# only trusted while its process still runs SCRIPT: a process that died long
# ago may have passed its pid on.  Succeeds only if it stopped a server.
hv_stop_pidfile() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    rm -f "$1"
    grep -qs "$2" "/proc/$pid/cmdline" || return 1
    kill "$pid" 2>/dev/null || return 1
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# hv_start_fixture ROOT PORT KEY LOG: serve ROOT on 127.0.0.1:PORT, requiring
# KEY; sets HV_FIXTURE_PID.
hv_start_fixture() {
    hv_start_server "$2" "$4" fixture_server.py --root "$1" --api-key "$3" || return 1
    HV_FIXTURE_PID=$HV_SERVER_PID
}

# hv_stop_fixture: stop the fixture server, if it runs.
hv_stop_fixture() {
    [ -n "${HV_FIXTURE_PID:-}" ] && kill "$HV_FIXTURE_PID" 2>/dev/null || true
}

# hv_build_install: build (failing on any warning) and install the extension.
hv_build_install() {
    local log
    log=$(mktemp)
    make -s clean >/dev/null
    make -s 2>&1 | tee "$log"
    if grep -q 'warning:' "$log"; then
        echo "the build printed warnings" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    make -s install >/dev/null
}
