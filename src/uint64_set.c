/*-------------------------------------------------------------------------
 * uint64_set.c
 *	  A set of 64-bit hashes that stops growing at maintenance_work_mem.
 *
 * Open addressing with linear probing, doubled at half load.  The refresh
 * keeps hashes of keys (key_watch.c) and of stored rows (row_filter.c)
 * here; past the memory limit a set reports overflowed and its owner falls
 * back to exact SQL, so memory stays bounded on any table or export.
 *
 * A set can also be a view of slots in dynamic shared memory, shared by
 * the processes of a parallel scan: it never grows, values are added with
 * compare-and-swap, and a probe longer than SHARED_MAX_PROBE (never at
 * half load; the slots are nearly full) marks the view overflowed instead.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/statvfs.h>

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/dsm_impl.h"
#include "utils/memutils.h"

#include "uint64_set.h"


#define UINT64_SET_INITIAL_SLOTS 65536
#define SHARED_MAX_PROBE 256

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
hvcsv_uint64_set_create(MemoryContext cxt, double expected)
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

/* Adds value to a shared view; true if it was there already. */
static bool
shared_add(Uint64Set *set, uint64 value)
{
	uint64		mask = set->nslots - 1;
	uint64		i = value & mask;

#ifndef PG_HAVE_ATOMIC_U64_SIMULATION
	StaticAssertStmt(sizeof(pg_atomic_uint64) == sizeof(uint64),
					 "shared slots are read as pg_atomic_uint64");
#endif
	for (int probe = 0; probe < SHARED_MAX_PROBE; probe++, i = (i + 1) & mask)
	{
		pg_atomic_uint64 *slot = (pg_atomic_uint64 *) &set->slots[i];
		uint64		found = pg_atomic_read_u64(slot);

		/* Another process may fill the empty slot first: then look again. */
		if (found == 0 && pg_atomic_compare_exchange_u64(slot, &found, value))
			return false;
		if (found == value)
			return true;
	}
	set->overflowed = true;
	return false;
}

/*
 * Adds value; true if it was there already.  A set that is full (at half
 * load and not allowed to grow) adds nothing more and is marked overflowed.
 */
bool
hvcsv_uint64_set_add(Uint64Set *set, uint64 value)
{
	uint64	   *slot;

	value = stored_form(value);
	if (set->shared)
		return shared_add(set, value);
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
hvcsv_uint64_set_prefetch(const Uint64Set *set, uint64 value)
{
#ifdef __GNUC__
	__builtin_prefetch(&set->slots[stored_form(value) & (set->nslots - 1)]);
#endif
}

/* Whether value was added. */
bool
hvcsv_uint64_set_contains(const Uint64Set *set, uint64 value)
{
	return *find_slot(set, stored_form(value)) != 0;
}

/* Frees a set that is not a view. */
void
hvcsv_uint64_set_free(Uint64Set *set)
{
	Assert(!set->shared);
	pfree(set->slots);
	pfree(set);
}

/* The bytes of shared memory a copy of set's slots takes. */
Size
hvcsv_uint64_set_shared_size(const Uint64Set *set)
{
	return sizeof(uint64) * set->nslots;
}

/* Copies set's slots to shared memory at dest. */
void
hvcsv_uint64_set_share(const Uint64Set *set, void *dest)
{
	memcpy(dest, set->slots, hvcsv_uint64_set_shared_size(set));
}

/* A view, made in cxt, of nslots slots that hvcsv_uint64_set_share() copied to shared memory. */
Uint64Set *
hvcsv_uint64_set_attach(MemoryContext cxt, void *slots, uint64 nslots)
{
	Uint64Set  *set = MemoryContextAllocZero(cxt, sizeof(Uint64Set));

	set->cxt = cxt;
	set->slots = slots;
	set->nslots = nslots;
	set->shared = true;
	return set;
}

/*
 * Fills set, empty, from nslots slots (as many as it has) filled in shared
 * memory; false, and nothing copied, if they are at half load or more.
 */
bool
hvcsv_uint64_set_load(Uint64Set *set, const void *slots)
{
	const uint64 *src = slots;
	uint64		used = 0;

	for (uint64 i = 0; i < set->nslots; i++)
		used += src[i] != 0;
	if (used * 2 >= set->nslots)
		return false;
	memcpy(set->slots, src, sizeof(uint64) * set->nslots);
	set->used = used;
	return true;
}

/* Empties set. */
void
hvcsv_uint64_set_reset(Uint64Set *set)
{
	Assert(!set->shared);
	memset(set->slots, 0, sizeof(uint64) * set->nslots);
	set->used = 0;
	set->overflowed = false;
}

/*
 * Whether bytes more of dynamic shared memory are likely to be had: a POSIX
 * segment larger than the free space of /dev/shm (64 MB in a default
 * container) fails the operation that asked for it, and so does one past
 * MaxAllocSize when no segment is left (the memory then comes from palloc).
 * Shared sets need native 64-bit atomics.
 */
bool
hvcsv_uint64_set_shared_fits(Size bytes)
{
	struct statvfs fs;

#ifdef PG_HAVE_ATOMIC_U64_SIMULATION
	/* There a pg_atomic_uint64 is more than a slot. */
	return false;
#endif
	if (bytes >= MaxAllocSize)
		return false;
	if (dynamic_shared_memory_type != DSM_IMPL_POSIX)
		return true;
	return statvfs("/dev/shm", &fs) == 0 && (uint64) fs.f_bavail * fs.f_frsize >= 2 * bytes;
}
