/*-------------------------------------------------------------------------
 * spool.c
 *	  Keeps complete downloads on disk and decides when to fetch again.
 *
 * A spool is a data file and a metadata file in the spool directory, named
 * by a hash of the database, the user mapping, the URL and the credentials,
 * so two user mappings (or two keys) never share one.  The body is written
 * to a temporary file, fsynced, and given its final name; only then is the
 * metadata, which names the data file, written and renamed into place.  A
 * reader follows the metadata, so it sees a complete spool or none, whatever
 * fails or crashes in between.
 *
 * One lock per spool (an advisory lock in a class of our own) is held while
 * deciding, fetching and opening.  A second session that waited for it finds
 * a spool fetched after its statement began and uses it without a request,
 * so concurrent scans download once.  A second lock, in another class, is
 * held in share mode by every transaction that opened the spool, until it
 * ends: a spool is removed only by whoever takes both without waiting, so
 * never while a download of it or a scan of it may still need its files.
 *
 * Files are created mode 0600 in a directory that only the server's OS user
 * may write to (anyone else could plant a symlink there).  What no one can
 * use any more is removed before each download (see spool_files.c):
 * generations older than the one a download replaced, temporary files whose
 * writer has exited, and spools not used for some days.  While a
 * download is written, spool_quota.c keeps the directory within
 * hvcsv_fdw.spool_max_size.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access/xact.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "http.h"
#include "locks.h"
#include "spool.h"


static char *spool_directory = NULL;

/* Spool files and the directory are for the server's OS user alone. */
#define SPOOL_DIR_MODE S_IRWXU

/* Spool file names begin with the hex digits of the spool's key. */
#define SPOOL_KEY_LEN HVCSV_SPOOL_KEY_LEN


/*
 * Writeback of a spool being written is started every so many bytes, so that
 * the fsync that ends the download finds little left to write.
 */
#define SPOOL_FLUSH_AFTER (8 * 1024 * 1024)

/*
 * A download in ranges is indexed from its file whenever this much more of
 * its start is written, read back this much at a time.
 */
#define INDEX_STEP (4 * 1024 * 1024)
#define INDEX_READ_SIZE (256 * 1024)

/*
 * A session measures the spool directory again after its downloads wrote
 * at most this much, so that the downloads of other sessions count.
 */
#define SPOOL_QUOTA_RECHECK (8 * 1024 * 1024)

/*
 * A sweep of the spool directory runs at most this often in a session: a
 * table of many exports downloads them one after another, and each would
 * list and examine every file of the directory again.
 */
#define SPOOL_SWEEP_INTERVAL_MS (60 * 1000)

/*
 * What this session's downloads may still write into quota_dir before it
 * is measured again: the room the last measure found, at most
 * SPOOL_QUOTA_RECHECK.  Shared by all the session's downloads, so that
 * many small ones measure the directory once rather than once each.
 */
static int64 quota_budget = 0;
static char quota_dir[MAXPGPATH];

/* When this session last swept the spool directory (0: never). */
static TimestampTz last_sweep = 0;

/* The spool being written: its file, and whether it must be removed. */
typedef struct SpoolWrite
{
	int			fd;				/* -1 until the body begins */
	char		path[MAXPGPATH];
	const char *dir;
	const char *key;
	const char *previous;		/* the generation before the one replaced */
	const char *display_url;	/* for messages */
	bool		created;
	bool		keep;
	int64		bytes;
	int64		flushed;		/* bytes whose writeback was started */
	RowIndexBuilder *index;		/* built as the bytes arrive */
	int64		indexed;		/* of a download in ranges: the bytes at the
								 * file's start the index was built from */
	bool		followed;		/* a reader follows the body as it is written */
	bool		refused;		/* a start over was refused (see refuse_start_over) */
	MemoryContextCallback cleanup;
} SpoolWrite;

/* Computes the spool's name: a hash of everything that selects its content. */
static void
spool_key(const HvcsvOptions *opts, char *key_out, uint8 *digest)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	char	   *identity;

	identity = psprintf("db=%u um=%u scheme=%s url=%s key=%s%s", MyDatabaseId, opts->umid,
						opts->auth_scheme, opts->url, opts->api_key ? opts->api_key : "",
						hvcsv_credentials_identity(opts));
	/* The spool holds the file decoded as the option says; "auto" keeps older names. */
	if (opts->compression != HVCSV_COMPRESSION_AUTO)
		identity = psprintf("%s compression=%s", identity,
							hvcsv_compression_name(opts->compression));
	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) identity, strlen(identity)) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
	explicit_bzero(identity, strlen(identity));

	/* 16 bytes of the hash are plenty to tell spools apart. */
	hex_encode((char *) digest, 16, key_out);
	key_out[32] = '\0';
}


/*
 * Returns the spool directory; with create, makes it if needed and checks
 * that no one but the server's OS user can write to it.
 */
static const char *
spool_dir(bool create)
{
	const char *dir = spool_directory;
	struct stat st;

	if (!create)
		return dir;
	/* Missing parents too: the default is below a directory of its own. */
	if (pg_mkdir_p(pstrdup(dir), SPOOL_DIR_MODE) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create spool directory \"%s\": %m", dir)));
	if (stat(dir, &st) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat spool directory \"%s\": %m", dir)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("spool directory \"%s\" is not a directory", dir)));
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("spool directory \"%s\" has unsafe ownership or permissions", dir),
				 errdetail("It must be owned by the database server's operating system user, and no one else may write to it."),
				 errhint("Point hvcsv_fdw.spool_directory at a directory of its own with mode 0700, or at a path that does not exist yet.")));
	return dir;
}






/* Removes a partial download when its transaction ends without keeping it. */
static void
spool_write_cleanup(void *arg)
{
	SpoolWrite *w = (SpoolWrite *) arg;

	if (w->created && !w->keep)
		(void) unlink(w->path);
}

/* Creates the file the body is written to, once the body begins. */
static void
spool_write_begin(SpoolWrite *w)
{
	/* A download that started over writes the file it had emptied. */
	if (w->fd >= 0)
		return;
	w->fd = hvcsv_create_private_file(w->path);
	if (w->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create a spool file in \"%s\": %m", w->dir),
				 errdetail("The download of \"%s\" was abandoned; the previous download, if any, is kept.",
						   w->display_url)));
	w->created = true;
}

/*
 * Makes sure len more bytes keep the spool directory within
 * hvcsv_fdw.spool_max_size, removing spools no one uses if need be, or
 * abandons the download.  The directory is measured only when the
 * session's budget (see quota_budget) is used up.
 */
static void
spool_write_reserve(SpoolWrite *w, size_t len)
{
	int64		used;
	int64		room;

	if (hvcsv_spool_max_size <= 0)
		return;
	if (strcmp(quota_dir, w->dir) != 0 || quota_budget < (int64) len)
	{
		room = hvcsv_spool_quota_room(w->dir, w->key, w->previous, len, &used);
		if (room < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("spool directory \"%s\" would grow past hvcsv_fdw.spool_max_size (%s)",
							w->dir, GetConfigOptionByName("hvcsv_fdw.spool_max_size", NULL, false)),
					 errdetail("The download of \"%s\" was abandoned after " INT64_FORMAT " bytes; the previous download, if any, is kept. The spools take " INT64_FORMAT " bytes, and those left are in use.",
							   w->display_url, w->bytes, used),
					 errhint("A superuser can raise hvcsv_fdw.spool_max_size.")));
		strlcpy(quota_dir, w->dir, sizeof(quota_dir));
		quota_budget = Max((int64) len, Min(room, SPOOL_QUOTA_RECHECK));
	}
	quota_budget -= len;
}

/*
 * Writes len bytes at offset of the spool being written, or abandons the
 * download.
 */
static void
spool_pwrite(SpoolWrite *w, const char *data, size_t len, int64 offset)
{
	spool_write_reserve(w, len);
	while (len > 0)
	{
		ssize_t		n = pwrite(w->fd, data, len, offset);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write a spool file in \"%s\": %m", w->dir),
					 errdetail("The download of \"%s\" was abandoned after " INT64_FORMAT " bytes; the previous download, if any, is kept.",
							   w->display_url, w->bytes)));
		}
		data += n;
		len -= n;
		offset += n;
		w->bytes += n;
	}
}

/* Appends body bytes to the spool being written, and to its index. */
static void
spool_write_bytes(SpoolWrite *w, const char *data, size_t len)
{
	hvcsv_row_index_feed(w->index, data, len);
	spool_pwrite(w, data, len, w->bytes);
	if (w->bytes - w->flushed >= SPOOL_FLUSH_AFTER)
	{
		pg_flush_data(w->fd, w->flushed, w->bytes - w->flushed);
		w->flushed = w->bytes;
	}
}

/*
 * Writes a piece of a download in ranges at its offset; the index is built
 * apart (index_written), from the file.
 */
static void
spool_write_at(SpoolWrite *w, const char *data, size_t len, int64 offset)
{
	spool_pwrite(w, data, len, offset);
	/* The pieces are all over the file: start the writeback of all of it. */
	if (w->bytes - w->flushed >= SPOOL_FLUSH_AFTER)
	{
		pg_flush_data(w->fd, 0, 0);
		w->flushed = w->bytes;
	}
}

/*
 * Builds the index of a download in ranges from the file, up to upto, the
 * bytes at its start written so far: when INDEX_STEP more are there, or at
 * the end (final).  The index needs the bytes in order, and the pieces of
 * the ranges come in any; read back while the other ranges still arrive,
 * they are mostly in the page cache, and little is left for the end.
 */
static void
index_written(SpoolWrite *w, int64 upto, bool final)
{
	char	   *buf;

	if (upto - w->indexed < (final ? 1 : INDEX_STEP))
		return;
	buf = palloc(INDEX_READ_SIZE);
	while (w->indexed < upto)
	{
		ssize_t		n;

		CHECK_FOR_INTERRUPTS();
		n = pread(w->fd, buf, Min((int64) INDEX_READ_SIZE, upto - w->indexed), w->indexed);
		if (n <= 0)
		{
			if (n < 0 && errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read a spool file in \"%s\": %m", w->dir),
					 errdetail("The download of \"%s\" was abandoned.", w->display_url)));
		}
		hvcsv_row_index_feed(w->index, buf, n);
		w->indexed += n;
	}
	pfree(buf);
}

/* Set when this backend refused a start over; see hvcsv_spool_take_refusal. */
static bool start_over_refused = false;

/*
 * Refuses to start the download over, for the reason why: a reader follows
 * it, and rows made of the bytes it read cannot be taken back.  A
 * serialization failure tells the statement's caller that its transaction
 * may run again and read the export as it is now.  The write stays
 * refused, so that a caller that catches the error (a subtransaction) can
 * neither go on with the download nor publish it.
 */
static void
refuse_start_over(SpoolWrite *w, const char *why)
{
	w->refused = true;
	start_over_refused = true;
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("download of \"%s\" had to start over while it was being read",
					w->display_url),
			 errdetail("%s Rows read from it cannot be taken back.", why)));
}

/*
 * Tells whether this backend refused a start over (refuse_start_over)
 * since the last call, and forgets it.
 */
bool
hvcsv_spool_take_refusal(void)
{
	bool		refused = start_over_refused;

	start_over_refused = false;
	return refused;
}

/*
 * Throws away what was written when the body starts over, for the reason
 * why; refused while a reader follows the body.
 */
static void
spool_write_reset(void *arg, const char *why)
{
	SpoolWrite *w = (SpoolWrite *) arg;

	if (w->followed)
		refuse_start_over(w, why);
	if (ftruncate(w->fd, 0) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not truncate a spool file in \"%s\": %m", w->dir)));
	w->bytes = 0;
	w->flushed = 0;
	w->indexed = 0;
	hvcsv_row_index_reset(w->index);
}













/* Tells whether the metadata's data file exists and has the size it says. */
static bool
spool_is_complete(const char *dir, const SpoolMeta *m)
{
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s.csv", dir, m->generation);
	return stat(path, &st) == 0 && st.st_size == m->size;
}

/* Opens the data file that the metadata names. */
static HvcsvSpool *
open_spool(const char *dir, const SpoolMeta *m)
{
	HvcsvSpool *spool = palloc0(sizeof(HvcsvSpool));

	spool->data_path = psprintf("%s/%s.csv", dir, m->generation);
	spool->index_path = psprintf("%s/%s.idx", dir, m->generation);
	spool->fd = OpenTransientFile(spool->data_path, O_RDONLY | PG_BINARY);
	if (spool->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spool file \"%s\": %m", spool->data_path)));
	spool->size = m->size;
	spool->etag = pstrdup(m->etag);
	spool->last_modified = pstrdup(m->last_modified);
	spool->next_link = pstrdup(m->next_link);
	return spool;
}

/*
 * Where one opening of a spool stands: deciding, fetching (maybe beside
 * others, in one transfer group), done.
 */
typedef struct HvcsvSpoolFetch
{
	HvcsvOptions opts;
	const char *dir;
	char		key[HVCSV_SPOOL_KEY_LEN + 1];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		meta_path[MAXPGPATH];
	SpoolMeta	m;				/* what the metadata says (zeros if none) */
	bool		have;			/* a complete spool exists */
	bool		fetched_now;
	bool		revalidated;
	bool		missing;		/* it answered 404 or 410 (missing_ok) */
	HvcsvCompression compression;	/* of the file fetched now */
	LOCKTAG		tag;			/* its lock, held until it is opened */
	HvcsvRequest req;			/* of the fetch, if one is made */
	SpoolWrite *w;
	HvcsvBody  *body;			/* NULL if the spool is used as it is */
	HvcsvRanged *ranged;		/* the body, downloaded in ranges; or NULL */
	int			changes;		/* times the export changed under its ranges */
	bool		connected;		/* the body's answer came */
	bool		ended;			/* the fetch is over */
	struct HvcsvSpoolFetch *next_under_way; /* see under_way */
	LocalTransactionId lxid;	/* of the transaction it runs in */
	MemoryContextCallback forget;	/* takes it off under_way */
} SpoolOpening;

/*
 * The fetches of this backend that are under way.  A growing spool's goes
 * on while its statement reads it (see spool_read.c), so another opening
 * of that spool in the same backend (a self-join) may come meanwhile: it
 * finishes that fetch first, since both would write one temporary file.
 */
static SpoolOpening *under_way = NULL;

/*
 * Takes the spool's lock (held while deciding, fetching and opening) and
 * its in-use lock, held until the transaction ends, so that no other
 * download removes it meanwhile.  Without wait, takes neither if either
 * is held by another session, and returns false.
 */
static bool
lock_spool(SpoolOpening *o, bool wait)
{
	LOCKTAG		use_tag;

	hvcsv_spool_locktag(&o->tag, o->digest, MyDatabaseId, HVCSV_SPOOL_LOCK_CLASS);
	if (LockAcquire(&o->tag, ExclusiveLock, false, !wait) == LOCKACQUIRE_NOT_AVAIL)
		return false;
	hvcsv_spool_locktag(&use_tag, o->digest, MyDatabaseId, HVCSV_SPOOL_USE_LOCK_CLASS);
	if (LockAcquire(&use_tag, ShareLock, false, !wait) == LOCKACQUIRE_NOT_AVAIL)
	{
		LockRelease(&o->tag, ExclusiveLock, false);
		return false;
	}
	return true;
}

/* Releases both locks of lock_spool: a missing export leaves nothing to use. */
static void
unlock_spool(SpoolOpening *o)
{
	LOCKTAG		use_tag;

	hvcsv_spool_locktag(&use_tag, o->digest, MyDatabaseId, HVCSV_SPOOL_USE_LOCK_CLASS);
	LockRelease(&use_tag, ShareLock, false);
	LockRelease(&o->tag, ExclusiveLock, false);
}

/*
 * Tells whether the spool may be used without asking: fetched since the
 * statement began (a session that waited for the lock), or within max_age.
 */
static bool
fresh_enough(const SpoolOpening *o, const HvcsvOptions *opts)
{
	return o->have &&
		(o->m.fetched_at >= GetCurrentStatementStartTimestamp() ||
		 GetCurrentTimestamp() - o->m.fetched_at < (int64) (opts->max_age * USECS_PER_SEC));
}

/* Prepares the writer of a download; its file is created only when a body comes. */
static SpoolWrite *
start_write(SpoolOpening *o, const HvcsvOptions *opts, const HvcsvRequest *req)
{
	SpoolWrite *w = palloc0(sizeof(SpoolWrite));
	CsvDialect	dialect;

	w->fd = -1;
	snprintf(w->path, sizeof(w->path), "%s/%s.%d.tmp", o->dir, o->key, MyProcPid);
	w->dir = o->dir;
	w->key = o->key;
	w->previous = o->m.previous;
	w->display_url = req->display_url;
	hvcsv_dialect(opts, &dialect);
	w->index = hvcsv_row_index_begin(&dialect);
	w->cleanup.func = spool_write_cleanup;
	w->cleanup.arg = w;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &w->cleanup);
	return w;
}

/* Notes that a 304 confirmed the spool. */
static void
note_revalidated(SpoolOpening *o, const HvcsvResponse *resp)
{
	if (resp->etag[0])
		strlcpy(o->m.etag, resp->etag, sizeof(o->m.etag));
	o->m.fetched_at = GetCurrentTimestamp();
	/* The spool is still right; failing to note when it was checked is no reason to fail. */
	(void) hvcsv_spool_write_meta(o->meta_path, &o->m, WARNING);
	o->revalidated = true;
}

/*
 * Publishes a complete download as the spool's new generation: its data,
 * then its index, then the metadata that names them.  A failure before the
 * metadata leaves the old generation in place and removes the new files.
 */
static void
publish_generation(SpoolOpening *o, SpoolWrite *w, const HvcsvRequest *req,
				   const HvcsvResponse *resp, const char *next_link)
{
	SpoolMeta  *m = &o->m;
	char		stem[MAXPGPATH];
	char		path[MAXPGPATH];
	char		older[sizeof(m->previous)];

	if (pg_fsync(w->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync a spool file in \"%s\": %m", o->dir)));
	CloseTransientFile(w->fd);
	w->fd = -1;

	strlcpy(older, m->previous, sizeof(older));
	strlcpy(m->previous, m->generation, sizeof(m->previous));
	snprintf(m->generation, sizeof(m->generation), "%s.%llx",
			 o->key, (unsigned long long) GetCurrentTimestamp());
	snprintf(stem, sizeof(stem), "%s/%s", o->dir, m->generation);
	strlcpy(m->url, req->display_url, sizeof(m->url));
	strlcpy(m->etag, resp->etag, sizeof(m->etag));
	strlcpy(m->last_modified, resp->last_modified, sizeof(m->last_modified));
	m->size = w->bytes;
	m->fetched_at = GetCurrentTimestamp();
	strlcpy(m->compression, hvcsv_compression_name(o->compression), sizeof(m->compression));
	strlcpy(m->next_link, next_link, sizeof(m->next_link));
	PG_TRY();
	{
		snprintf(path, sizeof(path), "%s.csv", stem);
		(void) durable_rename(w->path, path, ERROR);
		snprintf(path, sizeof(path), "%s.idx", stem);
		hvcsv_row_index_write(hvcsv_row_index_finish(w->index, w->bytes), path);
		(void) hvcsv_spool_write_meta(o->meta_path, m, ERROR);
	}
	PG_CATCH();
	{
		/* The metadata still names the old data, so the new is garbage. */
		snprintf(path, sizeof(path), "%s.csv", stem);
		(void) unlink(path);
		snprintf(path, sizeof(path), "%s.idx", stem);
		(void) unlink(path);
		PG_RE_THROW();
	}
	PG_END_TRY();
	w->keep = true;

	/* Two generations stay: the new one and the one readers may hold. */
	if (older[0])
		hvcsv_spool_remove_generation(o->dir, older);
	o->fetched_now = true;
}

/*
 * The next page's link that a paginated table's page (a 200 response to
 * req) gives, to keep in the metadata; empty for other tables, which
 * follow no links.  The metadata is no place for a secret: a server that
 * echoes api_key_param's parameter into the link has it dropped (each
 * request adds the key again), and a link that carries a credential
 * anywhere else is refused, as is one too long to keep.
 */
static const char *
page_next_link(const HvcsvOptions *opts, const HvcsvRequest *req, const HvcsvResponse *resp)
{
	const char *link = resp->next_link;

	if (!opts->paginate)
		return "";
	if (resp->next_link_too_long)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the Link header of \"%s\" names a next page longer than %d bytes",
						req->display_url, (int) sizeof(resp->next_link) - 1)));
	if (link[0] && req->key_param)
		link = hvcsv_url_without_query_param(link, req->key_param);
	if (strcmp(hvcsv_mask_secrets(link, req->secrets), link) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("the Link header of \"%s\" names a next page that carries a credential",
						req->display_url),
				 errdetail("Credentials come from the user mapping only, and are added to each request.")));
	return link;
}

/* Takes a fetch off under_way: it ended, or its memory goes. */
static void
forget_under_way(void *arg)
{
	SpoolOpening **p;

	for (p = &under_way; *p != NULL; p = &(*p)->next_under_way)
	{
		if (*p == (SpoolOpening *) arg)
		{
			*p = (*p)->next_under_way;
			return;
		}
	}
}

/* Puts a fetch that begins on under_way, until it ends or its memory goes. */
static void
note_under_way(SpoolOpening *o)
{
	o->lxid = MyProc->lxid;
	o->next_under_way = under_way;
	under_way = o;
	o->forget.func = forget_under_way;
	o->forget.arg = o;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &o->forget);
}

/*
 * Sends the request for the export (conditional if a spool exists), in
 * group, without waiting for the answer; with missing_ok, a 404 or 410
 * will end it as missing.
 */
static void
fetch_begin(SpoolOpening *o, HvcsvTransferGroup *group, bool missing_ok)
{
	hvcsv_request_init(&o->req, &o->opts);
	o->req.missing_ok = missing_ok;
	if (o->have)
	{
		o->req.if_none_match = o->m.etag;
		o->req.if_modified_since = o->m.last_modified;
	}
	else
		memset(&o->m, 0, sizeof(o->m));

	o->w = start_write(o, &o->opts, &o->req);
	o->body = hvcsv_body_start(&o->req, group, spool_write_reset, o->w);
	note_under_way(o);
}

/*
 * Sweeps the spool directory before a download (see hvcsv_spool_sweep),
 * at most every SPOOL_SWEEP_INTERVAL_MS in a session.  Between sweeps
 * nothing is left behind but by a crash: a publish removes the generation
 * it makes too old, and a download that fails removes its files.  A 304
 * needs no sweep: it writes nothing.
 */
static void
sweep_before_download(SpoolOpening *o)
{
	TimestampTz now = GetCurrentTimestamp();

	if (last_sweep != 0 &&
		!TimestampDifferenceExceeds(last_sweep, now, SPOOL_SWEEP_INTERVAL_MS))
		return;
	hvcsv_spool_sweep(o->dir, o->key, &o->m);
	last_sweep = now;
}

/* Waits for the answer; a body to keep begins its spool file. */
static void
fetch_connect(SpoolOpening *o)
{
	hvcsv_body_connect(o->body);
	o->connected = true;
	if (hvcsv_body_response(o->body)->status == 200)
	{
		sweep_before_download(o);
		spool_write_begin(o->w);
		o->ranged = hvcsv_ranged_start(o->body, o->req.display_url,
									   o->opts.download_connections);
	}
}

/*
 * Starts the download over, whole, after the export changed under its
 * ranges: what was written is of the version before.  As many times as
 * max_retries allows a body to start over.
 */
static void
fetch_again(SpoolOpening *o)
{
	HvcsvTransferGroup *group = hvcsv_body_group(o->body);

	hvcsv_ranged_close(o->ranged);
	o->ranged = NULL;
	if (++o->changes >= o->req.max_retries)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not download \"%s\": the export changed while it was downloaded in ranges",
						o->req.display_url),
				 errdetail("The download started over %d times.", o->changes - 1)));
	spool_write_reset(o->w, "The export changed while it was downloaded in ranges.");
	/* The spool kept is not what the export is now: ask for the body. */
	o->req.if_none_match = NULL;
	o->req.if_modified_since = NULL;
	o->body = hvcsv_body_start(&o->req, group, spool_write_reset, o->w);
	o->connected = false;
}

/*
 * Writes the next piece of a download in ranges in place; false at its
 * end, once the index is complete.
 */
static bool
ranged_take(SpoolOpening *o)
{
	const char *data;
	size_t		len;
	int64		offset;

	if (hvcsv_ranged_read(o->ranged, &data, &len, &offset))
	{
		spool_write_at(o->w, data, len, offset);
		index_written(o->w, hvcsv_ranged_contiguous(o->ranged), false);
		return true;
	}
	if (hvcsv_ranged_changed(o->ranged))
	{
		fetch_again(o);
		return true;
	}
	index_written(o->w, o->w->bytes, true);
	return false;
}

/*
 * Writes the next piece of the body to the spool file (or takes the answer
 * of a download that started over); false at its end.
 */
static bool
fetch_take_piece(SpoolOpening *o)
{
	const char *data;
	size_t		len;

	if (!o->connected)
	{
		fetch_connect(o);
		return true;
	}
	if (o->ranged)
		return ranged_take(o);
	if (!hvcsv_body_read(o->body, &data, &len))
		return false;
	spool_write_bytes(o->w, data, len);
	return true;
}

/*
 * Refuses to go on with a fetch whose start over was refused: its body has
 * moved on to another version.
 */
static void
check_not_refused(SpoolOpening *o)
{
	if (o->w != NULL && o->w->refused)
		refuse_start_over(o->w, "An earlier start over was refused.");
}

/*
 * fetch_take_piece in the fetch's own memory: a growing spool's reader
 * moves the download from a scan's per-row memory, and what a start over
 * allocates must live as long as the fetch.
 */
static bool
fetch_take(SpoolOpening *o)
{
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(o));
	bool		more;

	check_not_refused(o);
	more = fetch_take_piece(o);
	MemoryContextSwitchTo(old);
	return more;
}

/* Tells whether the fetch's next step would not wait for the network. */
static bool
fetch_ready(SpoolOpening *o)
{
	return o->ranged ? hvcsv_ranged_ready(o->ranged) : hvcsv_body_ready(o->body);
}

/* Ends the fetch: keeps what came (a new generation, or a 304's word). */
static void
fetch_end(SpoolOpening *o)
{
	HvcsvResponse resp;
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(o));

	check_not_refused(o);
	hvcsv_body_close(o->body);
	resp = *hvcsv_body_response(o->body);
	o->compression = hvcsv_body_compression(o->body);
	o->ended = true;
	forget_under_way(o);

	if (hvcsv_body_missing(o->body))
		o->missing = true;
	else if (resp.status == 304 && o->have)
		note_revalidated(o, &resp);
	else if (resp.status == 200)
		publish_generation(o, o->w, &o->req, &resp, page_next_link(&o->opts, &o->req, &resp));
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("unexpected HTTP status %ld from \"%s\"", resp.status, o->req.display_url)));
	MemoryContextSwitchTo(old);
}

/* Downloads the rest of a fetch, if it is not over, and publishes it. */
static void
fetch_rest(SpoolOpening *o)
{
	if (o->body == NULL || o->ended)
		return;
	while (fetch_take(o))
		;
	fetch_end(o);
}

/*
 * Finishes this transaction's fetch of the spool key that is under way, if
 * any, so that the spool is complete (and fresh) for another opening.
 * One left by an earlier transaction is only forgotten: its memory and
 * files went with it.
 */
static void
finish_under_way(const char *key)
{
	SpoolOpening *p;

	for (p = under_way; p != NULL; p = p->next_under_way)
	{
		if (strcmp(p->key, key) != 0)
			continue;
		if (p->lxid != MyProc->lxid)
		{
			forget_under_way(p);
			return;
		}
		fetch_rest(p);
		return;
	}
}

/*
 * Locks the table's spool and decides whether to fetch it; if so, sends
 * the request in group (see fetch_begin).  NULL, with nothing locked, if
 * the lock is held by another session and not wait.
 */
static SpoolOpening *
opening_start(const HvcsvOptions *opts, HvcsvTransferGroup *group, bool wait, bool missing_ok)
{
	SpoolOpening *o = palloc0(sizeof(SpoolOpening));

	o->opts = *opts;
	o->dir = spool_dir(true);
	spool_key(opts, o->key, o->digest);
	snprintf(o->meta_path, sizeof(o->meta_path), "%s/%s.meta", o->dir, o->key);
	finish_under_way(o->key);
	if (!lock_spool(o, wait))
	{
		pfree(o);
		return NULL;
	}
	/*
	 * A use: the spool is not idle (see hvcsv_spool_sweep), nor while it is
	 * fetched beside others, whose sweeps this session's locks do not stop.
	 */
	(void) utimensat(AT_FDCWD, o->meta_path, NULL, 0);

	o->have = hvcsv_spool_read_meta(o->meta_path, &o->m) && spool_is_complete(o->dir, &o->m);
	if (!fresh_enough(o, opts))
		fetch_begin(o, group, missing_ok);
	return o;
}

/*
 * Opens the spool that the opening brought up to date and releases its
 * lock; NULL, with both its locks released, if the export is missing.
 */
static HvcsvSpool *
opening_finish(SpoolOpening *o)
{
	HvcsvSpool *spool;

	if (o->missing)
	{
		unlock_spool(o);
		return NULL;
	}
	spool = open_spool(o->dir, &o->m);
	spool->fetched_now = o->fetched_now;
	spool->revalidated = o->revalidated;
	spool->compression = hvcsv_compression_by_name(o->m.compression);
	LockRelease(&o->tag, ExclusiveLock, false);
	return spool;
}

/*
 * Returns the table's spool, opened for reading: fetched now if there is
 * none, revalidated with a conditional GET if it is older than max_age,
 * else used as it is.
 */
HvcsvSpool *
hvcsv_spool_open(const HvcsvOptions *opts)
{
	SpoolOpening *o = opening_start(opts, NULL, true, false);

	fetch_rest(o);
	return opening_finish(o);
}

/*
 * Starts bringing the table's spool up to date as hvcsv_spool_open would,
 * its request in group beside others; hvcsv_spool_fetch_step moves it.
 * Without wait, returns NULL if another session holds the spool's lock:
 * a session that holds the locks of spools being fetched waits for no
 * other (see export_fetch.c).  With missing_ok, an export that answers
 * 404 or 410 ends as missing.
 */
HvcsvSpoolFetch *
hvcsv_spool_fetch_start(const HvcsvOptions *opts, HvcsvTransferGroup *group, bool wait,
						bool missing_ok)
{
	return opening_start(opts, group, wait, missing_ok);
}

/*
 * Does what the fetch can do without waiting for the network: takes its
 * answer, or the next piece of its body.  Sets *moved if it did anything;
 * returns true once it is over.
 */
bool
hvcsv_spool_fetch_step(HvcsvSpoolFetch *f, bool *moved)
{
	*moved = false;
	if (f->body == NULL || f->ended)
		return true;
	if (!fetch_ready(f))
		return false;
	*moved = true;
	if (!fetch_take(f))
		fetch_end(f);
	return f->ended;
}

/*
 * Opens the spool of a fetch that is over, as hvcsv_spool_open returns it;
 * NULL if the export is missing.
 */
HvcsvSpool *
hvcsv_spool_fetch_finish(HvcsvSpoolFetch *f)
{
	return opening_finish(f);
}

/*
 * Waits for the fetch's first answer; tells whether a body comes that may
 * be read while it is written: one that a break resumes at the byte it
 * broke at, never starts over from the first (see hvcsv_body_resumable),
 * and a file that is not compressed.  A compressed file's checksum is
 * checked at its end: read as it arrives, a corrupt one would give rows of
 * garbage before its error.
 */
bool
hvcsv_spool_fetch_connect(HvcsvSpoolFetch *f)
{
	if (f->body == NULL)
		return false;
	if (!f->connected)
		fetch_take(f);
	return !hvcsv_body_missing(f->body) && hvcsv_body_resumable(f->body) &&
		hvcsv_body_compression(f->body) == HVCSV_COMPRESSION_NONE;
}

/*
 * Takes the next piece of the fetch's body, waiting for the network, or
 * ends the fetch at the body's end, publishing the download; false once
 * it is over.
 */
bool
hvcsv_spool_fetch_more(HvcsvSpoolFetch *f)
{
	if (f->body == NULL || f->ended)
		return false;
	if (fetch_take(f))
		return true;
	fetch_end(f);
	return false;
}

/* Downloads the rest of the fetch, as hvcsv_spool_open does, and publishes it. */
void
hvcsv_spool_fetch_rest(HvcsvSpoolFetch *f)
{
	fetch_rest(f);
}

/*
 * Moves the fetch as far as it goes without waiting for the network: lets
 * libcurl take what arrived, and writes what is ready.  A reader ahead of
 * the download calls it between its reads, so that the network is drained
 * while the reader parses, not only when it has caught up.
 */
void
hvcsv_spool_fetch_poll(HvcsvSpoolFetch *f)
{
	bool		moved = true;

	if (f->body == NULL || f->ended)
		return;
	hvcsv_transfer_group_poll(hvcsv_body_group(f->body));
	while (moved && !hvcsv_spool_fetch_step(f, &moved))
		CHECK_FOR_INTERRUPTS();
}

/*
 * The bytes at the start of the fetch's file that a reader may take: those
 * written so far; of a download in ranges, those before the first byte
 * still missing.
 */
int64
hvcsv_spool_fetch_written(const HvcsvSpoolFetch *f)
{
	if (f->ranged && !f->ended)
		return hvcsv_ranged_contiguous(f->ranged);
	return f->w->bytes;
}

/*
 * Describes a fetch whose body is read as it is written: its spool's key,
 * the file it writes (before it is published), and the validators of its
 * first answer.
 */
void
hvcsv_spool_fetch_describe(const HvcsvSpoolFetch *f, HvcsvSpool *spool)
{
	const HvcsvResponse *resp = hvcsv_body_response(f->body);

	strlcpy(spool->key, f->key, sizeof(spool->key));
	spool->data_path = pstrdup(f->w->path);
	spool->etag = pstrdup(resp->etag);
	spool->last_modified = pstrdup(resp->last_modified);
}

/* Computes the key of the table's spool (see spool_key). */
void
hvcsv_spool_key(const HvcsvOptions *opts, char *key)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	spool_key(opts, key, digest);
}

/*
 * Notes that a reader follows the fetch, reading its body as it is
 * written: a start over is refused from now on (see spool_write_reset),
 * whether or not the reader read the bytes before it yet, so that the
 * outcome does not depend on timing.
 */
void
hvcsv_spool_fetch_follow(HvcsvSpoolFetch *f)
{
	f->w->followed = true;
}

/* Reads the metadata of the table's spool, if one exists, without fetching. */
static bool
peek_meta(const HvcsvOptions *opts, SpoolMeta *m)
{
	char		key[33];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		meta_path[MAXPGPATH];

	spool_key(opts, key, digest);
	snprintf(meta_path, sizeof(meta_path), "%s/%s.meta", spool_dir(false), key);
	return hvcsv_spool_read_meta(meta_path, m);
}

/* Tells the size of the table's spool if one exists, without fetching. */
bool
hvcsv_spool_peek_size(const HvcsvOptions *opts, int64 *size)
{
	SpoolMeta	m;

	if (!peek_meta(opts, &m))
		return false;
	*size = m.size;
	return true;
}

/*
 * The next page's link (as received, maybe relative) that the table's
 * spool holds, without fetching; NULL if there is no spool or no link.
 */
char *
hvcsv_spool_peek_next_link(const HvcsvOptions *opts)
{
	SpoolMeta	m;

	if (!peek_meta(opts, &m) || m.next_link[0] == '\0')
		return NULL;
	return pstrdup(m.next_link);
}

/* Says what opening a spool did, for EXPLAIN ANALYZE. */
const char *
hvcsv_spool_note(const HvcsvSpool *spool)
{
	/* The size of a spool read as it arrives is known at its end. */
	if (spool->read_growing)
		return "fetched now, read as it arrived";
	if (spool->fetched_now)
		return psprintf("fetched now, " INT64_FORMAT " bytes", spool->size);
	if (spool->revalidated)
		return psprintf("revalidated (304), " INT64_FORMAT " bytes", spool->size);
	return psprintf("reused, " INT64_FORMAT " bytes", spool->size);
}

/* Defines hvcsv_fdw.spool_directory. */
void
hvcsv_spool_init(void)
{
	DefineCustomStringVariable("hvcsv_fdw.spool_directory",
							   "Directory where downloaded CSV exports are kept.",
							   "A relative path is taken from the data directory. The default's name begins with pgsql_tmp, below a directory of its own, so that pg_basebackup and pg_rewind leave the spools out.",
							   &spool_directory,
							   "hvcsv_fdw/pgsql_tmp_spool",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
}
