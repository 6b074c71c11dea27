/*-------------------------------------------------------------------------
 * hvcsv_fdw.h
 *	  Declarations shared by the files of hvcsv_fdw, grouped by file.
 *
 * The way through: option.c reads the options; fetch.c talks HTTP; spool.c
 * keeps complete downloads on disk; csv_stream.c and csv_tokenizer.c turn
 * bytes into records; column_map.c matches the header to the table;
 * tuple_build.c converts records to tuples; a reader (reader_*.c) chooses
 * where bytes come from; hvcsv_fdw.c holds the FDW callbacks.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_FDW_H
#define HVCSV_FDW_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "commands/explain.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/dsm.h"
#include "storage/lock.h"
#include "storage/shm_toc.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "csv_tokenizer.h"

/*
 * hvcsv_fdw's locks are advisory locks in classes of their own (what
 * pg_advisory_lock uses is 1 and 2), so they show in pg_locks and never
 * collide with an application's advisory locks.
 */
#define HVCSV_SPOOL_LOCK_CLASS		0x4856
#define HVCSV_REFRESH_LOCK_CLASS	0x4857
#define HVCSV_SPOOL_USE_LOCK_CLASS	0x4858	/* a spool in use (see spool.c) */

/* Fills an advisory lock tag of this database, as SET_LOCKTAG_ADVISORY does. */
static inline void
hvcsv_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2, uint16 lock_class)
{
	memset(tag, 0, sizeof(*tag));
	tag->locktag_field1 = MyDatabaseId;
	tag->locktag_field2 = key1;
	tag->locktag_field3 = key2;
	tag->locktag_field4 = lock_class;
	tag->locktag_type = LOCKTAG_ADVISORY;
	tag->locktag_lockmethodid = USER_LOCKMETHOD;
}

/* in option.c */

typedef enum HvcsvReaderKind
{
	HVCSV_READER_PROJECTED,
	HVCSV_READER_PARTITIONED,
	HVCSV_READER_STREAMING
} HvcsvReaderKind;

typedef enum HvcsvHeaderMode
{
	HVCSV_HEADER_NONE,			/* columns by position */
	HVCSV_HEADER_NAMES,			/* columns by header name */
	HVCSV_HEADER_MATCH			/* the header must list the columns in order */
} HvcsvHeaderMode;

typedef struct HvcsvOptions
{
	/* foreign server */
	char	   *api_url;
	double		connect_timeout;	/* seconds */
	double		timeout;		/* seconds without progress before giving up */
	int			max_retries;	/* attempts in all, the first included */
	double		retry_delay;	/* seconds before the second attempt */
	double		max_retry_delay;	/* seconds, cap of every wait */
	double		max_age;		/* seconds a spool is used without asking */
	int64		max_bytes;		/* largest body accepted; 0 means no limit */
	char	   *ca_file;		/* certificate authorities for https, or NULL */

	/* user mapping; api_key is a secret and is never printed */
	Oid			umid;			/* InvalidOid if there is no user mapping */
	char	   *api_key;
	char	   *auth_scheme;

	/* foreign table */
	char	   *path;
	HvcsvReaderKind reader;
	HvcsvHeaderMode header;
	char		delimiter;
	char		quote;
	char		escape;
	char	   *null_string;
	int			encoding;		/* the file's encoding */
	int64		block_size;
	int			batch_rows;
	bool		on_error_skip;
	int64		reject_limit;	/* 0 means no limit */
	char	   *target;
	char	   *key;
	char	   *cursor_column;
	bool		delete_missing;	/* delete target rows absent from the export */
	double		delete_limit;	/* largest share of the target one run may delete */

	/* derived */
	char	   *url;			/* api_url followed by path */
	bool		server_owner_is_superuser;	/* may reach api_url at a non-public address */
} HvcsvOptions;

extern void hvcsv_check_options(List *options, Oid catalog, HvcsvOptions *opts);
extern HvcsvOptions *hvcsv_server_options(Oid serverid, Oid userid, List *table_options);
extern HvcsvOptions *hvcsv_get_options(Oid foreigntableid, Oid userid);
extern const char *hvcsv_reader_name(HvcsvReaderKind kind);
extern void hvcsv_dialect(const HvcsvOptions *opts, CsvDialect *dialect);

/* in url.c */

/* A URL as libcurl parsed it. */
typedef struct HvcsvUrl
{
	char	   *url;			/* what is requested */
	char	   *scheme;			/* lower case */
	char	   *host;			/* lower case, no trailing dot; IPv6 in brackets */
	int			port;			/* explicit, or the scheme's default */
	char	   *path;
} HvcsvUrl;

extern char *hvcsv_allowed_hosts;
extern char *hvcsv_redact_url(const char *url);
extern bool hvcsv_url_parse(const char *url, HvcsvUrl *parsed);
extern bool hvcsv_url_resolve(const char *base, const char *reference, HvcsvUrl *parsed);
extern bool hvcsv_url_is_http(const HvcsvUrl *url);
extern bool hvcsv_url_same_origin(const HvcsvUrl *a, const HvcsvUrl *b);
extern bool hvcsv_host_allowed(const HvcsvUrl *url);
extern bool hvcsv_host_listed(const HvcsvUrl *url);
extern bool hvcsv_check_allowed_hosts(char **newval, void **extra, GucSource source);
struct sockaddr;
extern bool hvcsv_address_is_public(const struct sockaddr *addr);
extern void hvcsv_check_server_host(const HvcsvUrl *url);

/* in fetch.c */

/* What one HTTP request asks for; authorization is a secret. */
typedef struct HvcsvRequest
{
	const char *url;
	const char *display_url;	/* url without secrets, for messages */
	const char *authorization;	/* whole header value, or NULL */
	const char *if_none_match;
	const char *if_modified_since;
	double		connect_timeout;
	double		timeout;
	int			max_retries;
	double		retry_delay;
	double		max_retry_delay;
	int64		max_bytes;		/* 0 means no limit */
	const char *max_bytes_name; /* the option or setting max_bytes comes from */
	const char *ca_file;
	const char *trusted_url;	/* api_url of a superuser's server, or NULL */
} HvcsvRequest;

/* What a response said. */
typedef struct HvcsvResponse
{
	long		status;			/* 200, or 304 for a conditional request */
	char		etag[256];
	char		last_modified[64];
	int64		body_bytes;		/* handed out so far */
} HvcsvResponse;

typedef struct HvcsvBody HvcsvBody;

extern char *hvcsv_max_bytes_setting;
extern bool hvcsv_check_max_bytes(char **newval, void **extra, GucSource source);
extern void hvcsv_assign_max_bytes(const char *newval, void *extra);
extern void hvcsv_request_init(HvcsvRequest *req, const HvcsvOptions *opts);
extern HvcsvBody *hvcsv_body_open(const HvcsvRequest *req,
								  void (*on_restart) (void *arg), void *arg);
extern bool hvcsv_body_read(HvcsvBody *body, const char **data, size_t *len);
extern uint64 hvcsv_bytes_fetched;
extern const HvcsvResponse *hvcsv_body_response(const HvcsvBody *body);
extern void hvcsv_body_close(HvcsvBody *body);

/* in content_decoding.c */

/*
 * Content codings decoded.  Each layer can multiply the work of the one
 * below it a thousandfold, so no more than real servers send: "gzip, gzip".
 */
#define HVCSV_MAX_CODINGS 2

/* Why a body's Content-Encoding could not be undone. */
typedef enum HvcsvDecodeFailure
{
	HVCSV_DECODE_NONE,
	HVCSV_DECODE_UNSUPPORTED,	/* a coding other than gzip, x-gzip, deflate */
	HVCSV_DECODE_NOT_TOKEN,		/* the header is not a list of codings */
	HVCSV_DECODE_TOO_MANY,		/* more codings than are decoded */
	HVCSV_DECODE_BAD_DATA,		/* bytes that are not of the coding */
	HVCSV_DECODE_TRUNCATED,		/* the body ends inside the coding's data */
	HVCSV_DECODE_NO_MEMORY
} HvcsvDecodeFailure;

typedef struct HvcsvDecoder HvcsvDecoder;

extern HvcsvDecoder *hvcsv_decoder_create(void);
extern void hvcsv_decoder_reset(HvcsvDecoder *d);
extern void hvcsv_decoder_add_codings(HvcsvDecoder *d, const char *list, size_t len);
extern void hvcsv_unasked_transfer_coding(const char *list, size_t len, char *coding,
										  size_t size);
extern bool hvcsv_decoder_encoded(const HvcsvDecoder *d);
extern bool hvcsv_decoder_feed(HvcsvDecoder *d, const char *data, size_t len);
extern bool hvcsv_decoder_read(HvcsvDecoder *d, char *out, size_t size, size_t *produced);
extern bool hvcsv_decoder_has_more(const HvcsvDecoder *d);
extern uint64 hvcsv_decoder_inner_bytes(const HvcsvDecoder *d);
extern bool hvcsv_decoder_finish(HvcsvDecoder *d);
extern HvcsvDecodeFailure hvcsv_decoder_failure(const HvcsvDecoder *d, const char **coding,
												const char **why);
extern void hvcsv_decoder_end(HvcsvDecoder *d);

/* in spool.c */

/* A complete download on disk, opened for reading. */
typedef struct HvcsvSpool
{
	int			fd;
	char	   *data_path;
	char	   *index_path;		/* its row index (see row_index.c) */
	int64		size;
	char	   *etag;
	char	   *last_modified;
	bool		fetched_now;	/* this call downloaded the body */
	bool		revalidated;	/* this call got a 304 */
} HvcsvSpool;

/* Spool file names begin with this many hex digits of the spool's key. */
#define HVCSV_SPOOL_KEY_LEN 32

extern char *hvcsv_spool_directory;
extern HvcsvSpool *hvcsv_spool_open(const HvcsvOptions *opts);
extern bool hvcsv_spool_file_key(const char *name, char *key);
extern bool hvcsv_spool_generation_file(const char *name, const char *generation);
extern bool hvcsv_spool_remove_unused(const char *dir, const char *key, const char *generation);
extern size_t hvcsv_spool_read(void *spool, char *buf, size_t size);
extern void hvcsv_write_file_durably(const char *path, const void *data, size_t len,
									 const char *what);
extern bool hvcsv_spool_peek_size(const HvcsvOptions *opts, int64 *size);
extern void hvcsv_spool_close(HvcsvSpool *spool);

/* in spool_quota.c */
extern int	hvcsv_spool_max_size;
extern int64 hvcsv_spool_quota_room(const char *dir, const char *key, const char *previous,
									int64 needed, int64 *used);

/* in row_index.c */

#define ROW_INDEX_GRANULARITY (64 * 1024)

typedef struct RowIndexEntry
{
	uint64		offset;			/* first line start at or after i * granularity */
	uint64		line_breaks;	/* line breaks before it */
} RowIndexEntry;

typedef struct RowIndex
{
	unsigned char quote;		/* the dialect it was built for */
	unsigned char escape;
	uint64		file_size;
	int			nentries;		/* one per granularity bytes of the file */
	RowIndexEntry *entries;
} RowIndex;

typedef struct RowIndexBuilder
{
	CsvDialect	dialect;
	CsvRowScanner scanner;
	RowIndex	index;
	int			capacity;
} RowIndexBuilder;

extern RowIndexBuilder *row_index_begin(const CsvDialect *dialect);
extern void row_index_reset(RowIndexBuilder *builder);
extern void row_index_feed(RowIndexBuilder *builder, const char *data, size_t len);
extern RowIndex *row_index_finish(RowIndexBuilder *builder, uint64 file_size);
extern void row_index_write(const RowIndex *index, const char *path);
extern RowIndex *row_index_load(const HvcsvSpool *spool, const CsvDialect *dialect);

/* in csv_stream.c */

/* Fills buf with up to size bytes; returns 0 at the end of the input. */
typedef size_t (*CsvReadFunction) (void *arg, char *buf, size_t size);

typedef struct CsvStream
{
	CsvTokenizer tok;
	CsvRecord	rec;
	char	   *buf;
	size_t		buf_size;
	size_t		buf_start;		/* first byte not yet tokenized */
	size_t		buf_end;		/* end of the bytes read */
	bool		at_eof;
	uint64		buf_offset;		/* input offset of buf[0] */
	uint64		record_offset;	/* input offset of the current record */
	bool		more_fields;	/* the record read goes on in another window */
	CsvReadFunction read;
	void	   *read_arg;
	const int  *named_fields;	/* fields with a header name, for errors */
	char	  **field_names;	/* their names */
	int			nfield_names;
} CsvStream;

extern CsvStream *csv_stream_create(const CsvDialect *dialect,
									CsvReadFunction read, void *read_arg);
extern void csv_stream_select_fields(CsvStream *stream, const CsvWantedField *wanted,
									 int nwanted, int nslots);
extern void csv_stream_select_all_fields(CsvStream *stream);
extern void csv_stream_name_fields(CsvStream *stream, const int *fields, char **names,
								   int nnames);
extern bool csv_stream_next(CsvStream *stream);
extern void csv_stream_skip_bom(CsvStream *stream);
extern void csv_stream_restart(CsvStream *stream, uint64 offset, uint64 line_breaks);

/* in column_map.c */

/* Which CSV field feeds each table column. */
typedef struct HvcsvColumnMap
{
	int			natts;
	int		   *field_of_att;	/* per attribute; -1 for dropped columns */
	int			nfields;		/* fields every record must have */
} HvcsvColumnMap;

extern HvcsvColumnMap *hvcsv_column_map_create(Relation rel, HvcsvHeaderMode header,
											   CsvStream *stream, int file_encoding);

/* in fast_convert.c */
extern bool hvcsv_fast_timestamptz(const char *value, size_t len, TimestampTz *result);
extern bool hvcsv_fast_numeric(const char *value, size_t len, Datum *result);
extern bool hvcsv_fast_bool(const char *value, size_t len, Datum *result);

/* in tuple_build.c */

typedef struct HvcsvTupleBuilder
{
	Relation	rel;
	HvcsvColumnMap *map;
	int			nneeded;
	AttrNumber *needed;			/* 0-based attributes to convert */
	int		   *slot_of;		/* per needed attribute, its output slot */
	FmgrInfo   *in_functions;	/* per attribute */
	char	   *fast_kind;		/* per attribute: a FAST_* conversion to try */
	bool		has_text;		/* some needed column has FAST_TEXT */
	Oid		   *typioparams;
	int32	   *typmods;
	int			file_encoding;
	MemoryContext tuple_cxt;	/* reset for every tuple */

	/* where we are, for the error context */
	uint64		line;
	int			current_att;	/* -1 when not in one column */
	const char *current_value;
	size_t		current_len;
} HvcsvTupleBuilder;

extern HvcsvTupleBuilder *hvcsv_tuple_builder_create(Relation rel, HvcsvColumnMap *map,
													 List *needed_atts, int file_encoding);
extern void hvcsv_tuple_builder_select(HvcsvTupleBuilder *builder, CsvStream *stream);
extern void hvcsv_tuple_build(HvcsvTupleBuilder *builder, const CsvRecord *rec,
							  TupleTableSlot *slot);
extern void hvcsv_error_context(void *arg);
extern char *hvcsv_printable(const char *bytes, size_t len, bool clipped);

/* in hvcsv_fdw.c and the readers */

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
	void	   *reader_state;
	void	   *shared;			/* a parallel scan's coordinator, or NULL */
	bool		started;		/* the reader has begun */
	bool		at_end;
	uint64		rows;
	uint64		rows_rejected;	/* by on_error 'skip' */
	uint64		bytes_read;		/* input bytes read by this process */
	const char *spool_note;		/* what opening the spool did, for EXPLAIN */
	ErrorContextCallback errcallback;
} HvcsvScan;

/*
 * How a reader gets records; chosen once per scan, at plan time.  The
 * shared_* members are for readers that run as a parallel scan.
 */
typedef struct HvcsvReaderRoutine
{
	const char *name;
	void		(*begin) (HvcsvScan *scan);
	bool		(*next) (HvcsvScan *scan);	/* next record in scan->stream */
	void		(*rescan) (HvcsvScan *scan);
	void		(*end) (HvcsvScan *scan);
	/* scan is NULL unless the scan ran (EXPLAIN ANALYZE) */
	void		(*explain) (HvcsvScan *scan, const HvcsvOptions *opts, ExplainState *es);
	Size		(*shared_size) (HvcsvScan *scan);
	void		(*shared_init) (HvcsvScan *scan, void *shared);
	void		(*shared_reinit) (HvcsvScan *scan, void *shared);
	void		(*shared_finish) (HvcsvScan *scan);
} HvcsvReaderRoutine;

extern const HvcsvReaderRoutine hvcsv_projected_reader;
extern const HvcsvReaderRoutine hvcsv_partitioned_reader;
extern const HvcsvReaderRoutine hvcsv_streaming_reader;

extern void hvcsv_scan_read_header(HvcsvScan *scan);
extern Oid	hvcsv_whole_read_table;

/* in refresh.c */
extern bool hvcsv_progress_active;
extern void hvcsv_progress_bytes(uint64 bytes, int64 total);
extern void hvcsv_progress_rows(uint64 rows);
extern char *hvcsv_refresh_failure_mode;

/* in bulk_load.c */
extern bool hvcsv_bulk_load_eligible(Relation target, Oid foreign_table, List *columns,
									 const char *cursor_column);
extern uint64 hvcsv_bulk_load(Relation target, const char *select_sql, List *columns);

/* in reject.c */

/* A row rejected by on_error 'skip', kept for hvcsv_refresh(). */
typedef struct HvcsvReject
{
	uint64		line;
	uint64		byte_offset;
	char	   *error;
	char	   *raw;			/* the record's text, clipped */
} HvcsvReject;

extern bool hvcsv_collect_rejects;
extern List *hvcsv_collected_rejects;
extern uint64 hvcsv_collected_reject_count;
extern bool hvcsv_build_or_reject(HvcsvScan *scan, TupleTableSlot *slot);
extern void hvcsv_report_rejects(HvcsvScan *scan);

/* in uint64_set.c */
typedef struct Uint64Set
{
	MemoryContext cxt;
	uint64	   *slots;			/* 0 = empty */
	uint64		nslots;			/* a power of two */
	uint64		used;
	bool		overflowed;		/* full: adds nothing more */
	bool		shared;			/* a view of slots in shared memory */
} Uint64Set;

extern Uint64Set *uint64_set_create(MemoryContext cxt, double expected);
extern bool uint64_set_add(Uint64Set *set, uint64 value);
extern bool uint64_set_contains(const Uint64Set *set, uint64 value);
extern void uint64_set_prefetch(const Uint64Set *set, uint64 value);
extern void uint64_set_free(Uint64Set *set);
extern Size uint64_set_shared_size(const Uint64Set *set);
extern void uint64_set_share(const Uint64Set *set, void *dest);
extern Uint64Set *uint64_set_attach(MemoryContext cxt, void *slots, uint64 nslots);
extern bool uint64_set_load(Uint64Set *set, const void *slots);
extern void uint64_set_reset(Uint64Set *set);
extern bool uint64_set_shared_fits(Size bytes);

/* in key_watch.c */
extern bool hvcsv_key_watch_on;
extern bool hvcsv_key_watch_start(Oid foreign_table, List *keys, double expected_rows);
extern void hvcsv_key_watch_row(Relation rel, TupleTableSlot *slot);
extern uint64 hvcsv_key_watch_finish(bool *maybe_duplicate);
extern void hvcsv_key_watch_stop(void);
extern Size hvcsv_key_watch_shared_size(Oid foreign_table);
extern void hvcsv_key_watch_share(void *dest);
extern void hvcsv_key_watch_attach(Oid foreign_table, void *src);
extern void hvcsv_key_watch_scan_done(Relation rel);
extern void hvcsv_key_watch_gather(Relation rel);
extern int	hvcsv_key_watch_processes(void);

/* in changed_rows.c */
extern void hvcsv_read_export_into(const char *select_sql, DestReceiver *dest, bool parallel);
extern uint64 hvcsv_changed_rows_collect(const char *select_sql, bool parallel, uint64 *stored);
extern void hvcsv_changed_rows_forget(void);

/* in row_filter.c */
extern bool hvcsv_row_filter_start(Oid foreign_table, Relation target, List *columns,
								   List *keys, double expected_rows);
extern void hvcsv_row_filter_prepare(Relation rel, TupleTableSlot *slot);
extern bool hvcsv_row_filter_drops(Relation rel, TupleTableSlot *slot);
extern bool hvcsv_row_filter_key_stored(TupleTableSlot *slot);
extern uint64 hvcsv_row_filter_stop(void);
extern Size hvcsv_row_filter_shared_size(Oid foreign_table);
extern void hvcsv_row_filter_share(void *dest);
extern void hvcsv_row_filter_attach(Oid foreign_table, void *src);
extern void hvcsv_row_filter_scan_done(Relation rel);
extern void hvcsv_row_filter_gather(Relation rel);
extern PGDLLEXPORT void hvcsv_row_filter_read_main(dsm_segment *seg, shm_toc *toc);

/* in import.c */
extern List *hvcsvImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);
extern void hvcsv_scan_skip_header(HvcsvScan *scan);
extern const char *hvcsv_spool_note(const HvcsvSpool *spool);

#endif							/* HVCSV_FDW_H */
