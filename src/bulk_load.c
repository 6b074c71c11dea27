/*-------------------------------------------------------------------------
 * bulk_load.c
 *	  The first load of a refresh into an empty target, inserted in batches
 *	  the way COPY FROM inserts them.
 *
 * INSERT ... SELECT writes one heap tuple (and one WAL record) at a time;
 * table_multi_insert writes a batch of rows per page and WAL record.  The
 * rows still come from "SELECT ... FROM <foreign table>" run through SPI,
 * so the foreign scan, its options, its rejects and its permission checks
 * are the same as on the SQL path; only where the rows go differs: into a
 * DestReceiver that buffers them and inserts each full batch, checking
 * constraints and filling indexes as INSERT does, with the same errors.
 *
 * Only a target that INSERT would fill with no more than that qualifies
 * (see hvcsv_bulk_load_eligible); refresh.c sends any other through its
 * INSERT statement.  This file does not decide when a load is a first load.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "compat.h"
#include "refresh_internal.h"

/* A batch is flushed at this many rows or bytes of row data, as COPY does. */
#define BULK_MAX_ROWS	1000
#define BULK_MAX_BYTES	65535

/* The receiver of the export's rows, and the state of the insertion. */
typedef struct BulkLoader
{
	DestReceiver pub;			/* first: the executor sees a DestReceiver */
	Relation	target;
	EState	   *estate;
	ResultRelInfo *rri;
	int			ncolumns;
	AttrNumber *target_att;		/* per result column: 0-based target attribute */
	bool		check_constraints;
	CommandId	cid;
	BulkInsertState bistate;
	MemoryContext cxt;			/* lives as long as the load: slots */
	MemoryContext batch_cxt;	/* reset after every batch */
	TupleTableSlot *slots[BULK_MAX_ROWS];	/* made on demand */
	int			nslots;
	int			nbuffered;
	Size		buffered_bytes;
	uint64		rows;			/* inserted so far */
} BulkLoader;

/* Tells whether the target has INSERT rules or triggers, which INSERT would run. */
static bool
has_insert_rules_or_triggers(Relation target)
{
	TriggerDesc *trig = target->trigdesc;

	if (target->rd_rules)
		for (int i = 0; i < target->rd_rules->numLocks; i++)
			if (target->rd_rules->rules[i]->event == CMD_INSERT)
				return true;
	/* Foreign keys and deferrable unique constraints are insert triggers too. */
	return trig != NULL &&
		(trig->trig_insert_before_row || trig->trig_insert_after_row ||
		 trig->trig_insert_instead_row || trig->trig_insert_before_statement ||
		 trig->trig_insert_after_statement || trig->trig_insert_new_table);
}

/* The 0-based target attribute of each column, in the order of columns. */
static AttrNumber *
target_attributes(Relation target, List *columns)
{
	AttrNumber *atts = palloc(sizeof(AttrNumber) * list_length(columns));
	ListCell   *cell;

	foreach(cell, columns)
		atts[foreach_current_index(cell)] =
			get_attnum(RelationGetRelid(target), lfirst(cell)) - 1;
	return atts;
}

/* The columns an INSERT of these target attributes names, as a permission check wants them. */
static Bitmapset *
inserted_columns(const AttrNumber *atts, int natts)
{
	Bitmapset  *inserted = NULL;

	for (int i = 0; i < natts; i++)
		inserted = bms_add_member(inserted, atts[i] + 1 - FirstLowInvalidHeapAttributeNumber);
	return inserted;
}

/*
 * Tells whether INSERT INTO target (columns) SELECT columns FROM the
 * foreign table would do no more than store the rows, check NOT NULL and
 * CHECK constraints and fill indexes: nothing (triggers, rules, defaults,
 * coercions, row security, partition routing) that the batched load skips.
 * Also false without INSERT privilege, so the SQL path raises the error.
 */
bool
hvcsv_bulk_load_eligible(Relation target, Oid foreign_table, List *columns,
						 const char *cursor_column)
{
	TupleDesc	desc = RelationGetDescr(target);
	AttrNumber *atts;
	bool	   *synced;

	/* The cursor's filter and high-water mark are the SQL path's. */
	if (cursor_column != NULL ||
		target->rd_rel->relkind != RELKIND_RELATION ||
		target->rd_rel->relispartition ||
		has_insert_rules_or_triggers(target) ||
		check_enable_rls(RelationGetRelid(target), InvalidOid, true) != RLS_NONE)
		return false;

	atts = target_attributes(target, columns);
	synced = palloc0(sizeof(bool) * desc->natts);
	for (int i = 0; i < list_length(columns); i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, atts[i]);
		Oid			type;
		int32		typmod;
		Oid			collation;

		/* A different type or typmod takes INSERT's assignment coercion. */
		get_atttypetypmodcoll(foreign_table,
							  get_attnum(foreign_table, NameStr(att->attname)),
							  &type, &typmod, &collation);
		if (type != att->atttypid || typmod != att->atttypmod)
			return false;
		synced[atts[i]] = true;
	}
	/*
	 * A column left out (generated ones are) gets its default, generation
	 * expression or identity value, or a NULL that its domain checks.
	 */
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (att->attisdropped || synced[a])
			continue;
		if (build_column_default(target, a + 1) != NULL ||
			get_typtype(att->atttypid) == TYPTYPE_DOMAIN)
			return false;
	}
	return hvcsv_insert_permitted(target, inserted_columns(atts, list_length(columns)));
}

/* Inserts the buffered rows, then their index entries; errors as INSERT's. */
static void
flush_batch(BulkLoader *loader)
{
	MemoryContext old;

	if (loader->nbuffered == 0)
		return;
	old = MemoryContextSwitchTo(loader->batch_cxt);
	table_multi_insert(loader->target, loader->slots, loader->nbuffered, loader->cid, 0,
					   loader->bistate);
	for (int i = 0; i < loader->nbuffered; i++)
	{
		/* No deferrable constraints here, so nothing to recheck. */
		if (loader->rri->ri_NumIndices > 0)
			list_free(hvcsv_insert_index_tuples(loader->rri, loader->slots[i], loader->estate));
		ResetPerTupleExprContext(loader->estate);
		ExecClearTuple(loader->slots[i]);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(loader->batch_cxt);
	loader->rows += loader->nbuffered;
	loader->nbuffered = 0;
	loader->buffered_bytes = 0;
}

/* Starts the load as the SELECT starts: its command id is the insertion's. */
static void
loader_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	BulkLoader *loader = (BulkLoader *) self;

	loader->cid = GetCurrentCommandId(true);
}

/* Copies a row of the export into the batch; a full batch is inserted. */
static bool
loader_receive(TupleTableSlot *slot, DestReceiver *self)
{
	BulkLoader *loader = (BulkLoader *) self;
	TupleTableSlot *row;
	MemoryContext old;

	if (loader->nbuffered == loader->nslots)
	{
		old = MemoryContextSwitchTo(loader->cxt);
		loader->slots[loader->nslots++] = table_slot_create(loader->target, NULL);
		MemoryContextSwitchTo(old);
	}
	row = loader->slots[loader->nbuffered];
	slot_getallattrs(slot);
	ExecClearTuple(row);
	/* Dropped columns, and columns not in the export, are NULL. */
	memset(row->tts_isnull, true, sizeof(bool) * row->tts_tupleDescriptor->natts);
	for (int i = 0; i < loader->ncolumns; i++)
	{
		row->tts_values[loader->target_att[i]] = slot->tts_values[i];
		row->tts_isnull[loader->target_att[i]] = slot->tts_isnull[i];
	}
	ExecStoreVirtualTuple(row);
	loader->buffered_bytes += heap_compute_data_size(row->tts_tupleDescriptor,
													 row->tts_values, row->tts_isnull);
	/* The values point into the scan's memory of this row: copy them. */
	ExecMaterializeSlot(row);
	if (loader->check_constraints)
	{
		ExecConstraints(loader->rri, row, loader->estate);
		ResetPerTupleExprContext(loader->estate);
	}
	loader->nbuffered++;
	if (loader->nbuffered == BULK_MAX_ROWS || loader->buffered_bytes >= BULK_MAX_BYTES)
		flush_batch(loader);
	return true;
}

/* Inserts what is left when the SELECT has no more rows. */
static void
loader_shutdown(DestReceiver *self)
{
	flush_batch((BulkLoader *) self);
}

/* The loader is freed with the rest of hvcsv_bulk_load's state. */
static void
loader_destroy(DestReceiver *self)
{
}

/*
 * Runs select_sql, which returns the given target columns in that order,
 * and inserts its rows into target in batches; returns the number of rows.
 * The target must be locked and eligible (hvcsv_bulk_load_eligible).
 */
uint64
hvcsv_bulk_load(Relation target, const char *select_sql, List *columns)
{
	BulkLoader *loader = palloc0(sizeof(BulkLoader));

	loader->pub.receiveSlot = loader_receive;
	loader->pub.rStartup = loader_startup;
	loader->pub.rShutdown = loader_shutdown;
	loader->pub.rDestroy = loader_destroy;
	loader->pub.mydest = DestNone;
	loader->target = target;
	loader->ncolumns = list_length(columns);
	loader->target_att = target_attributes(target, columns);
	loader->cxt = CurrentMemoryContext;
	loader->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "hvcsv bulk load batch",
											  ALLOCSET_DEFAULT_SIZES);

	/* A result relation as INSERT's, so errors show the same row detail. */
	loader->estate = CreateExecutorState();
	loader->rri = makeNode(ResultRelInfo);
	hvcsv_init_insert_result_relation(loader->estate, loader->rri, target,
									  inserted_columns(loader->target_att, loader->ncolumns));
	ExecOpenIndices(loader->rri, false);
	loader->check_constraints = RelationGetDescr(target)->constr != NULL;
	loader->bistate = GetBulkInsertState();

	hvcsv_read_export_into(select_sql, &loader->pub, false);

	FreeBulkInsertState(loader->bistate);
	table_finish_bulk_insert(target, 0);
	for (int i = 0; i < loader->nslots; i++)
		ExecDropSingleTupleTableSlot(loader->slots[i]);
	ExecCloseResultRelations(loader->estate);
	ExecCloseRangeTableRelations(loader->estate);
	FreeExecutorState(loader->estate);
	MemoryContextDelete(loader->batch_cxt);
	return loader->rows;
}
