/*
 * fuzz_header.c
 *	  libFuzzer target: the header matcher on fuzzed header records.
 *
 * An input is one byte of options (bit 0: header 'match', names in order;
 * bit 1, by name only: missing columns are kept), then CSV in the default dialect, split by the tokenizer: its first record
 * is the header, its second the table's column names, where an unquoted
 * empty field stands for a dropped column (with no second record the
 * columns are the header's own names).  The header's names are given to the
 * matcher one at a time, as column_map.c does, and each result is checked
 * against what it claims.  By name: a matched column's field has its name
 * and no other field does; a duplicate is the first two fields of that
 * name; a missing name is in no field, and its near miss is the first field
 * whose name equals it but for ASCII case; a missing column that is kept
 * takes no field, and is never reported.  In order: a matched column's
 * field is the one at its place, with its name; the first column that is
 * not is the one reported, with the field at its place; fields left over
 * are reported.  Every column before the one reported matched, and a field
 * an error names was one the matcher asked to keep.  A wrong claim aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "../src/csv_tokenizer.h"
#include "../src/header_match.h"

/* Splits the next record into names; *nnames is -1 at the end of input. */
static char **
read_names(CsvTokenizer *tok, CsvRecord *rec, const char *in, size_t len,
		   size_t *start, int *nnames, bool null_is_dropped)
{
	size_t		consumed;
	char	  **names;

	*nnames = -1;
	if (hvcsv_tokenize(tok, in + *start, len - *start, true, &consumed, rec) != CSV_RECORD)
		return NULL;
	*start += consumed;
	*nnames = rec->nfields;
	names = malloc(sizeof(char *) * (rec->nfields + 1));
	for (int f = 0; f < rec->nfields; f++)
	{
		if (rec->slot_state[f] == CSV_SLOT_VALUE)
			names[f] = strdup(rec->out + rec->slot_offset[f]);
		else
			names[f] = null_is_dropped ? NULL : strdup("");
	}
	return names;
}

static void
free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Tells whether two names are equal but for the case of ASCII letters. */
static bool
fold_equal(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		unsigned char ca = (unsigned char) *a;
		unsigned char cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

/* The fields named name: how many, and the first two. */
static int
fields_named(char **fields, int nfields, const char *name, int *first, int *second)
{
	int			n = 0;

	*first = *second = -1;
	for (int f = 0; f < nfields; f++)
	{
		if (strcmp(fields[f], name) != 0)
			continue;
		if (n == 0)
			*first = f;
		else if (n == 1)
			*second = f;
		n++;
	}
	return n;
}

/* The first field whose name differs from name only in ASCII case, or -1. */
static int
near_miss(char **fields, int nfields, const char *name)
{
	for (int f = 0; f < nfields; f++)
		if (strcmp(fields[f], name) != 0 && fold_equal(fields[f], name))
			return f;
	return -1;
}

/* By name: checks the columns before stop and the problem at stop. */
static void
check_by_name(char **fields, int nfields, char **columns, int ncolumns, bool keep_missing,
			  int stop, HeaderMatchResult result, const int *field_of_column,
			  const HeaderMismatch *m, const bool *kept)
{
	int			position = 0;
	int			first;
	int			second;
	int			n;

	for (int c = 0; c < stop; c++)
	{
		if (columns[c] == NULL)
			continue;
		n = fields_named(fields, nfields, columns[c], &first, &second);
		if (n == 0 && keep_missing)
		{
			if (field_of_column[c] != -1)
				abort();
			continue;
		}
		if (n != 1 || field_of_column[c] != first)
			abort();
		position++;
	}
	n = 0;
	if (m->position != position)
		abort();
	if (stop < ncolumns)
		n = fields_named(fields, nfields, columns[stop], &first, &second);
	switch (result)
	{
		case HEADER_MATCHED:
			break;
		case HEADER_DUPLICATE:
			if (n < 2 || m->field != first || m->other_field != second)
				abort();
			break;
		case HEADER_MISSING:
			if (keep_missing || n != 0 || m->field != near_miss(fields, nfields, columns[stop]) ||
				(m->field >= 0 && !kept[m->field]))
				abort();
			break;
		default:
			abort();
	}
}

/* In order: checks the columns before stop and the problem at stop. */
static void
check_in_order(char **fields, int nfields, char **columns, int ncolumns, int stop,
			   HeaderMatchResult result, const int *field_of_column, const HeaderMismatch *m,
			   const bool *kept)
{
	int			position = 0;
	int			nnamed = 0;

	for (int c = 0; c < ncolumns; c++)
		nnamed += columns[c] != NULL;
	for (int c = 0; c < stop; c++)
	{
		if (columns[c] == NULL)
			continue;
		if (position >= nfields || strcmp(fields[position], columns[c]) != 0 ||
			field_of_column[c] != position)
			abort();
		position++;
	}
	if (m->position != position)
		abort();
	switch (result)
	{
		case HEADER_MATCHED:
			if (nfields != nnamed)
				abort();
			break;
		case HEADER_EXTRA_FIELDS:
			if (nfields <= nnamed)
				abort();
			break;
		case HEADER_OUT_OF_ORDER:
			if (position < nfields ?
				(strcmp(fields[position], columns[stop]) == 0 || m->field != position ||
				 !kept[position]) :
				m->field != -1)
				abort();
			break;
		default:
			abort();
	}
}

/* Checks the matcher's result against its claims; aborts if one is false. */
static void
check_result(char **fields, int nfields, char **columns, int ncolumns, HeaderMatchMode mode,
			 HeaderMatchResult result, const int *field_of_column, const HeaderMismatch *m,
			 const bool *kept)
{
	int			stop = result == HEADER_MATCHED || result == HEADER_EXTRA_FIELDS ?
		ncolumns : m->column;

	if (stop < 0 || stop > ncolumns || (stop < ncolumns && columns[stop] == NULL))
		abort();
	for (int c = 0; c < ncolumns; c++)
		if (columns[c] == NULL && field_of_column[c] != -1)
			abort();
	if (mode == HEADER_MATCH_IN_ORDER)
		check_in_order(fields, nfields, columns, ncolumns, stop, result, field_of_column, m,
					   kept);
	else
		check_by_name(fields, nfields, columns, ncolumns,
					  mode == HEADER_MATCH_BY_NAME_KEEP_MISSING, stop, result,
					  field_of_column, m, kept);
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const CsvDialect dialect = {',', '"', '"', "", 0, 0, 0};
	const char *in = (const char *) data + 1;
	size_t		len;
	HeaderMatchMode mode;
	CsvTokenizer tok;
	CsvRecord	rec = {0};
	size_t		start = 0;
	char	  **fields;
	char	  **columns;
	int			nfields;
	int			ncolumns;
	int		   *field_of_column;
	bool	   *kept;
	void	   *space;
	HeaderMatch match;
	HeaderMismatch mismatch;
	HeaderMatchResult result;

	if (size < 1)
		return 0;
	mode = (data[0] & 1) ? HEADER_MATCH_IN_ORDER :
		(data[0] & 2) ? HEADER_MATCH_BY_NAME_KEEP_MISSING : HEADER_MATCH_BY_NAME;
	len = size - 1;

	hvcsv_tokenizer_init(&tok, &dialect);
	tok.all_fields = true;
	rec.nslots = len + 1;
	rec.out_cap = 2 * len + 2;
	rec.out = malloc(rec.out_cap);
	rec.slot_state = malloc(rec.nslots);
	rec.slot_offset = malloc(rec.nslots * sizeof(size_t));
	rec.slot_length = malloc(rec.nslots * sizeof(size_t));

	fields = read_names(&tok, &rec, in, len, &start, &nfields, false);
	if (fields)
	{
		columns = read_names(&tok, &rec, in, len, &start, &ncolumns, true);
		if (columns == NULL)
		{
			/* The header's own names. */
			ncolumns = nfields;
			columns = malloc(sizeof(char *) * (nfields + 1));
			for (int f = 0; f < nfields; f++)
				columns[f] = strdup(fields[f]);
		}
		field_of_column = malloc(sizeof(int) * (ncolumns + 1));
		kept = malloc(nfields + 1);
		space = malloc(hvcsv_header_match_space(ncolumns));
		hvcsv_header_match_begin(&match, (const char *const *) columns, ncolumns, mode, space);
		for (int f = 0; f < nfields; f++)
			kept[f] = hvcsv_header_match_field(&match, fields[f]);
		result = hvcsv_header_match_end(&match, field_of_column, &mismatch);
		check_result(fields, nfields, columns, ncolumns, mode, result,
					 field_of_column, &mismatch, kept);
		free(space);
		free(kept);
		free(field_of_column);
		free_names(columns, ncolumns);
		free_names(fields, nfields);
	}
	free(rec.out);
	free(rec.slot_state);
	free(rec.slot_offset);
	free(rec.slot_length);
	return 0;
}
