/*-------------------------------------------------------------------------
 * hvcsv_fdw.h
 *	  The top layer: the FDW's entry (hvcsv_fdw.c), IMPORT FOREIGN SCHEMA and
 *	  an export's columns, what makes a foreign table ours, and the
 *	  refresh's entry.
 *
 * The layers, from the bottom (each file uses only the layers below it):
 *	  csv_tokenizer.h, header_match.h	records and header names, free of PostgreSQL
 *	  compat.h, locks.h, option.h, progress.h, uint64_set.h	the base
 *	  http.h, spool.h		transport and storage
 *	  records.h				records to tuples
 *	  scan.h				one scan and its readers; the hooks a module above may set
 *	  hvcsv_fdw.h			the FDW (hvcsv_fdw.c, import.c, export_types.c,
 *							table_check.c) and the refresh's entry
 *	  refresh_internal.h	the refresh's own files, which meet the scan only
 *							through its hooks (test/check_layers.py checks the
 *							direction)
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_FDW_H
#define HVCSV_FDW_H

#include "postgres.h"

#include "nodes/parsenodes.h"

#include "option.h"

/* in import.c */
extern List *hvcsv_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* in export_types.c */

/* One field of an export, with the type IMPORT FOREIGN SCHEMA gives it. */
typedef struct HvcsvExportColumn
{
	char	   *name;			/* as the header spells it, in the server
								 * encoding; NULL without a header */
	const char *type_name;		/* "integer", "text", ... as SQL spells it */
	Oid			type;
} HvcsvExportColumn;

/*
 * The fields of the export of opts, in order, typed from the whole export,
 * as a List of HvcsvExportColumn *.
 */
extern List *hvcsv_export_columns(HvcsvOptions *opts, const char *export_name);

/* in table_check.c */
extern bool hvcsv_is_own_foreign_table(Oid relid);

/* in refresh.c */
extern void hvcsv_refresh_init(void);

#endif							/* HVCSV_FDW_H */
