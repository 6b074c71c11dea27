/*-------------------------------------------------------------------------
 * refresh_internal.h
 *	  Declarations shared by the files of hvcsv_refresh() (refresh.c and
 *	  the files it calls), grouped by file.  Nothing below the refresh
 *	  includes this header.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_REFRESH_INTERNAL_H
#define HVCSV_REFRESH_INTERNAL_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#define HVCSV_ERROR_TEXT_SIZE 1024

/* The version of the extension's SQL objects this library works with. */
#define HVCSV_SQL_VERSION "0.2"

/* One table's outcome, written by the refresh worker for its caller. */
typedef struct RefreshResult
{
	Oid			foreign_table;
	char		target[2 * NAMEDATALEN + 8];
	char		status[16];
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		deleted;
	int64		rejected;
	int64		bytes_fetched;
	TimestampTz started;
	TimestampTz finished;
	char		error[HVCSV_ERROR_TEXT_SIZE];
	/* of a failure: passed on to the caller's WARNING */
	int			sqlerrcode;
	char		error_detail[HVCSV_ERROR_TEXT_SIZE];
	char		error_context[HVCSV_ERROR_TEXT_SIZE];
} RefreshResult;

/* What the last successful run of a table saw, from hvcsv_sync_state. */
typedef struct SyncState
{
	bool		exists;
	char	   *etag;
	char	   *last_modified;
	int64		bytes;
	char	   *cursor_value;
	char	   *status;
	char	   *definition_hash;
} SyncState;

/* What a run synced, for hvcsv_sync_state. */
typedef struct SyncedExport
{
	const char *url;			/* without secrets */
	const char *etag;
	const char *last_modified;
	int64		size;			/* -1 if not known */
	const char *cursor_value;	/* the mark, canonical (cursor_mark.c) */
	const char *definition_hash;
} SyncedExport;

/* in run_as_owner.c */
typedef struct HvcsvRoleSwitch
{
	Oid			saved_user;
	int			saved_context;
	int			guc_level;
} HvcsvRoleSwitch;

extern void hvcsv_enter_role(Oid role, HvcsvRoleSwitch *sw);
extern void hvcsv_enter_owner(Oid role, HvcsvRoleSwitch *sw);
extern void hvcsv_leave_role(const HvcsvRoleSwitch *sw);

/* in cursor_mark.c */
extern char *hvcsv_mark_to_text(Datum value, Oid type);
extern Datum hvcsv_mark_from_text(const char *text, Oid type, int32 typmod);

/* in sync_state.c */
extern Oid	hvcsv_extension_schema(void);
extern char *hvcsv_extension_version(void);
extern char *hvcsv_extension_object(const char *name);
extern SyncState hvcsv_read_state(Oid foreign_table);
extern int64 hvcsv_next_run_id(void);
extern void hvcsv_write_history(int64 run_id, const RefreshResult *res);
extern void hvcsv_write_rejects(int64 run_id, const RefreshResult *res, List *rejects);
extern void hvcsv_write_state(const RefreshResult *res, const SyncedExport *export);
extern void hvcsv_write_failure(const RefreshResult *res);

/* in sync_statement.c */

/* One column that a refresh syncs: in both tables, by name. */
typedef struct SyncColumn
{
	char	   *name;
	Oid			source_type;	/* the foreign table's */
	int32		source_typmod;
	Oid			source_collation;
	Oid			target_type;
	int32		target_typmod;
	Oid			target_collation;
	bool		is_key;
} SyncColumn;

/* The export rows a row filter kept, as the sync statement reads them. */
typedef struct KeptRows
{
	char	   *from;			/* the FROM item that reads them back */
	char	   *mark;			/* their column: whether the key may be stored */
	uint64		marked;			/* rows so marked */
} KeptRows;

/* What a sync or load statement is built from. */
typedef struct SyncPlan
{
	const char *foreign_table;	/* quoted and qualified */
	const char *target;			/* quoted and qualified */
	List	   *columns;		/* of SyncColumn, in the target's order */
	const SyncColumn *cursor;	/* cursor_column, or NULL */
	bool		delete_missing;
	bool		watched;		/* the key watch counts rows and checks keys */
	const KeptRows *kept;		/* the row filter's rows, or NULL for all */
} SyncPlan;

/* The result row of a sync or load statement. */
typedef struct SyncResultRow
{
	int64		rows_read;
	int64		inserted;
	int64		updated;
	char	   *cursor_max;		/* canonical text (cursor_mark.c), or NULL */
	int64		deleted;
	int64		target_rows;
	bool		duplicate;
} SyncResultRow;

extern char *hvcsv_name_list(List *names, const char *prefix);
extern char *hvcsv_sync_statement(const SyncPlan *plan);
extern char *hvcsv_load_statement(const SyncPlan *plan);
extern void hvcsv_read_sync_result(SyncResultRow *row);
extern char *hvcsv_kept_rows_from(const char *function, List *columns, const char *mark);
extern char *hvcsv_duplicate_key_query(const char *foreign_table, List *keys);

#endif							/* HVCSV_REFRESH_INTERNAL_H */
