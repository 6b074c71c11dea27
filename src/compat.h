/*-------------------------------------------------------------------------
 * compat.h
 *	  Every difference between PostgreSQL versions that hvcsv_fdw meets.
 *
 * The code elsewhere calls these names only, so a new server version means
 * a change here and nowhere else.  Built and tested on PostgreSQL 15.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_COMPAT_H
#define HVCSV_COMPAT_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "parser/parsetree.h"
#include "utils/regproc.h"

#if PG_VERSION_NUM < 150000
#error "hvcsv_fdw needs PostgreSQL 15 or later"
#endif

/* PostgreSQL 16 declares the module initializer in fmgr.h. */
#if PG_VERSION_NUM < 160000
extern PGDLLEXPORT void _PG_init(void);
#endif

/* The role whose user mapping a foreign scan uses (views run as their owner). */
static inline Oid
hvcsv_scan_user(ForeignScanState *node)
{
	EState	   *estate = node->ss.ps.state;
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;

#if PG_VERSION_NUM >= 160000
	return OidIsValid(plan->checkAsUser) ? plan->checkAsUser : GetUserId();
#else
	RangeTblEntry *rte = exec_rt_fetch(plan->scan.scanrelid, estate);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

/* Splits "schema.table" into a name list; PostgreSQL 16 added a soft-error argument. */
static inline List *
hvcsv_qualified_name_list(const char *name)
{
#if PG_VERSION_NUM >= 160000
	return stringToQualifiedNameList(name, NULL);
#else
	return stringToQualifiedNameList(name);
#endif
}

#endif							/* HVCSV_COMPAT_H */
