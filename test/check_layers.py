#!/usr/bin/env python3
"""Checks the shape of the built library, from its symbols (run after make).

1. Every symbol hvcsv_fdw.so exports starts with hvcsv_, except the entry
   points PostgreSQL looks up: _PG_init, Pg_magic_func, pg_finfo_* and the
   SQL-callable functions they name.  PostgreSQL loads every extension into
   one symbol space, so any other name could clash with another library's.
2. The files of src/ call each other in one direction only: no cycle among
   the object files, and no file below the refresh uses a symbol that a
   file of the refresh defines or includes the refresh's header.

Exit status 0 if both hold; otherwise each problem is printed.
"""
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(TOP, "src")

# The refresh's files (refresh_internal.h); everything else is below them.
REFRESH = {
    "refresh", "refresh_worker", "refresh_table", "refresh_session", "sync_target",
    "sync_state", "sync_statement", "cursor_mark", "run_as_owner", "key_watch", "refresh_exports",
    "row_filter", "changed_rows", "bulk_load", "key_hash", "key_choice", "schema_drift",
}
# The files of the FDW's top (hvcsv_fdw.h), which may call the refresh's entry.
TOP_FILES = {"hvcsv_fdw", "import", "export_types", "table_check"}


def nm(args, path):
    out = subprocess.run(["nm"] + args + [path], check=True, capture_output=True,
                         text=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def exported_names():
    """Problems with the names hvcsv_fdw.so exports."""
    library = os.path.join(TOP, "hvcsv_fdw.so")
    if not os.path.exists(library):
        return ["no hvcsv_fdw.so: run make first"]
    rows = nm(["-D", "--defined-only"], library)
    names = {row[-1] for row in rows if row[-2] in "TDBRVW" or row[-2] in "tdbr"}
    sql_functions = {n[len("pg_finfo_"):] for n in names if n.startswith("pg_finfo_")}
    problems = []
    for name in sorted(names):
        if name.startswith("hvcsv_") or name in ("_PG_init", "Pg_magic_func"):
            continue
        if name.startswith("pg_finfo_") or name in sql_functions:
            continue
        if name.startswith("_") and name in ("_init", "_fini", "_edata", "_end", "__bss_start"):
            continue
        problems.append(f"exported symbol without the hvcsv_ prefix: {name}")
    return problems


def object_graph():
    """Which object file uses which: {file: set of files whose symbols it uses}."""
    defined = {}
    undefined = {}
    for name in sorted(os.listdir(SRC)):
        if not name.endswith(".o"):
            continue
        base = name[:-2]
        rows = nm([], os.path.join(SRC, name))
        undefined[base] = {row[-1] for row in rows if row[0] == "U"}
        for row in rows:
            if len(row) == 3 and row[1] in "TDBR":
                defined[row[2]] = base
    return {f: {defined[s] for s in syms if s in defined and defined[s] != f}
            for f, syms in undefined.items()}


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_problems():
    graph = object_graph()
    if not graph:
        return ["no object files in src/: run make first"]
    problems = [f"files that call each other: {', '.join(c)}" for c in cycles(graph)]
    for f in sorted(graph):
        if f in REFRESH:
            continue
        for used in sorted(graph[f] & REFRESH):
            if f in TOP_FILES and used == "refresh":
                continue        # _PG_init registers the refresh (hvcsv_refresh_init)
            problems.append(f"{f}.c, below the refresh, uses {used}.c")
    return problems


def include_problems():
    """Files below the refresh that include the refresh's own header."""
    problems = []
    for name in sorted(os.listdir(SRC)):
        base, ext = os.path.splitext(name)
        if ext not in (".c", ".h") or base in REFRESH or name == "refresh_internal.h":
            continue
        with open(os.path.join(SRC, name)) as f:
            if '#include "refresh_internal.h"' in f.read():
                problems.append(f"{name}, below the refresh, includes refresh_internal.h")
    return problems


def main():
    problems = exported_names() + layer_problems() + include_problems()
    for p in problems:
        print(p)
    print("symbols and layers: " + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
