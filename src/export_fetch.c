/*-------------------------------------------------------------------------
 * export_fetch.c
 *	  Brings the spool of every export of a table up to date before any is
 *	  read: downloaded if new, revalidated if older than max_age, or kept.
 *
 * A refresh learns from this which exports changed since its last good
 * run; a scan learns every export's size before it plans partitions, and
 * has its exports downloaded side by side rather than one after another.
 * An export that answers 404 or 410 is noted as missing when the table
 * skips missing exports, and is an error otherwise, as a scan would make
 * it.  Pages of paginate 'link' are known one at a time and are not
 * fetched here.
 *
 * At most max_connections fetches run at once, their transfers in one
 * transfer group (fetch.c): while nothing is ready, the group is waited
 * on, which moves them all, and each is moved on as its bytes come, the
 * next export starting as one ends.  A fetch that must retry, follow a
 * redirect or resume waits for that itself, as hvcsv_spool_open would,
 * and the others' transfers go on into their buffers meanwhile.
 *
 * Each fetch holds its spool's lock until it ends, so a session may hold
 * several.  It never waits for one while it holds another: a spool whose
 * lock another session holds is skipped for now (tried again as fetches
 * end) and waited for only when no fetch of this session runs.  A session
 * that waits thus holds no spool lock, so no two sessions can wait for
 * each other.  Two exports with the same URL share a spool, and are
 * fetched one after the other.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "export_list.h"
#include "http.h"
#include "spool.h"

/* The fetches of one call of hvcsv_spool_check_exports. */
typedef struct Downloads
{
	HvcsvOptions opts;			/* the table's; url is set per export */
	HvcsvExport **exports;
	int			nexports;
	bool		skip_missing;
	HvcsvSpoolCheck *checks;	/* the result, in result_cxt */
	MemoryContext result_cxt;
	MemoryContext cxt;			/* the group's; each fetch has a child */
	HvcsvTransferGroup *group;
	int			max_running;
	HvcsvSpoolFetch **running;	/* max_running slots, NULL when free */
	MemoryContext *running_cxt;
	int		   *running_export;
	int			nrunning;
	bool	   *started;		/* per export */
	int			first_unstarted;
	int			nfinished;
	int			current;		/* the export being worked on, or -1 */
	ErrorContextCallback errcallback;
} Downloads;

/* Names the export whose fetch raised an error. */
static void
downloads_error_context(void *arg)
{
	Downloads  *d = (Downloads *) arg;

	if (d->current >= 0)
		errcontext("export \"%s\"", d->exports[d->current]->display);
}

/* Tells whether a fetch of the same URL (so of the same spool) runs. */
static bool
same_url_running(const Downloads *d, int i)
{
	for (int s = 0; s < d->max_running; s++)
		if (d->running[s] &&
			strcmp(d->exports[d->running_export[s]]->url, d->exports[i]->url) == 0)
			return true;
	return false;
}

/*
 * Starts the fetch of export i in a free slot, in a memory context of its
 * own that its end frees; false if its spool's lock is held elsewhere and
 * not wait.
 */
static bool
start_one(Downloads *d, int i, bool wait)
{
	MemoryContext cxt = AllocSetContextCreate(d->cxt, "hvcsv_fdw download",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	HvcsvSpoolFetch *f;
	int			slot = 0;

	d->opts.url = d->exports[i]->url;
	d->current = i;
	f = hvcsv_spool_fetch_start(&d->opts, d->group, wait, d->skip_missing);
	d->current = -1;
	MemoryContextSwitchTo(old);
	if (f == NULL)
	{
		MemoryContextDelete(cxt);
		return false;
	}
	while (d->running[slot])
		slot++;
	d->running[slot] = f;
	d->running_cxt[slot] = cxt;
	d->running_export[slot] = i;
	d->nrunning++;
	d->started[i] = true;
	return true;
}

/*
 * Starts fetches, in the list's order, while fewer than max_running run.
 * The lock of a spool is waited for only when no fetch runs (see above).
 */
static void
start_downloads(Downloads *d)
{
	for (int i = d->first_unstarted; i < d->nexports && d->nrunning < d->max_running; i++)
		if (!d->started[i] && !same_url_running(d, i))
			(void) start_one(d, i, d->nrunning == 0);
	while (d->first_unstarted < d->nexports && d->started[d->first_unstarted])
		d->first_unstarted++;
}

/* Notes what the spool of a fetch that is over holds, and frees the slot. */
static void
finish_one(Downloads *d, int slot)
{
	HvcsvSpoolCheck *check = &d->checks[d->running_export[slot]];
	MemoryContext old = MemoryContextSwitchTo(d->running_cxt[slot]);
	HvcsvSpool *spool;

	d->current = d->running_export[slot];
	spool = hvcsv_spool_fetch_finish(d->running[slot]);
	d->current = -1;
	MemoryContextSwitchTo(d->result_cxt);
	if (spool == NULL)
		check->missing = true;
	else
	{
		check->fetched_now = spool->fetched_now;
		check->revalidated = spool->revalidated;
		check->etag = pstrdup(spool->etag);
		check->last_modified = pstrdup(spool->last_modified);
		check->size = spool->size;
		hvcsv_spool_close(spool);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(d->running_cxt[slot]);
	d->running[slot] = NULL;
	d->running_cxt[slot] = NULL;
	d->nrunning--;
	d->nfinished++;
}

/* Moves every running fetch that is ready; false if none was. */
static bool
step_downloads(Downloads *d)
{
	bool		any = false;

	for (int slot = 0; slot < d->max_running; slot++)
	{
		MemoryContext old;
		bool		over;
		bool		moved;

		if (d->running[slot] == NULL)
			continue;
		old = MemoryContextSwitchTo(d->running_cxt[slot]);
		d->current = d->running_export[slot];
		over = hvcsv_spool_fetch_step(d->running[slot], &moved);
		d->current = -1;
		MemoryContextSwitchTo(old);
		if (over)
			finish_one(d, slot);
		any |= moved || over;
	}
	return any;
}

/* Sets up the fetches of exports (a list of HvcsvExport), none started. */
static Downloads *
downloads_create(const HvcsvOptions *opts, const List *exports, HvcsvSpoolCheck *checks,
				 MemoryContext result_cxt)
{
	Downloads  *d = palloc0(sizeof(Downloads));
	int			i = 0;
	const ListCell *cell;

	d->opts = *opts;
	d->nexports = list_length(exports);
	d->exports = palloc(sizeof(HvcsvExport *) * Max(d->nexports, 1));
	foreach(cell, exports)
		d->exports[i++] = lfirst(cell);
	d->skip_missing = hvcsv_skips_missing_exports(opts);
	d->checks = checks;
	d->result_cxt = result_cxt;
	d->cxt = CurrentMemoryContext;
	d->group = hvcsv_transfer_group_create();
	d->max_running = Max(opts->max_connections, 1);
	d->running = palloc0(sizeof(HvcsvSpoolFetch *) * d->max_running);
	d->running_cxt = palloc0(sizeof(MemoryContext) * d->max_running);
	d->running_export = palloc0(sizeof(int) * d->max_running);
	d->started = palloc0(sizeof(bool) * Max(d->nexports, 1));
	d->current = -1;
	return d;
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
	MemoryContext result_cxt = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(result_cxt, "hvcsv_fdw downloads",
											  ALLOCSET_DEFAULT_SIZES);
	Downloads  *d;

	MemoryContextSwitchTo(cxt);
	d = downloads_create(opts, exports, checks, result_cxt);
	d->errcallback.callback = downloads_error_context;
	d->errcallback.arg = d;
	d->errcallback.previous = error_context_stack;
	error_context_stack = &d->errcallback;
	while (d->nfinished < d->nexports)
	{
		CHECK_FOR_INTERRUPTS();
		start_downloads(d);
		if (!step_downloads(d))
			hvcsv_transfer_group_wait(d->group);
	}
	error_context_stack = d->errcallback.previous;
	MemoryContextSwitchTo(result_cxt);
	MemoryContextDelete(cxt);
	return checks;
}
