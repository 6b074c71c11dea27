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
 *	  hvcsv_fdw.h			the FDW (hvcsv_fdw.c, import.c, table_check.c) and the
 *							refresh's entry
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

/* One field of an export's header, with the type IMPORT FOREIGN SCHEMA would give it. */
typedef struct HvcsvExportColumn
{
	char	   *name;			/* as the header spells it, in the server encoding */
	const char *type_name;		/* "integer", "text", ... as IMPORT would write it */
} HvcsvExportColumn;

extern List *hvcsv_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/*
 * The header fields of the export of opts (header 'true'), in order, as a
 * List of HvcsvExportColumn *.
 */
extern List *hvcsv_export_columns(HvcsvOptions *opts);

/* in table_check.c */
extern bool hvcsv_is_own_foreign_table(Oid relid);

/* in refresh.c */
extern void hvcsv_refresh_init(void);

#endif							/* HVCSV_FDW_H */
