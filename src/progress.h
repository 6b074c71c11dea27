/*-------------------------------------------------------------------------
 * progress.h
 *	  What a refresh reports in pg_stat_progress_copy, and the count of body
 *	  bytes this process has received (progress.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_PROGRESS_H
#define HVCSV_PROGRESS_H

#include "postgres.h"

/* in progress.c */
extern void hvcsv_progress_begin(Oid relid);
extern void hvcsv_progress_end(void);
extern void hvcsv_progress_add_bytes(size_t n, int64 total);
extern void hvcsv_progress_rows(uint64 rows);
extern uint64 hvcsv_bytes_received(void);

#endif							/* HVCSV_PROGRESS_H */
