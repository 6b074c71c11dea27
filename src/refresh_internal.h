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

#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "tcop/dest.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "option.h"

#define HVCSV_ERROR_TEXT_SIZE 1024

/* The version of the extension's SQL objects this library works with. */
#define HVCSV_SQL_VERSION "0.5"

/* How a table's run ended; hvcsv_refresh_status_name() spells it. */
typedef enum RefreshStatus
{
	REFRESH_FAILED,				/* also: the worker stopped before the table */
	REFRESH_OK,
	REFRESH_UNCHANGED,
	REFRESH_SKIPPED				/* another refresh of the table was running */
} RefreshStatus;

/* What a run did to the target, and how it read the export. */
typedef struct SyncCounts
{
	int64		inserted;
	int64		updated;
	int64		unchanged;
	int64		deleted;
	int64		rejected;
	int64		bytes_fetched;
	bool		filter_used;	/* the row filter dropped stored rows in the scan */
	int64		filtered;		/* export rows it dropped */
	int64		key_stored;		/* of the rows that passed, those with a stored key */
	int			export_processes;	/* that read the export; 0 if not counted */
	int			target_processes;	/* that read the target for the filter; 0 if none */
	bool		deduplicated;	/* on_duplicate_key chose among rows of one key */
	int64		duplicates;		/* rows it dropped */
} SyncCounts;

/* One table's outcome, written by the refresh worker for its caller. */
typedef struct RefreshResult
{
	Oid			foreign_table;
	char		target[2 * NAMEDATALEN + 8];
	RefreshStatus status;
	SyncCounts	counts;
	TimestampTz started;
	TimestampTz finished;
	char		error[HVCSV_ERROR_TEXT_SIZE];
	char		schema_changes[HVCSV_ERROR_TEXT_SIZE];	/* what drift did, or "" */
	/* of a failure: passed on to the caller's WARNING */
	int			sqlerrcode;
	char		error_detail[HVCSV_ERROR_TEXT_SIZE];
	char		error_context[HVCSV_ERROR_TEXT_SIZE];
} RefreshResult;

/*
 * What the caller asks of the worker, in dynamic shared memory: after the
 * results, the values of caller_settings, each ended by a NUL.
 */
typedef struct RefreshJob
{
	Oid			database;
	Oid			login_role;		/* the caller's session logged in as this role */
	Oid			caller;			/* the caller's current role, who must own each table */
	int64		run_id;
	bool		force;			/* compare in full even if the export is unchanged */
	int			ntables;
	RefreshResult results[FLEXIBLE_ARRAY_MEMBER];
} RefreshJob;

/* Where a job's settings begin. */
static inline char *
hvcsv_job_settings(RefreshJob *job)
{
	return (char *) &job->results[job->ntables];
}

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

/* One export's row in hvcsv_sync_exports: what a good run read of it. */
typedef struct ExportState
{
	char	   *url;			/* without secrets; NULL: no row */
	char	   *etag;
	char	   *last_modified;
	int64		bytes;
	int64		rows;			/* -1 if not known */
	TimestampTz synced_at;		/* the good run that read it */
} ExportState;

/* The exports of one run of a table with several (refresh_exports.c). */
typedef struct ExportsRun
{
	List	   *exports;		/* of HvcsvExport */
	int			nexports;
	struct HvcsvSpoolCheck *checks; /* each one's spool, as brought up to date */
	bool	   *read;			/* each one: new or changed since the last good run */
	int			nread;
	List	   *vanished;		/* ExportState of those read before, gone or missing now */
	int64		total_bytes;	/* of those that are there */
} ExportsRun;

typedef struct KeyWatch KeyWatch;
typedef struct RowFilter RowFilter;
typedef struct KeyChoice KeyChoice;

/*
 * One table's refresh in this process (refresh_session.c), in a memory
 * context of the table's transaction: its end forgets it all.
 */
typedef struct RefreshSession
{
	MemoryContext cxt;
	Oid			foreign_table;
	bool		scan_expected;	/* the refresh's next statement reads the export */
	bool		whole_read;		/* plan the export's read as partitioned */
	const char *request_url;	/* the export's URL with the cursor's bound, or NULL */
	List	   *key_names;		/* the key's columns, checked in each of several exports */
	/* Of a table with several exports (NULL, 0: all are read, uncounted): */
	int			nexports;
	bool	   *exports_read;	/* those the read takes */
	uint64	   *export_rows;	/* the rows this process read of each */
	pg_atomic_uint64 *shared_export_rows;	/* a parallel scan's sums, or NULL */
	KeyChoice  *choice;			/* on_duplicate_key's, or NULL */
	bool		surveying;		/* the choice's first read: rows are only noted */
	KeyWatch   *watch;			/* or NULL */
	RowFilter  *filter;			/* or NULL */
	List	   *rejects;		/* of HvcsvReject, the first ones */
	uint64		reject_count;
	Tuplestorestate *changed_rows;	/* the rows the filter passed, or NULL */
	uint64		changed_count;	/* how many */
} RefreshSession;

/* in refresh_session.c */
extern RefreshSession *hvcsv_session_begin(Oid foreign_table);
extern RefreshSession *hvcsv_session_current(void);
extern void hvcsv_session_expect_scan(void);
extern void hvcsv_session_end(void);
extern void hvcsv_session_read_exports(const bool *read, int nexports);
extern Size hvcsv_session_shared_size(void);
extern void hvcsv_session_register_hooks(void);

/* in key_hash.c */
typedef struct KeyHash
{
	int			nkeys;
	AttrNumber *attnums;
	FmgrInfo   *hash_procs;
	Oid		   *collations;
	AttrNumber	last_attnum;	/* the largest of attnums */
} KeyHash;

extern bool hvcsv_key_hash_init(KeyHash *kh, MemoryContext cxt, Oid foreign_table, List *keys);
extern bool hvcsv_key_hash_row(const KeyHash *kh, TupleTableSlot *slot, uint64 *hash);
extern Size hvcsv_key_hash_shared_size(const KeyHash *kh);
extern void hvcsv_key_hash_share(const KeyHash *kh, void *dest);
extern void hvcsv_key_hash_attach(KeyHash *kh, MemoryContext cxt, const void *src);

/* in key_choice.c */
extern KeyChoice *hvcsv_key_choice_create(MemoryContext parent, Oid foreign_table, List *keys,
										  bool last, double expected_rows);
extern void hvcsv_key_choice_survey(KeyChoice *c, TupleTableSlot *slot, uint64 offset);
extern uint64 hvcsv_key_choice_settle(KeyChoice *c);
extern bool hvcsv_key_choice_drops(KeyChoice *c, TupleTableSlot *slot, uint64 offset);
extern Size hvcsv_key_choice_shared_size(const KeyChoice *c);
extern void hvcsv_key_choice_share(KeyChoice *c, void *dest);
extern void hvcsv_key_choice_part_done(KeyChoice *c);
extern void hvcsv_key_choice_gather(KeyChoice *c);
extern bool hvcsv_key_choice_complete(const KeyChoice *c);
extern KeyChoice *hvcsv_key_choice_attach(MemoryContext parent, void *src);
extern void hvcsv_key_choice_free(KeyChoice *c);

/*
 * The most each of a refresh's sets may take in a process, as shares of
 * maintenance_work_mem: the row filter's fingerprints and the key watch's
 * hashes three eighths each, the stored keys' bits a thirty-second, so
 * that together they leave room for the statements' own memory (README,
 * "Memory of a refresh").
 */
#define HVCSV_SET_BYTES() ((Size) maintenance_work_mem * 1024 / 8 * 3)
#define HVCSV_KEY_BITS_BYTES() ((Size) maintenance_work_mem * 1024 / 32)

/* in key_watch.c */
extern KeyWatch *hvcsv_key_watch_create(MemoryContext parent, Oid foreign_table, List *keys,
										double expected_rows);
extern void hvcsv_key_watch_row(KeyWatch *w, TupleTableSlot *slot);
extern bool hvcsv_key_watch_shareable(KeyWatch *w);
extern Size hvcsv_key_watch_shared_size(const KeyWatch *w);
extern void hvcsv_key_watch_share(KeyWatch *w, void *dest);
extern KeyWatch *hvcsv_key_watch_attach(MemoryContext parent, void *src);
extern void hvcsv_key_watch_part_done(KeyWatch *w);
extern void hvcsv_key_watch_gather(KeyWatch *w);
extern int	hvcsv_key_watch_processes(const KeyWatch *w);
extern uint64 hvcsv_key_watch_finish(KeyWatch *w, bool *maybe_duplicate);

/* in row_filter.c */
extern RowFilter *hvcsv_row_filter_create(MemoryContext parent, Oid foreign_table,
										  Relation target, List *columns, List *keys,
										  double expected_rows);
extern void hvcsv_row_filter_prepare(RowFilter *f, TupleTableSlot *slot);
extern bool hvcsv_row_filter_drops(RowFilter *f, TupleTableSlot *slot);
extern bool hvcsv_row_filter_key_stored(RowFilter *f, TupleTableSlot *slot);
extern bool hvcsv_row_filter_shareable(const RowFilter *f);
extern Size hvcsv_row_filter_shared_size(const RowFilter *f);
extern void hvcsv_row_filter_share(RowFilter *f, void *dest);
extern RowFilter *hvcsv_row_filter_attach(MemoryContext parent, void *src);
extern void hvcsv_row_filter_part_done(RowFilter *f);
extern void hvcsv_row_filter_gather(RowFilter *f);
extern uint64 hvcsv_row_filter_dropped(const RowFilter *f);
extern int	hvcsv_row_filter_target_readers(const RowFilter *f);
extern void hvcsv_row_filter_free(RowFilter *f);
extern PGDLLEXPORT void hvcsv_row_filter_read_main(dsm_segment *seg, shm_toc *toc);

/* in changed_rows.c */
extern void hvcsv_read_export_into(const char *select_sql, DestReceiver *dest, bool parallel);
extern uint64 hvcsv_changed_rows_collect(const char *select_sql, bool parallel, uint64 *stored);

/* in bulk_load.c */
extern bool hvcsv_bulk_load_eligible(Relation target, Oid foreign_table, List *columns,
									 const char *cursor_column);
extern uint64 hvcsv_bulk_load(Relation target, const char *select_sql, List *columns);

/* in refresh_worker.c */
extern StringInfo hvcsv_pack_caller_settings(void);

/* in refresh_table.c */
extern void hvcsv_refresh_table(int64 run_id, bool force, bool overlap, RefreshResult *res,
								List **keys_out);
extern void hvcsv_explain_duplicate_key(RefreshResult *res, List *keys);

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
extern Oid	hvcsv_relation_owner(Oid relid);
extern bool hvcsv_may_refresh(Oid foreign_table, Oid role);

/* in cursor_mark.c */
extern char *hvcsv_mark_to_text(Datum value, Oid type);
extern Datum hvcsv_mark_from_text(const char *text, Oid type, int32 typmod);
extern bool hvcsv_mark_is_unbounded(const char *text);
extern void hvcsv_check_cursor_lag(Oid type, const char *lag, const char *column);
extern char *hvcsv_mark_minus_lag(const char *mark, Oid type, const char *lag,
								  const char *column);

/* in schema_drift.c */
extern bool hvcsv_schema_drift_reads_header(const HvcsvOptions *opts);
extern char *hvcsv_schema_drift(Oid ft, HvcsvOptions *opts, Oid target, bool *added,
								List **missing);

/* in sync_state.c */
extern const char *hvcsv_refresh_status_name(RefreshStatus status);
extern char *hvcsv_extension_version(void);
extern char *hvcsv_extension_object(const char *name);
extern SyncState hvcsv_read_state(Oid foreign_table);
extern int64 hvcsv_next_run_id(void);
extern void hvcsv_write_history(int64 run_id, const RefreshResult *res);
extern void hvcsv_write_rejects(int64 run_id, const RefreshResult *res, List *rejects);
extern void hvcsv_write_state(const RefreshResult *res, const SyncedExport *export);
extern void hvcsv_write_failure(const RefreshResult *res);
extern void hvcsv_forget_state(Oid foreign_table);
extern List *hvcsv_read_export_states(Oid foreign_table);
extern void hvcsv_write_export_state(Oid foreign_table, const ExportState *st);
extern void hvcsv_forget_export_state(Oid foreign_table, const char *url);

/* in refresh_exports.c */
extern bool hvcsv_same_version(const char *etag, const char *last_modified, int64 size,
							   const char *was_etag, const char *was_last_modified,
							   int64 was_size);
extern bool hvcsv_refresh_tracks_exports(const HvcsvOptions *opts);
extern ExportsRun *hvcsv_exports_survey(Oid foreign_table, const HvcsvOptions *opts,
										bool keep_state);
extern bool *hvcsv_exports_all(const ExportsRun *er);
extern void hvcsv_exports_record(Oid foreign_table, const ExportsRun *er, const uint64 *rows,
								 TimestampTz started);

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
	const char *deleted_column; /* delete_missing 'soft': marked here, or NULL */
	bool		watched;		/* the key watch counts rows and checks keys */
	const KeptRows *kept;		/* the row filter's rows, or NULL for all */
	bool		sharded;		/* partitions on other servers: no ON CONFLICT */
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
	int64		null_cursors;	/* rows whose cursor value is NULL */
} SyncResultRow;

extern char *hvcsv_qualified_name(Oid relid);
extern char *hvcsv_name_list(List *names, const char *prefix);
extern bool hvcsv_has_name(List *names, const char *name);
extern char *hvcsv_free_column_name(List *names);
extern char *hvcsv_sync_statement(const SyncPlan *plan);
extern char *hvcsv_load_statement(const SyncPlan *plan);
extern void hvcsv_read_sync_result(SyncResultRow *row);
extern char *hvcsv_kept_rows_from(const char *function, List *columns, const char *mark);
extern char *hvcsv_duplicate_key_query(const char *foreign_table, List *keys);

/* in sync_target.c */
extern RangeVar *hvcsv_target_rangevar(Oid foreign_table, List *target);
extern Relation hvcsv_open_target(Oid ft, const HvcsvOptions *opts);
extern List *hvcsv_synced_columns(Oid ft, const HvcsvOptions *opts, Relation target);
extern bool hvcsv_target_sharded(Relation target, List *keys);
extern SyncColumn *hvcsv_cursor_column(List *columns, const char *name, Oid ft, Relation target);
extern void hvcsv_check_deleted_column(Relation target, List *columns, const char *name);
extern List *hvcsv_synced_names(List *columns);
extern List *hvcsv_key_names(List *columns);
extern char *hvcsv_definition_hash(Oid ft, const HvcsvOptions *opts, Relation target,
								   List *columns);

#endif							/* HVCSV_REFRESH_INTERNAL_H */
