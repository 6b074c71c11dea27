/*-------------------------------------------------------------------------
 * import.c
 *	  IMPORT FOREIGN SCHEMA: names the export's columns, types them from the
 *	  whole export (export_types.c), and creates the foreign tables, and
 *	  their targets if asked.
 *
 * IMPORT FOREIGN SCHEMA name FROM SERVER s INTO local [OPTIONS (...)]
 * creates name_partitioned, name_projected and name_streaming, one table
 * per reader, with the columns spelled as the CSV spells them.  The OPTIONS
 * are foreign table options (path, header, delimiter, ...), copied onto
 * every table created, and these, which are IMPORT's own:
 *	  readers		the readers to create tables for, a comma-separated
 *					list; for one reader, one table, named name
 *	  column_names	'header' (the default): as the header spells them;
 *					'snake': in lower case, each run of other characters
 *					than letters and digits made one underscore, an
 *					underscore before a leading digit
 *	  target_schema	also creates each table's target there, with the
 *					table's name, columns and types and the key option's
 *					columns as primary key, and sets the table's target
 * LIMIT TO and EXCEPT name the foreign tables; PostgreSQL filters the
 * statements by them, and the targets of the tables left out are not
 * created either.
 *
 * Every column must read its own field, whatever the header holds.  A name
 * that cannot be a column's name as it is (empty, longer than an
 * identifier, holding a control character, or taken by an earlier column
 * once clipped or folded) gives the column another, unique name and a
 * column_name option with the header's.  A name the header repeats cannot
 * tell its fields apart, so then the tables read their fields by
 * position, with header 'match'.
 *
 * PostgreSQL runs only CREATE FOREIGN TABLE statements from the list this
 * returns, so the targets are created here, through SPI, as the importing
 * role, which must be allowed to create in target_schema: their names are
 * schema-qualified and quoted and their types qualified, so the caller's
 * search_path picks nothing.  An existing table is not reused: its columns,
 * key and rows would be the importer's to check, and a sync would write
 * into it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_foreign_table.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "compat.h"
#include "hvcsv_fdw.h"
#include "option.h"


typedef struct ImportColumn
{
	char	   *name;			/* its identifier, unique among the columns */
	char	   *csv_name;		/* the header's name of its field, or NULL */
	Oid			type;
} ImportColumn;

/* The columns to create, one per field of the CSV. */
typedef struct ImportColumns
{
	ImportColumn *cols;
	int			ncols;
	const char *repeated;		/* a header name given twice, or NULL */
} ImportColumns;

/* IMPORT's own options, and the others: those of the tables. */
typedef struct ImportChoices
{
	HvcsvReaderKind readers[3];
	int			nreaders;
	bool		snake_case;		/* column_names 'snake' */
	char	   *target_schema;	/* or NULL */
	List	   *table_options;
} ImportChoices;

/* Reports an invalid value of one of IMPORT's own options. */
static void
invalid_import_value(DefElem *def, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, defGetString(def)),
			 errdetail_internal("%s", detail)));
}

/* Parses the readers option: reader names, each once. */
static void
parse_readers(DefElem *def, ImportChoices *choices)
{
	static const char *const detail =
		"The value must be a comma-separated list of readers: projected, partitioned, streaming.";
	List	   *names;
	ListCell   *cell;

	/* SplitIdentifierString writes into the string it splits. */
	if (!SplitIdentifierString(pstrdup(defGetString(def)), ',', &names) || names == NIL)
		invalid_import_value(def, detail);
	choices->nreaders = 0;
	foreach(cell, names)
	{
		HvcsvReaderKind kind;

		for (kind = HVCSV_READER_PROJECTED; kind <= HVCSV_READER_STREAMING; kind++)
			if (strcmp(lfirst(cell), hvcsv_reader_name(kind)) == 0)
				break;
		if (kind > HVCSV_READER_STREAMING)
			invalid_import_value(def, detail);
		for (int i = 0; i < choices->nreaders; i++)
			if (choices->readers[i] == kind)
				invalid_import_value(def, "The value names a reader more than once.");
		choices->readers[choices->nreaders++] = kind;
	}
}

/* Splits IMPORT's OPTIONS into its own and the tables'. */
static void
parse_import_options(List *options, ImportChoices *choices)
{
	DefElem    *readers = NULL;
	DefElem    *column_names = NULL;
	DefElem    *target_schema = NULL;
	ListCell   *cell;

	choices->readers[0] = HVCSV_READER_PARTITIONED;
	choices->readers[1] = HVCSV_READER_PROJECTED;
	choices->readers[2] = HVCSV_READER_STREAMING;
	choices->nreaders = 3;
	choices->snake_case = false;
	choices->target_schema = NULL;
	choices->table_options = NIL;
	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		DefElem   **own = NULL;

		if (strcmp(def->defname, "reader") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"reader\" cannot be given to IMPORT FOREIGN SCHEMA"),
					 errhint("Use option \"readers\" to choose the readers to create tables for.")));
		if (strcmp(def->defname, "readers") == 0)
			own = &readers;
		else if (strcmp(def->defname, "column_names") == 0)
			own = &column_names;
		else if (strcmp(def->defname, "target_schema") == 0)
			own = &target_schema;
		if (own == NULL)
		{
			choices->table_options = lappend(choices->table_options, def);
			continue;
		}
		if (*own)
			errorConflictingDefElem(def, NULL);
		*own = def;
	}
	if (readers)
		parse_readers(readers, choices);
	if (column_names)
	{
		if (strcmp(defGetString(column_names), "snake") == 0)
			choices->snake_case = true;
		else if (strcmp(defGetString(column_names), "header") != 0)
			invalid_import_value(column_names, "The value must be \"header\" or \"snake\".");
	}
	if (target_schema)
		choices->target_schema = defGetString(target_schema);
}

/*
 * Reads the export's columns and types, from the response if every table
 * created streams it, else from the spool, which their first scan reuses.
 */
static void
read_columns(HvcsvOptions *opts, const ImportChoices *choices, const char *export_name,
			 ImportColumns *ic)
{
	List	   *fields;
	ListCell   *cell;
	int			f = 0;

	opts->reader = HVCSV_READER_STREAMING;
	for (int i = 0; i < choices->nreaders; i++)
		if (choices->readers[i] != HVCSV_READER_STREAMING)
			opts->reader = choices->readers[i];
	fields = hvcsv_export_columns(opts, export_name);
	ic->ncols = list_length(fields);
	ic->cols = palloc0(sizeof(ImportColumn) * Max(ic->ncols, 1));
	foreach(cell, fields)
	{
		HvcsvExportColumn *field = lfirst(cell);

		ic->cols[f].csv_name = field->name;
		ic->cols[f++].type = field->type;
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
 * The header's name in snake case: ASCII letters in lower case, each run of
 * characters other than letters and digits one underscore, none at either
 * end, and an underscore before a leading digit, so that the name needs no
 * quotes.  Bytes of multibyte characters, letters in some language, stay.
 * NULL if nothing is left.
 */
static char *
snake_case(const char *name)
{
	StringInfoData buf;
	bool		separate = false;

	initStringInfo(&buf);
	for (const unsigned char *p = (const unsigned char *) name; *p; p++)
	{
		bool		ascii_alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9');

		if (!ascii_alnum && !IS_HIGHBIT_SET(*p))
		{
			separate = true;
			continue;
		}
		if (buf.len == 0 && *p >= '0' && *p <= '9')
			appendStringInfoChar(&buf, '_');
		else if (separate && buf.len > 0)
			appendStringInfoChar(&buf, '_');
		separate = false;
		appendStringInfoChar(&buf, (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
	}
	return buf.len > 0 ? buf.data : NULL;
}

/*
 * The base of a column's identifier: the header's name, in snake case if
 * asked, else with control characters (a line break, say) made
 * underscores; or column_N for a field with no name.
 */
static char *
identifier_base(const ImportColumn *col, int field, bool snake)
{
	char	   *base = NULL;

	if (col->csv_name != NULL && col->csv_name[0] != '\0')
	{
		if (snake)
			base = snake_case(col->csv_name);
		else
		{
			base = pstrdup(col->csv_name);
			for (char *p = base; *p; p++)
				if ((unsigned char) *p < 0x20 || *p == 0x7f)
					*p = '_';
		}
	}
	return base ? base : psprintf("column_%d", field + 1);
}

/* Gives every column its identifier: the header's name if it can be one. */
static void
name_columns(ImportColumns *ic, bool snake)
{
	HASHCTL		ctl = {
		.keysize = NAMEDATALEN,
		.entrysize = NAMEDATALEN,
		.hcxt = CurrentMemoryContext,
	};
	HTAB	   *taken = hash_create("hvcsv_fdw imported column names", ic->ncols, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	for (int f = 0; f < ic->ncols; f++)
		ic->cols[f].name = unique_identifier(taken, identifier_base(&ic->cols[f], f, snake));
	hash_destroy(taken);
	if (ic->ncols > 0 && ic->cols[0].csv_name)
		ic->repeated = repeated_name(ic);
}

/*
 * The column list of CREATE FOREIGN TABLE and CREATE TABLE, types
 * qualified: for the foreign table, a column_name option where the name
 * differs.
 */
static char *
column_list(const ImportColumns *ic, bool foreign)
{
	StringInfoData cols;

	initStringInfo(&cols);
	for (int f = 0; f < ic->ncols; f++)
	{
		const ImportColumn *col = &ic->cols[f];

		appendStringInfo(&cols, "%s%s %s", f > 0 ? ", " : "",
						 quote_identifier(col->name), format_type_be_qualified(col->type));
		if (foreign && col->csv_name && strcmp(col->csv_name, col->name) != 0)
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

/* Checks that every column of key is one of the columns to create. */
static void
check_key(List *key, const ImportColumns *ic, const char *remote_schema)
{
	ListCell   *cell;

	foreach(cell, key)
	{
		int			f;

		for (f = 0; f < ic->ncols; f++)
			if (strcmp(ic->cols[f].name, lfirst(cell)) == 0)
				break;
		if (f == ic->ncols)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key column \"%s\" is not a column of the export \"%s\"",
							(char *) lfirst(cell), remote_schema),
					 errhint("Name the columns as IMPORT FOREIGN SCHEMA names them, with the same column_names option.")));
	}
}

/*
 * Checks target_schema before the export is read: it must exist, the
 * caller must be allowed to create in it (checked again when the targets
 * are created), it must not be where the foreign tables go (a target has
 * its foreign table's name), and it needs a key and no target option.
 * Returns its OID.
 */
static Oid
check_target_schema(const ImportChoices *choices, const HvcsvOptions *checked,
					const char *local_schema)
{
	Oid			nsp = get_namespace_oid(choices->target_schema, false);
	AclResult	acl = hvcsv_schema_create_aclcheck(nsp, GetUserId());

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_SCHEMA, choices->target_schema);
	if (nsp == get_namespace_oid(local_schema, false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target_schema \"%s\" is the schema the foreign tables are imported into",
						choices->target_schema),
				 errdetail("Each target takes the name of its foreign table.")));
	if (checked->target != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"target\" and \"target_schema\" cannot be used together")));
	if (checked->key == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"target_schema\" requires option \"key\""),
				 errdetail("The key's columns are the targets' primary key.")));
	return nsp;
}

/*
 * Creates the target of a foreign table: schema.name, with the tables'
 * columns and types, key as its primary key.  As the caller, through SPI,
 * so that PostgreSQL checks the privilege to create in schema; an existing
 * table is refused.
 */
static void
create_target(Oid nsp, const char *schema, const char *name, const ImportColumns *ic,
			  List *key)
{
	StringInfoData sql;
	ListCell   *cell;
	int			guc_level;

	if (OidIsValid(get_relname_relid(name, nsp)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("target \"%s.%s\" already exists", schema, name),
				 errdetail("IMPORT FOREIGN SCHEMA creates the targets; it does not reuse a table."),
				 errhint("Drop the table, import into another target_schema, or import without target_schema and set the target option yourself.")));
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s.%s (%s, PRIMARY KEY (",
					 quote_identifier(schema), quote_identifier(name), column_list(ic, false));
	foreach(cell, key)
		appendStringInfo(&sql, "%s%s", cell == list_head(key) ? "" : ", ",
						 quote_identifier(lfirst(cell)));
	appendStringInfoString(&sql, "))");
	/*
	 * Everything in the statement is qualified; the fixed search_path is
	 * so that nothing else a schema on the caller's path holds can be
	 * found either (the key's index takes its operator class by type).
	 */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create target \"%s.%s\"", schema, name);
	SPI_finish();
	AtEOXact_GUC(true, guc_level);
}

/*
 * The names of the tables for each reader: the remote schema's, or with
 * the reader's after it, clipped as the parser clips an identifier, so that
 * they are the names LIMIT TO and EXCEPT spell and the tables get.  Two
 * that clip to the same name are refused before anything is created.
 */
static char **
table_names(const ImportChoices *choices, const char *remote_schema)
{
	char	  **names = palloc(sizeof(char *) * choices->nreaders);

	for (int i = 0; i < choices->nreaders; i++)
	{
		const char *reader = hvcsv_reader_name(choices->readers[i]);
		char	   *name = choices->nreaders == 1 ? pstrdup(remote_schema) :
			psprintf("%s_%s", remote_schema, reader);

		name[pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1)] = '\0';
		for (int j = 0; j < i; j++)
			if (strcmp(names[j], name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_NAME_TOO_LONG),
						 errmsg("the tables of readers \"%s\" and \"%s\" would both be named \"%s\"",
								hvcsv_reader_name(choices->readers[j]), reader, name),
						 errdetail("Names are clipped to %d bytes.", NAMEDATALEN - 1),
						 errhint("Import under a shorter remote schema name, or one reader at a time.")));
		names[i] = name;
	}
	return names;
}

/* Builds IMPORT FOREIGN SCHEMA's CREATE FOREIGN TABLE statements, and creates the targets. */
List *
hvcsv_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	ImportChoices choices;
	HvcsvOptions checked;
	HvcsvOptions *opts;
	ImportColumns ic = {0};
	Oid			target_nsp = InvalidOid;
	bool		by_position;
	char	   *cols;
	char	   *options;
	List	   *commands = NIL;
	char	  **names;

	parse_import_options(stmt->options, &choices);
	names = table_names(&choices, stmt->remote_schema);
	/* The others are table options, checked as CREATE FOREIGN TABLE would. */
	hvcsv_check_options(choices.table_options, ForeignTableRelationId, &checked);
	/* The columns are typed from one export's values. */
	if (hvcsv_has_export_list(&checked))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("IMPORT FOREIGN SCHEMA reads one export, named by option \"path\""),
				 errhint("Import from one of the exports, then set the table's paths, manifest or path_template.")));
	if (choices.target_schema)
		target_nsp = check_target_schema(&choices, &checked, stmt->local_schema);
	opts = hvcsv_server_options(serverOid, GetUserId(), choices.table_options);
	read_columns(opts, &choices, stmt->remote_schema, &ic);
	name_columns(&ic, choices.snake_case);
	check_key(checked.key, &ic, stmt->remote_schema);

	by_position = ic.repeated && opts->header == HVCSV_HEADER_NAMES;
	if (by_position)
		ereport(NOTICE,
				(errmsg("CSV header of \"%s\" has field name \"%s\" more than once",
						stmt->remote_schema, ic.repeated),
				 errdetail("The tables read the fields by position, with header 'match', so the export must keep them in this order.")));
	cols = column_list(&ic, true);
	options = table_options(choices.table_options, by_position);
	for (int i = 0; i < choices.nreaders; i++)
	{
		const char *reader = hvcsv_reader_name(choices.readers[i]);
		const char *name = names[i];
		char	   *target = "";

		if (choices.target_schema && IsImportableForeignTable(name, stmt))
		{
			create_target(target_nsp, choices.target_schema, name, &ic, checked.key);
			target = psprintf(", target %s",
							  quote_literal_cstr(psprintf("%s.%s",
														  quote_identifier(choices.target_schema),
														  quote_identifier(name))));
		}
		commands = lappend(commands,
						   psprintf("CREATE FOREIGN TABLE %s (%s) SERVER %s OPTIONS (reader %s%s%s)",
									quote_identifier(name), cols,
									quote_identifier(server->servername),
									quote_literal_cstr(reader), options, target));
	}
	return commands;
}
