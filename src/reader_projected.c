/*-------------------------------------------------------------------------
 * reader_projected.c
 *	  The projected reader: the whole spool, one pass, converting only the
 *	  columns the query reads.
 *
 * The spool is fetched (or revalidated) when the scan starts, then read
 * sequentially in large blocks; it may be one still downloading, lent by
 * the statement's caller (see spool_read.c).  Fields of unread columns are skipped by
 * the tokenizer without being copied.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "scan.h"
#include "spool.h"


typedef struct ProjectedState
{
	HvcsvSpool *spool;
	uint64		data_offset;	/* where the first record after the header is */
	uint64		data_line_breaks;	/* line breaks before it */
} ProjectedState;

/* Reads the next block of the spool file, counting the bytes. */
static size_t
read_spool(void *arg, char *buf, size_t size)
{
	HvcsvScan  *scan = (HvcsvScan *) arg;
	ProjectedState *ps = (ProjectedState *) scan->reader_state;
	size_t		n = hvcsv_spool_read(ps->spool, buf, size);

	scan->bytes_read += n;
	return n;
}

/* Opens the spool and reads the header. */
static void
projected_begin(HvcsvScan *scan)
{
	ProjectedState *ps = palloc0(sizeof(ProjectedState));
	CsvDialect	dialect;

	ps->spool = hvcsv_spool_open_borrowing(scan->opts);
	scan->spool_note = hvcsv_spool_note(ps->spool);
	scan->compression = ps->spool->compression;
	scan->reader_state = ps;
	hvcsv_dialect(scan->opts, &dialect);
	scan->stream = hvcsv_stream_create(&dialect, read_spool, scan);
	hvcsv_scan_read_header(scan);
	ps->data_offset = scan->stream->buf_offset + scan->stream->buf_start;
	ps->data_line_breaks = scan->stream->tok.line_breaks;
}

/* Reads the next record. */
static bool
projected_next(HvcsvScan *scan)
{
	return hvcsv_stream_next(scan->stream);
}

/* Goes back to the first record. */
static void
projected_rescan(HvcsvScan *scan)
{
	ProjectedState *ps = (ProjectedState *) scan->reader_state;

	if (lseek(ps->spool->fd, (off_t) ps->data_offset, SEEK_SET) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in spool file \"%s\": %m", ps->spool->data_path)));
	hvcsv_stream_restart(scan->stream, ps->data_offset, ps->data_line_breaks);
}

/* Closes the spool. */
static void
projected_end(HvcsvScan *scan)
{
	ProjectedState *ps = (ProjectedState *) scan->reader_state;

	hvcsv_spool_close(ps->spool);
}

/* Adds what EXPLAIN shows of the spool, without fetching. */
static void
projected_explain(HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es)
{
	int64		size;

	if (scan && scan->spool_note)
		ExplainPropertyText("Spool", scan->spool_note, es);
	else if (hvcsv_spool_peek_size(opts, &size))
		ExplainPropertyInteger("Spool Size", "bytes", size, es);
	else
		ExplainPropertyText("Spool", "not fetched yet", es);
}

const HvcsvReaderRoutine hvcsv_projected_reader = {
	.begin = projected_begin,
	.next = projected_next,
	.rescan = projected_rescan,
	.end = projected_end,
	.explain = projected_explain,
};
