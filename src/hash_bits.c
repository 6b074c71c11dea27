/*-------------------------------------------------------------------------
 * hash_bits.c
 *	  A Bloom filter of 64-bit hashes: whether a hash may have been added.
 *
 * The row filter (row_filter.c) asks of each row that passes whether its
 * key may be stored.  A wrong "maybe" only sends the row the longer way in
 * SQL, so a few bits a key do, where an exact set keeps a whole hash.  Each
 * hash sets NPROBES bits, at positions derived from its two halves.
 *
 * The processes of a parallel read of the target set bits in a copy in
 * shared memory, with atomic OR; the leader merges that copy into its own.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"

#include "hash_bits.h"

#define NPROBES 5
#define BITS_PER_HASH 64		/* at most: few wrong answers on small tables */
#define MIN_BITS 4096

/*
 * Makes empty bits in cxt for about expected hashes: BITS_PER_HASH each,
 * rounded up to a power of two, but at most max_bytes.
 */
HashBits *
hvcsv_hash_bits_create(MemoryContext cxt, double expected, Size max_bytes)
{
	HashBits   *bits = MemoryContextAllocZero(cxt, sizeof(HashBits));
	double		wanted = Min(expected * BITS_PER_HASH, (double) max_bytes * BITS_PER_BYTE);
	uint64		nbits = MIN_BITS;

	while (nbits < wanted && nbits * 2 <= (uint64) Min(max_bytes, MaxAllocHugeSize) * BITS_PER_BYTE)
		nbits *= 2;
	bits->mask = nbits - 1;
	bits->words = MemoryContextAllocHuge(cxt, nbits / BITS_PER_BYTE);
	memset(bits->words, 0, nbits / BITS_PER_BYTE);
	return bits;
}

/* Clears every bit. */
void
hvcsv_hash_bits_reset(HashBits *bits)
{
	Assert(!bits->shared);
	memset(bits->words, 0, hvcsv_hash_bits_size(bits));
}

/* The i-th bit a hash sets: double hashing on its halves. */
static inline uint64
probe(const HashBits *bits, uint64 hash, int i)
{
	uint64		step = (hash >> 32) | 1;

	return (hash + i * step) & bits->mask;
}

void
hvcsv_hash_bits_add(HashBits *bits, uint64 hash)
{
	for (int i = 0; i < NPROBES; i++)
	{
		uint64		bit = probe(bits, hash, i);
		uint32		flag = (uint32) 1 << (bit % 32);

		if (bits->shared)
			pg_atomic_fetch_or_u32((pg_atomic_uint32 *) &bits->words[bit / 32], flag);
		else
			bits->words[bit / 32] |= flag;
	}
}

/* False only if hash was never added. */
bool
hvcsv_hash_bits_may_contain(const HashBits *bits, uint64 hash)
{
	for (int i = 0; i < NPROBES; i++)
	{
		uint64		bit = probe(bits, hash, i);

		if ((bits->words[bit / 32] & ((uint32) 1 << (bit % 32))) == 0)
			return false;
	}
	return true;
}

/* The bytes the bits take, as a copy in shared memory needs. */
Size
hvcsv_hash_bits_size(const HashBits *bits)
{
	return (bits->mask + 1) / BITS_PER_BYTE;
}

/*
 * A view, made in cxt, of size bytes of bits in shared memory, zeroed,
 * that processes add to at once.
 */
HashBits *
hvcsv_hash_bits_attach(MemoryContext cxt, void *words, Size size)
{
	HashBits   *bits = MemoryContextAllocZero(cxt, sizeof(HashBits));

	StaticAssertStmt(sizeof(pg_atomic_uint32) == sizeof(uint32),
					 "shared words are read as pg_atomic_uint32");
	bits->words = words;
	bits->mask = size * BITS_PER_BYTE - 1;
	bits->shared = true;
	return bits;
}

/* Adds to bits those set in words, a view's of the same size. */
void
hvcsv_hash_bits_merge(HashBits *bits, const void *words)
{
	const uint32 *src = words;
	Size		n = hvcsv_hash_bits_size(bits) / sizeof(uint32);

	for (Size i = 0; i < n; i++)
		bits->words[i] |= src[i];
}
