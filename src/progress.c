/*-------------------------------------------------------------------------
 * progress.c
 *	  Reports a refresh in pg_stat_progress_copy, as COPY FROM does, and
 *	  counts the body bytes this process has received.
 *
 * It sits below everything that reports: fetch.c adds the bytes it
 * receives, the scan the rows it returns, and only the refresh begins and
 * ends a report.  A report ends with its transaction (PostgreSQL ends the
 * command on abort; a callback on the transaction's memory forgets ours),
 * so an error needs no cleanup here.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/progress.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
#include "utils/memutils.h"

#include "progress.h"

/* Body bytes this process has received, for refresh counts and progress. */
static uint64 bytes_received = 0;

/* Whether a report runs, and the bytes received when it began. */
static bool reporting = false;
static uint64 bytes_at_begin;

static void
forget_report(void *arg)
{
	reporting = false;
}

/* Starts reporting a refresh of relid, for the rest of this transaction at most. */
void
hvcsv_progress_begin(Oid relid)
{
	MemoryContextCallback *cb = MemoryContextAllocZero(TopTransactionContext, sizeof(*cb));

	cb->func = forget_report;
	MemoryContextRegisterResetCallback(TopTransactionContext, cb);
	reporting = true;
	bytes_at_begin = bytes_received;
	pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relid);
	pgstat_progress_update_param(PROGRESS_COPY_COMMAND, PROGRESS_COPY_COMMAND_FROM);
	pgstat_progress_update_param(PROGRESS_COPY_TYPE, PROGRESS_COPY_TYPE_CALLBACK);
}

/* Stops reporting. */
void
hvcsv_progress_end(void)
{
	if (!reporting)
		return;
	reporting = false;
	pgstat_progress_end_command();
}

/* Counts n body bytes received; total is the body's size, or -1 if unknown. */
void
hvcsv_progress_add_bytes(size_t n, int64 total)
{
	bytes_received += n;
	if (!reporting)
		return;
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, bytes_received - bytes_at_begin);
	if (total > 0)
		pgstat_progress_update_param(PROGRESS_COPY_BYTES_TOTAL, total);
}

/* Reports the rows a scan has returned so far. */
void
hvcsv_progress_rows(uint64 rows)
{
	if (reporting)
		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, rows);
}

/* The body bytes this process has received since it started. */
uint64
hvcsv_bytes_received(void)
{
	return bytes_received;
}
