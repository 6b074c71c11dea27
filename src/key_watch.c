/*-------------------------------------------------------------------------
 * key_watch.c
 *	  Counts the rows a refresh reads from its foreign table and notices a
 *	  key that may be there twice, while the scan runs.
 *
 * The sync statement would otherwise keep the whole export in a
 * materialized CTE to count it and group it by key: on 2,000,000 rows that
 * was 40% of a refresh that changes nothing.  Here each row's key values
 * are hashed (64 bits, with the types' own extended hash functions, so
 * equal values hash alike) into a Uint64Set.  A hash seen before only means
 * "maybe": the refresh then looks for the duplicate exactly.  A set past its
 * memory limit reports "maybe" too, so memory stays bounded on any export.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "hvcsv_fdw.h"

typedef struct KeyWatch
{
	Oid			foreign_table;
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
} KeyWatch;

static KeyWatch *watch = NULL;

/* Whether a watch runs: tested by the scan for each row, so kept apart. */
bool		hvcsv_key_watch_on = false;

/*
 * Starts watching scans of foreign_table for the key columns named in keys,
 * sized for about expected_rows.
 * Returns false (and watches nothing) when a key type has no extended hash
 * function; the caller then checks keys in SQL.
 */
bool
hvcsv_key_watch_start(Oid foreign_table, List *keys, double expected_rows)
{
	MemoryContext cxt;
	MemoryContext old;
	KeyWatch   *w;
	ListCell   *cell;
	int			i = 0;

	hvcsv_key_watch_stop();
	cxt = AllocSetContextCreate(TopMemoryContext, "hvcsv key watch", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(KeyWatch));
	w->cxt = cxt;
	w->foreign_table = foreign_table;
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
		return false;
	}
	w->hashes = uint64_set_create(cxt, expected_rows);
	watch = w;
	hvcsv_key_watch_on = true;
	return true;
}

/* Called by the scan for each row it returns. */
void
hvcsv_key_watch_row(Relation rel, TupleTableSlot *slot)
{
	KeyWatch   *w = watch;
	uint64		hash = 0;
	int			i;

	if (w == NULL || RelationGetRelid(rel) != w->foreign_table)
		return;
	w->rows++;
	if (w->hashes->overflowed)
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
	uint64_set_prefetch(w->hashes, hash);
	if (w->has_pending && uint64_set_add(w->hashes, w->pending))
		w->maybe_duplicate = true;
	w->pending = hash;
	w->has_pending = true;
}

/*
 * Ends the watch: the rows seen, and whether a key may be there twice (a
 * repeated hash, or too many keys to track).
 */
uint64
hvcsv_key_watch_finish(bool *maybe_duplicate)
{
	uint64		rows = watch ? watch->rows : 0;

	if (watch && watch->has_pending && uint64_set_add(watch->hashes, watch->pending))
		watch->maybe_duplicate = true;
	*maybe_duplicate = watch ? watch->maybe_duplicate || watch->hashes->overflowed : true;
	hvcsv_key_watch_stop();
	return rows;
}

/* Forgets the watch (also after an error). */
void
hvcsv_key_watch_stop(void)
{
	if (watch)
		MemoryContextDelete(watch->cxt);
	watch = NULL;
	hvcsv_key_watch_on = false;
}
