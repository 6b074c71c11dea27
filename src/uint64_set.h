/*-------------------------------------------------------------------------
 * uint64_set.h
 *	  A bounded set of 64-bit hashes, in local or shared memory (uint64_set.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_UINT64_SET_H
#define HVCSV_UINT64_SET_H

#include "postgres.h"

#include "storage/dsm.h"
#include "utils/memutils.h"

/* in uint64_set.c */
typedef struct Uint64Set
{
	MemoryContext cxt;
	uint64	   *slots;			/* 0 = empty */
	uint64		nslots;
	uint64		max_slots;		/* the most it may grow to */
	uint64		used;			/* added by this process */
	bool		overflowed;		/* full: adds nothing more */
	bool		shared;			/* other processes may add too */
	bool		in_segment;		/* its slots take a segment of their own */
	dsm_segment *seg;			/* that segment, while attached */
} Uint64Set;

/* What a process needs to attach a set whose slots take a segment of their own. */
typedef struct Uint64SetRef
{
	dsm_handle	handle;
	uint64		nslots;
} Uint64SetRef;

extern Uint64Set *hvcsv_uint64_set_create(MemoryContext cxt, double expected, Size max_bytes,
										  bool in_segment);
extern bool hvcsv_uint64_set_add(Uint64Set *set, uint64 value);
extern bool hvcsv_uint64_set_contains(const Uint64Set *set, uint64 value);
extern void hvcsv_uint64_set_prefetch(const Uint64Set *set, uint64 value);
extern bool hvcsv_uint64_set_full(const Uint64Set *set, uint64 used);
extern void hvcsv_uint64_set_free(Uint64Set *set);
extern Size hvcsv_uint64_set_shared_size(const Uint64Set *set);
extern void hvcsv_uint64_set_share(const Uint64Set *set, void *dest);
extern Uint64Set *hvcsv_uint64_set_attach(MemoryContext cxt, void *slots, uint64 nslots);
extern bool hvcsv_uint64_set_shareable(const Uint64Set *set);
extern void hvcsv_uint64_set_share_segment(Uint64Set *set, Uint64SetRef *ref);
extern Uint64Set *hvcsv_uint64_set_attach_segment(MemoryContext cxt, const Uint64SetRef *ref);
extern bool hvcsv_uint64_set_shared_fits(Size bytes);

#endif							/* HVCSV_UINT64_SET_H */
