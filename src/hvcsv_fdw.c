/*-------------------------------------------------------------------------
 * hvcsv_fdw.c
 *	  The foreign data wrapper callbacks: planning, EXPLAIN and the scan.
 *
 * The reader is chosen at plan time and reached through its routine table;
 * these callbacks only plan, start the reader, and turn its records into
 * tuples.  Nothing is fetched until the first row is asked for, so EXPLAIN
 * (without ANALYZE) never downloads.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <curl/curl.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/sampling.h"
#include "utils/rel.h"

#include "compat.h"
#include "hvcsv_fdw.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(hvcsv_fdw_handler);

/* Indexes into ForeignScan.fdw_private. */
enum HvcsvScanPrivate
{
	SCAN_PRIVATE_NEEDED_ATTS,	/* IntList of 0-based attributes to convert */
	SCAN_PRIVATE_READER			/* Integer: HvcsvReaderKind */
};

/* What planning learned about a foreign table. */
typedef struct HvcsvPlanState
{
	HvcsvOptions *opts;
	List	   *needed_atts;
	double		ntuples;
	double		pages;
} HvcsvPlanState;

/* Returns the routine table of a reader. */
static const HvcsvReaderRoutine *
reader_routine(HvcsvReaderKind kind)
{
	switch (kind)
	{
		case HVCSV_READER_PROJECTED:
			return &hvcsv_projected_reader;
		case HVCSV_READER_PARTITIONED:
			return &hvcsv_partitioned_reader;
		case HVCSV_READER_STREAMING:
			return &hvcsv_streaming_reader;
	}
	elog(ERROR, "unknown hvcsv_fdw reader %d", (int) kind);
	return NULL;
}

/*
 * Lists the attributes a scan must convert: those in the target list and in
 * the restriction clauses.  A whole-row reference needs them all.
 */
static List *
needed_attributes(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	Bitmapset  *attrs = NULL;
	List	   *needed = NIL;
	ListCell   *cell;
	Relation	rel;
	TupleDesc	desc;
	bool		whole_row;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(cell, baserel->baserestrictinfo)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, cell)->clause,
					   baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);

	rel = table_open(foreigntableid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (int a = 0; a < desc->natts; a++)
	{
		if (TupleDescAttr(desc, a)->attisdropped)
			continue;
		if (whole_row ||
			bms_is_member(a + 1 - FirstLowInvalidHeapAttributeNumber, attrs))
			needed = lappend_int(needed, a);
	}
	table_close(rel, AccessShareLock);
	return needed;
}

/* How many processes share a parallel scan's work, as the planner counts them. */
static double
parallel_divisor(int workers)
{
	double		divisor = workers;

	if (parallel_leader_participation && 1.0 - 0.3 * workers > 0)
		divisor += 1.0 - 0.3 * workers;
	return divisor;
}

/* The foreign table a refresh reads whole, or InvalidOid. */
Oid			hvcsv_whole_read_table = InvalidOid;

/*
 * The options a scan of foreigntableid is planned with.  A refresh reads
 * all of a spooled export, so the projected reader's spool is cut into
 * partitions too, which a parallel scan may share (its row index is built
 * while any spool downloads).
 */
static HvcsvOptions *
planned_options(Oid foreigntableid, Oid userid)
{
	HvcsvOptions *opts = hvcsv_get_options(foreigntableid, userid);

	if (foreigntableid == hvcsv_whole_read_table && opts->reader == HVCSV_READER_PROJECTED)
		opts->reader = HVCSV_READER_PARTITIONED;
	return opts;
}

/* Estimates rows from ANALYZE if it ran, else from the spool's size. */
static void
hvcsvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	HvcsvPlanState *ps = palloc0(sizeof(HvcsvPlanState));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	int64		size;
	int			tuple_width;

	ps->opts = planned_options(foreigntableid, userid);
	ps->needed_atts = needed_attributes(root, baserel, foreigntableid);

	/* Without a spool yet, plan for a modest file (as file_fdw does). */
	if (!hvcsv_spool_peek_size(ps->opts, &size))
		size = 10 * BLCKSZ;
	ps->pages = Max(1.0, ceil((double) size / BLCKSZ));

	if (baserel->tuples >= 0 && baserel->pages > 0)
		ps->ntuples = baserel->tuples;
	else
	{
		tuple_width = MAXALIGN(baserel->reltarget->width) + MAXALIGN(SizeofHeapTupleHeader);
		ps->ntuples = clamp_row_est((double) size / (double) tuple_width);
	}
	baserel->fdw_private = ps;
	baserel->rows = clamp_row_est(ps->ntuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

/*
 * Offers a sequential read of the whole export and, for the partitioned
 * reader on an export big enough to pay for workers, a partial path that
 * a Gather runs in parallel.
 */
static void
hvcsvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	HvcsvPlanState *ps = (HvcsvPlanState *) baserel->fdw_private;
	Cost		startup_cost = baserel->baserestrictcost.startup;
	Cost		cpu_per_tuple;
	Cost		run_cost;
	ForeignPath *path;
	int			workers;

	/* Converting a field costs more than reading a heap column. */
	cpu_per_tuple = cpu_tuple_cost * (1 + list_length(ps->needed_atts)) +
		baserel->baserestrictcost.per_tuple;
	run_cost = seq_page_cost * ps->pages + cpu_per_tuple * ps->ntuples;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup_cost, startup_cost + run_cost, NIL,
									 NULL, NULL, NIL));

	if (ps->opts->reader != HVCSV_READER_PARTITIONED || ps->opts->on_error_skip ||
		!baserel->consider_parallel)
		return;
	workers = compute_parallel_worker(baserel, ps->pages, -1,
									  max_parallel_workers_per_gather);
	workers = Min(workers, (int) (ps->pages * BLCKSZ / ps->opts->block_size));
	if (workers <= 0)
		return;

	path = create_foreignscan_path(root, baserel, NULL,
								   clamp_row_est(baserel->rows / parallel_divisor(workers)),
								   startup_cost,
								   startup_cost + run_cost / parallel_divisor(workers),
								   NIL, NULL, NULL, NIL);
	path->path.parallel_aware = true;
	path->path.parallel_safe = true;
	path->path.parallel_workers = workers;
	add_partial_path(baserel, (Path *) path);
}

/* Makes the plan node; every qual is checked by the executor. */
static ForeignScan *
hvcsvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
					ForeignPath *best_path, List *tlist, List *scan_clauses,
					Plan *outer_plan)
{
	HvcsvPlanState *ps = (HvcsvPlanState *) baserel->fdw_private;
	List	   *fdw_private;

	fdw_private = list_make2(ps->needed_atts, makeInteger(ps->opts->reader));
	return make_foreignscan(tlist, extract_actual_clauses(scan_clauses, false),
							baserel->relid, NIL, fdw_private, NIL, NIL, outer_plan);
}

/*
 * Shows the reader, the source without secrets, the columns converted and
 * the spool; after a run, also what opening the spool did, the bytes read
 * and the rows rejected.
 */
static void
hvcsvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	HvcsvOptions *opts = hvcsv_get_options(RelationGetRelid(rel), hvcsv_scan_user(node));
	List	   *needed = list_nth(plan->fdw_private, SCAN_PRIVATE_NEEDED_ATTS);
	HvcsvReaderKind kind = intVal(list_nth(plan->fdw_private, SCAN_PRIVATE_READER));
	StringInfoData cols;
	ListCell   *cell;
	bool		ran = scan && scan->started;

	ExplainPropertyText("Reader", hvcsv_reader_name(kind), es);
	ExplainPropertyText("Source", hvcsv_redact_url(opts->url), es);
	initStringInfo(&cols);
	foreach(cell, needed)
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "",
						 NameStr(TupleDescAttr(RelationGetDescr(rel), lfirst_int(cell))->attname));
	ExplainPropertyText("Columns Converted", cols.len ? cols.data : "none", es);
	reader_routine(kind)->explain(ran ? scan : NULL, opts, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Bytes Read", "bytes", ran ? scan->bytes_read : 0, es);
		ExplainPropertyInteger("Rows Rejected", NULL, ran ? scan->rows_rejected : 0, es);
	}
}

/* Makes the state of a scan of rel; its reader starts when first asked. */
static HvcsvScan *
scan_create(Relation rel, HvcsvOptions *opts, List *needed_atts, HvcsvReaderKind kind)
{
	HvcsvScan  *scan = palloc0(sizeof(HvcsvScan));

	scan->rel = rel;
	scan->cxt = CurrentMemoryContext;
	scan->opts = opts;
	scan->needed_atts = needed_atts;
	scan->reader = reader_routine(kind);
	scan->errcallback.callback = hvcsv_error_context;
	scan->errcallback.arg = scan;
	return scan;
}

/* Starts the reader if it has not started: the spool or the request, the header. */
static void
scan_start(HvcsvScan *scan)
{
	MemoryContext old;

	if (scan->started)
		return;
	/* Callers may run in a short-lived context; the reader must outlive it. */
	old = MemoryContextSwitchTo(scan->cxt);
	scan->errcallback.previous = error_context_stack;
	error_context_stack = &scan->errcallback;
	scan->started = true;
	scan->reader->begin(scan);
	error_context_stack = scan->errcallback.previous;
	MemoryContextSwitchTo(old);
}

/* Reads the next record into slot; false at the end. */
static bool
scan_next(HvcsvScan *scan, TupleTableSlot *slot)
{
	bool		found = false;

	scan_start(scan);
	scan->errcallback.previous = error_context_stack;
	error_context_stack = &scan->errcallback;
	while (!scan->at_end)
	{
		if (!scan->reader->next(scan))
		{
			scan->at_end = true;
			/* This process's part of a parallel refresh scan is done. */
			if (unlikely(hvcsv_key_watch_on))
			{
				hvcsv_key_watch_scan_done(scan->rel);
				hvcsv_row_filter_scan_done(scan->rel);
			}
			break;
		}
		if (hvcsv_build_or_reject(scan, slot))
		{
			scan->rows++;
			if (hvcsv_progress_active && scan->rows % 1024 == 0)
				hvcsv_progress_rows(scan->rows);
			if (unlikely(hvcsv_key_watch_on))
			{
				/* The filter's lookup starts first, to overlap the watch. */
				hvcsv_row_filter_prepare(scan->rel, slot);
				hvcsv_key_watch_row(scan->rel, slot);
				/* A refresh needs no row the target already stores. */
				if (hvcsv_row_filter_drops(scan->rel, slot))
				{
					/* The caller takes a filled slot for a row. */
					ExecClearTuple(slot);
					continue;
				}
			}
			found = true;
			break;
		}
	}
	error_context_stack = scan->errcallback.previous;
	return found;
}

/* Prepares the scan; nothing is fetched until the first row is asked for. */
static void
hvcsvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	node->fdw_state = scan_create(rel,
								  hvcsv_get_options(RelationGetRelid(rel), hvcsv_scan_user(node)),
								  list_nth(plan->fdw_private, SCAN_PRIVATE_NEEDED_ATTS),
								  intVal(list_nth(plan->fdw_private, SCAN_PRIVATE_READER)));
}

/*
 * Reads the header (when the table has one) and sets up conversion.  The
 * readers call it once their stream is open.  A file with no header line
 * at all holds no rows.
 */
void
hvcsv_scan_read_header(HvcsvScan *scan)
{
	const HvcsvOptions *opts = scan->opts;
	HvcsvColumnMap *map;

	if (opts->encoding == PG_UTF8)
		csv_stream_skip_bom(scan->stream);
	map = hvcsv_column_map_create(scan->rel, opts->header, scan->stream, opts->encoding);
	if (map == NULL)
	{
		scan->at_end = true;
		return;
	}
	scan->builder = hvcsv_tuple_builder_create(scan->rel, map, scan->needed_atts,
											   opts->encoding);
	hvcsv_tuple_builder_select(scan->builder, scan->stream);
}

/* Passes over the header again, after a reader restarted from the top. */
void
hvcsv_scan_skip_header(HvcsvScan *scan)
{
	if (scan->opts->encoding == PG_UTF8)
		csv_stream_skip_bom(scan->stream);
	if (scan->opts->header != HVCSV_HEADER_NONE && scan->builder)
		(void) csv_stream_next(scan->stream);
}

/* Returns the next row, or an empty slot at the end. */
static TupleTableSlot *
hvcsvIterateForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	(void) scan_next(scan, slot);
	return slot;
}

/* Starts the scan over from the first row. */
static void
hvcsvReScanForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;

	if (!scan->started || scan->builder == NULL)
		return;
	scan->reader->rescan(scan);
	scan->at_end = false;
	scan->rows = 0;
}

/* Releases what the reader holds. */
static void
hvcsvEndForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;

	if (scan && scan->started)
	{
		scan->reader->end(scan);
		hvcsv_report_rejects(scan);
	}
}

/*
 * Only the partitioned reader's scans may run in parallel workers; others
 * would each fetch on their own.  (Called before GetForeignRelSize.)
 */
static bool
hvcsvIsForeignScanParallelSafe(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	Oid			userid = OidIsValid(rel->userid) ? rel->userid : GetUserId();

	HvcsvOptions *opts = planned_options(rte->relid, userid);

	/* on_error 'skip' converts rows in subtransactions, which workers cannot. */
	return opts->reader == HVCSV_READER_PARTITIONED && !opts->on_error_skip;
}

/*
 * The start of a parallel scan's shared memory: where each part is.  A
 * refresh's scan carries its key watch and row filter there too.
 */
typedef struct ScanSharedLayout
{
	Size		watch_offset;	/* 0: no key watch */
	Size		filter_offset;	/* 0: no row filter */
	Size		reader_offset;	/* the reader's coordinator */
} ScanSharedLayout;

/* Fills in where each part of the scan's shared memory goes; returns its size. */
static Size
shared_layout(HvcsvScan *scan, ScanSharedLayout *layout)
{
	Size		watch_size = hvcsv_key_watch_shared_size(RelationGetRelid(scan->rel));
	Size		filter_size = hvcsv_row_filter_shared_size(RelationGetRelid(scan->rel));
	Size		offset = MAXALIGN(sizeof(ScanSharedLayout));

	layout->watch_offset = watch_size ? offset : 0;
	offset += MAXALIGN(watch_size);
	layout->filter_offset = filter_size ? offset : 0;
	offset += MAXALIGN(filter_size);
	layout->reader_offset = offset;
	return offset + scan->reader->shared_size(scan);
}

/*
 * Sizes the shared memory.  This runs when the Gather starts, so the leader
 * opens (and if needed fetches) the spool here to count the partitions.
 */
static Size
hvcsvEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	ScanSharedLayout layout;

	scan_start(scan);
	return shared_layout(scan, &layout);
}

/* Fills the shared memory; from now on this process uses the shared key watch. */
static void
hvcsvInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							  void *coordinate)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	ScanSharedLayout *layout = coordinate;

	(void) shared_layout(scan, layout);
	if (layout->watch_offset)
		hvcsv_key_watch_share((char *) coordinate + layout->watch_offset);
	if (layout->filter_offset)
		hvcsv_row_filter_share((char *) coordinate + layout->filter_offset);
	scan->reader->shared_init(scan, (char *) coordinate + layout->reader_offset);
}

/* Resets the reader's coordinator for a rescan. */
static void
hvcsvReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
								void *coordinate)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	ScanSharedLayout *layout = coordinate;

	scan->reader->shared_reinit(scan, (char *) coordinate + layout->reader_offset);
}

/* A worker joins the scan, and the refresh's watch and filter if any. */
static void
hvcsvInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	ScanSharedLayout *layout = coordinate;
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);

	if (layout->watch_offset)
		hvcsv_key_watch_attach(relid, (char *) coordinate + layout->watch_offset);
	if (layout->filter_offset)
		hvcsv_row_filter_attach(relid, (char *) coordinate + layout->filter_offset);
	scan->shared = (char *) coordinate + layout->reader_offset;
}

/*
 * Before the shared memory goes; every process has finished its part by
 * now, so the leader takes the watch's and the filter's totals.
 */
static void
hvcsvShutdownForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;

	if (scan && scan->reader->shared_finish)
		scan->reader->shared_finish(scan);
	if (!IsParallelWorker())
	{
		hvcsv_key_watch_gather(node->ss.ss_currentRelation);
		hvcsv_row_filter_gather(node->ss.ss_currentRelation);
	}
}

/*
 * ANALYZE: reads every record through the table's reader and keeps a
 * random sample (Vitter's reservoir); only the rows kept are converted.
 */
static int
acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HvcsvOptions *opts = hvcsv_get_options(RelationGetRelid(rel), GetUserId());
	List	   *all_atts = NIL;
	HvcsvScan  *scan;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	ReservoirStateData rstate;
	double		rows_seen = 0;
	double		rows_to_skip = -1;
	int			nrows = 0;

	for (int a = 0; a < desc->natts; a++)
		if (!TupleDescAttr(desc, a)->attisdropped)
			all_atts = lappend_int(all_atts, a);
	scan = scan_create(rel, opts, all_atts, opts->reader);
	scan_start(scan);
	reservoir_init_selection_state(&rstate, targrows);

	scan->errcallback.previous = error_context_stack;
	error_context_stack = &scan->errcallback;
	while (!scan->at_end && scan->reader->next(scan))
	{
		int			k = -1;
		bool		built = false;

		/* With on_error 'skip', a row must convert to count at all. */
		if (opts->on_error_skip)
		{
			if (!hvcsv_build_or_reject(scan, slot))
				continue;
			built = true;
		}
		if (nrows < targrows)
			k = nrows++;
		else
		{
			if (rows_to_skip < 0)
				rows_to_skip = reservoir_get_next_S(&rstate, rows_seen, targrows);
			if (rows_to_skip <= 0)
			{
				k = (int) (targrows * sampler_random_fract(&rstate.randstate));
				heap_freetuple(rows[k]);
			}
			rows_to_skip--;
		}
		if (k >= 0)
		{
			if (!built)
				hvcsv_tuple_build(scan->builder, &scan->stream->rec, slot);
			rows[k] = heap_form_tuple(desc, slot->tts_values, slot->tts_isnull);
		}
		rows_seen += 1;
	}
	error_context_stack = scan->errcallback.previous;
	if (scan->started)
		scan->reader->end(scan);
	ExecDropSingleTupleTableSlot(slot);

	*totalrows = rows_seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": read %.0f rows, kept a sample of %d",
					RelationGetRelationName(rel), rows_seen, nrows)));
	return nrows;
}

/* ANALYZE works on every reader; pages are counted from the spool's size. */
static bool
hvcsvAnalyzeForeignTable(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	HvcsvOptions *opts = hvcsv_get_options(RelationGetRelid(rel), GetUserId());
	int64		size;

	*func = acquire_sample_rows;
	*totalpages = hvcsv_spool_peek_size(opts, &size) ? Max(1, size / BLCKSZ) : 1;
	return true;
}

/* Returns the callbacks of hvcsv_fdw. */
Datum
hvcsv_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = hvcsvGetForeignRelSize;
	routine->GetForeignPaths = hvcsvGetForeignPaths;
	routine->GetForeignPlan = hvcsvGetForeignPlan;
	routine->ExplainForeignScan = hvcsvExplainForeignScan;
	routine->BeginForeignScan = hvcsvBeginForeignScan;
	routine->IterateForeignScan = hvcsvIterateForeignScan;
	routine->ReScanForeignScan = hvcsvReScanForeignScan;
	routine->EndForeignScan = hvcsvEndForeignScan;
	routine->IsForeignScanParallelSafe = hvcsvIsForeignScanParallelSafe;
	routine->EstimateDSMForeignScan = hvcsvEstimateDSMForeignScan;
	routine->InitializeDSMForeignScan = hvcsvInitializeDSMForeignScan;
	routine->ReInitializeDSMForeignScan = hvcsvReInitializeDSMForeignScan;
	routine->InitializeWorkerForeignScan = hvcsvInitializeWorkerForeignScan;
	routine->ShutdownForeignScan = hvcsvShutdownForeignScan;
	routine->AnalyzeForeignTable = hvcsvAnalyzeForeignTable;
	routine->ImportForeignSchema = hvcsvImportForeignSchema;
	PG_RETURN_POINTER(routine);
}

/* Accepts "error" or "warning" for hvcsv_fdw.refresh_failure. */
static bool
check_refresh_failure_mode(char **newval, void **extra, GucSource source)
{
	if (strcmp(*newval, "error") == 0 || strcmp(*newval, "warning") == 0)
		return true;
	GUC_check_errdetail("Valid values are \"error\" and \"warning\".");
	return false;
}

/* Sets up libcurl and the settings of hvcsv_fdw. */
void
_PG_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "could not initialize libcurl");

	DefineCustomStringVariable("hvcsv_fdw.spool_directory",
							   "Directory where downloaded CSV exports are kept.",
							   "A relative path is taken from the data directory. The default's name begins with pgsql_tmp, below a directory of its own, so that pg_basebackup and pg_rewind leave the spools out.",
							   &hvcsv_spool_directory,
							   "hvcsv_fdw/pgsql_tmp_spool",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("hvcsv_fdw.spool_max_size",
							"Most disk space the spools in hvcsv_fdw.spool_directory may take.",
							"A download that would pass it first removes spools that no session uses, least recently used first, then fails. 0 or -1 means no limit.",
							&hvcsv_spool_max_size,
							40 * 1024,
							-1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomStringVariable("hvcsv_fdw.refresh_failure",
							   "What hvcsv_refresh() does when a table fails: error or warning.",
							   "With error (the default), a WARNING per failed table and an ERROR at the end, so schedulers record the run as failed; tables that succeeded stay refreshed.",
							   &hvcsv_refresh_failure_mode,
							   "error",
							   PGC_USERSET,
							   0,
							   check_refresh_failure_mode, NULL, NULL);
	DefineCustomStringVariable("hvcsv_fdw.allowed_hosts",
							   "Hosts that hvcsv_fdw servers and redirects may reach; empty means any.",
							   "A comma-separated list of host names and IP addresses (IPv6 in brackets), each optionally with a leading \"*.\" for the names below it and a trailing :port.",
							   &hvcsv_allowed_hosts,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   hvcsv_check_allowed_hosts, NULL, NULL);
	DefineCustomStringVariable("hvcsv_fdw.max_bytes",
							   "Largest response body hvcsv_fdw accepts, whatever a server's max_bytes says.",
							   "A size such as 10GB, counted in decoded bytes; -1 means no limit.",
							   &hvcsv_max_bytes_setting,
							   "10GB",
							   PGC_SUSET,
							   0,
							   hvcsv_check_max_bytes, hvcsv_assign_max_bytes, NULL);
	MarkGUCPrefixReserved("hvcsv_fdw");
}
