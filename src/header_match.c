/*-------------------------------------------------------------------------
 * header_match.c
 *	  Finds each column's field in a CSV header, by name.
 *
 * Names match exactly, byte for byte.  A column with a NULL name (a
 * dropped column) takes no field.  Fields no column names are ignored,
 * unless in_order asks the header to list exactly the named columns, in
 * order.  Columns are checked in order and the first problem is reported,
 * so the error a user sees does not depend on how matching is done.
 *-------------------------------------------------------------------------
 */
#include "header_match.h"

#include <string.h>

/*
 * Sets field_of_column[c] to the field named columns[c] (-1 for a dropped
 * column), or reports in *mismatch why that cannot be done.
 */
HeaderMatchResult
header_match(const char *const *fields, int nfields,
			 const char *const *columns, int ncolumns, bool in_order,
			 int *field_of_column, HeaderMismatch *mismatch)
{
	int			position = 0;

	mismatch->column = mismatch->field = mismatch->other_field = -1;
	for (int c = 0; c < ncolumns; c++)
	{
		int			field = -1;

		field_of_column[c] = -1;
		if (columns[c] == NULL)
			continue;
		mismatch->column = c;
		mismatch->position = position;
		for (int f = 0; f < nfields; f++)
		{
			if (strcmp(fields[f], columns[c]) != 0)
				continue;
			if (field >= 0)
			{
				mismatch->field = field;
				mismatch->other_field = f;
				return HEADER_DUPLICATE;
			}
			field = f;
		}
		mismatch->field = field;
		if (in_order && field != position)
			return HEADER_OUT_OF_ORDER;
		if (field < 0)
			return HEADER_MISSING;
		field_of_column[c] = field;
		position++;
	}
	mismatch->column = mismatch->field = -1;
	mismatch->position = position;
	if (in_order && position != nfields)
		return HEADER_EXTRA_FIELDS;
	return HEADER_MATCHED;
}
