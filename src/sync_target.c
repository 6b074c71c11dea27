/*-------------------------------------------------------------------------
 * sync_target.c
 *	  What a refresh writes: its target table, checked, the key, the columns
 *	  both tables have, and a hash of the table's definition.
 *
 * An unqualified target is in the foreign table's own schema, whoever
 * calls, so that no caller's search_path can change which table is
 * written.  The target must be a table with a unique index on the key (the
 * upsert's ON CONFLICT needs one), or a sharded one: partitioned by key
 * columns at every level, so that a key lives in one partition, whose own
 * unique index (a remote table's, for a foreign partition) refuses it
 * twice.  It must be owned by a role with the foreign table owner's
 * privileges (its triggers run as the role that writes).  The definition
 * hash tells a run that the table's definition changed since the last good
 * run, so that it compares in full.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "http.h"
#include "refresh_internal.h"

/*
 * The target option as a relation name: qualified as written, or in the
 * foreign table's own schema, so that who calls, and their search_path,
 * cannot change which table is written.
 */
RangeVar *
hvcsv_target_rangevar(Oid foreign_table, List *target)
{
	RangeVar   *rv;

	switch (list_length(target))
	{
		case 1:
			return makeRangeVar(get_namespace_name(get_rel_namespace(foreign_table)),
								linitial(target), -1);
		case 2:
			return makeRangeVar(linitial(target), lsecond(target), -1);
		default:
			rv = makeRangeVar(lsecond(target), lthird(target), -1);
			rv->catalogname = linitial(target);
			return rv;
	}
}

/*
 * Refuses a target that a refresh cannot keep in sync: anything but a
 * table (a view would take its first load, then fail every later run).
 */
static void
check_target_kind(Relation target)
{
	char		kind = target->rd_rel->relkind;

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not a table", RelationGetRelationName(target)),
				 errdetail("A refresh inserts, updates and deletes rows by key, which needs a table with a unique index on the key."),
				 errhint("Point the target option at the table under the view.")));
}

/*
 * Refuses a target (or a partition of it) whose owner lacks the privileges
 * of the foreign table's owner.  Its triggers, defaults, policies and index
 * expressions run as the role that writes, which is the foreign table's
 * owner: the target's owner would get code run with rights it does not
 * have (a user's trigger, with a superuser's refresh).
 */
static void
check_target_owner(Relation target, Oid ft, Oid ft_owner)
{
	ListCell   *cell;

	foreach(cell, find_all_inheritors(RelationGetRelid(target), NoLock, NULL))
	{
		Oid			owner = hvcsv_relation_owner(lfirst_oid(cell));

		if (!has_privs_of_role(owner, ft_owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("target \"%s\" is owned by role \"%s\", which lacks the privileges of \"%s\", the owner of \"%s\"",
							get_rel_name(lfirst_oid(cell)), GetUserNameFromId(owner, false),
							GetUserNameFromId(ft_owner, false), get_rel_name(ft)),
					 errdetail("A refresh writes the target as the foreign table's owner, so the target's triggers, defaults and policies would run with rights their owner does not have."),
					 errhint("Let one role own both, or a role that has the privileges of the other own the target.")));
	}
}

/* The key columns of a unique index (no expressions, no predicate), or NIL. */
static List *
unique_index_columns(Relation target, Oid indexoid)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	Form_pg_index form = index->rd_index;
	List	   *names = NIL;

	if (form->indisunique && form->indimmediate && form->indisvalid &&
		RelationGetIndexExpressions(index) == NIL && RelationGetIndexPredicate(index) == NIL)
	{
		for (int i = 0; i < form->indnkeyatts; i++)
			names = lappend(names, get_attname(RelationGetRelid(target),
											   form->indkey.values[i], false));
	}
	index_close(index, AccessShareLock);
	return names;
}

/* Tells whether two lists of names hold the same names. */
static bool
same_names(List *a, List *b)
{
	ListCell   *cell;

	if (list_length(a) != list_length(b))
		return false;
	foreach(cell, a)
		if (!hvcsv_has_name(b, lfirst(cell)))
			return false;
	return true;
}

/* Tells whether rel has a unique index on exactly the columns keys. */
static bool
has_unique_index(Relation rel, List *keys)
{
	ListCell   *cell;

	foreach(cell, RelationGetIndexList(rel))
		if (same_names(keys, unique_index_columns(rel, lfirst_oid(cell))))
			return true;
	return false;
}

/* Tells whether every partition key column of partitioned table rel is a key column. */
static bool
partitioned_by_keys(Relation rel, List *keys)
{
	PartitionKey partkey = RelationGetPartitionKey(rel);

	for (int i = 0; i < get_partition_natts(partkey); i++)
	{
		AttrNumber	attnum = get_partition_col_attnum(partkey, i);

		/* An expression (attnum 0) can map one key to several partitions. */
		if (attnum == InvalidAttrNumber ||
			!hvcsv_has_name(keys, get_attname(RelationGetRelid(rel), attnum, false)))
			return false;
	}
	return true;
}

/*
 * Refuses a leaf partition of a sharded target that cannot refuse a key
 * twice, or cannot take the refresh's writes.  A foreign partition's remote
 * table is trusted to have a unique index on the key: it cannot be seen
 * from here.
 */
static void
check_shard(Relation target, Relation leaf, List *keys)
{
	int			writes = (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);

	if (leaf->rd_rel->relkind == RELKIND_FOREIGN_TABLE &&
		(relation_is_updatable(RelationGetRelid(leaf), NIL, false, NULL) & writes) != writes)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("partition \"%s\" of target table \"%s\" is a foreign table that cannot be inserted into, updated and deleted from",
						RelationGetRelationName(leaf), RelationGetRelationName(target)),
				 errdetail("A refresh inserts, updates and deletes rows in the partitions of its target."),
				 errhint("Use a foreign data wrapper that writes, such as postgres_fdw, with its updatable option left true.")));
	if (leaf->rd_rel->relkind == RELKIND_RELATION && !has_unique_index(leaf, keys))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("target table \"%s\" has no unique index on the key (%s), nor has its partition \"%s\"",
						RelationGetRelationName(target), hvcsv_name_list(keys, ""),
						RelationGetRelationName(leaf)),
				 errdetail("A partitioned target without a unique index needs each partition to refuse a key twice: a local partition by a unique index on the key, a foreign one by its remote table's."),
				 errhint("Create a unique index or a primary key on those columns of the partition.")));
}

/*
 * Checks that partitioned table rel, a level of target, and every level
 * below it are partitioned by key columns only, so that one key lives in
 * exactly one leaf partition, and checks each leaf.
 */
static void
check_sharded(Relation target, Relation rel, List *keys)
{
	ListCell   *cell;

	if (!partitioned_by_keys(rel, keys))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("target table \"%s\" has no unique index on the key (%s), and the partition key of \"%s\" is not made of key columns",
						RelationGetRelationName(target), hvcsv_name_list(keys, ""),
						RelationGetRelationName(rel)),
				 errdetail("Without a unique index on the key, a refresh writes a partitioned table only if every level is partitioned by key columns, so that each key lives in exactly one partition."),
				 errhint("Partition by key columns, add the partition key columns to the key option, or create a unique index on the key.")));
	foreach(cell, find_inheritance_children(RelationGetRelid(rel), RowExclusiveLock))
	{
		Relation	part = relation_open(lfirst_oid(cell), NoLock);

		if (part->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
			check_sharded(target, part, keys);
		else
			check_shard(target, part, keys);
		relation_close(part, NoLock);
	}
}

/*
 * The key columns: the key option's, which a unique index of the target
 * must cover exactly (the upsert's ON CONFLICT needs it) unless the target
 * is sharded (then each partition's does), or else the target's primary
 * key.
 */
static List *
key_columns(Relation target, List *keys)
{
	if (keys == NIL)
	{
		Oid			pk = RelationGetPrimaryKeyIndex(target);

		if (!OidIsValid(pk))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("target table \"%s\" has no primary key", RelationGetRelationName(target)),
					 errhint("Add a primary key to it, or name its key columns in the foreign table's key option.")));
		return unique_index_columns(target, pk);
	}
	if (has_unique_index(target, keys))
		return keys;
	if (target->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("target table \"%s\" has no unique index on the key (%s)",
						RelationGetRelationName(target), hvcsv_name_list(keys, "")),
				 errdetail("A refresh finds each row by its key, and inserts new keys with ON CONFLICT, which needs a unique index on exactly those columns."),
				 errhint("Create a unique index or a primary key on those columns, or change the key option.")));
	check_sharded(target, target, keys);
	return keys;
}

/*
 * Tells whether a target that hvcsv_synced_columns() accepted with these
 * key columns is sharded: partitioned, with no unique index on the key
 * (its partitions may be foreign tables, which take no ON CONFLICT).
 */
bool
hvcsv_target_sharded(Relation target, List *keys)
{
	return target->rd_rel->relkind == RELKIND_PARTITIONED_TABLE && !has_unique_index(target, keys);
}

/*
 * The columns a refresh syncs: those of the target that the foreign table
 * has too, by name; generated target columns are left alone.
 */
static List *
synced_columns(Oid ft, Relation target, List *keys)
{
	TupleDesc	desc = RelationGetDescr(target);
	List	   *columns = NIL;
	ListCell   *cell;

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		AttrNumber	source = get_attnum(ft, NameStr(att->attname));
		SyncColumn *col;

		if (att->attisdropped || att->attgenerated || source == InvalidAttrNumber)
			continue;
		col = palloc0(sizeof(SyncColumn));
		col->name = pstrdup(NameStr(att->attname));
		get_atttypetypmodcoll(ft, source, &col->source_type, &col->source_typmod,
							  &col->source_collation);
		col->target_type = att->atttypid;
		col->target_typmod = att->atttypmod;
		col->target_collation = att->attcollation;
		columns = lappend(columns, col);
	}
	foreach(cell, keys)
	{
		SyncColumn *col = NULL;
		ListCell   *c;

		foreach(c, columns)
			if (strcmp(((SyncColumn *) lfirst(c))->name, lfirst(cell)) == 0)
				col = lfirst(c);
		if (col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not a column of both \"%s\" and \"%s\"",
							(char *) lfirst(cell), get_rel_name(ft), RelationGetRelationName(target))));
		col->is_key = true;
	}
	return columns;
}

/*
 * Opens the target of foreign table ft for writing, as its option names it,
 * and checks that a refresh may write it.
 */
Relation
hvcsv_open_target(Oid ft, const HvcsvOptions *opts)
{
	Relation	target;

	if (opts->target == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" has no target option", get_rel_name(ft))));
	target = table_openrv(hvcsv_target_rangevar(ft, opts->target), RowExclusiveLock);
	check_target_kind(target);
	check_target_owner(target, ft, hvcsv_relation_owner(ft));
	return target;
}

/* The columns a refresh of ft into target syncs (SyncColumn), the key's marked. */
List *
hvcsv_synced_columns(Oid ft, const HvcsvOptions *opts, Relation target)
{
	return synced_columns(ft, target, key_columns(target, opts->key));
}

/* The synced column named name, or an error naming what it is for. */
SyncColumn *
hvcsv_cursor_column(List *columns, const char *name, Oid ft, Relation target)
{
	ListCell   *cell;

	foreach(cell, columns)
		if (strcmp(((SyncColumn *) lfirst(cell))->name, name) == 0)
			return lfirst(cell);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("cursor column \"%s\" is not a column of both \"%s\" and \"%s\"",
					name, get_rel_name(ft), RelationGetRelationName(target))));
	return NULL;				/* keep the compiler quiet */
}

/*
 * Checks deleted_column (delete_missing 'soft'): a timestamptz column of
 * the target that the export does not fill, so that only the refresh
 * writes it.
 */
void
hvcsv_check_deleted_column(Relation target, List *columns, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(target), name);
	Form_pg_attribute att;
	ListCell   *cell;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("deleted_column \"%s\" is not a column of \"%s\"",
						name, RelationGetRelationName(target))));
	att = TupleDescAttr(RelationGetDescr(target), attnum - 1);
	if (getBaseType(att->atttypid) != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("deleted_column \"%s\" of \"%s\" must have type timestamp with time zone",
						name, RelationGetRelationName(target))));
	/* A new row is not deleted: the column starts NULL. */
	if (att->atthasdef || att->attnotnull || att->attgenerated)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
				 errmsg("deleted_column \"%s\" of \"%s\" must allow NULL and have no default",
						name, RelationGetRelationName(target)),
				 errdetail("A row the export has is marked by NULL in it.")));
	foreach(cell, columns)
		if (strcmp(((SyncColumn *) lfirst(cell))->name, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("deleted_column \"%s\" must not be a column of the foreign table too", name),
					 errdetail("The refresh alone writes it: the export must not fill it.")));
}

/* The names of synced columns. */
List *
hvcsv_synced_names(List *columns)
{
	List	   *names = NIL;
	ListCell   *cell;

	foreach(cell, columns)
		names = lappend(names, ((SyncColumn *) lfirst(cell))->name);
	return names;
}

/* The names of the key columns. */
List *
hvcsv_key_names(List *columns)
{
	List	   *names = NIL;
	ListCell   *cell;

	foreach(cell, columns)
		if (((SyncColumn *) lfirst(cell))->is_key)
			names = lappend(names, ((SyncColumn *) lfirst(cell))->name);
	return names;
}

/* Appends one option to a definition text. */
static void
append_options(StringInfo buf, const char *what, List *options)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		/* The path is part of the URL, which goes in without secrets. */
		if (strcmp(def->defname, "path") != 0)
			appendStringInfo(buf, "%s %s=%s\n", what, def->defname, defGetString(def));
	}
}

/*
 * Appends the storage of the target and of each of its partitions: a
 * TRUNCATE, VACUUM FULL or CLUSTER gives a table new storage, and what the
 * last run wrote may be gone with the old.
 */
static void
append_storage(StringInfo buf, Relation target)
{
	ListCell   *cell;

	foreach(cell, find_all_inheritors(RelationGetRelid(target), AccessShareLock, NULL))
	{
		Relation	rel = relation_open(lfirst_oid(cell), NoLock);

		appendStringInfo(buf, "storage %u %u\n", RelationGetRelid(rel),
						 rel->rd_rel->relfilenode);
		relation_close(rel, NoLock);
	}
}

/*
 * A hash of everything that decides what a run writes, but the export's
 * bytes: the URL (without secrets), whose user mapping fetches it, the
 * foreign table's options and columns, the target, its storage (and its
 * partitions') and the synced columns with their types and keys.  A run whose hash differs from the last good
 * run's compares in full and starts the cursor over.  No secret goes in.
 */
char *
hvcsv_definition_hash(Oid ft, const HvcsvOptions *opts, Relation target, List *columns)
{
	StringInfoData buf;
	Relation	ftrel = relation_open(ft, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(ftrel);
	ListCell   *cell;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[33];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	initStringInfo(&buf);
	appendStringInfo(&buf, "url %s\nowner %u\nmapping %u\ntarget %u\n", hvcsv_redact_url(opts->url),
					 hvcsv_relation_owner(ft), opts->umid, RelationGetRelid(target));
	append_options(&buf, "table", GetForeignTable(ft)->options);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (att->attisdropped)
			continue;
		appendStringInfo(&buf, "column %s %u %d %u\n", NameStr(att->attname), att->atttypid,
						 att->atttypmod, att->attcollation);
		append_options(&buf, NameStr(att->attname), GetForeignColumnOptions(ft, att->attnum));
	}
	relation_close(ftrel, AccessShareLock);
	append_storage(&buf, target);
	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		appendStringInfo(&buf, "synced %s %u %d %u %d\n", col->name, col->target_type,
						 col->target_typmod, col->target_collation, col->is_key);
	}
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) buf.data, buf.len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute a SHA-256 hash");
	pg_cryptohash_free(ctx);
	hex_encode((char *) digest, 16, hex);
	hex[32] = '\0';
	return pstrdup(hex);
}
