/*-------------------------------------------------------------------------
 * hvcsv_fdw.c
 *	  The foreign data wrapper: planning, EXPLAIN, the scan's callbacks,
 *	  ANALYZE and _PG_init, as file_fdw.c has them.
 *
 * The reader is chosen at plan time (readers.c); the callbacks hand the
 * scan to scan.c, which starts the reader and turns its records into
 * tuples.  Nothing is fetched until the first row is asked for, so EXPLAIN
 * (without ANALYZE) never downloads.  _PG_init lets each module define its
 * own settings, and the refresh register its hooks into the scan.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <math.h>

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
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "compat.h"
#include "export_list.h"
#include "http.h"
#include "hvcsv_fdw.h"
#include "option.h"
#include "scan.h"
#include "spool.h"


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
	double		partitions;		/* the partitioned reader's, about */
} HvcsvPlanState;

/* The largest export an unspooled partitioned table is planned for. */
#define HVCSV_UNSPOOLED_PLAN_MAX ((double) 1024 * 1024 * 1024)

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

/*
 * The options a scan of foreigntableid is planned with.  A scan that reads
 * all of a spooled export (a refresh's) cuts the projected reader's spool
 * into partitions too, which a parallel scan may share (its row index is
 * built while any spool downloads).
 */
static HvcsvOptions *
planned_options(Oid foreigntableid, Oid userid)
{
	HvcsvOptions *opts = hvcsv_get_options(foreigntableid, userid);

	if (opts->reader == HVCSV_READER_PROJECTED && hvcsv_scan_reads_whole(foreigntableid))
		opts->reader = HVCSV_READER_PARTITIONED;
	return opts;
}

/*
 * The size of the table's spool, or of its exports' spools added up (those
 * known without fetching that have one), without fetching; returns how
 * many spools that counts.
 */
static int
spooled_size(const HvcsvOptions *opts, int64 *size)
{
	if (hvcsv_has_export_list(opts))
		return hvcsv_exports_spool_size(opts, hvcsv_export_list_known(opts), size);
	return hvcsv_spool_peek_size(opts, size) ? 1 : 0;
}

/*
 * The size a table is planned for before its first download.  Other readers
 * assume a modest file, as file_fdw does.  The partitioned reader is chosen
 * for big exports, so it assumes one just big enough for the workers
 * max_parallel_workers_per_gather allows, by the planner's rule for the
 * workers of a size and by its own of one partition per participant: the
 * first query, which downloads the export, gets a parallel plan too.  When
 * the spool turns out small, a participant reads it alone and the others
 * find no partition to claim.  A HEAD request for the size was not taken:
 * it would make planning, and so EXPLAIN, talk to the server, and many
 * pre-signed download URLs are signed for GET alone.
 */
static double
unspooled_plan_size(const HvcsvOptions *opts)
{
	int			workers = max_parallel_workers_per_gather;
	double		size = 10.0 * BLCKSZ;

	if (opts->reader == HVCSV_READER_PARTITIONED && workers > 0)
	{
		size = Max(size, (double) min_parallel_table_scan_size * BLCKSZ *
				   pow(3.0, workers - 1));
		size = Max(size, (double) opts->block_size * (workers + 1));
		size = Min(size, (double) HVCSV_UNSPOOLED_PLAN_MAX);
	}
	return size;
}

/* Estimates rows from ANALYZE if it ran, else from the spool's size. */
static void
hvcsvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	HvcsvPlanState *ps = palloc0(sizeof(HvcsvPlanState));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	int64		spooled;
	double		size;
	int			spools;
	int			tuple_width;

	ps->opts = planned_options(foreigntableid, userid);
	ps->needed_atts = needed_attributes(root, baserel, foreigntableid);

	spools = spooled_size(ps->opts, &spooled);
	size = spools > 0 ? (double) spooled : unspooled_plan_size(ps->opts);
	ps->pages = Max(1.0, ceil(size / BLCKSZ));
	/* At most: each spool's last partition may be short of block_size. */
	ps->partitions = floor(size / ps->opts->block_size) + Max(spools, 1);

	if (baserel->tuples >= 0 && baserel->pages > 0)
		ps->ntuples = baserel->tuples;
	else
	{
		tuple_width = MAXALIGN(baserel->reltarget->width) + MAXALIGN(SizeofHeapTupleHeader);
		ps->ntuples = clamp_row_est(size / (double) tuple_width);
	}
	baserel->fdw_private = ps;
	baserel->rows = clamp_row_est(ps->ntuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
}

/*
 * Offers a sequential read of the whole export and, for the partitioned
 * reader on exports big enough or many enough to pay for workers, a
 * partial path that a Gather runs in parallel.  A paginated table's pages
 * are known one at a time, so they are read serially.
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
		ps->opts->paginate || !baserel->consider_parallel)
		return;
	workers = compute_parallel_worker(baserel, ps->pages, -1,
									  max_parallel_workers_per_gather);
	/* No more workers than partitions, less the leader's. */
	workers = Min(workers, (int) ps->partitions - 1);
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

/* The names of the columns atts (0-based) lists, comma-separated, or "none". */
static char *
column_names(Relation rel, List *atts)
{
	StringInfoData cols;
	ListCell   *cell;

	initStringInfo(&cols);
	foreach(cell, atts)
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "",
						 NameStr(TupleDescAttr(RelationGetDescr(rel), lfirst_int(cell))->attname));
	return cols.len ? cols.data : "none";
}

/*
 * Shows the file's compression when it is known: the option's value when
 * it names one (or "none"); with "auto", after the scan ran, the format
 * found when the file was fetched (the spool records it), if it was
 * compressed.
 */
static void
explain_compression(const HvcsvOptions *opts, const HvcsvScan *scan, ExplainState *es)
{
	if (opts->compression != HVCSV_COMPRESSION_AUTO)
		ExplainPropertyText("Compression", hvcsv_compression_name(opts->compression), es);
	else if (scan && scan->compression != HVCSV_COMPRESSION_AUTO &&
			 scan->compression != HVCSV_COMPRESSION_NONE)
		ExplainPropertyText("Compression",
							psprintf("%s (detected)", hvcsv_compression_name(scan->compression)),
							es);
}

/*
 * For a table with several exports: how many, when known without fetching
 * (a manifest's are known after a run), their spools' total size (and how
 * many have one, if not all), and after a run how many were skipped as
 * missing.
 */
static void
explain_exports(HvcsvScan *scan, const HvcsvOptions *opts, HvcsvReaderKind kind,
				ExplainState *es)
{
	List	   *exports = scan ? scan->exports : hvcsv_export_list_known(opts);
	int64		size;
	int			spooled = hvcsv_exports_spool_size(opts, exports, &size);

	if (scan == NULL && opts->manifest)
		ExplainPropertyText("Exports", "listed in the manifest, not fetched yet", es);
	else
		ExplainPropertyInteger("Exports", NULL, list_length(exports), es);
	if (scan && hvcsv_skips_missing_exports(opts))
		ExplainPropertyInteger("Exports Skipped", NULL, scan->exports_skipped, es);
	if (kind == HVCSV_READER_STREAMING)
		ExplainPropertyText("Spool", "none (streaming)", es);
	else if (spooled > 0)
	{
		ExplainPropertyInteger("Spool Size", "bytes", size, es);
		if (spooled < list_length(exports))
			ExplainPropertyInteger("Exports Spooled", NULL, spooled, es);
	}
	else if (scan == NULL)
		ExplainPropertyText("Spool", "not fetched yet", es);
}

/*
 * Shows the reader, the source without secrets, the file's compression
 * when known (see explain_compression), the columns converted and
 * the spool; after a run, also what opening the spool did, the bytes read,
 * the rows rejected, the rows padded or trimmed (with the options that
 * allow it), and the columns on_missing_columns 'keep' read as NULL
 * because the header lacks them (only if any: an export's dropped column
 * should stand out).
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
	bool		ran = scan && scan->started;

	ExplainPropertyText("Reader", hvcsv_reader_name(kind), es);
	ExplainPropertyText("Source", hvcsv_has_export_list(opts) ? hvcsv_exports_display(opts) :
						hvcsv_display_url(opts), es);
	explain_compression(opts, ran ? scan : NULL, es);
	ExplainPropertyText("Columns Converted", column_names(rel, needed), es);
	if (hvcsv_has_export_list(opts))
		explain_exports(ran ? scan : NULL, opts, kind, es);
	else
		hvcsv_reader_routine(kind)->explain(ran ? scan : NULL, opts, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Bytes Read", "bytes", ran ? scan->bytes_read : 0, es);
		ExplainPropertyInteger("Rows Rejected", NULL, ran ? scan->rows_rejected : 0, es);
		if (opts->pad_missing_fields)
			ExplainPropertyInteger("Rows Padded", NULL, ran ? scan->rows_padded : 0, es);
		if (opts->ignore_extra_fields)
			ExplainPropertyInteger("Rows Trimmed", NULL, ran ? scan->rows_trimmed : 0, es);
	}
	/* Without a header line (an empty export) nothing was matched. */
	if (es->analyze && ran && scan->builder && scan->builder->map->missing_atts)
		ExplainPropertyText("Columns Missing",
							column_names(rel, scan->builder->map->missing_atts), es);
}

/* Prepares the scan; nothing is fetched until the first row is asked for. */
static void
hvcsvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	node->fdw_state = hvcsv_scan_create(rel,
										hvcsv_get_options(RelationGetRelid(rel),
														  hvcsv_scan_user(node)),
										list_nth(plan->fdw_private, SCAN_PRIVATE_NEEDED_ATTS),
										hvcsv_reader_routine(intVal(list_nth(plan->fdw_private,
																			 SCAN_PRIVATE_READER))));
}

/* Returns the next row, or an empty slot at the end. */
static TupleTableSlot *
hvcsvIterateForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	(void) hvcsv_scan_next(scan, slot);
	return slot;
}

/* Starts the scan over from the first row. */
static void
hvcsvReScanForeignScan(ForeignScanState *node)
{
	hvcsv_scan_rescan((HvcsvScan *) node->fdw_state);
}

/* Releases what the reader holds. */
static void
hvcsvEndForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;

	if (scan)
		hvcsv_scan_end(scan);
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

	/*
	 * on_error 'skip' converts rows in subtransactions, which parallel mode
	 * refuses.  Missing exports need none: the leader's check of the
	 * exports notes them, and they get no partitions.
	 */
	return opts->reader == HVCSV_READER_PARTITIONED && !opts->on_error_skip;
}

/* Sizes a parallel scan's shared memory (the leader may fetch the spool here). */
static Size
hvcsvEstimateDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt)
{
	return hvcsv_scan_shared_size((HvcsvScan *) node->fdw_state);
}

static void
hvcsvInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
							  void *coordinate)
{
	hvcsv_scan_shared_init((HvcsvScan *) node->fdw_state, coordinate);
}

static void
hvcsvReInitializeDSMForeignScan(ForeignScanState *node, ParallelContext *pcxt,
								void *coordinate)
{
	hvcsv_scan_shared_reinit((HvcsvScan *) node->fdw_state, coordinate);
}

static void
hvcsvInitializeWorkerForeignScan(ForeignScanState *node, shm_toc *toc, void *coordinate)
{
	hvcsv_scan_shared_attach((HvcsvScan *) node->fdw_state, coordinate);
}

/* Before the shared memory goes: every process has finished its part. */
static void
hvcsvShutdownForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;

	if (scan)
		hvcsv_scan_shared_finish(scan);
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
	scan = hvcsv_scan_create(rel, opts, all_atts, hvcsv_reader_routine(opts->reader));
	reservoir_init_selection_state(&rstate, targrows);

	while (hvcsv_scan_next_record(scan))
	{
		int			k = -1;
		bool		built = false;

		/* With on_error 'skip', a row must convert to count at all. */
		if (opts->on_error_skip)
		{
			if (!hvcsv_scan_build(scan, slot))
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
				(void) hvcsv_scan_build(scan, slot);
			rows[k] = heap_form_tuple(desc, slot->tts_values, slot->tts_isnull);
		}
		rows_seen += 1;
	}
	hvcsv_scan_end(scan);
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
	*totalpages = spooled_size(opts, &size) > 0 ? Max(1, size / BLCKSZ) : 1;
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
	routine->ImportForeignSchema = hvcsv_import_foreign_schema;
	PG_RETURN_POINTER(routine);
}

/* Sets up each module: its settings, and the refresh's hooks into the scan. */
void
_PG_init(void)
{
	hvcsv_fetch_init();
	hvcsv_url_init();
	hvcsv_spool_init();
	hvcsv_spool_quota_init();
	hvcsv_refresh_init();
	MarkGUCPrefixReserved("hvcsv_fdw");
}
