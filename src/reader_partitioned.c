/*-------------------------------------------------------------------------
 * reader_partitioned.c
 *	  The partitioned reader: the spool cut into block_size partitions at
 *	  exact record boundaries, read by a parallel scan.
 *
 * Partition bounds come from the spool's row index, so a quoted line break
 * never splits a record, nor does a quote in a comment line or in the lines
 * skip_lines skips (the index passes over those lines as the tokenizer
 * does).  A partition is the run of index entries covering
 * block_size bytes (rounded to the index's 64 kB granularity); a record
 * longer than that makes some partitions empty, which is harmless.
 *
 * Under Gather, the leader opens the spool (fetching it if needed), computes
 * the bounds and puts them in dynamic shared memory with a partition counter;
 * the leader and every worker open the spool file by its path, read the
 * header themselves, and claim partitions until none is left.  The shared
 * state holds no pointers.  Without a parallel context the same code claims
 * partitions from a local counter, one after another.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/parallel.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"

#include "scan.h"
#include "spool.h"


/* The coordinator of a parallel scan, in dynamic shared memory. */
typedef struct PartitionedShared
{
	pg_atomic_uint32 next_partition;
	pg_atomic_uint64 bytes_read;	/* by every participant */
	char		data_path[MAXPGPATH];
	uint64		file_size;
	uint32		nparts;
	RowIndexEntry bounds[FLEXIBLE_ARRAY_MEMBER];	/* nparts + 1 */
} PartitionedShared;

typedef struct PartitionedState
{
	HvcsvSpool *spool;			/* in the leader or a serial scan */
	int			fd;
	const char *path;
	uint32		nparts;
	RowIndexEntry *bounds;		/* nparts + 1 entries */
	uint32		next_local;		/* the next partition, without a coordinator */
	uint64		pos;			/* read position in the file */
	uint64		limit;			/* end of the partition being read */
	bool		in_partition;
	uint64		data_offset;	/* the first byte after the header */
	uint64		data_line_breaks;
} PartitionedState;

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

/* Cuts the file into partitions of about block_size bytes at record starts. */
static void
compute_bounds(PartitionedState *ps, const RowIndex *idx, int64 block_size)
{
	int			per_part = Max(1, (int) (block_size / ROW_INDEX_GRANULARITY));

	ps->nparts = (idx->nentries + per_part - 1) / per_part;
	ps->bounds = palloc_extended(sizeof(RowIndexEntry) * (ps->nparts + 1), MCXT_ALLOC_HUGE);
	for (uint32 p = 0; p < ps->nparts; p++)
		ps->bounds[p] = idx->entries[p * per_part];
	ps->bounds[ps->nparts].offset = idx->file_size;
	ps->bounds[ps->nparts].line_breaks = 0;	/* never used as a start */
}

/*
 * Opens the file and reads the header.  A worker takes the file and the
 * bounds from the coordinator; the leader or a serial scan opens the spool.
 */
static void
partitioned_begin(HvcsvScan *scan)
{
	PartitionedState *ps = palloc0(sizeof(PartitionedState));
	PartitionedShared *shared = (PartitionedShared *) scan->shared;
	CsvDialect	dialect;

	scan->reader_state = ps;
	hvcsv_dialect(scan->opts, &dialect);
	if (shared)
	{
		ps->path = pstrdup(shared->data_path);
		ps->fd = OpenTransientFile(ps->path, O_RDONLY | PG_BINARY);
		if (ps->fd < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open spool file \"%s\": %m", ps->path)));
		ps->nparts = shared->nparts;
		ps->bounds = shared->bounds;
		ps->limit = shared->file_size;
	}
	else
	{
		ps->spool = hvcsv_spool_open(scan->opts);
		scan->spool_note = hvcsv_spool_note(ps->spool);
		scan->compression = ps->spool->compression;
		ps->fd = ps->spool->fd;
		ps->path = ps->spool->data_path;
		compute_bounds(ps, hvcsv_row_index_load(ps->spool, &dialect), scan->opts->block_size);
		ps->limit = ps->spool->size;
	}

	/* Every participant reads the header for itself, from the start. */
	scan->stream = hvcsv_stream_create(&dialect, read_partition, scan);
	hvcsv_scan_read_header(scan);
	ps->data_offset = scan->stream->buf_offset + scan->stream->buf_start;
	ps->data_line_breaks = scan->stream->tok.line_breaks;
}

/* Claims the next partition; false when none is left. */
static bool
claim_partition(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;
	PartitionedShared *shared = (PartitionedShared *) scan->shared;

	for (;;)
	{
		uint32		p;
		RowIndexEntry start;

		p = shared ? pg_atomic_fetch_add_u32(&shared->next_partition, 1) : ps->next_local++;
		if (p >= ps->nparts)
			return false;

		/* The header is not data: partition 0 starts after it. */
		start = ps->bounds[p];
		if (start.offset < ps->data_offset)
		{
			start.offset = ps->data_offset;
			start.line_breaks = ps->data_line_breaks;
		}
		if (start.offset >= ps->bounds[p + 1].offset)
			continue;			/* empty: inside one long record, or the header */

		ps->pos = start.offset;
		ps->limit = ps->bounds[p + 1].offset;
		hvcsv_stream_restart(scan->stream, start.offset, start.line_breaks);
		return true;
	}
}

/* Reads the next record, moving on to the next partition as needed. */
static bool
partitioned_next(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	for (;;)
	{
		if (ps->in_partition && hvcsv_stream_next(scan->stream))
			return true;
		ps->in_partition = claim_partition(scan);
		if (!ps->in_partition)
			return false;
	}
}

/* Starts over: with a coordinator, ReInitializeDSM resets its counter. */
static void
partitioned_rescan(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	ps->next_local = 0;
	ps->in_partition = false;
}

/* Closes the file. */
static void
partitioned_end(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	if (ps->spool)
		hvcsv_spool_close(ps->spool);
	else
		CloseTransientFile(ps->fd);
}

/* Shows the partitions: counted after a run, else estimated from the spool. */
static void
partitioned_explain(HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es)
{
	PartitionedState *ps = scan ? (PartitionedState *) scan->reader_state : NULL;
	int64		size;

	if (ps)
	{
		ExplainPropertyText("Spool", scan->spool_note, es);
		ExplainPropertyInteger("Partitions", NULL, ps->nparts, es);
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

/* The coordinator's size: the leader opens the spool here to count partitions. */
static Size
partitioned_shared_size(HvcsvScan *scan)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;

	return add_size(offsetof(PartitionedShared, bounds),
					mul_size(sizeof(RowIndexEntry), ps->nparts + 1));
}

/* Fills the coordinator; from now on partitions are claimed through it. */
static void
partitioned_shared_init(HvcsvScan *scan, void *shared_mem)
{
	PartitionedState *ps = (PartitionedState *) scan->reader_state;
	PartitionedShared *shared = (PartitionedShared *) shared_mem;

	pg_atomic_init_u32(&shared->next_partition, 0);
	pg_atomic_init_u64(&shared->bytes_read, 0);
	strlcpy(shared->data_path, ps->path, sizeof(shared->data_path));
	shared->file_size = ps->spool->size;
	shared->nparts = ps->nparts;
	memcpy(shared->bounds, ps->bounds, sizeof(RowIndexEntry) * (ps->nparts + 1));
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
	.rescan = partitioned_rescan,
	.end = partitioned_end,
	.explain = partitioned_explain,
	.shared_size = partitioned_shared_size,
	.shared_init = partitioned_shared_init,
	.shared_reinit = partitioned_shared_reinit,
	.shared_finish = partitioned_shared_finish,
};
