/*-------------------------------------------------------------------------
 * cursor_mark.c
 *	  The high-water mark of cursor_column as text that means the same
 *	  value whoever reads it back.
 *
 * A type's text form can depend on session settings: timestamps on
 * DateStyle and TimeZone, intervals on IntervalStyle, floats on
 * extra_float_digits, bytea on bytea_output.  The mark is written by one
 * run and read by the next, perhaps from another session, so both happen
 * under the same fixed settings: read back, the mark is the value the run
 * saw, never a neighbour of it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "refresh_internal.h"

/* Settings under which every mark is written and read. */
static const char *const canonical_settings[][2] = {
	{"DateStyle", "ISO, YMD"},
	{"TimeZone", "UTC"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "3"},
	{"bytea_output", "hex"},
};

/* Sets the canonical settings; returns the nest level that undoes them. */
static int
enter_canonical_settings(void)
{
	int			level = NewGUCNestLevel();

	for (size_t i = 0; i < lengthof(canonical_settings); i++)
		(void) set_config_option(canonical_settings[i][0], canonical_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* The mark's text for a value of type. */
char *
hvcsv_mark_to_text(Datum value, Oid type)
{
	Oid			output;
	bool		varlena;
	int			level = enter_canonical_settings();
	char	   *text;

	getTypeOutputInfo(type, &output, &varlena);
	text = OidOutputFunctionCall(output, value);
	AtEOXact_GUC(false, level);
	return text;
}

/* The value of type that a mark's text stands for. */
Datum
hvcsv_mark_from_text(const char *text, Oid type, int32 typmod)
{
	Oid			input;
	Oid			ioparam;
	int			level = enter_canonical_settings();
	Datum		value;

	getTypeInputInfo(type, &input, &ioparam);
	value = OidInputFunctionCall(input, (char *) text, ioparam, typmod);
	AtEOXact_GUC(false, level);
	return value;
}

/*
 * The type cursor_lag is read as for a cursor column of type: the type
 * itself for a number, an interval for a date or a timestamp.
 */
static char *
lag_type(Oid type, const char *column)
{
	Oid			base = getBaseType(type);

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
			return format_type_extended(base, -1, FORMAT_TYPE_FORCE_QUALIFY);
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return "pg_catalog.interval";
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("cursor_lag needs a cursor column of a number, date or timestamp type"),
					 errdetail("Column \"%s\" has type %s.", column, format_type_be(type))));
	}
	return NULL;				/* keep the compiler quiet */
}

/* Checks, before anything is read, that cursor_lag fits the cursor column. */
void
hvcsv_check_cursor_lag(Oid type, const char *lag, const char *column)
{
	char	   *as = lag_type(type, column);
	int			level;
	char	   *end;

	(void) strtod(lag, &end);
	if (strcmp(as, "pg_catalog.interval") != 0 && (end == lag || *end != '\0'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cursor_lag \"%s\" is not a number, and cursor column \"%s\" has type %s",
						lag, column, format_type_be(type)),
				 errhint("A numeric cursor takes a number as its lag; an interval is for a date or timestamp cursor.")));
	level = enter_canonical_settings();

	SPI_execute_with_args(psprintf("SELECT CAST($1 AS %s)", as), 1, (Oid[]) {TEXTOID},
						  (Datum[]) {CStringGetTextDatum(lag)}, NULL, true, 1);
	AtEOXact_GUC(false, level);
}

/*
 * The mark lowered by cursor_lag, as a mark's text.  The arithmetic runs
 * under the fixed settings too, since a day's length in timestamptz
 * depends on TimeZone.  A date less an interval is a timestamp: it is cast
 * back, to the day before when the lag is not whole days.
 */
char *
hvcsv_mark_minus_lag(const char *mark, Oid type, const char *lag, const char *column)
{
	Oid			base = getBaseType(type);
	char	   *name = format_type_extended(base, -1, FORMAT_TYPE_FORCE_QUALIFY);
	char	   *as = lag_type(type, column);
	int			level;
	bool		isnull;
	char	   *lowered;

	level = enter_canonical_settings();
	SPI_execute_with_args(psprintf("SELECT CAST(CAST($1 AS %s) OPERATOR(pg_catalog.-) CAST($2 AS %s) AS %s)",
								   name, as, name),
						  2, (Oid[]) {TEXTOID, TEXTOID},
						  (Datum[]) {CStringGetTextDatum(mark), CStringGetTextDatum(lag)},
						  NULL, true, 1);
	lowered = hvcsv_mark_to_text(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											   &isnull), base);
	AtEOXact_GUC(false, level);
	return lowered;
}

/*
 * Tells whether a mark's text is a value above every ordinary one (NaN, or
 * infinity): no row could pass such a mark, so it bounds nothing.  The
 * statements never make one; an older version could.
 */
bool
hvcsv_mark_is_unbounded(const char *text)
{
	return strcmp(text, "NaN") == 0 || pg_strcasecmp(text, "infinity") == 0;
}
