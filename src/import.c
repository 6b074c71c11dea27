/*-------------------------------------------------------------------------
 * import.c
 *	  IMPORT FOREIGN SCHEMA: reads the header and a sample of rows, infers
 *	  each column's type, and creates one foreign table per reader.
 *
 * IMPORT FOREIGN SCHEMA name FROM SERVER s INTO local [OPTIONS (...)]
 * creates name_partitioned, name_projected and name_streaming, one table
 * per reader, with the columns spelled as the CSV spells them.  The OPTIONS are foreign
 * table options (path, header, delimiter, ...) and are copied onto every
 * table created.  LIMIT TO and EXCEPT name those tables; the server filters
 * the statements by them.
 *
 * Every column must read its own field, whatever the header holds.  A name
 * that cannot be a column's name as it is (empty, longer than an
 * identifier, holding a control character, or taken by an earlier column
 * once clipped) gives the column another, unique name and a column_name
 * option with the header's.  A name
 * the header repeats cannot tell its fields apart, so then the tables read
 * their fields by position, with header 'match'.
 *
 * A column's type is the first of boolean, integer, bigint, numeric, date
 * and timestamptz that every sampled non-NULL value fits, else text; a
 * column with no value in the sample is text.
 *
 * hvcsv_export_columns gives the refresh the same reading of an export's
 * first lines, for a table's own options: its header and those types, so
 * that a column the export adds gets the type IMPORT would give it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "http.h"
#include "hvcsv_fdw.h"
#include "option.h"
#include "records.h"
#include "spool.h"


/* Rows sampled for type inference. */
#define SAMPLE_ROWS 1000

/* Candidate types, in the order they are preferred. */
#define FITS_BOOLEAN		0x01
#define FITS_INTEGER		0x02
#define FITS_BIGINT			0x04
#define FITS_NUMERIC		0x08
#define FITS_DATE			0x10
#define FITS_TIMESTAMPTZ	0x20
#define FITS_ANY			0x3f

static const struct
{
	int			flag;
	const char *type;
}			type_order[] = {
	{FITS_BOOLEAN, "boolean"},
	{FITS_INTEGER, "integer"},
	{FITS_BIGINT, "bigint"},
	{FITS_NUMERIC, "numeric"},
	{FITS_DATE, "date"},
	{FITS_TIMESTAMPTZ, "timestamptz"},
};

typedef struct ImportColumn
{
	char	   *name;			/* its identifier, unique among the columns */
	char	   *csv_name;		/* the header's name of its field, or NULL */
	int			fits;			/* FITS_* flags every value so far allows */
	bool		seen;			/* some non-NULL value was sampled */
} ImportColumn;

/* The columns to create, one per field of the CSV. */
typedef struct ImportColumns
{
	ImportColumn *cols;
	int			ncols;
	const char *repeated;		/* a header name given twice, or NULL */
} ImportColumns;

/* Skips n digits; NULL unless there are exactly that many. */
static const char *
digits(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char) p[i]))
			return NULL;
	return p + n;
}

/* Tells whether s is an ISO 8601 date, YYYY-MM-DD; *end is set after it. */
static bool
is_iso_date(const char *s, const char **end)
{
	const char *p = digits(s, 4);

	if (p == NULL || *p != '-' || (p = digits(p + 1, 2)) == NULL || *p != '-' ||
		(p = digits(p + 1, 2)) == NULL)
		return false;
	*end = p;
	return true;
}

/* Tells whether s is an ISO 8601 timestamp, with or without a zone. */
static bool
is_iso_timestamp(const char *s)
{
	const char *p;

	if (!is_iso_date(s, &p) || (*p != 'T' && *p != ' ') ||
		(p = digits(p + 1, 2)) == NULL || *p != ':' || (p = digits(p + 1, 2)) == NULL)
		return false;
	if (*p == ':')
	{
		if ((p = digits(p + 1, 2)) == NULL)
			return false;
		if (*p == '.' && isdigit((unsigned char) p[1]))
			for (p++; isdigit((unsigned char) *p); p++)
				;
	}
	if (*p == 'Z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		if ((p = digits(p + 1, 2)) == NULL)
			return false;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char) *p) && (p = digits(p, 2)) == NULL)
			return false;
	}
	return *p == '\0';
}

/* Returns the FITS_* flags of the types that can hold value. */
static int
types_that_fit(const char *value)
{
	const char *p = value;
	const char *end;
	int			fits = 0;
	bool		any_digit = false;

	if (pg_strcasecmp(value, "true") == 0 || pg_strcasecmp(value, "false") == 0 ||
		pg_strcasecmp(value, "t") == 0 || pg_strcasecmp(value, "f") == 0 ||
		pg_strcasecmp(value, "yes") == 0 || pg_strcasecmp(value, "no") == 0)
		return FITS_BOOLEAN;

	/* Integers and decimals: [sign] digits [. digits] [e [sign] digits] */
	if (*p == '+' || *p == '-')
		p++;
	for (; isdigit((unsigned char) *p); p++)
		any_digit = true;
	if (any_digit && *p == '\0')
	{
		int64		n;

		fits |= FITS_NUMERIC;
		errno = 0;
		n = strtoi64(value, NULL, 10);
		if (errno == 0)
			fits |= (n >= PG_INT32_MIN && n <= PG_INT32_MAX) ? FITS_INTEGER | FITS_BIGINT : FITS_BIGINT;
		return fits;
	}
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++)
			any_digit = true;
	if (any_digit && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			any_digit = false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (any_digit && *p == '\0')
		return FITS_NUMERIC;

	if (is_iso_date(value, &end) && *end == '\0')
		return FITS_DATE;
	if (is_iso_timestamp(value))
		return FITS_TIMESTAMPTZ;
	return 0;
}

/* Narrows a column's types by one value (slot of rec) if it is not NULL. */
static void
sample_value(ImportColumn *col, const CsvRecord *rec, int slot, int encoding)
{
	if (rec->slot_state[slot] != CSV_SLOT_VALUE)
		return;
	col->seen = true;
	col->fits &= types_that_fit(pg_any_to_server(rec->out + rec->slot_offset[slot],
												 rec->slot_length[slot], encoding));
}

/*
 * Reads the first record in windows: the header's names, or without a header
 * the first values.  A table cannot have more than MaxHeapAttributeNumber
 * columns, so the fields past one more are skipped: a wider file gets
 * PostgreSQL's own error when its tables are created.
 */
static void
read_first_record(CsvStream *stream, const HvcsvOptions *opts, ImportColumns *ic)
{
	ic->cols = palloc0(sizeof(ImportColumn) * (MaxHeapAttributeNumber + 1));
	do
	{
		const CsvRecord *rec = &stream->rec;

		CHECK_FOR_INTERRUPTS();
		for (int s = 0; s < rec->nfields - rec->first_field &&
			 rec->first_field + s <= MaxHeapAttributeNumber; s++)
		{
			ImportColumn *col = &ic->cols[rec->first_field + s];

			col->fits = FITS_ANY;
			if (opts->header == HVCSV_HEADER_NONE)
				sample_value(col, rec, s, opts->encoding);
			else if (rec->slot_state[s] == CSV_SLOT_VALUE)
				col->csv_name = pstrdup(pg_any_to_server(rec->out + rec->slot_offset[s],
														 rec->slot_length[s], opts->encoding));
			else
				col->csv_name = "";
		}
		ic->ncols = Min(rec->nfields, MaxHeapAttributeNumber + 1);
	} while (stream->more_fields && hvcsv_stream_next(stream));
}

/*
 * Reads the export's first lines from read: the header's names (or the
 * first values), then a sample of values.  export_name names the export
 * in the error an empty one gives.
 */
static void
infer_from(CsvReadFunction read, void *read_arg, const HvcsvOptions *opts,
		   const char *export_name, ImportColumns *ic)
{
	CsvDialect	dialect;
	CsvStream  *stream;
	CsvWantedField *wanted;
	int			rows = opts->header == HVCSV_HEADER_NONE ? 1 : 0;

	hvcsv_dialect(opts, &dialect);
	stream = hvcsv_stream_create(&dialect, read, read_arg);
	if (opts->encoding == PG_UTF8)
		hvcsv_stream_skip_bom(stream);
	hvcsv_stream_select_all_fields(stream);
	if (!hvcsv_stream_next(stream))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("the CSV export of \"%s\" is empty", export_name),
				 errdetail("Column names and types are read from its first lines.")));
	read_first_record(stream, opts, ic);

	/* The rows after it: each field in the slot of its number. */
	wanted = palloc(sizeof(CsvWantedField) * ic->ncols);
	for (int f = 0; f < ic->ncols; f++)
		wanted[f].field = wanted[f].slot = f;
	hvcsv_stream_select_fields(stream, wanted, ic->ncols, ic->ncols);
	for (; rows < SAMPLE_ROWS && hvcsv_stream_next(stream); rows++)
		for (int f = 0; f < ic->ncols; f++)
			sample_value(&ic->cols[f], &stream->rec, f, opts->encoding);
}

/*
 * Infers the columns of the export of opts from its first lines.  The
 * streaming reader's export is read from the response, only as far as the
 * sample, since its scans never spool it; the others' from the spool,
 * which a scan later in the transaction then reuses.
 */
static void
infer_columns(HvcsvOptions *opts, const char *export_name, ImportColumns *ic)
{
	if (opts->reader == HVCSV_READER_STREAMING)
	{
		HvcsvRequest req;
		HvcsvBody  *body;

		hvcsv_request_init(&req, opts);
		body = hvcsv_body_open(&req, NULL, NULL);
		infer_from(hvcsv_body_read_into, body, opts, export_name, ic);
		hvcsv_body_close(body);
	}
	else
	{
		HvcsvSpool *spool = hvcsv_spool_open(opts);

		infer_from(hvcsv_spool_read, spool, opts, export_name, ic);
		hvcsv_spool_close(spool);
	}
}

/* Orders names, for qsort. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A name the header gives more than one field, or NULL. */
static const char *
repeated_name(const ImportColumns *ic)
{
	char	  **names = palloc(sizeof(char *) * Max(ic->ncols, 1));

	for (int f = 0; f < ic->ncols; f++)
		names[f] = ic->cols[f].csv_name;
	qsort(names, ic->ncols, sizeof(char *), name_cmp);
	for (int f = 1; f < ic->ncols; f++)
		if (strcmp(names[f - 1], names[f]) == 0)
			return names[f];
	return NULL;
}

/*
 * An identifier for base that no earlier column has (taken holds theirs):
 * base clipped to NAMEDATALEN - 1 bytes at a character boundary, or
 * followed by "_2", "_3", ... if that is taken.
 */
static char *
unique_identifier(HTAB *taken, const char *base)
{
	for (int k = 1;; k++)
	{
		char		suffix[16] = "";
		char		ident[NAMEDATALEN];
		bool		found;
		int			len;

		if (k > 1)
			snprintf(suffix, sizeof(suffix), "_%d", k);
		len = pg_mbcliplen(base, strlen(base), NAMEDATALEN - 1 - strlen(suffix));
		snprintf(ident, sizeof(ident), "%.*s%s", len, base, suffix);
		(void) hash_search(taken, ident, HASH_ENTER, &found);
		if (!found)
			return pstrdup(ident);
	}
}

/*
 * The base of a column's identifier: the header's name with control
 * characters (a line break, say) made underscores, or column_N for a
 * field with no name.
 */
static char *
identifier_base(const ImportColumn *col, int field)
{
	char	   *base;

	if (col->csv_name == NULL || col->csv_name[0] == '\0')
		return psprintf("column_%d", field + 1);
	base = pstrdup(col->csv_name);
	for (char *p = base; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = '_';
	return base;
}

/* Gives every column its identifier: the header's name if it can be one. */
static void
name_columns(ImportColumns *ic)
{
	HASHCTL		ctl = {
		.keysize = NAMEDATALEN,
		.entrysize = NAMEDATALEN,
		.hcxt = CurrentMemoryContext,
	};
	HTAB	   *taken = hash_create("hvcsv_fdw imported column names", ic->ncols, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	for (int f = 0; f < ic->ncols; f++)
		ic->cols[f].name = unique_identifier(taken, identifier_base(&ic->cols[f], f));
	hash_destroy(taken);
	if (ic->ncols > 0 && ic->cols[0].csv_name)
		ic->repeated = repeated_name(ic);
}

/* The type of a column: the first that every sampled value fits. */
static const char *
column_type(const ImportColumn *col)
{
	if (col->seen)
		for (size_t i = 0; i < lengthof(type_order); i++)
			if (col->fits & type_order[i].flag)
				return type_order[i].type;
	return "text";
}

/* The column list of CREATE FOREIGN TABLE: a column_name option where the name differs. */
static char *
column_list(const ImportColumns *ic)
{
	StringInfoData cols;

	initStringInfo(&cols);
	for (int f = 0; f < ic->ncols; f++)
	{
		const ImportColumn *col = &ic->cols[f];

		appendStringInfo(&cols, "%s%s %s", f > 0 ? ", " : "",
						 quote_identifier(col->name), column_type(col));
		if (col->csv_name && strcmp(col->csv_name, col->name) != 0)
			appendStringInfo(&cols, " OPTIONS (column_name %s)",
							 quote_literal_cstr(col->csv_name));
	}
	return cols.data;
}

/* The table options: the given ones, with header 'match' if fields go by position. */
static char *
table_options(List *options, bool by_position)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (by_position && strcmp(def->defname, "header") == 0)
			continue;
		appendStringInfo(&buf, ", %s %s", quote_identifier(def->defname),
						 quote_literal_cstr(defGetString(def)));
	}
	if (by_position)
		appendStringInfoString(&buf, ", header 'match'");
	return buf.data;
}

/*
 * The header fields of the export of opts (which must have a header), in
 * order, with the types IMPORT FOREIGN SCHEMA would give them: a List of
 * HvcsvExportColumn *.  As for IMPORT, at most MaxHeapAttributeNumber + 1
 * fields are read.  A field with no name is "".
 */
List *
hvcsv_export_columns(HvcsvOptions *opts)
{
	ImportColumns ic = {0};
	List	   *columns = NIL;

	if (opts->header == HVCSV_HEADER_NONE)
		elog(ERROR, "hvcsv_export_columns needs an export with a header");
	infer_columns(opts, hvcsv_display_url(opts), &ic);
	for (int f = 0; f < ic.ncols; f++)
	{
		HvcsvExportColumn *col = palloc(sizeof(HvcsvExportColumn));

		col->name = ic.cols[f].csv_name;
		col->type_name = column_type(&ic.cols[f]);
		columns = lappend(columns, col);
	}
	return columns;
}

/* Builds IMPORT FOREIGN SCHEMA's CREATE FOREIGN TABLE statements. */
List *
hvcsv_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	static const HvcsvReaderKind kinds[] = {
		HVCSV_READER_PARTITIONED, HVCSV_READER_PROJECTED, HVCSV_READER_STREAMING
	};
	ForeignServer *server = GetForeignServer(serverOid);
	HvcsvOptions checked;
	HvcsvOptions *opts;
	ImportColumns ic = {0};
	bool		by_position;
	char	   *cols;
	char	   *options;
	List	   *commands = NIL;
	ListCell   *cell;

	/* The OPTIONS are table options, checked as CREATE FOREIGN TABLE would. */
	hvcsv_check_options(stmt->options, ForeignTableRelationId, &checked);
	foreach(cell, stmt->options)
		if (strcmp(lfirst_node(DefElem, cell)->defname, "reader") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"reader\" cannot be given to IMPORT FOREIGN SCHEMA"),
					 errdetail("One table is created for each reader.")));
	opts = hvcsv_server_options(serverOid, GetUserId(), stmt->options);
	infer_columns(opts, stmt->remote_schema, &ic);
	name_columns(&ic);

	by_position = ic.repeated && opts->header == HVCSV_HEADER_NAMES;
	if (by_position)
		ereport(NOTICE,
				(errmsg("CSV header of \"%s\" has field name \"%s\" more than once",
						stmt->remote_schema, ic.repeated),
				 errdetail("The tables read the fields by position, with header 'match', so the export must keep them in this order.")));
	cols = column_list(&ic);
	options = table_options(stmt->options, by_position);
	for (size_t i = 0; i < lengthof(kinds); i++)
	{
		const char *reader = hvcsv_reader_name(kinds[i]);

		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (%s) SERVER %s OPTIONS (reader %s%s)",
									quote_identifier(psprintf("%s_%s", stmt->remote_schema, reader)),
									cols, quote_identifier(server->servername),
									quote_literal_cstr(reader), options));
	}
	return commands;
}
