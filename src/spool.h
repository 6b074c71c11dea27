/*-------------------------------------------------------------------------
 * spool.h
 *	  Complete downloads on disk (spool.c), reading them, also while one
 *	  is downloaded (spool_read.c), the files of the spool
 *	  directory (spool_files.c), the disk they may take (spool_quota.c),
 *	  their record-boundary index (row_index.c) and small files written
 *	  all or nothing (durable_file.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_SPOOL_H
#define HVCSV_SPOOL_H

#include "postgres.h"

#include "storage/lock.h"
#include "utils/timestamp.h"

#include "option.h"

/* in spool.c */

/* Spool file names begin with this many hex digits of the spool's key. */
#define HVCSV_SPOOL_KEY_LEN 32

/*
 * A complete download on disk, opened for reading; or a growing one, read
 * while it is downloaded (spool_read.c).
 */
typedef struct HvcsvSpool
{
	char		key[HVCSV_SPOOL_KEY_LEN + 1];	/* of a growing spool */
	int			fd;
	char	   *data_path;
	char	   *index_path;		/* its row index (see row_index.c) */
	int64		size;
	char	   *etag;
	char	   *last_modified;
	char	   *next_link;		/* the Link rel="next" of a paginated table's
								 * page, as received; empty if none */
	bool		fetched_now;	/* this call downloaded the body */
	bool		revalidated;	/* this call got a 304 */
	bool		read_growing;	/* read while it was downloaded */
	struct HvcsvSpoolFetch *growing;	/* the download it is read from while
										 * it is written; NULL once over */
	HvcsvCompression compression;	/* of the file, as found when it was
									 * fetched; AUTO if not recorded */
} HvcsvSpool;

/* A spool being brought up to date beside others (see export_fetch.c). */
typedef struct HvcsvSpoolFetch HvcsvSpoolFetch;
struct HvcsvTransferGroup;		/* in http.h */

extern void hvcsv_spool_init(void);
extern HvcsvSpool *hvcsv_spool_open(const HvcsvOptions *opts);
extern HvcsvSpoolFetch *hvcsv_spool_fetch_start(const HvcsvOptions *opts,
												struct HvcsvTransferGroup *group,
												bool wait, bool missing_ok);
extern bool hvcsv_spool_fetch_step(HvcsvSpoolFetch *f, bool *moved);
extern HvcsvSpool *hvcsv_spool_fetch_finish(HvcsvSpoolFetch *f);
extern bool hvcsv_spool_fetch_connect(HvcsvSpoolFetch *f);
extern bool hvcsv_spool_fetch_more(HvcsvSpoolFetch *f);
extern void hvcsv_spool_fetch_rest(HvcsvSpoolFetch *f);
extern void hvcsv_spool_fetch_poll(HvcsvSpoolFetch *f);
extern int64 hvcsv_spool_fetch_written(const HvcsvSpoolFetch *f);
extern void hvcsv_spool_fetch_describe(const HvcsvSpoolFetch *f, HvcsvSpool *spool);
extern void hvcsv_spool_key(const HvcsvOptions *opts, char *key);
extern void hvcsv_spool_fetch_follow(HvcsvSpoolFetch *f);
extern bool hvcsv_spool_take_refusal(void);
extern bool hvcsv_spool_peek_size(const HvcsvOptions *opts, int64 *size);
extern char *hvcsv_spool_peek_next_link(const HvcsvOptions *opts);
extern const char *hvcsv_spool_note(const HvcsvSpool *spool);

/* in spool_read.c */
extern HvcsvSpool *hvcsv_spool_open_growing(const HvcsvOptions *opts);
extern void hvcsv_spool_lend(HvcsvSpool *spool);
extern HvcsvSpool *hvcsv_spool_open_borrowing(const HvcsvOptions *opts);
extern size_t hvcsv_spool_read(void *spool, char *buf, size_t size);
extern void hvcsv_spool_close(HvcsvSpool *spool);

/* in durable_file.c */
extern int	hvcsv_create_private_file(const char *path);
extern bool hvcsv_write_file_durably(const char *path, const void *data, size_t len,
									 const char *what, int elevel);

/* in spool_files.c */

/* What a spool's metadata file says: the generation its readers open. */
typedef struct SpoolMeta
{
	char		generation[128];	/* data in <generation>.csv, index in .idx */
	char		previous[128];	/* the generation before, kept for readers */
	Oid			database;		/* whose backends use it (and lock it) */
	char		url[2048];
	char		etag[256];
	char		last_modified[64];
	int64		size;
	TimestampTz fetched_at;
	char		compression[16];	/* the file's, as found when it was fetched
									 * (hvcsv_compression_name); empty if not
									 * recorded */
	char		next_link[2048];	/* see HvcsvSpool; empty if not recorded */
} SpoolMeta;

extern bool hvcsv_spool_read_meta(const char *path, SpoolMeta *m);
extern bool hvcsv_spool_write_meta(const char *path, const SpoolMeta *m, int elevel);
extern void hvcsv_spool_locktag(LOCKTAG *tag, const uint8 *digest, Oid database,
								uint16 lock_class);
extern bool hvcsv_spool_file_key(const char *name, char *key);
extern bool hvcsv_spool_generation_file(const char *name, const char *generation);
extern void hvcsv_spool_remove_generation(const char *dir, const char *generation);
extern bool hvcsv_spool_remove_unused(const char *dir, const char *key, const char *generation);
extern void hvcsv_spool_sweep(const char *dir, const char *key, const SpoolMeta *keep);

/* in spool_quota.c */
extern int	hvcsv_spool_max_size;
extern void hvcsv_spool_quota_init(void);
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
	unsigned char comment;
	uint64		skip_lines;
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

extern RowIndexBuilder *hvcsv_row_index_begin(const CsvDialect *dialect);
extern void hvcsv_row_index_reset(RowIndexBuilder *builder);
extern void hvcsv_row_index_feed(RowIndexBuilder *builder, const char *data, size_t len);
extern RowIndex *hvcsv_row_index_finish(RowIndexBuilder *builder, uint64 file_size);
extern void hvcsv_row_index_write(const RowIndex *index, const char *path);
extern RowIndex *hvcsv_row_index_load(const HvcsvSpool *spool, const CsvDialect *dialect);

#endif							/* HVCSV_SPOOL_H */
