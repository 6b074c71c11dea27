/*-------------------------------------------------------------------------
 * spool_read.c
 *	  Reads an open spool: a complete one, or a growing one, read while its
 *	  download is written.
 *
 * A growing spool lets a serial scan parse the body as it arrives instead
 * of after the download.  Its reader has a file descriptor of its own on
 * the file the download writes, and reads no further than the bytes at the
 * file's start written so far (of a download in ranges, up to the first
 * missing byte); when it has caught up, it moves the download itself, so
 * one backend does both, and statement cancel stops both.  At the body's
 * end the download is published as any other (spool.c); the descriptor
 * still names the file, now under its published name.
 *
 * Rows made of bytes already read cannot be taken back, so a spool grows
 * only from a body that a break resumes at the byte it broke at (see
 * hvcsv_spool_fetch_connect); should the download have to start over all
 * the same (the export changed under a resumption), the statement fails
 * with a serialization failure (see spool.c) and the temporary file is
 * removed with the download.  Other bodies, and compressed files (whose
 * checksum comes at their end), are downloaded first, as hvcsv_spool_open
 * does.
 *
 * Only a caller that can run its statement again on that failure reads a
 * spool as it grows: one that opened a growing spool, to learn from the
 * first answer whether the export changed, lends it (hvcsv_spool_lend) to
 * the scan that its statement runs next in the same backend, whose opening
 * of the spool takes it as it is.  Other scans read complete spools: rows
 * they returned may have reached a client.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/proc.h"
#include "utils/memutils.h"

#include "spool.h"


/*
 * The growing spool lent to the next opening of its spool, and the
 * transaction it was lent in: after that one the memory is gone.
 */
static HvcsvSpool *lent = NULL;
static LocalTransactionId lent_lxid = InvalidLocalTransactionId;

/*
 * Takes what the published spool says once the download of a growing one
 * is over; the reader's descriptor and position stay.  In the spool's
 * memory: a lent spool outlives the statement whose scan read it.
 */
static void
growing_done(HvcsvSpool *spool)
{
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(spool));
	HvcsvSpool *done = hvcsv_spool_fetch_finish(spool->growing);

	MemoryContextSwitchTo(old);
	spool->growing = NULL;
	spool->data_path = done->data_path;
	spool->index_path = done->index_path;
	spool->size = done->size;
	spool->etag = done->etag;
	spool->last_modified = done->last_modified;
	spool->next_link = done->next_link;
	spool->compression = done->compression;
	hvcsv_spool_close(done);
}

/* The spool lent to the opening of opts's spool, if any, no longer lent. */
static HvcsvSpool *
take_lent(const HvcsvOptions *opts)
{
	char		key[HVCSV_SPOOL_KEY_LEN + 1];
	HvcsvSpool *spool = lent;

	if (spool == NULL)
		return NULL;
	if (lent_lxid != MyProc->lxid)
	{
		lent = NULL;
		return NULL;
	}
	hvcsv_spool_key(opts, key);
	if (strcmp(key, spool->key) != 0)
		return NULL;
	lent = NULL;
	return spool;
}

/*
 * Makes the next opening of spool's spool in this transaction by a scan
 * (hvcsv_spool_open_borrowing) return spool itself, as it is: not read
 * yet, and still growing.  From now on its download may not start over
 * (see hvcsv_spool_fetch_follow).  The lender closes it after that scan,
 * or instead of it (hvcsv_spool_close finishes the download either way).
 */
void
hvcsv_spool_lend(HvcsvSpool *spool)
{
	Assert(spool->growing != NULL);
	hvcsv_spool_fetch_follow(spool->growing);
	lent = spool;
	lent_lxid = MyProc->lxid;
}

/*
 * Returns the spool lent to this opening (see hvcsv_spool_lend), or else
 * the table's spool as hvcsv_spool_open does.  For a scan: a statement
 * that opens the spool for its own use calls hvcsv_spool_open.
 */
HvcsvSpool *
hvcsv_spool_open_borrowing(const HvcsvOptions *opts)
{
	HvcsvSpool *spool = take_lent(opts);

	return spool ? spool : hvcsv_spool_open(opts);
}

/*
 * Returns the table's spool as hvcsv_spool_open does, except that a body
 * downloaded now that a break would resume at the byte it broke at is
 * returned at once, growing: it may be lent (hvcsv_spool_lend) to be read
 * as it is written, or closed, which downloads the rest.
 */
HvcsvSpool *
hvcsv_spool_open_growing(const HvcsvOptions *opts)
{
	HvcsvSpoolFetch *f = hvcsv_spool_fetch_start(opts, NULL, true, false);
	HvcsvSpool *spool;

	if (!hvcsv_spool_fetch_connect(f))
	{
		hvcsv_spool_fetch_rest(f);
		return hvcsv_spool_fetch_finish(f);
	}
	spool = palloc0(sizeof(HvcsvSpool));
	hvcsv_spool_fetch_describe(f, spool);
	spool->fd = OpenTransientFile(spool->data_path, O_RDONLY | PG_BINARY);
	if (spool->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spool file \"%s\": %m", spool->data_path)));
	spool->next_link = "";
	spool->fetched_now = true;
	spool->read_growing = true;
	spool->compression = HVCSV_COMPRESSION_AUTO;
	spool->growing = f;
	return spool;
}

/*
 * How much of size a read of a growing spool may ask for: what is written
 * past the reader's position, moving the download until some is, or all
 * of size once the download is over.  What arrived meanwhile is written
 * first, whether or not the reader caught up.
 */
static size_t
growing_limit(HvcsvSpool *spool, size_t size)
{
	off_t		pos = lseek(spool->fd, 0, SEEK_CUR);

	if (pos < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in spool file \"%s\": %m", spool->data_path)));
	hvcsv_spool_fetch_poll(spool->growing);
	for (;;)
	{
		int64		written = hvcsv_spool_fetch_written(spool->growing);

		if (written > (int64) pos)
			return Min(size, (size_t) (written - pos));
		if (!hvcsv_spool_fetch_more(spool->growing))
		{
			growing_done(spool);
			return size;
		}
	}
}

/* Reads the next bytes of an open spool; 0 at its end.  A CsvReadFunction. */
size_t
hvcsv_spool_read(void *arg, char *buf, size_t size)
{
	HvcsvSpool *spool = (HvcsvSpool *) arg;

	CHECK_FOR_INTERRUPTS();
	if (spool->growing)
		size = growing_limit(spool, size);
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

/*
 * Closes a spool opened by hvcsv_spool_open or hvcsv_spool_open_growing;
 * a growing one is downloaded to its end and published first, as if it
 * had been read whole.
 */
void
hvcsv_spool_close(HvcsvSpool *spool)
{
	if (lent == spool)
		lent = NULL;
	if (spool->growing)
	{
		hvcsv_spool_fetch_rest(spool->growing);
		growing_done(spool);
	}
	if (spool->fd >= 0)
		CloseTransientFile(spool->fd);
	spool->fd = -1;
}
