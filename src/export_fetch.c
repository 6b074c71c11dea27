/*-------------------------------------------------------------------------
 * export_fetch.c
 *	  Brings the spool of every export of a table up to date before any is
 *	  read: downloaded if new, revalidated if older than max_age, or kept.
 *
 * A refresh learns from this which exports changed since its last good
 * run; a scan learns every export's size before it plans partitions.  An
 * export that answers 404 or 410 is noted as missing when the table skips
 * missing exports, and is an error otherwise, as a scan would make it.
 * Pages of paginate 'link' are known one at a time and are not fetched
 * here.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "export_list.h"
#include "spool.h"

/* One export's spool opened and closed: what it holds now. */
static void
check_one(HvcsvOptions *export_opts, HvcsvSpoolCheck *check)
{
	HvcsvSpool *spool = hvcsv_spool_open(export_opts);

	check->fetched_now = spool->fetched_now;
	check->revalidated = spool->revalidated;
	check->etag = pstrdup(spool->etag);
	check->last_modified = pstrdup(spool->last_modified);
	check->size = spool->size;
	hvcsv_spool_close(spool);
}

/*
 * check_one in a subtransaction; false, with nothing left open, if the
 * export answered 404 or 410 (ERRCODE_FDW_TABLE_NOT_FOUND).  Any other
 * error is raised again.
 */
static bool
check_unless_missing(HvcsvOptions *export_opts, HvcsvSpoolCheck *check)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool found = false;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		check_one(export_opts, check);
		ReleaseCurrentSubTransaction();
		found = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (edata && edata->sqlerrcode != ERRCODE_FDW_TABLE_NOT_FOUND)
		ReThrowError(edata);
	return found;
}

/*
 * Brings the spool of each export (a list of HvcsvExport) up to date, as
 * hvcsv_spool_open would, and returns what each holds, in the list's
 * order.  The spools stay fresh for the rest of the statement, so its
 * scans use them without asking again.
 */
HvcsvSpoolCheck *
hvcsv_spool_check_exports(const HvcsvOptions *opts, const List *exports)
{
	HvcsvSpoolCheck *checks = palloc0(sizeof(HvcsvSpoolCheck) * Max(list_length(exports), 1));
	HvcsvOptions export_opts = *opts;
	bool		skip_missing = hvcsv_skips_missing_exports(opts);
	int			i = 0;
	const ListCell *cell;

	foreach(cell, exports)
	{
		HvcsvSpoolCheck *check = &checks[i++];

		export_opts.url = ((HvcsvExport *) lfirst(cell))->url;
		if (!skip_missing)
			check_one(&export_opts, check);
		else
			check->missing = !check_unless_missing(&export_opts, check);
		CHECK_FOR_INTERRUPTS();
	}
	return checks;
}
