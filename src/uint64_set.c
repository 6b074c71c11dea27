/*-------------------------------------------------------------------------
 * uint64_set.c
 *	  A set of 64-bit hashes that stops growing at a size its owner sets.
 *
 * Open addressing with linear probing, sized for the values expected and
 * doubled when three quarters full.  The refresh keeps hashes of keys
 * (key_watch.c) and of stored rows (row_filter.c) here; past its largest
 * size a set reports overflowed and its owner falls back to exact SQL, so
 * memory stays bounded on any table or export.
 *
 * A refresh's sets take a dynamic shared memory segment of their own when
 * one is to be had: the processes of a parallel scan or read attach it
 * rather than each getting a copy, which would count in each one's memory.
 * A shared set never grows, values are added with compare-and-swap, and a
 * probe longer than SHARED_MAX_PROBE (the slots are nearly full) marks the
 * view overflowed instead.  A small set can also be copied into a parallel
 * scan's shared memory (key_choice.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/statvfs.h>

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/dsm_impl.h"
#include "utils/memutils.h"

#include "uint64_set.h"


#define UINT64_SET_MIN_SLOTS 1024
#define SHARED_MAX_PROBE 1024

/*
 * A set is at most three quarters full: a probe then stays within a cache
 * line or two, and a set sized to its values takes much less memory than a
 * table sized by powers of two at half load.
 */
static inline bool
too_full(uint64 used, uint64 nslots)
{
	return used * 4 >= nslots * 3;
}

/* The slot where a probe for value starts: its hash scaled to nslots. */
static inline uint64
home_slot(uint64 value, uint64 nslots)
{
#ifdef HAVE_INT128
	return (uint64) (((uint128) value * nslots) >> 64);
#else
	return value % nslots;
#endif
}

static inline uint64
next_slot(uint64 i, uint64 nslots)
{
	return i + 1 == nslots ? 0 : i + 1;
}

/*
 * A segment's mapping is kept past resource owners, which would warn of a
 * leak when a parallel worker commits; the set's memory context going
 * (with its transaction, or an error) detaches it.
 */
static void
detach_at_reset(void *arg)
{
	Uint64Set  *set = arg;

	if (set->seg)
		dsm_detach(set->seg);
	set->seg = NULL;
}

/* An empty set in cxt, with no slots yet. */
static Uint64Set *
new_set(MemoryContext cxt)
{
	Uint64Set  *set = MemoryContextAllocZero(cxt, sizeof(Uint64Set));
	MemoryContextCallback *cb = MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback));

	set->cxt = cxt;
	cb->func = detach_at_reset;
	cb->arg = set;
	MemoryContextRegisterResetCallback(cxt, cb);
	return set;
}

/*
 * Gives set n empty slots: in a segment of their own when the set wants
 * one and one is to be had, so that other processes can attach them and
 * freeing them returns the memory at once; else from its context.
 */
static void
alloc_slots(Uint64Set *set, uint64 n)
{
	Size		bytes = sizeof(uint64) * n;
	dsm_segment *seg = NULL;

	if (set->in_segment && hvcsv_uint64_set_shared_fits(bytes))
		seg = dsm_create(bytes, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	set->in_segment = seg != NULL;
	if (seg)
	{
		dsm_pin_mapping(seg);
		set->slots = dsm_segment_address(seg);
	}
	else
		set->slots = MemoryContextAllocHuge(set->cxt, bytes);
	set->seg = seg;
	set->nslots = n;
	memset(set->slots, 0, bytes);
}

/* Frees slots that alloc_slots() gave, in seg or not. */
static void
free_slots(uint64 *slots, dsm_segment *seg)
{
	if (seg)
		dsm_detach(seg);
	else
		pfree(slots);
}

/*
 * Makes an empty set in cxt, sized for about expected values, that may
 * grow to max_bytes of slots; in a segment of its own if in_segment (see
 * alloc_slots).  Growing rehashes everything, one cache miss per value.
 */
Uint64Set *
hvcsv_uint64_set_create(MemoryContext cxt, double expected, Size max_bytes, bool in_segment)
{
	Uint64Set  *set = new_set(cxt);
	double		wanted = expected * 4 / 3 + 1;

	set->max_slots = Max(Min(max_bytes, MaxAllocHugeSize) / sizeof(uint64), UINT64_SET_MIN_SLOTS);
	set->in_segment = in_segment;
	alloc_slots(set, (uint64) Max(Min(wanted, (double) set->max_slots), UINT64_SET_MIN_SLOTS));
	return set;
}

/* The slot holding value, or the empty slot where it belongs. */
static inline uint64 *
find_slot(const Uint64Set *set, uint64 value)
{
	uint64		i;

	for (i = home_slot(value, set->nslots); set->slots[i] != 0; i = next_slot(i, set->nslots))
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

/* Doubles the set, up to its largest size. */
static bool
grow(Uint64Set *set)
{
	uint64	   *old_slots = set->slots;
	uint64		old_n = set->nslots;
	dsm_segment *old_seg = set->seg;

	if (old_n >= set->max_slots)
		return false;
	alloc_slots(set, Min(old_n * 2, set->max_slots));
	for (uint64 i = 0; i < old_n; i++)
		if (old_slots[i] != 0)
			*find_slot(set, old_slots[i]) = old_slots[i];
	free_slots(old_slots, old_seg);
	return true;
}

/* Adds value to a shared view; true if it was there already. */
static bool
shared_add(Uint64Set *set, uint64 value)
{
	uint64		i = home_slot(value, set->nslots);

#ifndef PG_HAVE_ATOMIC_U64_SIMULATION
	StaticAssertStmt(sizeof(pg_atomic_uint64) == sizeof(uint64),
					 "shared slots are read as pg_atomic_uint64");
#endif
	for (int probe = 0; probe < SHARED_MAX_PROBE; probe++, i = next_slot(i, set->nslots))
	{
		pg_atomic_uint64 *slot = (pg_atomic_uint64 *) &set->slots[i];
		uint64		found = pg_atomic_read_u64(slot);

		/* Another process may fill the empty slot first: then look again. */
		if (found == 0 && pg_atomic_compare_exchange_u64(slot, &found, value))
		{
			set->used++;
			return false;
		}
		if (found == value)
			return true;
	}
	set->overflowed = true;
	return false;
}

/*
 * Adds value; true if it was there already.  A set that is full (too full
 * and not allowed to grow) adds nothing more and is marked overflowed.
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
	if (too_full(set->used, set->nslots) && !grow(set))
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
	__builtin_prefetch(&set->slots[home_slot(stored_form(value), set->nslots)]);
#endif
}

/* Whether value was added. */
bool
hvcsv_uint64_set_contains(const Uint64Set *set, uint64 value)
{
	return *find_slot(set, stored_form(value)) != 0;
}

/* Whether used values, added by every process, make set too full to use. */
bool
hvcsv_uint64_set_full(const Uint64Set *set, uint64 used)
{
	return too_full(used, set->nslots);
}

/*
 * Frees the slots of a set, or a view's mapping of them (a view of a copy
 * owns nothing).  The set itself goes with its context, whose callback
 * still points to it.
 */
void
hvcsv_uint64_set_free(Uint64Set *set)
{
	if (set->seg || !set->shared)
		free_slots(set->slots, set->seg);
	set->seg = NULL;
	set->slots = NULL;
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
	Uint64Set  *set = new_set(cxt);

	set->slots = slots;
	set->nslots = set->max_slots = nslots;
	set->shared = true;
	return set;
}

/* Whether other processes can attach set's slots (hvcsv_uint64_set_share_segment). */
bool
hvcsv_uint64_set_shareable(const Uint64Set *set)
{
	return set->seg != NULL;
}

/*
 * Fills in ref, for other processes to attach set's slots, which then stay
 * as large as they are: from now on this process adds as they do.
 */
void
hvcsv_uint64_set_share_segment(Uint64Set *set, Uint64SetRef *ref)
{
	Assert(set->seg);
	ref->handle = dsm_segment_handle(set->seg);
	ref->nslots = set->nslots;
	set->shared = true;
}

/* A view, made in cxt, of the slots that another process shared as ref. */
Uint64Set *
hvcsv_uint64_set_attach_segment(MemoryContext cxt, const Uint64SetRef *ref)
{
	Uint64Set  *set = new_set(cxt);
	dsm_segment *seg = dsm_attach(ref->handle);

	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not attach to the dynamic shared memory of a refresh's set")));
	dsm_pin_mapping(seg);
	set->seg = seg;
	set->in_segment = true;
	set->slots = dsm_segment_address(seg);
	set->nslots = set->max_slots = ref->nslots;
	set->shared = true;
	return set;
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
