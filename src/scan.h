/*-------------------------------------------------------------------------
 * scan.h
 *	  One scan of a foreign table: its state, the readers that feed it, the
 *	  rows it rejects, and the hooks through which another module may watch
 *	  it without the scan knowing that module.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_SCAN_H
#define HVCSV_SCAN_H

#include "postgres.h"

#include "commands/explain.h"
#include "executor/tuptable.h"
#include "utils/rel.h"

#include "option.h"
#include "records.h"

/* in scan.c */

/* The state of one scan, shared by the FDW callbacks and the reader. */
typedef struct HvcsvScan
{
	Relation	rel;
	MemoryContext cxt;			/* lives as long as the scan */
	HvcsvOptions *opts;
	const struct HvcsvReaderRoutine *reader;
	List	   *needed_atts;	/* 0-based attributes the query reads */
	CsvStream  *stream;
	HvcsvTupleBuilder *builder;
	void	   *reader_state;	/* the reader's, for the export being read */
	void	   *reader_plan;	/* the reader's partitions, for the whole scan */
	void	   *shared;			/* a parallel scan's coordinator, or NULL */
	struct ScanSharedLayout *layout;	/* its shared memory (scan.c's), or NULL */
	bool		started;		/* the reader has begun */
	bool		observed;		/* the hooks watch this scan */
	bool		at_end;
	uint64		rows;
	uint64		rows_rejected;	/* by on_error 'skip' */
	uint64		rows_padded;	/* by missing_fields 'null' */
	uint64		rows_trimmed;	/* by extra_fields 'ignore' */
	uint64		bytes_read;		/* input bytes read by this process */
	const char *spool_note;		/* what opening the spool did, for EXPLAIN */
	HvcsvCompression compression;	/* of the file this scan fetched, if it did */
	ErrorContextCallback errcallback;
	bool		reader_open;	/* begun and not ended */
	/*
	 * A table with several exports reads them one after another, or, with
	 * a reader that claims partitions, in the order it claims them:
	 */
	List	   *exports;		/* HvcsvExport pointers; NIL for one path */
	int			export_index;	/* the one being read */
	const char *export_display; /* its URL without secrets, or NULL */
	bool		export_empty;	/* it has no header line, or was skipped: no rows */
	int			exports_skipped;	/* as missing (missing_exports 'skip') */
	bool	   *exports_missing;	/* each export found missing by the check
									 * before the first was read, or NULL */
	bool		export_missing; /* the reader found the export missing */
	bool		exports_planned;	/* the reader planned partitions over them all */
	MemoryContext export_cxt;	/* the reader's, reset between exports */
} HvcsvScan;

/*
 * How a reader gets records; chosen once per scan, at plan time.  The
 * shared_* members are for readers that run as a parallel scan.
 *
 * A reader that cuts its input into partitions (claim is set) has the scan
 * ask it for each next partition: claim returns the index of the export
 * the partition is in (0 for a table with one path), or -1 when none is
 * left; the scan opens that export unless it is the one open, and next
 * then reads the partition's records.  For a table with several exports
 * (not paginated: its pages are learnt one at a time), plan_exports sets
 * scan->exports and plans partitions over all of them, before any is read.
 */
typedef struct HvcsvReaderRoutine
{
	void		(*begin) (HvcsvScan *scan);
	bool		(*next) (HvcsvScan *scan);	/* next record in scan->stream */
	void		(*plan_exports) (HvcsvScan *scan);
	int			(*claim) (HvcsvScan *scan);
	void		(*rescan) (HvcsvScan *scan);
	void		(*end) (HvcsvScan *scan);
	/* scan is NULL unless the scan ran (EXPLAIN ANALYZE) */
	void		(*explain) (HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es);
	Size		(*shared_size) (HvcsvScan *scan);
	void		(*shared_init) (HvcsvScan *scan, void *shared);
	void		(*shared_reinit) (HvcsvScan *scan, void *shared);
	void		(*shared_finish) (HvcsvScan *scan);
} HvcsvReaderRoutine;

/*
 * What a module above the scan (the refresh) may do with scans, set once
 * from _PG_init so that parallel workers have it too.  observes() is asked
 * once per scan and per process; every other hook runs only for a scan it
 * said yes to (attach: in a worker whose leader's scan it said yes to), so
 * other scans pay nothing and see nothing of the module.  The shared_size,
 * share, attach and gather hooks carry the module's state through a
 * parallel scan's shared memory.
 */
typedef struct HvcsvScanHooks
{
	bool		(*observes) (Oid relid);
	bool		(*whole_read) (Oid relid);	/* planning: read all of it, partitioned */
	const char *(*request_url) (HvcsvScan *scan);	/* to request instead of the table's, or NULL */
	bool		(*reads_export) (HvcsvScan *scan, int i);	/* false skips export i of several */
	bool		(*row) (HvcsvScan *scan, TupleTableSlot *slot);	/* false drops the row */
	void		(*reject) (HvcsvScan *scan, int att, const char *message);
	void		(*part_done) (HvcsvScan *scan); /* this process's share ended */
	Size		(*shared_size) (HvcsvScan *scan);
	void		(*share) (HvcsvScan *scan, void *dest); /* the leader, before workers start */
	void		(*attach) (Oid relid, void *src);	/* a worker, before it scans */
	void		(*gather) (HvcsvScan *scan);	/* the leader, after the workers */
} HvcsvScanHooks;

extern void hvcsv_scan_set_hooks(const HvcsvScanHooks *hooks);
extern bool hvcsv_scan_reads_whole(Oid relid);
extern bool hvcsv_scan_reads_export(HvcsvScan *scan, int i);
extern HvcsvScan *hvcsv_scan_create(Relation rel, HvcsvOptions *opts, List *needed_atts,
									const HvcsvReaderRoutine *reader);
extern bool hvcsv_scan_next(HvcsvScan *scan, TupleTableSlot *slot);
extern bool hvcsv_scan_next_record(HvcsvScan *scan);
extern bool hvcsv_scan_build(HvcsvScan *scan, TupleTableSlot *slot);
extern void hvcsv_scan_rescan(HvcsvScan *scan);
extern void hvcsv_scan_end(HvcsvScan *scan);
extern void hvcsv_scan_read_header(HvcsvScan *scan);
extern void hvcsv_scan_skip_header(HvcsvScan *scan);
extern Size hvcsv_scan_shared_size(HvcsvScan *scan);
extern void hvcsv_scan_shared_init(HvcsvScan *scan, void *coordinate);
extern void hvcsv_scan_shared_reinit(HvcsvScan *scan, void *coordinate);
extern void hvcsv_scan_shared_attach(HvcsvScan *scan, void *coordinate);
extern void hvcsv_scan_shared_finish(HvcsvScan *scan);

/* A row rejected by on_error 'skip', as a watcher of the scan keeps it. */
typedef struct HvcsvReject
{
	uint64		line;
	uint64		byte_offset;
	char	   *error;
	char	   *raw;			/* the record's text, clipped */
} HvcsvReject;

extern HvcsvReject *hvcsv_describe_reject(HvcsvScan *scan, int att, const char *message);

/* in readers.c */
extern const HvcsvReaderRoutine *hvcsv_reader_routine(HvcsvReaderKind kind);

/* in reader_projected.c, reader_partitioned.c, reader_streaming.c */
extern const HvcsvReaderRoutine hvcsv_projected_reader;
extern const HvcsvReaderRoutine hvcsv_partitioned_reader;
extern const HvcsvReaderRoutine hvcsv_streaming_reader;

#endif							/* HVCSV_SCAN_H */
