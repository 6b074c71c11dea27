/*-------------------------------------------------------------------------
 * records.h
 *	  From bytes to tuples: records over a read function (csv_stream.c),
 *	  the header matched to the table (column_map.c), values converted
 *	  (fast_convert.c, tuple_build.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_RECORDS_H
#define HVCSV_RECORDS_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "csv_tokenizer.h"
#include "option.h"

/* in csv_stream.c */

/* Fills buf with up to size bytes; returns 0 at the end of the input. */
typedef size_t (*CsvReadFunction) (void *arg, char *buf, size_t size);

typedef struct CsvStream
{
	CsvTokenizer tok;
	CsvRecord	rec;
	char	   *buf;
	size_t		buf_size;
	size_t		buf_start;		/* first byte not yet tokenized */
	size_t		buf_end;		/* end of the bytes read */
	bool		at_eof;
	uint64		buf_offset;		/* input offset of buf[0] */
	uint64		record_offset;	/* input offset of the current record */
	bool		more_fields;	/* the record read goes on in another window */
	CsvReadFunction read;
	void	   *read_arg;
	const int  *named_fields;	/* fields with a header name, for errors */
	char	  **field_names;	/* their names */
	int			nfield_names;
} CsvStream;

extern CsvStream *hvcsv_stream_create(const CsvDialect *dialect,
									CsvReadFunction read, void *read_arg);
extern void hvcsv_stream_select_fields(CsvStream *stream, const CsvWantedField *wanted,
									 int nwanted, int nslots);
extern void hvcsv_stream_select_all_fields(CsvStream *stream);
extern void hvcsv_stream_name_fields(CsvStream *stream, const int *fields, char **names,
								   int nnames);
extern bool hvcsv_stream_next(CsvStream *stream);
extern void hvcsv_stream_skip_bom(CsvStream *stream);
extern void hvcsv_stream_restart(CsvStream *stream, uint64 offset, uint64 line_breaks);
extern char *hvcsv_printable(const char *bytes, size_t len, bool clipped);

/* in column_map.c */
extern char *hvcsv_column_csv_name(Relation rel, Form_pg_attribute att);

/* Which CSV field feeds each table column. */
typedef struct HvcsvColumnMap
{
	int			natts;
	int		   *field_of_att;	/* per attribute; -1 if none: it reads as NULL */
	int			nfields;		/* fields every record must have */
	List	   *missing_atts;	/* 0-based columns that are not dropped but take
								 * no field (on_missing_columns 'keep') */
} HvcsvColumnMap;

extern HvcsvColumnMap *hvcsv_column_map_create(Relation rel, const HvcsvOptions *opts,
											   CsvStream *stream);

/* in fast_convert.c */
extern bool hvcsv_fast_timestamptz(const char *value, size_t len, TimestampTz *result);
extern bool hvcsv_fast_numeric(const char *value, size_t len, Datum *result);
extern bool hvcsv_fast_bool(const char *value, size_t len, Datum *result);

/* in tuple_build.c */

typedef struct HvcsvTupleBuilder
{
	Relation	rel;
	HvcsvColumnMap *map;
	int			nneeded;
	AttrNumber *needed;			/* 0-based attributes to convert */
	int		   *slot_of;		/* per needed attribute, its output slot */
	FmgrInfo   *in_functions;	/* per attribute */
	char	   *fast_kind;		/* per attribute: a FAST_* conversion to try */
	bool		has_text;		/* some needed column has FAST_TEXT */
	Oid		   *typioparams;
	int32	   *typmods;
	bool	   *force_null;		/* per attribute: file_fdw's column options */
	bool	   *force_not_null;
	const char *null_string;	/* the table's, as the tokenizer compares it */
	size_t		null_len;
	bool		pad_missing_fields; /* missing_fields 'null' */
	bool		ignore_extra_fields;	/* extra_fields 'ignore' */
	int			file_encoding;
	MemoryContext tuple_cxt;	/* reset for every tuple */
	/* needed columns with the source option, and what they read */
	int			nsourced;
	AttrNumber *sourced;		/* 0-based attributes */
	HvcsvColumnSource *source_of;	/* per attribute */
	const char *source_path;
	const char *source_url;

	/* where we are, for the error context */
	uint64		line;
	int			current_att;	/* -1 when not in one column */
	const char *current_value;
	size_t		current_len;
} HvcsvTupleBuilder;

extern HvcsvTupleBuilder *hvcsv_tuple_builder_create(Relation rel, HvcsvColumnMap *map,
													 List *needed_atts,
													 const HvcsvOptions *opts,
													 const char *source_path,
													 const char *source_url);
extern void hvcsv_tuple_builder_select(HvcsvTupleBuilder *builder, CsvStream *stream);

/* How a record's number of fields fits the table. */
typedef enum HvcsvFieldCount
{
	HVCSV_FIELDS_EXACT,
	HVCSV_FIELDS_PADDED,		/* too few: the missing ones read as NULL */
	HVCSV_FIELDS_TRIMMED,		/* too many: the extra ones are dropped */
	HVCSV_FIELDS_WRONG			/* refused */
} HvcsvFieldCount;

/*
 * Whether a record has the fields the table expects, or may be padded or
 * trimmed to them; inline, as it runs for every record.  The tokenizer
 * leaves the slots of fields a record lacks absent, which read as NULL,
 * and copies out only the fields the table takes, so neither needs more.
 */
static inline HvcsvFieldCount
hvcsv_tuple_field_count(const HvcsvTupleBuilder *b, const CsvRecord *rec)
{
	if (likely(rec->nfields == b->map->nfields))
		return HVCSV_FIELDS_EXACT;
	if (rec->nfields < b->map->nfields)
		return b->pad_missing_fields ? HVCSV_FIELDS_PADDED : HVCSV_FIELDS_WRONG;
	return b->ignore_extra_fields ? HVCSV_FIELDS_TRIMMED : HVCSV_FIELDS_WRONG;
}

extern void hvcsv_tuple_build(HvcsvTupleBuilder *builder, const CsvRecord *rec,
							  TupleTableSlot *slot);

#endif							/* HVCSV_RECORDS_H */
