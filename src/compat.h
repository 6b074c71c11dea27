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

#include "catalog/pg_namespace.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/rel.h"

#if PG_VERSION_NUM < 150000
#error "hvcsv_fdw needs PostgreSQL 15 or later"
#endif

/* The setting that runs any parallel-safe plan in a worker; PostgreSQL 16 renamed it. */
#if PG_VERSION_NUM >= 160000
#define HVCSV_FORCE_PARALLEL_GUC "debug_parallel_query"
#else
#define HVCSV_FORCE_PARALLEL_GUC "force_parallel_mode"
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

/*
 * An INSERT's range table entry for rel and its inserted columns (bits
 * offset by FirstLowInvalidHeapAttributeNumber); PostgreSQL 16 moved the
 * permissions into an RTEPermissionInfo.
 */
#if PG_VERSION_NUM >= 160000
static inline RangeTblEntry *
hvcsv_insert_rte(Relation rel, Bitmapset *inserted, List **perminfos)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	RTEPermissionInfo *perm = makeNode(RTEPermissionInfo);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->perminfoindex = 1;
	perm->relid = rte->relid;
	perm->requiredPerms = ACL_INSERT;
	perm->insertedCols = inserted;
	*perminfos = list_make1(perm);
	return rte;
}
#else
static inline RangeTblEntry *
hvcsv_insert_rte(Relation rel, Bitmapset *inserted, List **perminfos)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = inserted;
	*perminfos = NIL;
	return rte;
}
#endif

/* Tells whether the current user may INSERT these columns of rel, as INSERT checks it. */
static inline bool
hvcsv_insert_permitted(Relation rel, Bitmapset *inserted)
{
	List	   *perminfos;
	List	   *rtable = list_make1(hvcsv_insert_rte(rel, inserted, &perminfos));

#if PG_VERSION_NUM >= 160000
	return ExecCheckPermissions(rtable, perminfos, false);
#else
	return ExecCheckRTPerms(rtable, false);
#endif
}

/* Makes rri the result relation of an INSERT into rel (locked already) in estate. */
static inline void
hvcsv_init_insert_result_relation(EState *estate, ResultRelInfo *rri, Relation rel,
								  Bitmapset *inserted)
{
	List	   *perminfos;
	List	   *rtable = list_make1(hvcsv_insert_rte(rel, inserted, &perminfos));

#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, rtable, perminfos);
#else
	ExecInitRangeTable(estate, rtable);
#endif
	ExecInitResultRelation(estate, rri, 1);
}

/* Inserts the index entries of a new row; PostgreSQL 16 added onlySummarizing. */
static inline List *
hvcsv_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

/* Tells whether role has the privileges of a relation's owner; PostgreSQL 16 generalized the check. */
static inline bool
hvcsv_relation_ownercheck(Oid relid, Oid role)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, role);
#else
	return pg_class_ownercheck(relid, role);
#endif
}

/* Tells whether role may create in a schema; PostgreSQL 16 generalized the check. */
static inline AclResult
hvcsv_schema_create_aclcheck(Oid nsp, Oid role)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(NamespaceRelationId, nsp, role, ACL_CREATE);
#else
	return pg_namespace_aclcheck(nsp, role, ACL_CREATE);
#endif
}

/* Tells whether this transaction holds exactly this lock; PostgreSQL 17 added orstronger. */
static inline bool
hvcsv_lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
}

#endif							/* HVCSV_COMPAT_H */
