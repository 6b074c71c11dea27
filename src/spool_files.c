/*-------------------------------------------------------------------------
 * spool_files.c
 *	  The files of the spool directory: a spool's metadata, the names of its
 *	  files, its locks, and the removal of what no one can use any more.
 *
 * A spool is removed only by whoever takes both of its locks without
 * waiting (spool.c holds them while it downloads, and every transaction
 * that opened the spool holds the second until it ends), so never while a
 * download of it or a scan of it may still need its files.  Before each
 * download, at most every minute in a session, the directory is swept
 * (hvcsv_spool_sweep): generations older than the one a download replaces
 * (a publish removes those itself; only a crash leaves them), temporary
 * files whose writer has exited, and spools not used for SPOOL_IDLE_DAYS
 * days go.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "locks.h"
#include "spool.h"

/* A spool not used for this long is removed (a re-download rebuilds it). */
#define SPOOL_IDLE_DAYS 7

/* Spool file names begin with the hex digits of the spool's key. */
#define SPOOL_KEY_LEN HVCSV_SPOOL_KEY_LEN

/* Fills the tag of one of a spool's locks (lock_class) from its hash. */
void
hvcsv_spool_locktag(LOCKTAG *tag, const uint8 *digest, Oid database, uint16 lock_class)
{
	hvcsv_advisory_locktag(tag,
						   ((uint32) digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3],
						   ((uint32) digest[4] << 24) | (digest[5] << 16) | (digest[6] << 8) | digest[7],
						   lock_class);
	/* Another database's spool is locked as its own sessions lock it. */
	tag->locktag_field1 = database;
}

/* Reads a metadata file; false if it does not exist or is not ours. */
bool
hvcsv_spool_read_meta(const char *path, SpoolMeta *m)
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
		else if (strcmp(line, "compression") == 0)
			strlcpy(m->compression, value, sizeof(m->compression));
		else if (strcmp(line, "next") == 0)
			strlcpy(m->next_link, value, sizeof(m->next_link));
	}
	FreeFile(f);
	return have_data;
}

/* Writes a metadata file durably; false (after a message) if it failed below ERROR. */
bool
hvcsv_spool_write_meta(const char *path, const SpoolMeta *m, int elevel)
{
	char	   *text = psprintf("generation %s\nprevious %s\ndatabase %u\nurl %s\netag %s\n"
								"last_modified %s\nsize " INT64_FORMAT "\nfetched_at " INT64_FORMAT "\n"
								"compression %s\nnext %s\n",
								m->generation, m->previous, MyDatabaseId, m->url, m->etag,
								m->last_modified, m->size, (int64) m->fetched_at, m->compression,
								m->next_link);

	return hvcsv_write_file_durably(path, text, strlen(text), "spool metadata", elevel);
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
void
hvcsv_spool_remove_generation(const char *dir, const char *generation)
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
	hvcsv_spool_locktag(fetch_tag, digest, database, HVCSV_SPOOL_LOCK_CLASS);
	hvcsv_spool_locktag(use_tag, digest, database, HVCSV_SPOOL_USE_LOCK_CLASS);
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
	if (!hvcsv_spool_read_meta(meta_path, &m) || !lock_for_removal(key, m.database, &fetch_tag, &use_tag))
		return false;
	if (generation)
		hvcsv_spool_remove_generation(dir, generation);
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
	(void) hvcsv_spool_read_meta(meta_path, &m);
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
void
hvcsv_spool_sweep(const char *dir, const char *key, const SpoolMeta *keep)
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
