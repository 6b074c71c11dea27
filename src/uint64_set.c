/*-------------------------------------------------------------------------
 * uint64_set.c
 *	  A set of 64-bit hashes that stops growing at maintenance_work_mem.
 *
 * Open addressing with linear probing, doubled at half load.  The refresh
 * keeps hashes of keys (key_watch.c) and of stored rows (row_filter.c)
 * here; past the memory limit a set reports overflowed and its owner falls
 * back to exact SQL, so memory stays bounded on any table or export.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "hvcsv_fdw.h"

#define UINT64_SET_INITIAL_SLOTS 65536

/* Whether a table of nslots slots is allowed. */
static bool
size_allowed(uint64 nslots)
{
	return sizeof(uint64) * nslots <= (Size) maintenance_work_mem * 1024 &&
		sizeof(uint64) * nslots <= MaxAllocHugeSize;
}

/*
 * Makes an empty set in cxt, sized for about expected values when that is
 * allowed: growing rehashes everything, one cache miss per value.
 */
Uint64Set *
uint64_set_create(MemoryContext cxt, double expected)
{
	Uint64Set  *set = MemoryContextAllocZero(cxt, sizeof(Uint64Set));

	set->cxt = cxt;
	set->nslots = UINT64_SET_INITIAL_SLOTS;
	while (set->nslots < expected * 2 && size_allowed(set->nslots * 2))
		set->nslots *= 2;
	set->slots = MemoryContextAllocHuge(cxt, sizeof(uint64) * set->nslots);
	memset(set->slots, 0, sizeof(uint64) * set->nslots);
	return set;
}

/* The slot holding value, or the empty slot where it belongs. */
static inline uint64 *
find_slot(const Uint64Set *set, uint64 value)
{
	uint64		mask = set->nslots - 1;
	uint64		i;

	for (i = value & mask; set->slots[i] != 0; i = (i + 1) & mask)
		if (set->slots[i] == value)
			break;
	return &set->slots[i];
}

/* 0 marks an empty slot, so a hash of 0 is kept as 1. */
static inline uint64
stored_form(uint64 value)
{
	return value == 0 ? 1 : value;
}

/* Doubles the set, unless that would pass maintenance_work_mem. */
static bool
grow(Uint64Set *set)
{
	uint64	   *old_slots = set->slots;
	uint64		old_n = set->nslots;

	if (!size_allowed(old_n * 2))
		return false;
	set->nslots = old_n * 2;
	set->slots = MemoryContextAllocHuge(set->cxt, sizeof(uint64) * set->nslots);
	memset(set->slots, 0, sizeof(uint64) * set->nslots);
	for (uint64 i = 0; i < old_n; i++)
		if (old_slots[i] != 0)
			*find_slot(set, old_slots[i]) = old_slots[i];
	pfree(old_slots);
	return true;
}

/*
 * Adds value; true if it was there already.  A set that is full (at half
 * load and not allowed to grow) adds nothing more and is marked overflowed.
 */
bool
uint64_set_add(Uint64Set *set, uint64 value)
{
	uint64	   *slot;

	value = stored_form(value);
	slot = find_slot(set, value);
	if (*slot == value)
		return true;
	if (set->overflowed)
		return false;
	*slot = value;
	set->used++;
	if (set->used * 2 >= set->nslots && !grow(set))
		set->overflowed = true;
	return false;
}

/*
 * Starts loading the slot where value belongs: a lookup in a large set is a
 * cache miss, which the caller can overlap with other work.
 */
void
uint64_set_prefetch(const Uint64Set *set, uint64 value)
{
#ifdef __GNUC__
	__builtin_prefetch(&set->slots[stored_form(value) & (set->nslots - 1)]);
#endif
}

/* Whether value was added. */
bool
uint64_set_contains(const Uint64Set *set, uint64 value)
{
	return *find_slot(set, stored_form(value)) != 0;
}
