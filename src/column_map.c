/*-------------------------------------------------------------------------
 * column_map.c
 *	  Matches the fields of the CSV to the columns of the foreign table.
 *
 * With a header, each column is found by name (its column_name option, or
 * its own name); CSV fields that no column names are ignored, and a column
 * missing from the header is an error, unless on_missing_columns 'keep'
 * makes it take no field, so that it reads as NULL (an export that dropped a
 * column still serves the table's other columns).  With header 'match' the header must
 * list exactly the table's columns, in order.  Without a header, fields are
 * taken by position.  Dropped columns take no field.  The matching itself
 * is header_match.c's; this file gives it the names and reports errors.
 *
 * The header is read in windows of fields and each name is matched and
 * forgotten as it goes by: only the names an error could show are kept (the
 * first ones, for a description of the header, and those header_match.c
 * asks for), so a header of millions of fields costs no more memory than
 * the table's columns and the record's bytes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/memutils.h"

#include "header_match.h"
#include "records.h"


/* Bytes of the header's first names that an error describes it by. */
#define DESCRIBED_HEADER_BYTES 200

/* What is kept of a header, for errors. */
typedef struct HeaderSeen
{
	StringInfoData described;	/* its first names, quoted */
	List	   *kept_fields;	/* fields an error may name ... */
	List	   *kept_names;		/* ... and their names */
} HeaderSeen;

/* The CSV name of a column: its column_name option, or its name. */
char *
hvcsv_column_csv_name(Relation rel, Form_pg_attribute att)
{
	List	   *options = GetForeignColumnOptions(RelationGetRelid(rel), att->attnum);
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "column_name") == 0)
			return defGetString(def);
	}
	return NameStr(att->attname);
}

/* The name of a field that was kept. */
static const char *
kept_name(const HeaderSeen *seen, int field)
{
	ListCell   *f;
	ListCell   *n;

	forboth(f, seen->kept_fields, n, seen->kept_names)
		if (lfirst_int(f) == field)
			return lfirst(n);
	elog(ERROR, "name of CSV header field %d was not kept", field + 1);
	return NULL;
}

/* Reports a column the header lacks, pointing at a near miss if any. */
static void
report_missing_column(Relation rel, const HeaderSeen *seen, const char *name,
					  const HeaderMismatch *m)
{
	if (m->field >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("column \"%s\" of foreign table \"%s\" is not in the CSV header",
						name, RelationGetRelationName(rel)),
				 errhint("The header has \"%s\"; names are matched exactly, so set the column's column_name option to \"%s\".",
						 kept_name(seen, m->field), kept_name(seen, m->field))));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
			 errmsg("column \"%s\" of foreign table \"%s\" is not in the CSV header",
					name, RelationGetRelationName(rel)),
			 errdetail("The header is: %s.", seen->described.data)));
}

/* Reports why the header does not fit the table's columns. */
static void
report_mismatch(Relation rel, const HeaderSeen *seen, int nfields, char **columns,
				HeaderMatchResult result, const HeaderMismatch *m)
{
	const char *name = m->column >= 0 ? columns[m->column] : NULL;

	switch (result)
	{
		case HEADER_MATCHED:
			break;
		case HEADER_DUPLICATE:
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("CSV header of foreign table \"%s\" has column \"%s\" more than once",
							RelationGetRelationName(rel), name),
					 errdetail("Fields %d and %d are both named \"%s\".",
							   m->field + 1, m->other_field + 1, name)));
			break;
		case HEADER_OUT_OF_ORDER:
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("CSV header of foreign table \"%s\" does not match its columns",
							RelationGetRelationName(rel)),
					 m->field >= 0 ?
					 errdetail("Field %d is named \"%s\", but column %d is \"%s\".",
							   m->field + 1, kept_name(seen, m->field),
							   m->position + 1, name) :
					 errdetail("The header has %d fields, but the table has more columns.",
							   nfields)));
			break;
		case HEADER_MISSING:
			report_missing_column(rel, seen, name, m);
			break;
		case HEADER_EXTRA_FIELDS:
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("CSV header of foreign table \"%s\" does not match its columns",
							RelationGetRelationName(rel)),
					 errdetail("The header has %d fields, but the table has %d columns.",
							   nfields, m->position)));
			break;
	}
}

/* Notes a header name: in the description while it is short, and if asked to keep it. */
static void
see_name(HeaderSeen *seen, int field, const char *name, bool keep)
{
	if (seen->described.len < DESCRIBED_HEADER_BYTES)
		appendStringInfo(&seen->described, "%s\"%s\"", field > 0 ? ", " : "", name);
	if (keep)
	{
		seen->kept_fields = lappend_int(seen->kept_fields, field);
		seen->kept_names = lappend(seen->kept_names, pstrdup(name));
	}
}

/* How header_match.c is to match the table's columns. */
static HeaderMatchMode
match_mode(const HvcsvOptions *opts)
{
	if (opts->header == HVCSV_HEADER_MATCH)
		return HEADER_MATCH_IN_ORDER;
	return opts->keep_missing_columns ? HEADER_MATCH_BY_NAME_KEEP_MISSING :
		HEADER_MATCH_BY_NAME;
}

/*
 * Reads the header from the stream, window by window, matching its names
 * (in the server encoding) to columns; false if the input has no record.
 */
static bool
read_header(HvcsvColumnMap *map, Relation rel, const HvcsvOptions *opts, char **columns,
			CsvStream *stream)
{
	HeaderMatch m;
	HeaderSeen	seen = {0};
	HeaderMismatch mismatch;
	HeaderMatchResult result;
	MemoryContext window_cxt;

	hvcsv_stream_select_all_fields(stream);
	if (!hvcsv_stream_next(stream))
		return false;
	initStringInfo(&seen.described);
	hvcsv_header_match_begin(&m, (const char *const *) columns, map->natts, match_mode(opts),
							 palloc(hvcsv_header_match_space(map->natts)));
	window_cxt = AllocSetContextCreate(CurrentMemoryContext, "hvcsv_fdw header window",
									   ALLOCSET_DEFAULT_SIZES);
	do
	{
		const CsvRecord *rec = &stream->rec;

		CHECK_FOR_INTERRUPTS();
		for (int s = 0; s < rec->nfields - rec->first_field; s++)
		{
			const char *name = "";
			MemoryContext caller = MemoryContextSwitchTo(window_cxt);

			if (rec->slot_state[s] == CSV_SLOT_VALUE)
				name = pg_any_to_server(rec->out + rec->slot_offset[s], rec->slot_length[s],
										opts->encoding);
			MemoryContextSwitchTo(caller);
			see_name(&seen, rec->first_field + s, name, hvcsv_header_match_field(&m, name));
		}
		MemoryContextReset(window_cxt);
	} while (stream->more_fields && hvcsv_stream_next(stream));
	MemoryContextDelete(window_cxt);

	if (seen.described.len >= DESCRIBED_HEADER_BYTES)
		appendStringInfoString(&seen.described, ", ...");
	map->nfields = m.nfields;
	result = hvcsv_header_match_end(&m, map->field_of_att, &mismatch);
	if (result != HEADER_MATCHED)
		report_mismatch(rel, &seen, map->nfields, columns, result, &mismatch);
	return true;
}

/* Lists the columns that take no field though they are not dropped. */
static List *
missing_columns(const HvcsvColumnMap *map, char **columns)
{
	List	   *missing = NIL;

	for (int a = 0; a < map->natts; a++)
		if (columns[a] != NULL && map->field_of_att[a] < 0)
			missing = lappend_int(missing, a);
	return missing;
}

/* Names the fields the columns take in the stream's errors. */
static void
name_fields(const HvcsvColumnMap *map, char **columns, CsvStream *stream)
{
	int		   *fields = palloc(sizeof(int) * Max(map->natts, 1));
	char	  **names = palloc(sizeof(char *) * Max(map->natts, 1));
	int			n = 0;

	for (int a = 0; a < map->natts; a++)
	{
		if (map->field_of_att[a] < 0)
			continue;
		fields[n] = map->field_of_att[a];
		names[n++] = columns[a];
	}
	hvcsv_stream_name_fields(stream, fields, names, n);
}

/*
 * Whether a column reads a field of the CSV: not if it is dropped, nor if
 * it has the source option (it reads where the row came from instead).
 */
static bool
takes_field(Relation rel, Form_pg_attribute att)
{
	return !att->attisdropped &&
		hvcsv_column_source(GetForeignColumnOptions(RelationGetRelid(rel), att->attnum)) ==
		HVCSV_SOURCE_NONE;
}

/*
 * Builds the map for rel, as opts (header, on_missing_columns, encoding)
 * say.  With a header, reads it from the stream (and returns NULL if the
 * input holds no record at all); then the stream is at the first record of
 * data.
 */
HvcsvColumnMap *
hvcsv_column_map_create(Relation rel, const HvcsvOptions *opts, CsvStream *stream)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HvcsvColumnMap *map = palloc0(sizeof(HvcsvColumnMap));
	int			position = 0;
	char	  **columns;

	map->natts = desc->natts;
	map->field_of_att = palloc(sizeof(int) * Max(desc->natts, 1));

	if (opts->header == HVCSV_HEADER_NONE)
	{
		for (int a = 0; a < desc->natts; a++)
			map->field_of_att[a] = takes_field(rel, TupleDescAttr(desc, a)) ? position++ : -1;
		map->nfields = position;
		return map;
	}

	columns = palloc(sizeof(char *) * Max(desc->natts, 1));
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		columns[a] = takes_field(rel, att) ? hvcsv_column_csv_name(rel, att) : NULL;
	}
	if (!read_header(map, rel, opts, columns, stream))
		return NULL;
	map->missing_atts = missing_columns(map, columns);
	name_fields(map, columns, stream);
	return map;
}
