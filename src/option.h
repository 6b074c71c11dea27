/*-------------------------------------------------------------------------
 * option.h
 *	  The options of servers, user mappings and foreign tables, parsed (option.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_OPTION_H
#define HVCSV_OPTION_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "csv_tokenizer.h"

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

/*
 * How the export's file is compressed (option compression), in the order of
 * its values.  Not the body's Content-Encoding: that is undone first.
 */
typedef enum HvcsvCompression
{
	HVCSV_COMPRESSION_AUTO,		/* told by the body's first bytes */
	HVCSV_COMPRESSION_NONE,
	HVCSV_COMPRESSION_GZIP,
	HVCSV_COMPRESSION_ZSTD,
	HVCSV_COMPRESSION_BZIP2,
	HVCSV_COMPRESSION_XZ,
	HVCSV_COMPRESSION_ZIP		/* an archive holding one file */
} HvcsvCompression;

/* What a scan says about the rows on_error 'skip' rejected (log_verbosity). */
typedef enum HvcsvLogVerbosity
{
	HVCSV_LOG_DEFAULT,			/* a count when the scan ends */
	HVCSV_LOG_VERBOSE,			/* and a NOTICE for each row */
	HVCSV_LOG_SILENT			/* nothing */
} HvcsvLogVerbosity;

/* What a refresh does with rows whose cursor_column is NULL. */
typedef enum HvcsvCursorNulls
{
	HVCSV_CURSOR_NULLS_INCLUDE,	/* compared like any row */
	HVCSV_CURSOR_NULLS_ERROR
} HvcsvCursorNulls;

/* What a refresh does with a header field the table does not declare. */
typedef enum HvcsvNewColumns
{
	HVCSV_NEW_COLUMNS_IGNORE,
	HVCSV_NEW_COLUMNS_ADD,		/* to the foreign table and the target */
	HVCSV_NEW_COLUMNS_ERROR
} HvcsvNewColumns;

/* Which of the rows of an export that share a key a refresh keeps. */
typedef enum HvcsvDuplicateKeys
{
	HVCSV_DUPLICATE_KEYS_ERROR,
	HVCSV_DUPLICATE_KEYS_FIRST,
	HVCSV_DUPLICATE_KEYS_LAST
} HvcsvDuplicateKeys;

/* What a column with the source option reads instead of a CSV field. */
typedef enum HvcsvColumnSource
{
	HVCSV_SOURCE_NONE,			/* a field of the CSV */
	HVCSV_SOURCE_PATH,			/* the export's path, as the table lists it */
	HVCSV_SOURCE_URL,			/* the export's URL, without secrets */
	HVCSV_SOURCE_LINE			/* the line the record starts on */
} HvcsvColumnSource;

/* What a scan does with an export that answers 404 or 410 (missing_exports). */
typedef enum HvcsvMissingExports
{
	HVCSV_MISSING_EXPORTS_DEFAULT,	/* skip for path_template, error otherwise */
	HVCSV_MISSING_EXPORTS_SKIP,
	HVCSV_MISSING_EXPORTS_ERROR
} HvcsvMissingExports;

typedef struct HvcsvOptions
{
	/* foreign server */
	char	   *api_url;
	List	   *export_origins; /* "scheme://host:port" where a manifest's or a
								 * Link's exports may be besides api_url's
								 * origin; no credentials are sent there */
	double		connect_timeout;	/* seconds */
	double		timeout;		/* seconds without progress before giving up */
	int			max_retries;	/* attempts in all, the first included */
	double		retry_delay;	/* seconds before the second attempt */
	double		max_retry_delay;	/* seconds, cap of every wait */
	double		max_age;		/* seconds a spool is used without asking */
	int64		max_bytes;		/* largest body accepted; 0 means no limit */
	int			max_connections;	/* transfers a table's exports may run at
									 * once */
	int			download_connections;	/* ranges one download may run at once
										 * (see ranged_fetch.c) */
	char	   *ca_file;		/* certificate authorities for https, or NULL */

	/* user mapping; api_key, password and headers are never printed (auth.c) */
	Oid			umid;			/* InvalidOid if there is no user mapping */
	char	   *api_key;
	char	   *auth_scheme;
	char	   *api_key_header; /* the key's header instead of Authorization */
	char	   *api_key_param;	/* the key's query parameter instead */
	char	   *user;			/* HTTP Basic */
	char	   *password;
	List	   *headers;		/* extra request headers, "Name: value" each */

	/* foreign table */
	char	   *path;
	List	   *paths;			/* paths option: several exports, or NIL */
	char	   *manifest;		/* path of the listing of the exports, or NULL */
	char	   *path_template;	/* a path with {date} (or {yyyy}, {mm}, {dd}), or NULL */
	char	   *dates_from;		/* the first date path_template takes, as given */
	char	   *dates_step;		/* the interval between its dates, as given */
	bool		paginate;		/* paginate 'link': path is the first page, and
								 * each response's Link rel="next" the next */
	HvcsvMissingExports missing_exports;
	HvcsvReaderKind reader;
	HvcsvCompression compression;
	HvcsvHeaderMode header;
	char		delimiter;
	char		quote;
	char		escape;
	char	   *null_string;
	char		comment;		/* '\0' if none */
	int64		skip_lines;		/* lines before the header or first record */
	bool		pad_missing_fields;	/* missing_fields 'null' */
	bool		ignore_extra_fields;	/* extra_fields 'ignore' */
	int			encoding;		/* the file's encoding */
	int64		block_size;
	int			batch_rows;
	bool		on_error_skip;	/* on_error 'skip' or 'ignore' */
	int64		reject_limit;	/* 0 means no limit */
	HvcsvLogVerbosity log_verbosity;
	List	   *target;			/* the target's name, split as SQL does, or NIL */
	List	   *key;			/* key column names, or NIL for the primary key */
	char	   *cursor_column;
	char	   *cursor_lag;		/* a number or an interval, as text, or NULL */
	HvcsvCursorNulls cursor_nulls;
	char	   *cursor_param;	/* query parameter that carries the mark, or NULL */
	HvcsvNewColumns on_new_columns;
	bool		keep_missing_columns;	/* a declared column the header lacks reads as NULL */
	HvcsvDuplicateKeys on_duplicate_key;
	bool		delete_missing;	/* delete (or mark) target rows absent from the export */
	bool		soft_delete;	/* mark them in deleted_column instead */
	char	   *deleted_column;
	double		delete_limit;	/* largest share of the target one run may delete */

	/* derived */
	char	   *url;			/* api_url followed by path */
	bool		server_owner_is_superuser;	/* may reach api_url at a non-public address */
} HvcsvOptions;

/* Most exports one table reads, so that a hostile listing cannot exhaust memory. */
#define HVCSV_MAX_EXPORTS 10000

/*
 * Longest URL of an export that a listing or a Link names: its state
 * (hvcsv_sync_exports) is indexed by it, and a spool keeps it.
 */
#define HVCSV_MAX_EXPORT_URL 2048

/* Most transfers max_connections allows, each with a buffer and a socket. */
#define HVCSV_MAX_CONNECTIONS 64

/*
 * Whether the table reads a list of exports (paths, manifest,
 * path_template, or the pages of paginate), not one path.
 */
static inline bool
hvcsv_has_export_list(const HvcsvOptions *opts)
{
	return opts->paths != NIL || opts->manifest != NULL || opts->path_template != NULL ||
		opts->paginate;
}

/* Whether an export that answers 404 or 410 is skipped rather than an error. */
static inline bool
hvcsv_skips_missing_exports(const HvcsvOptions *opts)
{
	return opts->missing_exports == HVCSV_MISSING_EXPORTS_SKIP ||
		(opts->missing_exports == HVCSV_MISSING_EXPORTS_DEFAULT && opts->path_template != NULL);
}

extern char *hvcsv_export_url(const HvcsvOptions *opts, const char *entry, const char *source,
							  const char *lists);
extern char *hvcsv_expand_path_template(const char *path_template, int year, int month, int day);
extern void hvcsv_check_options(List *options, Oid catalog, HvcsvOptions *opts);
extern void hvcsv_check_sync_options(List *options, const HvcsvOptions *opts);
extern HvcsvOptions *hvcsv_server_options(Oid serverid, Oid userid, List *table_options);
extern HvcsvOptions *hvcsv_get_options(Oid foreigntableid, Oid userid);
extern const char *hvcsv_reader_name(HvcsvReaderKind kind);
extern const char *hvcsv_compression_name(HvcsvCompression compression);
extern HvcsvCompression hvcsv_compression_by_name(const char *name);
extern const char *hvcsv_table_target_text(Oid foreigntableid);
extern List *hvcsv_table_target(Oid foreigntableid);
extern void hvcsv_column_force_options(List *column_options, bool *force_null,
									   bool *force_not_null);
extern HvcsvColumnSource hvcsv_column_source(List *column_options);
extern void hvcsv_dialect(const HvcsvOptions *opts, CsvDialect *dialect);

#endif							/* HVCSV_OPTION_H */
