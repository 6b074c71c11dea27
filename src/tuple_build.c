/*-------------------------------------------------------------------------
 * tuple_build.c
 *	  Turns CSV records into tuples, converting only the columns a query
 *	  reads, and says where a conversion failed.
 *
 * Each needed column's text goes through its type's input function, after
 * an encoding check (or conversion, when the file's encoding differs from
 * the database's).  A column's force_null and force_not_null options
 * (file_fdw's) change which fields are NULL, as COPY's FORCE_NULL and
 * FORCE_NOT_NULL do.  A record must have as many fields as the header (or
 * the table's columns, without one), unless missing_fields 'null' lets a
 * short one read as NULL in the fields it lacks (whatever force_not_null
 * says: there is no text to keep), or extra_fields 'ignore' lets a long one
 * drop the fields past the last expected one.  Errors get a context line
 * naming the foreign table, the line, the column and the value, as COPY
 * does.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ascii_check.h"
#include "records.h"

/* Conversions tried before the input function (see fast_convert.c). */
#define FAST_NONE			0
#define FAST_TEXT			1
#define FAST_BOOL			2
#define FAST_NUMERIC		3
#define FAST_TIMESTAMPTZ	4

/*
 * Prepares conversion of the needed attributes (0-based) of rel.  One that
 * takes no field (dropped, or missing from the header and kept) is left
 * out: it stays NULL in every row, and no conversion, fast or not, runs.
 * One with the source option reads source_path, source_url (without
 * secrets) or the record's line instead of a field.
 */
HvcsvTupleBuilder *
hvcsv_tuple_builder_create(Relation rel, HvcsvColumnMap *map, List *needed_atts,
						   const HvcsvOptions *opts, const char *source_path,
						   const char *source_url)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HvcsvTupleBuilder *b = palloc0(sizeof(HvcsvTupleBuilder));
	ListCell   *cell;

	b->rel = rel;
	b->map = map;
	b->file_encoding = opts->encoding;
	b->null_string = opts->null_string;
	b->null_len = strlen(opts->null_string);
	b->pad_missing_fields = opts->pad_missing_fields;
	b->ignore_extra_fields = opts->ignore_extra_fields;
	b->needed = palloc(sizeof(AttrNumber) * Max(list_length(needed_atts), 1));
	b->slot_of = palloc(sizeof(int) * Max(list_length(needed_atts), 1));
	b->in_functions = palloc0(sizeof(FmgrInfo) * Max(desc->natts, 1));
	b->typioparams = palloc0(sizeof(Oid) * Max(desc->natts, 1));
	b->typmods = palloc0(sizeof(int32) * Max(desc->natts, 1));
	b->fast_kind = palloc0(sizeof(char) * Max(desc->natts, 1));
	b->force_null = palloc0(sizeof(bool) * Max(desc->natts, 1));
	b->force_not_null = palloc0(sizeof(bool) * Max(desc->natts, 1));
	b->sourced = palloc(sizeof(AttrNumber) * Max(list_length(needed_atts), 1));
	b->source_of = palloc0(sizeof(HvcsvColumnSource) * Max(desc->natts, 1));
	b->source_path = source_path;
	b->source_url = source_url;
	b->current_att = -1;

	foreach(cell, needed_atts)
	{
		int			a = lfirst_int(cell);
		Form_pg_attribute att = TupleDescAttr(desc, a);
		Oid			in_function;

		b->source_of[a] = hvcsv_column_source(GetForeignColumnOptions(RelationGetRelid(rel),
																	  att->attnum));
		if (map->field_of_att[a] < 0 && b->source_of[a] == HVCSV_SOURCE_NONE)
			continue;
		getTypeInputInfo(att->atttypid, &in_function, &b->typioparams[a]);
		fmgr_info(in_function, &b->in_functions[a]);
		b->typmods[a] = att->atttypmod;
		if (b->source_of[a] != HVCSV_SOURCE_NONE)
		{
			b->sourced[b->nsourced++] = a;
			continue;
		}
		hvcsv_column_force_options(GetForeignColumnOptions(RelationGetRelid(rel), att->attnum),
								   &b->force_null[a], &b->force_not_null[a]);
		/* A typmod would round or check the value: the input function's job. */
		if (att->atttypmod < 0)
			b->fast_kind[a] = att->atttypid == TEXTOID ? FAST_TEXT :
				att->atttypid == BOOLOID ? FAST_BOOL :
				att->atttypid == NUMERICOID ? FAST_NUMERIC :
				att->atttypid == TIMESTAMPTZOID ? FAST_TIMESTAMPTZ : FAST_NONE;
		b->has_text |= b->fast_kind[a] == FAST_TEXT;
		b->needed[b->nneeded++] = a;
	}
	b->tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "hvcsv_fdw tuple",
										 ALLOCSET_DEFAULT_SIZES);
	return b;
}

/* Orders wanted fields by field, then by slot. */
static int
wanted_cmp(const void *a, const void *b)
{
	const CsvWantedField *x = a;
	const CsvWantedField *y = b;

	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/*
 * Tells the stream to copy out exactly the fields of the needed columns,
 * each once: needed columns that share a field (a CSV name given twice)
 * read the slot of the first.
 */
void
hvcsv_tuple_builder_select(HvcsvTupleBuilder *b, CsvStream *stream)
{
	CsvWantedField *wanted = palloc(sizeof(CsvWantedField) * Max(b->nneeded, 1));
	int			nwanted = 0;

	for (int i = 0; i < b->nneeded; i++)
	{
		wanted[i].field = b->map->field_of_att[b->needed[i]];
		wanted[i].slot = i;
	}
	qsort(wanted, b->nneeded, sizeof(CsvWantedField), wanted_cmp);
	for (int i = 0; i < b->nneeded; i++)
	{
		if (nwanted > 0 && wanted[nwanted - 1].field == wanted[i].field)
			b->slot_of[wanted[i].slot] = wanted[nwanted - 1].slot;
		else
		{
			b->slot_of[wanted[i].slot] = wanted[i].slot;
			wanted[nwanted++] = wanted[i];
		}
	}
	hvcsv_stream_select_fields(stream, wanted, nwanted, b->nneeded);
}

/*
 * Whether attribute a's field, in slot s, holds a value.  The tokenizer
 * made an unquoted field equal to the null string NULL, which
 * force_not_null undoes; a field it kept that equals the null string must
 * have been quoted, which force_null makes NULL.
 */
static inline bool
has_value(const HvcsvTupleBuilder *b, int a, const CsvRecord *rec, int s)
{
	if (rec->slot_state[s] == CSV_SLOT_NULL)
		return b->force_not_null[a];
	if (rec->slot_state[s] != CSV_SLOT_VALUE)
		return false;
	return !(b->force_null[a] && rec->slot_length[s] == b->null_len &&
			 memcmp(rec->out + rec->slot_offset[s], b->null_string, b->null_len) == 0);
}

/*
 * Fills column a, which has the source option, with where the record came
 * from, through the column type's input function (a line number may go to
 * a text or a number column alike).
 */
static void
build_source_value(HvcsvTupleBuilder *b, int a, const CsvRecord *rec, TupleTableSlot *slot)
{
	char		line[32];
	const char *value;

	switch (b->source_of[a])
	{
		case HVCSV_SOURCE_PATH:
			value = b->source_path;
			break;
		case HVCSV_SOURCE_URL:
			value = b->source_url;
			break;
		case HVCSV_SOURCE_LINE:
			snprintf(line, sizeof(line), UINT64_FORMAT, (uint64) rec->line);
			value = line;
			break;
		default:
			elog(ERROR, "column %d has no source", a + 1);
			return;
	}
	b->current_att = a;
	b->current_value = value;
	b->current_len = strlen(value);
	slot->tts_values[a] = InputFunctionCall(&b->in_functions[a], (char *) value,
											b->typioparams[a], b->typmods[a]);
	slot->tts_isnull[a] = false;
}

/* Converts one record into slot; columns not needed are left NULL. */
void
hvcsv_tuple_build(HvcsvTupleBuilder *b, const CsvRecord *rec, TupleTableSlot *slot)
{
	int			natts = slot->tts_tupleDescriptor->natts;
	int			db_encoding = GetDatabaseEncoding();
	char	   *text_arena = NULL;
	MemoryContext old;

	b->line = rec->line;
	if (hvcsv_tuple_field_count(b, rec) == HVCSV_FIELDS_WRONG)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("wrong number of fields in CSV record"),
				 errdetail_plural("The record has %d field, but %d are expected.",
								  "The record has %d fields, but %d are expected.",
								  rec->nfields, rec->nfields, b->map->nfields)));

	MemoryContextReset(b->tuple_cxt);
	old = MemoryContextSwitchTo(b->tuple_cxt);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	/* Text values share one allocation per row, not one each. */
	if (b->has_text && b->file_encoding == db_encoding)
	{
		size_t		arena_size = 0;

		for (int i = 0; i < b->nneeded; i++)
			if (b->fast_kind[b->needed[i]] == FAST_TEXT &&
				has_value(b, b->needed[i], rec, b->slot_of[i]))
				arena_size += INTALIGN(VARHDRSZ + rec->slot_length[b->slot_of[i]]);
		if (arena_size <= MaxAllocSize)
			text_arena = palloc(Max(arena_size, 1));
	}
	for (int i = 0; i < b->nneeded; i++)
	{
		int			a = b->needed[i];
		int			s = b->slot_of[i];
		char	   *value;
		size_t		len;
		TimestampTz ts;
		Datum		d;

		if (!has_value(b, a, rec, s))
			continue;
		value = rec->out + rec->slot_offset[s];
		len = rec->slot_length[s];
		b->current_att = a;
		b->current_value = value;
		b->current_len = len;	/* the value may hold a NUL byte */
		if (b->file_encoding != db_encoding)
		{
			value = pg_any_to_server(value, len, b->file_encoding);
			len = strlen(value);
		}
		else if (!csv_ascii_without_nul(value, len))
			(void) pg_verifymbstr(value, len, false);
		switch (b->fast_kind[a])
		{
			case FAST_TEXT:
				if (text_arena)
				{
					text	   *t = (text *) text_arena;

					SET_VARSIZE(t, VARHDRSZ + len);
					memcpy(VARDATA(t), value, len);
					text_arena += INTALIGN(VARHDRSZ + len);
					d = PointerGetDatum(t);
				}
				else
					d = PointerGetDatum(cstring_to_text_with_len(value, len));
				break;
			case FAST_BOOL:
				if (!hvcsv_fast_bool(value, len, &d))
					goto input_function;
				break;
			case FAST_NUMERIC:
				if (!hvcsv_fast_numeric(value, len, &d))
					goto input_function;
				break;
			case FAST_TIMESTAMPTZ:
				if (!hvcsv_fast_timestamptz(value, len, &ts))
					goto input_function;
				d = TimestampTzGetDatum(ts);
				break;
			default:
		input_function:
				d = InputFunctionCall(&b->in_functions[a], value,
									  b->typioparams[a], b->typmods[a]);
		}
		slot->tts_values[a] = d;
		slot->tts_isnull[a] = false;
	}
	for (int i = 0; i < b->nsourced; i++)
		build_source_value(b, b->sourced[i], rec, slot);
	b->current_att = -1;
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
}
