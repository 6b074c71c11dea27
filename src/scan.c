/*-------------------------------------------------------------------------
 * scan.c
 *	  One scan of a foreign table: starts its reader, reads or skips the
 *	  header, turns records into rows under a COPY-like error context, and
 *	  lays out a parallel scan's shared memory.
 *
 * What every reader and every caller (the FDW callbacks, ANALYZE) would
 * otherwise repeat lives here, so that the readers and hvcsv_fdw.c never
 * call each other.  A module above may watch scans through the hook table
 * (HvcsvScanHooks): the scan asks once whether it is watched, so a scan no
 * one watches pays one test per row.  The scan never names the module.
 *
 * on_error 'skip': a row is rejected for the wrong number of fields,
 * invalid encoding, or a value its column's type refuses.  The type input
 * functions report that with ERROR, so in skip mode each row is converted
 * in a subtransaction (PostgreSQL 15 has no soft input errors), which
 * costs a subtransaction a row, and only in skip mode.  Subtransactions are
 * not allowed in a parallel scan, so a table with on_error 'skip' is never
 * scanned in parallel.  reject_limit ends the scan with an error once more rows than
 * it allows were rejected.  A watcher of the scan gets each rejected row;
 * otherwise the count is reported when the scan ends (unless log_verbosity
 * is 'silent'), and with 'verbose' each row too, as COPY does.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "export_list.h"
#include "http.h"
#include "progress.h"
#include "scan.h"

/* Longest value shown in an error context, in bytes. */
#define MAX_SHOWN_VALUE 100

/* Rows between two progress reports. */
#define PROGRESS_EVERY_ROWS 1024

/* Bytes of a rejected record, and of its error message, a watcher gets. */
#define MAX_RAW_BYTES 1000
#define MAX_ERROR_BYTES 1000

static const HvcsvScanHooks *hooks = NULL;

/*
 * The start of a parallel scan's shared memory: where the hooks' part (0
 * if none) and the reader's coordinator are, and the counts EXPLAIN
 * ANALYZE shows of every process, added as each one finishes.
 */
typedef struct ScanSharedLayout
{
	Size		hooks_offset;
	Size		reader_offset;
	pg_atomic_uint64 rows_padded;
	pg_atomic_uint64 rows_trimmed;
} ScanSharedLayout;

/* Sets the hook table; from _PG_init, once. */
void
hvcsv_scan_set_hooks(const HvcsvScanHooks *new_hooks)
{
	hooks = new_hooks;
}

/* Whether scans of relid should read all of it, in partitions if they can. */
bool
hvcsv_scan_reads_whole(Oid relid)
{
	return hooks != NULL && hooks->whole_read(relid);
}

/*
 * Whether the scan reads export i of several: not if its watcher needs
 * none of its rows (it read them before).
 */
bool
hvcsv_scan_reads_export(HvcsvScan *scan, int i)
{
	return !scan->observed || hooks->reads_export(scan, i);
}

/* Renders a value for a message, clipped to MAX_SHOWN_VALUE bytes. */
static char *
shown_value(const char *value, size_t len)
{
	size_t		clip = len;

	if (pg_verifymbstr(value, len, true))
		clip = pg_mbcliplen(value, len, MAX_SHOWN_VALUE);
	else
		clip = Min(len, MAX_SHOWN_VALUE);
	return hvcsv_printable(value, clip, clip < len);
}

/*
 * Error context: the table, the export if the table has several, the
 * line, and the column and value if any.
 */
static void
scan_error_context(void *arg)
{
	HvcsvScan  *scan = (HvcsvScan *) arg;
	HvcsvTupleBuilder *b = scan->builder;
	const char *relname = RelationGetRelationName(scan->rel);
	uint64		line = scan->stream ? scan->stream->rec.line : 0;
	char	   *table;

	table = scan->export_display ?
		psprintf("foreign table \"%s\", export \"%s\"", relname, scan->export_display) :
		psprintf("foreign table \"%s\"", relname);
	if (b && b->current_att >= 0)
		errcontext("%s, line " UINT64_FORMAT ", column %s: \"%s\"",
				   table, line,
				   NameStr(TupleDescAttr(RelationGetDescr(scan->rel), b->current_att)->attname),
				   shown_value(b->current_value, b->current_len));
	else if (line > 0)
		errcontext("%s, line " UINT64_FORMAT, table, line);
	else
		errcontext("%s", table);
}

static void
push_context(HvcsvScan *scan)
{
	scan->errcallback.previous = error_context_stack;
	error_context_stack = &scan->errcallback;
}

static void
pop_context(HvcsvScan *scan)
{
	error_context_stack = scan->errcallback.previous;
}

/* Makes the state of a scan of rel; its reader starts when first asked. */
HvcsvScan *
hvcsv_scan_create(Relation rel, HvcsvOptions *opts, List *needed_atts,
				  const HvcsvReaderRoutine *reader)
{
	HvcsvScan  *scan = palloc0(sizeof(HvcsvScan));

	scan->rel = rel;
	scan->cxt = CurrentMemoryContext;
	scan->opts = opts;
	scan->needed_atts = needed_atts;
	scan->reader = reader;
	scan->errcallback.callback = scan_error_context;
	scan->errcallback.arg = scan;
	return scan;
}

/*
 * Starts the reader on export i of a table with several: its own spool or
 * request, its own header (so columns are matched to each export's), in
 * a memory context that the next export resets.  An export with no header
 * line holds no rows and does not end the scan, nor does one skipped as
 * missing.  When the reader planned over all the exports, their spools
 * were checked then and the missing ones left out, so it begins without
 * a subtransaction (which a parallel worker could not start).
 */
static void
open_export(HvcsvScan *scan, int i)
{
	HvcsvExport *e = list_nth(scan->exports, i);
	MemoryContext old = MemoryContextSwitchTo(scan->export_cxt);

	scan->export_index = i;
	scan->opts->url = e->url;
	scan->export_display = e->display;
	scan->stream = NULL;
	scan->builder = NULL;
	scan->reader_state = NULL;
	scan->reader_open = false;
	scan->export_missing = false;
	if (!hvcsv_scan_reads_export(scan, i))
		scan->at_end = true;
	else if (scan->exports_missing && scan->exports_missing[i])
		scan->export_missing = true;
	else
	{
		scan->reader_open = true;
		scan->reader->begin(scan);
	}
	if (scan->export_missing)
	{
		if (scan->reader_open)
			scan->reader->end(scan);
		scan->reader_open = false;
		scan->exports_skipped++;
		scan->stream = NULL;
		scan->builder = NULL;
		scan->reader_state = NULL;
		MemoryContextReset(scan->export_cxt);
		scan->at_end = true;
	}
	scan->export_empty = scan->at_end;
	scan->at_end = false;
	MemoryContextSwitchTo(old);
}

/* Ends the reader on the current export and frees what it held. */
static void
close_export(HvcsvScan *scan)
{
	if (scan->reader_open)
		scan->reader->end(scan);
	scan->reader_open = false;
	scan->stream = NULL;
	scan->builder = NULL;
	scan->reader_state = NULL;
	scan->export_display = NULL;
	MemoryContextReset(scan->export_cxt);
}

/*
 * Claims the reader's next partition, first opening its export if the
 * reader planned over all of them and another is open; false when none is
 * left (of the export open, if it did not).
 */
static bool
next_part(HvcsvScan *scan)
{
	int			i = scan->reader->claim(scan);

	if (i < 0)
		return false;
	if (scan->exports_planned && i != scan->export_index)
	{
		close_export(scan);
		open_export(scan, i);
	}
	return true;
}

/*
 * Moves the scan to the reader's next partition if it claims them, else
 * a table with several exports to the next one; false after the last (or
 * for a table with one path).  A paginated table's next page is learnt
 * from the page just read, so a rescan follows the pages already known.
 */
static bool
next_export(HvcsvScan *scan)
{
	if (scan->reader->claim != NULL && next_part(scan))
		return true;
	if (scan->exports == NIL || scan->exports_planned)
		return false;
	if (scan->export_index + 1 >= list_length(scan->exports))
	{
		MemoryContext old;
		HvcsvExport *page;

		if (!scan->opts->paginate)
			return false;
		old = MemoryContextSwitchTo(scan->cxt);
		page = hvcsv_export_next_page(scan->opts, scan->exports);
		if (page != NULL)
			scan->exports = lappend(scan->exports, page);
		MemoryContextSwitchTo(old);
		if (page == NULL)
			return false;
	}
	close_export(scan);
	open_export(scan, scan->export_index + 1);
	return true;
}

/*
 * Whether the reader plans partitions over all of a table's exports; not
 * over a paginated table's, whose pages are known one at a time.
 */
static bool
plans_over_exports(const HvcsvScan *scan)
{
	return scan->reader->plan_exports != NULL && !scan->opts->paginate;
}

/*
 * Brings the spool of every export the scan reads up to date before the
 * first is read: side by side, each then found fresh, and the missing
 * ones noted (missing_exports 'skip'), so that the scan skips them
 * without a request or a subtransaction, which parallel mode refuses.  A
 * watcher's scan checks only the exports it reads.
 */
static void
check_exports(HvcsvScan *scan)
{
	int			n = list_length(scan->exports);
	List	   *read = NIL;
	HvcsvSpoolCheck *checks;
	int			j = 0;

	for (int i = 0; i < n; i++)
		if (hvcsv_scan_reads_export(scan, i))
			read = lappend(read, list_nth(scan->exports, i));
	checks = hvcsv_spool_check_exports(scan->opts, read);
	scan->exports_missing = palloc0(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		if (hvcsv_scan_reads_export(scan, i))
			scan->exports_missing[i] = checks[j++].missing;
}

/*
 * Starts the reader if it has not started: the spool or the request, the
 * header; for a table with several exports, the list of them (fetching a
 * manifest) and the first, or the reader's plan over them all, with no
 * export open until a partition of one is claimed.  Whether the scan is
 * watched is settled here, after a parallel worker has attached the hooks'
 * shared state.
 */
static void
scan_start(HvcsvScan *scan)
{
	MemoryContext old;

	if (scan->started)
		return;
	scan->observed = hooks != NULL && hooks->observes(RelationGetRelid(scan->rel));
	/* Callers may run in a short-lived context; the reader must outlive it. */
	old = MemoryContextSwitchTo(scan->cxt);
	if (scan->observed && hooks->request_url(scan))
		scan->opts->url = pstrdup(hooks->request_url(scan));
	push_context(scan);
	scan->started = true;
	if (hvcsv_has_export_list(scan->opts))
	{
		scan->export_cxt = AllocSetContextCreate(scan->cxt, "hvcsv_fdw export",
												 ALLOCSET_DEFAULT_SIZES);
		if (plans_over_exports(scan))
		{
			scan->exports_planned = true;
			scan->reader->plan_exports(scan);
			scan->export_index = -1;
			scan->export_empty = true;
		}
		else if ((scan->exports = hvcsv_export_list(scan->opts)) != NIL)
		{
			/* Pages are known one at a time; the streaming reader keeps no spool. */
			if (!scan->opts->paginate && scan->opts->reader != HVCSV_READER_STREAMING)
				check_exports(scan);
			open_export(scan, 0);
		}
		else
			scan->at_end = true;
	}
	else
	{
		scan->reader_open = true;
		scan->reader->begin(scan);
	}
	pop_context(scan);
	MemoryContextSwitchTo(old);
}

/*
 * Renders why a row was rejected: the message, after the column's name if
 * a column's value was refused, clipped (an input function's message may
 * quote a value of any size).
 */
static char *
describe_reject(HvcsvScan *scan, int att, const char *message)
{
	size_t		len = strlen(message);
	size_t		clip = pg_mbcliplen(message, len, MAX_ERROR_BYTES);

	if (att < 0)
		return psprintf("%.*s%s", (int) clip, message, clip < len ? "..." : "");
	return psprintf("column %s: %.*s%s",
					NameStr(TupleDescAttr(RelationGetDescr(scan->rel), att)->attname),
					(int) clip, message, clip < len ? "..." : "");
}

/* Describes the record rejected last, for a watcher of the scan that keeps it. */
HvcsvReject *
hvcsv_describe_reject(HvcsvScan *scan, int att, const char *message)
{
	CsvStream  *s = scan->stream;
	HvcsvReject *r = palloc(sizeof(HvcsvReject));
	const char *raw = s->buf + (s->record_offset - s->buf_offset);
	size_t		len = s->rec.length;

	r->line = s->rec.line;
	r->byte_offset = s->record_offset;
	r->error = describe_reject(scan, att, message);
	while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		len--;
	r->raw = hvcsv_printable(raw, Min(len, MAX_RAW_BYTES), len > MAX_RAW_BYTES);
	return r;
}

/* Says that a row was rejected, and why; freed at once, as a scan may reject every row. */
static void
report_reject(HvcsvScan *scan, int att, const char *message)
{
	char	   *why = describe_reject(scan, att, message);

	ereport(NOTICE,
			(errmsg("skipping row at line %llu of foreign table \"%s\": %s",
					(unsigned long long) scan->stream->rec.line,
					RelationGetRelationName(scan->rel), why)));
	pfree(why);
}

/*
 * Counts a rejected row (att is the column whose value was refused, or -1),
 * and stops the scan past reject_limit.  Nothing is allocated unless the
 * row is kept or the limit is passed: a scan may reject every row.
 */
static void
reject(HvcsvScan *scan, int att, const char *message)
{
	scan->rows_rejected++;
	if (scan->observed)
		hooks->reject(scan, att, message);
	else if (scan->opts->log_verbosity == HVCSV_LOG_VERBOSE)
		report_reject(scan, att, message);
	if (scan->opts->reject_limit > 0 && scan->rows_rejected > (uint64) scan->opts->reject_limit)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("more than " INT64_FORMAT " rows of foreign table \"%s\" were rejected",
						scan->opts->reject_limit, RelationGetRelationName(scan->rel)),
				 errdetail("The last one: %s", describe_reject(scan, att, message))));
}

/* Counts a row built from a record padded or trimmed to the table's fields. */
static inline void
count_fit(HvcsvScan *scan, HvcsvFieldCount fit)
{
	if (unlikely(fit != HVCSV_FIELDS_EXACT))
	{
		if (fit == HVCSV_FIELDS_PADDED)
			scan->rows_padded++;
		else
			scan->rows_trimmed++;
	}
}

/*
 * Converts the current record into slot in a subtransaction; a record that
 * cannot be converted is rejected instead and false returned.
 */
static bool
build_in_subtransaction(HvcsvScan *scan, TupleTableSlot *slot)
{
	HvcsvTupleBuilder *b = scan->builder;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool built = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		hvcsv_tuple_build(b, &scan->stream->rec, slot);
		ReleaseCurrentSubTransaction();
		built = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			att = b->current_att;

		/*
		 * The copy goes where the row's values went, which the next row
		 * resets, so none of it stays behind however many rows are
		 * rejected (FreeErrorData() leaves some memory behind for every row).
		 */
		MemoryContextSwitchTo(b->tuple_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		b->current_att = -1;
		ExecClearTuple(slot);
		reject(scan, att, edata->message);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return built;
}

/*
 * Converts the current record into slot; with on_error 'skip', a record
 * that cannot be converted is rejected instead and false returned.
 */
static bool
build_or_reject(HvcsvScan *scan, TupleTableSlot *slot)
{
	HvcsvTupleBuilder *b = scan->builder;
	const CsvRecord *rec = &scan->stream->rec;
	HvcsvFieldCount fit = hvcsv_tuple_field_count(b, rec);

	if (!scan->opts->on_error_skip)
		hvcsv_tuple_build(b, rec, slot);
	else if (fit == HVCSV_FIELDS_WRONG)
	{
		char		message[128];

		snprintf(message, sizeof(message), "wrong number of fields: %d, but %d are expected",
				 rec->nfields, b->map->nfields);
		reject(scan, -1, message);
		return false;
	}
	else if (!build_in_subtransaction(scan, slot))
		return false;
	count_fit(scan, fit);
	return true;
}

/* Says how many rows a scan rejected, when it ends. */
static void
report_rejects(HvcsvScan *scan)
{
	if (scan->rows_rejected > 0 && !scan->observed &&
		scan->opts->log_verbosity != HVCSV_LOG_SILENT)
		ereport(NOTICE,
				(errmsg_plural("%llu row of foreign table \"%s\" was rejected",
							   "%llu rows of foreign table \"%s\" were rejected",
							   scan->rows_rejected,
							   (unsigned long long) scan->rows_rejected,
							   RelationGetRelationName(scan->rel))));
}

/*
 * The reader's next record; false at the end (this process's part of it;
 * of the last export, for a table with several).
 */
static bool
next_record(HvcsvScan *scan)
{
	if (scan->at_end)
		return false;
	do
	{
		if (!scan->export_empty && scan->reader->next(scan))
			return true;
	} while (next_export(scan));
	scan->at_end = true;
	if (scan->observed)
		hooks->part_done(scan);
	return false;
}

/* Counts a row returned, and lets the hooks drop it. */
static bool
row_returned(HvcsvScan *scan, TupleTableSlot *slot)
{
	scan->rows++;
	if (scan->rows % PROGRESS_EVERY_ROWS == 0)
		hvcsv_progress_rows(scan->rows);
	if (unlikely(scan->observed) && !hooks->row(scan, slot))
	{
		/* The caller takes a filled slot for a row. */
		ExecClearTuple(slot);
		return false;
	}
	return true;
}

/* Reads the next row into slot; false at the end. */
bool
hvcsv_scan_next(HvcsvScan *scan, TupleTableSlot *slot)
{
	bool		found = false;

	scan_start(scan);
	push_context(scan);
	while (!found && next_record(scan))
		found = build_or_reject(scan, slot) && row_returned(scan, slot);
	pop_context(scan);
	return found;
}

/* Reads the next record without building it (ANALYZE samples); false at the end. */
bool
hvcsv_scan_next_record(HvcsvScan *scan)
{
	bool		found;

	scan_start(scan);
	push_context(scan);
	found = next_record(scan);
	pop_context(scan);
	return found;
}

/* Builds the record read last into slot; false if on_error 'skip' rejected it. */
bool
hvcsv_scan_build(HvcsvScan *scan, TupleTableSlot *slot)
{
	bool		built;

	push_context(scan);
	built = build_or_reject(scan, slot);
	pop_context(scan);
	return built;
}

/*
 * Starts the scan over from the first row (of the first export, for a
 * table with several, whose list is not asked for again; from the first
 * partition, if the reader planned over them all, with the export open
 * left open).
 */
void
hvcsv_scan_rescan(HvcsvScan *scan)
{
	if (scan->exports != NIL && !scan->exports_planned)
	{
		push_context(scan);
		close_export(scan);
		scan->at_end = false;
		scan->exports_skipped = 0;
		open_export(scan, 0);
		pop_context(scan);
	}
	else if (!scan->started || (scan->builder == NULL && !scan->exports_planned))
		return;
	else
	{
		scan->reader->rescan(scan);
		scan->at_end = false;
	}
	scan->rows = 0;
}

/* Releases what the reader holds, and says how many rows were rejected. */
void
hvcsv_scan_end(HvcsvScan *scan)
{
	if (!scan->started)
		return;
	if (scan->reader_open)
		scan->reader->end(scan);
	report_rejects(scan);
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
		hvcsv_stream_skip_bom(scan->stream);
	map = hvcsv_column_map_create(scan->rel, opts, scan->stream);
	if (map == NULL)
	{
		scan->at_end = true;
		return;
	}
	if (scan->exports != NIL)
	{
		HvcsvExport *e = list_nth(scan->exports, scan->export_index);

		scan->builder = hvcsv_tuple_builder_create(scan->rel, map, scan->needed_atts, opts,
												   e->path, e->display);
	}
	else
		scan->builder = hvcsv_tuple_builder_create(scan->rel, map, scan->needed_atts, opts,
												   opts->path, hvcsv_display_url(opts));
	hvcsv_tuple_builder_select(scan->builder, scan->stream);
}

/* Passes over the header again, after a reader restarted from the top. */
void
hvcsv_scan_skip_header(HvcsvScan *scan)
{
	if (scan->opts->encoding == PG_UTF8)
		hvcsv_stream_skip_bom(scan->stream);
	if (scan->opts->header != HVCSV_HEADER_NONE && scan->builder)
		(void) hvcsv_stream_next(scan->stream);
}

/* Fills in where each part of the scan's shared memory goes; returns its size. */
static Size
shared_layout(HvcsvScan *scan, ScanSharedLayout *layout)
{
	Size		hooks_size = scan->observed ? hooks->shared_size(scan) : 0;
	Size		offset = MAXALIGN(sizeof(ScanSharedLayout));

	layout->hooks_offset = hooks_size ? offset : 0;
	offset += MAXALIGN(hooks_size);
	layout->reader_offset = offset;
	return offset + scan->reader->shared_size(scan);
}

/*
 * Sizes a parallel scan's shared memory.  This runs when the Gather
 * starts, so the leader opens (and if needed fetches) the spool, or every
 * export's, here to count the partitions.
 */
Size
hvcsv_scan_shared_size(HvcsvScan *scan)
{
	ScanSharedLayout layout;

	scan_start(scan);
	return shared_layout(scan, &layout);
}

/* The leader fills the shared memory at coordinate. */
void
hvcsv_scan_shared_init(HvcsvScan *scan, void *coordinate)
{
	ScanSharedLayout *layout = coordinate;

	(void) shared_layout(scan, layout);
	pg_atomic_init_u64(&layout->rows_padded, 0);
	pg_atomic_init_u64(&layout->rows_trimmed, 0);
	scan->layout = layout;
	if (layout->hooks_offset)
		hooks->share(scan, (char *) coordinate + layout->hooks_offset);
	scan->reader->shared_init(scan, (char *) coordinate + layout->reader_offset);
}

/* Resets the reader's coordinator for a rescan. */
void
hvcsv_scan_shared_reinit(HvcsvScan *scan, void *coordinate)
{
	ScanSharedLayout *layout = coordinate;

	scan->reader->shared_reinit(scan, (char *) coordinate + layout->reader_offset);
}

/* A worker joins the scan, and the hooks' shared state if any. */
void
hvcsv_scan_shared_attach(HvcsvScan *scan, void *coordinate)
{
	ScanSharedLayout *layout = coordinate;

	if (layout->hooks_offset)
		hooks->attach(RelationGetRelid(scan->rel), (char *) coordinate + layout->hooks_offset);
	scan->shared = (char *) coordinate + layout->reader_offset;
	scan->layout = layout;
}

/*
 * Adds this process's count to a shared one; the leader, which finishes
 * after the workers, keeps the total.
 */
static void
gather_count(pg_atomic_uint64 *shared, uint64 *count)
{
	uint64		others = pg_atomic_fetch_add_u64(shared, *count);

	*count = IsParallelWorker() ? 0 : *count + others;
}

/*
 * Before the shared memory goes; every process has finished its part by
 * now, so the leader takes the totals and lets the hooks take theirs.
 */
void
hvcsv_scan_shared_finish(HvcsvScan *scan)
{
	if (scan->layout)
	{
		gather_count(&scan->layout->rows_padded, &scan->rows_padded);
		gather_count(&scan->layout->rows_trimmed, &scan->rows_trimmed);
	}
	if (scan->reader->shared_finish)
		scan->reader->shared_finish(scan);
	if (scan->observed && !IsParallelWorker())
		hooks->gather(scan);
}
