/*-------------------------------------------------------------------------
 * refresh_exports.c
 *	  Which exports of a table with several a refresh reads, and what it
 *	  records of each in hvcsv_sync_exports.
 *
 * Before anything is read, every export's spool is brought up to date
 * (export_fetch.c: an unchanged export costs a conditional request, a
 * changed one is downloaded) and compared with what the last good run
 * read of it.  The run then reads only the exports that are new or
 * changed, unless it must read them all: a forced run, a changed
 * definition, a last run that did not end well, or delete_missing, which
 * deletes a key only when no export holds it any more and so needs every
 * export's keys (the unchanged ones come from their spools, not the
 * network).  An export that was read before and is gone from the list, or
 * now answers 404, has vanished: its rows stay unless delete_missing
 * deletes them, under the delete guard like any other deletion.
 *
 * Paginated tables (each page is learnt from the one before) and the
 * streaming reader (no spools) compare every export in every run.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "export_list.h"
#include "refresh_internal.h"

/*
 * Tells whether a version (etag, last_modified, size) is the one a state
 * recorded: by ETag when the server gives one, else by Last-Modified and
 * size together.
 */
bool
hvcsv_same_version(const char *etag, const char *last_modified, int64 size,
				   const char *was_etag, const char *was_last_modified, int64 was_size)
{
	if (etag && etag[0])
		return was_etag && strcmp(was_etag, etag) == 0;
	return last_modified && last_modified[0] && was_last_modified &&
		strcmp(was_last_modified, last_modified) == 0 && was_size == size;
}

/* Whether a refresh of the table tracks each export on its own. */
bool
hvcsv_refresh_tracks_exports(const HvcsvOptions *opts)
{
	return hvcsv_has_export_list(opts) && !opts->paginate &&
		opts->reader != HVCSV_READER_STREAMING;
}

static int
compare_states(const void *a, const void *b)
{
	return strcmp((*(ExportState *const *) a)->url, (*(ExportState *const *) b)->url);
}

/* The index of url's recorded state among sorted states (n of them), or -1. */
static int
find_state(ExportState **sorted, int n, const char *url)
{
	ExportState key = {.url = (char *) url};
	ExportState *pkey = &key;
	ExportState **found = bsearch(&pkey, sorted, n, sizeof(ExportState *), compare_states);

	return found ? (int) (found - sorted) : -1;
}

/* Whether an export has changed since its state (NULL: never read). */
static bool
export_changed(const HvcsvSpoolCheck *check, const ExportState *before)
{
	return before == NULL ||
		!hvcsv_same_version(check->etag, check->last_modified, check->size,
							before->etag, before->last_modified, before->bytes);
}

/*
 * Brings the table's exports up to date and finds those new or changed
 * since the last good run (all of them unless keep_state), and those that
 * run read which are gone or missing now.
 */
ExportsRun *
hvcsv_exports_survey(Oid foreign_table, const HvcsvOptions *opts, bool keep_state)
{
	ExportsRun *er = palloc0(sizeof(ExportsRun));
	List	   *states = hvcsv_read_export_states(foreign_table);
	int			nstates = list_length(states);
	ExportState **sorted = palloc(sizeof(ExportState *) * Max(nstates, 1));
	bool	   *present = palloc0(sizeof(bool) * Max(nstates, 1));
	int			i;

	for (i = 0; i < nstates; i++)
		sorted[i] = list_nth(states, i);
	qsort(sorted, nstates, sizeof(ExportState *), compare_states);

	er->exports = hvcsv_export_list(opts);
	er->nexports = list_length(er->exports);
	er->checks = hvcsv_spool_check_exports(opts, er->exports);
	er->read = palloc0(sizeof(bool) * Max(er->nexports, 1));
	for (i = 0; i < er->nexports; i++)
	{
		const HvcsvSpoolCheck *check = &er->checks[i];
		int			before;

		if (check->missing)
			continue;
		er->total_bytes += check->size;
		before = find_state(sorted, nstates, ((HvcsvExport *) list_nth(er->exports, i))->display);
		if (before >= 0)
			present[before] = true;
		er->read[i] = !keep_state || export_changed(check, before >= 0 ? sorted[before] : NULL);
		er->nread += er->read[i];
	}
	for (i = 0; i < nstates; i++)
		if (!present[i])
			er->vanished = lappend(er->vanished, sorted[i]);
	return er;
}

/*
 * Makes the run read every export that is there (delete_missing needs
 * every key), still recording only the new or changed ones.
 */
bool *
hvcsv_exports_all(const ExportsRun *er)
{
	bool	   *all = palloc0(sizeof(bool) * Max(er->nexports, 1));
	int			i;

	for (i = 0; i < er->nexports; i++)
		all[i] = !er->checks[i].missing;
	return all;
}

/*
 * Records a good run in hvcsv_sync_exports: each export it found new or
 * changed, with the rows read of it (rows[i]), and the end of those that
 * vanished.  Unchanged exports keep their rows as they were: a run that
 * changed nothing writes nothing here.
 */
void
hvcsv_exports_record(Oid foreign_table, const ExportsRun *er, const uint64 *rows,
					 TimestampTz started)
{
	ListCell   *cell;
	int			i;

	for (i = 0; i < er->nexports; i++)
	{
		ExportState st;

		if (!er->read[i])
			continue;
		st.url = ((HvcsvExport *) list_nth(er->exports, i))->display;
		st.etag = er->checks[i].etag;
		st.last_modified = er->checks[i].last_modified;
		st.bytes = er->checks[i].size;
		st.rows = rows ? (int64) rows[i] : -1;
		st.synced_at = started;
		hvcsv_write_export_state(foreign_table, &st);
	}
	foreach(cell, er->vanished)
		hvcsv_forget_export_state(foreign_table, ((ExportState *) lfirst(cell))->url);
}
