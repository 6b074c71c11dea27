/*-------------------------------------------------------------------------
 * import.c
 *	  IMPORT FOREIGN SCHEMA: reads the header and a sample of rows, infers
 *	  each column's type, and creates one foreign table per reader.
 *
 * IMPORT FOREIGN SCHEMA name FROM SERVER s INTO local [OPTIONS (...)]
 * creates name_partitioned, name_projected and name_streaming (the seed's
 * TABLE_USING_DASK, TABLE_USING_PANDAS_PYARROW and TABLE_USING_POLARS),
 * with the columns spelled as the CSV spells them.  The OPTIONS are foreign
 * table options (path, header, delimiter, ...) and are copied onto every
 * table created.  LIMIT TO and EXCEPT name those tables; the server filters
 * the statements by them.
 *
 * A column's type is the first of boolean, integer, bigint, numeric, date
 * and timestamptz that every sampled non-NULL value fits, else text; a
 * column with no value in the sample is text.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "hvcsv_fdw.h"

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
	char	   *name;
	int			fits;			/* FITS_* flags every value so far allows */
	bool		seen;			/* some non-NULL value was sampled */
} ImportColumn;

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

/* Reads the spool once: the header's names, then a sample of values. */
static List *
infer_columns(HvcsvOptions *opts, const char *remote_name)
{
	HvcsvSpool *spool = hvcsv_spool_open(opts);
	CsvDialect	dialect;
	CsvStream  *stream;
	ImportColumn *cols = NULL;
	int			ncols = 0;
	List	   *result = NIL;
	int			rows = 0;

	hvcsv_dialect(opts, &dialect);
	stream = csv_stream_create(&dialect, hvcsv_spool_read, spool);
	if (opts->encoding == PG_UTF8)
		csv_stream_skip_bom(stream);
	csv_stream_select_all_fields(stream);

	while (rows <= SAMPLE_ROWS && csv_stream_next(stream))
	{
		const CsvRecord *rec = &stream->rec;

		if (cols == NULL)
		{
			ncols = rec->nfields;
			cols = palloc0(sizeof(ImportColumn) * ncols);
			for (int f = 0; f < ncols; f++)
			{
				cols[f].fits = FITS_ANY;
				if (opts->header != HVCSV_HEADER_NONE && rec->slot_state[f] == CSV_SLOT_VALUE &&
					rec->slot_length[f] > 0)
					cols[f].name = pstrdup(pg_any_to_server(rec->out + rec->slot_offset[f],
															rec->slot_length[f], opts->encoding));
				else
					cols[f].name = psprintf("column_%d", f + 1);
				for (int g = 0; g < f; g++)
					if (strcmp(cols[g].name, cols[f].name) == 0)
						ereport(ERROR,
								(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
								 errmsg("CSV header of \"%s\" has column \"%s\" more than once",
										remote_name, cols[f].name),
								 errhint("Create the foreign tables by hand, naming the columns to read.")));
			}
			if (opts->header != HVCSV_HEADER_NONE)
				continue;
		}
		for (int f = 0; f < ncols && f < rec->nfields; f++)
		{
			if (rec->slot_state[f] != CSV_SLOT_VALUE)
				continue;
			cols[f].seen = true;
			cols[f].fits &= types_that_fit(pg_any_to_server(rec->out + rec->slot_offset[f],
															rec->slot_length[f], opts->encoding));
		}
		rows++;
	}
	hvcsv_spool_close(spool);

	if (cols == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("the CSV export of \"%s\" is empty", remote_name),
				 errdetail("Column names and types are read from its first lines.")));
	for (int f = 0; f < ncols; f++)
		result = lappend(result, &cols[f]);
	return result;
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

/* Builds IMPORT FOREIGN SCHEMA's CREATE FOREIGN TABLE statements. */
List *
hvcsvImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	static const HvcsvReaderKind kinds[] = {
		HVCSV_READER_PARTITIONED, HVCSV_READER_PROJECTED, HVCSV_READER_STREAMING
	};
	ForeignServer *server = GetForeignServer(serverOid);
	HvcsvOptions checked;
	HvcsvOptions *opts;
	List	   *columns;
	List	   *commands = NIL;
	StringInfoData cols;
	StringInfoData options;
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
	columns = infer_columns(opts, stmt->remote_schema);

	initStringInfo(&cols);
	foreach(cell, columns)
	{
		ImportColumn *col = (ImportColumn *) lfirst(cell);

		appendStringInfo(&cols, "%s%s %s", cols.len ? ", " : "",
						 quote_identifier(col->name), column_type(col));
	}
	initStringInfo(&options);
	foreach(cell, stmt->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		appendStringInfo(&options, ", %s %s", quote_identifier(def->defname),
						 quote_literal_cstr(defGetString(def)));
	}

	for (size_t i = 0; i < lengthof(kinds); i++)
	{
		const char *reader = hvcsv_reader_name(kinds[i]);

		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (%s) SERVER %s OPTIONS (reader %s%s)",
									quote_identifier(psprintf("%s_%s", stmt->remote_schema, reader)),
									cols.data, quote_identifier(server->servername),
									quote_literal_cstr(reader), options.data));
	}
	return commands;
}
