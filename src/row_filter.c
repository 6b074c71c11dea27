/*-------------------------------------------------------------------------
 * row_filter.c
 *	  Drops, during a refresh's scan, the export rows that are byte for byte
 *	  a row the target already stores, before any SQL sees them.
 *
 * A refresh that changes few rows would otherwise compare every export row
 * with the target in SQL: a hash anti-join over the whole target, which
 * spills to disk on a large one, even when nothing changed.  Here
 * the target is read once into a set of row fingerprints (a 64-bit hash of
 * the synced columns' binary values, each length-prefixed); an export row
 * whose fingerprint is in the set equals a stored row in every synced column,
 * its key included, and is dropped.  The rows that pass are compared
 * exactly in SQL as before, so a value stored in another binary form
 * (numeric 1.0 for 1.00) is still found unchanged there.  A changed row is
 * dropped by mistake only if its fingerprint collides with a stored one
 * (about 2^-64 per stored row).
 *
 * The same read sets the stored keys' hashes in a Bloom filter (hash_bits.c),
 * so that each row that passes is marked as new (its key is not stored,
 * byte for byte) or maybe stored: the refresh's statement then sends new
 * rows straight to its INSERT and the others to its UPDATE, one index probe
 * each, not two; a row wrongly marked is looked up again (sync_statement.c).
 *
 * The fingerprints take a dynamic shared memory segment of their own
 * (uint64_set.c): a parallel scan's workers attach it through the scan's
 * shared memory (hvcsv_row_filter_share) and drop rows as the leader does,
 * without a copy each; each adds its count of dropped rows when its scan
 * ends.  The key bits stay in the leader, which alone marks rows.  The
 * refresh's scan hooks (refresh_session.c) make these calls; a filter lives
 * in the memory context it is made in, so it goes with its transaction.
 *
 * The filter is only built when it gives exactly what the SQL would: the
 * target is a plain table, the columns have the same types on both sides,
 * the caller may read the whole target, and no row level security applies;
 * and only while the fingerprints fit in their share of
 * maintenance_work_mem (HVCSV_SET_BYTES).  Otherwise the refresh compares
 * in SQL.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "hash_bits.h"
#include "refresh_internal.h"
#include "uint64_set.h"

/* A synced column, as each side stores it. */
typedef struct FilterColumn
{
	AttrNumber	source_attnum;	/* in the foreign table */
	AttrNumber	target_attnum;
	AttrNumber	synced_attnum;	/* in the list of synced columns */
	int16		typlen;
	bool		typbyval;
	bool		is_key;
} FilterColumn;

/*
 * What the workers of a parallel scan of the export, or of a parallel read
 * of the target, share of the filter, in shared memory.
 */
typedef struct RowFilterShared
{
	pg_atomic_uint64 dropped;	/* added by each process when its scan ends */
	Uint64SetRef stored;		/* the fingerprints' segment */
	/* for a parallel read of the target */
	Oid			target;
	pg_atomic_uint32 overflowed;	/* the fingerprints filled up */
	pg_atomic_uint32 readers;	/* processes that took part */
	pg_atomic_uint64 added;		/* fingerprints, added by each process */
	Size		pscan_offset;	/* of the ParallelTableScanDesc */
	Size		key_bits_size;
	int			ncolumns;
	int			nkeys;
	FilterColumn columns[FLEXIBLE_ARRAY_MEMBER];
	/* then, for a parallel read of the target, the key bits to merge */
} RowFilterShared;

struct RowFilter
{
	int			ncolumns;
	int			nkeys;			/* the key columns come first */
	FilterColumn *columns;
	MemoryContext cxt;
	Uint64Set  *stored;			/* fingerprints of the target's rows */
	HashBits   *stored_keys;	/* hashes of their keys; NULL in a scan's worker */
	StringInfoData buf;			/* one row's serialized values */
	uint64		current;		/* the fingerprint of the row being read */
	uint64		dropped;
	RowFilterShared *shared;	/* under a parallel scan */
	int			target_readers; /* processes that read the target */
};

/* Target rows read before their fingerprints are added. */
#define READ_BATCH 16

/* The shm_toc key of a parallel read of the target. */
#define TARGET_READ_KEY 1

/* Appends one value, length first, so that no two rows serialize alike. */
static void
append_value(StringInfo buf, const FilterColumn *col, Datum value, bool isnull)
{
	int32		len;
	int32		payload;
	const char *data;
	uint64		word;
	struct varlena *flat = NULL;

	if (isnull)
	{
		len = -1;			/* apart from any length */
		data = NULL;
	}
	else if (col->typbyval)
	{
		/* Widened by value: a Datum's unused bits are not guaranteed. */
		switch (col->typlen)
		{
			case 1:
				word = (uint64) (int64) DatumGetChar(value);
				break;
			case 2:
				word = (uint64) (int64) DatumGetInt16(value);
				break;
			case 4:
				word = (uint64) (int64) DatumGetInt32(value);
				break;
			default:
				word = (uint64) DatumGetInt64(value);
				break;
		}
		data = (const char *) &word;
		len = sizeof(word);
	}
	else if (col->typlen > 0)
	{
		data = DatumGetPointer(value);
		len = col->typlen;
	}
	else if (col->typlen == -1)
	{
		/* Stored values may be compressed, toasted or short-headed. */
		struct varlena *v = (struct varlena *) DatumGetPointer(value);

		/* Tested here: the call that would test it costs more on every value. */
		if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v))
			v = flat = pg_detoast_datum_packed(v);
		data = VARDATA_ANY(v);
		len = VARSIZE_ANY_EXHDR(v);
	}
	else
	{
		data = DatumGetCString(value);
		len = strlen(data);
	}
	payload = Max(len, 0);
	if (buf->len + (int) sizeof(len) + payload >= buf->maxlen)
		enlargeStringInfo(buf, sizeof(len) + payload);
	memcpy(buf->data + buf->len, &len, sizeof(len));
	if (payload > 0)
		memcpy(buf->data + buf->len + sizeof(len), data, payload);
	buf->len += sizeof(len) + payload;
	if (flat && (Pointer) flat != DatumGetPointer(value))
		pfree(flat);
}

/* Where a row's synced columns are. */
typedef enum RowSide
{
	TARGET_ROW,					/* a row of the target */
	EXPORT_ROW,					/* a row of the foreign table */
	SYNCED_ROW					/* the synced columns alone, in their order */
} RowSide;

/* Appends the serialized values of columns [from, to) to f->buf. */
static void
append_columns(RowFilter *f, TupleTableSlot *slot, RowSide side, int from, int to)
{
	for (int i = from; i < to; i++)
	{
		const FilterColumn *col = &f->columns[i];
		int			att = (side == TARGET_ROW ? col->target_attnum :
						   side == EXPORT_ROW ? col->source_attnum : col->synced_attnum) - 1;

		append_value(&f->buf, col, slot->tts_values[att], slot->tts_isnull[att]);
	}
}

/* The hash of the values serialized so far. */
static uint64
buf_hash(StringInfo buf)
{
	return DatumGetUInt64(hash_any_extended((unsigned char *) buf->data, buf->len, 0));
}

/*
 * The hash of a row's synced columns; with key_hash, also that of its key
 * columns alone.  The key columns are serialized first, so one pass gives
 * both.
 */
static uint64
row_hash(RowFilter *f, TupleTableSlot *slot, RowSide side, uint64 *key_hash)
{
	resetStringInfo(&f->buf);
	append_columns(f, slot, side, 0, f->nkeys);
	if (key_hash)
		*key_hash = buf_hash(&f->buf);
	append_columns(f, slot, side, f->nkeys, f->ncolumns);
	return buf_hash(&f->buf);
}

/* Adds the rows scan returns to the sets; false if one outgrew its memory. */
static bool
add_rows(RowFilter *f, TableScanDesc scan, Relation target)
{
	TupleTableSlot *slot = table_slot_create(target, NULL);
	AttrNumber	last = 0;
	uint64		rows[READ_BATCH];
	uint64		keys[READ_BATCH];
	int			n = 0;

	for (int i = 0; i < f->ncolumns; i++)
		last = Max(last, f->columns[i].target_attnum);

	for (;;)
	{
		bool		more = table_scan_getnextslot(scan, ForwardScanDirection, slot);

		if (more)
		{
			slot_getsomeattrs(slot, last);
			rows[n] = row_hash(f, slot, TARGET_ROW, &keys[n]);
			hvcsv_uint64_set_prefetch(f->stored, rows[n]);
			n++;
		}
		/* Added a batch at a time, by when their slots are in cache. */
		if (n == READ_BATCH || (!more && n > 0))
		{
			for (int i = 0; i < n; i++)
			{
				(void) hvcsv_uint64_set_add(f->stored, rows[i]);
				hvcsv_hash_bits_add(f->stored_keys, keys[i]);
			}
			n = 0;
			if (f->stored->overflowed)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		if (!more)
			break;
	}
	ExecDropSingleTupleTableSlot(slot);
	return !f->stored->overflowed;
}

/* Reads every row of target into the sets; false if one outgrew its memory. */
static bool
read_target(RowFilter *f, Relation target)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(target, snapshot, 0, NULL);
	bool		fits = add_rows(f, scan, target);

	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return fits;
}

/* Where the key bits of a parallel read of the target start after the shared header. */
static Size
shared_header_size(int ncolumns)
{
	return MAXALIGN(offsetof(RowFilterShared, columns) + sizeof(FilterColumn) * ncolumns);
}

/*
 * Fills in the header of what the processes of a parallel scan or read
 * share of f; f's fingerprints are added to as other processes add to them.
 */
static void
share_header(RowFilter *f, RowFilterShared *shared)
{
	pg_atomic_init_u64(&shared->dropped, 0);
	hvcsv_uint64_set_share_segment(f->stored, &shared->stored);
	shared->ncolumns = f->ncolumns;
	shared->nkeys = f->nkeys;
	memcpy(shared->columns, f->columns, sizeof(FilterColumn) * f->ncolumns);
	f->shared = shared;
}

/*
 * A worker's filter, made in the current context, on the fingerprints
 * shared in shared and on the key bits at key_bits (or none).
 */
static RowFilter *
shared_filter(RowFilterShared *shared, void *key_bits)
{
	RowFilter  *f = palloc0(sizeof(RowFilter));

	f->cxt = CurrentMemoryContext;
	f->ncolumns = shared->ncolumns;
	f->nkeys = shared->nkeys;
	f->columns = shared->columns;
	f->stored = hvcsv_uint64_set_attach_segment(f->cxt, &shared->stored);
	if (key_bits)
		f->stored_keys = hvcsv_hash_bits_attach(f->cxt, key_bits, shared->key_bits_size);
	initStringInfo(&f->buf);
	f->shared = shared;
	return f;
}

/* One process's part of a parallel read of the target, into f's sets. */
static void
read_target_part(RowFilter *f, Relation target)
{
	RowFilterShared *shared = f->shared;
	TableScanDesc scan;

	pg_atomic_fetch_add_u32(&shared->readers, 1);
	scan = table_beginscan_parallel(target,
									(ParallelTableScanDesc) ((char *) shared + shared->pscan_offset));
	if (!add_rows(f, scan, target))
		pg_atomic_write_u32(&shared->overflowed, 1);
	pg_atomic_fetch_add_u64(&shared->added, f->stored->used);
	table_endscan(scan);
}

/* The entry point of a worker of read_target_parallel(). */
void
hvcsv_row_filter_read_main(dsm_segment *seg, shm_toc *toc)
{
	RowFilterShared *shared = shm_toc_lookup(toc, TARGET_READ_KEY, false);
	Relation	target = table_open(shared->target, AccessShareLock);
	RowFilter  *f = shared_filter(shared, (char *) shared + shared_header_size(shared->ncolumns));

	read_target_part(f, target);
	hvcsv_uint64_set_free(f->stored);
	table_close(target, AccessShareLock);
}

/*
 * Makes f's sets, empty, for about expected_rows rows of target.  The
 * fingerprints get half as much room again, as the estimate may lag and a
 * parallel read's set cannot grow (within their bound all the same); the key
 * bits are sized for as many rows as the target's pages may hold, since
 * they cannot grow and too few bits would mark most keys stored.
 */
static void
make_sets(RowFilter *f, Relation target, double expected_rows)
{
	double		most_rows = (double) RelationGetNumberOfBlocks(target) * MaxHeapTuplesPerPage;

	if (f->stored)
		hvcsv_uint64_set_free(f->stored);
	f->stored = hvcsv_uint64_set_create(f->cxt, expected_rows * 3 / 2, HVCSV_SET_BYTES(), true);
	if (f->stored_keys)
		hvcsv_hash_bits_reset(f->stored_keys);
	else
		f->stored_keys = hvcsv_hash_bits_create(f->cxt, Max(expected_rows, most_rows),
												HVCSV_KEY_BITS_BYTES());
}

/*
 * Reads target into the sets with parallel workers when it is large enough
 * (min_parallel_table_scan_size), max_parallel_maintenance_workers allows
 * them and the fingerprints have a segment of their own: every process
 * adds to them there, and the workers' key bits, in shared memory, are
 * then merged into f's.  False if it did not, or the fingerprints filled
 * up: the caller then reads alone, into sets made anew for about
 * expected_rows rows, as they must not mix in rows of this read's snapshot.
 */
static bool
read_target_parallel(RowFilter *f, Relation target, double expected_rows)
{
	Size		bits = MAXALIGN(hvcsv_hash_bits_size(f->stored_keys));
	Size		header = shared_header_size(f->ncolumns);
	Snapshot	snapshot;
	ParallelContext *pcxt;
	RowFilterShared *shared;
	Size		size;
	bool		loaded;

	if (max_parallel_maintenance_workers <= 0 ||
		RelationGetNumberOfBlocks(target) < (BlockNumber) min_parallel_table_scan_size ||
		!hvcsv_uint64_set_shareable(f->stored) || !hvcsv_uint64_set_shared_fits(bits))
		return false;
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	EnterParallelMode();
	pcxt = CreateParallelContext("hvcsv_fdw", "hvcsv_row_filter_read_main",
								 max_parallel_maintenance_workers);
	size = header + bits + table_parallelscan_estimate(target, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, size);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);
	shared = shm_toc_allocate(pcxt->toc, size);
	memset(shared, 0, header + bits);
	shared->target = RelationGetRelid(target);
	pg_atomic_init_u32(&shared->overflowed, 0);
	pg_atomic_init_u32(&shared->readers, 0);
	pg_atomic_init_u64(&shared->added, 0);
	shared->key_bits_size = hvcsv_hash_bits_size(f->stored_keys);
	share_header(f, shared);
	shared->pscan_offset = header + bits;
	table_parallelscan_initialize(target, (ParallelTableScanDesc) ((char *) shared + shared->pscan_offset),
								  snapshot);
	shm_toc_insert(pcxt->toc, TARGET_READ_KEY, shared);
	LaunchParallelWorkers(pcxt);
	read_target_part(f, target);
	WaitForParallelWorkersToFinish(pcxt);

	loaded = pg_atomic_read_u32(&shared->overflowed) == 0 &&
		!hvcsv_uint64_set_full(f->stored, pg_atomic_read_u64(&shared->added));
	if (loaded)
		hvcsv_hash_bits_merge(f->stored_keys, (char *) shared + header);
	f->target_readers = pg_atomic_read_u32(&shared->readers);
	f->shared = NULL;
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	UnregisterSnapshot(snapshot);
	if (!loaded)
		make_sets(f, target, expected_rows);
	return loaded;
}

/*
 * Fills f's sets with target's rows, about expected_rows of them; false if
 * the fingerprints outgrew their memory.
 */
static bool
fill_sets(RowFilter *f, Relation target, double expected_rows)
{
	make_sets(f, target, expected_rows);
	if (read_target_parallel(f, target, expected_rows))
		return true;
	f->target_readers = 1;
	return read_target(f, target);
}

/*
 * Builds the filter, in a child of parent, for scans of foreign_table
 * feeding target, over the synced columns, sized for about expected_rows.
 * Returns NULL when it cannot give exactly what the SQL comparison gives;
 * see the file comment.
 */
RowFilter *
hvcsv_row_filter_create(MemoryContext parent, Oid foreign_table, Relation target, List *columns,
						List *keys, double expected_rows)
{
	MemoryContext cxt;
	MemoryContext old;
	RowFilter  *f;
	ListCell   *cell;
	ListCell   *key_cell;
	int			i = 0;

	/* A partitioned (or foreign) target has no rows of its own to read. */
	if (target->rd_rel->relkind != RELKIND_RELATION ||
		check_enable_rls(RelationGetRelid(target), InvalidOid, true) == RLS_ENABLED ||
		pg_class_aclcheck(RelationGetRelid(target), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return NULL;

	cxt = AllocSetContextCreate(parent, "hvcsv row filter", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	f = palloc0(sizeof(RowFilter));
	f->cxt = cxt;
	f->target_readers = 1;
	f->columns = palloc(sizeof(FilterColumn) * list_length(columns));
	foreach(cell, columns)
	{
		const char *name = lfirst(cell);
		FilterColumn col;
		Oid			source_type = get_atttype(foreign_table, get_attnum(foreign_table, name));

		col.source_attnum = get_attnum(foreign_table, name);
		col.target_attnum = get_attnum(RelationGetRelid(target), name);
		col.synced_attnum = foreach_current_index(cell) + 1;
		if (source_type != get_atttype(RelationGetRelid(target), col.target_attnum))
			break;
		get_typlenbyval(source_type, &col.typlen, &col.typbyval);
		col.is_key = false;
		foreach(key_cell, keys)
			if (strcmp(lfirst(key_cell), name) == 0)
				col.is_key = true;
		/* Key columns first, in their order: see row_hash(). */
		if (col.is_key)
		{
			memmove(&f->columns[f->nkeys + 1], &f->columns[f->nkeys],
					sizeof(FilterColumn) * (i - f->nkeys));
			f->columns[f->nkeys++] = col;
		}
		else
			f->columns[i] = col;
		i++;
	}
	f->ncolumns = i;
	initStringInfo(&f->buf);
	MemoryContextSwitchTo(old);
	if (i < list_length(columns) || !fill_sets(f, target, expected_rows))
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	return f;
}

/*
 * Called by a refresh's scan for each row it returns, before the key watch:
 * computes the row's fingerprint and starts loading its slot in the set, so
 * that the lookup in hvcsv_row_filter_drops() finds it in cache.
 */
void
hvcsv_row_filter_prepare(RowFilter *f, TupleTableSlot *slot)
{
	MemoryContext old;

	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(f->cxt);
	f->current = row_hash(f, slot, EXPORT_ROW, NULL);
	MemoryContextSwitchTo(old);
	hvcsv_uint64_set_prefetch(f->stored, f->current);
}

/*
 * Whether the row prepared last is one the target stores, so that the scan
 * skips it.
 */
bool
hvcsv_row_filter_drops(RowFilter *f, TupleTableSlot *slot)
{
	/* A NULL key matches no stored row in SQL: the row must reach it. */
	for (int i = 0; i < f->ncolumns; i++)
		if (f->columns[i].is_key && slot->tts_isnull[f->columns[i].source_attnum - 1])
			return false;
	if (!hvcsv_uint64_set_contains(f->stored, f->current))
		return false;
	f->dropped++;
	return true;
}

/*
 * Whether a parallel scan's workers can attach the filter: its fingerprints
 * have a segment of their own.  The key bits stay in the leader, which
 * alone asks them (hvcsv_row_filter_key_stored).
 */
bool
hvcsv_row_filter_shareable(const RowFilter *f)
{
	return hvcsv_uint64_set_shareable(f->stored);
}

/* The shared memory a parallel scan needs for the filter. */
Size
hvcsv_row_filter_shared_size(const RowFilter *f)
{
	return shared_header_size(f->ncolumns);
}

/* Shares the filter with a parallel scan's workers, through its shared memory at dest. */
void
hvcsv_row_filter_share(RowFilter *f, void *dest)
{
	share_header(f, dest);
}

/* A parallel worker takes the filter of its scan, in a child of parent. */
RowFilter *
hvcsv_row_filter_attach(MemoryContext parent, void *src)
{
	MemoryContext cxt;
	MemoryContext old;
	RowFilter  *f;

	cxt = AllocSetContextCreate(parent, "hvcsv row filter", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	f = shared_filter(src, NULL);
	MemoryContextSwitchTo(old);
	return f;
}

/* Called by each process of a parallel scan when its part ends. */
void
hvcsv_row_filter_part_done(RowFilter *f)
{
	if (f->shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&f->shared->dropped, f->dropped);
	f->dropped = 0;
}

/*
 * In the leader, when its parallel scan is over: takes the total of every
 * process, before the shared memory goes.
 */
void
hvcsv_row_filter_gather(RowFilter *f)
{
	if (f->shared == NULL)
		return;
	f->dropped = pg_atomic_read_u64(&f->shared->dropped);
	f->shared = NULL;
}

/*
 * Whether the key of a row that passed may be one the target stores; slot
 * holds the synced columns in their order.  False means it is not stored
 * byte for byte (an equal key in another binary form may still be); true
 * may be wrong now and then (hash_bits.c).
 */
bool
hvcsv_row_filter_key_stored(RowFilter *f, TupleTableSlot *slot)
{
	MemoryContext old;
	uint64		hash;

	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(f->cxt);
	resetStringInfo(&f->buf);
	append_columns(f, slot, SYNCED_ROW, 0, f->nkeys);
	hash = buf_hash(&f->buf);
	MemoryContextSwitchTo(old);
	return hvcsv_hash_bits_may_contain(f->stored_keys, hash);
}

/* The rows the filter dropped (of every process, once gathered). */
uint64
hvcsv_row_filter_dropped(const RowFilter *f)
{
	return f->dropped;
}

/* Frees the filter, before its memory context goes. */
void
hvcsv_row_filter_free(RowFilter *f)
{
	MemoryContextDelete(f->cxt);
}

/* How many processes read the target into the filter. */
int
hvcsv_row_filter_target_readers(const RowFilter *f)
{
	return f->target_readers;
}
