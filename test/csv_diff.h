/*
 * csv_diff.h
 *	  Checks the tokenizer and the row scanner on one input against their
 *	  references: libcsv, and a byte-at-a-time model of COPY's rules.
 *
 * Shared by test/csv_diff_check.c (test files and random inputs) and
 * fuzz/fuzz_tokenizer.c (libFuzzer), so both check the same things.
 */
#ifndef HVCSV_CSV_DIFF_H
#define HVCSV_CSV_DIFF_H

#include "../src/csv_tokenizer.h"

/* How one input is fed and what is compared. */
typedef struct CsvDiffPlan
{
	CsvDialect	dialect;
	size_t		chunk[2];		/* bytes added on each CSV_NEED_MORE, in turn */
	int			first_slots;	/* slots and output bytes before CSV_NEED_SPACE */
	uint64_t	mark_step;		/* row scanner: first line start past each multiple */
	unsigned	projected;		/* bit i set: field i is copied out when projecting */
} CsvDiffPlan;

extern bool csv_diff_input(const char *what, const char *in, size_t len,
						   const CsvDiffPlan *plan);

#endif							/* HVCSV_CSV_DIFF_H */
