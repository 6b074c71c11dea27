/*-------------------------------------------------------------------------
 * reader_streaming.c
 *	  The streaming reader: rows straight from the HTTP response as it
 *	  arrives, in bounded memory, with no spool.
 *
 * The body feeds the tokenizer piece by piece, so the first rows reach the
 * query as soon as their bytes arrive, and a LIMIT that is satisfied ends
 * the scan, which closes the connection and stops the transfer.  Memory is
 * the transfer buffer plus the stream buffer, whatever the export's size.
 * A connection that breaks is resumed by fetch.c at the exact byte where it
 * broke (Range, If-Range): the bytes before the break were already handed
 * to the tokenizer, so no row is returned twice and none is skipped.  A
 * server that cannot resume makes the scan fail, since rows already
 * returned cannot be taken back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "http.h"
#include "scan.h"

typedef struct StreamingState
{
	HvcsvRequest req;
	HvcsvBody  *body;
} StreamingState;

/* Copies the next bytes of the body into the stream's buffer, counting them. */
static size_t
read_body(void *arg, char *buf, size_t size)
{
	HvcsvScan  *scan = (HvcsvScan *) arg;
	StreamingState *ss = (StreamingState *) scan->reader_state;
	size_t		n = hvcsv_body_read_into(ss->body, buf, size);

	scan->bytes_read += n;
	scan->compression = hvcsv_body_compression(ss->body);
	return n;
}

/* Sends the request and reads the header from the response. */
static void
streaming_begin(HvcsvScan *scan)
{
	StreamingState *ss = palloc0(sizeof(StreamingState));
	CsvDialect	dialect;

	scan->reader_state = ss;
	hvcsv_request_init(&ss->req, scan->opts);
	/* An export of several that the table skips if missing: a 404 is no error. */
	ss->req.missing_ok = scan->exports != NIL && hvcsv_skips_missing_exports(scan->opts);
	ss->body = hvcsv_body_open(&ss->req, NULL, NULL);
	if (hvcsv_body_missing(ss->body))
	{
		scan->export_missing = true;
		return;
	}
	hvcsv_dialect(scan->opts, &dialect);
	scan->stream = hvcsv_stream_create(&dialect, read_body, scan);
	hvcsv_scan_read_header(scan);
}

/* Reads the next record as it arrives. */
static bool
streaming_next(HvcsvScan *scan)
{
	return hvcsv_stream_next(scan->stream);
}

/* Starts over with a new request. */
static void
streaming_rescan(HvcsvScan *scan)
{
	StreamingState *ss = (StreamingState *) scan->reader_state;

	hvcsv_body_close(ss->body);
	ss->body = hvcsv_body_open(&ss->req, NULL, NULL);
	hvcsv_stream_restart(scan->stream, 0, 0);
	hvcsv_scan_skip_header(scan);
}

/* Stops the transfer, wherever it is. */
static void
streaming_end(HvcsvScan *scan)
{
	StreamingState *ss = (StreamingState *) scan->reader_state;

	hvcsv_body_close(ss->body);
}

/* Says there is no spool: rows come from the response. */
static void
streaming_explain(HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es)
{
	ExplainPropertyText("Spool", "none (streaming)", es);
}

const HvcsvReaderRoutine hvcsv_streaming_reader = {
	.begin = streaming_begin,
	.next = streaming_next,
	.rescan = streaming_rescan,
	.end = streaming_end,
	.explain = streaming_explain,
};
