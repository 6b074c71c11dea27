/*-------------------------------------------------------------------------
 * sync_statement.c
 *	  The SQL a refresh runs on a target, and the one reader of its result
 *	  row.
 *
 * The statements run as the foreign table's owner with search_path =
 * pg_catalog, pg_temp (run_as_owner.c), so nothing in them may depend on
 * finding a name through the search path: identifiers are quoted and
 * qualified, types are written with their schema, and every comparison
 * names its operator with its schema (the type's default equality or
 * ordering operator, from the type cache), so a column of a type from
 * another schema compares with its own operator, and an operator that
 * someone else created can never be picked.  Where the foreign table's
 * column type differs from the target's, the export's value is cast to the
 * target's type (without typmod, so that nothing is cut) before it is
 * compared.  Values go only as parameters.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "refresh_internal.h"

/* A relation's name, quoted and qualified with its schema, for a statement. */
char *
hvcsv_qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* Joins column names, quoted, with a prefix before each. */
char *
hvcsv_name_list(List *names, const char *prefix)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, names)
		appendStringInfo(&buf, "%s%s%s", buf.len ? ", " : "", prefix,
						 quote_identifier(lfirst(cell)));
	return buf.data;
}

/* Tells whether names (of char *) holds name. */
bool
hvcsv_has_name(List *names, const char *name)
{
	ListCell   *cell;

	foreach(cell, names)
		if (strcmp(lfirst(cell), name) == 0)
			return true;
	return false;
}

/* A name for a column that the statements add to the synced ones, taken by none of names. */
char *
hvcsv_free_column_name(List *names)
{
	char	   *name = "key_stored";

	while (hvcsv_has_name(names, name))
		name = psprintf("%s_", name);
	return name;
}

/* The names of some synced columns: the keys, the others, or all. */
typedef enum ColumnSet
{
	KEY_COLUMNS,
	VALUE_COLUMNS,
	ALL_COLUMNS
} ColumnSet;

static List *
column_names(List *columns, ColumnSet which)
{
	List	   *names = NIL;
	ListCell   *cell;

	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		if (which == ALL_COLUMNS || col->is_key == (which == KEY_COLUMNS))
			names = lappend(names, col->name);
	}
	return names;
}

/* A type's name with its schema, without typmod. */
static char *
qualified_type(Oid type)
{
	return format_type_extended(type, -1, FORMAT_TYPE_FORCE_QUALIFY);
}

/* "OPERATOR(schema.op)" for an operator. */
static char *
qualified_operator(Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * The default operator of a column's target type for a btree strategy:
 * equality, or the ordering operators the cursor needs.
 */
static char *
column_operator(const SyncColumn *col, int strategy)
{
	TypeCacheEntry *tce = lookup_type_cache(col->target_type,
											TYPECACHE_EQ_OPR | TYPECACHE_BTREE_OPFAMILY);
	bool		equality = strategy == BTEqualStrategyNumber;
	Oid			opno = equality ? tce->eq_opr :
		OidIsValid(tce->btree_opf) ?
		get_opfamily_member(tce->btree_opf, tce->btree_opintype, tce->btree_opintype, strategy) :
		InvalidOid;

	if (!OidIsValid(opno))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s of column \"%s\" has no default %s operator",
						format_type_be(col->target_type), col->name,
						equality ? "equality" : "ordering"),
				 errdetail("A refresh compares the export's values with the target's to find what changed%s.",
						   equality ? "" : ", and orders the cursor column's values"),
				 errhint("Give the column a type with a default btree operator class (jsonb instead of json, for example).")));
	return qualified_operator(opno);
}

/*
 * ref, a value from the export, as the target would compare it: cast to the
 * target's type when the foreign table's differs (without typmod, so that
 * nothing is cut, unless with_typmod), and in the target's collation when
 * that differs (the target's unique index and the cursor mark use it).
 */
static char *
as_target(const SyncColumn *col, char *ref, bool with_typmod)
{
	if (with_typmod && col->target_typmod >= 0 &&
		(col->source_type != col->target_type || col->source_typmod != col->target_typmod))
		ref = psprintf("CAST(%s AS %s)", ref,
					   format_type_extended(col->target_type, col->target_typmod,
											FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
	else if (col->source_type != col->target_type)
		ref = psprintf("CAST(%s AS %s)", ref, qualified_type(col->target_type));
	if (OidIsValid(col->target_collation) && col->target_collation != col->source_collation)
		ref = psprintf("(%s COLLATE %s)", ref, generate_collation_name(col->target_collation));
	return ref;
}

/*
 * The value of a column, alias.column, as the target would compare it when
 * it comes from the export (from_export).
 */
static char *
column_value(const SyncColumn *col, const char *alias, bool from_export)
{
	char	   *ref = psprintf("%s.%s", alias, quote_identifier(col->name));

	return from_export ? as_target(col, ref, false) : ref;
}

/*
 * The cursor column's value from the export as the target will store it,
 * with the target's typmod too.  A typmod can round up (timestamptz(0),
 * numeric(10,2)), and the mark is a stored value: compared unrounded, a row
 * that ties with the mark once stored would fall below the bound and never
 * be read.
 */
static char *
cursor_value(const SyncColumn *col, const char *alias)
{
	return as_target(col, psprintf("%s.%s", alias, quote_identifier(col->name)), true);
}

/* "t.c = s.c" for one column; right is the export's side if right_is_export. */
static char *
equal_expr(const SyncColumn *col, const char *left, const char *right, bool right_is_export)
{
	return psprintf("%s %s %s", column_value(col, left, false), column_operator(col, BTEqualStrategyNumber),
					column_value(col, right, right_is_export));
}

/*
 * Appends "the rows agree on these columns": each pair equal, or both NULL,
 * joined by AND; with negate, "the rows differ", as IS DISTINCT FROM would.
 */
static void
append_not_distinct(StringInfo sql, List *columns, ColumnSet which, const char *left,
					const char *right, bool right_is_export, bool negate)
{
	ListCell   *cell;
	bool		first = true;

	appendStringInfoString(sql, negate ? "NOT (" : "(");
	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		if (which != ALL_COLUMNS && col->is_key != (which == KEY_COLUMNS))
			continue;
		appendStringInfo(sql, "%sCOALESCE(%s, %s IS NULL AND %s IS NULL)", first ? "" : " AND ",
						 equal_expr(col, left, right, right_is_export),
						 column_value(col, left, false), column_value(col, right, right_is_export));
		first = false;
	}
	appendStringInfoChar(sql, ')');
}

/* Appends "s.k1 = t.k1 AND ..." for the key columns. */
static void
append_key_match(StringInfo sql, List *columns)
{
	ListCell   *cell;
	bool		first = true;

	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		if (!col->is_key)
			continue;
		appendStringInfo(sql, "%s%s", first ? "" : " AND ", equal_expr(col, "t", "s", true));
		first = false;
	}
}

/*
 * For a cursor type with values above every ordinary one (NaN and
 * infinity of numbers, infinity of dates and timestamps): "value is one of
 * them", or NULL for other types.  Such a value as the mark would leave no
 * row above it, and the cursor would stop; they are read in every run, as
 * NULL cursors are, and never become the mark.
 */
static char *
cursor_unbounded(const SyncPlan *plan, const char *value)
{
	const SyncColumn *cursor = plan->cursor;
	char	   *type = qualified_type(cursor->target_type);
	char	   *eq = column_operator(cursor, BTEqualStrategyNumber);

	switch (getBaseType(cursor->target_type))
	{
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return psprintf("(%s %s CAST('NaN' AS %s) OR %s %s CAST('Infinity' AS %s))",
							value, eq, type, value, eq, type);
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return psprintf("(%s %s CAST('infinity' AS %s))", value, eq, type);
		default:
			return NULL;
	}
}

/*
 * The cursor filter: rows at or above the bound ($1: the last run's mark
 * less cursor_lag), and rows without an ordinary cursor value, or all
 * without a bound.  The bound is inclusive: rows that share the mark's
 * value may come after the last run, and rows read again are compared, not
 * rewritten.
 */
static char *
cursor_filter(const SyncPlan *plan)
{
	char	   *value = cursor_value(plan->cursor, "f");
	char	   *unbounded = cursor_unbounded(plan, value);

	return psprintf(" WHERE $1 IS NULL OR %s IS NULL OR %s%s%s %s $1", value,
					unbounded ? unbounded : "", unbounded ? " OR " : "", value,
					column_operator(plan->cursor, BTGreaterEqualStrategyNumber));
}

/* The largest ordinary cursor value of rows, as the target stores it. */
static char *
cursor_max(const SyncPlan *plan, const char *rows, const char *column_expr)
{
	char	   *unbounded = cursor_unbounded(plan, column_expr);

	return psprintf("(SELECT %s FROM %s WHERE %s IS NOT NULL%s%s ORDER BY %s USING %s LIMIT 1)",
					column_expr, rows, column_expr, unbounded ? " AND NOT " : "",
					unbounded ? unbounded : "", column_expr,
					column_operator(plan->cursor, BTGreaterStrategyNumber));
}

/* How many rows have no cursor value, for cursor_nulls 'error'. */
static char *
cursor_nulls(const SyncPlan *plan, const char *rows, const char *column_expr)
{
	return psprintf("(SELECT pg_catalog.count(*) FROM %s WHERE %s IS NULL)", rows, column_expr);
}

/* Appends the CTE "src": the export, past the cursor. */
static void
append_export(StringInfo sql, const SyncPlan *plan)
{
	appendStringInfo(sql, "src AS (SELECT %s FROM %s f",
					 hvcsv_name_list(column_names(plan->columns, ALL_COLUMNS), "f."),
					 plan->foreign_table);
	if (plan->cursor)
		appendStringInfoString(sql, cursor_filter(plan));
	appendStringInfoChar(sql, ')');
}

/*
 * The column of "changed" that tells, for a sharded target, whether the
 * row's key is stored.
 */
static const char *
stored_flag(const SyncPlan *plan)
{
	return quote_identifier(hvcsv_free_column_name(column_names(plan->columns, ALL_COLUMNS)));
}

/*
 * Appends the CTE "changed" for a sharded target: each export row that
 * differs from the stored one, flagged by whether its key is stored, in one
 * pass over the target (a foreign partition's rows cross the network once).
 */
static void
append_changed_sharded(StringInfo sql, const SyncPlan *plan, List *values)
{
	const char *first_key = quote_identifier(linitial(column_names(plan->columns, KEY_COLUMNS)));

	appendStringInfo(sql, ", changed AS (SELECT s.*, t.%s IS NOT NULL AS %s FROM src s LEFT JOIN %s t ON ",
					 first_key, stored_flag(plan), plan->target);
	append_key_match(sql, plan->columns);
	appendStringInfo(sql, " WHERE t.%s IS NULL", first_key);
	if (values != NIL)
	{
		appendStringInfoString(sql, " OR ");
		append_not_distinct(sql, plan->columns, VALUE_COLUMNS, "t", "s", true, true);
	}
	/* A row marked deleted that the export has again has changed. */
	if (plan->deleted_column)
		appendStringInfo(sql, " OR t.%s IS NOT NULL", quote_identifier(plan->deleted_column));
	appendStringInfoChar(sql, ')');
}

/* Appends the CTEs "src" (the export past the cursor) and "changed". */
static void
append_source(StringInfo sql, const SyncPlan *plan, List *values)
{
	if (plan->kept)
	{
		appendStringInfo(sql, "WITH changed AS (SELECT * FROM %s)", plan->kept->from);
		return;
	}
	appendStringInfoString(sql, "WITH ");
	append_export(sql, plan);
	if (plan->sharded)
	{
		append_changed_sharded(sql, plan, values);
		return;
	}
	appendStringInfo(sql, ", changed AS (SELECT * FROM src s WHERE NOT EXISTS "
					 "(SELECT FROM %s t WHERE ", plan->target);
	append_key_match(sql, plan->columns);
	if (values != NIL)
	{
		appendStringInfoString(sql, " AND ");
		append_not_distinct(sql, plan->columns, VALUE_COLUMNS, "t", "s", true, false);
	}
	/* A row marked deleted that the export has again has changed. */
	if (plan->deleted_column)
		appendStringInfo(sql, " AND t.%s IS NULL", quote_identifier(plan->deleted_column));
	appendStringInfoString(sql, "))");
}

/* ", deleted = NULL" when deletes are soft: a row the export has is not deleted. */
static char *
undelete(const SyncPlan *plan, bool first)
{
	if (plan->deleted_column == NULL)
		return "";
	return psprintf("%s%s = NULL", first ? "" : ", ", quote_identifier(plan->deleted_column));
}

/*
 * Appends, for a sharded target, "AND t.k = ANY (the values of k in rows
 * r)" for each key column.  An UPDATE or DELETE of a foreign partition
 * fetches the rows it may write FOR UPDATE; postgres_fdw sends this
 * condition along (the array as a parameter), so that only those rows are
 * fetched and locked on the remote server, not every row of it.  With
 * several key columns the rows fetched may be more, never fewer.
 */
static void
append_keys_among(StringInfo sql, const SyncPlan *plan, const char *rows, bool from_export)
{
	ListCell   *cell;

	foreach(cell, plan->columns)
	{
		SyncColumn *col = lfirst(cell);

		if (col->is_key)
			appendStringInfo(sql, " AND t.%s %s ANY (ARRAY(SELECT %s FROM %s))",
							 quote_identifier(col->name), column_operator(col, BTEqualStrategyNumber),
							 column_value(col, "r", from_export), rows);
	}
}

/* Appends the CTE "updated": changed rows whose key is stored, updated in place. */
static void
append_update(StringInfo sql, const SyncPlan *plan, List *values)
{
	StringInfoData sets;
	ListCell   *cell;

	initStringInfo(&sets);
	foreach(cell, values)
		appendStringInfo(&sets, "%s%s = s.%s", sets.len ? ", " : "",
						 quote_identifier(lfirst(cell)), quote_identifier(lfirst(cell)));
	appendStringInfo(sql, ", updated AS (UPDATE %s AS t SET %s%s FROM changed s WHERE ",
					 plan->target, sets.data, undelete(plan, sets.len == 0));
	append_key_match(sql, plan->columns);
	if (plan->sharded)
	{
		appendStringInfo(sql, " AND s.%s", stored_flag(plan));
		append_keys_among(sql, plan, psprintf("changed r WHERE r.%s", stored_flag(plan)), true);
	}
	if (plan->kept)
	{
		appendStringInfo(sql, " AND s.%s AND ", quote_identifier(plan->kept->mark));
		append_not_distinct(sql, plan->columns, VALUE_COLUMNS, "t", "s", true, true);
	}
	appendStringInfoString(sql, " RETURNING 1)");
}

/*
 * Appends the CTE "upserted": new keys inserted; one that another session
 * inserted meanwhile is upserted.  A kept row marked stored whose key the
 * update did not find (its key hash was another's, or its key is stored in
 * another binary form) is looked up in the target, but only if the update
 * missed any.
 */
static void
append_insert(StringInfo sql, const SyncPlan *plan, List *values)
{
	List	   *all = column_names(plan->columns, ALL_COLUMNS);
	ListCell   *cell;
	bool		first = true;

	appendStringInfo(sql, ", upserted AS (INSERT INTO %s AS t (%s) SELECT %s FROM changed s WHERE ",
					 plan->target, hvcsv_name_list(all, ""), hvcsv_name_list(all, "s."));
	if (plan->kept)
	{
		appendStringInfo(sql, "NOT s.%s OR (", quote_identifier(plan->kept->mark));
		if (values != NIL)
			appendStringInfo(sql, "(SELECT pg_catalog.count(*) FROM updated) OPERATOR(pg_catalog.<) "
							 UINT64_FORMAT " AND ", plan->kept->marked);
	}
	appendStringInfo(sql, "NOT EXISTS (SELECT FROM %s t WHERE ", plan->target);
	append_key_match(sql, plan->columns);
	appendStringInfo(sql, ")%s ON CONFLICT (%s) ", plan->kept ? ")" : "",
					 hvcsv_name_list(column_names(plan->columns, KEY_COLUMNS), ""));
	if (values == NIL && plan->deleted_column == NULL)
		appendStringInfoString(sql, "DO NOTHING");
	else
	{
		appendStringInfoString(sql, "DO UPDATE SET ");
		foreach(cell, values)
		{
			appendStringInfo(sql, "%s%s = EXCLUDED.%s", first ? "" : ", ",
							 quote_identifier(lfirst(cell)), quote_identifier(lfirst(cell)));
			first = false;
		}
		appendStringInfo(sql, "%s WHERE ", undelete(plan, first));
		if (values != NIL)
			append_not_distinct(sql, plan->columns, VALUE_COLUMNS, "t", "EXCLUDED", false, true);
		if (plan->deleted_column)
			appendStringInfo(sql, "%st.%s IS NOT NULL", values != NIL ? " OR " : "",
							 quote_identifier(plan->deleted_column));
	}
	appendStringInfoString(sql, " RETURNING (t.xmax OPERATOR(pg_catalog.=) 0) AS inserted)");
}

/*
 * Appends the CTE "inserted" of a sharded target: the new keys, by a plain
 * INSERT routed to their partitions.  A foreign partition takes no ON
 * CONFLICT, and one with batch_size is sent its rows in batches only by an
 * INSERT without RETURNING.  A key that another session stored meanwhile
 * is a unique violation of its partition, which fails the run.
 */
static void
append_new_keys(StringInfo sql, const SyncPlan *plan)
{
	List	   *all = column_names(plan->columns, ALL_COLUMNS);

	appendStringInfo(sql, ", inserted AS (INSERT INTO %s (%s) SELECT %s FROM changed s WHERE NOT s.%s)",
					 plan->target, hvcsv_name_list(all, ""), hvcsv_name_list(all, "s."),
					 stored_flag(plan));
}

/* The result row's counts of rows inserted and updated, its second and third columns. */
static char *
written_counts(const SyncPlan *plan, bool updates)
{
	const char *updated = updates ? "(SELECT pg_catalog.count(*) FROM updated)" : NULL;

	/* The insert has no RETURNING: it writes exactly its rows, or fails. */
	if (plan->sharded)
		return psprintf("(SELECT pg_catalog.count(*) FROM changed WHERE NOT %s), %s",
						stored_flag(plan), updated ? updated : "0::pg_catalog.int8");
	return psprintf("(SELECT pg_catalog.count(*) FROM upserted WHERE inserted), "
					"(SELECT pg_catalog.count(*) FROM upserted WHERE NOT inserted)%s%s",
					updated ? " OPERATOR(pg_catalog.+) " : "", updated ? updated : "");
}

/* Appends the condition of the target rows t that delete_missing deletes or marks. */
static void
append_missing(StringInfo sql, const SyncPlan *plan)
{
	if (plan->deleted_column)
		appendStringInfo(sql, "t.%s IS NULL AND ", quote_identifier(plan->deleted_column));
	appendStringInfoString(sql, "NOT EXISTS (SELECT FROM src s WHERE ");
	append_key_match(sql, plan->columns);
	appendStringInfoChar(sql, ')');
}

/*
 * Appends the CTE "deleted": target rows whose key the export lacks are
 * deleted, or with soft deletes marked with the run's time, once.  A
 * sharded target's are found first ("missing"), so that only they are
 * fetched to be written (see append_keys_among).
 */
static void
append_delete(StringInfo sql, const SyncPlan *plan)
{
	if (plan->sharded)
	{
		appendStringInfo(sql, ", missing AS (SELECT %s FROM %s t WHERE ",
						 hvcsv_name_list(column_names(plan->columns, KEY_COLUMNS), "t."),
						 plan->target);
		append_missing(sql, plan);
		appendStringInfoChar(sql, ')');
	}
	if (plan->deleted_column)
		appendStringInfo(sql, ", deleted AS (UPDATE %s t SET %s = pg_catalog.now() WHERE ",
						 plan->target, quote_identifier(plan->deleted_column));
	else
		appendStringInfo(sql, ", deleted AS (DELETE FROM %s t WHERE ", plan->target);
	append_missing(sql, plan);
	if (plan->sharded)
		append_keys_among(sql, plan, "missing r", false);
	appendStringInfoString(sql, " RETURNING 1)");
}

/* The target's rows the delete guard weighs deletes against: those not marked deleted. */
static char *
target_rows(const SyncPlan *plan)
{
	if (plan->deleted_column)
		return psprintf("(SELECT pg_catalog.count(*) FROM %s WHERE %s IS NULL)", plan->target,
						quote_identifier(plan->deleted_column));
	return psprintf("(SELECT pg_catalog.count(*) FROM %s)", plan->target);
}

/*
 * Builds the statement that syncs one table, in one pass over the export:
 * src is the export (rows past the cursor, if any), or else the rows of it
 * that the row filter kept (plan->kept); changed is what differs from the
 * target; updated and upserted write it; deleted removes rows the export
 * lacks.  Its one result row is what hvcsv_read_sync_result decodes: the
 * rows read (0 when the key watch counts them), inserted, updated, the
 * largest cursor value, deleted, the target's size before the run (for the
 * delete guard; 0 without delete_missing), whether a key came twice
 * (false when the key watch checks that) and how many rows have no cursor
 * value.  A sharded target's changed rows are flagged by whether their
 * key is stored, and new keys are inserted without ON CONFLICT.
 */
char *
hvcsv_sync_statement(const SyncPlan *plan)
{
	StringInfoData sql;
	List	   *values = column_names(plan->columns, VALUE_COLUMNS);
	char	   *keys = hvcsv_name_list(column_names(plan->columns, KEY_COLUMNS), "");
	bool		updates = values != NIL || plan->deleted_column != NULL;

	/* The row filter reads only a plain table's rows (row_filter.c). */
	Assert(plan->kept == NULL || !plan->sharded);
	initStringInfo(&sql);
	/*
	 * Rows equal to the stored ones are dropped before the upsert: ON
	 * CONFLICT would lock (and WAL-log) each of them before its WHERE.
	 */
	append_source(&sql, plan, values);
	/* Updating in place spares an upsert's row lock, a WAL record per row. */
	if (updates)
		append_update(&sql, plan, values);
	if (plan->sharded)
		append_new_keys(&sql, plan);
	else
		append_insert(&sql, plan, values);
	if (plan->delete_missing)
		append_delete(&sql, plan);
	/*
	 * ON CONFLICT catches a key twice only when both copies are written; a
	 * first copy equal to the stored row is not, so look for twins too.
	 */
	appendStringInfo(&sql, " SELECT %s, %s, %s, %s, %s, %s, %s",
					 plan->watched ? "0::pg_catalog.int8" : "(SELECT pg_catalog.count(*) FROM src)",
					 written_counts(plan, updates),
					 plan->cursor ? cursor_max(plan, "src s", cursor_value(plan->cursor, "s")) : "NULL",
					 plan->delete_missing ? "(SELECT pg_catalog.count(*) FROM deleted)" : "0::pg_catalog.int8",
	/* the target's size matters only to the delete guard */
					 plan->delete_missing ? target_rows(plan) : "0::pg_catalog.int8",
					 plan->watched ? "false" :
					 psprintf("EXISTS (SELECT FROM src GROUP BY %s HAVING pg_catalog.count(*) "
							  "OPERATOR(pg_catalog.>) 1)", keys),
					 plan->cursor ? cursor_nulls(plan, "src s", cursor_value(plan->cursor, "s")) :
					 "0::pg_catalog.int8");
	return sql.data;
}

/*
 * The load statement of a sharded target: the INSERT has no RETURNING, so
 * that postgres_fdw sends each foreign partition its rows in batches of
 * its batch_size; the counts come from the rows read instead, which it
 * inserts all or fails.
 */
static char *
load_sharded(const SyncPlan *plan)
{
	StringInfoData sql;
	List	   *all = column_names(plan->columns, ALL_COLUMNS);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH ");
	append_export(&sql, plan);
	appendStringInfo(&sql, ", loaded AS (INSERT INTO %s (%s) SELECT %s FROM src s) "
					 "SELECT pg_catalog.count(*), pg_catalog.count(*), 0::pg_catalog.int8, %s, "
					 "0::pg_catalog.int8, 0::pg_catalog.int8, false, %s FROM src",
					 plan->target, hvcsv_name_list(all, ""), hvcsv_name_list(all, "s."),
					 plan->cursor ? cursor_max(plan, "src s", cursor_value(plan->cursor, "s")) : "NULL",
					 plan->cursor ? cursor_nulls(plan, "src s", cursor_value(plan->cursor, "s")) :
					 "0::pg_catalog.int8");
	return sql.data;
}

/*
 * Builds the statement for a target that is empty: a plain INSERT, with
 * the same result row as hvcsv_sync_statement.  Nothing can conflict or be
 * unchanged, so no upsert is needed; a key twice in the export is a unique
 * violation of the key.
 */
char *
hvcsv_load_statement(const SyncPlan *plan)
{
	StringInfoData sql;
	List	   *all = column_names(plan->columns, ALL_COLUMNS);

	if (plan->sharded)
		return load_sharded(plan);
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH loaded AS (INSERT INTO %s (%s) SELECT %s FROM %s f",
					 plan->target, hvcsv_name_list(all, ""), hvcsv_name_list(all, "f."),
					 plan->foreign_table);
	if (plan->cursor)
		appendStringInfoString(&sql, cursor_filter(plan));
	appendStringInfo(&sql, " RETURNING %s AS cursor) "
					 "SELECT pg_catalog.count(*), pg_catalog.count(*), 0::pg_catalog.int8, %s, "
					 "0::pg_catalog.int8, 0::pg_catalog.int8, false, %s FROM loaded",
					 plan->cursor ? quote_identifier(plan->cursor->name) : "NULL",
					 plan->cursor ? cursor_max(plan, "loaded", "cursor") : "NULL",
					 plan->cursor ? cursor_nulls(plan, "loaded", "cursor") : "0::pg_catalog.int8");
	return sql.data;
}

/* Decodes the result row of hvcsv_sync_statement or hvcsv_load_statement. */
void
hvcsv_read_sync_result(SyncResultRow *row)
{
	HeapTuple	tup = SPI_tuptable->vals[0];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	Datum		cursor_max;

	row->rows_read = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	row->inserted = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	row->updated = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	cursor_max = SPI_getbinval(tup, desc, 4, &isnull);
	row->cursor_max = isnull ? NULL : hvcsv_mark_to_text(cursor_max, SPI_gettypeid(desc, 4));
	row->deleted = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	row->target_rows = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
	row->duplicate = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
	row->null_cursors = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
}

/*
 * The FROM item that reads back the rows the row filter kept: they have
 * the foreign table's column types, then the mark.
 */
char *
hvcsv_kept_rows_from(const char *function, List *columns, const char *mark)
{
	StringInfoData from;
	ListCell   *cell;

	initStringInfo(&from);
	appendStringInfo(&from, "%s() AS changed_rows(", function);
	foreach(cell, columns)
	{
		SyncColumn *col = lfirst(cell);

		appendStringInfo(&from, "%s %s, ", quote_identifier(col->name),
						 format_type_extended(col->source_type, col->source_typmod,
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
	}
	appendStringInfo(&from, "%s pg_catalog.bool)", quote_identifier(mark));
	return from.data;
}

/* A query for one key that is in the export more than once, as text. */
char *
hvcsv_duplicate_key_query(const char *foreign_table, List *keys)
{
	char	   *names = hvcsv_name_list(keys, "");

	return psprintf("SELECT (%s)::pg_catalog.text FROM %s GROUP BY %s "
					"HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1",
					names, foreign_table, names);
}
