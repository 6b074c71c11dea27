/*-------------------------------------------------------------------------
 * spool_quota.c
 *	  Keeps the spool directory within hvcsv_fdw.spool_max_size.
 *
 * A download asks for room before it writes (spool.c).  The room is what the
 * setting allows less what every spool file in the directory takes now,
 * the files of downloads still being written included, so downloads that
 * run at the same time count against each other.  When that is too little,
 * what no session uses is removed until there is enough: first the
 * generation before the one being replaced (kept only for scans that began
 * before the current one was published), then other spools, least recently
 * used first.  The generation a download replaces is never removed, nor a
 * spool that a session downloads or has opened in its transaction (see the
 * locks in spool.c).  This file only measures and chooses; spool.c removes.
 *
 * The directory is measured by listing it, each time the room found before
 * is used up; spool.c asks again after a few megabytes at most, so that a
 * download started beside this one is soon counted.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <sys/stat.h>

#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/hsearch.h"

#include "spool.h"

/* The most the spools may take, in MB; 0 or -1 for no limit. */
int			hvcsv_spool_max_size = 40 * 1024;

/* What the files of one spool take, and when it was last used. */
typedef struct SpoolUsage
{
	char		key[HVCSV_SPOOL_KEY_LEN + 1];	/* the hash key */
	int64		bytes;
	bool		published;		/* it has metadata, so it can be removed whole */
	time_t		used_at;		/* its metadata's last change: a use */
} SpoolUsage;

/*
 * Lists the spool files of dir: returns the bytes they take, fills spools
 * with what each spool takes, and sets *previous_bytes to what the
 * generation previous takes.
 */
static int64
measure(const char *dir, HTAB *spools, const char *previous, int64 *previous_bytes)
{
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;
	int64		total = 0;

	*previous_bytes = 0;
	while ((de = ReadDir(d, dir)) != NULL)
	{
		char		key[HVCSV_SPOOL_KEY_LEN + 1];
		char		path[MAXPGPATH];
		struct stat st;
		SpoolUsage *u;
		bool		found;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* A file removed meanwhile takes nothing. */
		if (!hvcsv_spool_file_key(de->d_name, key) || stat(path, &st) != 0 ||
			!S_ISREG(st.st_mode))
			continue;
		total += st.st_size;
		if (previous[0] && hvcsv_spool_generation_file(de->d_name, previous))
			*previous_bytes += st.st_size;
		u = hash_search(spools, key, HASH_ENTER, &found);
		if (!found)
		{
			u->bytes = 0;
			u->published = false;
			u->used_at = 0;
		}
		u->bytes += st.st_size;
		if (strcmp(de->d_name + HVCSV_SPOOL_KEY_LEN, ".meta") == 0)
		{
			u->published = true;
			u->used_at = st.st_mtime;
		}
	}
	FreeDir(d);
	return total;
}

/* Orders spools by their last use, oldest first. */
static int
usage_cmp(const void *a, const void *b)
{
	const SpoolUsage *x = *(SpoolUsage *const *) a;
	const SpoolUsage *y = *(SpoolUsage *const *) b;

	if (x->used_at != y->used_at)
		return x->used_at < y->used_at ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * Removes spools other than key that no session uses, least recently used
 * first, until total is at most target; returns what is left.
 */
static int64
remove_least_recently_used(const char *dir, const char *key, HTAB *spools,
						   int64 total, int64 target)
{
	SpoolUsage **order = palloc(sizeof(SpoolUsage *) * Max(hash_get_num_entries(spools), 1));
	int			n = 0;
	HASH_SEQ_STATUS seq;
	SpoolUsage *u;

	hash_seq_init(&seq, spools);
	while ((u = hash_seq_search(&seq)) != NULL)
		if (u->published && strcmp(u->key, key) != 0)
			order[n++] = u;
	qsort(order, n, sizeof(SpoolUsage *), usage_cmp);
	for (int i = 0; i < n && total > target; i++)
		if (hvcsv_spool_remove_unused(dir, order[i]->key, NULL))
			total -= order[i]->bytes;
	pfree(order);
	return total;
}

/*
 * Makes room in dir for needed more bytes of the download of spool key
 * (whose generation before the one it replaces is previous, or empty),
 * removing what no session uses if it must.  Returns the room there is then,
 * needed or more, or -1 if there is not enough; *used is set to what the
 * spools take.
 */
int64
hvcsv_spool_quota_room(const char *dir, const char *key, const char *previous,
					   int64 needed, int64 *used)
{
	int64		max = (int64) hvcsv_spool_max_size * 1024 * 1024;
	HASHCTL		ctl = {
		.keysize = HVCSV_SPOOL_KEY_LEN + 1,
		.entrysize = sizeof(SpoolUsage),
		.hcxt = CurrentMemoryContext,
	};
	HTAB	   *spools = hash_create("hvcsv_fdw spool usage", 64, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	int64		previous_bytes;
	int64		total = measure(dir, spools, previous, &previous_bytes);

	if (total + needed > max && previous_bytes > 0 &&
		hvcsv_spool_remove_unused(dir, key, previous))
		total -= previous_bytes;
	if (total + needed > max)
		total = remove_least_recently_used(dir, key, spools, total, max - needed);
	hash_destroy(spools);
	*used = total;
	return total + needed <= max ? max - total : -1;
}

/* Defines hvcsv_fdw.spool_max_size. */
void
hvcsv_spool_quota_init(void)
{
	DefineCustomIntVariable("hvcsv_fdw.spool_max_size",
							"Most disk space the spools in hvcsv_fdw.spool_directory may take.",
							"A download that would pass it first removes spools that no session uses, least recently used first, then fails. 0 or -1 means no limit.",
							&hvcsv_spool_max_size,
							40 * 1024,
							-1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MB,
							NULL, NULL, NULL);
}
