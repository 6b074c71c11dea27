/*-------------------------------------------------------------------------
 * refresh.c
 *	  hvcsv_refresh(): hands the foreign tables to refresh to a background
 *	  worker, waits for it, and returns a row per table.
 *
 * Who runs what.  Only a role with the privileges of a foreign table's
 * owner (or a superuser) may refresh it; without an argument, the caller's
 * tables are refreshed.  Each table is refreshed as its owner, the way
 * PostgreSQL refreshes a materialized view: with the owner's user mapping
 * (so the owner's API key) and the owner's privileges on the target, under
 * SECURITY_RESTRICTED_OPERATION and with search_path = pg_catalog, pg_temp
 * (run_as_owner.c), so that neither the caller nor the owner of any schema
 * on the caller's search_path can get code run with someone else's rights.
 * The sync state is written as the extension's owner (sync_state.c).
 *
 * Why a worker: each table must be all-or-nothing and committed on its own,
 * so that one failure leaves the others refreshed; and a failed run must
 * still end in an ERROR, so that cron records it as failed.  A function
 * cannot commit, and its ERROR would undo everything, so the caller hands
 * the tables to a background worker (refresh_worker.c) that refreshes each
 * table in its own transaction (refresh_table.c) and reports back through
 * dynamic shared memory.  The caller waits, returns one row per table, and
 * raises WARNINGs and the final ERROR (see hvcsv_fdw.refresh_failure).  A
 * caller that is cancelled or ends stops the worker.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "hvcsv_fdw.h"
#include "locks.h"
#include "option.h"
#include "refresh_internal.h"

PG_FUNCTION_INFO_V1(hvcsv_refresh);
PG_FUNCTION_INFO_V1(hvcsv_reset);

/* hvcsv_fdw.refresh_failure: what a run with a failed table ends in. */
typedef enum RefreshFailureMode
{
	REFRESH_FAILURE_ERROR,
	REFRESH_FAILURE_WARNING
} RefreshFailureMode;

static const struct config_enum_entry refresh_failure_options[] = {
	{"error", REFRESH_FAILURE_ERROR, false},
	{"warning", REFRESH_FAILURE_WARNING, false},
	{NULL, 0, false}
};

static int	refresh_failure_mode = REFRESH_FAILURE_ERROR;

/*
 * The foreign tables that hvcsv_refresh() refreshes when given none: every
 * hvcsv_fdw foreign table with a target that role may refresh.
 */
static List *
tables_to_refresh(Oid role)
{
	Relation	rel = table_open(ForeignTableRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	List	   *tables = NIL;

	while ((tup = systable_getnext(scan)) != NULL)
	{
		Oid			ft = ((Form_pg_foreign_table) GETSTRUCT(tup))->ftrelid;

		if (hvcsv_is_own_foreign_table(ft) && hvcsv_table_target_text(ft) &&
			get_rel_persistence(ft) != RELPERSISTENCE_TEMP && hvcsv_may_refresh(ft, role))
			tables = lappend_oid(tables, ft);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(tables, list_oid_cmp);
	return tables;
}

/* The foreign table hvcsv_refresh() was given, once the caller may refresh it. */
static Oid
checked_table(Oid ft)
{
	/* A regclass may hold the OID of a relation that is gone. */
	if (get_rel_name(ft) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", ft)));
	if (!hvcsv_is_own_foreign_table(ft))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hvcsv_fdw foreign table", get_rel_name(ft))));
	if (!hvcsv_may_refresh(ft, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_TABLE, get_rel_name(ft));
	if (get_rel_persistence(ft) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot refresh temporary foreign table \"%s\"", get_rel_name(ft)),
				 errdetail("A refresh runs in a background worker, which cannot see this session's temporary tables.")));
	return ft;
}

/* Tells whether this transaction holds a lock of mode or stronger on a relation. */
static bool
holds_lock(Oid relid, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	for (LOCKMODE m = mode; m <= MaxLockMode; m++)
		if (hvcsv_lock_held_by_me(&tag, m))
			return true;
	return false;
}

/*
 * Refuses to hand a table to the worker while this transaction holds a
 * lock the worker would wait for: an exclusive lock on the foreign table,
 * or, on the target (or a partition of it), a lock that comes with writing
 * or locking rows.  The worker would wait for this transaction, which
 * waits for the worker: a deadlock that no lock manager can see.
 */
static void
check_caller_locks(Oid ft)
{
	List	   *target = hvcsv_table_target(ft);
	Oid			targetid;
	ListCell   *cell;

	if (holds_lock(ft, AccessExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot refresh \"%s\" while this transaction holds a lock on it", get_rel_name(ft)),
				 errdetail("The refresh runs in a background worker, which would wait for this transaction forever."),
				 errhint("Call hvcsv_refresh() in a transaction of its own.")));
	if (target == NIL)
		return;
	targetid = RangeVarGetRelid(hvcsv_target_rangevar(ft, target), NoLock, true);
	if (!OidIsValid(targetid))
		return;
	foreach(cell, find_all_inheritors(targetid, NoLock, NULL))
		if (holds_lock(lfirst_oid(cell), RowShareLock))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot refresh \"%s\" while this transaction holds a lock on its target \"%s\"",
							get_rel_name(ft), get_rel_name(lfirst_oid(cell))),
					 errdetail("The refresh runs in a background worker, which would wait for this transaction forever."),
					 errhint("Call hvcsv_refresh() in a transaction of its own, not from a function that has written to or locked the target.")));
}

/* Creates the job for the worker, in dynamic shared memory. */
static dsm_segment *
create_job(List *tables, bool force)
{
	StringInfo	settings = hvcsv_pack_caller_settings();
	Size		results_end = add_size(offsetof(RefreshJob, results),
									   mul_size(sizeof(RefreshResult), list_length(tables)));
	dsm_segment *seg = dsm_create(add_size(results_end, settings->len), 0);
	RefreshJob *job = dsm_segment_address(seg);
	ListCell   *cell;
	int			i = 0;

	memset(job, 0, offsetof(RefreshJob, results));
	job->database = MyDatabaseId;
	job->login_role = GetAuthenticatedUserId();
	job->caller = GetUserId();
	job->force = force;
	SPI_connect();
	job->run_id = hvcsv_next_run_id();
	SPI_finish();
	job->ntables = list_length(tables);
	memcpy(hvcsv_job_settings(job), settings->data, settings->len);
	foreach(cell, tables)
	{
		memset(&job->results[i], 0, sizeof(RefreshResult));
		job->results[i].foreign_table = lfirst_oid(cell);
		job->results[i].status = REFRESH_FAILED;
		strlcpy(job->results[i].error, "the refresh worker stopped before this table",
				sizeof(job->results[i].error));
		i++;
	}
	return seg;
}

/* Starts the worker for a job. */
static BackgroundWorkerHandle *
start_worker(dsm_segment *seg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "hvcsv_fdw");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "hvcsv_refresh_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "hvcsv_fdw refresh for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "hvcsv_fdw refresh");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a refresh worker"),
				 errhint("More background workers may be needed: raise max_worker_processes.")));
	return handle;
}

/* Tells whether the worker waits for a lock that this transaction holds. */
static bool
worker_waits_for_caller(pid_t worker)
{
	ArrayType  *blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
																  Int32GetDatum(worker)));
	Datum	   *pids;
	int			n;

	deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT, &pids, NULL, &n);
	for (int i = 0; i < n; i++)
		if (DatumGetInt32(pids[i]) == MyProcPid)
			return true;
	return false;
}

/*
 * Checks, while the caller waits, for a worker that waits for a lock of
 * this transaction (a row of a table the target references, say): it would
 * wait until this transaction ends, which waits for it.  (A client that is
 * gone is noticed by PostgreSQL itself with client_connection_check_interval,
 * and ending the caller stops the worker.)
 */
static void
check_while_waiting(pid_t worker)
{
	if (worker_waits_for_caller(worker))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("the refresh worker waits for a lock that this transaction holds"),
				 errdetail("It would wait until this transaction ends, which waits for it."),
				 errhint("Call hvcsv_refresh() in a transaction of its own, not from a function that has written to or locked the tables a refresh writes or reads.")));
}

/*
 * Waits until the worker has stopped, or past deadline (0: none); with
 * watch, checks every second for a worker that waits for this transaction.
 */
static void
wait_until_stopped(BackgroundWorkerHandle *handle, TimestampTz deadline, bool watch)
{
	pid_t		pid;
	int			polls = 0;

	while (GetBackgroundWorkerPid(handle, &pid) != BGWH_STOPPED &&
		   (deadline == 0 || GetCurrentTimestamp() < deadline))
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (watch && ++polls % 10 == 0 && pid != 0)
			check_while_waiting(pid);
	}
}

/*
 * Stops the worker when its caller's backend exits (pg_terminate_backend,
 * a lost connection): it must not go on refreshing for no one.
 */
static void
stop_worker_at_exit(int code, Datum arg)
{
	TerminateBackgroundWorker((BackgroundWorkerHandle *) DatumGetPointer(arg));
}

/* Waits for the worker; cancelling or ending the caller stops the worker too. */
static void
wait_for_worker(BackgroundWorkerHandle *handle)
{
	PG_ENSURE_ERROR_CLEANUP(stop_worker_at_exit, PointerGetDatum(handle));
	{
		PG_TRY();
		{
			wait_until_stopped(handle, 0, true);
		}
		PG_CATCH();
		{
			/* Let it record the stopped run before the caller's error returns. */
			TerminateBackgroundWorker(handle);
			HOLD_INTERRUPTS();
			wait_until_stopped(handle, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 5000), false);
			RESUME_INTERRUPTS();
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	PG_END_ENSURE_ERROR_CLEANUP(stop_worker_at_exit, PointerGetDatum(handle));
}

/* Returns the job's results as rows; reports each failure; returns how many failed. */
static int
return_results(ReturnSetInfo *rsinfo, const RefreshJob *job)
{
	int			failed = 0;

	for (int i = 0; i < job->ntables; i++)
	{
		const RefreshResult *res = &job->results[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		const char *name = get_rel_name(res->foreign_table);

		values[0] = ObjectIdGetDatum(res->foreign_table);
		values[1] = CStringGetTextDatum(res->target);
		nulls[1] = res->target[0] == '\0';
		values[2] = CStringGetTextDatum(hvcsv_refresh_status_name(res->status));
		values[3] = Int64GetDatum(res->counts.inserted);
		values[4] = Int64GetDatum(res->counts.updated);
		values[5] = Int64GetDatum(res->counts.unchanged);
		values[6] = Int64GetDatum(res->counts.deleted);
		values[7] = Int64GetDatum(res->counts.rejected);
		values[8] = Int64GetDatum(res->counts.bytes_fetched);
		values[9] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(res->finished ? res->finished : res->started),
										TimestampTzGetDatum(res->started));
		nulls[9] = res->started == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if (res->status != REFRESH_FAILED)
			continue;
		failed++;
		ereport(WARNING,
				(errcode(res->sqlerrcode ? res->sqlerrcode : ERRCODE_FDW_ERROR),
				 errmsg("refresh of \"%s\" failed: %s", name ? name : "?", res->error),
				 res->error_detail[0] ? errdetail("%s", res->error_detail) : 0,
				 res->error_context[0] ? errcontext("%s", res->error_context) : 0));
	}
	return failed;
}

/*
 * Checks that the sync state may be written: not read-only, and SQL
 * objects of the version this library writes (older ones lack columns).
 */
static void
check_may_write(const char *function)
{
	PreventCommandIfReadOnly(function);
	PreventCommandDuringRecovery(function);
	if (strcmp(hvcsv_extension_version(), HVCSV_SQL_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the SQL objects of extension hvcsv_fdw are version %s, and its library needs %s",
						hvcsv_extension_version(), HVCSV_SQL_VERSION),
				 errhint("Run ALTER EXTENSION hvcsv_fdw UPDATE.")));
}

/*
 * hvcsv_reset(foreign_table regclass): forgets the table's sync state, so
 * that its next refresh compares the whole export and starts the cursor
 * over.  It waits for a refresh of the table that is running, and one that
 * starts before this transaction ends is skipped.
 */
Datum
hvcsv_reset(PG_FUNCTION_ARGS)
{
	Oid			ft = checked_table(PG_GETARG_OID(0));
	LOCKTAG		tag;

	check_may_write("hvcsv_reset()");
	hvcsv_refresh_locktag(&tag, ft);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	SPI_connect();
	hvcsv_forget_state(ft);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * hvcsv_refresh(foreign_table regclass DEFAULT NULL, force boolean DEFAULT
 * false): refreshes one foreign table, or every hvcsv_fdw foreign table
 * with a target that the caller may refresh, and returns a row per table.
 */
Datum
hvcsv_refresh(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *tables;
	dsm_segment *seg;
	ListCell   *cell;
	int			failed;

	/* The worker commits on its own: a ROLLBACK could not undo it. */
	if (IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("hvcsv_refresh() cannot run inside a subtransaction"),
				 errdetail("Each table is refreshed and committed in a transaction of its own."),
				 errhint("A PL/pgSQL block with an EXCEPTION clause runs in a subtransaction.")));
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("hvcsv_refresh() cannot run inside a transaction block"),
				 errdetail("Each table is refreshed and committed in a transaction of its own.")));
	check_may_write("hvcsv_refresh()");

	InitMaterializedSRF(fcinfo, 0);
	tables = PG_ARGISNULL(0) ? tables_to_refresh(GetUserId()) :
		list_make1_oid(checked_table(PG_GETARG_OID(0)));
	if (tables == NIL)
		return (Datum) 0;
	foreach(cell, tables)
		check_caller_locks(lfirst_oid(cell));

	seg = create_job(tables, PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1));
	wait_for_worker(start_worker(seg));
	failed = return_results(rsinfo, dsm_segment_address(seg));
	dsm_detach(seg);

	if (failed > 0 && refresh_failure_mode == REFRESH_FAILURE_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("hvcsv_refresh: %d of %d tables failed", failed, list_length(tables)),
				 errdetail("The tables that did not fail were refreshed; hvcsv_sync_state has the errors."),
				 errhint("Set hvcsv_fdw.refresh_failure to \"warning\" to return the results instead.")));
	return (Datum) 0;
}

/* Defines hvcsv_fdw.refresh_failure and lets the refresh watch the scans. */
void
hvcsv_refresh_init(void)
{
	DefineCustomEnumVariable("hvcsv_fdw.refresh_failure",
							 "What hvcsv_refresh() does when a table fails: error or warning.",
							 "With error (the default), a WARNING per failed table and an ERROR at the end, so schedulers record the run as failed; tables that succeeded stay refreshed.",
							 &refresh_failure_mode,
							 REFRESH_FAILURE_ERROR,
							 refresh_failure_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	hvcsv_session_register_hooks();
}
