/*
 * fuzz_header.c
 *	  libFuzzer target: the header matcher on fuzzed header records.
 *
 * An input is one byte of options (bit 0: header 'match', names in order),
 * then CSV in the default dialect, split by the tokenizer: its first record
 * is the header, its second the table's column names, where an unquoted
 * empty field stands for a dropped column (with no second record the
 * columns are the header's own names).  Each result of header_match is
 * checked against what it claims: a matched column's field has its name and
 * no other field does, in order if asked; a duplicate is the first two
 * fields of that name; a missing name is in no field; and every column
 * before the one reported matched.  A wrong claim aborts.
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
	if (csv_tokenize(tok, in + *start, len - *start, true, &consumed, rec) != CSV_RECORD)
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

/* Checks header_match's result against its claims; aborts if one is false. */
static void
check_result(char **fields, int nfields, char **columns, int ncolumns, bool in_order,
			 HeaderMatchResult result, const int *field_of_column, const HeaderMismatch *m)
{
	int			stop = result == HEADER_MATCHED || result == HEADER_EXTRA_FIELDS ?
		ncolumns : m->column;
	int			position = 0;
	int			first;
	int			second;
	int			n;

	if (stop < 0 || stop > ncolumns || (stop < ncolumns && columns[stop] == NULL))
		abort();
	/* Every column before stop matched. */
	for (int c = 0; c < stop; c++)
	{
		if (columns[c] == NULL)
		{
			if (field_of_column[c] != -1)
				abort();
			continue;
		}
		if (fields_named(fields, nfields, columns[c], &first, &second) != 1 ||
			field_of_column[c] != first || (in_order && first != position))
			abort();
		position++;
	}
	if (m->position != position)
		abort();
	if (stop < ncolumns)
		n = fields_named(fields, nfields, columns[stop], &first, &second);
	switch (result)
	{
		case HEADER_MATCHED:
			if (in_order && position != nfields)
				abort();
			break;
		case HEADER_EXTRA_FIELDS:
			if (!in_order || position == nfields)
				abort();
			break;
		case HEADER_DUPLICATE:
			if (n < 2 || m->field != first || m->other_field != second)
				abort();
			break;
		case HEADER_OUT_OF_ORDER:
			if (!in_order || n > 1 || m->field != first || first == position)
				abort();
			break;
		case HEADER_MISSING:
			if (in_order || n != 0 || m->field != -1)
				abort();
			break;
		default:
			abort();
	}
}

int			LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const CsvDialect dialect = {',', '"', '"', "", 0};
	const char *in = (const char *) data + 1;
	size_t		len;
	bool		in_order;
	CsvTokenizer tok;
	CsvRecord	rec = {0};
	size_t		start = 0;
	char	  **fields;
	char	  **columns;
	int			nfields;
	int			ncolumns;
	int		   *field_of_column;
	HeaderMismatch mismatch;
	HeaderMatchResult result;

	if (size < 1)
		return 0;
	in_order = data[0] & 1;
	len = size - 1;

	csv_tokenizer_init(&tok, &dialect);
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
		result = header_match((const char *const *) fields, nfields,
							  (const char *const *) columns, ncolumns, in_order,
							  field_of_column, &mismatch);
		check_result(fields, nfields, columns, ncolumns, in_order, result,
					 field_of_column, &mismatch);
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
