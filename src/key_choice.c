/*-------------------------------------------------------------------------
 * key_choice.c
 *	  on_duplicate_key 'first' or 'last': which of the export's rows that
 *	  share a key a refresh keeps.
 *
 * Rows are told apart by their byte offset in the export, which orders
 * them as the file does whichever process reads them, so the choice is the
 * same in a parallel scan.  It takes two reads of the export.  The survey
 * reads only the key columns and keeps, per key hash, the offset of the
 * first row (or the last) and whether the key came again.  Then the sets
 * of the keys that came again and of their chosen rows' offsets are all
 * that is kept, and the refresh's own read drops every other row of those
 * keys.  Both sets can be copied into a parallel scan's shared memory.
 *
 * Keys are compared by their 64-bit hash (key_hash.c): two different keys
 * would be taken for one only if their hashes were equal, about one chance
 * in 2^64 per pair of keys.  A row with a NULL key is never dropped (the
 * target's key refuses it).  The survey's table is bounded by
 * maintenance_work_mem; an export with more keys than fit is an error.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/memutils.h"

#include "refresh_internal.h"
#include "uint64_set.h"

/* A key seen in the survey: its chosen row and whether it came again. */
typedef struct SurveyEntry
{
	uint64		key;			/* the key's hash */
	uint64		offset;			/* the chosen row's */
	bool		repeated;
	char		status;			/* simplehash's */
} SurveyEntry;

#define SH_PREFIX survey
#define SH_ELEMENT_TYPE SurveyEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
/* The key is a hash already. */
#define SH_HASH_KEY(tb, key) ((uint32) ((key) ^ ((key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * What a read of the export looked like: its rows, a sum over them of a
 * hash of each row's key and byte offset (the same in any order, so that
 * the processes of a parallel read can add theirs), and the chosen rows it
 * kept.
 */
typedef struct ReadPrint
{
	uint64		rows;
	uint64		sum;
	uint64		kept;
} ReadPrint;

/* Where the two sets are in a parallel scan's shared memory. */
typedef struct KeyChoiceShared
{
	pg_atomic_uint64 rows;		/* the ReadPrint of every process, added */
	pg_atomic_uint64 sum;
	pg_atomic_uint64 kept;
	uint64		repeated_slots;
	uint64		chosen_slots;
	Size		chosen_offset;
	Size		repeated_offset;
} KeyChoiceShared;

struct KeyChoice
{
	MemoryContext cxt;
	KeyHash		key;
	bool		last;			/* keep the last row of a key, else the first */
	survey_hash *survey;		/* until settled */
	uint64		rows;			/* with a key, surveyed */
	ReadPrint	surveyed;		/* the survey's read */
	Uint64Set  *repeated;		/* once settled: keys that came more than once */
	Uint64Set  *chosen;			/* and their chosen rows' offsets, plus one */
	ReadPrint	read;			/* the refresh's read, in this process */
	KeyChoiceShared *shared;	/* under a parallel scan: where all add theirs */
};

/* Adds a row, by its key's hash (0 for a NULL key) and its offset, to a print. */
static inline void
print_row(ReadPrint *print, uint64 hash, uint64 offset)
{
	print->rows++;
	print->sum += hash_combine64(hash, offset * UINT64CONST(0x9E3779B97F4A7C15));
}

/*
 * Makes a choice of foreign_table's rows by the key columns named in keys,
 * in a child of parent, keeping the last row of a key if last, else the
 * first.  NULL if a key type has no extended hash function.
 */
KeyChoice *
hvcsv_key_choice_create(MemoryContext parent, Oid foreign_table, List *keys, bool last,
						double expected_rows)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "hvcsv key choice", ALLOCSET_DEFAULT_SIZES);
	KeyChoice  *c = MemoryContextAllocZero(cxt, sizeof(KeyChoice));

	/*
	 * The limit weighs the table's size, not its keys, and simplehash
	 * rounds a size up past its fill factor to a power of two: a quarter
	 * of what the limit allows starts within it, however large the target.
	 */
	double		fits = (double) maintenance_work_mem * 1024 / sizeof(SurveyEntry) / 4;

	c->cxt = cxt;
	c->last = last;
	if (!hvcsv_key_hash_init(&c->key, cxt, foreign_table, keys))
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	c->survey = survey_create(cxt, (uint32) Min(Max(Min(expected_rows, fits), 1024), PG_UINT32_MAX / 2),
							 NULL);
	return c;
}

/* The survey's read: notes the row at offset in the file. */
void
hvcsv_key_choice_survey(KeyChoice *c, TupleTableSlot *slot, uint64 offset)
{
	uint64		hash;
	bool		found;
	SurveyEntry *entry;

	if (!hvcsv_key_hash_row(&c->key, slot, &hash))
	{
		print_row(&c->surveyed, 0, offset);
		return;
	}
	print_row(&c->surveyed, hash, offset);
	c->rows++;
	entry = survey_insert(c->survey, hash, &found);
	if (!found)
	{
		entry->offset = offset;
		entry->repeated = false;
		if (c->survey->size * sizeof(SurveyEntry) > (uint64) maintenance_work_mem * 1024)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the export has too many keys for on_duplicate_key within maintenance_work_mem"),
					 errhint("Raise maintenance_work_mem for the foreign table's owner.")));
		return;
	}
	entry->repeated = true;
	if (c->last ? offset > entry->offset : offset < entry->offset)
		entry->offset = offset;
}

/* Adds value to a set sized to hold it, which must not overflow. */
static void
add_exactly(Uint64Set *set, uint64 value)
{
	(void) hvcsv_uint64_set_add(set, value);
	if (set->overflowed)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the export repeats too many keys for on_duplicate_key within maintenance_work_mem"),
				 errhint("Raise maintenance_work_mem for the foreign table's owner.")));
}

/*
 * Ends the survey: keeps only the keys that came more than once and their
 * chosen rows.  Returns how many rows the refresh's read will drop.
 */
uint64
hvcsv_key_choice_settle(KeyChoice *c)
{
	survey_iterator it;
	SurveyEntry *entry;
	uint64		repeated = 0;
	uint64		distinct = c->survey->members;

	survey_start_iterate(c->survey, &it);
	while ((entry = survey_iterate(c->survey, &it)) != NULL)
		repeated += entry->repeated;
	c->repeated = hvcsv_uint64_set_create(c->cxt, (double) repeated,
										  (Size) maintenance_work_mem * 1024, false);
	c->chosen = hvcsv_uint64_set_create(c->cxt, (double) repeated,
										(Size) maintenance_work_mem * 1024, false);
	survey_start_iterate(c->survey, &it);
	while ((entry = survey_iterate(c->survey, &it)) != NULL)
	{
		if (!entry->repeated)
			continue;
		add_exactly(c->repeated, entry->key);
		add_exactly(c->chosen, entry->offset + 1);
	}
	survey_destroy(c->survey);
	c->survey = NULL;
	return c->rows - distinct;
}

/*
 * The refresh's read: whether to drop the row at offset, another row of its
 * key being chosen.  Every row goes into the read's print, to be compared
 * with the survey's.
 */
bool
hvcsv_key_choice_drops(KeyChoice *c, TupleTableSlot *slot, uint64 offset)
{
	uint64		hash;

	if (!hvcsv_key_hash_row(&c->key, slot, &hash))
	{
		print_row(&c->read, 0, offset);
		return false;
	}
	print_row(&c->read, hash, offset);
	if (!hvcsv_uint64_set_contains(c->repeated, hash))
		return false;
	if (!hvcsv_uint64_set_contains(c->chosen, offset + 1))
		return true;
	c->read.kept++;
	return false;
}

/* Called by each process of a parallel read when its part ends. */
void
hvcsv_key_choice_part_done(KeyChoice *c)
{
	if (c->shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&c->shared->rows, c->read.rows);
	pg_atomic_fetch_add_u64(&c->shared->sum, c->read.sum);
	pg_atomic_fetch_add_u64(&c->shared->kept, c->read.kept);
	memset(&c->read, 0, sizeof(c->read));
}

/* In the leader, when its parallel read is over: takes what every process read. */
void
hvcsv_key_choice_gather(KeyChoice *c)
{
	if (c->shared == NULL)
		return;
	c->read.rows = pg_atomic_read_u64(&c->shared->rows);
	c->read.sum = pg_atomic_read_u64(&c->shared->sum);
	c->read.kept = pg_atomic_read_u64(&c->shared->kept);
	c->shared = NULL;
}

/*
 * Tells whether the refresh's read was the read the survey made: the same
 * rows with the same keys at the same offsets, and one chosen row of each
 * repeated key kept.  An export published between the two reads (the
 * streaming reader's transfers) would otherwise have its rows chosen by
 * another file's offsets.  Two different files pass only if their prints'
 * 64-bit sums agree by chance.
 */
bool
hvcsv_key_choice_complete(const KeyChoice *c)
{
	return c->read.rows == c->surveyed.rows && c->read.sum == c->surveyed.sum &&
		c->read.kept == c->repeated->used;
}

/* Fills in where the parts go in shared memory; returns the size of it all. */
static Size
shared_layout(const KeyChoice *c, KeyChoiceShared *layout)
{
	Size		offset = MAXALIGN(sizeof(KeyChoiceShared)) + hvcsv_key_hash_shared_size(&c->key);

	layout->repeated_slots = c->repeated->nslots;
	layout->chosen_slots = c->chosen->nslots;
	layout->repeated_offset = offset;
	offset += MAXALIGN(hvcsv_uint64_set_shared_size(c->repeated));
	layout->chosen_offset = offset;
	return offset + hvcsv_uint64_set_shared_size(c->chosen);
}

/* The shared memory a parallel scan needs for a settled choice. */
Size
hvcsv_key_choice_shared_size(const KeyChoice *c)
{
	KeyChoiceShared layout;

	return shared_layout(c, &layout);
}

/*
 * Copies a settled choice to dest, for the workers of a parallel scan; this
 * process then counts its chosen rows there too.
 */
void
hvcsv_key_choice_share(KeyChoice *c, void *dest)
{
	KeyChoiceShared *layout = dest;

	(void) shared_layout(c, layout);
	pg_atomic_init_u64(&layout->rows, 0);
	pg_atomic_init_u64(&layout->sum, 0);
	pg_atomic_init_u64(&layout->kept, 0);
	c->shared = layout;
	hvcsv_key_hash_share(&c->key, (char *) dest + MAXALIGN(sizeof(KeyChoiceShared)));
	hvcsv_uint64_set_share(c->repeated, (char *) dest + layout->repeated_offset);
	hvcsv_uint64_set_share(c->chosen, (char *) dest + layout->chosen_offset);
}

/* A worker's view, in a child of parent, of the choice shared at src. */
KeyChoice *
hvcsv_key_choice_attach(MemoryContext parent, void *src)
{
	KeyChoiceShared *layout = src;
	MemoryContext cxt = AllocSetContextCreate(parent, "hvcsv key choice", ALLOCSET_DEFAULT_SIZES);
	KeyChoice  *c = MemoryContextAllocZero(cxt, sizeof(KeyChoice));

	c->cxt = cxt;
	hvcsv_key_hash_attach(&c->key, cxt, (char *) src + MAXALIGN(sizeof(KeyChoiceShared)));
	c->repeated = hvcsv_uint64_set_attach(cxt, (char *) src + layout->repeated_offset,
										  layout->repeated_slots);
	c->chosen = hvcsv_uint64_set_attach(cxt, (char *) src + layout->chosen_offset,
										layout->chosen_slots);
	c->shared = layout;
	return c;
}

/* Frees a choice. */
void
hvcsv_key_choice_free(KeyChoice *c)
{
	MemoryContextDelete(c->cxt);
}
