#!/usr/bin/env python3
"""Samples the peak resident set of hvcsv_fdw's refresh workers, for bench/run.sh.

Usage: python3 bench/peak_rss.py OUT

hvcsv_refresh() runs in a background worker, so the calling backend cannot
read the worker's memory from its own /proc/self/status.  This script watches
from outside: it looks for processes whose command line (the process title)
starts with "postgres: hvcsv_fdw refresh", and while one lives, reads its
VmHWM (peak resident set, kB) from /proc/PID/status every 10 ms.  VmHWM only
grows, so the last reading before the worker exits is its peak, give or take
what it grew in its last 10 ms.  It writes "-" to OUT at once (so the caller
knows it is ready), then on SIGTERM or SIGINT writes the highest VmHWM it saw
(kB), or "-" if it saw no worker, and exits.  Needs to run as root or as the
postgres OS user.
"""
import os
import signal
import sys
import time

TITLE = b"postgres: hvcsv_fdw refresh"
SCAN_EVERY = 0.005   # while no worker is known
POLL_EVERY = 0.010   # while one is


# Set by SIGTERM or SIGINT; the loops look at it between samples (an
# exception raised from the handler could land outside the try, and did).
stopping = False


def stop(signum, frame):
    global stopping
    stopping = True


def workers():
    """PIDs of the refresh workers that run now."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read(len(TITLE)) == TITLE:
                    found.append(int(name))
        except OSError:
            pass
    return found


def hwm(pid):
    """VmHWM of pid in kB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def main():
    out = sys.argv[1]
    peak = None
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(out, "w") as f:
        f.write("-\n")
    while not stopping:
        pids = workers()
        if not pids:
            time.sleep(SCAN_EVERY)
            continue
        while pids and not stopping:
            for pid in list(pids):
                kb = hwm(pid)
                if kb is None:
                    pids.remove(pid)
                else:
                    peak = kb if peak is None else max(peak, kb)
            time.sleep(POLL_EVERY)
    with open(out, "w") as f:
        f.write("%s\n" % (peak if peak is not None else "-"))


if __name__ == "__main__":
    main()
