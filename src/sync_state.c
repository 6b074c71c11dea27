/*-------------------------------------------------------------------------
 * sync_state.c
 *	  The extension's own tables: hvcsv_sync_state (the last run of each
 *	  foreign table), hvcsv_sync_exports (what the good runs read of each
 *	  export of a table with several), hvcsv_sync_history and
 *	  hvcsv_rejects.
 *
 * Every statement here runs as the extension's owner, who owns the tables
 * (callers may only read them, and row level security shows each role the
 * rows of the foreign tables it may read), restricted and with the safe
 * search_path of run_as_owner.c.  Operators are named with their schema as
 * well: an operator of the caller's making can never be chosen over
 * pg_catalog's.  Values go only as parameters, and every INSERT names its
 * columns.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "refresh_internal.h"
#include "scan.h"

PG_FUNCTION_INFO_V1(hvcsv_forget_dropped);

/* Runs kept in hvcsv_sync_history per table. */
#define HISTORY_KEPT 100

/* Finds the extension's owner and schema, and its version if version is not NULL. */
static void
extension_info(Oid *owner, Oid *schema, char **version)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(get_extension_oid("hvcsv_fdw", false)));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "extension hvcsv_fdw is not installed in this database");
	*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	*schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	if (version)
	{
		bool		isnull;
		Datum		value = heap_getattr(tup, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		*version = isnull ? "" : TextDatumGetCString(value);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The schema the extension's objects are in. */
static Oid
extension_schema(void)
{
	Oid			owner;
	Oid			schema;

	extension_info(&owner, &schema, NULL);
	return schema;
}

/* The version of the extension's SQL objects. */
char *
hvcsv_extension_version(void)
{
	Oid			owner;
	Oid			schema;
	char	   *version;

	extension_info(&owner, &schema, &version);
	return version;
}

/* Returns "schema.name" of one of the extension's own objects, quoted. */
char *
hvcsv_extension_object(const char *name)
{
	return quote_qualified_identifier(get_namespace_name(extension_schema()), name);
}

/*
 * Runs a parameterised statement as the extension's owner (SPI must be
 * connected); its result stays in SPI_tuptable.
 */
static void
exec_as_extension_owner(const char *sql, int nargs, Oid *types, Datum *values,
						const char *nulls)
{
	Oid			owner;
	Oid			schema;
	HvcsvRoleSwitch sw;

	extension_info(&owner, &schema, NULL);
	hvcsv_enter_role(owner, &sw);
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "could not run a statement on the hvcsv_fdw sync state");
	hvcsv_leave_role(&sw);
}

/* A nullable text parameter. */
static Datum
text_param(const char *value, char *null_flag)
{
	*null_flag = value && value[0] ? ' ' : 'n';
	return value && value[0] ? CStringGetTextDatum(value) : (Datum) 0;
}

/* Column i (from 1) of the first result row as text, or NULL. */
static char *
result_text(int i)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i);
}

/* Reads the sync state row of a foreign table. */
SyncState
hvcsv_read_state(Oid foreign_table)
{
	SyncState	st = {0};
	char	   *sql = psprintf("SELECT etag, last_modified, bytes, cursor_value, status, definition_hash "
							   "FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1",
							   hvcsv_extension_object("hvcsv_sync_state"));

	exec_as_extension_owner(sql, 1, (Oid[]) {REGCLASSOID},
							(Datum[]) {ObjectIdGetDatum(foreign_table)}, NULL);
	if (SPI_processed == 1)
	{
		char	   *bytes = result_text(3);

		st.exists = true;
		st.etag = result_text(1);
		st.last_modified = result_text(2);
		st.bytes = bytes ? strtoi64(bytes, NULL, 10) : -1;
		st.cursor_value = result_text(4);
		st.status = result_text(5);
		st.definition_hash = result_text(6);
	}
	return st;
}

/* Draws a run id from the extension's sequence (SPI must be connected). */
int64
hvcsv_next_run_id(void)
{
	bool		isnull;

	exec_as_extension_owner("SELECT pg_catalog.nextval($1::pg_catalog.regclass)", 1,
							(Oid[]) {TEXTOID},
							(Datum[]) {CStringGetTextDatum(hvcsv_extension_object("hvcsv_run_id"))},
							NULL);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* How a status is spelled in the result, the state and the history. */
const char *
hvcsv_refresh_status_name(RefreshStatus status)
{
	switch (status)
	{
		case REFRESH_OK:
			return "ok";
		case REFRESH_UNCHANGED:
			return "unchanged";
		case REFRESH_SKIPPED:
			return "skipped";
		case REFRESH_FAILED:
			break;
	}
	return "failed";
}

/* A count that is NULL when it was not taken. */
static Datum
count_param(int64 value, bool taken, char *null_flag)
{
	*null_flag = taken ? ' ' : 'n';
	return Int64GetDatum(value);
}

/* Appends a run to the history. */
static void
append_history(int64 run_id, const RefreshResult *res, const char *history)
{
	const SyncCounts *c = &res->counts;
	char		nulls[19];
	Datum		values[19];
	Oid			types[19] = {INT8OID, REGCLASSOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, TEXTOID};

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(run_id);
	values[1] = ObjectIdGetDatum(res->foreign_table);
	values[2] = text_param(res->target, &nulls[2]);
	values[3] = CStringGetTextDatum(hvcsv_refresh_status_name(res->status));
	values[4] = Int64GetDatum(c->inserted);
	values[5] = Int64GetDatum(c->updated);
	values[6] = Int64GetDatum(c->unchanged);
	values[7] = Int64GetDatum(c->deleted);
	values[8] = Int64GetDatum(c->rejected);
	values[9] = Int64GetDatum(c->bytes_fetched);
	values[10] = TimestampTzGetDatum(res->started);
	values[11] = TimestampTzGetDatum(res->finished);
	values[12] = text_param(res->error, &nulls[12]);
	values[13] = count_param(c->filtered, c->filter_used, &nulls[13]);
	values[14] = count_param(c->key_stored, c->filter_used, &nulls[14]);
	values[15] = count_param(c->export_processes, c->export_processes > 0, &nulls[15]);
	values[16] = count_param(c->target_processes, c->target_processes > 0, &nulls[16]);
	values[17] = count_param(c->duplicates, c->deduplicated, &nulls[17]);
	values[18] = text_param(res->schema_changes, &nulls[18]);
	exec_as_extension_owner(psprintf("INSERT INTO %s (run_id, foreign_table, target, status, "
									 "rows_inserted, rows_updated, rows_unchanged, rows_deleted, "
									 "rows_rejected, bytes_fetched, started_at, finished_at, error, "
									 "rows_filtered, rows_key_stored, export_processes, target_processes, "
									 "rows_duplicate, schema_changes) "
									 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
									 "$14, $15, $16, $17, $18, $19)",
									 history),
							19, types, values, nulls);
}

/* Appends a run to the history and keeps only the newest runs of the table. */
void
hvcsv_write_history(int64 run_id, const RefreshResult *res)
{
	char	   *history = hvcsv_extension_object("hvcsv_sync_history");
	Datum		table[1] = {ObjectIdGetDatum(res->foreign_table)};

	append_history(run_id, res, history);
	exec_as_extension_owner(psprintf("DELETE FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1 "
									 "AND run_id OPERATOR(pg_catalog.<=) "
									 "(SELECT run_id FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1 "
									 "ORDER BY run_id DESC OFFSET %d LIMIT 1)",
									 history, history, HISTORY_KEPT),
							1, (Oid[]) {REGCLASSOID}, table, NULL);
	exec_as_extension_owner(psprintf("DELETE FROM %s r WHERE foreign_table OPERATOR(pg_catalog.=) $1 "
									 "AND NOT EXISTS (SELECT FROM %s h "
									 "WHERE h.foreign_table OPERATOR(pg_catalog.=) $1 "
									 "AND h.run_id OPERATOR(pg_catalog.=) r.run_id)",
									 hvcsv_extension_object("hvcsv_rejects"), history),
							1, (Oid[]) {REGCLASSOID}, table, NULL);
}

/* Keeps the rows that on_error 'skip' rejected in this run. */
void
hvcsv_write_rejects(int64 run_id, const RefreshResult *res, List *rejects)
{
	char	   *sql = psprintf("INSERT INTO %s (run_id, foreign_table, line, byte_offset, error, raw) "
							   "VALUES ($1, $2, $3, $4, $5, $6)",
							   hvcsv_extension_object("hvcsv_rejects"));
	Oid			types[6] = {INT8OID, REGCLASSOID, INT8OID, INT8OID, TEXTOID, TEXTOID};
	ListCell   *cell;

	foreach(cell, rejects)
	{
		HvcsvReject *r = (HvcsvReject *) lfirst(cell);
		Datum		values[6];

		values[0] = Int64GetDatum(run_id);
		values[1] = ObjectIdGetDatum(res->foreign_table);
		values[2] = Int64GetDatum(r->line);
		values[3] = Int64GetDatum(r->byte_offset);
		values[4] = CStringGetTextDatum(r->error);
		values[5] = CStringGetTextDatum(r->raw);
		exec_as_extension_owner(sql, 6, types, values, NULL);
	}
}

/* Records a successful (or unchanged) run in the sync state. */
void
hvcsv_write_state(const RefreshResult *res, const SyncedExport *export)
{
	char		nulls[16];
	Datum		values[16];
	Oid			types[16] = {REGCLASSOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID};

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(res->foreign_table);
	values[1] = CStringGetTextDatum(res->target);
	values[2] = text_param(export->url, &nulls[2]);
	values[3] = text_param(export->etag, &nulls[3]);
	values[4] = text_param(export->last_modified, &nulls[4]);
	values[5] = Int64GetDatum(export->size);
	nulls[5] = export->size < 0 ? 'n' : ' ';	/* a streamed export's size is not known */
	values[6] = Int64GetDatum(res->counts.inserted);
	values[7] = Int64GetDatum(res->counts.updated);
	values[8] = Int64GetDatum(res->counts.unchanged);
	values[9] = Int64GetDatum(res->counts.deleted);
	values[10] = Int64GetDatum(res->counts.rejected);
	values[11] = text_param(export->cursor_value, &nulls[11]);
	values[12] = TimestampTzGetDatum(res->started);
	values[13] = TimestampTzGetDatum(res->finished);
	values[14] = CStringGetTextDatum(hvcsv_refresh_status_name(res->status));
	values[15] = text_param(export->definition_hash, &nulls[15]);
	exec_as_extension_owner(psprintf("INSERT INTO %s AS s (foreign_table, target, source_url, etag, "
									 "last_modified, bytes, rows_inserted, rows_updated, rows_unchanged, "
									 "rows_deleted, rows_rejected, cursor_value, started_at, finished_at, "
									 "status, last_error, definition_hash) "
									 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
									 "$15, NULL, $16) "
									 "ON CONFLICT (foreign_table) DO UPDATE SET target = EXCLUDED.target, "
									 "source_url = EXCLUDED.source_url, etag = EXCLUDED.etag, "
									 "last_modified = EXCLUDED.last_modified, bytes = EXCLUDED.bytes, "
									 "rows_inserted = EXCLUDED.rows_inserted, "
									 "rows_updated = EXCLUDED.rows_updated, "
									 "rows_unchanged = EXCLUDED.rows_unchanged, "
									 "rows_deleted = EXCLUDED.rows_deleted, "
									 "rows_rejected = EXCLUDED.rows_rejected, "
									 "cursor_value = EXCLUDED.cursor_value, "
									 "started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, "
									 "status = EXCLUDED.status, last_error = NULL, "
									 "definition_hash = EXCLUDED.definition_hash",
									 hvcsv_extension_object("hvcsv_sync_state")),
							16, types, values, nulls);
}

/* Records a failed run: what was synced before stays, with the error. */
void
hvcsv_write_failure(const RefreshResult *res)
{
	char		nulls[5] = "     ";
	Datum		values[5];
	Oid			types[5] = {REGCLASSOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};

	values[0] = ObjectIdGetDatum(res->foreign_table);
	values[1] = CStringGetTextDatum(res->target[0] ? res->target : "");
	values[2] = TimestampTzGetDatum(res->started);
	values[3] = TimestampTzGetDatum(res->finished);
	values[4] = CStringGetTextDatum(res->error);
	exec_as_extension_owner(psprintf("INSERT INTO %s AS s (foreign_table, target, started_at, "
									 "finished_at, status, last_error) "
									 "VALUES ($1, $2, $3, $4, 'failed', $5) "
									 "ON CONFLICT (foreign_table) DO UPDATE SET "
									 "started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, "
									 "status = 'failed', last_error = EXCLUDED.last_error",
									 hvcsv_extension_object("hvcsv_sync_state")),
							5, types, values, nulls);
}

/*
 * Forgets the sync state of a foreign table (hvcsv_reset), and of each of
 * its exports; its history stays.
 */
void
hvcsv_forget_state(Oid foreign_table)
{
	Datum		table[1] = {ObjectIdGetDatum(foreign_table)};

	exec_as_extension_owner(psprintf("DELETE FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1",
									 hvcsv_extension_object("hvcsv_sync_state")),
							1, (Oid[]) {REGCLASSOID}, table, NULL);
	exec_as_extension_owner(psprintf("DELETE FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1",
									 hvcsv_extension_object("hvcsv_sync_exports")),
							1, (Oid[]) {REGCLASSOID}, table, NULL);
}

/* Row i of the result as an ExportState. */
static ExportState *
result_export_state(uint64 i)
{
	ExportState *st = palloc0(sizeof(ExportState));
	HeapTuple	tup = SPI_tuptable->vals[i];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	Datum		value;

	st->url = SPI_getvalue(tup, desc, 1);
	st->etag = SPI_getvalue(tup, desc, 2);
	st->last_modified = SPI_getvalue(tup, desc, 3);
	value = SPI_getbinval(tup, desc, 4, &isnull);
	st->bytes = isnull ? -1 : DatumGetInt64(value);
	value = SPI_getbinval(tup, desc, 5, &isnull);
	st->rows = isnull ? -1 : DatumGetInt64(value);
	value = SPI_getbinval(tup, desc, 6, &isnull);
	st->synced_at = isnull ? 0 : DatumGetTimestampTz(value);
	return st;
}

/* Reads what the good runs of a table with several exports read of each (ExportState). */
List *
hvcsv_read_export_states(Oid foreign_table)
{
	List	   *states = NIL;
	uint64		i;

	exec_as_extension_owner(psprintf("SELECT export_url, etag, last_modified, bytes, rows, synced_at "
									 "FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1",
									 hvcsv_extension_object("hvcsv_sync_exports")),
							1, (Oid[]) {REGCLASSOID},
							(Datum[]) {ObjectIdGetDatum(foreign_table)}, NULL);
	for (i = 0; i < SPI_processed; i++)
		states = lappend(states, result_export_state(i));
	return states;
}

/* Records what a good run read of one export. */
void
hvcsv_write_export_state(Oid foreign_table, const ExportState *st)
{
	char		nulls[7];
	Datum		values[7];
	Oid			types[7] = {REGCLASSOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
	TIMESTAMPTZOID};

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(foreign_table);
	values[1] = CStringGetTextDatum(st->url);
	values[2] = text_param(st->etag, &nulls[2]);
	values[3] = text_param(st->last_modified, &nulls[3]);
	values[4] = count_param(st->bytes, st->bytes >= 0, &nulls[4]);
	values[5] = count_param(st->rows, st->rows >= 0, &nulls[5]);
	values[6] = TimestampTzGetDatum(st->synced_at);
	exec_as_extension_owner(psprintf("INSERT INTO %s AS s (foreign_table, export_url, etag, "
									 "last_modified, bytes, rows, synced_at) "
									 "VALUES ($1, $2, $3, $4, $5, $6, $7) "
									 "ON CONFLICT (foreign_table, export_url) DO UPDATE SET "
									 "etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, "
									 "bytes = EXCLUDED.bytes, rows = EXCLUDED.rows, "
									 "synced_at = EXCLUDED.synced_at",
									 hvcsv_extension_object("hvcsv_sync_exports")),
							7, types, values, nulls);
}

/* Forgets one export of a table (url: without secrets), or all of them if url is NULL. */
void
hvcsv_forget_export_state(Oid foreign_table, const char *url)
{
	char		nulls[2] = {' ', url ? ' ' : 'n'};

	exec_as_extension_owner(psprintf("DELETE FROM %s WHERE foreign_table OPERATOR(pg_catalog.=) $1 "
									 "AND ($2::pg_catalog.text IS NULL "
									 "OR export_url OPERATOR(pg_catalog.=) $2)",
									 hvcsv_extension_object("hvcsv_sync_exports")),
							2, (Oid[]) {REGCLASSOID, TEXTOID},
							(Datum[]) {ObjectIdGetDatum(foreign_table),
							url ? CStringGetTextDatum(url) : (Datum) 0}, nulls);
}

/* Deletes the rows of the tables that the current DROP removed from one table of ours. */
static void
forget_dropped_in(const char *name)
{
	exec_as_extension_owner(psprintf("DELETE FROM %s s WHERE EXISTS (SELECT FROM "
									 "pg_catalog.pg_event_trigger_dropped_objects() d "
									 "WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
									 "AND d.objsubid OPERATOR(pg_catalog.=) 0 "
									 "AND d.objid OPERATOR(pg_catalog.=) s.foreign_table)",
									 hvcsv_extension_object(name)),
							0, NULL, NULL, NULL);
}

/*
 * The sql_drop event trigger: forgets the state, history and rejected rows
 * of dropped foreign tables, so that a table that later gets the same OID
 * inherits no ETag or cursor mark.
 */
Datum
hvcsv_forget_dropped(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("hvcsv_forget_dropped() must be called as an event trigger")));
	/* DROP EXTENSION removes the tables themselves. */
	if (!OidIsValid(get_extension_oid("hvcsv_fdw", true)))
		PG_RETURN_VOID();
	SPI_connect();
	forget_dropped_in("hvcsv_sync_state");
	forget_dropped_in("hvcsv_sync_history");
	forget_dropped_in("hvcsv_rejects");
	/* Objects of an older version, before ALTER EXTENSION ... UPDATE, lack it. */
	if (OidIsValid(get_relname_relid("hvcsv_sync_exports", extension_schema())))
		forget_dropped_in("hvcsv_sync_exports");
	SPI_finish();
	PG_RETURN_VOID();
}
