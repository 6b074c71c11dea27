/*-------------------------------------------------------------------------
 * ascii_check.h
 *	  Whether a value is plain ASCII without NUL bytes: valid in every server
 *	  encoding, so that most values skip the encoding's verifier.
 *
 * Plain C, no PostgreSQL headers: the fuzz target (fuzz/fuzz_tokenizer.c)
 * compares it with a byte-by-byte loop on every input.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_ASCII_CHECK_H
#define HVCSV_ASCII_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether a word has a byte with its high bit set, or a zero byte. */
static inline bool
csv_word_not_plain(uint64_t word)
{
	const uint64_t high_bits = UINT64_C(0x8080808080808080);
	const uint64_t low_bits = UINT64_C(0x0101010101010101);

	return (word & high_bits) || ((word - low_bits) & ~word & high_bits);
}

/*
 * Whether bytes are all ASCII and none is NUL: valid in every server
 * encoding, so most values skip the encoding's verifier.  Eight bytes at a
 * time, the last eight (or four) overlapping, so that no loop runs byte by
 * byte: mispredicted branches there cost more than the check.
 */
static inline bool
csv_ascii_without_nul(const char *bytes, size_t len)
{
	uint64_t	word = UINT64_C(0x0101010101010101);
	uint32_t	half;

	if (len >= sizeof(uint64_t))
	{
		for (size_t i = 0; i + sizeof(uint64_t) <= len; i += sizeof(uint64_t))
		{
			memcpy(&word, bytes + i, sizeof(word));
			if (csv_word_not_plain(word))
				return false;
		}
		memcpy(&word, bytes + len - sizeof(word), sizeof(word));
		return !csv_word_not_plain(word);
	}
	if (len >= sizeof(uint32_t))
	{
		/* two halves, overlapping; the padding bytes are 0x01 */
		memcpy(&half, bytes, sizeof(half));
		word = (word & ~UINT64_C(0xFFFFFFFF)) | half;
		if (csv_word_not_plain(word))
			return false;
		memcpy(&half, bytes + len - sizeof(half), sizeof(half));
		word = (word & ~UINT64_C(0xFFFFFFFF)) | half;
		return !csv_word_not_plain(word);
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) bytes[i] >= 0x80 || bytes[i] == '\0')
			return false;
	return true;
}

#endif							/* HVCSV_ASCII_CHECK_H */
