/*-------------------------------------------------------------------------
 * refresh.c
 *	  hvcsv_refresh(): upserts each foreign table's export into its target
 *	  table, as the foreign table's owner, skipping unchanged exports, in a
 *	  background worker.
 *
 * Who runs what.  Only a role with the privileges of a foreign table's
 * owner (or a superuser) may refresh it; without an argument, the caller's
 * tables are refreshed.  Each table is refreshed as its owner, the way
 * PostgreSQL refreshes a materialized view: with the owner's user mapping
 * (so the owner's API key) and the owner's privileges on the target, under
 * SECURITY_RESTRICTED_OPERATION and with search_path = pg_catalog, pg_temp
 * (run_as_owner.c), so that neither the caller nor the owner of any schema
 * on the caller's search_path can get code run with someone else's rights.
 * The sync state is written as the extension's owner (sync_state.c).  An
 * unqualified target is in the foreign table's own schema, whoever calls.
 *
 * Why a worker: each table must be all-or-nothing and committed on its own,
 * so that one failure leaves the others refreshed; and a failed run must
 * still end in an ERROR, so that cron records it as failed.  A function
 * cannot commit, and its ERROR would undo everything, so the caller hands
 * the tables to a background worker that refreshes each table in its own
 * transaction and reports back through dynamic shared memory.  The caller
 * waits, returns one row per table, and raises WARNINGs and the final
 * ERROR (see hvcsv_fdw.refresh_failure).  A caller that is cancelled or
 * ends stops the worker; a worker killed mid-run loses only its open
 * transaction: the target and the sync state stay as they were.
 *
 * Per table: an advisory lock (a second refresh of the same table returns
 * "skipped" at once), change detection (the export's ETag or Last-Modified,
 * and what the table's definition was, against the last run: "unchanged"
 * costs one conditional request), a statement that rewrites only rows
 * whose values changed (sync_statement.c), optional incremental sync by
 * cursor_column and deletion of missing rows with a guard, then the sync
 * state and history.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/progress.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/backend_progress.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
#include "hvcsv_fdw.h"
#include "refresh_internal.h"

PG_FUNCTION_INFO_V1(hvcsv_refresh);
PGDLLEXPORT void hvcsv_refresh_worker_main(Datum main_arg);

char	   *hvcsv_refresh_failure_mode = NULL;
bool		hvcsv_progress_active = false;
static uint64 progress_bytes_base;

/* Set when the worker is asked to stop (its caller was cancelled or ended, or shutdown). */
static volatile sig_atomic_t stop_requested = false;

/*
 * The settings that only a superuser may change, which the worker takes
 * from its caller's session: a superuser who sets them for a session gets
 * them for that session's refreshes too.
 */
static const char *const caller_settings[] = {
	"hvcsv_fdw.spool_directory",
	"hvcsv_fdw.spool_max_size",
	"hvcsv_fdw.allowed_hosts",
	"hvcsv_fdw.max_bytes",
};

/*
 * What the caller asks of the worker, in dynamic shared memory: after the
 * results, the values of caller_settings, each ended by a NUL.
 */
typedef struct RefreshJob
{
	Oid			database;
	Oid			login_role;		/* the caller's session logged in as this role */
	Oid			caller;			/* the caller's current role, who must own each table */
	int64		run_id;
	bool		force;			/* compare in full even if the export is unchanged */
	int			ntables;
	RefreshResult results[FLEXIBLE_ARRAY_MEMBER];
} RefreshJob;

/* Where the job's settings begin. */
static char *
job_settings(RefreshJob *job)
{
	return (char *) &job->results[job->ntables];
}

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

/* The owner of a relation, or InvalidOid if it is gone. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Tells whether role may refresh a foreign table: it has its owner's privileges. */
static bool
may_refresh(Oid foreign_table, Oid role)
{
	return hvcsv_relation_ownercheck(foreign_table, role);
}

/* The value of a foreign table's option, or NULL. */
static const char *
table_option(Oid foreign_table, const char *name)
{
	ListCell   *cell;

	foreach(cell, GetForeignTable(foreign_table)->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * The target option as a relation name: qualified as written, or in the
 * foreign table's own schema, so that who calls, and their search_path,
 * cannot change which table is written.
 */
static RangeVar *
target_rangevar(Oid foreign_table, const char *target)
{
	List	   *names = hvcsv_qualified_name_list(target);

	if (list_length(names) == 1)
		return makeRangeVar(get_namespace_name(get_rel_namespace(foreign_table)),
							strVal(linitial(names)), -1);
	return makeRangeVarFromNameList(names);
}

/*
 * Refuses a target that a refresh cannot keep in sync: anything but a
 * table (a view would take its first load, then fail every later run).
 */
static void
check_target_kind(Relation target)
{
	char		kind = target->rd_rel->relkind;

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not a table", RelationGetRelationName(target)),
				 errdetail("A refresh inserts, updates and deletes rows by key, which needs a table with a unique index on the key."),
				 errhint("Point the target option at the table under the view.")));
}

/*
 * Refuses a target (or a partition of it) whose owner lacks the privileges
 * of the foreign table's owner.  Its triggers, defaults, policies and index
 * expressions run as the role that writes, which is the foreign table's
 * owner: the target's owner would get code run with rights it does not
 * have (a user's trigger, with a superuser's refresh).
 */
static void
check_target_owner(Relation target, Oid ft, Oid ft_owner)
{
	ListCell   *cell;

	foreach(cell, find_all_inheritors(RelationGetRelid(target), NoLock, NULL))
	{
		Oid			owner = relation_owner(lfirst_oid(cell));

		if (!has_privs_of_role(owner, ft_owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("target \"%s\" is owned by role \"%s\", which lacks the privileges of \"%s\", the owner of \"%s\"",
							get_rel_name(lfirst_oid(cell)), GetUserNameFromId(owner, false),
							GetUserNameFromId(ft_owner, false), get_rel_name(ft)),
					 errdetail("A refresh writes the target as the foreign table's owner, so the target's triggers, defaults and policies would run with rights their owner does not have."),
					 errhint("Let one role own both, or a role that has the privileges of the other own the target.")));
	}
}

/* The key columns of a unique index (no expressions, no predicate), or NIL. */
static List *
unique_index_columns(Relation target, Oid indexoid)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	Form_pg_index form = index->rd_index;
	List	   *names = NIL;

	if (form->indisunique && form->indimmediate && form->indisvalid &&
		RelationGetIndexExpressions(index) == NIL && RelationGetIndexPredicate(index) == NIL)
	{
		for (int i = 0; i < form->indnkeyatts; i++)
			names = lappend(names, get_attname(RelationGetRelid(target),
											   form->indkey.values[i], false));
	}
	index_close(index, AccessShareLock);
	return names;
}

/* Tells whether two lists of names hold the same names. */
static bool
same_names(List *a, List *b)
{
	ListCell   *cell;

	if (list_length(a) != list_length(b))
		return false;
	foreach(cell, a)
	{
		ListCell   *other;
		bool		found = false;

		foreach(other, b)
			found = found || strcmp(lfirst(cell), lfirst(other)) == 0;
		if (!found)
			return false;
	}
	return true;
}

/*
 * The key columns: the key option's, which a unique index of the target
 * must cover exactly (the upsert's ON CONFLICT needs it), or else the
 * target's primary key.
 */
static List *
key_columns(Relation target, const char *key_option)
{
	List	   *keys = NIL;
	ListCell   *cell;

	if (key_option == NULL)
	{
		Oid			pk = RelationGetPrimaryKeyIndex(target);

		if (!OidIsValid(pk))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("target table \"%s\" has no primary key", RelationGetRelationName(target)),
					 errhint("Add a primary key to it, or name its key columns in the foreign table's key option.")));
		return unique_index_columns(target, pk);
	}
	if (!SplitIdentifierString(pstrdup(key_option), ',', &keys))
		elog(ERROR, "key option was checked but does not parse");
	foreach(cell, RelationGetIndexList(target))
		if (same_names(keys, unique_index_columns(target, lfirst_oid(cell))))
			return keys;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
			 errmsg("target table \"%s\" has no unique index on the key (%s)",
					RelationGetRelationName(target), hvcsv_name_list(keys, "")),
			 errdetail("A refresh finds each row by its key, and inserts new keys with ON CONFLICT, which needs a unique index on exactly those columns."),
			 errhint("Create a unique index or a primary key on those columns, or change the key option.")));
	return NIL;					/* keep the compiler quiet */
}

/*
 * The columns a refresh syncs: those of the target that the foreign table
 * has too, by name; generated target columns are left alone.
 */
static List *
synced_columns(Oid ft, Relation target, List *keys)
{
	TupleDesc	desc = RelationGetDescr(target);
	List	   *columns = NIL;
	ListCell   *cell;

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		AttrNumber	source = get_attnum(ft, NameStr(att->attname));
		SyncColumn *col;

		if (att->attisdropped || att->attgenerated || source == InvalidAttrNumber)
			continue;
		col = palloc0(sizeof(SyncColumn));
		col->name = pstrdup(NameStr(att->attname));
		get_atttypetypmodcoll(ft, source, &col->source_type, &col->source_typmod,
							  &col->source_collation);
		col->target_type = att->atttypid;
		col->target_typmod = att->atttypmod;
		col->target_collation = att->attcollation;
		columns = lappend(columns, col);
	}
	foreach(cell, keys)
	{
		SyncColumn *col = NULL;
		ListCell   *c;

		foreach(c, columns)
			if (strcmp(((SyncColumn *) lfirst(c))->name, lfirst(cell)) == 0)
				col = lfirst(c);
		if (col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not a column of both \"%s\" and \"%s\"",
							(char *) lfirst(cell), get_rel_name(ft), RelationGetRelationName(target))));
		col->is_key = true;
	}
	return columns;
}

/* The synced column named name, or an error naming what it is for. */
static SyncColumn *
find_synced_column(List *columns, const char *name, Oid ft, Relation target)
{
	ListCell   *cell;

	foreach(cell, columns)
		if (strcmp(((SyncColumn *) lfirst(cell))->name, name) == 0)
			return lfirst(cell);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("cursor column \"%s\" is not a column of both \"%s\" and \"%s\"",
					name, get_rel_name(ft), RelationGetRelationName(target))));
	return NULL;				/* keep the compiler quiet */
}

/* The names of synced columns. */
static List *
synced_names(List *columns)
{
	List	   *names = NIL;
	ListCell   *cell;

	foreach(cell, columns)
		names = lappend(names, ((SyncColumn *) lfirst(cell))->name);
	return names;
}

/* The names of the key columns. */
static List *
key_names(List *columns)
{
	List	   *names = NIL;
	ListCell   *cell;

	foreach(cell, columns)
		if (((SyncColumn *) lfirst(cell))->is_key)
			names = lappend(names, ((SyncColumn *) lfirst(cell))->name);
	return names;
}

/* Appends one option to a definition text. */
static void
append_options(StringInfo buf, const char *what, List *options)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		/* The path is part of the URL, which goes in without secrets. */
		if (strcmp(def->defname, "path") != 0)
			appendStringInfo(buf, "%s %s=%s\n", what, def->defname, defGetString(def));
	}
}

/*
 * A hash of everything that decides what a run writes, but the export's
 * bytes: the URL (without secrets), whose user mapping fetches it, the
 * foreign table's options and columns, the target and the synced columns
 * with their types and keys.  A run whose hash differs from the last good
 * run's compares in full and starts the cursor over.  No secret goes in.
 */
static char *
definition_hash(Oid ft, const HvcsvOptions *opts, Relation target, List *columns)
{
	StringInfoData buf;
	Relation	ftrel = relation_open(ft, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(ftrel);
	ListCell   *cell;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[33];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	initStringInfo(&buf);
	appendStringInfo(&buf, "url %s\nowner %u\nmapping %u\ntarget %u\n", hvcsv_redact_url(opts->url),
					 relation_owner(ft), opts->umid, RelationGetRelid(target));
	append_options(&buf, "table", GetForeignTable(ft)->options);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (att->attisdropped)
			continue;
		appendStringInfo(&buf, "column %s %u %d %u\n", NameStr(att->attname), att->atttypid,
						 att->atttypmod, att->attcollation);
		append_options(&buf, NameStr(att->attname), GetForeignColumnOptions(ft, att->attnum));
	}
	relation_close(ftrel, AccessShareLock);
	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		appendStringInfo(&buf, "synced %s %u %d %u %d\n", col->name, col->target_type,
						 col->target_typmod, col->target_collation, col->is_key);
	}
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
	hex_encode((char *) digest, 16, hex);
	hex[32] = '\0';
	return pstrdup(hex);
}

/* Tells whether the export is the one the last good run synced. */
static bool
export_unchanged(const SyncState *st, const char *etag, const char *last_modified, int64 size)
{
	if (etag && etag[0])
		return st->etag && strcmp(st->etag, etag) == 0;
	return last_modified && last_modified[0] && st->last_modified &&
		strcmp(st->last_modified, last_modified) == 0 && st->bytes == size;
}

/* Tells whether the last run ended well. */
static bool
state_still_holds(const SyncState *st)
{
	return st->exists && st->status &&
		(strcmp(st->status, "ok") == 0 || strcmp(st->status, "unchanged") == 0);
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

	if (SPI_execute(hvcsv_duplicate_key_query(ft_name, keys), true, 1) < 0 || SPI_processed != 1)
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
mark_name(List *names)
{
	char	   *name = "key_stored";
	ListCell   *cell;
	bool		taken = true;

	while (taken)
	{
		taken = false;
		foreach(cell, names)
			taken = taken || strcmp(lfirst(cell), name) == 0;
		if (taken)
			name = psprintf("%s_", name);
	}
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
keep_changed_rows(Oid ft, const char *ft_name, Relation target, List *columns,
				  bool parallel_ok, KeptRows *kept, int *guc_level)
{
	List	   *names = synced_names(columns);
	uint64		passed;
	uint64		dropped;

	if (!hvcsv_row_filter_start(ft, target, names, key_names(columns), stored_rows(target)))
		return false;
	/* A parallel scan carries the key watch's and row filter's sets. */
	parallel_ok = parallel_ok &&
		uint64_set_shared_fits(hvcsv_key_watch_shared_size(ft) + hvcsv_row_filter_shared_size(ft));
	if (parallel_ok)
		hvcsv_whole_read_table = ft;
	passed = hvcsv_changed_rows_collect(psprintf("SELECT %s FROM %s", hvcsv_name_list(names, ""),
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
	kept->mark = mark_name(names);
	kept->from = hvcsv_kept_rows_from(hvcsv_extension_object("hvcsv_changed_rows"), columns,
									  kept->mark);
	return true;
}

/* What one table's run works with, gathered before anything is fetched. */
typedef struct TableRun
{
	Oid			ft;
	HvcsvOptions *opts;
	char	   *ft_name;		/* quoted and qualified */
	Relation	target;
	List	   *columns;		/* of SyncColumn */
	SyncColumn *cursor;
	char	   *definition;
	char	   *target_name;	/* quoted and qualified */
	SyncState	state;
	bool		may_skip;		/* an unchanged export needs nothing written */
	bool		keep_mark;		/* the last run's cursor mark applies */
	SyncedExport export;
	uint64		bytes_before;
} TableRun;

/* Opens the target and works out the columns, the key and the definition. */
static void
prepare_run(RefreshJob *job, RefreshResult *res, TableRun *run)
{
	run->ft = res->foreign_table;
	run->opts = hvcsv_get_options(run->ft, relation_owner(run->ft));
	run->ft_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(run->ft)),
											  get_rel_name(run->ft));
	if (run->opts->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" has no target option", get_rel_name(run->ft))));
	run->target = table_openrv(target_rangevar(run->ft, run->opts->target), RowExclusiveLock);
	run->target_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(run->target)),
												  RelationGetRelationName(run->target));
	strlcpy(res->target, run->target_name, sizeof(res->target));
	check_target_kind(run->target);
	check_target_owner(run->target, run->ft, relation_owner(run->ft));
	run->columns = synced_columns(run->ft, run->target, key_columns(run->target, run->opts->key));
	if (run->opts->cursor_column)
		run->cursor = find_synced_column(run->columns, run->opts->cursor_column, run->ft, run->target);
	run->definition = definition_hash(run->ft, run->opts, run->target, run->columns);
	run->state = hvcsv_read_state(run->ft);
	run->keep_mark = !job->force && run->state.definition_hash &&
		strcmp(run->state.definition_hash, run->definition) == 0;
	run->may_skip = run->keep_mark && state_still_holds(&run->state);
	run->bytes_before = hvcsv_bytes_fetched;
	run->export.url = hvcsv_redact_url(run->opts->url);
	run->export.definition_hash = run->definition;
	run->export.size = -1;
}

/*
 * Asks for the export (a conditional request when the last run still
 * holds) and tells whether it is the one the last run synced.
 */
static bool
fetch_export(TableRun *run)
{
	SyncState  *st = &run->state;

	if (run->opts->reader == HVCSV_READER_STREAMING)
	{
		HvcsvRequest req;
		HvcsvBody  *body;
		bool		not_modified;

		hvcsv_request_init(&req, run->opts);
		if (run->may_skip)
		{
			req.if_none_match = st->etag;
			req.if_modified_since = st->last_modified;
		}
		body = hvcsv_body_open(&req, NULL, NULL);
		not_modified = hvcsv_body_response(body)->status == 304;
		run->export.etag = not_modified ? st->etag : pstrdup(hvcsv_body_response(body)->etag);
		run->export.last_modified = not_modified ? st->last_modified :
			pstrdup(hvcsv_body_response(body)->last_modified);
		hvcsv_body_close(body);
		run->export.size = st->bytes;
		return not_modified;
	}
	else
	{
		HvcsvSpool *spool = hvcsv_spool_open(run->opts);

		run->export.etag = spool->etag;
		run->export.last_modified = spool->last_modified;
		run->export.size = spool->size;
		hvcsv_spool_close(spool);
		return run->may_skip &&
			export_unchanged(st, spool->etag, spool->last_modified, spool->size);
	}
}

/*
 * Runs fn(arg) in a subtransaction; false, its error dropped, if it
 * failed.  For what may fail without failing the run with its own error.
 */
static bool
run_in_subtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/* A mark being read: the run, and the value read. */
typedef struct MarkRead
{
	const TableRun *run;
	Datum		value;
} MarkRead;

static void
parse_mark(void *arg)
{
	MarkRead   *read = (MarkRead *) arg;
	const SyncColumn *cursor = read->run->cursor;

	read->value = hvcsv_mark_from_text(read->run->state.cursor_value, cursor->target_type,
									   cursor->target_typmod);
}

/*
 * Reads the last run's mark as a value of the cursor column's type: a mark
 * can stop being a value (an enum label renamed since), and the error then
 * says how to go on.
 */
static Datum
read_mark(const TableRun *run)
{
	MarkRead	read = {run, (Datum) 0};

	if (!run_in_subtransaction(parse_mark, &read))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("the cursor mark of the last run, \"%s\", is no longer a value of type %s",
						run->state.cursor_value, format_type_be(run->cursor->target_type)),
				 errhint("hvcsv_refresh(..., force => true) reads the export from the start and sets a new mark.")));
	return read.value;
}

/*
 * The mark the run starts from: the last good run's, unless the table's
 * definition changed since or the run is forced (then every row is read).
 */
static bool
starting_mark(const TableRun *run, Datum *mark)
{
	if (run->cursor == NULL || !run->keep_mark || run->state.cursor_value == NULL)
		return false;
	*mark = read_mark(run);
	return true;
}

/* The plan of a statement that reads the export and writes the target. */
static void
base_plan(const TableRun *run, SyncPlan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->foreign_table = run->ft_name;
	plan->target = run->target_name;
	plan->columns = run->columns;
	plan->cursor = run->cursor;
	plan->delete_missing = run->opts->delete_missing;
}

/*
 * Completes a base_plan for comparing the export with a target that holds
 * rows: the key watch, and the row filter's kept rows when it can be used.
 */
static void
plan_sync(TableRun *run, SyncPlan *plan, KeptRows *kept, int *guc_level)
{
	/* A cursor filters rows above the scan, so the scan cannot count them. */
	plan->watched = run->cursor == NULL &&
		hvcsv_key_watch_start(run->ft, key_names(run->columns), stored_rows(run->target));
	/*
	 * The row filter needs the watch to count the rows; deleting needs
	 * every key of the export, so not then.  A spooled export may be read
	 * in parallel.
	 */
	if (plan->watched && !plan->delete_missing &&
		keep_changed_rows(run->ft, run->ft_name, run->target, run->columns,
						  run->opts->reader != HVCSV_READER_STREAMING && !run->opts->on_error_skip,
						  kept, guc_level))
		plan->kept = kept;
}

/* Tells whether the target holds no row (then the export is loaded, not compared). */
static bool
target_is_empty(const TableRun *run)
{
	bool		isnull;

	SPI_execute(psprintf("SELECT EXISTS (SELECT FROM %s)", run->target_name), true, 1);
	return !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Writes the export into the target: a first load in batches, as COPY does
 * (unless INSERT would do more), or the load or sync statement.  Returns
 * whether the key watch counted the rows and checked the keys.
 */
static bool
write_export(TableRun *run, SyncResultRow *row)
{
	SyncPlan	plan;
	KeptRows	kept;
	int			guc_level = -1;
	Datum		mark = (Datum) 0;
	bool		have_mark = starting_mark(run, &mark);
	char	   *sql;

	memset(row, 0, sizeof(*row));
	base_plan(run, &plan);
	if (target_is_empty(run))
	{
		List	   *names = synced_names(run->columns);

		if (hvcsv_bulk_load_eligible(run->target, run->ft, names, run->opts->cursor_column))
		{
			row->inserted = row->rows_read =
				hvcsv_bulk_load(run->target, psprintf("SELECT %s FROM %s", hvcsv_name_list(names, ""),
													  run->ft_name), names);
			return false;
		}
		sql = hvcsv_load_statement(&plan);
	}
	else
	{
		plan_sync(run, &plan, &kept, &guc_level);
		sql = hvcsv_sync_statement(&plan);
	}
	if (run->cursor)
		SPI_execute_with_args(sql, 1, &run->cursor->target_type, &mark, have_mark ? NULL : "n",
							  false, 0);
	else
		SPI_execute(sql, false, 0);
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	hvcsv_changed_rows_forget();
	hvcsv_read_sync_result(row);
	return plan.watched;
}

/* Starts reporting the run in pg_stat_progress_copy, the download included. */
static void
start_progress(const TableRun *run)
{
	hvcsv_progress_active = true;
	progress_bytes_base = run->bytes_before;
	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, RelationGetRelid(run->target));
	pgstat_progress_update_param(PROGRESS_COPY_COMMAND, PROGRESS_COPY_COMMAND_FROM);
	pgstat_progress_update_param(PROGRESS_COPY_TYPE, PROGRESS_COPY_TYPE_CALLBACK);
}

/* Stops reporting progress and collecting rejected rows. */
static void
end_progress(void)
{
	hvcsv_progress_active = false;
	hvcsv_collect_rejects = false;
	pgstat_progress_end_command();
}

/* A snapshot that would empty much of the target is likely truncated. */
static void
check_delete_guard(const TableRun *run, const RefreshResult *res, int64 target_rows)
{
	if (res->deleted > 0 && res->deleted > run->opts->delete_limit * target_rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("refusing to delete " INT64_FORMAT " of " INT64_FORMAT " rows of \"%s\", more than delete_limit (%.0f%%)",
						res->deleted, target_rows, RelationGetRelationName(run->target),
						run->opts->delete_limit * 100),
				 errdetail("The export may be truncated. Nothing was written."),
				 errhint("If the export really shrank, raise the foreign table's delete_limit option.")));
}

/* Records a run that ended well in the sync state and the history. */
static void
record_run(RefreshJob *job, RefreshResult *res, TableRun *run)
{
	res->bytes_fetched = hvcsv_bytes_fetched - run->bytes_before;
	res->finished = GetCurrentTimestamp();
	hvcsv_write_state(res, &run->export);
	hvcsv_write_history(job->run_id, res);
	hvcsv_write_rejects(job->run_id, res, hvcsv_collected_rejects);
	table_close(run->target, NoLock);
}

/*
 * Refreshes one table inside the current transaction, as its owner;
 * errors propagate.  *keys_out gets the key columns as soon as they are
 * known, to name a duplicate key in the error.
 */
static void
refresh_table(RefreshJob *job, RefreshResult *res, List **keys_out)
{
	TableRun	run;
	SyncResultRow row;
	int64		rows_read;
	bool		duplicate;

	memset(&run, 0, sizeof(run));
	hvcsv_collected_rejects = NIL;
	hvcsv_collected_reject_count = 0;
	prepare_run(job, res, &run);
	*keys_out = key_names(run.columns);
	start_progress(&run);

	/* Change detection: one (conditional) request. */
	if (fetch_export(&run))
	{
		end_progress();
		strlcpy(res->status, "unchanged", sizeof(res->status));
		run.export.cursor_value = run.state.cursor_value;
		record_run(job, res, &run);
		return;
	}

	hvcsv_collect_rejects = true;
	if (write_export(&run, &row))
	{
		bool		maybe_duplicate;

		rows_read = hvcsv_key_watch_finish(&maybe_duplicate);
		duplicate = maybe_duplicate && find_duplicate_key(run.ft, *keys_out) != NULL;
	}
	else
	{
		rows_read = row.rows_read;
		duplicate = row.duplicate;
	}
	end_progress();
	if (duplicate)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the export has a key more than once")));
	res->inserted = row.inserted;
	res->updated = row.updated;
	res->deleted = row.deleted;
	res->unchanged = rows_read - row.inserted - row.updated;
	res->rejected = hvcsv_collected_reject_count;
	check_delete_guard(&run, res, row.target_rows);

	strlcpy(res->status, "ok", sizeof(res->status));
	/* No row past the mark: the mark stays. */
	run.export.cursor_value = row.cursor_max ? row.cursor_max :
		run.keep_mark ? run.state.cursor_value : NULL;
	record_run(job, res, &run);
}

/* A failed run whose error may name the key the export has twice. */
typedef struct DuplicateSearch
{
	RefreshResult *res;
	List	   *keys;
} DuplicateSearch;

static void
name_duplicate_key(void *arg)
{
	DuplicateSearch *search = (DuplicateSearch *) arg;
	char	   *key = find_duplicate_key(search->res->foreign_table, search->keys);

	if (key)
		snprintf(search->res->error, sizeof(search->res->error),
				 "the export has key (%s)=%s more than once; nothing was written",
				 hvcsv_name_list(search->keys, ""), key);
}

/*
 * Makes a duplicate-key failure (from ON CONFLICT, or found by the sync
 * statement) name the key that is there twice.  The search reads the
 * export again, which may fail: the first error stays then.
 */
static void
explain_duplicate_key(RefreshResult *res, List *keys)
{
	DuplicateSearch search = {res, keys};

	if (keys != NIL)
		(void) run_in_subtransaction(name_duplicate_key, &search);
}

/* Opens a transaction of the worker's, with SPI. */
static void
begin_work(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
}

/* Commits a transaction begun by begin_work. */
static void
commit_work(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Notes a failure in the result, without recording it in the sync state. */
static void
set_failure(RefreshResult *res, int sqlerrcode, const char *message, const char *detail,
			const char *context)
{
	strlcpy(res->status, "failed", sizeof(res->status));
	res->inserted = res->updated = res->unchanged = res->deleted = res->rejected = 0;
	res->sqlerrcode = sqlerrcode;
	strlcpy(res->error, message, sizeof(res->error));
	strlcpy(res->error_detail, detail ? detail : "", sizeof(res->error_detail));
	/* The innermost context (the line and column of a bad value), not the statements around it. */
	strlcpy(res->error_context, context ? context : "",
			Min(sizeof(res->error_context), context ? strcspn(context, "\n") + 1 : 1));
	res->finished = GetCurrentTimestamp();
}

/*
 * Records why a table's run failed, in a new transaction: what was synced
 * before stays.  A table dropped meanwhile leaves no state behind.
 */
static void
record_failure(RefreshJob *job, RefreshResult *res, ErrorData *edata, List *keys, Oid owner)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (stop_requested && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		set_failure(res, edata->sqlerrcode,
					"the refresh was stopped: its caller was cancelled or ended, or the server is shutting down",
					NULL, NULL);
	else
		set_failure(res, edata->sqlerrcode, edata->message, edata->detail, edata->context);
	begin_work();
	PG_TRY();
	{
		if (edata->sqlerrcode == ERRCODE_CARDINALITY_VIOLATION ||
			edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		{
			HvcsvRoleSwitch sw;

			hvcsv_enter_owner(owner, &sw);
			explain_duplicate_key(res, keys);
			hvcsv_leave_role(&sw);
		}
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(res->foreign_table)))
		{
			hvcsv_write_failure(res);
			hvcsv_write_history(job->run_id, res);
		}
		commit_work();
	}
	PG_CATCH();
	{
		/* The caller still gets the error. */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/*
 * Takes the table's refresh slot, an advisory lock held until the
 * transaction ends; false, with the run recorded as skipped, if another
 * refresh of the table holds it.
 */
static bool
take_refresh_slot(RefreshJob *job, RefreshResult *res)
{
	LOCKTAG		tag;
	const char *target = table_option(res->foreign_table, "target");

	hvcsv_advisory_locktag(&tag, res->foreign_table, 0, HVCSV_REFRESH_LOCK_CLASS);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return true;
	strlcpy(res->target, target ? target : "", sizeof(res->target));
	strlcpy(res->status, "skipped", sizeof(res->status));
	res->finished = GetCurrentTimestamp();
	hvcsv_write_history(job->run_id, res);
	return false;
}

/* Refreshes one table in a transaction of its own, as its owner, recording any failure. */
static void
refresh_one(RefreshJob *job, RefreshResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile keys = NIL;
	ErrorData  *volatile edata = NULL;
	Oid			owner;

	res->started = GetCurrentTimestamp();
	res->error[0] = '\0';
	res->error_detail[0] = '\0';
	res->sqlerrcode = 0;
	begin_work();
	pgstat_report_activity(STATE_RUNNING, psprintf("hvcsv_refresh(%u)", res->foreign_table));

	/* Ownership may have changed since the caller checked it. */
	owner = relation_owner(res->foreign_table);
	if (!OidIsValid(owner) || !may_refresh(res->foreign_table, job->caller))
	{
		set_failure(res, ERRCODE_INSUFFICIENT_PRIVILEGE,
					!OidIsValid(owner) ? "the foreign table was dropped" :
					"permission denied: the caller no longer owns the foreign table", NULL, NULL);
		commit_work();
		return;
	}
	if (!take_refresh_slot(job, res))
	{
		commit_work();
		return;
	}

	PG_TRY();
	{
		HvcsvRoleSwitch sw;

		hvcsv_enter_owner(owner, &sw);
		refresh_table(job, res, (List **) &keys);
		hvcsv_leave_role(&sw);
		commit_work();
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
	if (edata != NULL)
		record_failure(job, res, edata, keys, owner);
}

/* Takes the caller's values of caller_settings. */
static void
apply_caller_settings(RefreshJob *job)
{
	const char *value = job_settings(job);

	for (size_t i = 0; i < lengthof(caller_settings); i++)
	{
		SetConfigOption(caller_settings[i], value, PGC_SUSET, PGC_S_OVERRIDE);
		value += strlen(value) + 1;
	}
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
	 * after SET ROLE), then act as the caller's current role, as parallel
	 * workers do; each table is then refreshed as its owner.  The caller's
	 * session settings are not copied: a run does the same whoever calls.
	 */
	BackgroundWorkerInitializeConnectionByOid(job->database, job->login_role, 0);
	SetUserIdAndSecContext(job->caller, 0);
	apply_caller_settings(job);

	for (int i = 0; i < job->ntables && !stop_requested; i++)
		refresh_one(job, &job->results[i]);
	dsm_detach(seg);
	proc_exit(0);
}

/* The OID of hvcsv_fdw's handler function. */
static Oid
handler_oid(void)
{
	return LookupFuncName(list_make2(makeString(get_namespace_name(hvcsv_extension_schema())),
									 makeString("hvcsv_fdw_handler")), 0, NULL, false);
}

/* Tells whether a relation is a foreign table of hvcsv_fdw (whose handler is handler). */
static bool
is_hvcsv_table(Oid relid, Oid handler)
{
	return get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
		GetForeignDataWrapper(GetForeignServer(GetForeignTable(relid)->serverid)->fdwid)->fdwhandler == handler;
}

/*
 * The foreign tables that hvcsv_refresh() refreshes when given none: every
 * hvcsv_fdw foreign table with a target that role may refresh.
 */
static List *
tables_to_refresh(Oid role)
{
	Oid			handler = handler_oid();
	Relation	rel = table_open(ForeignTableRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	List	   *tables = NIL;

	while ((tup = systable_getnext(scan)) != NULL)
	{
		Oid			ft = ((Form_pg_foreign_table) GETSTRUCT(tup))->ftrelid;

		if (is_hvcsv_table(ft, handler) && table_option(ft, "target") &&
			get_rel_persistence(ft) != RELPERSISTENCE_TEMP && may_refresh(ft, role))
			tables = lappend_oid(tables, ft);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(tables, list_oid_cmp);
	return tables;
}

/* The foreign table hvcsv_refresh() was given, once the caller may refresh it. */
static Oid
checked_table(Oid ft)
{
	if (!is_hvcsv_table(ft, handler_oid()))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hvcsv_fdw foreign table", get_rel_name(ft))));
	if (!may_refresh(ft, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_TABLE, get_rel_name(ft));
	if (get_rel_persistence(ft) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot refresh temporary foreign table \"%s\"", get_rel_name(ft)),
				 errdetail("A refresh runs in a background worker, which cannot see this session's temporary tables.")));
	return ft;
}

/* Tells whether this transaction holds a lock of mode or stronger on a relation. */
static bool
holds_lock(Oid relid, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	for (LOCKMODE m = mode; m <= MaxLockMode; m++)
		if (hvcsv_lock_held_by_me(&tag, m))
			return true;
	return false;
}

/*
 * Refuses to hand a table to the worker while this transaction holds a
 * lock the worker would wait for: an exclusive lock on the foreign table,
 * or, on the target (or a partition of it), a lock that comes with writing
 * or locking rows.  The worker would wait for this transaction, which
 * waits for the worker: a deadlock that no lock manager can see.
 */
static void
check_caller_locks(Oid ft)
{
	const char *target = table_option(ft, "target");
	Oid			targetid;
	ListCell   *cell;

	if (holds_lock(ft, AccessExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot refresh \"%s\" while this transaction holds a lock on it", get_rel_name(ft)),
				 errdetail("The refresh runs in a background worker, which would wait for this transaction forever."),
				 errhint("Call hvcsv_refresh() in a transaction of its own.")));
	if (target == NULL)
		return;
	targetid = RangeVarGetRelid(target_rangevar(ft, target), NoLock, true);
	if (!OidIsValid(targetid))
		return;
	foreach(cell, find_all_inheritors(targetid, NoLock, NULL))
		if (holds_lock(lfirst_oid(cell), RowShareLock))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot refresh \"%s\" while this transaction holds a lock on its target \"%s\"",
							get_rel_name(ft), get_rel_name(lfirst_oid(cell))),
					 errdetail("The refresh runs in a background worker, which would wait for this transaction forever."),
					 errhint("Call hvcsv_refresh() in a transaction of its own, not from a function that has written to or locked the target.")));
}

/* The caller's values of caller_settings, each ended by a NUL. */
static StringInfo
pack_caller_settings(void)
{
	StringInfo	buf = makeStringInfo();

	for (size_t i = 0; i < lengthof(caller_settings); i++)
	{
		appendStringInfoString(buf, GetConfigOption(caller_settings[i], false, false));
		appendStringInfoChar(buf, '\0');
	}
	return buf;
}

/* Creates the job for the worker, in dynamic shared memory. */
static dsm_segment *
create_job(List *tables, bool force)
{
	StringInfo	settings = pack_caller_settings();
	Size		results_end = add_size(offsetof(RefreshJob, results),
									   mul_size(sizeof(RefreshResult), list_length(tables)));
	dsm_segment *seg = dsm_create(add_size(results_end, settings->len), 0);
	RefreshJob *job = dsm_segment_address(seg);
	ListCell   *cell;
	int			i = 0;

	memset(job, 0, offsetof(RefreshJob, results));
	job->database = MyDatabaseId;
	job->login_role = GetAuthenticatedUserId();
	job->caller = GetUserId();
	job->force = force;
	SPI_connect();
	job->run_id = hvcsv_next_run_id();
	SPI_finish();
	job->ntables = list_length(tables);
	memcpy(job_settings(job), settings->data, settings->len);
	foreach(cell, tables)
	{
		memset(&job->results[i], 0, sizeof(RefreshResult));
		job->results[i].foreign_table = lfirst_oid(cell);
		strlcpy(job->results[i].status, "failed", sizeof(job->results[i].status));
		strlcpy(job->results[i].error, "the refresh worker stopped before this table",
				sizeof(job->results[i].error));
		i++;
	}
	return seg;
}

/* Starts the worker for a job. */
static BackgroundWorkerHandle *
start_worker(dsm_segment *seg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

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
	return handle;
}

/* Tells whether the worker waits for a lock that this transaction holds. */
static bool
worker_waits_for_caller(pid_t worker)
{
	ArrayType  *blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
																  Int32GetDatum(worker)));
	Datum	   *pids;
	int			n;

	deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT, &pids, NULL, &n);
	for (int i = 0; i < n; i++)
		if (DatumGetInt32(pids[i]) == MyProcPid)
			return true;
	return false;
}

/*
 * Checks, while the caller waits, for a worker that waits for a lock of
 * this transaction (a row of a table the target references, say): it would
 * wait until this transaction ends, which waits for it.  (A client that is
 * gone is noticed by PostgreSQL itself with client_connection_check_interval,
 * and ending the caller stops the worker.)
 */
static void
check_while_waiting(pid_t worker)
{
	if (worker_waits_for_caller(worker))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("the refresh worker waits for a lock that this transaction holds"),
				 errdetail("It would wait until this transaction ends, which waits for it."),
				 errhint("Call hvcsv_refresh() in a transaction of its own, not from a function that has written to or locked the tables a refresh writes or reads.")));
}

/*
 * Waits until the worker has stopped, or past deadline (0: none); with
 * watch, checks every second for a worker that waits for this transaction.
 */
static void
wait_until_stopped(BackgroundWorkerHandle *handle, TimestampTz deadline, bool watch)
{
	pid_t		pid;
	int			polls = 0;

	while (GetBackgroundWorkerPid(handle, &pid) != BGWH_STOPPED &&
		   (deadline == 0 || GetCurrentTimestamp() < deadline))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (watch && ++polls % 10 == 0 && pid != 0)
			check_while_waiting(pid);
	}
}

/*
 * Stops the worker when its caller's backend exits (pg_terminate_backend,
 * a lost connection): it must not go on refreshing for no one.
 */
static void
stop_worker_at_exit(int code, Datum arg)
{
	TerminateBackgroundWorker((BackgroundWorkerHandle *) DatumGetPointer(arg));
}

/* Waits for the worker; cancelling or ending the caller stops the worker too. */
static void
wait_for_worker(BackgroundWorkerHandle *handle)
{
	PG_ENSURE_ERROR_CLEANUP(stop_worker_at_exit, PointerGetDatum(handle));
	{
		PG_TRY();
		{
			wait_until_stopped(handle, 0, true);
		}
		PG_CATCH();
		{
			/* Let it record the stopped run before the caller's error returns. */
			TerminateBackgroundWorker(handle);
			HOLD_INTERRUPTS();
			wait_until_stopped(handle, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 5000), false);
			RESUME_INTERRUPTS();
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	PG_END_ENSURE_ERROR_CLEANUP(stop_worker_at_exit, PointerGetDatum(handle));
}

/* Returns the job's results as rows; reports each failure; returns how many failed. */
static int
return_results(ReturnSetInfo *rsinfo, const RefreshJob *job)
{
	int			failed = 0;

	for (int i = 0; i < job->ntables; i++)
	{
		const RefreshResult *res = &job->results[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		const char *name = get_rel_name(res->foreign_table);

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
		if (strcmp(res->status, "failed") != 0)
			continue;
		failed++;
		ereport(WARNING,
				(errcode(res->sqlerrcode ? res->sqlerrcode : ERRCODE_FDW_ERROR),
				 errmsg("refresh of \"%s\" failed: %s", name ? name : "?", res->error),
				 res->error_detail[0] ? errdetail("%s", res->error_detail) : 0,
				 res->error_context[0] ? errcontext("%s", res->error_context) : 0));
	}
	return failed;
}

/*
 * hvcsv_refresh(foreign_table regclass DEFAULT NULL, force boolean DEFAULT
 * false): refreshes one foreign table, or every hvcsv_fdw foreign table
 * with a target that the caller may refresh, and returns a row per table.
 */
Datum
hvcsv_refresh(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *tables;
	dsm_segment *seg;
	ListCell   *cell;
	int			failed;

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
	PreventCommandIfReadOnly("hvcsv_refresh()");
	PreventCommandDuringRecovery("hvcsv_refresh()");
	/* Version 0.1's tables lack what a run writes. */
	if (strcmp(hvcsv_extension_version(), HVCSV_SQL_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the SQL objects of extension hvcsv_fdw are version %s, and its library needs %s",
						hvcsv_extension_version(), HVCSV_SQL_VERSION),
				 errhint("Run ALTER EXTENSION hvcsv_fdw UPDATE.")));

	InitMaterializedSRF(fcinfo, 0);
	tables = PG_ARGISNULL(0) ? tables_to_refresh(GetUserId()) :
		list_make1_oid(checked_table(PG_GETARG_OID(0)));
	if (tables == NIL)
		return (Datum) 0;
	foreach(cell, tables)
		check_caller_locks(lfirst_oid(cell));

	seg = create_job(tables, PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1));
	wait_for_worker(start_worker(seg));
	failed = return_results(rsinfo, dsm_segment_address(seg));
	dsm_detach(seg);

	if (failed > 0 && strcmp(hvcsv_refresh_failure_mode, "error") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("hvcsv_refresh: %d of %d tables failed", failed, list_length(tables)),
				 errdetail("The tables that did not fail were refreshed; hvcsv_sync_state has the errors."),
				 errhint("Set hvcsv_fdw.refresh_failure to \"warning\" to return the results instead.")));
	return (Datum) 0;
}
