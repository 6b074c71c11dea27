/*-------------------------------------------------------------------------
 * header_match.h
 *	  Finds each column's field in a CSV header, by name, as the header's
 *	  fields go by.
 *
 * Pure C with no PostgreSQL dependency, so the fuzzer can run it;
 * column_map.c gives it the names and turns a mismatch into an error.  It
 * keeps no field name and allocates nothing: its memory, in proportion to
 * the columns, is the caller's (hvcsv_header_match_space).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_HEADER_MATCH_H
#define HVCSV_HEADER_MATCH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum HeaderMatchResult
{
	HEADER_MATCHED,
	HEADER_DUPLICATE,			/* two fields have the column's name */
	HEADER_OUT_OF_ORDER,		/* in order: the field at the column's place is not its */
	HEADER_MISSING,				/* no field has the column's name */
	HEADER_EXTRA_FIELDS			/* in order: fields are left after the columns */
} HeaderMatchResult;

/* How columns find their fields. */
typedef enum HeaderMatchMode
{
	HEADER_MATCH_BY_NAME,		/* a column no field names is HEADER_MISSING */
	HEADER_MATCH_BY_NAME_KEEP_MISSING,	/* ... takes no field instead */
	HEADER_MATCH_IN_ORDER		/* each column's field is at its place */
} HeaderMatchMode;

/* Where matching stopped, for the error. */
typedef struct HeaderMismatch
{
	int			column;			/* the column (not with HEADER_EXTRA_FIELDS) */

	/*
	 * HEADER_DUPLICATE: the first field of the name; HEADER_MISSING: the
	 * first field whose name differs from the column's only in the case of
	 * ASCII letters, or -1; HEADER_OUT_OF_ORDER: the field at the column's
	 * place, or -1 if the header ends before it.
	 */
	int			field;
	int			other_field;	/* HEADER_DUPLICATE: the second field of the name */
	int			position;		/* columns matched before it (or in all) */
} HeaderMismatch;

/* A named column, in the matcher's sorted indexes. */
typedef struct HeaderMatchEntry
{
	const char *name;
	int			column;
} HeaderMatchEntry;

/* A header being matched; its arrays are in the caller's space. */
typedef struct HeaderMatch
{
	const char *const *columns; /* NULL for a dropped column */
	int			ncolumns;
	bool		in_order;
	bool		keep_missing;	/* by name: a column no field names takes none */
	int			nnamed;			/* columns that are not dropped */
	int		   *order;			/* the named columns, in order */
	HeaderMatchEntry *by_name;	/* sorted by name */
	HeaderMatchEntry *by_folded;	/* sorted by name, ASCII case folded */
	int		   *first;			/* per column: its first field, or -1 */
	int		   *second;			/* per column: its second field, or -1 */
	int		   *near;			/* per column: its first near miss, or -1 */
	int			nfields;		/* fields seen so far */
	int			mismatch;		/* in order: the first field not its column's, or -1 */
} HeaderMatch;

extern size_t hvcsv_header_match_space(int ncolumns);
extern void hvcsv_header_match_begin(HeaderMatch *m, const char *const *columns, int ncolumns,
									 HeaderMatchMode mode, void *space);
extern bool hvcsv_header_match_field(HeaderMatch *m, const char *name);
extern HeaderMatchResult hvcsv_header_match_end(HeaderMatch *m, int *field_of_column,
										  HeaderMismatch *mismatch);

#endif							/* HVCSV_HEADER_MATCH_H */
