/*-------------------------------------------------------------------------
 * uint64_set.h
 *	  A bounded set of 64-bit hashes, in local or shared memory (uint64_set.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_UINT64_SET_H
#define HVCSV_UINT64_SET_H

#include "postgres.h"

#include "utils/memutils.h"

/* in uint64_set.c */
typedef struct Uint64Set
{
	MemoryContext cxt;
	uint64	   *slots;			/* 0 = empty */
	uint64		nslots;			/* a power of two */
	uint64		used;
	bool		overflowed;		/* full: adds nothing more */
	bool		shared;			/* a view of slots in shared memory */
} Uint64Set;

extern Uint64Set *hvcsv_uint64_set_create(MemoryContext cxt, double expected);
extern bool hvcsv_uint64_set_add(Uint64Set *set, uint64 value);
extern bool hvcsv_uint64_set_contains(const Uint64Set *set, uint64 value);
extern void hvcsv_uint64_set_prefetch(const Uint64Set *set, uint64 value);
extern void hvcsv_uint64_set_free(Uint64Set *set);
extern Size hvcsv_uint64_set_shared_size(const Uint64Set *set);
extern void hvcsv_uint64_set_share(const Uint64Set *set, void *dest);
extern Uint64Set *hvcsv_uint64_set_attach(MemoryContext cxt, void *slots, uint64 nslots);
extern bool hvcsv_uint64_set_load(Uint64Set *set, const void *slots);
extern void hvcsv_uint64_set_reset(Uint64Set *set);
extern bool hvcsv_uint64_set_shared_fits(Size bytes);

#endif							/* HVCSV_UINT64_SET_H */
