/*-------------------------------------------------------------------------
 * header_match.h
 *	  Finds each column's field in a CSV header, by name.
 *
 * Pure C with no PostgreSQL dependency, so the fuzzer can run it;
 * column_map.c gives it the names and turns a mismatch into an error.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_HEADER_MATCH_H
#define HVCSV_HEADER_MATCH_H

#include <stdbool.h>

typedef enum HeaderMatchResult
{
	HEADER_MATCHED,
	HEADER_DUPLICATE,			/* two fields have the column's name */
	HEADER_OUT_OF_ORDER,		/* in order: the column's field is not the next */
	HEADER_MISSING,				/* no field has the column's name */
	HEADER_EXTRA_FIELDS			/* in order: fields are left after the columns */
} HeaderMatchResult;

/* Where matching stopped, for the error. */
typedef struct HeaderMismatch
{
	int			column;			/* the column (not with HEADER_EXTRA_FIELDS) */
	int			field;			/* its field, or -1; the first of a duplicate */
	int			other_field;	/* the second field of a duplicate */
	int			position;		/* columns matched before it (or in all) */
} HeaderMismatch;

extern HeaderMatchResult header_match(const char *const *fields, int nfields,
									  const char *const *columns, int ncolumns,
									  bool in_order, int *field_of_column,
									  HeaderMismatch *mismatch);

#endif							/* HVCSV_HEADER_MATCH_H */
