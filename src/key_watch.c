/*-------------------------------------------------------------------------
 * key_watch.c
 *	  Counts the rows a refresh reads from its foreign table and notices a
 *	  key that may be there twice, while the scan runs.
 *
 * The sync statement would otherwise keep the whole export in a
 * materialized CTE to count it and group it by key, the largest part of a
 * refresh that changes nothing.  Here each row's key values
 * are hashed (64 bits, with the types' own extended hash functions, so
 * equal values hash alike) into a Uint64Set.  A hash seen before only means
 * "maybe": the refresh then looks for the duplicate exactly.  A set past its
 * memory limit reports "maybe" too, so memory stays bounded on any export.
 *
 * A parallel scan's processes share one set in the scan's shared memory
 * (hvcsv_key_watch_share), so a key in two partitions is seen twice; each
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

/* What a parallel scan's processes share of a watch, in shared memory. */
typedef struct KeyWatchShared
{
	pg_atomic_uint64 rows;		/* added by each process when its scan ends */
	pg_atomic_uint32 maybe_duplicate;
	pg_atomic_uint32 processes;	/* that added their rows */
	uint64		nslots;			/* of the set, after the keys */
	int			nkeys;
	struct
	{
		AttrNumber	attnum;
		Oid			hash_proc;
		Oid			collation;
	}			keys[FLEXIBLE_ARRAY_MEMBER];
} KeyWatchShared;

struct KeyWatch
{
	int			nkeys;
	AttrNumber *attnums;
	FmgrInfo   *hash_procs;
	Oid		   *collations;
	AttrNumber	last_attnum;	/* the largest of attnums */
	MemoryContext cxt;
	Uint64Set  *hashes;
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
	MemoryContext cxt;
	MemoryContext old;
	KeyWatch   *w;
	ListCell   *cell;
	int			i = 0;

	cxt = AllocSetContextCreate(parent, "hvcsv key watch", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(KeyWatch));
	w->cxt = cxt;
	w->nkeys = list_length(keys);
	w->attnums = palloc(sizeof(AttrNumber) * w->nkeys);
	w->hash_procs = palloc(sizeof(FmgrInfo) * w->nkeys);
	w->collations = palloc(sizeof(Oid) * w->nkeys);
	foreach(cell, keys)
	{
		AttrNumber	attnum = get_attnum(foreign_table, lfirst(cell));
		Oid			type;
		int32		typmod;
		Oid			collation;
		TypeCacheEntry *entry;

		if (attnum == InvalidAttrNumber)
			break;
		get_atttypetypmodcoll(foreign_table, attnum, &type, &typmod, &collation);
		entry = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (!OidIsValid(entry->hash_extended_proc))
			break;
		w->attnums[i] = attnum;
		fmgr_info_copy(&w->hash_procs[i], &entry->hash_extended_proc_finfo, cxt);
		w->collations[i] = collation;
		w->last_attnum = Max(w->last_attnum, attnum);
		i++;
	}
	MemoryContextSwitchTo(old);
	if (i < w->nkeys || w->nkeys == 0)
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	w->hashes = hvcsv_uint64_set_create(cxt, expected_rows);
	w->processes = 1;
	return w;
}

/* Counts a row the scan returns, and adds its key. */
void
hvcsv_key_watch_row(KeyWatch *w, TupleTableSlot *slot)
{
	uint64		hash = 0;
	int			i;

	w->rows++;
	if (w->hashes == NULL || w->hashes->overflowed)
		return;
	slot_getsomeattrs(slot, w->last_attnum);
	for (i = 0; i < w->nkeys; i++)
	{
		int			att = w->attnums[i] - 1;

		/* A NULL key never conflicts; the insert rejects it. */
		if (slot->tts_isnull[att])
			return;
		hash = hash_combine64(hash,
							  DatumGetUInt64(FunctionCall2Coll(&w->hash_procs[i], w->collations[i],
															   slot->tts_values[att],
															   UInt64GetDatum(i))));
	}
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

/* Where the shared set starts after the header. */
static Size
shared_header_size(int nkeys)
{
	return MAXALIGN(offsetof(KeyWatchShared, keys) + sizeof(((KeyWatchShared *) NULL)->keys[0]) * nkeys);
}

/* The shared memory a parallel scan needs for the watch; 0 once one has gathered it. */
Size
hvcsv_key_watch_shared_size(const KeyWatch *w)
{
	if (w->hashes == NULL)
		return 0;
	return shared_header_size(w->nkeys) + hvcsv_uint64_set_shared_size(w->hashes);
}

/*
 * Puts the watch, still empty, in a parallel scan's shared memory at dest
 * (hvcsv_key_watch_shared_size bytes); this process then adds there too.
 */
void
hvcsv_key_watch_share(KeyWatch *w, void *dest)
{
	KeyWatchShared *shared = dest;
	char	   *slots = (char *) dest + shared_header_size(w->nkeys);

	Assert(w->rows == 0 && !w->has_pending);
	pg_atomic_init_u64(&shared->rows, 0);
	pg_atomic_init_u32(&shared->maybe_duplicate, 0);
	pg_atomic_init_u32(&shared->processes, 0);
	shared->nslots = w->hashes->nslots;
	shared->nkeys = w->nkeys;
	for (int i = 0; i < w->nkeys; i++)
	{
		shared->keys[i].attnum = w->attnums[i];
		shared->keys[i].hash_proc = w->hash_procs[i].fn_oid;
		shared->keys[i].collation = w->collations[i];
	}
	hvcsv_uint64_set_share(w->hashes, slots);
	hvcsv_uint64_set_free(w->hashes);
	w->hashes = hvcsv_uint64_set_attach(w->cxt, slots, shared->nslots);
	w->shared = shared;
}

/* A parallel worker joins the watch of its scan, in a child of parent. */
KeyWatch *
hvcsv_key_watch_attach(MemoryContext parent, void *src)
{
	KeyWatchShared *shared = src;
	MemoryContext cxt;
	KeyWatch   *w;

	cxt = AllocSetContextCreate(parent, "hvcsv key watch", ALLOCSET_DEFAULT_SIZES);
	w = MemoryContextAllocZero(cxt, sizeof(KeyWatch));
	w->cxt = cxt;
	w->nkeys = shared->nkeys;
	w->attnums = MemoryContextAlloc(cxt, sizeof(AttrNumber) * w->nkeys);
	w->hash_procs = MemoryContextAlloc(cxt, sizeof(FmgrInfo) * w->nkeys);
	w->collations = MemoryContextAlloc(cxt, sizeof(Oid) * w->nkeys);
	for (int i = 0; i < w->nkeys; i++)
	{
		w->attnums[i] = shared->keys[i].attnum;
		fmgr_info_cxt(shared->keys[i].hash_proc, &w->hash_procs[i], cxt);
		w->collations[i] = shared->keys[i].collation;
		w->last_attnum = Max(w->last_attnum, w->attnums[i]);
	}
	w->hashes = hvcsv_uint64_set_attach(cxt, (char *) src + shared_header_size(w->nkeys),
								  shared->nslots);
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
	/* Its slots go with the shared memory. */
	w->hashes = NULL;
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
