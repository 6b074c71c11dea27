/*-------------------------------------------------------------------------
 * hash_bits.h
 *	  A Bloom filter of 64-bit hashes (hash_bits.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_HASH_BITS_H
#define HVCSV_HASH_BITS_H

#include "postgres.h"

#include "utils/memutils.h"

typedef struct HashBits
{
	uint32	   *words;
	uint64		mask;			/* the number of bits, a power of two, less 1 */
	bool		shared;			/* a view of words in shared memory */
} HashBits;

extern HashBits *hvcsv_hash_bits_create(MemoryContext cxt, double expected, Size max_bytes);
extern void hvcsv_hash_bits_reset(HashBits *bits);
extern void hvcsv_hash_bits_add(HashBits *bits, uint64 hash);
extern bool hvcsv_hash_bits_may_contain(const HashBits *bits, uint64 hash);
extern Size hvcsv_hash_bits_size(const HashBits *bits);
extern HashBits *hvcsv_hash_bits_attach(MemoryContext cxt, void *words, Size size);
extern void hvcsv_hash_bits_merge(HashBits *bits, const void *words);

#endif							/* HVCSV_HASH_BITS_H */
