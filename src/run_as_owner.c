/*-------------------------------------------------------------------------
 * run_as_owner.c
 *	  Runs a stretch of work as another role, the way PostgreSQL refreshes a
 *	  materialized view as its owner.
 *
 * A refresh writes a foreign table's target as the table's owner, and the
 * sync state as the extension's owner.  Both run under
 * SECURITY_RESTRICTED_OPERATION (no SET ROLE, no temporary objects that
 * outlive the stretch) and with search_path = pg_catalog, pg_temp, so that
 * no function or operator of a schema the caller or anyone else controls
 * is found by name: the SQL the refresh builds qualifies what is not in
 * pg_catalog.  Both are undone by a transaction abort as well.
 *
 * Who may refresh a table is decided here too: a role with the privileges
 * of the table's owner, as for REFRESH MATERIALIZED VIEW.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_db_role_setting.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "compat.h"
#include "refresh_internal.h"

/* Becomes role, restricted, in a GUC nest level that hvcsv_leave_role ends. */
static void
restrict_to(Oid role, HvcsvRoleSwitch *sw)
{
	GetUserIdAndSecContext(&sw->saved_user, &sw->saved_context);
	SetUserIdAndSecContext(role, sw->saved_context | SECURITY_RESTRICTED_OPERATION);
	sw->guc_level = NewGUCNestLevel();
}

/* Sets the search_path in which no one else's schema is searched. */
static void
set_safe_search_path(void)
{
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* Becomes role, restricted, with the safe search_path, until hvcsv_leave_role. */
void
hvcsv_enter_role(Oid role, HvcsvRoleSwitch *sw)
{
	restrict_to(role, sw);
	set_safe_search_path();
}

/*
 * Becomes role as hvcsv_enter_role does, and takes the settings that a new
 * session of role would have from ALTER ROLE ... SET (in this database,
 * then in all), so that the export's values are read (DateStyle, TimeZone,
 * ...) as its owner reads them, whoever calls.  The search_path stays the
 * safe one.
 */
void
hvcsv_enter_owner(Oid role, HvcsvRoleSwitch *sw)
{
	Relation	settings;
	Snapshot	snapshot;

	restrict_to(role, sw);
	settings = table_open(DbRoleSettingRelationId, AccessShareLock);
	snapshot = RegisterSnapshot(GetCatalogSnapshot(DbRoleSettingRelationId));
	/*
	 * The later wins: the database's setting for the role over the role's.
	 * At the rank of a role's settings, over those of the role the worker
	 * logged in as; a bad value is a WARNING, as at login.
	 */
	ApplySetting(snapshot, InvalidOid, role, settings, PGC_S_DATABASE_USER);
	ApplySetting(snapshot, MyDatabaseId, role, settings, PGC_S_DATABASE_USER);
	UnregisterSnapshot(snapshot);
	table_close(settings, AccessShareLock);
	set_safe_search_path();
}

/* Returns to the role and settings that hvcsv_enter_role found. */
void
hvcsv_leave_role(const HvcsvRoleSwitch *sw)
{
	AtEOXact_GUC(false, sw->guc_level);
	SetUserIdAndSecContext(sw->saved_user, sw->saved_context);
}

/* The owner of a relation, or InvalidOid if it is gone. */
Oid
hvcsv_relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Tells whether role may refresh a foreign table: it has its owner's privileges. */
bool
hvcsv_may_refresh(Oid foreign_table, Oid role)
{
	return hvcsv_relation_ownercheck(foreign_table, role);
}
