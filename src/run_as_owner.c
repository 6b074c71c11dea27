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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "refresh_internal.h"

/* Becomes role, restricted, with the safe search_path, until hvcsv_leave_role. */
void
hvcsv_enter_role(Oid role, HvcsvRoleSwitch *sw)
{
	GetUserIdAndSecContext(&sw->saved_user, &sw->saved_context);
	SetUserIdAndSecContext(role, sw->saved_context | SECURITY_RESTRICTED_OPERATION);
	sw->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* Returns to the role and settings that hvcsv_enter_role found. */
void
hvcsv_leave_role(const HvcsvRoleSwitch *sw)
{
	AtEOXact_GUC(false, sw->guc_level);
	SetUserIdAndSecContext(sw->saved_user, sw->saved_context);
}
