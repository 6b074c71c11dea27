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

#include "access/table.h"
#include "commands/explain.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
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
		case HVCSV_READER_STREAMING:
			break;
	}
	elog(ERROR, "hvcsv_fdw reader \"%s\" is not built", hvcsv_reader_name(kind));
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

/* Estimates rows from ANALYZE if it ran, else from the spool's size. */
static void
hvcsvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	HvcsvPlanState *ps = palloc0(sizeof(HvcsvPlanState));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	int64		size;
	int			tuple_width;

	ps->opts = hvcsv_get_options(foreigntableid, userid);
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

/* Offers one path: a sequential read of the whole export. */
static void
hvcsvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	HvcsvPlanState *ps = (HvcsvPlanState *) baserel->fdw_private;
	Cost		startup_cost = baserel->baserestrictcost.startup;
	Cost		cpu_per_tuple;
	Cost		total_cost;

	/* Converting a field costs more than reading a heap column. */
	cpu_per_tuple = cpu_tuple_cost * (1 + list_length(ps->needed_atts)) +
		baserel->baserestrictcost.per_tuple;
	total_cost = startup_cost + seq_page_cost * ps->pages + cpu_per_tuple * ps->ntuples;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup_cost, total_cost, NIL,
									 NULL, NULL, NIL));
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

/* Shows the reader, the source without secrets, and the spool. */
static void
hvcsvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	HvcsvOptions *opts = hvcsv_get_options(RelationGetRelid(rel), hvcsv_scan_user(node));
	List	   *needed = list_nth(plan->fdw_private, SCAN_PRIVATE_NEEDED_ATTS);
	HvcsvReaderKind kind = intVal(list_nth(plan->fdw_private, SCAN_PRIVATE_READER));
	StringInfoData cols;
	ListCell   *cell;

	ExplainPropertyText("Reader", hvcsv_reader_name(kind), es);
	ExplainPropertyText("Source", hvcsv_redact_url(opts->url), es);
	initStringInfo(&cols);
	foreach(cell, needed)
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "",
						 NameStr(TupleDescAttr(RelationGetDescr(rel), lfirst_int(cell))->attname));
	ExplainPropertyText("Columns Converted", cols.len ? cols.data : "none", es);
	reader_routine(kind)->explain(opts, es);
}

/* Prepares the scan; the reader starts at the first row asked for. */
static void
hvcsvBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	HvcsvScan  *scan;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	scan = palloc0(sizeof(HvcsvScan));
	scan->rel = node->ss.ss_currentRelation;
	scan->opts = hvcsv_get_options(RelationGetRelid(scan->rel), hvcsv_scan_user(node));
	scan->needed_atts = list_nth(plan->fdw_private, SCAN_PRIVATE_NEEDED_ATTS);
	scan->reader = reader_routine(intVal(list_nth(plan->fdw_private, SCAN_PRIVATE_READER)));
	scan->cxt = CurrentMemoryContext;
	scan->errcallback.callback = hvcsv_error_context;
	scan->errcallback.arg = scan;
	node->fdw_state = scan;
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
	const CsvRecord *header = NULL;
	HvcsvColumnMap *map;

	if (opts->encoding == PG_UTF8)
		csv_stream_skip_bom(scan->stream);
	if (opts->header != HVCSV_HEADER_NONE)
	{
		csv_stream_select_all_fields(scan->stream);
		if (!csv_stream_next(scan->stream))
		{
			scan->at_end = true;
			return;
		}
		header = &scan->stream->rec;
	}
	map = hvcsv_column_map_create(scan->rel, opts->header, header, opts->encoding);
	scan->builder = hvcsv_tuple_builder_create(scan->rel, map, scan->needed_atts,
											   opts->encoding);
	hvcsv_tuple_builder_select(scan->builder, scan->stream);
}

/* Returns the next row, or an empty slot at the end. */
static TupleTableSlot *
hvcsvIterateForeignScan(ForeignScanState *node)
{
	HvcsvScan  *scan = (HvcsvScan *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);

	scan->errcallback.previous = error_context_stack;
	error_context_stack = &scan->errcallback;
	if (!scan->started)
	{
		/* Iterate runs in a per-tuple context; the reader must outlive it. */
		MemoryContext old = MemoryContextSwitchTo(scan->cxt);

		scan->started = true;
		scan->reader->begin(scan);
		MemoryContextSwitchTo(old);
	}
	if (!scan->at_end && scan->reader->next(scan))
	{
		hvcsv_tuple_build(scan->builder, &scan->stream->rec, slot);
		scan->rows++;
	}
	else
		scan->at_end = true;
	error_context_stack = scan->errcallback.previous;
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
		scan->reader->end(scan);
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
	PG_RETURN_POINTER(routine);
}

/* Sets up libcurl and the settings of hvcsv_fdw. */
void
_PG_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		elog(ERROR, "could not initialize libcurl");

	DefineCustomStringVariable("hvcsv_fdw.spool_directory",
							   "Directory where downloaded CSV exports are kept.",
							   "A relative path is taken from the data directory.",
							   &hvcsv_spool_directory,
							   "pg_hvcsv_spool",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	MarkGUCPrefixReserved("hvcsv_fdw");
}
