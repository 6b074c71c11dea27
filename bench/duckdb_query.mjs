// Runs one query with DuckDB (npm @duckdb/node-api) over a CSV file, as
// bench/run.sh's peer:
//   node bench/duckdb_query.mjs FILE THREADS TIMEZONE SELECT_LIST
// (TIMEZONE: the PostgreSQL session's, so that timestamps print alike)
//
// The file is read by read_csv at query time (a view names it), with the
// columns typed as the benchmark's tables type them, so DuckDB parses and
// converts the same fields hvcsv_fdw does.  Prints "seconds peak_kB res",
// as bench/run.sh's timed(): the time around the query alone (not node's or
// DuckDB's start), this process's VmHWM after it, and the result's columns
// joined by "/".
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads, timeZone, selectList] = process.argv.slice(2);
if (!file || !threads || !timeZone || !selectList) {
    console.error('usage: duckdb_query.mjs FILE THREADS TIMEZONE SELECT_LIST');
    process.exit(2);
}
const columns = `{'has_id': 'VARCHAR', 'name': 'VARCHAR', 'city': 'VARCHAR',
    'created_at': 'TIMESTAMPTZ', 'email': 'VARCHAR', 'country': 'VARCHAR',
    'amount': 'DECIMAL(18,2)', 'quantity': 'INTEGER', 'active': 'BOOLEAN',
    'notes': 'VARCHAR'}`;
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await db.connect();
const quoted = file.replace(/'/g, "''");
await con.run(`SET TimeZone = '${timeZone.replace(/'/g, "''")}'`);
await con.run(`CREATE VIEW bench AS SELECT * FROM read_csv('${quoted}', header = true,
    quote = '"', escape = '"', columns = ${columns})`);
const t0 = process.hrtime.bigint();
const reader = await con.runAndReadAll(`SELECT ${selectList} FROM bench`);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const res = reader.getRows()[0].map((v) => String(v)).join('/');
const hwm = /VmHWM:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1];
console.log(`${secs.toFixed(6)} ${hwm} ${res}`);
