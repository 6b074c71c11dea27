/*-------------------------------------------------------------------------
 * refresh_session.c
 *	  One table's refresh in this process, and the hooks through which it
 *	  watches the scans of the table's export.
 *
 * While a refresh's statements read the export, each row the scan returns
 * goes through the key watch (key_watch.c) and the row filter
 * (row_filter.c), and each row on_error 'skip' rejects is kept for the
 * rejects table.  The scan knows none of this: it calls the hook table that
 * hvcsv_refresh_init() registers from _PG_init, so parallel workers have it
 * too, and carries the watch and the filter through its shared memory.
 *
 * All of it lives in a memory context of the table's transaction.  When
 * the transaction ends, committed or not, the context goes and its reset
 * callback forgets the session: an error needs no cleanup list.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "refresh_internal.h"
#include "scan.h"

/* Rejected rows kept per run for the rejects table; the count is always exact. */
#define MAX_KEPT_REJECTS 1000

static RefreshSession *session = NULL;

/* Where the choice, the watch and the filter are in a parallel scan's shared memory (0: none). */
typedef struct SessionShared
{
	Size		choice_offset;
	Size		watch_offset;
	Size		filter_offset;
	Size		exports_offset; /* the read set, then the row sums */
	int			nexports;
} SessionShared;

static void
forget_session(void *arg)
{
	session = NULL;
}

/* Starts a session for a refresh of foreign_table, in the current transaction. */
RefreshSession *
hvcsv_session_begin(Oid foreign_table)
{
	MemoryContext cxt;
	RefreshSession *s;
	MemoryContextCallback *cb;

	/* One session at a time: a new one ends whatever another left. */
	hvcsv_session_end();
	cxt = AllocSetContextCreate(TopTransactionContext, "hvcsv refresh session",
								ALLOCSET_DEFAULT_SIZES);
	s = MemoryContextAllocZero(cxt, sizeof(RefreshSession));
	cb = MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback));
	s->cxt = cxt;
	s->foreign_table = foreign_table;
	cb->func = forget_session;
	MemoryContextRegisterResetCallback(cxt, cb);
	session = s;
	return s;
}

/* The session of this process, or NULL. */
RefreshSession *
hvcsv_session_current(void)
{
	return session;
}

/* Ends the session before its transaction does, freeing what it holds. */
void
hvcsv_session_end(void)
{
	if (session)
		MemoryContextDelete(session->cxt);
}

/*
 * Makes the refresh's reads of a table with several exports take only
 * those that read[] marks (the new or changed ones), and count the rows
 * of each.
 */
void
hvcsv_session_read_exports(const bool *read, int nexports)
{
	RefreshSession *s = session;

	s->nexports = nexports;
	s->exports_read = MemoryContextAlloc(s->cxt, sizeof(bool) * Max(nexports, 1));
	memcpy(s->exports_read, read, sizeof(bool) * nexports);
	s->export_rows = MemoryContextAllocZero(s->cxt, sizeof(uint64) * Max(nexports, 1));
}

/* Whether the refresh's read takes export i of several. */
static bool
session_reads_export(HvcsvScan *scan, int i)
{
	return session->exports_read == NULL || i >= session->nexports ||
		session->exports_read[i];
}

/* Counts a row of the export being read, for hvcsv_sync_exports. */
static inline void
count_export_row(RefreshSession *s, const HvcsvScan *scan)
{
	if (s->export_rows && scan->exports != NIL && scan->export_index < s->nexports)
		s->export_rows[scan->export_index]++;
}

/* Moves this process's counts of rows per export into the shared sums. */
static void
share_export_rows(RefreshSession *s)
{
	int			i;

	if (s->shared_export_rows == NULL)
		return;
	for (i = 0; i < s->nexports; i++)
	{
		pg_atomic_fetch_add_u64(&s->shared_export_rows[i], s->export_rows[i]);
		s->export_rows[i] = 0;
	}
}

/* Adds the workers' counts of rows per export to the leader's. */
static void
gather_export_rows(RefreshSession *s)
{
	int			i;

	if (s->shared_export_rows == NULL)
		return;
	for (i = 0; i < s->nexports; i++)
		s->export_rows[i] += pg_atomic_exchange_u64(&s->shared_export_rows[i], 0);
}

/*
 * Whether this is the refresh's own statement rather than one that user
 * code started from inside it: a trigger on the target (a row trigger, or
 * a statement trigger that fires before the refresh's scan begins) may read
 * the same foreign table, and must get every row, unwatched.
 */
static bool
outside_triggers(void)
{
	LOCAL_FCINFO(fcinfo, 0);

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetInt32(pg_trigger_depth(fcinfo)) == 0;
}

/* Expects the next scan of the foreign table to be the refresh's own read of it. */
void
hvcsv_session_expect_scan(void)
{
	session->scan_expected = true;
}

/*
 * Claims a scan of relid for the session: the first one the refresh's
 * statement starts after hvcsv_session_expect_scan(), and no other, so that
 * a second scan of the table in the same statement (a default or a check
 * that reads it) is left alone.
 */
static bool
session_observes(Oid relid)
{
	if (session == NULL || session->foreign_table != relid || !session->scan_expected ||
		!outside_triggers())
		return false;
	session->scan_expected = false;
	return true;
}

static bool
session_whole_read(Oid relid)
{
	return session && session->foreign_table == relid && session->whole_read &&
		outside_triggers();
}

/* The URL that carries the cursor's bound (cursor_param), if any. */
static const char *
session_request_url(HvcsvScan *scan)
{
	return session->request_url;
}

/*
 * Refuses an export, of a table with several, that lacks a key column: its
 * rows would all read NULL there (on_missing_columns 'keep'), which no key
 * may be.  The scan's error context names the export.
 */
static void
check_export_has_keys(HvcsvScan *scan, List *key_names)
{
	ListCell   *cell;
	ListCell   *key;

	foreach(cell, scan->builder->map->missing_atts)
	{
		const char *name = NameStr(TupleDescAttr(RelationGetDescr(scan->rel),
												 lfirst_int(cell))->attname);

		foreach(key, key_names)
			if (strcmp(lfirst(key), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
						 errmsg("export \"%s\" has no key column \"%s\"",
								scan->export_display, name),
						 errdetail("Every export of foreign table \"%s\" must have the key's columns.",
								   RelationGetRelationName(scan->rel))));
	}
}

/*
 * Each row: on_duplicate_key's choice first (its survey only notes rows),
 * so that the watch and the filter see only the rows kept; the filter's
 * lookup starts before the watch, to overlap it.
 */
static bool
session_row(HvcsvScan *scan, TupleTableSlot *slot)
{
	RefreshSession *s = session;

	if (unlikely(scan->builder->map->missing_atts != NIL) && scan->exports != NIL)
		check_export_has_keys(scan, s->key_names);
	if (s->choice)
	{
		if (s->surveying)
		{
			hvcsv_key_choice_survey(s->choice, slot, scan->stream->record_offset);
			return false;
		}
		if (hvcsv_key_choice_drops(s->choice, slot, scan->stream->record_offset))
			return false;
	}
	count_export_row(s, scan);

	if (s->filter)
		hvcsv_row_filter_prepare(s->filter, slot);
	if (s->watch)
		hvcsv_key_watch_row(s->watch, slot);
	/* A refresh needs no row the target already stores. */
	return !(s->filter && hvcsv_row_filter_drops(s->filter, slot));
}

static void
session_reject(HvcsvScan *scan, int att, const char *message)
{
	RefreshSession *s = session;
	MemoryContext old;

	/* on_duplicate_key's survey reads rows that the refresh's own read rejects again. */
	if (s->surveying)
		return;
	s->reject_count++;
	if (list_length(s->rejects) >= MAX_KEPT_REJECTS)
		return;
	old = MemoryContextSwitchTo(s->cxt);
	s->rejects = lappend(s->rejects, hvcsv_describe_reject(scan, att, message));
	MemoryContextSwitchTo(old);
}

static void
session_part_done(HvcsvScan *scan)
{
	if (session->choice && !session->surveying)
		hvcsv_key_choice_part_done(session->choice);
	if (session->watch)
		hvcsv_key_watch_part_done(session->watch);
	if (session->filter)
		hvcsv_row_filter_part_done(session->filter);
	share_export_rows(session);
}

/* Fills in where the watch and the filter go; returns the size of it all. */
static Size
shared_layout(SessionShared *layout)
{
	Size		offset = MAXALIGN(sizeof(SessionShared));

	layout->choice_offset = layout->watch_offset = layout->filter_offset = 0;
	/* The survey reads serially. */
	if (session->choice && !session->surveying)
	{
		layout->choice_offset = offset;
		offset += MAXALIGN(hvcsv_key_choice_shared_size(session->choice));
	}
	/* A watch that a parallel scan has gathered already has nothing to share. */
	if (session->watch && hvcsv_key_watch_shared_size(session->watch) > 0)
	{
		layout->watch_offset = offset;
		offset += MAXALIGN(hvcsv_key_watch_shared_size(session->watch));
	}
	if (session->filter)
	{
		layout->filter_offset = offset;
		offset += MAXALIGN(hvcsv_row_filter_shared_size(session->filter));
	}
	layout->exports_offset = 0;
	layout->nexports = session->exports_read ? session->nexports : 0;
	if (layout->nexports > 0)
	{
		layout->exports_offset = offset;
		offset += MAXALIGN(sizeof(bool) * layout->nexports) +
			sizeof(pg_atomic_uint64) * layout->nexports;
	}
	return offset;
}

/* The shared memory the session's watch and filter need in a parallel scan. */
Size
hvcsv_session_shared_size(void)
{
	SessionShared layout;

	return session ? shared_layout(&layout) : 0;
}

static Size
session_shared_size(HvcsvScan *scan)
{
	return hvcsv_session_shared_size();
}

/*
 * Puts the read set in shared memory and points the session's row sums
 * there, for a parallel scan's workers.
 */
static void
share_exports_read(RefreshSession *s, const SessionShared *layout, void *dest)
{
	char	   *base = (char *) dest + layout->exports_offset;
	int			i;

	memcpy(base, s->exports_read, sizeof(bool) * layout->nexports);
	s->shared_export_rows = (pg_atomic_uint64 *) (base + MAXALIGN(sizeof(bool) * layout->nexports));
	for (i = 0; i < layout->nexports; i++)
		pg_atomic_init_u64(&s->shared_export_rows[i], 0);
}

static void
session_share(HvcsvScan *scan, void *dest)
{
	SessionShared *layout = dest;

	(void) shared_layout(layout);
	if (layout->choice_offset)
		hvcsv_key_choice_share(session->choice, (char *) dest + layout->choice_offset);
	if (layout->watch_offset)
		hvcsv_key_watch_share(session->watch, (char *) dest + layout->watch_offset);
	if (layout->filter_offset)
		hvcsv_row_filter_share(session->filter, (char *) dest + layout->filter_offset);
	if (layout->exports_offset)
		share_exports_read(session, layout, dest);
}

/*
 * A parallel worker of the scan the refresh claimed: a session of its own,
 * on the shared watch and filter, that claims the worker's part of the scan.
 */
static void
session_attach(Oid relid, void *src)
{
	SessionShared *layout = src;
	RefreshSession *s = hvcsv_session_begin(relid);

	s->scan_expected = true;
	if (layout->choice_offset)
		s->choice = hvcsv_key_choice_attach(s->cxt, (char *) src + layout->choice_offset);
	if (layout->watch_offset)
		s->watch = hvcsv_key_watch_attach(s->cxt, (char *) src + layout->watch_offset);
	if (layout->filter_offset)
		s->filter = hvcsv_row_filter_attach(s->cxt, (char *) src + layout->filter_offset);
	if (layout->exports_offset)
	{
		char	   *base = (char *) src + layout->exports_offset;

		hvcsv_session_read_exports((bool *) base, layout->nexports);
		s->shared_export_rows = (pg_atomic_uint64 *) (base + MAXALIGN(sizeof(bool) * layout->nexports));
	}
}

static void
session_gather(HvcsvScan *scan)
{
	if (session->choice && !session->surveying)
		hvcsv_key_choice_gather(session->choice);
	if (session->watch)
		hvcsv_key_watch_gather(session->watch);
	if (session->filter)
		hvcsv_row_filter_gather(session->filter);
	gather_export_rows(session);
}

static const HvcsvScanHooks session_hooks = {
	.observes = session_observes,
	.whole_read = session_whole_read,
	.request_url = session_request_url,
	.reads_export = session_reads_export,
	.row = session_row,
	.reject = session_reject,
	.part_done = session_part_done,
	.shared_size = session_shared_size,
	.share = session_share,
	.attach = session_attach,
	.gather = session_gather,
};

/* Makes the scan call the refresh's hooks; from _PG_init. */
void
hvcsv_session_register_hooks(void)
{
	hvcsv_scan_set_hooks(&session_hooks);
}
