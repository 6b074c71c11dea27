/*-------------------------------------------------------------------------
 * header_match.c
 *	  Finds each column's field in a CSV header, by name, as the header's
 *	  fields go by.
 *
 * Names match exactly, byte for byte.  A column with a NULL name (a
 * dropped column) takes no field.  By name, fields no column names are
 * ignored, and a name that two fields share is an error only for a column
 * that takes it; a column no field names is an error too, unless the mode
 * keeps missing columns, which then take no field (and read as NULL, for
 * a table whose export dropped a column).  In order (header 'match'), the header must list exactly
 * the named columns, each at its place; a name may then repeat, since the
 * place decides.
 *
 * Fields are seen one at a time and forgotten: per column, only the first
 * two fields of its name and its first near miss (a name equal but for the
 * case of ASCII letters, for the hint) are kept, so memory does not grow
 * with the header.  Columns are looked up in sorted indexes, so a field
 * costs a logarithm of the columns.  Problems are reported for the first
 * column that has one, in column order, so the error a user sees does not
 * depend on the order in which fields arrive.
 *-------------------------------------------------------------------------
 */
#include "header_match.h"

#include <stdlib.h>
#include <string.h>

/* Compares two names with ASCII letters folded to lower case. */
static int
fold_cmp(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		unsigned char ca = (unsigned char) *a;
		unsigned char cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb || ca == '\0')
			return (int) ca - (int) cb;
	}
}

/* Orders entries by name, for qsort. */
static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const HeaderMatchEntry *) a)->name, ((const HeaderMatchEntry *) b)->name);
}

/* Orders entries by name with ASCII case folded, for qsort. */
static int
entry_fold_cmp(const void *a, const void *b)
{
	return fold_cmp(((const HeaderMatchEntry *) a)->name, ((const HeaderMatchEntry *) b)->name);
}

/* The first of n sorted entries whose name is not below name, by cmp. */
static int
lower_bound(const HeaderMatchEntry *e, int n, const char *name,
			int (*cmp) (const char *, const char *))
{
	int			lo = 0;

	while (n > 0)
	{
		int			half = n / 2;

		if (cmp(e[lo + half].name, name) < 0)
		{
			lo += half + 1;
			n -= half + 1;
		}
		else
			n = half;
	}
	return lo;
}

/* Bytes of space hvcsv_header_match_begin needs for ncolumns columns. */
size_t
hvcsv_header_match_space(int ncolumns)
{
	size_t		n = ncolumns > 0 ? (size_t) ncolumns : 1;

	return 2 * n * sizeof(HeaderMatchEntry) + 4 * n * sizeof(int);
}

/*
 * Starts matching a header against columns (which must outlive the match),
 * in space of hvcsv_header_match_space(ncolumns) bytes.
 */
void
hvcsv_header_match_begin(HeaderMatch *m, const char *const *columns, int ncolumns,
						 HeaderMatchMode mode, void *space)
{
	size_t		n = ncolumns > 0 ? (size_t) ncolumns : 1;
	char	   *p = space;

	m->columns = columns;
	m->ncolumns = ncolumns;
	m->in_order = mode == HEADER_MATCH_IN_ORDER;
	m->keep_missing = mode == HEADER_MATCH_BY_NAME_KEEP_MISSING;
	m->by_name = (HeaderMatchEntry *) p;
	m->by_folded = m->by_name + n;
	p = (char *) (m->by_folded + n);
	m->order = (int *) p;
	m->first = m->order + n;
	m->second = m->first + n;
	m->near = m->second + n;
	m->nfields = 0;
	m->mismatch = -1;
	m->nnamed = 0;
	for (int c = 0; c < ncolumns; c++)
	{
		m->first[c] = m->second[c] = m->near[c] = -1;
		if (columns[c] == NULL)
			continue;
		m->order[m->nnamed] = c;
		m->by_name[m->nnamed].name = columns[c];
		m->by_name[m->nnamed].column = c;
		m->nnamed++;
	}
	memcpy(m->by_folded, m->by_name, m->nnamed * sizeof(HeaderMatchEntry));
	qsort(m->by_name, m->nnamed, sizeof(HeaderMatchEntry), entry_cmp);
	qsort(m->by_folded, m->nnamed, sizeof(HeaderMatchEntry), entry_fold_cmp);
}

/* In order: notes the first field that is not its column's. */
static bool
field_in_order(HeaderMatch *m, int f, const char *name)
{
	if (m->mismatch >= 0)
		return false;
	if (f < m->nnamed && strcmp(name, m->columns[m->order[f]]) == 0)
		return false;
	m->mismatch = f;
	return f < m->nnamed;		/* its name goes into the error */
}

/* By name: notes the field for the columns of its name, and its near misses. */
static bool
field_by_name(HeaderMatch *m, int f, const char *name)
{
	bool		keep = false;

	for (int i = lower_bound(m->by_name, m->nnamed, name, strcmp);
		 i < m->nnamed && strcmp(m->by_name[i].name, name) == 0; i++)
	{
		int			c = m->by_name[i].column;

		if (m->first[c] < 0)
			m->first[c] = f;
		else if (m->second[c] < 0)
			m->second[c] = f;
	}
	for (int i = lower_bound(m->by_folded, m->nnamed, name, fold_cmp);
		 i < m->nnamed && fold_cmp(m->by_folded[i].name, name) == 0; i++)
	{
		int			c = m->by_folded[i].column;

		if (m->near[c] < 0 && strcmp(m->columns[c], name) != 0)
		{
			m->near[c] = f;
			keep = true;		/* its name may go into the hint */
		}
	}
	return keep;
}

/*
 * Takes the header's next field.  Returns true if an error may name it, so
 * that the caller keeps its name.
 */
bool
hvcsv_header_match_field(HeaderMatch *m, const char *name)
{
	int			f = m->nfields++;

	return m->in_order ? field_in_order(m, f, name) : field_by_name(m, f, name);
}

/* In order: each named column takes the field at its place. */
static HeaderMatchResult
end_in_order(HeaderMatch *m, int *field_of_column, HeaderMismatch *mismatch)
{
	int			place = m->mismatch >= 0 ? m->mismatch : m->nfields;

	for (int k = 0; k < m->nnamed && k < place; k++)
		field_of_column[m->order[k]] = k;
	if (place < m->nnamed)
	{
		mismatch->column = m->order[place];
		mismatch->field = place < m->nfields ? place : -1;
		mismatch->position = place;
		return HEADER_OUT_OF_ORDER;
	}
	mismatch->position = m->nnamed;
	return m->nfields > m->nnamed ? HEADER_EXTRA_FIELDS : HEADER_MATCHED;
}

/*
 * By name: each named column takes the one field of its name; when missing
 * columns are kept, one with no field takes none and does not count as
 * matched.
 */
static HeaderMatchResult
end_by_name(HeaderMatch *m, int *field_of_column, HeaderMismatch *mismatch)
{
	int			position = 0;

	for (int c = 0; c < m->ncolumns; c++)
	{
		if (m->columns[c] == NULL)
			continue;
		mismatch->column = c;
		mismatch->position = position;
		if (m->second[c] >= 0)
		{
			mismatch->field = m->first[c];
			mismatch->other_field = m->second[c];
			return HEADER_DUPLICATE;
		}
		if (m->first[c] < 0 && m->keep_missing)
			continue;
		if (m->first[c] < 0)
		{
			mismatch->field = m->near[c];
			return HEADER_MISSING;
		}
		field_of_column[c] = m->first[c];
		position++;
	}
	mismatch->column = -1;
	mismatch->position = position;
	return HEADER_MATCHED;
}

/*
 * Ends the header: sets field_of_column[c] to the field of column c (-1 for
 * a dropped column, or a missing one that is kept), or reports in *mismatch why that cannot be done.
 */
HeaderMatchResult
hvcsv_header_match_end(HeaderMatch *m, int *field_of_column, HeaderMismatch *mismatch)
{
	for (int c = 0; c < m->ncolumns; c++)
		field_of_column[c] = -1;
	mismatch->column = mismatch->field = mismatch->other_field = -1;
	return m->in_order ? end_in_order(m, field_of_column, mismatch) :
		end_by_name(m, field_of_column, mismatch);
}
