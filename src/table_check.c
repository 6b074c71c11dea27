/*-------------------------------------------------------------------------
 * table_check.c
 *	  What makes a foreign table one of hvcsv_fdw's, and the checks of a
 *	  table's options that need its columns.
 *
 * The options validator sees only the options, not the table they belong
 * to, so an option that names a column (cursor_column) would otherwise be
 * checked only when a refresh first needs it, perhaps weeks later.  The
 * ddl_command_end event trigger hvcsv_check_foreign_table() checks it when
 * the table is created, imported or altered (a column renamed or dropped
 * included, on the table or on a parent of it), and the statement fails
 * there.  A restore (pg_dump's scripts set check_function_bodies off, as
 * PostgreSQL's own validators heed) only warns: a table that an older
 * version accepted must not be lost on the way in.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "hvcsv_fdw.h"

PG_FUNCTION_INFO_V1(hvcsv_check_foreign_table);

/*
 * Tells whether relid is a foreign table whose wrapper's handler is the
 * extension's (whatever the wrapper is called).  Other wrappers' handlers
 * are never called or loaded to find out.
 */
bool
hvcsv_is_own_foreign_table(Oid relid)
{
	Oid			extension = get_extension_oid("hvcsv_fdw", true);
	Oid			handler;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE || !OidIsValid(extension))
		return false;
	handler = GetForeignDataWrapper(GetForeignServer(GetForeignTable(relid)->serverid)->fdwid)->fdwhandler;
	return OidIsValid(handler) &&
		getExtensionOfObject(ProcedureRelationId, handler) == extension;
}

/* Checks that a foreign table's cursor_column is one of its columns, of a type that sorts. */
static void
check_cursor_column(Oid relid)
{
	int			elevel = check_function_bodies ? ERROR : WARNING;
	ListCell   *cell;

	foreach(cell, GetForeignTable(relid)->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		AttrNumber	attnum;
		Oid			type;

		if (strcmp(def->defname, "cursor_column") != 0)
			continue;
		attnum = get_attnum(relid, defGetString(def));
		/* A system column is not in the export. */
		if (attnum <= 0)
		{
			ereport(elevel,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("cursor_column \"%s\" is not a column of foreign table \"%s\"",
							defGetString(def), get_rel_name(relid)),
					 errhint("Name a column of the foreign table, and of its target, whose values only grow, such as a modification time.")));
			continue;
		}
		type = get_atttype(relid, attnum);
		if (!OidIsValid(lookup_type_cache(type, TYPECACHE_LT_OPR)->lt_opr))
			ereport(elevel,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("cursor_column \"%s\" of foreign table \"%s\" has type %s, which has no ordering",
							defGetString(def), get_rel_name(relid), format_type_be(type)),
					 errhint("A cursor keeps the largest value synced, so its type needs a default btree operator class.")));
	}
}

/*
 * Checks the foreign tables of ours among relid and the tables that inherit
 * from it: a column renamed or dropped on a parent goes from them too.
 */
static void
check_table_and_children(Oid relid)
{
	ListCell   *cell;

	foreach(cell, find_all_inheritors(relid, NoLock, NULL))
		if (hvcsv_is_own_foreign_table(lfirst_oid(cell)))
			check_cursor_column(lfirst_oid(cell));
}

/*
 * The ddl_command_end event trigger: checks each foreign table of ours that
 * the command created, imported or altered.
 */
Datum
hvcsv_check_foreign_table(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("hvcsv_check_foreign_table() must be called as an event trigger")));
	SPI_connect();
	if (SPI_execute("SELECT DISTINCT objid FROM pg_catalog.pg_event_trigger_ddl_commands() "
					"WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the commands of the event");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull && get_rel_relkind(relid) != '\0')
			check_table_and_children(relid);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
