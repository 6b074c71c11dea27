/*-------------------------------------------------------------------------
 * refresh_worker.c
 *	  The background worker of hvcsv_refresh(): refreshes the job's tables,
 *	  each in a transaction of its own, as its owner, and records failures.
 *
 * Each table is all or nothing and committed on its own, so that one
 * failure leaves the others refreshed.  A failed table's transaction is
 * rolled back (the scan's hooks, the progress report and what they hold go
 * with it), and the failure is recorded in a new transaction.  SIGTERM
 * (the caller was cancelled or ended, or the server shuts down) cancels the
 * table being refreshed, so that the stop is recorded, then the worker ends.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "locks.h"
#include "option.h"
#include "refresh_internal.h"
#include "spool.h"

PGDLLEXPORT void hvcsv_refresh_worker_main(Datum main_arg);

/* Set when the worker is asked to stop (its caller was cancelled or ended, or shutdown). */
static volatile sig_atomic_t stop_requested = false;

/*
 * The settings that only a superuser may change, which the worker takes
 * from its caller's session: a superuser who sets them for a session gets
 * them for that session's refreshes too.
 */
static const char *const caller_settings[] = {
	"hvcsv_fdw.spool_directory",
	"hvcsv_fdw.spool_max_size",
	"hvcsv_fdw.allowed_hosts",
	"hvcsv_fdw.max_bytes",
};

/* The caller's values of caller_settings, each ended by a NUL, for the job. */
StringInfo
hvcsv_pack_caller_settings(void)
{
	StringInfo	buf = makeStringInfo();

	for (size_t i = 0; i < lengthof(caller_settings); i++)
	{
		appendStringInfoString(buf, GetConfigOption(caller_settings[i], false, false));
		appendStringInfoChar(buf, '\0');
	}
	return buf;
}

/* Opens a transaction of the worker's, with SPI. */
static void
begin_work(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
}

/* Commits a transaction begun by begin_work. */
static void
commit_work(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Notes a failure in the result, without recording it in the sync state. */
static void
set_failure(RefreshResult *res, int sqlerrcode, const char *message, const char *detail,
			const char *context)
{
	res->status = REFRESH_FAILED;
	memset(&res->counts, 0, sizeof(res->counts));
	/* What the run changed in the schema was rolled back with it. */
	res->schema_changes[0] = '\0';
	res->sqlerrcode = sqlerrcode;
	strlcpy(res->error, message, sizeof(res->error));
	strlcpy(res->error_detail, detail ? detail : "", sizeof(res->error_detail));
	/* The innermost context (the line and column of a bad value), not the statements around it. */
	strlcpy(res->error_context, context ? context : "",
			Min(sizeof(res->error_context), context ? strcspn(context, "\n") + 1 : 1));
	res->finished = GetCurrentTimestamp();
}

/*
 * Records why a table's run failed, in a new transaction: what was synced
 * before stays.  A table dropped meanwhile leaves no state behind.
 */
static void
record_failure(RefreshJob *job, RefreshResult *res, ErrorData *edata, List *keys, Oid owner)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (stop_requested && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		set_failure(res, edata->sqlerrcode,
					"the refresh was stopped: its caller was cancelled or ended, or the server is shutting down",
					NULL, NULL);
	else
		set_failure(res, edata->sqlerrcode, edata->message, edata->detail, edata->context);
	begin_work();
	PG_TRY();
	{
		if (edata->sqlerrcode == ERRCODE_CARDINALITY_VIOLATION ||
			edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		{
			HvcsvRoleSwitch sw;

			hvcsv_enter_owner(owner, &sw);
			hvcsv_explain_duplicate_key(res, keys);
			hvcsv_leave_role(&sw);
		}
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(res->foreign_table)))
		{
			hvcsv_write_failure(res);
			hvcsv_write_history(job->run_id, res);
		}
		commit_work();
	}
	PG_CATCH();
	{
		/* The caller still gets the error. */
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/*
 * Takes the table's refresh slot, an advisory lock held until the
 * transaction ends; false, with the run recorded as skipped, if another
 * refresh of the table holds it.
 */
static bool
take_refresh_slot(RefreshJob *job, RefreshResult *res)
{
	LOCKTAG		tag;
	const char *target = hvcsv_table_target_text(res->foreign_table);

	hvcsv_refresh_locktag(&tag, res->foreign_table);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return true;
	strlcpy(res->target, target ? target : "", sizeof(res->target));
	res->status = REFRESH_SKIPPED;
	res->finished = GetCurrentTimestamp();
	hvcsv_write_history(job->run_id, res);
	return false;
}

/* How a try at refreshing a table failed, for record_failure. */
typedef struct FailedTry
{
	ErrorData  *edata;			/* NULL if it did not fail with an error */
	List	   *keys;			/* the key columns, if known by then */
	Oid			owner;			/* the table's owner */
} FailedTry;

/*
 * Runs one table's refresh in a transaction of its own, as its owner; an
 * error is caught, its transaction rolled back, and returned in *failed.
 */
static void
try_refresh(RefreshJob *job, RefreshResult *res, bool overlap, FailedTry *failed)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile keys = NIL;
	ErrorData  *volatile edata = NULL;
	Oid			owner;

	memset(failed, 0, sizeof(*failed));
	/* What an earlier try of the table noted goes with it. */
	(void) hvcsv_spool_take_refusal();
	memset(&res->counts, 0, sizeof(res->counts));
	res->schema_changes[0] = '\0';
	res->started = GetCurrentTimestamp();
	res->error[0] = '\0';
	res->error_detail[0] = '\0';
	res->sqlerrcode = 0;
	begin_work();
	pgstat_report_activity(STATE_RUNNING, psprintf("hvcsv_refresh(%u)", res->foreign_table));

	/* Ownership may have changed since the caller checked it. */
	owner = hvcsv_relation_owner(res->foreign_table);
	if (!OidIsValid(owner) || !hvcsv_may_refresh(res->foreign_table, job->caller))
	{
		set_failure(res, ERRCODE_INSUFFICIENT_PRIVILEGE,
					!OidIsValid(owner) ? "the foreign table was dropped" :
					"permission denied: the caller no longer owns the foreign table", NULL, NULL);
		commit_work();
		return;
	}
	if (!take_refresh_slot(job, res))
	{
		commit_work();
		return;
	}

	PG_TRY();
	{
		HvcsvRoleSwitch sw;

		hvcsv_enter_owner(owner, &sw);
		hvcsv_refresh_table(job->run_id, job->force, overlap, res, (List **) &keys);
		hvcsv_leave_role(&sw);
		commit_work();
	}
	PG_CATCH();
	{
		List	   *kept_keys = NIL;
		ListCell   *cell;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* The keys were found in the transaction that is about to go. */
		foreach(cell, keys)
			kept_keys = lappend(kept_keys, pstrdup(lfirst(cell)));
		keys = kept_keys;
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	failed->edata = edata;
	failed->keys = keys;
	failed->owner = owner;
}

/*
 * Refreshes one table, recording any failure.  A run that read the export
 * as it downloaded fails when the download had to start over (the export
 * changed under a break) and the spool refused it: nothing of the run was
 * kept, so it runs again, downloading first.
 */
static void
refresh_one(RefreshJob *job, RefreshResult *res)
{
	FailedTry	failed;

	try_refresh(job, res, true, &failed);
	if (failed.edata != NULL && !stop_requested && hvcsv_spool_take_refusal())
	{
		ereport(LOG,
				(errmsg("hvcsv_fdw refresh into \"%s\" runs again, downloading its export first",
						res->target),
				 failed.edata->detail ?
				 errdetail("%s %s", failed.edata->message, failed.edata->detail) :
				 errdetail("%s", failed.edata->message)));
		try_refresh(job, res, false, &failed);
	}
	if (failed.edata != NULL)
		record_failure(job, res, failed.edata, failed.keys, failed.owner);
}

/* Takes the caller's values of caller_settings. */
static void
apply_caller_settings(RefreshJob *job)
{
	const char *value = hvcsv_job_settings(job);

	for (size_t i = 0; i < lengthof(caller_settings); i++)
	{
		SetConfigOption(caller_settings[i], value, PGC_SUSET, PGC_S_OVERRIDE);
		value += strlen(value) + 1;
	}
}

/*
 * SIGTERM cancels the table being refreshed instead of ending the process
 * at once, so that the failure is recorded; the worker then stops.
 */
static void
request_stop(SIGNAL_ARGS)
{
	stop_requested = true;
	StatementCancelHandler(postgres_signal_arg);
}

/* The background worker: refreshes the job's tables, one transaction each. */
void
hvcsv_refresh_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	RefreshJob *job;

	pqsignal(SIGTERM, request_stop);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvcsv_fdw refresh worker could not find its job")));
	job = dsm_segment_address(seg);

	/*
	 * Connect as the role that logged in (the current one may be NOLOGIN,
	 * after SET ROLE), then act as the caller's current role, as parallel
	 * workers do; each table is then refreshed as its owner.  The caller's
	 * session settings are not copied: a run does the same whoever calls.
	 */
	BackgroundWorkerInitializeConnectionByOid(job->database, job->login_role, 0);
	SetUserIdAndSecContext(job->caller, 0);
	apply_caller_settings(job);

	for (int i = 0; i < job->ntables && !stop_requested; i++)
		refresh_one(job, &job->results[i]);
	dsm_detach(seg);
	proc_exit(0);
}
