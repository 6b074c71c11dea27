/*-------------------------------------------------------------------------
 * refresh.c
 *	  hvcsv_refresh(): upserts each foreign table's export into its target
 *	  table, skipping unchanged exports, in a background worker.
 *
 * Why a worker: each table must be all-or-nothing and committed on its own,
 * so that one failure leaves the others refreshed; and a failed run must
 * still end in an ERROR, so that cron records it as failed.  A function
 * cannot commit, and its ERROR would undo everything, so the caller hands
 * the tables to a background worker that connects as the caller (targets
 * are written with the caller's privileges), refreshes each table in its
 * own transaction and reports back through dynamic shared memory.  The
 * caller waits, returns one row per table, and raises WARNINGs and the
 * final ERROR (see hvcsv_fdw.refresh_failure).  A worker killed mid-run
 * loses only its open transaction: the target and the sync state stay as
 * they were.
 *
 * Per table: an advisory lock (a second refresh of the same table returns
 * "skipped" at once), change detection (the export's ETag or Last-Modified
 * against the last run: "unchanged" costs one conditional request), one
 * INSERT ... SELECT ... ON CONFLICT DO UPDATE that rewrites only rows whose
 * values changed, optional incremental sync by cursor_column and deletion
 * of missing rows with a guard, then the sync state and history.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/progress.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_progress.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
#include "hvcsv_fdw.h"

PG_FUNCTION_INFO_V1(hvcsv_refresh);
PGDLLEXPORT void hvcsv_refresh_worker_main(Datum main_arg);

/* Runs kept in hvcsv_sync_history per table. */
#define HISTORY_KEPT 100
#define ERROR_TEXT_SIZE 1024

char	   *hvcsv_refresh_failure_mode = NULL;
bool		hvcsv_progress_active = false;
static uint64 progress_bytes_base;

/* Set when the worker is asked to stop (its caller was cancelled, or shutdown). */
static volatile sig_atomic_t stop_requested = false;

/* One table's outcome, written by the worker. */
typedef struct RefreshResult
{
	Oid			foreign_table;
	char		target[2 * NAMEDATALEN + 8];
	char		status[16];
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		deleted;
	int64		rejected;
	int64		bytes_fetched;
	TimestampTz started;
	TimestampTz finished;
	char		error[ERROR_TEXT_SIZE];
	/* of a failure: passed on to the caller's WARNING */
	int			sqlerrcode;
	char		error_detail[ERROR_TEXT_SIZE];
} RefreshResult;

/* What the caller asks of the worker, in dynamic shared memory. */
typedef struct RefreshJob
{
	Oid			database;
	Oid			login_role;		/* the caller's session logged in as this role */
	Oid			role;			/* the caller's current role: the worker's privileges */
	int64		run_id;
	char		spool_directory[MAXPGPATH];
	char		search_path[1024];
	char		timezone[128];	/* the caller's, for values it reads back */
	char		datestyle[64];
	int			ntables;
	RefreshResult results[FLEXIBLE_ARRAY_MEMBER];
} RefreshJob;

/* What the last successful run saw, from hvcsv_sync_state. */
typedef struct SyncState
{
	bool		exists;
	char	   *etag;
	char	   *last_modified;
	int64		bytes;
	char	   *cursor_value;
	char	   *status;
} SyncState;

/* Reports bytes received to the COPY progress view; called by fetch.c. */
void
hvcsv_progress_bytes(uint64 bytes, int64 total)
{
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, bytes - progress_bytes_base);
	if (total > 0)
		pgstat_progress_update_param(PROGRESS_COPY_BYTES_TOTAL, total);
}

/* Reports rows read to the COPY progress view; called by the scan. */
void
hvcsv_progress_rows(uint64 rows)
{
	pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, rows);
}

/* Finds the extension's owner and schema (SPI must be connected). */
static void
extension_info(Oid *owner, char **schema)
{
	bool		isnull;

	SPI_execute("SELECT extowner, extnamespace::pg_catalog.regnamespace::text "
				"FROM pg_catalog.pg_extension WHERE extname = 'hvcsv_fdw'", true, 1);
	if (SPI_processed != 1)
		elog(ERROR, "extension hvcsv_fdw is not installed in this database");
	*owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
}

/* Returns "schema.name" of one of the extension's own objects, quoted. */
static char *
extension_table(const char *name)
{
	Oid			owner;
	char	   *schema;

	extension_info(&owner, &schema);
	return psprintf("%s.%s", schema, quote_identifier(name));
}

/* Returns the owner of the extension, who writes the sync state. */
static Oid
extension_owner(void)
{
	Oid			owner;
	char	   *schema;

	extension_info(&owner, &schema);
	return owner;
}

/*
 * Runs a parameterised statement on the extension's own objects as the
 * extension owner; its result stays in SPI_tuptable.
 */
static void
exec_as_owner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	Oid			saved_user;
	int			saved_context;

	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(extension_owner(), saved_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "could not write the hvcsv_fdw sync state");
	SetUserIdAndSecContext(saved_user, saved_context);
}

/* A nullable text parameter. */
static Datum
text_param(const char *value, char *null_flag)
{
	*null_flag = value && value[0] ? ' ' : 'n';
	return value && value[0] ? CStringGetTextDatum(value) : (Datum) 0;
}

/* Reads the sync state row of a foreign table. */
static SyncState
read_state(Oid foreign_table)
{
	SyncState	st = {0};
	char	   *sql = psprintf("SELECT etag, last_modified, bytes, cursor_value, status FROM %s WHERE foreign_table = $1",
							   extension_table("hvcsv_sync_state"));

	SPI_execute_with_args(sql, 1, (Oid[]) {REGCLASSOID},
						  (Datum[]) {ObjectIdGetDatum(foreign_table)}, NULL, true, 1);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *bytes = SPI_getvalue(tup, desc, 3);

		st.exists = true;
		st.etag = SPI_getvalue(tup, desc, 1);
		st.last_modified = SPI_getvalue(tup, desc, 2);
		st.bytes = bytes ? strtoi64(bytes, NULL, 10) : -1;
		st.cursor_value = SPI_getvalue(tup, desc, 4);
		st.status = SPI_getvalue(tup, desc, 5);
	}
	return st;
}

/* Appends a run to the history and keeps only the newest runs of the table. */
static void
write_history(const RefreshJob *job, const RefreshResult *res)
{
	char		nulls[13];
	Datum		values[13];
	Oid			types[13] = {INT8OID, REGCLASSOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	char	   *history = extension_table("hvcsv_sync_history");

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(job->run_id);
	values[1] = ObjectIdGetDatum(res->foreign_table);
	values[2] = text_param(res->target, &nulls[2]);
	values[3] = CStringGetTextDatum(res->status);
	values[4] = Int64GetDatum(res->inserted);
	values[5] = Int64GetDatum(res->updated);
	values[6] = Int64GetDatum(res->unchanged);
	values[7] = Int64GetDatum(res->deleted);
	values[8] = Int64GetDatum(res->rejected);
	values[9] = Int64GetDatum(res->bytes_fetched);
	values[10] = TimestampTzGetDatum(res->started);
	values[11] = TimestampTzGetDatum(res->finished);
	values[12] = text_param(res->error, &nulls[12]);
	exec_as_owner(psprintf("INSERT INTO %s VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
						   history),
				  13, types, values, nulls);
	exec_as_owner(psprintf("DELETE FROM %s WHERE foreign_table = $1 AND run_id <= "
						   "(SELECT run_id FROM %s WHERE foreign_table = $1 "
						   "ORDER BY run_id DESC OFFSET %d LIMIT 1)",
						   history, history, HISTORY_KEPT),
				  1, (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(res->foreign_table)}, NULL);
	exec_as_owner(psprintf("DELETE FROM %s r WHERE foreign_table = $1 AND NOT EXISTS "
						   "(SELECT 1 FROM %s h WHERE h.foreign_table = $1 AND h.run_id = r.run_id)",
						   extension_table("hvcsv_rejects"), history),
				  1, (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(res->foreign_table)}, NULL);
}

/* Keeps the rows that on_error 'skip' rejected in this run. */
static void
write_rejects(const RefreshJob *job, const RefreshResult *res)
{
	char	   *sql = psprintf("INSERT INTO %s VALUES ($1, $2, $3, $4, $5, $6)",
							   extension_table("hvcsv_rejects"));
	Oid			types[6] = {INT8OID, REGCLASSOID, INT8OID, INT8OID, TEXTOID, TEXTOID};
	ListCell   *cell;

	foreach(cell, hvcsv_collected_rejects)
	{
		HvcsvReject *r = (HvcsvReject *) lfirst(cell);
		Datum		values[6];

		values[0] = Int64GetDatum(job->run_id);
		values[1] = ObjectIdGetDatum(res->foreign_table);
		values[2] = Int64GetDatum(r->line);
		values[3] = Int64GetDatum(r->byte_offset);
		values[4] = CStringGetTextDatum(r->error);
		values[5] = CStringGetTextDatum(r->raw);
		exec_as_owner(sql, 6, types, values, NULL);
	}
}

/* Records a successful (or unchanged) run in the sync state. */
static void
write_state(const RefreshResult *res, const char *url, const char *etag,
			const char *last_modified, int64 bytes, const char *cursor_value)
{
	char		nulls[14];
	Datum		values[14];
	Oid			types[14] = {REGCLASSOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(res->foreign_table);
	values[1] = CStringGetTextDatum(res->target);
	values[2] = text_param(url, &nulls[2]);
	values[3] = text_param(etag, &nulls[3]);
	values[4] = text_param(last_modified, &nulls[4]);
	values[5] = Int64GetDatum(bytes);
	nulls[5] = bytes < 0 ? 'n' : ' ';	/* a streamed export's size is not known */
	values[6] = Int64GetDatum(res->inserted);
	values[7] = Int64GetDatum(res->updated);
	values[8] = Int64GetDatum(res->unchanged);
	values[9] = Int64GetDatum(res->deleted);
	values[10] = Int64GetDatum(res->rejected);
	values[11] = text_param(cursor_value, &nulls[11]);
	values[12] = TimestampTzGetDatum(res->started);
	values[13] = TimestampTzGetDatum(res->finished);
	exec_as_owner(psprintf("INSERT INTO %s AS s (foreign_table, target, source_url, etag, last_modified, bytes, "
						   "rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, "
						   "cursor_value, started_at, finished_at, status, last_error) "
						   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, %s, NULL) "
						   "ON CONFLICT (foreign_table) DO UPDATE SET target = EXCLUDED.target, "
						   "source_url = EXCLUDED.source_url, etag = EXCLUDED.etag, "
						   "last_modified = EXCLUDED.last_modified, bytes = EXCLUDED.bytes, "
						   "rows_inserted = EXCLUDED.rows_inserted, rows_updated = EXCLUDED.rows_updated, "
						   "rows_unchanged = EXCLUDED.rows_unchanged, rows_deleted = EXCLUDED.rows_deleted, "
						   "rows_rejected = EXCLUDED.rows_rejected, cursor_value = EXCLUDED.cursor_value, "
						   "started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, "
						   "status = EXCLUDED.status, last_error = NULL",
						   extension_table("hvcsv_sync_state"), quote_literal_cstr(res->status)),
				  14, types, values, nulls);
}

/* Records a failed run: what was synced before stays, with the error. */
static void
write_failure(const RefreshResult *res)
{
	char		nulls[5] = "     ";
	Datum		values[5];
	Oid			types[5] = {REGCLASSOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};

	values[0] = ObjectIdGetDatum(res->foreign_table);
	values[1] = CStringGetTextDatum(res->target[0] ? res->target : "");
	values[2] = TimestampTzGetDatum(res->started);
	values[3] = TimestampTzGetDatum(res->finished);
	values[4] = CStringGetTextDatum(res->error);
	exec_as_owner(psprintf("INSERT INTO %s AS s (foreign_table, target, started_at, finished_at, status, last_error) "
						   "VALUES ($1, $2, $3, $4, 'failed', $5) "
						   "ON CONFLICT (foreign_table) DO UPDATE SET started_at = EXCLUDED.started_at, "
						   "finished_at = EXCLUDED.finished_at, status = 'failed', last_error = EXCLUDED.last_error",
						   extension_table("hvcsv_sync_state")),
				  5, types, values, nulls);
}

/* The names of the target's primary key columns; an error if it has none. */
static List *
primary_key_columns(Relation target)
{
	Oid			pk = RelationGetPrimaryKeyIndex(target);
	List	   *names = NIL;
	Relation	index;

	if (!OidIsValid(pk))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("target table \"%s\" has no primary key", RelationGetRelationName(target)),
				 errhint("Add a primary key to it, or name its key columns in the foreign table's key option.")));
	index = index_open(pk, AccessShareLock);
	for (int i = 0; i < index->rd_index->indnkeyatts; i++)
		names = lappend(names, get_attname(RelationGetRelid(target),
										   index->rd_index->indkey.values[i], false));
	index_close(index, AccessShareLock);
	return names;
}

/* Tells whether name is in a list of strings. */
static bool
name_in(List *names, const char *name)
{
	ListCell   *cell;

	foreach(cell, names)
		if (strcmp(lfirst(cell), name) == 0)
			return true;
	return false;
}

/* Joins names, quoted, with a prefix before each. */
static char *
name_list(List *names, const char *prefix)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, names)
		appendStringInfo(&buf, "%s%s%s", buf.len ? ", " : "", prefix,
						 quote_identifier(lfirst(cell)));
	return buf.data;
}

/* The export rows a row filter kept, as the sync statement reads them. */
typedef struct KeptRows
{
	char	   *from;			/* the FROM item that reads them back */
	char	   *mark;			/* their column: whether the key may be stored */
	uint64		marked;			/* rows so marked */
} KeptRows;

/*
 * Builds the statement that syncs one table, in one pass over the export:
 * src is the export (rows past the cursor, if any), or else kept, the rows
 * of it that keep_changed_rows() kept; changed is what differs
 * from the target; upserted inserts new keys and updates changed rows;
 * deleted removes rows the export lacks.  It returns the counts the run reports, and the target's
 * size before the run for the delete guard (0 without delete_missing).  When the key watch counts the
 * rows and checks the keys (watched), src is read once, not kept: the
 * statement then returns 0 rows read and no duplicate.
 */
static char *
sync_statement(const char *ft, const char *target, List *columns, List *keys,
			   const char *cursor, const char *cursor_type, bool delete_missing,
			   bool watched, const KeptRows *kept)
{
	StringInfoData sql;
	StringInfoData sets;
	StringInfoData upsert_sets;
	StringInfoData keymatch;
	List	   *values = NIL;
	ListCell   *cell;

	initStringInfo(&sets);
	initStringInfo(&upsert_sets);
	foreach(cell, columns)
	{
		if (name_in(keys, lfirst(cell)))
			continue;
		values = lappend(values, lfirst(cell));
		appendStringInfo(&sets, "%s%s = s.%s", sets.len ? ", " : "",
						 quote_identifier(lfirst(cell)), quote_identifier(lfirst(cell)));
		appendStringInfo(&upsert_sets, "%s%s = EXCLUDED.%s", upsert_sets.len ? ", " : "",
						 quote_identifier(lfirst(cell)), quote_identifier(lfirst(cell)));
	}
	initStringInfo(&keymatch);
	foreach(cell, keys)
		appendStringInfo(&keymatch, "%ss.%s = t.%s", keymatch.len ? " AND " : "",
						 quote_identifier(lfirst(cell)), quote_identifier(lfirst(cell)));

	initStringInfo(&sql);
	/*
	 * Rows equal to the stored ones are dropped before the upsert: ON
	 * CONFLICT would lock (and WAL-log) each of them before its WHERE.
	 * Kept rows, those that passed the row filter, are mostly changed or
	 * new: the update alone compares them, and each goes where its mark
	 * says, one index probe each instead of two.
	 */
	if (kept)
		appendStringInfo(&sql, "WITH changed AS (SELECT * FROM %s)", kept->from);
	else
	{
		appendStringInfo(&sql, "WITH src AS (SELECT %s FROM %s",
						 name_list(columns, ""), ft);
		if (cursor)
			appendStringInfo(&sql, " WHERE $1::text IS NULL OR %s > $1::%s",
							 quote_identifier(cursor), cursor_type);
		appendStringInfo(&sql, "), changed AS (SELECT * FROM src s WHERE NOT EXISTS "
						 "(SELECT 1 FROM %s t WHERE %s", target, keymatch.data);
		if (values != NIL)
			appendStringInfo(&sql, " AND (%s) IS NOT DISTINCT FROM (%s)",
							 name_list(values, "t."), name_list(values, "s."));
		appendStringInfoString(&sql, "))");
	}
	/*
	 * Changed rows whose key is stored are updated in place: an upsert
	 * would first lock each one, a WAL record more per row.
	 */
	if (values != NIL)
	{
		appendStringInfo(&sql, ", updated AS (UPDATE %s AS t SET %s FROM changed s WHERE %s",
						 target, sets.data, keymatch.data);
		if (kept)
			appendStringInfo(&sql, " AND s.%s AND (%s) IS DISTINCT FROM (%s)",
							 quote_identifier(kept->mark),
							 name_list(values, "t."), name_list(values, "s."));
		appendStringInfoString(&sql, " RETURNING 1)");
	}
	/* New keys; one inserted meanwhile by another session is upserted. */
	appendStringInfo(&sql, ", upserted AS (INSERT INTO %s AS t (%s) SELECT %s FROM changed s WHERE ",
					 target, name_list(columns, ""), name_list(columns, ""));
	/*
	 * A kept row marked stored whose key the update did not find (its key
	 * hash was another's, or its key is stored in another binary form) is
	 * looked up in the target, but only if the update missed any.
	 */
	if (kept)
	{
		appendStringInfo(&sql, "NOT s.%s OR (", quote_identifier(kept->mark));
		if (values != NIL)
			appendStringInfo(&sql, "(SELECT count(*) FROM updated) < " UINT64_FORMAT " AND ",
							 kept->marked);
	}
	appendStringInfo(&sql, "NOT EXISTS (SELECT 1 FROM %s t WHERE %s)%s ON CONFLICT (%s) ",
					 target, keymatch.data, kept ? ")" : "", name_list(keys, ""));
	if (values == NIL)
		appendStringInfoString(&sql, "DO NOTHING");
	else
		appendStringInfo(&sql, "DO UPDATE SET %s WHERE (%s) IS DISTINCT FROM (%s)",
						 upsert_sets.data, name_list(values, "t."), name_list(values, "EXCLUDED."));
	appendStringInfoString(&sql, " RETURNING (t.xmax = 0) AS inserted)");
	if (delete_missing)
		appendStringInfo(&sql, ", deleted AS (DELETE FROM %s t WHERE NOT EXISTS "
						 "(SELECT 1 FROM src s WHERE %s) RETURNING 1)", target, keymatch.data);
	/*
	 * ON CONFLICT catches a key twice only when both copies are written; a
	 * first copy equal to the stored row is not, so look for twins too.
	 */
	appendStringInfo(&sql, " SELECT %s, "
					 "(SELECT count(*) FROM upserted WHERE inserted), "
					 "(SELECT count(*) FROM upserted WHERE NOT inserted)%s, "
					 "%s, %s, %s, %s",
					 watched ? "0" : "(SELECT count(*) FROM src)",
					 values != NIL ? " + (SELECT count(*) FROM updated)" : "",
					 cursor ? psprintf("(SELECT max(%s)::text FROM src)", quote_identifier(cursor)) : "NULL",
					 delete_missing ? "(SELECT count(*) FROM deleted)" : "0",
					 /* the target's size matters only to the delete guard */
					 delete_missing ? psprintf("(SELECT count(*) FROM %s)", target) : "0",
					 watched ? "false" :
					 psprintf("EXISTS (SELECT FROM src GROUP BY %s HAVING count(*) > 1)",
							  name_list(keys, "")));
	return sql.data;
}

/*
 * Builds the statement for a target that is empty: a plain INSERT, with
 * the same result columns as sync_statement.  Nothing can conflict or be
 * unchanged, so no upsert is needed; a key twice in the export is a unique
 * violation of the key.
 */
static char *
load_statement(const char *ft, const char *target, List *columns, const char *cursor,
			   const char *cursor_type)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH loaded AS (INSERT INTO %s (%s) SELECT %s FROM %s",
					 target, name_list(columns, ""), name_list(columns, ""), ft);
	if (cursor)
		appendStringInfo(&sql, " WHERE $1::text IS NULL OR %s > $1::%s",
						 quote_identifier(cursor), cursor_type);
	appendStringInfo(&sql, " RETURNING %s AS cursor) SELECT count(*), count(*), 0, %s, 0, 0, false FROM loaded",
					 cursor ? quote_identifier(cursor) : "NULL",
					 cursor ? "max(cursor)::text" : "NULL");
	return sql.data;
}

/* Tells whether the export is the one the last good run synced. */
static bool
export_unchanged(const SyncState *st, const char *etag, const char *last_modified, int64 size)
{
	if (!st->exists || st->status == NULL ||
		(strcmp(st->status, "ok") != 0 && strcmp(st->status, "unchanged") != 0))
		return false;
	if (etag && etag[0])
		return st->etag && strcmp(st->etag, etag) == 0;
	return last_modified && last_modified[0] && st->last_modified &&
		strcmp(st->last_modified, last_modified) == 0 && st->bytes == size;
}

/*
 * Looks for a key that is in the export more than once, reading it again;
 * returns the key as text, or NULL if every key is there once.
 */
static char *
find_duplicate_key(Oid foreign_table, List *keys)
{
	char	   *ft_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(foreign_table)),
													 get_rel_name(foreign_table));
	char	   *sql = psprintf("SELECT (%s)::text FROM %s GROUP BY %s HAVING count(*) > 1 LIMIT 1",
							   name_list(keys, ""), ft_name, name_list(keys, ""));

	if (SPI_execute(sql, true, 1) < 0 || SPI_processed != 1)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * About how many rows target holds, as the planner would guess: the export
 * of a refresh is usually about as long, so its sets are sized by it.
 */
static double
stored_rows(Relation target)
{
	BlockNumber pages;
	double		tuples;
	double		allvisfrac;

	estimate_rel_size(target, NULL, &pages, &tuples, &allvisfrac);
	return Max(tuples, 0);
}

/* A name for the kept rows' mark that no synced column has. */
static char *
mark_name(List *columns)
{
	char	   *name = "key_stored";

	while (name_in(columns, name))
		name = psprintf("%s_", name);
	return name;
}

/*
 * Keeps the export rows that the target does not store as they are
 * (changed_rows.c), and fills in kept how the sync statement reads them
 * back: the rows the target stores stop at the scan (row_filter.c), and
 * the planner is told how few the rest are.  The export is read by a
 * parallel scan when parallel_ok (a spooled export) and the sets fit
 * its shared memory.  Returns false when no filter can be built.  With few
 * rows left, hash and merge joins are turned off (*guc_level says until
 * when): the key's index finds them faster than hashing the whole target
 * twice, but the planner, costing each probe as a disk read, would hash.
 */
static bool
keep_changed_rows(Oid ft, const char *ft_name, Relation target, List *columns, List *keys,
				  bool parallel_ok, KeptRows *kept, int *guc_level)
{
	StringInfoData from;
	ListCell   *cell;
	uint64		passed;
	uint64		dropped;

	if (!hvcsv_row_filter_start(ft, target, columns, keys, stored_rows(target)))
		return false;
	/* A parallel scan carries the key watch's and row filter's sets. */
	parallel_ok = parallel_ok &&
		uint64_set_shared_fits(hvcsv_key_watch_shared_size(ft) + hvcsv_row_filter_shared_size(ft));
	if (parallel_ok)
		hvcsv_whole_read_table = ft;
	passed = hvcsv_changed_rows_collect(psprintf("SELECT %s FROM %s", name_list(columns, ""),
												 ft_name),
										parallel_ok, &kept->marked);
	hvcsv_whole_read_table = InvalidOid;
	dropped = hvcsv_row_filter_stop();
	elog(DEBUG1, "refresh of \"%s\": " UINT64_FORMAT " of " UINT64_FORMAT
		 " rows equal stored rows and go no further, " UINT64_FORMAT
		 " of the rest have a stored key; processes that read the export: %d",
		 RelationGetRelationName(target), dropped, dropped + passed, kept->marked,
		 hvcsv_key_watch_processes());
	if (passed < dropped / 4)
	{
		*guc_level = NewGUCNestLevel();
		(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}

	/* The rows have the foreign table's column types, then the mark. */
	kept->mark = mark_name(columns);
	initStringInfo(&from);
	appendStringInfo(&from, "%s() AS changed_rows(", extension_table("hvcsv_changed_rows"));
	foreach(cell, columns)
	{
		Oid			type;
		int32		typmod;
		Oid			collation;

		get_atttypetypmodcoll(ft, get_attnum(ft, lfirst(cell)), &type, &typmod, &collation);
		appendStringInfo(&from, "%s %s, ", quote_identifier(lfirst(cell)),
						 format_type_with_typemod(type, typmod));
	}
	appendStringInfo(&from, "%s boolean)", quote_identifier(kept->mark));
	kept->from = from.data;
	return true;
}

/* Refreshes one table inside the current transaction; errors propagate. */
static void
refresh_table(RefreshJob *job, RefreshResult *res, List **keys_out)
{
	Oid			ft = res->foreign_table;
	HvcsvOptions *opts = hvcsv_get_options(ft, job->role);
	char	   *ft_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(ft)),
													 get_rel_name(ft));
	Relation	target;
	Relation	ftrel;
	List	   *columns = NIL;
	List	   *keys = NIL;
	char	   *cursor_type = NULL;
	SyncState	st;
	char	   *url;
	char	   *etag = NULL;
	char	   *last_modified = NULL;
	int64		size = -1;
	bool		unchanged;
	uint64		bytes_before = hvcsv_bytes_fetched;
	char	   *sql;
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *new_cursor;
	int64		source_rows;
	int64		target_rows;
	bool		watched = false;
	bool		duplicate;
	int			guc_level = -1;
	bool		bulk = false;

	if (opts->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" has no target option", get_rel_name(ft))));
	target = table_openrv(makeRangeVarFromNameList(hvcsv_qualified_name_list(opts->target)),
						  RowExclusiveLock);
	snprintf(res->target, sizeof(res->target), "%s",
			 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(target)),
										RelationGetRelationName(target)));

	/* Columns are matched by name; generated target columns are left alone. */
	ftrel = relation_open(ft, AccessShareLock);
	for (int a = 0; a < RelationGetDescr(target)->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(target), a);

		if (att->attisdropped || att->attgenerated)
			continue;
		for (int b = 0; b < RelationGetDescr(ftrel)->natts; b++)
		{
			Form_pg_attribute fatt = TupleDescAttr(RelationGetDescr(ftrel), b);

			if (!fatt->attisdropped && strcmp(NameStr(att->attname), NameStr(fatt->attname)) == 0)
			{
				columns = lappend(columns, pstrdup(NameStr(att->attname)));
				if (opts->cursor_column && strcmp(opts->cursor_column, NameStr(fatt->attname)) == 0)
					cursor_type = format_type_with_typemod(fatt->atttypid, fatt->atttypmod);
			}
		}
	}
	relation_close(ftrel, AccessShareLock);

	if (opts->key)
	{
		List	   *names;

		SplitIdentifierString(pstrdup(opts->key), ',', &names);
		keys = names;
	}
	else
		keys = primary_key_columns(target);
	*keys_out = keys;
	{
		ListCell   *cell;

		foreach(cell, keys)
			if (!name_in(columns, lfirst(cell)))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" is not a column of both \"%s\" and \"%s\"",
								(char *) lfirst(cell), get_rel_name(ft), RelationGetRelationName(target))));
	}
	if (opts->cursor_column && cursor_type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("cursor column \"%s\" is not a column of both \"%s\" and \"%s\"",
						opts->cursor_column, get_rel_name(ft), RelationGetRelationName(target))));

	/* Progress shows in pg_stat_progress_copy, the download included. */
	hvcsv_progress_active = true;
	progress_bytes_base = bytes_before;
	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, RelationGetRelid(target));
	pgstat_progress_update_param(PROGRESS_COPY_COMMAND, PROGRESS_COPY_COMMAND_FROM);
	pgstat_progress_update_param(PROGRESS_COPY_TYPE, PROGRESS_COPY_TYPE_CALLBACK);

	/* Change detection: one (conditional) request. */
	st = read_state(ft);
	url = hvcsv_redact_url(opts->url);
	if (opts->reader == HVCSV_READER_STREAMING)
	{
		HvcsvRequest req;
		HvcsvBody  *body;

		hvcsv_request_init(&req, opts);
		if (export_unchanged(&st, st.etag, st.last_modified, st.bytes))
		{
			req.if_none_match = st.etag;
			req.if_modified_since = st.last_modified;
		}
		body = hvcsv_body_open(&req, NULL, NULL);
		etag = pstrdup(hvcsv_body_response(body)->etag);
		last_modified = pstrdup(hvcsv_body_response(body)->last_modified);
		unchanged = hvcsv_body_response(body)->status == 304;
		hvcsv_body_close(body);
		if (unchanged)
		{
			etag = st.etag;
			last_modified = st.last_modified;
		}
		size = st.bytes;
	}
	else
	{
		HvcsvSpool *spool = hvcsv_spool_open(opts);

		etag = spool->etag;
		last_modified = spool->last_modified;
		size = spool->size;
		hvcsv_spool_close(spool);
		unchanged = export_unchanged(&st, etag, last_modified, size);
	}

	if (unchanged)
	{
		hvcsv_progress_active = false;
		pgstat_progress_end_command();
		strlcpy(res->status, "unchanged", sizeof(res->status));
		res->bytes_fetched = hvcsv_bytes_fetched - bytes_before;
		res->finished = GetCurrentTimestamp();
		write_state(res, url, etag, last_modified, size, st.cursor_value);
		write_history(job, res);
		table_close(target, NoLock);
		return;
	}

	hvcsv_collect_rejects = true;
	hvcsv_collected_rejects = NIL;
	hvcsv_collected_reject_count = 0;
	/* A first load into an empty table needs no upsert. */
	SPI_execute(psprintf("SELECT EXISTS (SELECT FROM %s)", res->target), true, 1);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "f") == 0)
	{
		/* Inserted in batches, as COPY does, unless INSERT would do more. */
		bulk = hvcsv_bulk_load_eligible(target, ft, columns, opts->cursor_column);
		sql = bulk ? psprintf("SELECT %s FROM %s", name_list(columns, ""), ft_name) :
			load_statement(ft_name, res->target, columns, opts->cursor_column, cursor_type);
	}
	else
	{
		KeptRows	kept;
		bool		filtered = false;

		/* A cursor filters rows above the scan, so the scan cannot count them. */
		watched = opts->cursor_column == NULL &&
			hvcsv_key_watch_start(res->foreign_table, keys, stored_rows(target));
		/*
		 * The row filter needs the watch to count the rows; deleting
		 * needs every key of the export, so not then.  A spooled export
		 * may be read in parallel.
		 */
		if (watched && !opts->delete_missing)
			filtered = keep_changed_rows(res->foreign_table, ft_name, target, columns, keys,
										 opts->reader != HVCSV_READER_STREAMING &&
										 !opts->on_error_skip,
										 &kept, &guc_level);
		sql = sync_statement(ft_name, res->target, columns, keys, opts->cursor_column,
							 cursor_type, opts->delete_missing, watched,
							 filtered ? &kept : NULL);
	}
	if (bulk)
		res->inserted = hvcsv_bulk_load(target, sql, columns);
	else if (opts->cursor_column)
		SPI_execute_with_args(sql, 1, (Oid[]) {TEXTOID},
							  (Datum[]) {st.cursor_value ? CStringGetTextDatum(st.cursor_value) : (Datum) 0},
							  st.cursor_value ? NULL : "n", false, 0);
	else
		SPI_execute(sql, false, 0);
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	hvcsv_changed_rows_forget();
	hvcsv_progress_active = false;
	hvcsv_collect_rejects = false;
	pgstat_progress_end_command();

	if (bulk)
	{
		/* What load_statement would return. */
		source_rows = res->inserted;
		new_cursor = NULL;
		target_rows = 0;
		duplicate = false;
	}
	else
	{
		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		source_rows = strtoi64(SPI_getvalue(tup, desc, 1), NULL, 10);
		res->inserted = strtoi64(SPI_getvalue(tup, desc, 2), NULL, 10);
		res->updated = strtoi64(SPI_getvalue(tup, desc, 3), NULL, 10);
		new_cursor = SPI_getvalue(tup, desc, 4);
		res->deleted = strtoi64(SPI_getvalue(tup, desc, 5), NULL, 10);
		target_rows = strtoi64(SPI_getvalue(tup, desc, 6), NULL, 10);
		duplicate = strcmp(SPI_getvalue(tup, desc, 7), "t") == 0;
	}
	if (watched)
	{
		bool		maybe_duplicate;

		source_rows = hvcsv_key_watch_finish(&maybe_duplicate);
		duplicate = maybe_duplicate && find_duplicate_key(res->foreign_table, keys) != NULL;
	}
	if (duplicate)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the export has a key more than once")));
	res->unchanged = source_rows - res->inserted - res->updated;
	res->rejected = hvcsv_collected_reject_count;

	/* A snapshot that would empty much of the target is likely truncated. */
	if (res->deleted > 0 && res->deleted > opts->delete_limit * target_rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("refusing to delete " INT64_FORMAT " of " INT64_FORMAT " rows of \"%s\", more than delete_limit (%.0f%%)",
						res->deleted, target_rows, RelationGetRelationName(target),
						opts->delete_limit * 100),
				 errdetail("The export may be truncated. Nothing was written."),
				 errhint("If the export really shrank, raise the foreign table's delete_limit option.")));

	strlcpy(res->status, "ok", sizeof(res->status));
	res->bytes_fetched = hvcsv_bytes_fetched - bytes_before;
	res->finished = GetCurrentTimestamp();
	write_state(res, url, etag, last_modified, size,
				opts->cursor_column ? (new_cursor ? new_cursor : st.cursor_value) : NULL);
	write_history(job, res);
	write_rejects(job, res);
	table_close(target, NoLock);
}

/*
 * Makes a duplicate-key failure (from ON CONFLICT, or found by the sync
 * statement) name the key that is there twice.
 */
static void
explain_duplicate_key(RefreshResult *res, List *keys)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (keys == NIL)
		return;
	/* The search reads the export again, which may fail: keep the first error then. */
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		char	   *key = find_duplicate_key(res->foreign_table, keys);

		if (key)
			snprintf(res->error, sizeof(res->error),
					 "the export has key (%s)=%s more than once; nothing was written",
					 name_list(keys, ""), key);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/* Refreshes one table in a transaction of its own, recording any failure. */
static void
refresh_one(RefreshJob *job, RefreshResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	LOCKTAG		tag;
	List	   *volatile keys = NIL;
	ErrorData  *volatile edata = NULL;

	res->started = GetCurrentTimestamp();
	res->error[0] = '\0';
	res->error_detail[0] = '\0';
	res->sqlerrcode = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pgstat_report_activity(STATE_RUNNING, psprintf("hvcsv_refresh(%u)", res->foreign_table));

	/* A second refresh of the same table does not wait: it is skipped. */
	hvcsv_advisory_locktag(&tag, res->foreign_table, 0, HVCSV_REFRESH_LOCK_CLASS);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		const char *target = hvcsv_get_options(res->foreign_table, job->role)->target;

		strlcpy(res->target, target ? target : "", sizeof(res->target));
		strlcpy(res->status, "skipped", sizeof(res->status));
		res->finished = GetCurrentTimestamp();
		write_history(job, res);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		return;
	}

	PG_TRY();
	{
		refresh_table(job, res, (List **) &keys);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		List	   *kept_keys = NIL;
		ListCell   *cell;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* The keys were found in the transaction that is about to go. */
		foreach(cell, keys)
			kept_keys = lappend(kept_keys, pstrdup(lfirst(cell)));
		keys = kept_keys;
		hvcsv_progress_active = false;
		hvcsv_collect_rejects = false;
		hvcsv_key_watch_stop();
		hvcsv_row_filter_stop();
		hvcsv_changed_rows_forget();
		hvcsv_whole_read_table = InvalidOid;
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	if (edata == NULL)
		return;

	/* The table's changes are gone; record why, in a new transaction. */
	strlcpy(res->status, "failed", sizeof(res->status));
	res->inserted = res->updated = res->unchanged = res->deleted = res->rejected = 0;
	if (stop_requested && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		strlcpy(res->error, "the refresh was stopped: its caller was cancelled, or the server is shutting down",
				sizeof(res->error));
	else
		strlcpy(res->error, edata->message, sizeof(res->error));
	res->sqlerrcode = edata->sqlerrcode;
	strlcpy(res->error_detail, edata->detail ? edata->detail : "", sizeof(res->error_detail));
	res->finished = GetCurrentTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	PG_TRY();
	{
		if (edata->sqlerrcode == ERRCODE_CARDINALITY_VIOLATION ||
			edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
			explain_duplicate_key(res, keys);
		write_failure(res);
		write_history(job, res);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* The table itself may be gone: the caller still gets the error. */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/*
 * SIGTERM cancels the table being refreshed instead of ending the process
 * at once, so that the failure is recorded; the worker then stops.
 */
static void
request_stop(SIGNAL_ARGS)
{
	stop_requested = true;
	StatementCancelHandler(postgres_signal_arg);
}

/* The background worker: refreshes the job's tables, one transaction each. */
void
hvcsv_refresh_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	RefreshJob *job;

	pqsignal(SIGTERM, request_stop);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvcsv_fdw refresh worker could not find its job")));
	job = dsm_segment_address(seg);
	/*
	 * Connect as the role that logged in (the current one may be NOLOGIN,
	 * after SET ROLE), then act as the current one, as parallel workers do.
	 */
	BackgroundWorkerInitializeConnectionByOid(job->database, job->login_role, 0);
	SetUserIdAndSecContext(job->role, 0);
	SetConfigOption("hvcsv_fdw.spool_directory", job->spool_directory, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", job->search_path, PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("TimeZone", job->timezone, PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("DateStyle", job->datestyle, PGC_USERSET, PGC_S_SESSION);

	for (int i = 0; i < job->ntables && !stop_requested; i++)
		refresh_one(job, &job->results[i]);
	dsm_detach(seg);
	proc_exit(0);
}

/* The foreign tables that hvcsv_refresh() refreshes when given none. */
static List *
tables_with_target(void)
{
	List	   *tables = NIL;
	MemoryContext outer = CurrentMemoryContext;

	SPI_connect();
	SPI_execute("SELECT ft.ftrelid FROM pg_catalog.pg_foreign_table ft "
				"JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver "
				"JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
				"WHERE w.fdwhandler = 'hvcsv_fdw_handler'::pg_catalog.regproc "
				"AND EXISTS (SELECT 1 FROM pg_catalog.pg_options_to_table(ft.ftoptions) o "
				"WHERE o.option_name = 'target') ORDER BY ft.ftrelid", true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			ft = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext spi = MemoryContextSwitchTo(outer);

		/* The list must outlive SPI's memory. */
		tables = lappend_oid(tables, ft);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return tables;
}

/* Draws a run id from the extension's sequence. */
static int64
next_run_id(void)
{
	int64		run_id;
	bool		isnull;

	SPI_connect();
	/* As the owner: callers need no privilege on the sequence. */
	exec_as_owner("SELECT pg_catalog.nextval($1::pg_catalog.regclass)", 1, (Oid[]) {TEXTOID},
				  (Datum[]) {CStringGetTextDatum(extension_table("hvcsv_run_id"))}, NULL);
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return run_id;
}

/* Waits until the worker has stopped, or past deadline (0: none). */
static void
wait_until_stopped(BackgroundWorkerHandle *handle, TimestampTz deadline)
{
	pid_t		pid;

	while (GetBackgroundWorkerPid(handle, &pid) != BGWH_STOPPED &&
		   (deadline == 0 || GetCurrentTimestamp() < deadline))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Waits for the worker; cancelling the caller stops the worker too. */
static void
wait_for_worker(BackgroundWorkerHandle *handle)
{
	PG_TRY();
	{
		wait_until_stopped(handle, 0);
	}
	PG_CATCH();
	{
		/* Let it record the stopped run before the caller's error returns. */
		TerminateBackgroundWorker(handle);
		HOLD_INTERRUPTS();
		wait_until_stopped(handle, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 5000));
		RESUME_INTERRUPTS();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * hvcsv_refresh(foreign_table regclass DEFAULT NULL): refreshes one foreign
 * table, or every hvcsv_fdw foreign table that has a target, and returns a
 * row per table.
 */
Datum
hvcsv_refresh(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *tables;
	dsm_segment *seg;
	RefreshJob *job;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	ListCell   *cell;
	int			i = 0;
	int			failed = 0;

	/* The worker commits on its own: a ROLLBACK could not undo it. */
	if (IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("hvcsv_refresh() cannot run inside a subtransaction"),
				 errdetail("Each table is refreshed and committed in a transaction of its own."),
				 errhint("A PL/pgSQL block with an EXCEPTION clause runs in a subtransaction.")));
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("hvcsv_refresh() cannot run inside a transaction block"),
				 errdetail("Each table is refreshed and committed in a transaction of its own.")));

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		tables = tables_with_target();
	else
	{
		Oid			ft = PG_GETARG_OID(0);

		if (get_rel_relkind(ft) != RELKIND_FOREIGN_TABLE ||
			strcmp(get_func_name(GetForeignDataWrapper(GetForeignServer(GetForeignTable(ft)->serverid)->fdwid)->fdwhandler),
				   "hvcsv_fdw_handler") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not an hvcsv_fdw foreign table", get_rel_name(ft))));
		tables = list_make1_oid(ft);
	}
	if (tables == NIL)
		return (Datum) 0;

	seg = dsm_create(add_size(offsetof(RefreshJob, results),
							  mul_size(sizeof(RefreshResult), list_length(tables))), 0);
	job = dsm_segment_address(seg);
	memset(job, 0, offsetof(RefreshJob, results));
	job->database = MyDatabaseId;
	job->login_role = GetAuthenticatedUserId();
	job->role = GetUserId();
	job->run_id = next_run_id();
	strlcpy(job->spool_directory, hvcsv_spool_directory, sizeof(job->spool_directory));
	strlcpy(job->search_path, namespace_search_path, sizeof(job->search_path));
	strlcpy(job->timezone, GetConfigOption("TimeZone", false, false), sizeof(job->timezone));
	strlcpy(job->datestyle, GetConfigOption("DateStyle", false, false), sizeof(job->datestyle));
	job->ntables = list_length(tables);
	foreach(cell, tables)
	{
		memset(&job->results[i], 0, sizeof(RefreshResult));
		job->results[i].foreign_table = lfirst_oid(cell);
		strlcpy(job->results[i].status, "failed", sizeof(job->results[i].status));
		strlcpy(job->results[i].error, "the refresh worker stopped before this table",
				sizeof(job->results[i].error));
		i++;
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "hvcsv_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "hvcsv_refresh_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "hvcsv_fdw refresh for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "hvcsv_fdw refresh");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a refresh worker"),
				 errhint("More background workers may be needed: raise max_worker_processes.")));
	wait_for_worker(handle);

	for (i = 0; i < job->ntables; i++)
	{
		RefreshResult *res = &job->results[i];
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = ObjectIdGetDatum(res->foreign_table);
		values[1] = CStringGetTextDatum(res->target);
		nulls[1] = res->target[0] == '\0';
		values[2] = CStringGetTextDatum(res->status);
		values[3] = Int64GetDatum(res->inserted);
		values[4] = Int64GetDatum(res->updated);
		values[5] = Int64GetDatum(res->unchanged);
		values[6] = Int64GetDatum(res->deleted);
		values[7] = Int64GetDatum(res->rejected);
		values[8] = Int64GetDatum(res->bytes_fetched);
		values[9] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(res->finished ? res->finished : res->started),
										TimestampTzGetDatum(res->started));
		nulls[9] = res->started == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if (strcmp(res->status, "failed") == 0)
		{
			failed++;
			ereport(WARNING,
					(errcode(res->sqlerrcode ? res->sqlerrcode : ERRCODE_FDW_ERROR),
					 errmsg("refresh of \"%s\" failed: %s", get_rel_name(res->foreign_table) ?
							get_rel_name(res->foreign_table) : "?", res->error),
					 res->error_detail[0] ? errdetail("%s", res->error_detail) : 0));
		}
	}
	dsm_detach(seg);

	if (failed > 0 && strcmp(hvcsv_refresh_failure_mode, "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("hvcsv_refresh: %d of %d tables failed", failed, list_length(tables)),
				 errdetail("The tables that did not fail were refreshed; hvcsv_sync_state has the errors."),
				 errhint("Set hvcsv_fdw.refresh_failure to \"warning\" to return the results instead.")));
	return (Datum) 0;
}
