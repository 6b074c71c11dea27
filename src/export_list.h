/*-------------------------------------------------------------------------
 * export_list.h
 *	  The exports a table reads, from its paths, its manifest or its
 *	  pages' links (export_list.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_EXPORT_LIST_H
#define HVCSV_EXPORT_LIST_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "option.h"

/* One export of a table that reads several. */
typedef struct HvcsvExport
{
	char	   *path;			/* as the list gives it */
	char	   *url;			/* the URL requested (it may carry secrets) */
	char	   *display;		/* the URL without secrets, for messages */
} HvcsvExport;

/* Largest manifest read, so that a hostile one cannot exhaust memory. */
#define HVCSV_MAX_MANIFEST_BYTES (16 * 1024 * 1024)

extern List *hvcsv_export_list(const HvcsvOptions *opts);
extern List *hvcsv_export_list_known(const HvcsvOptions *opts);
extern HvcsvExport *hvcsv_export_next_page(const HvcsvOptions *opts, const List *pages);
extern int	hvcsv_exports_spool_size(const HvcsvOptions *opts, const List *exports,
									 int64 *total);
extern char *hvcsv_exports_display(const HvcsvOptions *opts);
extern Size hvcsv_export_list_shared_size(const List *exports);
extern void hvcsv_export_list_share(const List *exports, char *dest);
extern List *hvcsv_export_list_attach(const char *src);

/* What bringing one export's spool up to date found (export_fetch.c). */
typedef struct HvcsvSpoolCheck
{
	bool		missing;		/* it answered 404 or 410, and is skipped */
	bool		fetched_now;	/* downloaded now */
	bool		revalidated;	/* a 304 confirmed the spool now */
	char	   *etag;			/* of the spooled version; empty if none */
	char	   *last_modified;	/* likewise */
	int64		size;			/* bytes of the spooled file */
} HvcsvSpoolCheck;

/* in export_fetch.c */
extern HvcsvSpoolCheck *hvcsv_spool_check_exports(const HvcsvOptions *opts,
												  const List *exports);

#endif							/* HVCSV_EXPORT_LIST_H */
