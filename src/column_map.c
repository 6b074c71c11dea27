/*-------------------------------------------------------------------------
 * column_map.c
 *	  Matches the fields of the CSV to the columns of the foreign table.
 *
 * With a header, each column is found by name (its column_name option, or
 * its own name); CSV fields that no column names are ignored, and a column
 * missing from the header is an error.  With header 'match' the header must
 * list exactly the table's columns, in order.  Without a header, fields are
 * taken by position.  Dropped columns take no field.  The matching itself
 * is header_match.c's; this file gives it the names and reports errors.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"

#include "header_match.h"
#include "hvcsv_fdw.h"

/* The CSV name of a column: its column_name option, or its name. */
static char *
csv_name_of_column(Relation rel, Form_pg_attribute att)
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

/* Lists the header's names, for error details. */
static char *
describe_header(const HvcsvColumnMap *map)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int f = 0; f < map->nfields && buf.len < 200; f++)
		appendStringInfo(&buf, "%s\"%s\"", f > 0 ? ", " : "", map->csv_names[f]);
	if (buf.len >= 200)
		appendStringInfoString(&buf, ", ...");
	return buf.data;
}

/* Reports a column the header lacks, pointing at a near miss if any. */
static void
report_missing_column(Relation rel, const HvcsvColumnMap *map, const char *name)
{
	for (int f = 0; f < map->nfields; f++)
	{
		if (pg_strcasecmp(map->csv_names[f], name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("column \"%s\" of foreign table \"%s\" is not in the CSV header",
							name, RelationGetRelationName(rel)),
					 errhint("The header has \"%s\"; names are matched exactly, so set the column's column_name option to \"%s\".",
							 map->csv_names[f], map->csv_names[f])));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
			 errmsg("column \"%s\" of foreign table \"%s\" is not in the CSV header",
					name, RelationGetRelationName(rel)),
			 errdetail("The header is: %s.", describe_header(map))));
}

/* Reports why the header does not fit the table's columns. */
static void
report_mismatch(Relation rel, const HvcsvColumnMap *map, char **columns,
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
					 m->position < map->nfields ?
					 errdetail("Field %d is named \"%s\", but column %d is \"%s\".",
							   m->position + 1, map->csv_names[m->position],
							   m->position + 1, name) :
					 errdetail("The header has %d fields, but the table has more columns.",
							   map->nfields)));
			break;
		case HEADER_MISSING:
			report_missing_column(rel, map, name);
			break;
		case HEADER_EXTRA_FIELDS:
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("CSV header of foreign table \"%s\" does not match its columns",
							RelationGetRelationName(rel)),
					 errdetail("The header has %d fields, but the table has %d columns.",
							   map->nfields, m->position)));
			break;
	}
}

/* Copies the header's names out of its record, in the server encoding. */
static void
read_header_names(HvcsvColumnMap *map, const CsvRecord *header, int file_encoding)
{
	map->nfields = header->nfields;
	map->csv_names = palloc(sizeof(char *) * Max(map->nfields, 1));
	for (int f = 0; f < map->nfields; f++)
	{
		if (header->slot_state[f] == CSV_SLOT_VALUE)
			map->csv_names[f] = pg_any_to_server(header->out + header->slot_offset[f],
												 header->slot_length[f], file_encoding);
		else
			map->csv_names[f] = "";
		map->csv_names[f] = pstrdup(map->csv_names[f]);
	}
}

/*
 * Builds the map for rel.  header_record is the CSV's first record when the
 * table has a header (read with every field copied out), else NULL.
 */
HvcsvColumnMap *
hvcsv_column_map_create(Relation rel, HvcsvHeaderMode header,
						const CsvRecord *header_record, int file_encoding)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HvcsvColumnMap *map = palloc0(sizeof(HvcsvColumnMap));
	int			position = 0;
	char	  **columns;
	HeaderMatchResult result;
	HeaderMismatch mismatch;

	map->natts = desc->natts;
	map->field_of_att = palloc(sizeof(int) * Max(desc->natts, 1));

	if (header == HVCSV_HEADER_NONE)
	{
		for (int a = 0; a < desc->natts; a++)
			map->field_of_att[a] = TupleDescAttr(desc, a)->attisdropped ? -1 : position++;
		map->nfields = position;
		return map;
	}

	read_header_names(map, header_record, file_encoding);
	columns = palloc(sizeof(char *) * Max(desc->natts, 1));
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		columns[a] = att->attisdropped ? NULL : csv_name_of_column(rel, att);
	}
	result = header_match((const char *const *) map->csv_names, map->nfields,
						  (const char *const *) columns, desc->natts,
						  header == HVCSV_HEADER_MATCH, map->field_of_att, &mismatch);
	if (result != HEADER_MATCHED)
		report_mismatch(rel, map, columns, result, &mismatch);
	return map;
}
