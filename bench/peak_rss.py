#!/usr/bin/env python3
"""Samples the peak memory of hvcsv_fdw's refresh workers and their parallel
workers, for bench/run.sh.

Usage: python3 bench/peak_rss.py OUT
       python3 bench/peak_rss.py --own-memory < SMAPS   (prints kB)

hvcsv_refresh() runs in a background worker, and its parallel scans and
reads run in parallel workers, so the calling backend cannot read their
memory from its own /proc/self/status.  This script watches from outside:
it looks for processes whose command line (the process title) starts with
"postgres: hvcsv_fdw refresh", and for "postgres: parallel worker for PID N"
whose N is one of them.  While one lives it reads, every 10 ms, its VmHWM
(peak resident set, kB, from /proc/PID/status) and its own memory: the
resident kB of every mapping of /proc/PID/smaps but the server's main shared
memory segment (shared_buffers and the like: a process that reads a table
touches as many of those pages as the table has, whatever it allocates), so
private memory plus the dynamic shared memory it touched.  VmHWM only grows;
own memory is the highest sample, give or take what it grew between two.

It writes "-" to OUT at once (so the caller knows it is ready), then on
SIGTERM or SIGINT writes "W_HWM W_OWN P_HWM P_OWN" (kB; "-" for none seen):
the refresh workers' highest VmHWM and own memory, and the same for the
highest parallel worker, and exits.  Needs to run as root or as the
postgres OS user.
"""
import os
import re
import signal
import sys
import time

TITLE = b"postgres: hvcsv_fdw refresh"
PARALLEL = re.compile(rb"postgres: parallel worker for PID (\d+)")
SCAN_EVERY = 0.005   # while no worker is known
POLL_EVERY = 0.010   # while one is
# The main segment: an anonymous shared mapping (or a huge-page one), and
# the small System V segment kept alongside.
MAIN_SEGMENT = ("/dev/zero (deleted)", "anon_hugepage (deleted)", "/SYSV")


# Set by SIGTERM or SIGINT; the loops look at it between samples (an
# exception raised from the handler could land outside the try, and did).
stopping = False


def stop(signum, frame):
    global stopping
    stopping = True


def processes():
    """{pid: is_parallel} of the refresh workers and their parallel workers."""
    leaders, parallel = set(), {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                title = f.read(80)
        except OSError:
            continue
        if title.startswith(TITLE):
            leaders.add(int(name))
        m = PARALLEL.match(title)
        if m:
            parallel[int(name)] = int(m.group(1))
    found = {pid: False for pid in leaders}
    found.update({pid: True for pid, leader in parallel.items() if leader in leaders})
    return found


def own_memory(lines):
    """Resident kB of the mappings of smaps lines, the main segment left out."""
    kb, counted = 0, True
    for line in lines:
        if not line.strip():
            continue
        first = line.split(None, 1)[0]
        if first.endswith(":"):
            if counted and first == "Rss:":
                kb += int(line.split()[1])
        else:
            # A mapping's header: address range, perms, offset, dev, inode, path.
            fields = line.split(None, 5)
            path = fields[5].strip() if len(fields) > 5 else ""
            counted = not path.startswith(MAIN_SEGMENT)
    return kb


def sample(pid):
    """(VmHWM, own memory) of pid in kB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        with open(f"/proc/{pid}/smaps") as f:
            return hwm, own_memory(f)
    except (OSError, ValueError, StopIteration):
        return None


def main():
    if sys.argv[1:] == ["--own-memory"]:
        print(own_memory(sys.stdin))
        return
    out = sys.argv[1]
    # [hwm, own] of the refresh workers (False) and of parallel workers (True)
    peak = {False: [None, None], True: [None, None]}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(out, "w") as f:
        f.write("-\n")
    while not stopping:
        found = processes()
        if not found:
            time.sleep(SCAN_EVERY)
            continue
        for pid, is_parallel in found.items():
            s = sample(pid)
            if s is None:
                continue
            p = peak[is_parallel]
            for i in (0, 1):
                p[i] = s[i] if p[i] is None else max(p[i], s[i])
        time.sleep(POLL_EVERY)
    with open(out, "w") as f:
        f.write(" ".join("-" if v is None else str(v)
                         for v in peak[False] + peak[True]) + "\n")


if __name__ == "__main__":
    main()
