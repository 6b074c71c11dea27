/*-------------------------------------------------------------------------
 * changed_rows.c
 *	  The export rows that a refresh's row filter let through, kept in a
 *	  tuplestore until the refresh's statement reads them back through
 *	  hvcsv_changed_rows().
 *
 * A temporary table would do, but creating and dropping one writes catalog
 * rows (and, after a checkpoint, their pages) on every run, and needs the
 * TEMP privilege.  The tuplestore spills to a temporary file past work_mem
 * and writes no WAL; the support function gives the planner the real count.
 * Each row is kept with one more column, whether its key may be stored
 * (row_filter.c), which tells the statement where to send it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/supportnodes.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "refresh_internal.h"

PG_FUNCTION_INFO_V1(hvcsv_changed_rows);
PG_FUNCTION_INFO_V1(hvcsv_changed_rows_support);

/* Keeps each row it receives in changed_rows, with its key's mark. */
typedef struct ChangedRowsReceiver
{
	DestReceiver pub;
	TupleDesc	desc;			/* the export's columns, then the mark */
	Datum	   *values;
	bool	   *isnull;
	uint64		stored;			/* rows marked as having a stored key */
} ChangedRowsReceiver;

static void
receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	ChangedRowsReceiver *r = (ChangedRowsReceiver *) self;
	int			n = typeinfo->natts;

	r->desc = CreateTemplateTupleDesc(n + 1);
	for (int i = 1; i <= n; i++)
		TupleDescCopyEntry(r->desc, i, typeinfo, i);
	TupleDescInitEntry(r->desc, n + 1, "key_stored", BOOLOID, -1, 0);
	r->values = palloc(sizeof(Datum) * (n + 1));
	r->isnull = palloc(sizeof(bool) * (n + 1));
}

static bool
receiver_receive(TupleTableSlot *slot, DestReceiver *self)
{
	ChangedRowsReceiver *r = (ChangedRowsReceiver *) self;
	int			n = slot->tts_tupleDescriptor->natts;
	RefreshSession *s = hvcsv_session_current();
	bool		stored = s->filter == NULL || hvcsv_row_filter_key_stored(s->filter, slot);

	slot_getallattrs(slot);
	memcpy(r->values, slot->tts_values, sizeof(Datum) * n);
	memcpy(r->isnull, slot->tts_isnull, sizeof(bool) * n);
	r->values[n] = BoolGetDatum(stored);
	r->isnull[n] = false;
	tuplestore_putvalues(s->changed_rows, r->desc, r->values, r->isnull);
	r->stored += stored;
	return true;
}

static void
receiver_shutdown(DestReceiver *self)
{
}

static void
receiver_destroy(DestReceiver *self)
{
}

/*
 * Runs select_sql, a read of a refresh's export, sending its rows to dest.
 * Only a read whose receiver writes nothing may be parallel (as INSERT ...
 * SELECT cannot be); its workers then share the row filter and the key
 * watch through the scan's shared memory (hvcsv_fdw.c).  Most rows are
 * dropped in the workers, so the planner is told that rows cost nothing
 * to pass to the leader.
 */
void
hvcsv_read_export_into(const char *select_sql, DestReceiver *dest, bool parallel)
{
	SPIExecuteOptions options = {0};
	SPIPlanPtr	plan;
	int			guc_level = NewGUCNestLevel();

	if (parallel)
	{
		(void) set_config_option("parallel_tuple_cost", "0", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("parallel_setup_cost", "0", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		/* Only a parallel-aware scan carries the filter and the watch to workers. */
		(void) set_config_option(HVCSV_FORCE_PARALLEL_GUC, "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	plan = SPI_prepare_cursor(select_sql, 0, NULL, parallel ? CURSOR_OPT_PARALLEL_OK : 0);
	if (plan == NULL)
		elog(ERROR, "could not plan the read of the export: %s", SPI_result_code_string(SPI_result));
	options.read_only = false;
	options.dest = dest;
	if (SPI_execute_plan_extended(plan, &options) < 0)
		elog(ERROR, "could not read the export");
	SPI_freeplan(plan);
	/* Planned as it ran: the settings last until then. */
	AtEOXact_GUC(true, guc_level);
}

/*
 * Runs select_sql (the export, read through the row filter; in parallel if
 * asked) and keeps its rows in the session; returns how many, and in
 * *stored how many of them have a key the target may store.
 */
uint64
hvcsv_changed_rows_collect(const char *select_sql, bool parallel, uint64 *stored)
{
	ChangedRowsReceiver receiver = {
		.pub = {
			.receiveSlot = receiver_receive,
			.rStartup = receiver_startup,
			.rShutdown = receiver_shutdown,
			.rDestroy = receiver_destroy,
			.mydest = DestNone
		}
	};
	RefreshSession *s = hvcsv_session_current();
	MemoryContext old;

	old = MemoryContextSwitchTo(s->cxt);
	s->changed_rows = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(old);
	hvcsv_read_export_into(select_sql, &receiver.pub, parallel);
	s->changed_count = tuplestore_tuple_count(s->changed_rows);
	*stored = receiver.stored;
	return s->changed_count;
}

/*
 * Returns the kept rows, once; no rows if none are kept.  The caller's
 * column definition list gives the foreign table's column types, which
 * the rows have, then a boolean: whether the row's key may be stored.
 */
Datum
hvcsv_changed_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RefreshSession *s = hvcsv_session_current();

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hvcsv_changed_rows() must be called in FROM")));
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setDesc = rsinfo->expectedDesc;
	if (s == NULL || s->changed_rows == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);

		rsinfo->setResult = tuplestore_begin_heap(false, false, work_mem);
		MemoryContextSwitchTo(old);
	}
	else
	{
		/* The executor ends the tuplestore when the scan is done with it. */
		rsinfo->setResult = s->changed_rows;
		s->changed_rows = NULL;
	}
	PG_RETURN_NULL();
}

/* Tells the planner how many rows hvcsv_changed_rows() will return. */
Datum
hvcsv_changed_rows_support(PG_FUNCTION_ARGS)
{
	Node	   *request = (Node *) PG_GETARG_POINTER(0);

	if (IsA(request, SupportRequestRows))
	{
		SupportRequestRows *rows = (SupportRequestRows *) request;
		RefreshSession *s = hvcsv_session_current();

		rows->rows = Max(s ? s->changed_count : 0, 1);
		PG_RETURN_POINTER(rows);
	}
	PG_RETURN_POINTER(NULL);
}
