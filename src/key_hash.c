/*-------------------------------------------------------------------------
 * key_hash.c
 *	  A 64-bit hash of a row's key columns, as the key watch and the key
 *	  choice take it from the rows a scan returns.
 *
 * Each key column is hashed with its type's extended hash function in its
 * collation, so values that are equal hash alike, and the column hashes are
 * combined in key order.  What the hash needs (attribute numbers, function
 * OIDs, collations) can be copied into a parallel scan's shared memory and
 * rebuilt in a worker.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "refresh_internal.h"

/* One key column, as shared memory holds it. */
typedef struct SharedKeyColumn
{
	AttrNumber	attnum;
	Oid			hash_proc;
	Oid			collation;
} SharedKeyColumn;

/* Fills kh's arrays for nkeys columns, in cxt. */
static void
allocate(KeyHash *kh, int nkeys, MemoryContext cxt)
{
	kh->nkeys = nkeys;
	kh->attnums = MemoryContextAlloc(cxt, sizeof(AttrNumber) * Max(nkeys, 1));
	kh->hash_procs = MemoryContextAlloc(cxt, sizeof(FmgrInfo) * Max(nkeys, 1));
	kh->collations = MemoryContextAlloc(cxt, sizeof(Oid) * Max(nkeys, 1));
	kh->last_attnum = 0;
}

/*
 * Prepares the hash of foreign_table's columns named in keys, in cxt; false
 * when there is no key or a key type has no extended hash function.
 */
bool
hvcsv_key_hash_init(KeyHash *kh, MemoryContext cxt, Oid foreign_table, List *keys)
{
	ListCell   *cell;
	int			i = 0;

	allocate(kh, list_length(keys), cxt);
	foreach(cell, keys)
	{
		AttrNumber	attnum = get_attnum(foreign_table, lfirst(cell));
		Oid			type;
		int32		typmod;
		Oid			collation;
		TypeCacheEntry *entry;

		if (attnum == InvalidAttrNumber)
			return false;
		get_atttypetypmodcoll(foreign_table, attnum, &type, &typmod, &collation);
		entry = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (!OidIsValid(entry->hash_extended_proc))
			return false;
		kh->attnums[i] = attnum;
		fmgr_info_copy(&kh->hash_procs[i], &entry->hash_extended_proc_finfo, cxt);
		kh->collations[i] = collation;
		kh->last_attnum = Max(kh->last_attnum, attnum);
		i++;
	}
	return i > 0;
}

/* The hash of slot's key in *hash; false if a key column is NULL. */
bool
hvcsv_key_hash_row(const KeyHash *kh, TupleTableSlot *slot, uint64 *hash)
{
	*hash = 0;
	slot_getsomeattrs(slot, kh->last_attnum);
	for (int i = 0; i < kh->nkeys; i++)
	{
		int			att = kh->attnums[i] - 1;

		if (slot->tts_isnull[att])
			return false;
		*hash = hash_combine64(*hash,
							   DatumGetUInt64(FunctionCall2Coll(&kh->hash_procs[i], kh->collations[i],
																slot->tts_values[att],
																UInt64GetDatum(i))));
	}
	return true;
}

/* The shared memory hvcsv_key_hash_share needs. */
Size
hvcsv_key_hash_shared_size(const KeyHash *kh)
{
	return MAXALIGN(sizeof(int) + sizeof(SharedKeyColumn) * kh->nkeys);
}

/* Copies what the hash needs to dest. */
void
hvcsv_key_hash_share(const KeyHash *kh, void *dest)
{
	SharedKeyColumn *cols = (SharedKeyColumn *) ((char *) dest + sizeof(int));

	*(int *) dest = kh->nkeys;
	for (int i = 0; i < kh->nkeys; i++)
	{
		cols[i].attnum = kh->attnums[i];
		cols[i].hash_proc = kh->hash_procs[i].fn_oid;
		cols[i].collation = kh->collations[i];
	}
}

/* Rebuilds in cxt a hash that hvcsv_key_hash_share copied to src. */
void
hvcsv_key_hash_attach(KeyHash *kh, MemoryContext cxt, const void *src)
{
	const SharedKeyColumn *cols = (const SharedKeyColumn *) ((const char *) src + sizeof(int));

	allocate(kh, *(const int *) src, cxt);
	for (int i = 0; i < kh->nkeys; i++)
	{
		kh->attnums[i] = cols[i].attnum;
		fmgr_info_cxt(cols[i].hash_proc, &kh->hash_procs[i], cxt);
		kh->collations[i] = cols[i].collation;
		kh->last_attnum = Max(kh->last_attnum, kh->attnums[i]);
	}
}
