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
 * use any more is removed before each download (see sweep_spool_directory):
 * generations older than the one a download replaced, temporary files whose
 * writer has exited, and spools not used for SPOOL_IDLE_DAYS days.  While a
 * download is written, spool_quota.c keeps the directory within
 * hvcsv_fdw.spool_max_size.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "hvcsv_fdw.h"

char	   *hvcsv_spool_directory = NULL;

/* Spool files and the directory are for the server's OS user alone. */
#define SPOOL_FILE_MODE (S_IRUSR | S_IWUSR)
#define SPOOL_DIR_MODE S_IRWXU

/* A spool not used for this long is removed (a re-download rebuilds it). */
#define SPOOL_IDLE_DAYS 7

/* Spool file names begin with the hex digits of the spool's key. */
#define SPOOL_KEY_LEN HVCSV_SPOOL_KEY_LEN

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
} SpoolMeta;

/*
 * Writeback of a spool being written is started every so many bytes, so that
 * the fsync that ends the download finds little left to write.
 */
#define SPOOL_FLUSH_AFTER (8 * 1024 * 1024)

/*
 * A download measures the spool directory again after writing at most this
 * much, so that the downloads running beside it count.
 */
#define SPOOL_QUOTA_RECHECK (8 * 1024 * 1024)

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
	int64		quota_until;	/* bytes that may be written before measuring again */
	RowIndexBuilder *index;		/* built as the bytes arrive */
	MemoryContextCallback cleanup;
} SpoolWrite;

/* Computes the spool's name: a hash of everything that selects its content. */
static void
spool_key(const HvcsvOptions *opts, char *key_out, uint8 *digest)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	char	   *identity;

	identity = psprintf("db=%u um=%u scheme=%s url=%s key=%s", MyDatabaseId, opts->umid,
						opts->auth_scheme, opts->url, opts->api_key ? opts->api_key : "");
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

/* Fills the tag of one of a spool's locks (lock_class) from its hash. */
static void
spool_locktag(LOCKTAG *tag, const uint8 *digest, Oid database, uint16 lock_class)
{
	hvcsv_advisory_locktag(tag,
						   ((uint32) digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3],
						   ((uint32) digest[4] << 24) | (digest[5] << 16) | (digest[6] << 8) | digest[7],
						   lock_class);
	/* Another database's spool is locked as its own sessions lock it. */
	tag->locktag_field1 = database;
}

/*
 * Returns the spool directory; with create, makes it if needed and checks
 * that no one but the server's OS user can write to it.
 */
static const char *
spool_dir(bool create)
{
	const char *dir = hvcsv_spool_directory;
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

/*
 * Creates a file for writing, readable by the server's OS user only.  A file
 * of that name is a dead writer's leftover: it is replaced, never followed.
 */
static int
create_private_file(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return OpenTransientFilePerm(path, O_CREAT | O_EXCL | O_WRONLY | PG_BINARY, SPOOL_FILE_MODE);
}

/* Reads a metadata file; false if it does not exist or is not ours. */
static bool
read_meta(const char *path, SpoolMeta *m)
{
	FILE	   *f = AllocateFile(path, "r");
	char		line[4096];
	bool		have_data = false;

	memset(m, 0, sizeof(*m));
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open spool metadata \"%s\": %m", path)));
		return false;
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *value = strchr(line, ' ');

		if (value == NULL)
			continue;
		*value++ = '\0';
		value[strcspn(value, "\n")] = '\0';
		if (strcmp(line, "generation") == 0)
			have_data = strlcpy(m->generation, value, sizeof(m->generation)) < sizeof(m->generation);
		else if (strcmp(line, "previous") == 0)
			strlcpy(m->previous, value, sizeof(m->previous));
		else if (strcmp(line, "database") == 0)
			m->database = strtoul(value, NULL, 10);
		else if (strcmp(line, "url") == 0)
			strlcpy(m->url, value, sizeof(m->url));
		else if (strcmp(line, "etag") == 0)
			strlcpy(m->etag, value, sizeof(m->etag));
		else if (strcmp(line, "last_modified") == 0)
			strlcpy(m->last_modified, value, sizeof(m->last_modified));
		else if (strcmp(line, "size") == 0)
			m->size = strtoi64(value, NULL, 10);
		else if (strcmp(line, "fetched_at") == 0)
			m->fetched_at = strtoi64(value, NULL, 10);
	}
	FreeFile(f);
	return have_data;
}

/*
 * Writes a small file durably, all or nothing: a temporary file, fsync,
 * rename.  what names the file in messages.  A failure is reported at
 * elevel; below ERROR, the function then returns false and the file is as
 * it was.
 */
static bool
write_file_durably(const char *path, const void *data, size_t len, const char *what, int elevel)
{
	char		tmp[MAXPGPATH];
	int			fd;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, MyProcPid);
	fd = create_private_file(tmp);
	if (fd < 0)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not write %s \"%s\": %m", what, path)));
		return false;
	}
	errno = 0;
	if (write(fd, data, len) != (ssize_t) len || pg_fsync(fd) != 0)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not write %s \"%s\": %m", what, path)));
		return false;
	}
	CloseTransientFile(fd);
	if (durable_rename(tmp, path, elevel) != 0)
	{
		unlink(tmp);
		return false;
	}
	return true;
}

/*
 * Writes a small file durably, all or nothing, or fails with an ERROR.  (Used
 * for spool metadata and row indexes.)
 */
void
hvcsv_write_file_durably(const char *path, const void *data, size_t len, const char *what)
{
	(void) write_file_durably(path, data, len, what, ERROR);
}

/* Writes a metadata file durably; false (after a message) if it failed below ERROR. */
static bool
write_meta(const char *path, const SpoolMeta *m, int elevel)
{
	char	   *text = psprintf("generation %s\nprevious %s\ndatabase %u\nurl %s\netag %s\n"
								"last_modified %s\nsize " INT64_FORMAT "\nfetched_at " INT64_FORMAT "\n",
								m->generation, m->previous, MyDatabaseId, m->url, m->etag,
								m->last_modified, m->size, (int64) m->fetched_at);

	return write_file_durably(path, text, strlen(text), "spool metadata", elevel);
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
	w->fd = create_private_file(w->path);
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
 * abandons the download.  The directory is measured only when what was
 * found free the last time is used up, or after SPOOL_QUOTA_RECHECK bytes.
 */
static void
spool_write_reserve(SpoolWrite *w, size_t len)
{
	int64		used;
	int64		room;

	if (hvcsv_spool_max_size <= 0 || w->bytes + (int64) len <= w->quota_until)
		return;
	room = hvcsv_spool_quota_room(w->dir, w->key, w->previous, len, &used);
	if (room < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("spool directory \"%s\" would grow past hvcsv_fdw.spool_max_size (%s)",
						w->dir, GetConfigOptionByName("hvcsv_fdw.spool_max_size", NULL, false)),
				 errdetail("The download of \"%s\" was abandoned after " INT64_FORMAT " bytes; the previous download, if any, is kept. The spools take " INT64_FORMAT " bytes, and those left are in use.",
						   w->display_url, w->bytes, used),
				 errhint("A superuser can raise hvcsv_fdw.spool_max_size.")));
	w->quota_until = w->bytes + Max((int64) len, Min(room, SPOOL_QUOTA_RECHECK));
}

/* Appends body bytes to the spool being written. */
static void
spool_write_bytes(SpoolWrite *w, const char *data, size_t len)
{
	spool_write_reserve(w, len);
	while (len > 0)
	{
		ssize_t		n = write(w->fd, data, len);

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
		row_index_feed(w->index, data, n);
		data += n;
		len -= n;
		w->bytes += n;
	}
	if (w->bytes - w->flushed >= SPOOL_FLUSH_AFTER)
	{
		pg_flush_data(w->fd, w->flushed, w->bytes - w->flushed);
		w->flushed = w->bytes;
	}
}

/* Throws away what was written when the body starts over. */
static void
spool_write_reset(void *arg)
{
	SpoolWrite *w = (SpoolWrite *) arg;

	if (ftruncate(w->fd, 0) != 0 || lseek(w->fd, 0, SEEK_SET) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not truncate a spool file in \"%s\": %m", w->dir)));
	w->bytes = 0;
	w->flushed = 0;
	row_index_reset(w->index);
}

/* Tells whether a file name belongs to a generation (its data or index). */
bool
hvcsv_spool_generation_file(const char *name, const char *generation)
{
	size_t		len = strlen(generation);

	return len > 0 && strncmp(name, generation, len) == 0 &&
		(strcmp(name + len, ".csv") == 0 || strcmp(name + len, ".idx") == 0);
}

/* Copies the key of a spool file's name into key; false if it is not one. */
bool
hvcsv_spool_file_key(const char *name, char *key)
{
	if (strspn(name, "0123456789abcdef") < SPOOL_KEY_LEN || name[SPOOL_KEY_LEN] != '.')
		return false;
	memcpy(key, name, SPOOL_KEY_LEN);
	key[SPOOL_KEY_LEN] = '\0';
	return true;
}

/* The process writing a temporary file "<name>.<pid>.tmp"; 0 if it is not one. */
static int
temp_file_writer(const char *name)
{
	size_t		len = strlen(name);
	const char *end = name + len - 4;
	const char *p = end;

	if (len < 4 || strcmp(end, ".tmp") != 0)
		return 0;
	while (p > name && isdigit((unsigned char) p[-1]))
		p--;
	if (p == end || p == name || p[-1] != '.')
		return 0;
	return atoi(p);
}

/* Tells whether a file was last modified more than SPOOL_IDLE_DAYS ago. */
static bool
is_idle(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 &&
		time(NULL) - st.st_mtime > (time_t) SPOOL_IDLE_DAYS * SECS_PER_DAY;
}

/* Removes one file of the spool directory; a failure is only a warning. */
static void
remove_spool_file(const char *dir, const char *name)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove old spool file \"%s\": %m", path)));
}

/* Removes every file of a spool, its metadata first so no reader finds it. */
static void
remove_spool(const char *dir, const char *key)
{
	char		name[MAXPGPATH];
	char		file_key[SPOOL_KEY_LEN + 1];
	DIR		   *d;
	struct dirent *de;

	snprintf(name, sizeof(name), "%s.meta", key);
	remove_spool_file(dir, name);
	d = AllocateDir(dir);
	while ((de = ReadDir(d, dir)) != NULL)
		if (hvcsv_spool_file_key(de->d_name, file_key) && strcmp(file_key, key) == 0)
			remove_spool_file(dir, de->d_name);
	FreeDir(d);
}

/* Removes the data and index files of one generation of a spool. */
static void
remove_generation(const char *dir, const char *generation)
{
	char		name[MAXPGPATH];

	snprintf(name, sizeof(name), "%s.csv", generation);
	remove_spool_file(dir, name);
	snprintf(name, sizeof(name), "%s.idx", generation);
	remove_spool_file(dir, name);
}

/*
 * Takes both locks of a spool of database without waiting, as a removal
 * must: false if a session downloads it, or opened it in a transaction
 * that has not ended.  (This session's own locks never stand in the way.)
 */
static bool
lock_for_removal(const char *key, Oid database, LOCKTAG *fetch_tag, LOCKTAG *use_tag)
{
	uint8		digest[SPOOL_KEY_LEN / 2];

	hex_decode(key, SPOOL_KEY_LEN, (char *) digest);
	spool_locktag(fetch_tag, digest, database, HVCSV_SPOOL_LOCK_CLASS);
	spool_locktag(use_tag, digest, database, HVCSV_SPOOL_USE_LOCK_CLASS);
	if (LockAcquire(fetch_tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;
	if (LockAcquire(use_tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		LockRelease(fetch_tag, ExclusiveLock, false);
		return false;
	}
	return true;
}

/* Releases what lock_for_removal took. */
static void
unlock_after_removal(LOCKTAG *fetch_tag, LOCKTAG *use_tag)
{
	LockRelease(use_tag, ExclusiveLock, false);
	LockRelease(fetch_tag, ExclusiveLock, false);
}

/*
 * Removes a spool of any database, or only one generation of it, unless a
 * session uses it.  Returns whether it did.
 */
bool
hvcsv_spool_remove_unused(const char *dir, const char *key, const char *generation)
{
	char		meta_path[MAXPGPATH];
	SpoolMeta	m;
	LOCKTAG		fetch_tag;
	LOCKTAG		use_tag;

	snprintf(meta_path, sizeof(meta_path), "%s/%s.meta", dir, key);
	if (!read_meta(meta_path, &m) || !lock_for_removal(key, m.database, &fetch_tag, &use_tag))
		return false;
	if (generation)
		remove_generation(dir, generation);
	else
		remove_spool(dir, key);
	unlock_after_removal(&fetch_tag, &use_tag);
	return true;
}

/*
 * Removes another spool if it was not used for SPOOL_IDLE_DAYS days (a use
 * touches its metadata).  Its locks keep sessions from opening it meanwhile;
 * a spool of another database is left to that database's sessions, unless
 * the database is gone.
 */
static void
remove_spool_if_idle(const char *dir, const char *key)
{
	char		meta_path[MAXPGPATH];
	SpoolMeta	m;
	LOCKTAG		fetch_tag;
	LOCKTAG		use_tag;

	snprintf(meta_path, sizeof(meta_path), "%s/%s.meta", dir, key);
	if (!is_idle(meta_path))
		return;
	(void) read_meta(meta_path, &m);
	if (m.database != MyDatabaseId)
	{
		if (!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(m.database)))
			remove_spool(dir, key);
		return;
	}
	if (!lock_for_removal(key, m.database, &fetch_tag, &use_tag))
		return;
	if (is_idle(meta_path))
		remove_spool(dir, key);
	unlock_after_removal(&fetch_tag, &use_tag);
}

/*
 * Removes from the spool directory what no one can use any more: of this
 * spool (whose lock we hold), the generations before the current and the
 * previous one (a parallel worker may still be about to open the previous
 * one) and temporary files; of any spool, temporary files whose writer has
 * exited (killed, or a crash); spools not used for SPOOL_IDLE_DAYS days; and
 * files of a spool that has no metadata (a download that crashed before
 * publishing its first generation) once they are as old.
 */
static void
sweep_spool_directory(const char *dir, const char *key, const SpoolMeta *keep)
{
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;

	while ((de = ReadDir(d, dir)) != NULL)
	{
		char		file_key[SPOOL_KEY_LEN + 1];
		char		path[MAXPGPATH];
		int			writer;
		bool		is_meta;

		if (!hvcsv_spool_file_key(de->d_name, file_key))
			continue;
		is_meta = strcmp(de->d_name + SPOOL_KEY_LEN, ".meta") == 0;
		writer = temp_file_writer(de->d_name);
		if (strcmp(file_key, key) == 0)
		{
			if (!is_meta &&
				!hvcsv_spool_generation_file(de->d_name, keep->generation) &&
				!hvcsv_spool_generation_file(de->d_name, keep->previous))
				remove_spool_file(dir, de->d_name);
		}
		else if (writer != 0)
		{
			/* Only a live backend writes a spool file. */
			if (!IsBackendPid(writer))
				remove_spool_file(dir, de->d_name);
		}
		else if (is_meta)
			remove_spool_if_idle(dir, file_key);
		else
		{
			snprintf(path, sizeof(path), "%s/%s.meta", dir, file_key);
			if (access(path, F_OK) != 0 && errno == ENOENT)
			{
				snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
				if (is_idle(path))
					remove_spool_file(dir, de->d_name);
			}
		}
	}
	FreeDir(d);
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
	const char *dir = spool_dir(true);
	char		key[33];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		meta_path[MAXPGPATH];
	SpoolMeta	m;
	bool		have;
	LOCKTAG		tag;
	LOCKTAG		use_tag;
	TimestampTz now;
	HvcsvRequest req;
	HvcsvBody  *body;
	HvcsvResponse resp;
	SpoolWrite *w;
	CsvDialect	dialect;
	HvcsvSpool *spool;
	bool		fetched_now = false;
	bool		revalidated = false;

	spool_key(opts, key, digest);
	snprintf(meta_path, sizeof(meta_path), "%s/%s.meta", dir, key);

	/* One lock per spool, keyed by its hash. */
	spool_locktag(&tag, digest, MyDatabaseId, HVCSV_SPOOL_LOCK_CLASS);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	/* In use until the transaction ends: no other download may remove it. */
	spool_locktag(&use_tag, digest, MyDatabaseId, HVCSV_SPOOL_USE_LOCK_CLASS);
	(void) LockAcquire(&use_tag, ShareLock, false, false);

	have = read_meta(meta_path, &m) && spool_is_complete(dir, &m);
	now = GetCurrentTimestamp();
	if (have &&
		(m.fetched_at >= GetCurrentStatementStartTimestamp() ||
		 now - m.fetched_at < (int64) (opts->max_age * USECS_PER_SEC)))
	{
		/* A use: the spool is not idle (see sweep_spool_directory). */
		(void) utimensat(AT_FDCWD, meta_path, NULL, 0);
		goto open;
	}

	hvcsv_request_init(&req, opts);
	if (have)
	{
		req.if_none_match = m.etag;
		req.if_modified_since = m.last_modified;
	}
	if (!have)
		memset(&m, 0, sizeof(m));
	sweep_spool_directory(dir, key, &m);

	/* The file is created only when a body comes: a 304 or a failure needs none. */
	w = palloc0(sizeof(SpoolWrite));
	w->fd = -1;
	snprintf(w->path, sizeof(w->path), "%s/%s.%d.tmp", dir, key, MyProcPid);
	w->dir = dir;
	w->key = key;
	w->previous = m.previous;
	w->display_url = req.display_url;
	hvcsv_dialect(opts, &dialect);
	w->index = row_index_begin(&dialect);
	w->cleanup.func = spool_write_cleanup;
	w->cleanup.arg = w;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &w->cleanup);

	body = hvcsv_body_open(&req, spool_write_reset, w);
	if (hvcsv_body_response(body)->status == 200)
	{
		const char *data;
		size_t		len;

		spool_write_begin(w);
		while (hvcsv_body_read(body, &data, &len))
			spool_write_bytes(w, data, len);
	}
	hvcsv_body_close(body);
	resp = *hvcsv_body_response(body);

	if (resp.status == 304 && have)
	{
		if (resp.etag[0])
			strlcpy(m.etag, resp.etag, sizeof(m.etag));
		m.fetched_at = GetCurrentTimestamp();
		/* The spool is still right; failing to note when it was checked is no reason to fail. */
		(void) write_meta(meta_path, &m, WARNING);
		revalidated = true;
	}
	else if (resp.status == 200)
	{
		char		stem[MAXPGPATH];
		char		path[MAXPGPATH];
		char		older[sizeof(m.previous)];

		if (pg_fsync(w->fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync a spool file in \"%s\": %m", dir)));
		CloseTransientFile(w->fd);
		w->fd = -1;

		/* The new generation: its data, then its index, then the metadata. */
		strlcpy(older, m.previous, sizeof(older));
		strlcpy(m.previous, m.generation, sizeof(m.previous));
		snprintf(m.generation, sizeof(m.generation), "%s.%llx",
				 key, (unsigned long long) GetCurrentTimestamp());
		snprintf(stem, sizeof(stem), "%s/%s", dir, m.generation);
		strlcpy(m.url, req.display_url, sizeof(m.url));
		strlcpy(m.etag, resp.etag, sizeof(m.etag));
		strlcpy(m.last_modified, resp.last_modified, sizeof(m.last_modified));
		m.size = w->bytes;
		m.fetched_at = GetCurrentTimestamp();
		PG_TRY();
		{
			snprintf(path, sizeof(path), "%s.csv", stem);
			(void) durable_rename(w->path, path, ERROR);
			snprintf(path, sizeof(path), "%s.idx", stem);
			row_index_write(row_index_finish(w->index, w->bytes), path);
			(void) write_meta(meta_path, &m, ERROR);
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
			remove_generation(dir, older);
		fetched_now = true;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("unexpected HTTP status %ld from \"%s\"", resp.status, req.display_url)));

open:
	spool = open_spool(dir, &m);
	spool->fetched_now = fetched_now;
	spool->revalidated = revalidated;
	LockRelease(&tag, ExclusiveLock, false);
	return spool;
}

/* Tells the size of the table's spool if one exists, without fetching. */
bool
hvcsv_spool_peek_size(const HvcsvOptions *opts, int64 *size)
{
	char		key[33];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		meta_path[MAXPGPATH];
	SpoolMeta	m;

	spool_key(opts, key, digest);
	snprintf(meta_path, sizeof(meta_path), "%s/%s.meta", spool_dir(false), key);
	if (!read_meta(meta_path, &m))
		return false;
	*size = m.size;
	return true;
}

/* Closes a spool opened by hvcsv_spool_open. */
void
hvcsv_spool_close(HvcsvSpool *spool)
{
	if (spool->fd >= 0)
		CloseTransientFile(spool->fd);
	spool->fd = -1;
}

/* Reads the next bytes of an open spool; 0 at its end.  A CsvReadFunction. */
size_t
hvcsv_spool_read(void *arg, char *buf, size_t size)
{
	HvcsvSpool *spool = (HvcsvSpool *) arg;

	CHECK_FOR_INTERRUPTS();
	for (;;)
	{
		ssize_t		n = read(spool->fd, buf, size);

		if (n >= 0)
			return (size_t) n;
		if (errno != EINTR)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read spool file \"%s\": %m", spool->data_path)));
	}
}

/* Says what opening a spool did, for EXPLAIN ANALYZE. */
const char *
hvcsv_spool_note(const HvcsvSpool *spool)
{
	if (spool->fetched_now)
		return psprintf("fetched now, " INT64_FORMAT " bytes", spool->size);
	if (spool->revalidated)
		return psprintf("revalidated (304), " INT64_FORMAT " bytes", spool->size);
	return psprintf("reused, " INT64_FORMAT " bytes", spool->size);
}
