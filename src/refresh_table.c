/*-------------------------------------------------------------------------
 * refresh_table.c
 *	  One table's sync, inside the transaction the worker opened for it and
 *	  as the table's owner: a few named steps that end in a counts struct.
 *
 * The steps: resolve the target and the columns (sync_target.c); ask for
 * the export, conditionally when the last good run still holds, and stop
 * there ("unchanged") if it is the one that run synced; otherwise write it
 * into the target, by a first load or by a statement that rewrites only
 * rows whose values changed (sync_statement.c), while the scan's hooks
 * (refresh_session.c) count the rows, check the keys and drop the rows the
 * target already stores; then guard against a truncated export, and
 * record the run (sync_state.c).  Any error propagates: the worker rolls
 * the transaction back and records the failure.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "export_list.h"
#include "http.h"
#include "progress.h"
#include "refresh_internal.h"
#include "spool.h"
#include "uint64_set.h"

/* What one table's run works with, gathered before anything is fetched. */
typedef struct TableRun
{
	Oid			ft;
	HvcsvOptions *opts;
	char	   *ft_name;		/* quoted and qualified */
	Relation	target;
	List	   *columns;		/* of SyncColumn */
	List	   *names;			/* their names */
	List	   *keys;			/* the key columns' names */
	SyncColumn *cursor;
	char	   *definition;
	char	   *target_name;	/* quoted and qualified */
	SyncState	state;
	bool		may_skip;		/* an unchanged export needs nothing written */
	bool		keep_mark;		/* the last run's cursor mark applies */
	bool		have_bound;		/* rows are read from bound on */
	bool		mark_held;		/* columns were left out: the mark does not advance */
	Datum		bound;			/* the mark less cursor_lag */
	char	   *unbounded_url;	/* the export's URL without cursor_param's bound */
	SyncedExport export;
	bool		overlap_ok;		/* a changed export may be read as it downloads */
	HvcsvSpool *growing;		/* the export's spool, downloaded as the run's
								 * scan reads it (lent to it); or NULL */
	ExportsRun *exports;		/* of a table with several, tracked each on its own */
	uint64	   *export_rows;	/* the rows read of each, when read */
	uint64		bytes_before;
} TableRun;

/* Tells whether the export is the one the last good run synced. */
static bool
export_unchanged(const SyncState *st, const char *etag, const char *last_modified, int64 size)
{
	return hvcsv_same_version(etag, last_modified, size, st->etag, st->last_modified, st->bytes);
}

/* Tells whether the last run ended well. */
static bool
state_still_holds(const SyncState *st)
{
	return st->exists && st->status &&
		(strcmp(st->status, "ok") == 0 || strcmp(st->status, "unchanged") == 0);
}

/* Resolves the synced columns, their names, the key and the cursor column. */
static void
resolve_columns(TableRun *run)
{
	run->columns = hvcsv_synced_columns(run->ft, run->opts, run->target);
	run->names = hvcsv_synced_names(run->columns);
	run->keys = hvcsv_key_names(run->columns);
	run->cursor = run->opts->cursor_column ?
		hvcsv_cursor_column(run->columns, run->opts->cursor_column, run->ft, run->target) : NULL;
}

/* Resolves the target and the columns, and reads what the last run saw. */
static void
prepare_run(bool force, RefreshResult *res, TableRun *run)
{
	run->ft = res->foreign_table;
	run->opts = hvcsv_get_options(run->ft, hvcsv_relation_owner(run->ft));
	/* A table an older version accepted may combine options that now cannot be. */
	hvcsv_check_sync_options(GetForeignTable(run->ft)->options, run->opts);
	run->ft_name = hvcsv_qualified_name(run->ft);
	run->target = hvcsv_open_target(run->ft, run->opts);
	run->target_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(run->target)),
												  RelationGetRelationName(run->target));
	strlcpy(res->target, run->target_name, sizeof(res->target));
	resolve_columns(run);
	if (run->opts->soft_delete)
		hvcsv_check_deleted_column(run->target, run->columns, run->opts->deleted_column);
	run->definition = hvcsv_definition_hash(run->ft, run->opts, run->target, run->columns);
	run->state = hvcsv_read_state(run->ft);
	run->keep_mark = !force && run->state.definition_hash &&
		strcmp(run->state.definition_hash, run->definition) == 0;
	run->may_skip = run->keep_mark && state_still_holds(&run->state);
	run->bytes_before = hvcsv_bytes_received();
	run->unbounded_url = run->opts->url;
	run->export.url = hvcsv_has_export_list(run->opts) ? hvcsv_exports_display(run->opts) :
		hvcsv_display_url(run->opts);
	run->export.definition_hash = run->definition;
	run->export.size = -1;
}

/*
 * Brings every export of a table with several up to date and tells
 * whether none is new, changed or vanished since the last good run;
 * otherwise makes the run's reads take the exports it needs
 * (refresh_exports.c).
 */
static bool
fetch_exports(TableRun *run)
{
	ExportsRun *er = hvcsv_exports_survey(run->ft, run->opts, run->may_skip);

	run->exports = er;
	run->export.size = er->total_bytes;
	if (run->may_skip && er->nread == 0 && er->vanished == NIL)
		return true;
	hvcsv_session_read_exports(run->opts->delete_missing ? hvcsv_exports_all(er) : er->read,
							   er->nexports);
	return false;
}

/* Notes what the export's spool holds, once it is complete. */
static void
note_spooled_export(TableRun *run, HvcsvSpool *spool)
{
	run->export.etag = spool->etag;
	run->export.last_modified = spool->last_modified;
	run->export.size = spool->size;
}

/*
 * Tells whether the run may read a changed export as it downloads (see
 * spool_read.c): a table whose reader is partitioned reads whole spools,
 * in parallel, which a growing one would only keep it from, and a run
 * that reads the header first (schema drift) would have to download it
 * first all the same.
 */
static bool
may_overlap(const TableRun *run)
{
	return run->overlap_ok && run->opts->reader == HVCSV_READER_PROJECTED &&
		!hvcsv_schema_drift_reads_header(run->opts);
}

/*
 * Tells whether the spooled export is the one the last run synced.  One
 * that its first answer shows changed (or that need not be compared), and
 * that can be read as it arrives, is lent to the run's scan, so that the
 * load overlaps the download (see spool_read.c); run->growing keeps it
 * until the scan is over.  Others are downloaded first.
 */
static bool
fetch_spooled_export(TableRun *run)
{
	SyncState  *st = &run->state;
	HvcsvSpool *spool = may_overlap(run) ?
		hvcsv_spool_open_growing(run->opts) : hvcsv_spool_open(run->opts);

	/* Without an ETag, the size decides too: known only at the end. */
	if (spool->growing &&
		(!run->may_skip ||
		 (spool->etag[0] && !export_unchanged(st, spool->etag, spool->last_modified, -1))))
	{
		hvcsv_spool_lend(spool);
		run->growing = spool;
		return false;
	}
	hvcsv_spool_close(spool);
	note_spooled_export(run, spool);
	return run->may_skip &&
		export_unchanged(st, spool->etag, spool->last_modified, spool->size);
}

/* Finishes the download that the run's scan read as it arrived, if any. */
static void
end_growing(TableRun *run)
{
	if (run->growing == NULL)
		return;
	hvcsv_spool_close(run->growing);
	note_spooled_export(run, run->growing);
	run->growing = NULL;
}

/*
 * Asks for the export (a conditional request when the last run still
 * holds) and tells whether it is the one the last run synced.
 */
static bool
fetch_export(TableRun *run)
{
	SyncState  *st = &run->state;

	if (hvcsv_refresh_tracks_exports(run->opts))
		return fetch_exports(run);
	/*
	 * Pages, or exports read by the streaming reader, have no validators
	 * kept: the run compares them in full (the scan still revalidates each
	 * page's spool, so one that has not changed is not downloaded again).
	 */
	if (hvcsv_has_export_list(run->opts))
		return false;
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
	return fetch_spooled_export(run);
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
 * Sets the bound the run reads from (cursor_column): the last good run's
 * mark less cursor_lag, unless the table's definition changed since or the
 * run is forced (then every row is read).  With cursor_param the request
 * carries the bound too, so an API that can sends only the rows from it;
 * the statement compares them with the bound again, whether the API's own
 * bound is inclusive or not.
 */
static void
set_cursor_bound(TableRun *run, RefreshSession *s)
{
	const SyncColumn *cursor = run->cursor;
	char	   *text = run->state.cursor_value;

	if (cursor && run->opts->cursor_lag)
		hvcsv_check_cursor_lag(cursor->target_type, run->opts->cursor_lag, cursor->name);
	if (cursor == NULL || !run->keep_mark || text == NULL || hvcsv_mark_is_unbounded(text))
		return;
	(void) read_mark(run);
	if (run->opts->cursor_lag)
		text = hvcsv_mark_minus_lag(text, cursor->target_type, run->opts->cursor_lag,
									cursor->name);
	run->bound = hvcsv_mark_from_text(text, cursor->target_type, cursor->target_typmod);
	run->have_bound = true;
	if (run->opts->cursor_param)
	{
		run->opts->url = hvcsv_url_with_query_param(run->opts->url, run->opts->cursor_param, text);
		s->request_url = run->opts->url;
	}
}

/*
 * Looks for a key that is in the export more than once, reading it again;
 * returns the key as text, or NULL if every key is there once.
 */
static char *
find_duplicate_key(Oid foreign_table, List *keys)
{
	char	   *ft_name = hvcsv_qualified_name(foreign_table);

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

/* The query that reads the synced columns of the export. */
static char *
export_query(const TableRun *run)
{
	return psprintf("SELECT %s FROM %s", hvcsv_name_list(run->names, ""), run->ft_name);
}

/* Leaves the columns named in missing out of the sync, unless one is needed. */
static void
leave_out_columns(TableRun *run, List *missing)
{
	List	   *kept = NIL;
	ListCell   *cell;

	foreach(cell, run->columns)
	{
		SyncColumn *col = lfirst(cell);

		if (!list_member(missing, makeString(col->name)))
			kept = lappend(kept, col);
		else if (col->is_key)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("the export lacks key column \"%s\"", col->name),
					 errdetail("With on_missing_columns 'keep', a refresh still needs every key column. Nothing was written.")));
		else if (col == run->cursor)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("the export lacks cursor column \"%s\"", col->name),
					 errdetail("With on_missing_columns 'keep', a refresh still needs the cursor column. Nothing was written.")));
	}
	run->columns = kept;
	run->names = hvcsv_synced_names(kept);
	/*
	 * The rows read now lack the columns left out: the mark stays where it
	 * was, so that when they come back every row since is read again.
	 */
	run->mark_held = true;
}

/*
 * Applies on_new_columns and on_missing_columns (schema_drift.c) and notes
 * what they did in the history.  Columns added to both tables are synced in
 * this run, from the whole export: the definition is taken again, and the
 * cursor starts over so that every row gets them, in the request too
 * (cursor_param).
 */
static void
follow_schema(TableRun *run, RefreshSession *s, RefreshResult *res)
{
	bool		added;
	List	   *missing;
	List	   *missing_values = NIL;
	ListCell   *cell;
	Oid			target = RelationGetRelid(run->target);
	char	   *changes;

	/* Its lock stays; the relation is opened again with the new columns. */
	table_close(run->target, NoLock);
	changes = hvcsv_schema_drift(run->ft, run->opts, target, &added, &missing);
	run->target = table_open(target, RowExclusiveLock);
	if (changes == NULL)
		return;
	strlcpy(res->schema_changes, changes, sizeof(res->schema_changes));
	if (added)
	{
		run->opts->url = run->unbounded_url;
		s->request_url = NULL;
		resolve_columns(run);
		run->definition = hvcsv_definition_hash(run->ft, run->opts, run->target, run->columns);
		run->export.definition_hash = run->definition;
		run->keep_mark = run->have_bound = false;
	}
	foreach(cell, missing)
		missing_values = lappend(missing_values, makeString(lfirst(cell)));
	if (missing_values != NIL)
		leave_out_columns(run, missing_values);
}

/*
 * on_duplicate_key 'first' or 'last': reads the export's keys once, in one
 * process, to choose the row of each key that stays (key_choice.c); the
 * refresh's own read then drops the others, so the key watch sees each key
 * once.
 */
static void
choose_rows(TableRun *run, RefreshSession *s, SyncCounts *counts)
{
	int			guc_level;

	if (run->opts->on_duplicate_key == HVCSV_DUPLICATE_KEYS_ERROR)
		return;
	s->choice = hvcsv_key_choice_create(s->cxt, run->ft, run->keys,
										run->opts->on_duplicate_key == HVCSV_DUPLICATE_KEYS_LAST,
										stored_rows(run->target));
	if (s->choice == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("on_duplicate_key needs key columns whose types have an extended hash function")));
	guc_level = NewGUCNestLevel();
	(void) set_config_option("max_parallel_workers_per_gather", "0", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("force_parallel_mode", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	s->surveying = true;
	hvcsv_session_expect_scan();
	/*
	 * With on_error 'skip' the survey reads what the refresh's read does,
	 * so that both reject the same rows: a row rejected for a value
	 * outside the key must not be chosen.
	 */
	SPI_execute(run->opts->on_error_skip ? export_query(run) :
				psprintf("SELECT %s FROM %s", hvcsv_name_list(run->keys, ""), run->ft_name),
				true, 0);
	s->surveying = s->scan_expected = false;
	AtEOXact_GUC(true, guc_level);
	counts->deduplicated = true;
	counts->duplicates = hvcsv_key_choice_settle(s->choice);
	if (counts->duplicates == 0)
	{
		hvcsv_key_choice_free(s->choice);
		s->choice = NULL;
	}
}

/* Turns off hash and merge joins until the GUC nest level *guc_level ends. */
static void
prefer_index_probes(int *guc_level)
{
	*guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Keeps the export rows that the target does not store as they are
 * (changed_rows.c), and fills in kept how the sync statement reads them
 * back: the rows the target stores stop at the scan (row_filter.c), and
 * the planner is told how few the rest are.  The export is read by a
 * parallel scan when parallel_ok (spooled exports, not pages learnt one
 * at a time) and the sets fit its shared memory.  Returns false when no filter can be built.  With few
 * rows left, hash and merge joins are turned off (*guc_level says until
 * when): the key's index finds them faster than hashing the whole target
 * twice, but the planner, costing each probe as a disk read, would hash.
 */
static bool
keep_changed_rows(TableRun *run, RefreshSession *s, bool parallel_ok, KeptRows *kept,
				  int *guc_level, SyncCounts *counts)
{
	uint64		passed;

	s->filter = hvcsv_row_filter_create(s->cxt, run->ft, run->target, run->names, run->keys,
										stored_rows(run->target));
	if (s->filter == NULL)
		return false;
	/* A spool read as it arrives is read by one process (a serial scan). */
	s->whole_read = parallel_ok && run->growing == NULL &&
		hvcsv_row_filter_shareable(s->filter) &&
		hvcsv_key_watch_shareable(s->watch) &&
		hvcsv_uint64_set_shared_fits(hvcsv_session_shared_size());
	hvcsv_session_expect_scan();
	passed = hvcsv_changed_rows_collect(export_query(run), s->whole_read, &kept->marked);
	s->whole_read = s->scan_expected = false;
	counts->filter_used = true;
	counts->filtered = hvcsv_row_filter_dropped(s->filter);
	counts->key_stored = kept->marked;
	counts->target_processes = hvcsv_row_filter_target_readers(s->filter);
	hvcsv_row_filter_free(s->filter);
	s->filter = NULL;
	if (passed < (uint64) counts->filtered / 4)
		prefer_index_probes(guc_level);
	kept->mark = hvcsv_free_column_name(run->names);
	kept->from = hvcsv_kept_rows_from(hvcsv_extension_object("hvcsv_changed_rows"), run->columns,
									  kept->mark);
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
	plan->deleted_column = run->opts->soft_delete ? run->opts->deleted_column : NULL;
	plan->sharded = hvcsv_target_sharded(run->target, run->keys);
}

/*
 * Completes a base_plan for comparing the export with a target that holds
 * rows: the key watch, and the row filter's kept rows when it can be used.
 */
static void
plan_sync(TableRun *run, RefreshSession *s, SyncPlan *plan, KeptRows *kept, int *guc_level,
		  SyncCounts *counts)
{
	/* A cursor filters rows above the scan, so the scan cannot count them. */
	if (run->cursor == NULL)
		s->watch = hvcsv_key_watch_create(s->cxt, run->ft, run->keys, stored_rows(run->target));
	plan->watched = s->watch != NULL;
	/*
	 * The row filter needs the watch to count the rows; deleting needs
	 * every key of the export, so not then.  A spooled export may be read
	 * in parallel.
	 */
	if (plan->watched && !plan->delete_missing &&
		keep_changed_rows(run, s,
						  run->opts->reader != HVCSV_READER_STREAMING && !run->opts->on_error_skip &&
						  !run->opts->paginate,
						  kept, guc_level, counts))
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

/* A first load in batches, as COPY does, when nothing needs INSERT's checks. */
static bool
bulk_load(TableRun *run, SyncResultRow *row)
{
	if (!hvcsv_bulk_load_eligible(run->target, run->ft, run->names, run->opts->cursor_column))
		return false;
	hvcsv_session_expect_scan();
	row->inserted = row->rows_read = hvcsv_bulk_load(run->target, export_query(run), run->names);
	return true;
}

/*
 * Writes the export into the target: a first load in batches (unless
 * INSERT would do more), or the load or sync statement.
 */
static void
write_export(TableRun *run, RefreshSession *s, SyncResultRow *row, SyncCounts *counts)
{
	SyncPlan	plan;
	KeptRows	kept;
	int			guc_level = -1;
	char	   *sql;

	memset(row, 0, sizeof(*row));
	base_plan(run, &plan);
	if (target_is_empty(run))
	{
		if (bulk_load(run, row))
		{
			s->scan_expected = false;
			return;
		}
		sql = hvcsv_load_statement(&plan);
	}
	else
	{
		plan_sync(run, s, &plan, &kept, &guc_level, counts);
		sql = hvcsv_sync_statement(&plan);
	}
	/* With the row filter's rows kept, the statement reads those instead. */
	if (plan.kept == NULL)
		hvcsv_session_expect_scan();
	if (run->cursor)
		SPI_execute_with_args(sql, 1, &run->cursor->target_type, &run->bound,
							  run->have_bound ? NULL : "n", false, 0);
	else
		SPI_execute(sql, false, 0);
	s->scan_expected = false;
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	hvcsv_read_sync_result(row);
}

/*
 * The rows the export had, once the key watch (if it ran) has checked that
 * none has a key twice; an error if one does.
 */
static int64
rows_read_once_each(TableRun *run, RefreshSession *s, const SyncResultRow *row,
					SyncCounts *counts)
{
	int64		rows = row->rows_read;
	bool		duplicate = row->duplicate;

	if (s->watch)
	{
		bool		maybe_duplicate;

		counts->export_processes = hvcsv_key_watch_processes(s->watch);
		rows = hvcsv_key_watch_finish(s->watch, &maybe_duplicate);
		s->watch = NULL;
		/* The rows on_duplicate_key drops are dropped from this read too. */
		if (maybe_duplicate && s->choice)
			hvcsv_session_expect_scan();
		duplicate = maybe_duplicate &&
			find_duplicate_key(run->ft, run->keys) != NULL;
		s->scan_expected = false;
	}
	if (duplicate)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("the export has a key more than once")));
	return rows;
}

/* on_duplicate_key's choice must have met the export it was made on. */
static void
check_choice_held(const RefreshSession *s)
{
	if (s->choice && !hvcsv_key_choice_complete(s->choice))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the export changed while the refresh read it twice for on_duplicate_key"),
				 errdetail("Nothing was written."),
				 errhint("The next run reads it again.")));
}

/* With cursor_nulls 'error', a row without a cursor value fails the run. */
static void
check_cursor_nulls(const TableRun *run, const SyncResultRow *row)
{
	char	   *keys = hvcsv_name_list(run->keys, "");
	char	   *first;

	if (row->null_cursors == 0 || run->opts->cursor_nulls != HVCSV_CURSOR_NULLS_ERROR)
		return;
	/* The export is read again to name one such row by its key. */
	SPI_execute(psprintf("SELECT (%s)::pg_catalog.text FROM %s WHERE %s IS NULL LIMIT 1", keys,
						 run->ft_name, quote_identifier(run->cursor->name)), true, 1);
	first = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg_plural("the export has " INT64_FORMAT " row whose cursor column \"%s\" is empty",
						   "the export has " INT64_FORMAT " rows whose cursor column \"%s\" is empty",
						   row->null_cursors, row->null_cursors, run->cursor->name),
			 first ? errdetail("The first has key (%s)=%s. The foreign table's cursor_nulls option is 'error'. Nothing was written.",
							   keys, first) :
			 errdetail("The foreign table's cursor_nulls option is 'error'. Nothing was written."),
			 errhint("With cursor_nulls 'include', such rows are synced and compared by key in every run.")));
}

/* A snapshot that would empty much of the target is likely truncated. */
static void
check_delete_guard(const TableRun *run, const RefreshResult *res, int64 target_rows)
{
	if (res->counts.deleted > 0 && res->counts.deleted > run->opts->delete_limit * target_rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("refusing to delete " INT64_FORMAT " of " INT64_FORMAT " rows of \"%s\", more than delete_limit (%.0f%%)",
						res->counts.deleted, target_rows, RelationGetRelationName(run->target),
						run->opts->delete_limit * 100),
				 errdetail("The export may be truncated. Nothing was written."),
				 errhint("If the export really shrank, raise the foreign table's delete_limit option.")));
}

/* Writes a changed export into the target and counts what it did. */
static void
sync_export(TableRun *run, RefreshSession *s, RefreshResult *res)
{
	SyncCounts *counts = &res->counts;
	SyncResultRow row;
	int64		rows_read;

	follow_schema(run, s, res);
	choose_rows(run, s, counts);
	write_export(run, s, &row, counts);
	/* The export read just now is the one whose rows are recorded. */
	if (s->export_rows)
		run->export_rows = memcpy(palloc(sizeof(uint64) * s->nexports), s->export_rows,
								  sizeof(uint64) * s->nexports);
	check_choice_held(s);
	check_cursor_nulls(run, &row);
	rows_read = rows_read_once_each(run, s, &row, counts);
	counts->inserted = row.inserted;
	counts->updated = row.updated;
	counts->deleted = row.deleted;
	counts->unchanged = rows_read - row.inserted - row.updated;
	counts->rejected = s->reject_count;
	check_delete_guard(run, res, row.target_rows);
	res->status = REFRESH_OK;
	/* No row past the mark (or columns left out): the mark stays. */
	run->export.cursor_value = row.cursor_max && !run->mark_held ? row.cursor_max :
		run->keep_mark ? run->state.cursor_value : NULL;
}

/* Records a run that ended well in the sync state, the history and the rejects. */
static void
record_run(int64 run_id, RefreshResult *res, TableRun *run, List *rejects)
{
	res->counts.bytes_fetched = hvcsv_bytes_received() - run->bytes_before;
	res->finished = GetCurrentTimestamp();
	hvcsv_write_state(res, &run->export);
	if (run->exports)
	{
		if (res->status == REFRESH_OK)
			hvcsv_exports_record(run->ft, run->exports, run->export_rows, res->started);
	}
	else
		hvcsv_forget_export_state(run->ft, NULL);
	hvcsv_write_history(run_id, res);
	hvcsv_write_rejects(run_id, res, rejects);
	table_close(run->target, NoLock);
}

/*
 * Refreshes one table inside the current transaction, as its owner, with
 * the run's progress in pg_stat_progress_copy; errors propagate.
 * *keys_out gets the key columns as soon as they are known, to name a
 * duplicate key in the error.  force compares in full even if the export
 * is the one the last run synced.  overlap lets the run read a changed
 * export as it downloads; a run that did fails with a serialization
 * failure if the download had to start over, and may be run again without.
 */
void
hvcsv_refresh_table(int64 run_id, bool force, bool overlap, RefreshResult *res, List **keys_out)
{
	TableRun	run;
	RefreshSession *s;

	memset(&run, 0, sizeof(run));
	run.overlap_ok = overlap;
	prepare_run(force, res, &run);
	*keys_out = run.keys;
	s = hvcsv_session_begin(run.ft);
	s->key_names = run.keys;
	set_cursor_bound(&run, s);
	hvcsv_progress_begin(RelationGetRelid(run.target));
	if (fetch_export(&run))
	{
		res->status = REFRESH_UNCHANGED;
		run.export.cursor_value = run.state.cursor_value;
	}
	else
	{
		sync_export(&run, s, res);
		end_growing(&run);
	}
	hvcsv_progress_end();
	record_run(run_id, res, &run, s->rejects);
	hvcsv_session_end();
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
void
hvcsv_explain_duplicate_key(RefreshResult *res, List *keys)
{
	DuplicateSearch search = {res, keys};

	if (keys != NIL)
		(void) run_in_subtransaction(name_duplicate_key, &search);
}
