/*-------------------------------------------------------------------------
 * reader_partitioned.c
 *	  The partitioned reader: spools cut into block_size partitions at
 *	  exact record boundaries, read by a parallel scan.
 *
 * Partition bounds come from each spool's row index, so a quoted line
 * break never splits a record, nor does a quote in a comment line or in
 * the lines skip_lines skips (the index passes over those lines as the
 * tokenizer does).  A partition is the run of index entries covering
 * block_size bytes (rounded to the index's 64 kB granularity); a record
 * longer than that makes some partitions empty, which is harmless.  Its
 * first entry also gives the line breaks before it, so the lines a
 * partition's records report count from the top of their export.
 *
 * The plan lists the spools read and the partitions, each a byte range of
 * one of them.  Of a table with one path it cuts that spool (of a
 * paginated table, the page being read: pages are known one at a time).
 * Of a table with several exports it cuts them all together, so that
 * workers spread over many small exports as over the parts of a big one:
 * every export's spool is brought up to date first, and those missing
 * (missing_exports 'skip') or that the scan's watcher does not read have
 * no partitions.
 *
 * Under Gather, the leader plans and puts the plan (and the list of
 * exports, so that no worker asks for a manifest again) in dynamic shared
 * memory with a partition counter.  Every participant claims partitions
 * until none is left; on the first partition of an export it opens that
 * export's spool file by its path and reads its header itself, so that
 * columns are matched to each export's.  The shared state holds no
 * pointers.  Without a parallel context the same code claims partitions
 * from a local counter, one after another.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/parallel.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "export_list.h"
#include "scan.h"
#include "spool.h"


/* A spool file that the plan reads. */
typedef struct PlanExport
{
	int32		index;			/* into scan->exports (0 for one path) */
	uint32		data_path;		/* its file's path, at this offset in the strings */
	uint64		size;
} PlanExport;

/* A partition: records of one export's spool, from start up to end. */
typedef struct PlanPart
{
	uint32		export;			/* into the plan's exports */
	RowIndexEntry start;
	uint64		end;
} PlanPart;

/*
 * The plan, in one piece without pointers, so that it goes into shared
 * memory as it is: the exports (by index, ascending), then the partitions,
 * then the strings.
 */
typedef struct PartitionPlan
{
	Size		size;			/* of all of it */
	uint32		nexports;
	uint32		nparts;
	Size		parts_offset;
	Size		strings_offset;
	PlanExport	exports[FLEXIBLE_ARRAY_MEMBER];
} PartitionPlan;

/* The coordinator of a parallel scan, in dynamic shared memory. */
typedef struct PartitionedShared
{
	pg_atomic_uint32 next_partition;
	pg_atomic_uint64 bytes_read;	/* by every participant */
	Size		plan_offset;
	Size		exports_offset; /* the table's exports, or 0 for one spool */
} PartitionedShared;

/* What a process keeps of the plan for the whole scan (scan->reader_plan). */
typedef struct PartitionedScan
{
	PartitionPlan *plan;
	uint32		next_local;		/* the next partition, without a coordinator */
	int32		claimed;		/* claimed and not yet started, or -1 */
} PartitionedScan;

/* The export being read (scan->reader_state). */
typedef struct PartitionedState
{
	int			fd;
	const char *path;
	uint64		pos;			/* read position in the file */
	uint64		limit;			/* end of the partition being read */
	bool		in_partition;
	bool		after_header;	/* the stream has read nothing but the header */
	uint64		data_offset;	/* the first byte after the header */
	uint64		data_line_breaks;
} PartitionedState;

/* A plan being made: PlanExport and PlanPart pointers, and the strings. */
typedef struct PlanBuilder
{
	List	   *exports;
	List	   *parts;
	StringInfoData strings;
	MemoryContext spool_cxt;	/* for each spool's opening and index */
} PlanBuilder;

static inline PlanPart *
plan_parts(const PartitionPlan *plan)
{
	return (PlanPart *) ((char *) plan + plan->parts_offset);
}

static inline const char *
plan_string(const PartitionPlan *plan, uint32 offset)
{
	return (const char *) plan + plan->strings_offset + offset;
}

/* The plan's entry for export index (they are in ascending order). */
static const PlanExport *
plan_export(const PartitionPlan *plan, int index)
{
	uint32		lo = 0;
	uint32		hi = plan->nexports;

	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;

		if (plan->exports[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == plan->nexports || plan->exports[lo].index != index)
		elog(ERROR, "export %d of the partitioned scan has no partitions", index);
	return &plan->exports[lo];
}

static void
plan_begin(PlanBuilder *b)
{
	b->exports = NIL;
	b->parts = NIL;
	initStringInfo(&b->strings);
	b->spool_cxt = AllocSetContextCreate(CurrentMemoryContext, "hvcsv_fdw partition plan",
										 ALLOCSET_DEFAULT_SIZES);
}

/* Cuts a spool into partitions of about block_size bytes at record starts. */
static void
plan_add_spool(PlanBuilder *b, int index, const HvcsvSpool *spool, const RowIndex *idx,
			   int64 block_size)
{
	int			per_part = Max(1, (int) Min(block_size / ROW_INDEX_GRANULARITY, INT_MAX));
	PlanExport *e = palloc(sizeof(PlanExport));

	e->index = index;
	e->data_path = b->strings.len;
	e->size = spool->size;
	appendBinaryStringInfo(&b->strings, spool->data_path, strlen(spool->data_path) + 1);
	for (int first = 0; first < idx->nentries; first += per_part)
	{
		PlanPart   *part = palloc(sizeof(PlanPart));
		int			next = first + Min(per_part, idx->nentries - first);

		part->export = list_length(b->exports);
		part->start = idx->entries[first];
		part->end = next < idx->nentries ? idx->entries[next].offset : idx->file_size;
		b->parts = lappend(b->parts, part);
	}
	b->exports = lappend(b->exports, e);
}

/*
 * Opens the spool of export index (opts names its URL), fetching it if
 * needed, and adds its partitions; the spool is closed again (its files
 * stay until the transaction ends, which holds its in-use lock).
 */
static void
plan_open_spool(PlanBuilder *b, HvcsvScan *scan, const HvcsvOptions *opts, int index)
{
	MemoryContext old = MemoryContextSwitchTo(b->spool_cxt);
	HvcsvSpool *spool = hvcsv_spool_open(opts);
	const RowIndex *idx;
	CsvDialect	dialect;

	hvcsv_dialect(opts, &dialect);
	idx = hvcsv_row_index_load(spool, &dialect);
	MemoryContextSwitchTo(old);
	scan->spool_note = hvcsv_spool_note(spool);
	scan->compression = spool->compression;
	plan_add_spool(b, index, spool, idx, opts->block_size);
	hvcsv_spool_close(spool);
	MemoryContextReset(b->spool_cxt);
}

/* The plan in one piece; the builder's pieces are freed. */
static PartitionPlan *
plan_finish(PlanBuilder *b)
{
	uint32		nexports = list_length(b->exports);
	uint32		nparts = list_length(b->parts);
	Size		parts_offset = MAXALIGN(add_size(offsetof(PartitionPlan, exports),
												 mul_size(sizeof(PlanExport), nexports)));
	Size		strings_offset = add_size(parts_offset, mul_size(sizeof(PlanPart), nparts));
	Size		size = add_size(strings_offset, b->strings.len);
	PartitionPlan *plan = palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	int			i = 0;
	ListCell   *cell;

	plan->size = size;
	plan->nexports = nexports;
	plan->nparts = nparts;
	plan->parts_offset = parts_offset;
	plan->strings_offset = strings_offset;
	foreach(cell, b->exports)
		plan->exports[i++] = *(PlanExport *) lfirst(cell);
	i = 0;
	foreach(cell, b->parts)
		plan_parts(plan)[i++] = *(PlanPart *) lfirst(cell);
	memcpy((char *) plan + strings_offset, b->strings.data, b->strings.len);
	list_free_deep(b->exports);
	list_free_deep(b->parts);
	pfree(b->strings.data);
	MemoryContextDelete(b->spool_cxt);
	return plan;
}

/* Starts a process's claims on a plan. */
static PartitionedScan *
claims_on(PartitionPlan *plan)
{
	PartitionedScan *st = palloc0(sizeof(PartitionedScan));

	st->plan = plan;
	st->claimed = -1;
	return st;
}

/* A worker's claims, on the leader's plan; and its exports, if it planned over them. */
static PartitionedScan *
attach_plan(HvcsvScan *scan)
{
	PartitionedShared *shared = (PartitionedShared *) scan->shared;

	if (shared->exports_offset)
		scan->exports = hvcsv_export_list_attach((char *) shared + shared->exports_offset);
	return claims_on((PartitionPlan *) ((char *) shared + shared->plan_offset));
}

/* The plan of the one spool being read: the table's path, or the page open. */
static PartitionedScan *
plan_one(HvcsvScan *scan)
{
	PlanBuilder b;

	plan_begin(&b);
	plan_open_spool(&b, scan, scan->opts, scan->export_index);
	return claims_on(plan_finish(&b));
}

/*
 * The plan over all the exports: their spools are brought up to date
 * together, then cut.  A missing export (missing_exports 'skip') and one
 * the scan's watcher does not read have no partitions.
 */
static PartitionedScan *
plan_all(HvcsvScan *scan)
{
	HvcsvOptions export_opts = *scan->opts;
	HvcsvSpoolCheck *checks;
	PlanBuilder b;
	int			i = 0;
	ListCell   *cell;

	scan->exports = hvcsv_export_list(scan->opts);
	checks = hvcsv_spool_check_exports(scan->opts, scan->exports);
	plan_begin(&b);
	foreach(cell, scan->exports)
	{
		if (checks[i].missing)
			scan->exports_skipped++;
		else if (hvcsv_scan_reads_export(scan, i))
		{
			export_opts.url = ((HvcsvExport *) lfirst(cell))->url;
			plan_open_spool(&b, scan, &export_opts, i);
		}
		i++;
		CHECK_FOR_INTERRUPTS();
	}
	return claims_on(plan_finish(&b));
}

/*
 * Plans over all the exports of a table with several: the leader (or a
 * serial scan) from their spools, a worker from the leader's plan.
 */
static void
partitioned_plan_exports(HvcsvScan *scan)
{
	scan->reader_plan = scan->shared ? attach_plan(scan) : plan_all(scan);
}

/* Reads the next bytes of the current partition. */
static size_t
read_partition(void *arg, char *buf, size_t size)
{
	HvcsvScan  *scan = (HvcsvScan *) arg;
	PartitionedState *ps = (PartitionedState *) scan->reader_state;
	ssize_t		n;

	CHECK_FOR_INTERRUPTS();
	size = Min(size, ps->limit - ps->pos);
	/* The header is usually short: do not read a whole buffer for it. */
	if (scan->builder == NULL)
		size = Min(size, ROW_INDEX_GRANULARITY);
	if (size == 0)
		return 0;
	do
		n = pg_pread(ps->fd, buf, size, (off_t) ps->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read spool file \"%s\": %m", ps->path)));
	ps->pos += n;
	scan->bytes_read += n;
	return (size_t) n;
}

/*
 * Opens the spool file of the export being read and reads its header.  A
 * table with one spool is planned here (by a worker, taken from the
 * leader's plan).
 */
static void
partitioned_begin(HvcsvScan *scan)
{
	PartitionedState *ps = palloc0(sizeof(PartitionedState));
	const PlanExport *e;
	CsvDialect	dialect;

	if (!scan->exports_planned)
		scan->reader_plan = scan->shared ? attach_plan(scan) : plan_one(scan);
	e = plan_export(((PartitionedScan *) scan->reader_plan)->plan, scan->export_index);
	scan->reader_state = ps;
	ps->path = pstrdup(plan_string(((PartitionedScan *) scan->reader_plan)->plan, e->data_path));
	ps->fd = OpenTransientFile(ps->path, O_RDONLY | PG_BINARY);
	if (ps->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spool file \"%s\": %m", ps->path)));
	ps->limit = e->size;

	/* Every participant reads the header for itself, from the start. */
	hvcsv_dialect(scan->opts, &dialect);
	scan->stream = hvcsv_stream_create(&dialect, read_partition, scan);
	hvcsv_scan_read_header(scan);
	ps->data_offset = scan->stream->buf_offset + scan->stream->buf_start;
	ps->data_line_breaks = scan->stream->tok.line_breaks;
	ps->after_header = true;
}

/*
 * Claims the next partition; returns the index of its export, or -1 when
 * none is left (or nothing was planned: an export skipped unread).
 */
static int
partitioned_claim(HvcsvScan *scan)
{
	PartitionedScan *st = (PartitionedScan *) scan->reader_plan;
	PartitionedShared *shared = (PartitionedShared *) scan->shared;
	uint32		p;

	if (st == NULL)
		return -1;
	p = shared ? pg_atomic_fetch_add_u32(&shared->next_partition, 1) : st->next_local++;
	if (p >= st->plan->nparts)
		return -1;
	st->claimed = p;
	return st->plan->exports[plan_parts(st->plan)[p].export].index;
}

/*
 * Moves the stream to the partition claimed last, in the export now open;
 * false if there is none, or it is empty (inside one long record, or the
 * header).
 */
static bool
start_claimed(HvcsvScan *scan)
{
	PartitionedScan *st = (PartitionedScan *) scan->reader_plan;
	PartitionedState *ps = (PartitionedState *) scan->reader_state;
	const PlanPart *part;
	RowIndexEntry start;

	if (st->claimed < 0)
		return false;
	part = &plan_parts(st->plan)[st->claimed];
	st->claimed = -1;

	/* The header is not data: partition 0 starts after it. */
	start = part->start;
	if (start.offset < ps->data_offset)
	{
		start.offset = ps->data_offset;
		start.line_breaks = ps->data_line_breaks;
	}
	if (start.offset >= part->end)
		return false;

	/*
	 * Right after the header the stream goes on from where it is, if it
	 * read no further than the partition's end: a small export is then
	 * read once, not again for its first partition.
	 */
	if (!ps->after_header || start.offset != ps->data_offset || ps->pos > part->end)
	{
		ps->pos = start.offset;
		hvcsv_stream_restart(scan->stream, start.offset, start.line_breaks);
	}
	ps->after_header = false;
	ps->limit = part->end;
	ps->in_partition = true;
	return true;
}

/* Reads the next record of the partition claimed; false at its end. */
static bool
partitioned_next(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	if (!ps->in_partition && !start_claimed(scan))
		return false;
	if (hvcsv_stream_next(scan->stream))
		return true;
	ps->in_partition = false;
	return false;
}

/* Starts over: with a coordinator, ReInitializeDSM resets its counter. */
static void
partitioned_rescan(HvcsvScan *scan)
{
	PartitionedScan *st = (PartitionedScan *) scan->reader_plan;
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	st->next_local = 0;
	st->claimed = -1;
	if (ps)
		ps->in_partition = ps->after_header = false;
}

/* Closes the file; a plan of one spool goes with it (a page's, with the page). */
static void
partitioned_end(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	CloseTransientFile(ps->fd);
	if (!scan->exports_planned)
		scan->reader_plan = NULL;
}

/* Shows the partitions: counted after a run, else estimated from the spool. */
static void
partitioned_explain(HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es)
{
	PartitionedScan *st = scan ? (PartitionedScan *) scan->reader_plan : NULL;
	int64		size;

	if (st)
	{
		ExplainPropertyText("Spool", scan->spool_note, es);
		ExplainPropertyInteger("Partitions", NULL, st->plan->nparts, es);
		return;
	}
	if (hvcsv_spool_peek_size(opts, &size))
	{
		ExplainPropertyInteger("Spool Size", "bytes", size, es);
		ExplainPropertyInteger("Partitions", NULL,
							   Max(1, (size + opts->block_size - 1) / opts->block_size), es);
	}
	else
		ExplainPropertyText("Spool", "not fetched yet", es);
}

/*
 * Lays out the coordinator: the counters, the plan, then the exports if
 * it is over several; returns its size.
 */
static Size
shared_layout(HvcsvScan *scan, PartitionedShared *layout)
{
	PartitionedScan *st = (PartitionedScan *) scan->reader_plan;
	Size		size = MAXALIGN(sizeof(PartitionedShared));

	layout->plan_offset = size;
	size = add_size(size, MAXALIGN(st->plan->size));
	layout->exports_offset = scan->exports_planned ? size : 0;
	if (scan->exports_planned)
		size = add_size(size, hvcsv_export_list_shared_size(scan->exports));
	return size;
}

/* The coordinator's size: the leader has planned by now (scan_start). */
static Size
partitioned_shared_size(HvcsvScan *scan)
{
	PartitionedShared layout;

	return shared_layout(scan, &layout);
}

/* Fills the coordinator; from now on partitions are claimed through it. */
static void
partitioned_shared_init(HvcsvScan *scan, void *shared_mem)
{
	PartitionedScan *st = (PartitionedScan *) scan->reader_plan;
	PartitionedShared *shared = (PartitionedShared *) shared_mem;

	(void) shared_layout(scan, shared);
	pg_atomic_init_u32(&shared->next_partition, 0);
	pg_atomic_init_u64(&shared->bytes_read, 0);
	memcpy((char *) shared + shared->plan_offset, st->plan, st->plan->size);
	if (shared->exports_offset)
		hvcsv_export_list_share(scan->exports, (char *) shared + shared->exports_offset);
	scan->shared = shared;
}

/* Makes every partition claimable again, for a rescan under Gather. */
static void
partitioned_shared_reinit(HvcsvScan *scan, void *shared_mem)
{
	PartitionedShared *shared = (PartitionedShared *) shared_mem;

	pg_atomic_write_u32(&shared->next_partition, 0);
}

/*
 * Adds this process's bytes to the coordinator's count before it goes; the
 * leader, which shuts down after the workers it read to the end, keeps the
 * total for EXPLAIN ANALYZE.
 */
static void
partitioned_shared_finish(HvcsvScan *scan)
{
	PartitionedShared *shared = (PartitionedShared *) scan->shared;
	uint64		others;

	if (shared == NULL)
		return;
	others = pg_atomic_fetch_add_u64(&shared->bytes_read, scan->bytes_read);
	scan->bytes_read = IsParallelWorker() ? 0 : scan->bytes_read + others;
}

const HvcsvReaderRoutine hvcsv_partitioned_reader = {
	.begin = partitioned_begin,
	.next = partitioned_next,
	.plan_exports = partitioned_plan_exports,
	.claim = partitioned_claim,
	.rescan = partitioned_rescan,
	.end = partitioned_end,
	.explain = partitioned_explain,
	.shared_size = partitioned_shared_size,
	.shared_init = partitioned_shared_init,
	.shared_reinit = partitioned_shared_reinit,
	.shared_finish = partitioned_shared_finish,
};
