/*-------------------------------------------------------------------------
 * schema_drift.c
 *	  What a refresh does when the export's header no longer matches the
 *	  foreign table: on_new_columns and on_missing_columns.
 *
 * The header is read (with every value, to type a new column as IMPORT
 * FOREIGN SCHEMA would) before the export is written into the target.  A new field is ignored, fails the run, or is added to the
 * foreign table and the target in the run's transaction, so a run that
 * fails later leaves neither table changed.  A declared column the export
 * lacks fails the run, or is kept: the scan reads it as NULL, and the
 * refresh leaves the target's column as it is.
 *
 * The header's names come from the export, which the vendor writes: they
 * go into DDL only quoted, and a new name that the target already has as a
 * column of its own (not synced from the export) is refused, so an export
 * can never start writing a column that holds local data.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/heap.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "http.h"
#include "hvcsv_fdw.h"
#include "records.h"
#include "refresh_internal.h"

/* The header fields that no column of ft reads (HvcsvExportColumn *), each once. */
static List *
new_fields(List *header, List *declared)
{
	List	   *fields = NIL;
	List	   *seen = NIL;
	ListCell   *cell;

	foreach(cell, header)
	{
		HvcsvExportColumn *col = lfirst(cell);

		if (col->name[0] == '\0' || hvcsv_has_name(declared, col->name) || hvcsv_has_name(seen, col->name))
			continue;
		seen = lappend(seen, col->name);
		fields = lappend(fields, col);
	}
	return fields;
}

/* Joins names, quoted, for a message. */
static char *
quoted_names(List *names)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, names)
		appendStringInfo(&buf, "%s\"%s\"", buf.len ? ", " : "", (char *) lfirst(cell));
	return buf.data;
}

/* Checks that an export's new field can become a column of both tables. */
static void
check_new_column(const char *name, Oid ft, Oid target)
{
	for (const char *p = name; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("the export has a new column whose name has a control character"),
					 errhint("Add the column to the foreign table yourself, with a column_name option.")));
	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("the export has a new column whose name is longer than %d bytes: \"%s\"",
						NAMEDATALEN - 1, name),
				 errhint("Add the column to the foreign table yourself, with a column_name option.")));
	/* get_attnum finds system columns too, which read no field. */
	if (SystemAttributeByName(name) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_COLUMN),
				 errmsg("the export has a new column \"%s\", which is the name of a system column", name),
				 errhint("Add the column to the foreign table yourself, under another name, with a column_name option.")));
	if (get_attnum(ft, name) != InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_COLUMN),
				 errmsg("the export has a new column \"%s\", and foreign table \"%s\" has a column of that name that reads another field",
						name, get_rel_name(ft))));
	if (get_attnum(target, name) != InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_COLUMN),
				 errmsg("the export has a new column \"%s\", which target \"%s\" already has as a column of its own",
						name, get_rel_name(target)),
				 errdetail("With on_new_columns 'add', the export is never written into a column that holds local data."),
				 errhint("To sync that column, add it to the foreign table yourself.")));
}

/* Adds a new field of the export to the foreign table and the target, with its inferred type. */
static void
add_column(const HvcsvExportColumn *col, Oid ft, Oid target, StringInfo changes)
{
	char	   *ft_name = hvcsv_qualified_name(ft);
	char	   *target_name = hvcsv_qualified_name(target);

	check_new_column(col->name, ft, target);
	SPI_execute(psprintf("ALTER FOREIGN TABLE %s ADD COLUMN %s %s", ft_name,
						 quote_identifier(col->name), col->type_name), false, 0);
	SPI_execute(psprintf("ALTER TABLE %s ADD COLUMN %s %s", target_name,
						 quote_identifier(col->name), col->type_name), false, 0);
	appendStringInfo(changes, "%sadded column \"%s\" (%s)", changes->len ? "; " : "",
					 col->name, col->type_name);
}

/*
 * Tells whether hvcsv_schema_drift reads the export's header: only for a
 * table with a drift option, of one export.  Several exports are matched
 * to the columns one by one as the scan reads them (an export that lacks a
 * column reads NULL for it, with on_missing_columns 'keep'); no one header
 * stands for them all.
 */
bool
hvcsv_schema_drift_reads_header(const HvcsvOptions *opts)
{
	return !hvcsv_has_export_list(opts) && opts->header == HVCSV_HEADER_NAMES &&
		(opts->on_new_columns != HVCSV_NEW_COLUMNS_IGNORE || opts->keep_missing_columns);
}

/*
 * Compares the export's header with ft's columns and applies the table's
 * drift options.  Returns what was done, for the run's history, or NULL if
 * nothing; *added tells whether columns were added, and *missing gets the
 * names of the declared columns the export lacks (kept: the caller leaves
 * them out of the sync).  ALTER TABLE refuses a table that this session
 * has open, so the caller must not hold the target open.
 */
char *
hvcsv_schema_drift(Oid ft, HvcsvOptions *opts, Oid target, bool *added, List **missing)
{
	Relation	ftrel;
	TupleDesc	desc;
	List	   *header;
	List	   *declared = NIL;
	List	   *fresh;
	List	   *header_names = NIL;
	ListCell   *cell;
	StringInfoData changes;

	*added = false;
	*missing = NIL;
	if (!hvcsv_schema_drift_reads_header(opts))
		return NULL;
	header = hvcsv_export_columns(opts, hvcsv_display_url(opts));
	foreach(cell, header)
		header_names = lappend(header_names, ((HvcsvExportColumn *) lfirst(cell))->name);
	ftrel = relation_open(ft, AccessShareLock);
	desc = RelationGetDescr(ftrel);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		char	   *name;

		/* A column with the source option reads no field. */
		if (att->attisdropped ||
			hvcsv_column_source(GetForeignColumnOptions(ft, att->attnum)) != HVCSV_SOURCE_NONE)
			continue;
		name = hvcsv_column_csv_name(ftrel, att);
		declared = lappend(declared, name);
		if (!hvcsv_has_name(header_names, name))
			*missing = lappend(*missing, pstrdup(NameStr(att->attname)));
	}
	relation_close(ftrel, AccessShareLock);

	initStringInfo(&changes);
	fresh = opts->on_new_columns == HVCSV_NEW_COLUMNS_IGNORE ? NIL : new_fields(header, declared);
	if (fresh != NIL && opts->on_new_columns == HVCSV_NEW_COLUMNS_ERROR)
	{
		List	   *names = NIL;

		foreach(cell, fresh)
			names = lappend(names, ((HvcsvExportColumn *) lfirst(cell))->name);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
				 errmsg("the export has columns that foreign table \"%s\" does not declare: %s",
						get_rel_name(ft), quoted_names(names)),
				 errdetail("The foreign table's on_new_columns option is 'error'. Nothing was written."),
				 errhint("Add the columns to the foreign table (and the target), or set on_new_columns to 'ignore' or 'add'.")));
	}
	foreach(cell, fresh)
		add_column(lfirst(cell), ft, target, &changes);
	*added = fresh != NIL;
	/* Without keep, the scan reports a missing column. */
	if (!opts->keep_missing_columns)
		*missing = NIL;
	if (*missing != NIL)
		appendStringInfo(&changes, "%scolumns missing from the export, left as they are: %s",
						 changes.len ? "; " : "", quoted_names(*missing));
	return changes.len ? changes.data : NULL;
}
