/*-------------------------------------------------------------------------
 * locks.h
 *	  The advisory lock classes of hvcsv_fdw and how their tags are made.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_LOCKS_H
#define HVCSV_LOCKS_H

#include "postgres.h"

#include "miscadmin.h"
#include "storage/lock.h"

/*
 * hvcsv_fdw's locks are advisory locks in classes of their own (what
 * pg_advisory_lock uses is 1 and 2), so they show in pg_locks and never
 * collide with an application's advisory locks.
 */
#define HVCSV_SPOOL_LOCK_CLASS		0x4856
#define HVCSV_REFRESH_LOCK_CLASS	0x4857
#define HVCSV_SPOOL_USE_LOCK_CLASS	0x4858	/* a spool in use (see spool.c) */

/* Fills an advisory lock tag of this database, as SET_LOCKTAG_ADVISORY does. */
static inline void
hvcsv_advisory_locktag(LOCKTAG *tag, uint32 key1, uint32 key2, uint16 lock_class)
{
	memset(tag, 0, sizeof(*tag));
	tag->locktag_field1 = MyDatabaseId;
	tag->locktag_field2 = key1;
	tag->locktag_field3 = key2;
	tag->locktag_field4 = lock_class;
	tag->locktag_type = LOCKTAG_ADVISORY;
	tag->locktag_lockmethodid = USER_LOCKMETHOD;
}

/* The lock that one refresh of a foreign table holds, and hvcsv_reset() too. */
static inline void
hvcsv_refresh_locktag(LOCKTAG *tag, Oid foreign_table)
{
	hvcsv_advisory_locktag(tag, foreign_table, 0, HVCSV_REFRESH_LOCK_CLASS);
}

#endif							/* HVCSV_LOCKS_H */
