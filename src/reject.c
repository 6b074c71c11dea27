/*-------------------------------------------------------------------------
 * reject.c
 *	  on_error 'skip': rows that cannot be converted are skipped, counted
 *	  and, during hvcsv_refresh(), kept for its rejects table.
 *
 * A row is rejected for the wrong number of fields, invalid encoding, or a
 * value its column's type refuses.  The type input functions report that
 * with ERROR, so in skip mode each row is converted in a subtransaction
 * (PostgreSQL 15 has no soft input errors); that costs a few microseconds
 * a row, and only in skip mode.  Subtransactions are not allowed in a
 * parallel scan, so a table with on_error 'skip' is never scanned in
 * parallel.  reject_limit ends the scan with an error once more rows than
 * it allows were rejected.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "hvcsv_fdw.h"

/* Rejected rows kept per refresh run; the count is always exact. */
#define MAX_KEPT_REJECTS 1000
/* Bytes of a rejected record, and of its error message, kept. */
#define MAX_RAW_BYTES 1000
#define MAX_ERROR_BYTES 1000

bool		hvcsv_collect_rejects = false;
List	   *hvcsv_collected_rejects = NIL;
uint64		hvcsv_collected_reject_count = 0;

/*
 * Renders why a row was rejected: the message, after the column's name if
 * a column's value was refused, clipped (an input function's message may
 * quote a value of any size).
 */
static char *
describe_reject(HvcsvScan *scan, int att, const char *message)
{
	size_t		len = strlen(message);
	size_t		clip = pg_mbcliplen(message, len, MAX_ERROR_BYTES);

	if (att < 0)
		return psprintf("%.*s%s", (int) clip, message, clip < len ? "..." : "");
	return psprintf("column %s: %.*s%s",
					NameStr(TupleDescAttr(RelationGetDescr(scan->rel), att)->attname),
					(int) clip, message, clip < len ? "..." : "");
}

/* Keeps a rejected row for hvcsv_refresh(), if it is collecting them. */
static void
keep_reject(HvcsvScan *scan, int att, const char *message)
{
	CsvStream  *s = scan->stream;
	HvcsvReject *r;
	MemoryContext old;
	const char *raw;
	size_t		len;

	if (!hvcsv_collect_rejects)
		return;
	hvcsv_collected_reject_count++;
	if (list_length(hvcsv_collected_rejects) >= MAX_KEPT_REJECTS)
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	r = palloc(sizeof(HvcsvReject));
	r->line = s->rec.line;
	r->byte_offset = s->record_offset;
	r->error = describe_reject(scan, att, message);
	raw = s->buf + (s->record_offset - s->buf_offset);
	len = s->rec.length;
	while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		len--;
	r->raw = hvcsv_printable(raw, Min(len, MAX_RAW_BYTES), len > MAX_RAW_BYTES);
	hvcsv_collected_rejects = lappend(hvcsv_collected_rejects, r);
	MemoryContextSwitchTo(old);
}

/*
 * Counts a rejected row (att is the column whose value was refused, or -1),
 * and stops the scan past reject_limit.  Nothing is allocated unless the
 * row is kept or the limit is passed: a scan may reject every row.
 */
static void
reject(HvcsvScan *scan, int att, const char *message)
{
	scan->rows_rejected++;
	keep_reject(scan, att, message);
	if (scan->opts->reject_limit > 0 && scan->rows_rejected > (uint64) scan->opts->reject_limit)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("more than " INT64_FORMAT " rows of foreign table \"%s\" were rejected",
						scan->opts->reject_limit, RelationGetRelationName(scan->rel)),
				 errdetail("The last one: %s", describe_reject(scan, att, message))));
}

/*
 * Converts the current record into slot; with on_error 'skip', a record
 * that cannot be converted is rejected instead and false returned.
 */
bool
hvcsv_build_or_reject(HvcsvScan *scan, TupleTableSlot *slot)
{
	HvcsvTupleBuilder *b = scan->builder;
	const CsvRecord *rec = &scan->stream->rec;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool built = false;

	if (!scan->opts->on_error_skip)
	{
		hvcsv_tuple_build(b, rec, slot);
		return true;
	}
	if (rec->nfields != b->map->nfields)
	{
		char		message[128];

		snprintf(message, sizeof(message), "wrong number of fields: %d, but %d are expected",
				 rec->nfields, b->map->nfields);
		reject(scan, -1, message);
		return false;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		hvcsv_tuple_build(b, rec, slot);
		ReleaseCurrentSubTransaction();
		built = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			att = b->current_att;

		/*
		 * The copy goes where the row's values went, which the next row
		 * resets, so none of it stays behind however many rows are
		 * rejected (FreeErrorData() left some 200 bytes a row).
		 */
		MemoryContextSwitchTo(b->tuple_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		b->current_att = -1;
		ExecClearTuple(slot);
		reject(scan, att, edata->message);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return built;
}

/* Says how many rows a scan rejected, when it ends. */
void
hvcsv_report_rejects(HvcsvScan *scan)
{
	if (scan->rows_rejected > 0 && !hvcsv_collect_rejects)
		ereport(NOTICE,
				(errmsg_plural("%llu row of foreign table \"%s\" was rejected",
							   "%llu rows of foreign table \"%s\" were rejected",
							   scan->rows_rejected,
							   (unsigned long long) scan->rows_rejected,
							   RelationGetRelationName(scan->rel))));
}
