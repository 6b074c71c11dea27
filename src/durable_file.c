/*-------------------------------------------------------------------------
 * durable_file.c
 *	  Small files written all or nothing: a private temporary file, fsync,
 *	  then a rename over the old one.
 *
 * The spool's metadata and row index are written this way, so that a crash
 * leaves either the old file or the new one, never half of one, and no
 * other OS user can read what a download brought.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#include "spool.h"

#define PRIVATE_FILE_MODE (S_IRUSR | S_IWUSR)

/*
 * Creates a file for writing (and reading back: a spool written in ranges
 * is indexed from the file), for the server's OS user only.  A file
 * of that name is a dead writer's leftover: it is replaced, never followed.
 */
int
hvcsv_create_private_file(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return OpenTransientFilePerm(path, O_CREAT | O_EXCL | O_RDWR | PG_BINARY, PRIVATE_FILE_MODE);
}

/*
 * Writes a small file durably, all or nothing: a temporary file, fsync,
 * rename.  what names the file in messages.  A failure is reported at
 * elevel; below ERROR, the function then returns false and the file is as
 * it was.
 */
bool
hvcsv_write_file_durably(const char *path, const void *data, size_t len, const char *what, int elevel)
{
	char		tmp[MAXPGPATH];
	int			fd;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, MyProcPid);
	fd = hvcsv_create_private_file(tmp);
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
