/*-------------------------------------------------------------------------
 * export_types.c
 *	  An export's columns and their types, read from the whole export in one
 *	  pass: for IMPORT FOREIGN SCHEMA and for a column a refresh adds.
 *
 * A type read from a sample of the first rows can be broken by any later
 * row, and then every scan of the table fails on it.  So every record is
 * read: a spooled export from its spool (which IMPORT's first scan then
 * reuses), a streaming one from the response, once, without keeping it.
 * Either way memory stays bounded and max_bytes applies.
 *
 * A column's type is the narrowest that reads every one of its values
 * exactly, neither failing nor changing what the file says.  So only
 * spellings whose meaning does not depend on the session (DateStyle,
 * TimeZone, lc_numeric) are typed, and the decision reads the bytes alone:
 *	  boolean		true and false, in any case; no other spelling, since
 *					yes, on, 1, t and their kin are as often codes or counts
 *	  integer		optional minus, digits without a leading zero, in int4
 *	  bigint		the same, in int8
 *	  numeric		the same with a fraction (.5 too) or an exponent; no
 *					leading plus, which telephone numbers carry, and no
 *					leading zero, which codes carry; bounded so that
 *					numeric_in accepts every such value
 *	  date			YYYY-MM-DD, a real day; never 01/02/2026, which
 *					DateStyle reads two ways
 *	  timestamp		a date, T or a space, HH:MM[:SS[.ffffff]], no zone;
 *					no leap second or 24:00, which PostgreSQL moves on, and
 *					no more than microseconds, which it rounds
 *	  timestamptz	the same with Z or an offset (+hh, +hhmm, +hh:mm)
 * A column whose values fit several takes the first of that list they all
 * fit: whole numbers widen to bigint and numeric, dates to timestamp.  A
 * zoned and an unzoned value together, or a date with a zoned one, give
 * text: one type would read one of them in the session's time zone.  NULLs
 * (fields absent or equal to the null string) do not count; a quoted empty
 * field is a value, which only text reads.  A column with no value is text.
 *
 * The checks accept ASCII bytes only, and in every encoding an export may
 * have an ASCII character is its ASCII byte and every other character has
 * a byte with the high bit set, so values are checked as the file has
 * them, without conversion: a value with any other character is text.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "http.h"
#include "hvcsv_fdw.h"
#include "records.h"
#include "spool.h"

/* The types a value fits, as flags, in the order they are preferred. */
#define FITS_BOOLEAN		0x01
#define FITS_INTEGER		0x02
#define FITS_BIGINT			0x04
#define FITS_NUMERIC		0x08
#define FITS_DATE			0x10
#define FITS_TIMESTAMP		0x20
#define FITS_TIMESTAMPTZ	0x40
#define FITS_ANY			0x7f

static const struct
{
	int			flag;
	const char *name;
	Oid			type;
}			type_order[] = {
	{FITS_BOOLEAN, "boolean", BOOLOID},
	{FITS_INTEGER, "integer", INT4OID},
	{FITS_BIGINT, "bigint", INT8OID},
	{FITS_NUMERIC, "numeric", NUMERICOID},
	{FITS_DATE, "date", DATEOID},
	{FITS_TIMESTAMP, "timestamp", TIMESTAMPOID},
	{FITS_TIMESTAMPTZ, "timestamptz", TIMESTAMPTZOID},
};

/*
 * Digits on either side of the point, and of an exponent, past which a
 * number stays text: far inside what numeric_in accepts, far beyond what
 * a measured quantity needs.
 */
#define MAX_NUMBER_DIGITS 1000
#define MAX_EXPONENT 1000

/* What is known of one field while the export is read. */
typedef struct FieldTypes
{
	int			fits;			/* FITS_* flags every value so far allows */
	bool		seen;			/* some value (not NULL) was read */
} FieldTypes;

/* Counts the ASCII digits at p, before end. */
static int
count_digits(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return q - p;
}

/* The value of n digits at p (n <= 4). */
static int
digits_value(const char *p, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

/* Reads exactly n digits at *p, at most max; false otherwise. */
static bool
take_number(const char **p, const char *end, int n, int min, int max, int *value)
{
	if (end - *p < n || count_digits(*p, *p + n) != n)
		return false;
	*value = digits_value(*p, n);
	*p += n;
	return *value >= min && *value <= max;
}

/* The flags of a number: [-] digits [. digits] [e [+-] digits], or 0. */
static int
number_fits(const char *p, const char *end)
{
	bool		negative = false;
	int			int_digits;
	int			frac_digits = 0;
	const char *digits_start;

	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	digits_start = p;
	int_digits = count_digits(p, end);
	/* 007 is a code, not seven: a type would drop its zeros. */
	if (int_digits > 1 && *p == '0')
		return 0;
	if (int_digits > MAX_NUMBER_DIGITS)
		return 0;
	p += int_digits;
	if (p == end && int_digits > 0)
	{
		uint64		magnitude = 0;

		if (int_digits > 19)
			return FITS_NUMERIC;
		for (const char *d = digits_start; d < p; d++)
			magnitude = magnitude * 10 + (*d - '0');
		if (magnitude <= (uint64) PG_INT32_MAX + negative)
			return FITS_INTEGER | FITS_BIGINT | FITS_NUMERIC;
		if (magnitude <= (uint64) PG_INT64_MAX + negative)
			return FITS_BIGINT | FITS_NUMERIC;
		return FITS_NUMERIC;
	}
	if (p < end && *p == '.')
	{
		p++;
		frac_digits = count_digits(p, end);
		if (frac_digits == 0 || frac_digits > MAX_NUMBER_DIGITS)
			return 0;
		p += frac_digits;
	}
	if (int_digits == 0 && frac_digits == 0)
		return 0;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		int			exp_digits;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		exp_digits = count_digits(p, end);
		if (exp_digits == 0 || exp_digits > 4 ||
			digits_value(p, exp_digits) > MAX_EXPONENT)
			return 0;
		p += exp_digits;
	}
	return p == end ? FITS_NUMERIC : 0;
}

/* Reads YYYY-MM-DD, a day that exists; false otherwise. */
static bool
take_date(const char **p, const char *end)
{
	static const int days_in_month[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			year,
				month,
				day;

	if (!take_number(p, end, 4, 1, 9999, &year) || *p == end || *(*p)++ != '-' ||
		!take_number(p, end, 2, 1, 12, &month) || *p == end || *(*p)++ != '-' ||
		!take_number(p, end, 2, 1, days_in_month[month - 1], &day))
		return false;
	return !(month == 2 && day == 29 &&
			 (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0)));
}

/* Reads HH:MM[:SS[.ffffff]]; false otherwise. */
static bool
take_time(const char **p, const char *end)
{
	int			v;

	if (!take_number(p, end, 2, 0, 23, &v) || *p == end || *(*p)++ != ':' ||
		!take_number(p, end, 2, 0, 59, &v))
		return false;
	if (*p < end && **p == ':')
	{
		int			frac_digits;

		(*p)++;
		if (!take_number(p, end, 2, 0, 59, &v))
			return false;
		if (*p < end && **p == '.')
		{
			(*p)++;
			frac_digits = count_digits(*p, end);
			if (frac_digits == 0 || frac_digits > 6)
				return false;
			*p += frac_digits;
		}
	}
	return true;
}

/* Reads a zone: Z, +hh, +hhmm or +hh:mm (or -); false otherwise. */
static bool
take_zone(const char **p, const char *end)
{
	int			v;

	if (**p == 'Z')
	{
		(*p)++;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	(*p)++;
	if (!take_number(p, end, 2, 0, 15, &v))
		return false;
	if (*p < end && **p == ':')
		(*p)++;
	else if (*p == end)
		return true;
	return take_number(p, end, 2, 0, 59, &v);
}

/* The flags of a date, a timestamp with or without a zone, or 0. */
static int
datetime_fits(const char *p, const char *end)
{
	if (!take_date(&p, end))
		return 0;
	if (p == end)
		return FITS_DATE | FITS_TIMESTAMP;
	if (*p != 'T' && *p != ' ')
		return 0;
	p++;
	if (!take_time(&p, end))
		return 0;
	if (p == end)
		return FITS_TIMESTAMP;
	return take_zone(&p, end) && p == end ? FITS_TIMESTAMPTZ : 0;
}

/* The FITS_* flags of the types that read value (len bytes) exactly. */
static int
value_fits(const char *value, size_t len)
{
	const char *end = value + len;

	if ((len == 4 && pg_strncasecmp(value, "true", 4) == 0) ||
		(len == 5 && pg_strncasecmp(value, "false", 5) == 0))
		return FITS_BOOLEAN;
	if (len >= 10 && value[4] == '-')
		return datetime_fits(value, end);
	return number_fits(value, end);
}

/* Narrows a field's types by the value in slot of rec, if it has one. */
static inline void
read_value(FieldTypes *ft, const CsvRecord *rec, int slot)
{
	if (rec->slot_state[slot] != CSV_SLOT_VALUE)
		return;
	ft->seen = true;
	if (ft->fits != 0)
		ft->fits &= value_fits(rec->out + rec->slot_offset[slot], rec->slot_length[slot]);
}

/* A field's type: the first that every value fits, else text. */
static void
field_type(const FieldTypes *ft, HvcsvExportColumn *col)
{
	col->type_name = "text";
	col->type = TEXTOID;
	if (!ft->seen)
		return;
	for (size_t i = 0; i < lengthof(type_order); i++)
		if (ft->fits & type_order[i].flag)
		{
			col->type_name = type_order[i].name;
			col->type = type_order[i].type;
			return;
		}
}

/*
 * Reads the first record in windows: the header's names, or without a
 * header the first values.  A table cannot have more than
 * MaxHeapAttributeNumber columns, so the fields past one more are skipped:
 * a wider file gets PostgreSQL's own error when its tables are created.
 */
static int
read_first_record(CsvStream *stream, const HvcsvOptions *opts, HvcsvExportColumn *cols,
				  FieldTypes *types)
{
	int			nfields;

	do
	{
		const CsvRecord *rec = &stream->rec;

		CHECK_FOR_INTERRUPTS();
		for (int s = 0; s < rec->nfields - rec->first_field &&
			 rec->first_field + s <= MaxHeapAttributeNumber; s++)
		{
			int			f = rec->first_field + s;

			types[f].fits = FITS_ANY;
			if (opts->header == HVCSV_HEADER_NONE)
				read_value(&types[f], rec, s);
			else if (rec->slot_state[s] == CSV_SLOT_VALUE)
				cols[f].name = pstrdup(pg_any_to_server(rec->out + rec->slot_offset[s],
														rec->slot_length[s], opts->encoding));
			else
				cols[f].name = "";
		}
		nfields = Min(rec->nfields, MaxHeapAttributeNumber + 1);
	} while (stream->more_fields && hvcsv_stream_next(stream));
	return nfields;
}

/* Reads the whole export from read: its first record, then every value. */
static List *
read_export(CsvReadFunction read, void *read_arg, const HvcsvOptions *opts,
			const char *export_name)
{
	CsvDialect	dialect;
	CsvStream  *stream;
	CsvWantedField *wanted;
	HvcsvExportColumn *cols = palloc0(sizeof(HvcsvExportColumn) * (MaxHeapAttributeNumber + 1));
	FieldTypes *types = palloc0(sizeof(FieldTypes) * (MaxHeapAttributeNumber + 1));
	int			nfields;
	List	   *columns = NIL;

	hvcsv_dialect(opts, &dialect);
	stream = hvcsv_stream_create(&dialect, read, read_arg);
	if (opts->encoding == PG_UTF8)
		hvcsv_stream_skip_bom(stream);
	hvcsv_stream_select_all_fields(stream);
	if (!hvcsv_stream_next(stream))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("the CSV export of \"%s\" is empty", export_name),
				 errdetail("Column names and types are read from the export.")));
	nfields = read_first_record(stream, opts, cols, types);

	/* The records after it: each field in the slot of its number. */
	wanted = palloc(sizeof(CsvWantedField) * nfields);
	for (int f = 0; f < nfields; f++)
		wanted[f].field = wanted[f].slot = f;
	hvcsv_stream_select_fields(stream, wanted, nfields, nfields);
	while (hvcsv_stream_next(stream))
	{
		CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < nfields; f++)
			read_value(&types[f], &stream->rec, f);
	}

	for (int f = 0; f < nfields; f++)
	{
		field_type(&types[f], &cols[f]);
		columns = lappend(columns, &cols[f]);
	}
	return columns;
}

/*
 * The fields of the export of opts, in order, with their types: a List of
 * HvcsvExportColumn *, at most MaxHeapAttributeNumber + 1 of them.  With a
 * header, each has the header's name ("" for a field with none); without,
 * NULL.  The streaming reader's export is read from the response, since
 * its scans never spool it; the others' from the spool.  export_name
 * names the export in the error an empty one gives.
 */
List *
hvcsv_export_columns(HvcsvOptions *opts, const char *export_name)
{
	List	   *columns;

	if (opts->reader == HVCSV_READER_STREAMING)
	{
		HvcsvRequest req;
		HvcsvBody  *body;

		hvcsv_request_init(&req, opts);
		body = hvcsv_body_open(&req, NULL, NULL);
		columns = read_export(hvcsv_body_read_into, body, opts, export_name);
		hvcsv_body_close(body);
	}
	else
	{
		HvcsvSpool *spool = hvcsv_spool_open(opts);

		columns = read_export(hvcsv_spool_read, spool, opts, export_name);
		hvcsv_spool_close(spool);
	}
	return columns;
}
