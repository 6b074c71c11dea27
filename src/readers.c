/*-------------------------------------------------------------------------
 * readers.c
 *	  The readers by kind: the one place that knows them all.
 *
 * The reader is chosen at plan time (the reader option, or a refresh's
 * whole read); the scan only follows the routine table it is given, so the
 * scan and the readers do not call each other both ways.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "scan.h"

/* Returns the routine table of a reader. */
const HvcsvReaderRoutine *
hvcsv_reader_routine(HvcsvReaderKind kind)
{
	switch (kind)
	{
		case HVCSV_READER_PROJECTED:
			return &hvcsv_projected_reader;
		case HVCSV_READER_PARTITIONED:
			return &hvcsv_partitioned_reader;
		case HVCSV_READER_STREAMING:
			return &hvcsv_streaming_reader;
	}
	elog(ERROR, "unknown hvcsv_fdw reader %d", (int) kind);
	return NULL;
}
