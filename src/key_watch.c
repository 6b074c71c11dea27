/*-------------------------------------------------------------------------
 * key_watch.c
 *	  Counts the rows a refresh reads from its foreign table and notices a
 *	  key that may be there twice, while the scan runs.
 *
 * The sync statement would otherwise keep the whole export in a
 * materialized CTE to count it and group it by key, the largest part of a
 * refresh that changes nothing.  Here each row's key values
 * are hashed (key_hash.c) into a Uint64Set.  A hash seen before only means
 * "maybe": the refresh then looks for the duplicate exactly.  A set past its
 * share of maintenance_work_mem (HVCSV_SET_BYTES) reports "maybe" too, so
 * memory stays bounded on any export.
 *
 * A parallel scan's processes share one set, in a segment of its own that
 * each attaches through the scan's shared memory (hvcsv_key_watch_share),
 * so a key in two partitions is seen twice; each
 * adds its row count when its scan ends, and the leader takes the totals
 * before the shared memory goes (hvcsv_key_watch_gather).  The refresh's
 * scan hooks (refresh_session.c) make these calls; a watch lives in the
 * memory context it is made in, so it goes with its transaction.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "refresh_internal.h"
#include "uint64_set.h"

/*
 * What a parallel scan's processes share of a watch, in shared memory:
 * this, then the key hash's columns (key_hash.c).
 */
typedef struct KeyWatchShared
{
	pg_atomic_uint64 rows;		/* added by each process when its scan ends */
	pg_atomic_uint32 maybe_duplicate;
	pg_atomic_uint32 processes;	/* that added their rows */
	Uint64SetRef hashes;
} KeyWatchShared;

struct KeyWatch
{
	KeyHash		key;
	MemoryContext cxt;
	Uint64Set  *hashes;			/* made at first use */
	double		expected;		/* values to size it for */
	bool		gathered;		/* its parallel scan is over */
	uint64		pending;		/* the last row's hash, not yet added */
	bool		has_pending;
	uint64		rows;
	bool		maybe_duplicate;
	KeyWatchShared *shared;		/* under a parallel scan */
	int			processes;		/* that scanned, once gathered */
};

/*
 * Makes a watch, in a child of parent, of foreign_table's key columns named
 * in keys, sized for about expected_rows.  Returns NULL when a key type has
 * no extended hash function; the caller then checks keys in SQL.
 */
KeyWatch *
hvcsv_key_watch_create(MemoryContext parent, Oid foreign_table, List *keys, double expected_rows)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "hvcsv key watch", ALLOCSET_DEFAULT_SIZES);
	KeyWatch   *w = MemoryContextAllocZero(cxt, sizeof(KeyWatch));

	w->cxt = cxt;
	if (!hvcsv_key_hash_init(&w->key, cxt, foreign_table, keys))
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	/* An export may have more rows than the target: a quarter more room. */
	w->expected = expected_rows * 5 / 4;
	w->processes = 1;
	return w;
}

/*
 * Whether the watch has its set, made now if it is the first use: not
 * before, so that it takes no memory while the row filter reads the target.
 * None once a parallel scan has gathered the watch.
 */
static bool
has_hashes(KeyWatch *w)
{
	if (w->hashes == NULL && !w->gathered)
		w->hashes = hvcsv_uint64_set_create(w->cxt, w->expected, HVCSV_SET_BYTES(), true);
	return w->hashes != NULL;
}

/* Counts a row the scan returns, and adds its key. */
void
hvcsv_key_watch_row(KeyWatch *w, TupleTableSlot *slot)
{
	uint64		hash;

	w->rows++;
	if (!has_hashes(w) || w->hashes->overflowed)
		return;
	/* A NULL key never conflicts; the insert rejects it. */
	if (!hvcsv_key_hash_row(&w->key, slot, &hash))
		return;
/*
	 * The hash is added one row late: its slot is prefetched now and read
	 * while the next row is built, instead of waiting for memory here.
	 */
	hvcsv_uint64_set_prefetch(w->hashes, hash);
	if (w->has_pending && hvcsv_uint64_set_add(w->hashes, w->pending))
		w->maybe_duplicate = true;
	w->pending = hash;
	w->has_pending = true;
}

/* Whether a parallel scan's workers can attach the watch's set (a segment of its own). */
bool
hvcsv_key_watch_shareable(KeyWatch *w)
{
	return has_hashes(w) && hvcsv_uint64_set_shareable(w->hashes);
}

/* The shared memory a parallel scan needs for the watch; 0 once one has gathered it. */
Size
hvcsv_key_watch_shared_size(const KeyWatch *w)
{
	if (w->gathered)
		return 0;
	return MAXALIGN(sizeof(KeyWatchShared)) + hvcsv_key_hash_shared_size(&w->key);
}

/*
 * Shares the watch, still empty, with a parallel scan's workers through its
 * shared memory at dest (hvcsv_key_watch_shared_size bytes); this process
 * then adds to the set as they do.
 */
void
hvcsv_key_watch_share(KeyWatch *w, void *dest)
{
	KeyWatchShared *shared = dest;

	Assert(w->rows == 0 && !w->has_pending);
	if (!has_hashes(w))
		elog(ERROR, "a gathered key watch cannot be shared again");
	pg_atomic_init_u64(&shared->rows, 0);
	pg_atomic_init_u32(&shared->maybe_duplicate, 0);
	pg_atomic_init_u32(&shared->processes, 0);
	hvcsv_key_hash_share(&w->key, (char *) dest + MAXALIGN(sizeof(KeyWatchShared)));
	hvcsv_uint64_set_share_segment(w->hashes, &shared->hashes);
	w->shared = shared;
}

/* A parallel worker joins the watch of its scan, in a child of parent. */
KeyWatch *
hvcsv_key_watch_attach(MemoryContext parent, void *src)
{
	KeyWatchShared *shared = src;
	MemoryContext cxt = AllocSetContextCreate(parent, "hvcsv key watch", ALLOCSET_DEFAULT_SIZES);
	KeyWatch   *w = MemoryContextAllocZero(cxt, sizeof(KeyWatch));

	w->cxt = cxt;
	hvcsv_key_hash_attach(&w->key, cxt, (char *) src + MAXALIGN(sizeof(KeyWatchShared)));
	w->hashes = hvcsv_uint64_set_attach_segment(cxt, &shared->hashes);
	w->shared = shared;
	return w;
}

/* Called by each process of a parallel scan when its part ends. */
void
hvcsv_key_watch_part_done(KeyWatch *w)
{
	if (w->shared == NULL)
		return;
	if (w->has_pending && hvcsv_uint64_set_add(w->hashes, w->pending))
		w->maybe_duplicate = true;
	w->has_pending = false;
	if (w->maybe_duplicate || w->hashes->overflowed)
		pg_atomic_write_u32(&w->shared->maybe_duplicate, 1);
	pg_atomic_fetch_add_u64(&w->shared->rows, w->rows);
	pg_atomic_fetch_add_u32(&w->shared->processes, 1);
	w->rows = 0;
}

/*
 * In the leader, when its parallel scan is over: takes the totals of every
 * process, before the shared memory goes.
 */
void
hvcsv_key_watch_gather(KeyWatch *w)
{
	if (w->shared == NULL)
		return;
	w->rows = pg_atomic_read_u64(&w->shared->rows);
	w->maybe_duplicate = pg_atomic_read_u32(&w->shared->maybe_duplicate) != 0;
	w->processes = pg_atomic_read_u32(&w->shared->processes);
	w->has_pending = false;
	w->shared = NULL;
	/* Its slots are of no more use. */
	hvcsv_uint64_set_free(w->hashes);
	w->hashes = NULL;
	w->gathered = true;
}

/* How many processes read the rows counted (1 unless the scan was parallel). */
int
hvcsv_key_watch_processes(const KeyWatch *w)
{
	return w->processes;
}

/*
 * Ends the watch and frees it: the rows seen, and whether a key may be
 * there twice (a repeated hash, or too many keys to track).
 */
uint64
hvcsv_key_watch_finish(KeyWatch *w, bool *maybe_duplicate)
{
	uint64		rows = w->rows;

	if (w->has_pending && hvcsv_uint64_set_add(w->hashes, w->pending))
		w->maybe_duplicate = true;
	*maybe_duplicate = w->maybe_duplicate || (w->hashes && w->hashes->overflowed);
	MemoryContextDelete(w->cxt);
	return rows;
}
