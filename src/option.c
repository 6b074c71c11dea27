/*-------------------------------------------------------------------------
 * option.c
 *	  The options of hvcsv_fdw: which object each belongs on, how its value
 *	  is checked, and how a table's options are gathered for a scan.
 *
 * One function, apply_option, parses every value; the validator calls it at
 * CREATE/ALTER time and hvcsv_get_options calls it again at scan time, so a
 * value is judged the same way in both places.  What depends on who sets an
 * option (ca_file) or on settings that may change later (allowed_hosts) is
 * checked by the validator only; fetch.c checks the hosts again at every
 * request.  No message ever shows the value of api_key, user, password or
 * headers (auth.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/reloptions.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "http.h"
#include "option.h"
#include "records.h"


PG_FUNCTION_INFO_V1(hvcsv_fdw_validator);

typedef struct HvcsvOption
{
	const char *name;
	Oid			catalog;
} HvcsvOption;

static const HvcsvOption valid_options[] = {
	{"api_url", ForeignServerRelationId},
	{"connect_timeout", ForeignServerRelationId},
	{"timeout", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"retry_delay", ForeignServerRelationId},
	{"max_retry_delay", ForeignServerRelationId},
	{"max_age", ForeignServerRelationId},
	{"max_bytes", ForeignServerRelationId},
	{"max_connections", ForeignServerRelationId},
	{"download_connections", ForeignServerRelationId},
	{"ca_file", ForeignServerRelationId},
	{"export_origins", ForeignServerRelationId},

	{"api_key", UserMappingRelationId},
	{"auth_scheme", UserMappingRelationId},
	{"api_key_header", UserMappingRelationId}, {"api_key_param", UserMappingRelationId},
	{"user", UserMappingRelationId}, {"password", UserMappingRelationId},
	{"headers", UserMappingRelationId},

	{"path", ForeignTableRelationId},
	{"paths", ForeignTableRelationId},
	{"manifest", ForeignTableRelationId},
	{"path_template", ForeignTableRelationId},
	{"paginate", ForeignTableRelationId},
	{"dates_from", ForeignTableRelationId},
	{"dates_step", ForeignTableRelationId},
	{"missing_exports", ForeignTableRelationId},
	{"reader", ForeignTableRelationId},
	{"compression", ForeignTableRelationId},
	{"header", ForeignTableRelationId},
	{"delimiter", ForeignTableRelationId},
	{"quote", ForeignTableRelationId},
	{"escape", ForeignTableRelationId},
	{"null", ForeignTableRelationId},
	{"comment", ForeignTableRelationId},
	{"skip_lines", ForeignTableRelationId},
	{"missing_fields", ForeignTableRelationId},
	{"extra_fields", ForeignTableRelationId},
	{"encoding", ForeignTableRelationId},
	{"block_size", ForeignTableRelationId},
	{"batch_rows", ForeignTableRelationId},
	{"on_error", ForeignTableRelationId},
	{"reject_limit", ForeignTableRelationId},
	{"log_verbosity", ForeignTableRelationId},
	{"format", ForeignTableRelationId},
	{"target", ForeignTableRelationId},
	{"key", ForeignTableRelationId},
	{"cursor_column", ForeignTableRelationId},
	{"cursor_lag", ForeignTableRelationId},
	{"cursor_nulls", ForeignTableRelationId},
	{"cursor_param", ForeignTableRelationId},
	{"on_new_columns", ForeignTableRelationId},
	{"on_missing_columns", ForeignTableRelationId},
	{"on_duplicate_key", ForeignTableRelationId},
	{"delete_missing", ForeignTableRelationId},
	{"deleted_column", ForeignTableRelationId},
	{"delete_limit", ForeignTableRelationId},

	{"column_name", AttributeRelationId},
	{"force_null", AttributeRelationId},
	{"force_not_null", AttributeRelationId},
	{"source", AttributeRelationId},
	{NULL, InvalidOid}
};

/* Names the kind of object a catalog holds, for messages. */
static const char *
catalog_object_name(Oid catalog)
{
	switch (catalog)
	{
		case ForeignServerRelationId:
			return "foreign server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "foreign table column";
		case ForeignDataWrapperRelationId:
			return "foreign-data wrapper";
		default:
			return "object";
	}
}

/*
 * Reports a value that an option does not accept.  A URL is shown without
 * its password and secret-looking query values.
 */
static void
invalid_value(DefElem *def, const char *detail)
{
	const char *value = defGetString(def);
	HvcsvUrl	url;

	if (strcmp(def->defname, "api_url") == 0 && hvcsv_url_parse(value, &url))
		value = hvcsv_redact_url(value);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
			 errdetail_internal("%s", detail)));
}

/* The missing_exports option's values, in the order of HvcsvMissingExports from SKIP. */
static const char *const missing_exports_names[] = {"skip", "error", NULL};

/* The source column option's values, in the order of HvcsvColumnSource from PATH. */
static const char *const column_source_names[] = {"path", "url", "line", NULL};

/* The reader option's values, in the order of HvcsvReaderKind. */
static const char *const reader_names[] = {"projected", "partitioned", "streaming"};

/* The compression option's values, in the order of HvcsvCompression. */
static const char *const compression_names[] = {"auto", "none", "gzip", "zstd", "bzip2", "xz", "zip", NULL};

/* Splits a target option's text into names as SQL does; false if it is not a table name. */
static bool
split_target(const char *text, List **names)
{
	/* SplitIdentifierString writes into the string it splits. */
	return SplitIdentifierString(pstrdup(text), '.', names) && list_length(*names) <= 3;
}

/*
 * Parses the target option: a table name, optionally schema-qualified.  A
 * syntax check only: the table may be created later.
 */
static List *
parse_target(DefElem *def)
{
	List	   *names;

	if (!split_target(defGetString(def), &names))
		invalid_value(def, "The value must be a table name, optionally schema-qualified.");
	return names;
}

/* Parses a duration in seconds; a number alone means seconds, units allowed. */
static double
parse_seconds(DefElem *def, double min_value)
{
	double		seconds;
	const char *hint = NULL;

	if (!parse_real(defGetString(def), &seconds, GUC_UNIT_S, &hint) ||
		seconds < min_value || seconds > 86400.0 * 365)
		invalid_value(def, min_value > 0 ?
					  "The value must be a positive duration, such as \"30\", \"30s\" or \"5min\"." :
					  "The value must be a duration of zero or more, such as \"0\", \"30s\" or \"5min\".");
	return seconds;
}

/* Parses a size in bytes of at least min_text; units such as kB and MB allowed. */
static int64
parse_bytes(DefElem *def, double min_value, const char *min_text)
{
	double		bytes;
	const char *hint = NULL;

	if (!parse_real(defGetString(def), &bytes, GUC_UNIT_BYTE, &hint) ||
		bytes < min_value || bytes > (double) PG_INT64_MAX / 2)
		invalid_value(def, psprintf("The value must be a size of at least %s, such as \"128MB\".",
									min_text));
	return (int64) bytes;
}

/* Parses an integer within [min_value, max_value]. */
static int64
parse_integer(DefElem *def, int64 min_value, int64 max_value)
{
	const char *value = defGetString(def);
	char	   *end;
	long long	n;

	errno = 0;
	n = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || n < min_value || n > max_value)
		invalid_value(def, psprintf("The value must be an integer from " INT64_FORMAT " to " INT64_FORMAT ".",
									min_value, max_value));
	return n;
}

/* Parses a single-byte character option such as delimiter. */
static char
parse_single_byte(DefElem *def)
{
	const char *value = defGetString(def);

	if (strlen(value) != 1 || IS_HIGHBIT_SET(value[0]))
		invalid_value(def, "The value must be a single one-byte character.");
	if (value[0] == '\n' || value[0] == '\r')
		invalid_value(def, "The value cannot be a newline or carriage return.");
	return value[0];
}

/* Parses a Boolean option. */
static bool
parse_boolean(DefElem *def)
{
	bool		on;

	if (!parse_bool(defGetString(def), &on))
		invalid_value(def, "The value must be a Boolean.");
	return on;
}

/* Rejects control characters, which would break an HTTP request or a header. */
static void
check_printable(DefElem *def)
{
	for (const char *p = defGetString(def); *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			invalid_value(def, "The value must not contain control characters.");
}

/*
 * Parses a value that must be one of words (a NULL-ended list, spelled as
 * in the detail); returns its index.
 */
static int
parse_keyword(DefElem *def, const char *const *words, const char *detail)
{
	const char *value = defGetString(def);

	for (int i = 0; words[i]; i++)
		if (strcmp(value, words[i]) == 0)
			return i;
	invalid_value(def, detail);
	return -1;
}

/*
 * Parses cursor_lag: a number of zero or more (for a numeric cursor) or an
 * interval of zero or more (for a time cursor); which one applies is known
 * only from the cursor column's type, so the refresh converts it then.
 */
static char *
parse_cursor_lag(DefElem *def)
{
	const char *value = defGetString(def);
	char	   *end;
	double		number = strtod(value, &end);
	Interval   *lag;

	if (end != value && *end == '\0' && !isnan(number))
	{
		if (number < 0)
			invalid_value(def, "The value must not be negative.");
		return defGetString(def);
	}
	check_printable(def);
	lag = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(value),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	if (lag->month < 0 || lag->day < 0 || lag->time < 0)
		invalid_value(def, "The value must not be negative.");
	return defGetString(def);
}

/* Parses a URL query parameter's name: unreserved characters only (RFC 3986). */
static char *
parse_query_name(DefElem *def)
{
	const char *value = defGetString(def);

	if (value[0] == '\0' ||
		strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != strlen(value))
		invalid_value(def, "The value must be a query parameter name of letters, digits, \"-\", \".\", \"_\" and \"~\".");
	return defGetString(def);
}

/*
 * What is wrong with a path that could lead away from api_url, or NULL:
 * a URL of its own, or a ".." segment (also percent-encoded, or with
 * backslashes, which some servers take for slashes), spaces or control
 * characters.  hvcsv_server_options checks the joined URL too, since what
 * a path does depends on the api_url it follows.
 */
static const char *
path_problem(const char *value)
{
	size_t		len = strcspn(value, "?#");
	const char *scheme_end = strstr(value, "://");
	StringInfoData decoded;
	const char *segment;

	for (const char *p = value; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return "The value must not contain control characters.";
	if (strchr(value, ' '))
		return "The value must not contain spaces; percent-encode them as %20.";
	if (strncmp(value, "//", 2) == 0 || strncmp(value, "\\\\", 2) == 0 ||
		(scheme_end && scheme_end < value + len))
		return "The value must be a path to append to api_url, not a URL.";

	/* Undo the escapes of '.', '/' and '\', and take '\' for '/'. */
	initStringInfo(&decoded);
	for (size_t i = 0; i < len; i++)
	{
		char		c = value[i];

		if (c == '%' && i + 3 <= len)
		{
			if (pg_strncasecmp(value + i, "%2e", 3) == 0)
				c = '.';
			else if (pg_strncasecmp(value + i, "%2f", 3) == 0 ||
					 pg_strncasecmp(value + i, "%5c", 3) == 0)
				c = '/';
			if (c != '%')
				i += 2;
		}
		appendStringInfoChar(&decoded, c == '\\' ? '/' : c);
	}
	for (segment = decoded.data; segment; segment = strchr(segment, '/'))
	{
		if (*segment == '/')
			segment++;
		if (strncmp(segment, "..", 2) == 0 && (segment[2] == '/' || segment[2] == '\0'))
			return "The value must not contain \"..\" segments: a path stays below api_url.";
	}
	return NULL;
}

/* Rejects a path option that could lead away from api_url (path_problem). */
static void
check_path_stays_below(DefElem *def)
{
	const char *problem = path_problem(defGetString(def));

	if (problem)
		invalid_value(def, problem);
}

/*
 * Parses paths: paths separated by commas or line breaks (blanks around
 * each one ignored), each checked as path is.  At most HVCSV_MAX_EXPORTS.
 */
static List *
parse_paths(DefElem *def)
{
	char	   *copy = pstrdup(defGetString(def));
	List	   *paths = NIL;
	char	   *save = NULL;

	for (char *tok = strtok_r(copy, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save))
	{
		char	   *end = tok + strlen(tok);
		const char *problem;

		while (*tok == ' ' || *tok == '\t' || *tok == '\r')
			tok++;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		problem = path_problem(tok);
		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"%s\": path \"%s\"", def->defname,
							hvcsv_printable(tok, Min(strlen(tok), 100), strlen(tok) > 100)),
					 errdetail("%s", problem)));
		if (list_length(paths) >= HVCSV_MAX_EXPORTS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("option \"paths\" lists more than %d exports", HVCSV_MAX_EXPORTS)));
		paths = lappend(paths, tok);
	}
	if (paths == NIL)
		invalid_value(def, "The value must name at least one path.");
	return paths;
}

/*
 * A path of path_template's for one date: {date} is YYYY-MM-DD, {yyyy},
 * {mm} and {dd} its parts; NULL if the template has another "{".
 */
char *
hvcsv_expand_path_template(const char *path_template, int year, int month, int day)
{
	StringInfoData path;
	const char *p = path_template;

	initStringInfo(&path);
	while (*p)
	{
		if (*p != '{')
			appendStringInfoChar(&path, *p++);
		else if (strncmp(p, "{date}", 6) == 0)
		{
			appendStringInfo(&path, "%04d-%02d-%02d", year, month, day);
			p += 6;
		}
		else if (strncmp(p, "{yyyy}", 6) == 0)
		{
			appendStringInfo(&path, "%04d", year);
			p += 6;
		}
		else if (strncmp(p, "{mm}", 4) == 0 || strncmp(p, "{dd}", 4) == 0)
		{
			appendStringInfo(&path, "%02d", p[1] == 'm' ? month : day);
			p += 4;
		}
		else
			return NULL;
	}
	return path.data;
}

/*
 * Parses path_template: a path as path is, with at least one of the
 * placeholders hvcsv_expand_path_template knows, and no other "{".
 */
static char *
parse_path_template(DefElem *def)
{
	const char *value = defGetString(def);
	char	   *sample;

	check_path_stays_below(def);
	sample = hvcsv_expand_path_template(value, 2000, 1, 1);
	if (sample == NULL)
		invalid_value(def, "The only placeholders are {date}, {yyyy}, {mm} and {dd}.");
	if (strcmp(sample, value) == 0)
		invalid_value(def, "The value must contain {date}, or {yyyy}, {mm} or {dd}.");
	return defGetString(def);
}

/*
 * Parses dates_from: a date written YYYY-MM-DD, which every DateStyle
 * reads alike (the option is read again in other sessions).
 */
static char *
parse_iso_date(DefElem *def)
{
	const char *value = defGetString(def);

	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? value[i] != '-' : !isdigit((unsigned char) value[i]))
			invalid_value(def, "The value must be a date written YYYY-MM-DD.");
	if (value[10] != '\0')
		invalid_value(def, "The value must be a date written YYYY-MM-DD.");
	(void) DirectFunctionCall1(date_in, CStringGetDatum(value));
	return defGetString(def);
}

/* Parses dates_step: a positive interval of whole days, weeks, months or years. */
static char *
parse_dates_step(DefElem *def)
{
	Interval   *step = DatumGetIntervalP(DirectFunctionCall3(interval_in,
															 CStringGetDatum(defGetString(def)),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));

	if (step->time != 0 || step->day < 0 || step->month < 0 ||
		(step->day == 0 && step->month == 0))
		invalid_value(def, "The value must be a positive number of days, weeks, months or years.");
	return defGetString(def);
}

/*
 * The origin of url as export_origins keeps it: "scheme://host:port", the
 * port always written, so that equal origins compare equal as text.
 */
static char *
url_origin(const HvcsvUrl *url)
{
	return psprintf("%s://%s:%d", url->scheme, url->host, url->port);
}

/*
 * Parses export_origins: http or https origins (a URL with no path but
 * "/", no query, no user name), separated by commas or white space.
 */
static List *
parse_export_origins(DefElem *def)
{
	char	   *copy = pstrdup(defGetString(def));
	List	   *origins = NIL;
	char	   *save = NULL;

	check_printable(def);
	for (char *tok = strtok_r(copy, ", \t\n\r", &save); tok;
		 tok = strtok_r(NULL, ", \t\n\r", &save))
	{
		HvcsvUrl	url;
		const char *rest = strstr(tok, "://");

		if (!hvcsv_url_parse(tok, &url) || !hvcsv_url_is_http(&url) || url.host[0] == '\0' ||
			rest == NULL || strpbrk(rest + 3, "@?#") != NULL ||
			(strcmp(url.path, "/") != 0 && url.path[0] != '\0'))
			invalid_value(def, psprintf("\"%s\" is not an origin: write it as \"https://host\" or \"https://host:port\", without a path.",
										hvcsv_printable(tok, Min(strlen(tok), 100), strlen(tok) > 100)));
		origins = lappend(origins, url_origin(&url));
	}
	if (origins == NIL)
		invalid_value(def, "The value must list at least one origin.");
	return origins;
}

/* Parses a server option; false if def is not one. */
static bool
apply_server_option(HvcsvOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "api_url") == 0)
	{
		HvcsvUrl	url;

		check_printable(def);
		if (!hvcsv_url_parse(defGetString(def), &url))
			invalid_value(def, "The value must be an absolute http or https URL.");
		if (!hvcsv_url_is_http(&url))
			invalid_value(def, psprintf("The URL scheme \"%s\" is not supported; use http or https.",
										url.scheme));
		if (url.host[0] == '\0')
			invalid_value(def, "The value must be an absolute http or https URL.");
		opts->api_url = defGetString(def);
	}
	else if (strcmp(name, "export_origins") == 0)
		opts->export_origins = parse_export_origins(def);
	else if (strcmp(name, "connect_timeout") == 0)
		opts->connect_timeout = parse_seconds(def, 0.001);
	else if (strcmp(name, "timeout") == 0)
		opts->timeout = parse_seconds(def, 0.001);
	else if (strcmp(name, "max_retries") == 0)
		opts->max_retries = (int) parse_integer(def, 1, 100);
	else if (strcmp(name, "retry_delay") == 0)
		opts->retry_delay = parse_seconds(def, 0);
	else if (strcmp(name, "max_retry_delay") == 0)
		opts->max_retry_delay = parse_seconds(def, 0);
	else if (strcmp(name, "max_age") == 0)
		opts->max_age = parse_seconds(def, 0);
	else if (strcmp(name, "max_bytes") == 0)
		opts->max_bytes = parse_bytes(def, 1, "1 byte");
	else if (strcmp(name, "max_connections") == 0)
		opts->max_connections = (int) parse_integer(def, 1, HVCSV_MAX_CONNECTIONS);
	else if (strcmp(name, "download_connections") == 0)
		opts->download_connections = (int) parse_integer(def, 1, HVCSV_MAX_CONNECTIONS);
	else if (strcmp(name, "ca_file") == 0)
	{
		check_printable(def);
		if (defGetString(def)[0] == '\0')
			invalid_value(def, "The value must be the path of a file of certificates in PEM format.");
		opts->ca_file = defGetString(def);
	}
	else
		return false;
	return true;
}

/* Parses a user mapping option; false if def is not one. */
static bool
apply_mapping_option(HvcsvOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "api_key") == 0)
		opts->api_key = hvcsv_parse_credential(def);
	else if (strcmp(name, "auth_scheme") == 0)
	{
		const char *value = defGetString(def);

		if (!hvcsv_is_http_token(value, strlen(value)))
			invalid_value(def, "The value must be an HTTP authentication scheme token, such as \"apiKey\" or \"Bearer\".");
		opts->auth_scheme = defGetString(def);
	}
	else if (strcmp(name, "api_key_header") == 0)
		opts->api_key_header = hvcsv_parse_key_header(def);
	else if (strcmp(name, "api_key_param") == 0)
		opts->api_key_param = parse_query_name(def);
	else if (strcmp(name, "user") == 0)
		opts->user = hvcsv_parse_credential(def);
	else if (strcmp(name, "password") == 0)
		opts->password = hvcsv_parse_credential(def);
	else if (strcmp(name, "headers") == 0)
		opts->headers = hvcsv_parse_headers(def);
	else
		return false;
	return true;
}

/*
 * Parses an option of what a scan does with bad rows; false if def is not
 * one.  "ignore" is the name COPY and file_fdw give to "skip".  A stored
 * reject_limit of 0 means no limit, as it did before PostgreSQL's meaning
 * was adopted; the validator refuses it in new definitions.
 */
static bool
apply_error_option(HvcsvOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "on_error") == 0)
		opts->on_error_skip =
			parse_keyword(def, (const char *const[]) {"stop", "skip", "ignore", NULL},
						  "The value must be \"stop\", \"skip\" or \"ignore\".") > 0;
	else if (strcmp(name, "reject_limit") == 0)
		opts->reject_limit = strcmp(defGetString(def), "0") == 0 ? 0 :
			parse_integer(def, 1, PG_INT64_MAX);
	else if (strcmp(name, "log_verbosity") == 0)
		opts->log_verbosity = (HvcsvLogVerbosity)
			parse_keyword(def, (const char *const[]) {"default", "verbose", "silent", NULL},
						  "The value must be \"default\", \"verbose\" or \"silent\".");
	else
		return false;
	return true;
}

/* Parses an option of how a table's export is read; false if def is not one. */
static bool
apply_source_option(HvcsvOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "format") == 0)
	{
		/* file_fdw's option, so that its table definitions carry over. */
		if (pg_strcasecmp(defGetString(def), "csv") != 0)
			invalid_value(def, "Only \"csv\" is supported: hvcsv_fdw reads CSV exports only.");
	}
	else if (strcmp(name, "path") == 0)
	{
		check_path_stays_below(def);
		opts->path = defGetString(def);
	}
	else if (strcmp(name, "paths") == 0)
		opts->paths = parse_paths(def);
	else if (strcmp(name, "manifest") == 0)
	{
		check_path_stays_below(def);
		opts->manifest = defGetString(def);
	}
	else if (strcmp(name, "path_template") == 0)
		opts->path_template = parse_path_template(def);
	else if (strcmp(name, "paginate") == 0)
	{
		if (strcmp(defGetString(def), "link") != 0)
			invalid_value(def, "The only value is \"link\": follow each response's Link rel=\"next\".");
		opts->paginate = true;
	}
	else if (strcmp(name, "dates_from") == 0)
		opts->dates_from = parse_iso_date(def);
	else if (strcmp(name, "dates_step") == 0)
		opts->dates_step = parse_dates_step(def);
	else if (strcmp(name, "missing_exports") == 0)
		opts->missing_exports = HVCSV_MISSING_EXPORTS_SKIP +
			parse_keyword(def, missing_exports_names, "Valid values are \"skip\" and \"error\".");
	else if (strcmp(name, "reader") == 0)
	{
		const char *value = defGetString(def);
		size_t		kind = 0;

		while (kind < lengthof(reader_names) && strcmp(value, reader_names[kind]) != 0)
			kind++;
		if (kind == lengthof(reader_names))
			invalid_value(def, "The value must be \"projected\", \"partitioned\" or \"streaming\".");
		opts->reader = (HvcsvReaderKind) kind;
	}
	else if (strcmp(name, "compression") == 0)
		opts->compression = (HvcsvCompression)
			parse_keyword(def, compression_names,
						  "The value must be \"auto\", \"none\", \"gzip\", \"zstd\", \"bzip2\", \"xz\" or \"zip\".");
	else if (strcmp(name, "header") == 0)
	{
		const char *value = defGetString(def);

		if (pg_strcasecmp(value, "match") == 0)
			opts->header = HVCSV_HEADER_MATCH;
		else
		{
			bool		on;

			if (!parse_bool(value, &on))
				invalid_value(def, "The value must be a Boolean or \"match\".");
			opts->header = on ? HVCSV_HEADER_NAMES : HVCSV_HEADER_NONE;
		}
	}
	else if (strcmp(name, "delimiter") == 0)
		opts->delimiter = parse_single_byte(def);
	else if (strcmp(name, "quote") == 0)
		opts->quote = parse_single_byte(def);
	else if (strcmp(name, "escape") == 0)
		opts->escape = parse_single_byte(def);
	else if (strcmp(name, "null") == 0)
	{
		const char *value = defGetString(def);

		if (strchr(value, '\n') || strchr(value, '\r'))
			invalid_value(def, "The null string cannot contain a newline or carriage return.");
		opts->null_string = defGetString(def);
	}
	else if (strcmp(name, "comment") == 0)
		opts->comment = parse_single_byte(def);
	else if (strcmp(name, "skip_lines") == 0)
		opts->skip_lines = parse_integer(def, 0, PG_INT32_MAX);
	else if (strcmp(name, "missing_fields") == 0)
		opts->pad_missing_fields =
			parse_keyword(def, (const char *const[]) {"error", "null", NULL},
						  "The value must be \"error\" or \"null\".") == 1;
	else if (strcmp(name, "extra_fields") == 0)
		opts->ignore_extra_fields =
			parse_keyword(def, (const char *const[]) {"error", "ignore", NULL},
						  "The value must be \"error\" or \"ignore\".") == 1;
	else if (strcmp(name, "encoding") == 0)
	{
		int			enc = pg_char_to_encoding(defGetString(def));

		if (enc < 0 || !PG_VALID_ENCODING(enc))
			invalid_value(def, "The value must be the name of an encoding, such as \"UTF8\" or \"LATIN1\".");
		opts->encoding = enc;
	}
	else if (strcmp(name, "block_size") == 0)
		opts->block_size = parse_bytes(def, 64 * 1024, "64kB");
	else if (strcmp(name, "batch_rows") == 0)
		opts->batch_rows = (int) parse_integer(def, 1, 10000000);
	else
		return apply_error_option(opts, def);
	return true;
}

/* Parses an option of how a table is synced; false if def is not one. */
static bool
apply_sync_option(HvcsvOptions *opts, DefElem *def)
{
	const char *name = def->defname;

	if (strcmp(name, "target") == 0)
		opts->target = parse_target(def);
	else if (strcmp(name, "key") == 0)
	{
		/* SplitIdentifierString writes into the string it splits. */
		if (!SplitIdentifierString(pstrdup(defGetString(def)), ',', &opts->key) || opts->key == NIL)
			invalid_value(def, "The value must be a comma-separated list of column names; a name with spaces or capitals goes in double quotes, as in SQL (\"Order Id\").");
	}
	else if (strcmp(name, "cursor_column") == 0)
		opts->cursor_column = defGetString(def);
	else if (strcmp(name, "cursor_lag") == 0)
		opts->cursor_lag = parse_cursor_lag(def);
	else if (strcmp(name, "cursor_nulls") == 0)
		opts->cursor_nulls = (HvcsvCursorNulls)
			parse_keyword(def, (const char *const[]) {"include", "error", NULL},
						  "The value must be \"include\" or \"error\".");
	else if (strcmp(name, "cursor_param") == 0)
		opts->cursor_param = parse_query_name(def);
	else if (strcmp(name, "on_new_columns") == 0)
		opts->on_new_columns = (HvcsvNewColumns)
			parse_keyword(def, (const char *const[]) {"ignore", "add", "error", NULL},
						  "The value must be \"ignore\", \"add\" or \"error\".");
	else if (strcmp(name, "on_missing_columns") == 0)
		opts->keep_missing_columns =
			parse_keyword(def, (const char *const[]) {"error", "keep", NULL},
						  "The value must be \"error\" or \"keep\".") == 1;
	else if (strcmp(name, "on_duplicate_key") == 0)
		opts->on_duplicate_key = (HvcsvDuplicateKeys)
			parse_keyword(def, (const char *const[]) {"error", "first", "last", NULL},
						  "The value must be \"error\", \"first\" or \"last\".");
	else if (strcmp(name, "delete_missing") == 0)
	{
		opts->soft_delete = pg_strcasecmp(defGetString(def), "soft") == 0;
		if (opts->soft_delete)
			opts->delete_missing = true;
		else if (!parse_bool(defGetString(def), &opts->delete_missing))
			invalid_value(def, "The value must be a Boolean or \"soft\".");
	}
	else if (strcmp(name, "deleted_column") == 0)
		opts->deleted_column = defGetString(def);
	else if (strcmp(name, "delete_limit") == 0)
	{
		char	   *end;
		double		share = strtod(defGetString(def), &end);

		if (end == defGetString(def) || (*end != '\0' && strcmp(end, "%") != 0))
			invalid_value(def, "The value must be a share of the target, such as \"0.5\" or \"50%\".");
		if (*end == '%')
			share /= 100;
		/* NaN compares false with everything: it would turn the guard off. */
		if (isnan(share) || share < 0 || share > 1)
			invalid_value(def, "The value must be between 0 and 1 (or 0% and 100%).");
		opts->delete_limit = share;
	}
	else
		return false;
	return true;
}

/* Parses one option's value into opts, or reports why it is invalid. */
static void
apply_option(HvcsvOptions *opts, DefElem *def)
{
	if (apply_server_option(opts, def) || apply_mapping_option(opts, def) ||
		apply_source_option(opts, def) || apply_sync_option(opts, def))
		return;
	/*
	 * Column options are read from the column's own options: column_name by
	 * column_map.c, source by hvcsv_column_source, the others by
	 * hvcsv_column_force_options.
	 */
	if (strcmp(def->defname, "force_null") == 0 || strcmp(def->defname, "force_not_null") == 0)
		(void) parse_boolean(def);
	else if (strcmp(def->defname, "source") == 0)
		(void) parse_keyword(def, column_source_names,
							 "Valid values are \"path\", \"url\" and \"line\".");
	else if (strcmp(def->defname, "column_name") != 0)
		elog(ERROR, "unhandled hvcsv_fdw option \"%s\"", def->defname);
}

/* Fills opts with every default. */
static void
set_defaults(HvcsvOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->connect_timeout = 10;
	opts->timeout = 10;
	opts->max_retries = 3;
	opts->retry_delay = 1;
	opts->max_retry_delay = 16;
	opts->max_age = 0;
	opts->max_bytes = 0;
	opts->max_connections = 4;
	opts->download_connections = 4;
	opts->auth_scheme = "apiKey";
	opts->path = "";
	opts->reader = HVCSV_READER_PROJECTED;
	opts->compression = HVCSV_COMPRESSION_AUTO;
	opts->header = HVCSV_HEADER_NAMES;
	opts->delimiter = ',';
	opts->quote = '"';
	opts->escape = '\0';		/* the quote, unless set */
	opts->null_string = "";
	opts->encoding = -1;		/* the database's, unless set */
	opts->block_size = 128 * 1024 * 1024;
	opts->batch_rows = 10000;
	opts->on_error_skip = false;
	opts->reject_limit = 0;
	opts->log_verbosity = HVCSV_LOG_DEFAULT;
	opts->delete_missing = false;
	opts->delete_limit = 0.5;
}

/* Checks the CSV options against each other, as COPY does. */
static void
check_dialect(const HvcsvOptions *opts)
{
	char		escape = opts->escape ? opts->escape : opts->quote;

	if (opts->delimiter == opts->quote)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delimiter and quote must be different")));
	if (escape == opts->delimiter)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delimiter and escape must be different")));
	if (strchr(opts->null_string, opts->delimiter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the null string must not contain the delimiter")));
	if (strchr(opts->null_string, opts->quote))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the null string must not contain the quote character")));
	/* A line starting with one of these must stay a record. */
	if (opts->comment != '\0' &&
		(opts->comment == opts->delimiter || opts->comment == opts->quote ||
		 opts->comment == escape))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the comment character must differ from the delimiter, quote and escape characters")));
}

/* Reports an option that is valid only with another option, or value. */
static void
needs_option(const char *option, const char *needed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" requires %s", option, needed)));
}

/*
 * Checks the sync options of a table against each other: options, as the
 * catalog holds them, parsed into opts.  The refresh checks again, for a
 * table an older version accepted.
 */
void
hvcsv_check_sync_options(List *options, const HvcsvOptions *opts)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		const char *name = lfirst_node(DefElem, cell)->defname;

		if (opts->cursor_column == NULL &&
			(strcmp(name, "cursor_lag") == 0 || strcmp(name, "cursor_nulls") == 0 ||
			 strcmp(name, "cursor_param") == 0))
			needs_option(name, "option \"cursor_column\"");
		if (opts->header != HVCSV_HEADER_NAMES &&
			(strcmp(name, "on_new_columns") == 0 || strcmp(name, "on_missing_columns") == 0))
			needs_option(name, "header 'true': columns are matched by name");
	}
	if (opts->soft_delete != (opts->deleted_column != NULL))
		needs_option(opts->soft_delete ? "delete_missing" : "deleted_column",
					 opts->soft_delete ? "option \"deleted_column\" when it is 'soft'" :
					 "delete_missing 'soft'");
	if (opts->delete_missing && opts->cursor_column)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"delete_missing\" and \"cursor_column\" cannot be used together"),
				 errdetail("An incremental export holds only the rows past the cursor, so every other row would be missing from it.")));
}

/*
 * Checks reject_limit as PostgreSQL 18's COPY does: a positive count, with
 * on_error 'ignore' (or 'skip').  Only new definitions are checked, so that
 * tables that stored 0 for "no limit" still scan.
 */
static void
check_reject_limit(List *options, const HvcsvOptions *opts)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "reject_limit") != 0)
			continue;
		if (opts->reject_limit == 0)
			invalid_value(def, "The value must be a positive number of rows; leave the option out for no limit.");
		if (!opts->on_error_skip)
			needs_option("reject_limit", "on_error 'ignore' or 'skip'");
	}
}

/* Reports an option name that is not valid where it was given. */
static void
invalid_option_name(const char *name, Oid catalog)
{
	const HvcsvOption *opt;
	const char *closest = NULL;
	int			closest_distance = 3;
	StringInfoData valid;

	for (opt = valid_options; opt->name; opt++)
	{
		if (strcmp(opt->name, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" cannot be set on a %s", name,
							catalog_object_name(catalog)),
					 errhint("Set it on the %s.", catalog_object_name(opt->catalog))));
	}

	initStringInfo(&valid);
	for (opt = valid_options; opt->name; opt++)
	{
		int			distance;

		if (opt->catalog != catalog)
			continue;
		appendStringInfo(&valid, "%s%s", valid.len > 0 ? ", " : "", opt->name);
		distance = varstr_levenshtein(name, strlen(name), opt->name, strlen(opt->name),
									  1, 1, 1, false);
		if (distance < closest_distance)
		{
			closest = opt->name;
			closest_distance = distance;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 closest ? errhint("Perhaps you meant the option \"%s\".", closest) :
			 errhint("Valid options in this context are: %s", valid.data)));
}

/*
 * A table names its exports in one way: path, paths, manifest or
 * path_template (with dates_from).  paginate follows links from path's
 * response, so it needs path and nothing else; the streaming reader keeps
 * no spool, where the link of a page read earlier is found.  The
 * cursor_param bound applies to one URL, and on_new_columns to one
 * header, so neither to a list of exports.
 */
static void
check_export_options(List *options, const HvcsvOptions *opts)
{
	ListCell   *cell;
	int			ways = 0;
	bool		has_path = false;

	foreach(cell, options)
	{
		const char *name = lfirst_node(DefElem, cell)->defname;

		has_path |= strcmp(name, "path") == 0;
		if (strcmp(name, "path") == 0 || strcmp(name, "paths") == 0 ||
			strcmp(name, "manifest") == 0 || strcmp(name, "path_template") == 0)
			ways++;
	}
	if (ways > 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("options \"path\", \"paths\", \"manifest\" and \"path_template\" exclude each other"),
				 errhint("Name a table's exports in one way only.")));
	if (opts->path_template && opts->dates_from == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"path_template\" needs option \"dates_from\"")));
	if (opts->paginate && (opts->paths || opts->manifest || opts->path_template))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("option \"paginate\" cannot be used with option \"%s\"",
						opts->paths ? "paths" : opts->manifest ? "manifest" : "path_template"),
				 errhint("Name the first page with option \"path\".")));
	if (opts->paginate && !has_path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"paginate\" needs option \"path\""),
				 errhint("Name the first page with option \"path\".")));
	if (opts->paginate && opts->missing_exports != HVCSV_MISSING_EXPORTS_DEFAULT)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("option \"missing_exports\" cannot be used with option \"paginate\""),
				 errdetail("A missing page has no link to the next.")));
	if (opts->paginate && opts->reader == HVCSV_READER_STREAMING)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"paginate\" cannot be used with reader 'streaming'"),
				 errdetail("The next page is found from the spool of the page before, and the streaming reader keeps none.")));
	if (opts->path_template == NULL && (opts->dates_from || opts->dates_step))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("options \"dates_from\" and \"dates_step\" need option \"path_template\"")));
	if (!hvcsv_has_export_list(opts) && opts->missing_exports != HVCSV_MISSING_EXPORTS_DEFAULT)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("option \"missing_exports\" needs option \"paths\", \"manifest\" or \"path_template\"")));
	if (hvcsv_has_export_list(opts) && opts->cursor_param)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("option \"cursor_param\" cannot be used with several exports"),
				 errdetail("cursor_param bounds the request of a single export.")));
	if (hvcsv_has_export_list(opts) && opts->on_new_columns != HVCSV_NEW_COLUMNS_IGNORE)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("option \"on_new_columns\" must be 'ignore' with several exports"),
				 errdetail("A refresh follows the header of a single export only.")));
}

/* Refuses export origins that hvcsv_fdw.allowed_hosts does not admit, as for api_url. */
static void
check_export_origins_allowed(const HvcsvOptions *opts)
{
	ListCell   *cell;

	foreach(cell, opts->export_origins)
	{
		HvcsvUrl	url;

		(void) hvcsv_url_parse(lfirst(cell), &url);
		if (!hvcsv_host_allowed(&url))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("host \"%s\" port %d of export_origins is not in hvcsv_fdw.allowed_hosts",
							url.host, url.port),
					 errhint("A superuser decides which hosts may be reached, with the setting hvcsv_fdw.allowed_hosts.")));
	}
}

/*
 * Validates the options given to CREATE or ALTER of a foreign data wrapper,
 * server, user mapping, foreign table or column.
 */
Datum
hvcsv_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	HvcsvOptions opts;

	hvcsv_check_options(options, catalog, &opts);
	if (catalog == ForeignServerRelationId && opts.api_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"api_url\" is required for an hvcsv_fdw server")));
	if (catalog == ForeignServerRelationId)
	{
		HvcsvUrl	url;

		(void) hvcsv_url_parse(opts.api_url, &url);
		if (!hvcsv_host_allowed(&url))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("host \"%s\" port %d is not in hvcsv_fdw.allowed_hosts",
							url.host, url.port),
					 errhint("A superuser decides which hosts may be reached, with the setting hvcsv_fdw.allowed_hosts.")));
		hvcsv_check_server_host(&url);
		check_export_origins_allowed(&opts);
	}
	/* Like file_fdw's filename: a path on the database server. */
	if (opts.ca_file && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superuser or a role with privileges of the pg_read_server_files role may specify the ca_file option of an hvcsv_fdw server")));
	if (catalog == ForeignServerRelationId && opts.max_retry_delay < opts.retry_delay)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_retry_delay must not be less than retry_delay")));
	if (catalog == UserMappingRelationId)
		hvcsv_check_auth_options(options, &opts);
	if (catalog == ForeignTableRelationId)
	{
		check_dialect(&opts);
		check_export_options(options, &opts);
	}
	/*
	 * A restore (check_function_bodies off, as in pg_dump's scripts) takes
	 * the combinations an older version accepted, so that no table is lost;
	 * the scan reads a stored reject_limit of 0 as no limit, and the refresh
	 * checks its options again.
	 */
	if (catalog == ForeignTableRelationId && check_function_bodies)
	{
		check_reject_limit(options, &opts);
		hvcsv_check_sync_options(options, &opts);
	}

	PG_RETURN_VOID();
}

/*
 * Checks that every option is valid on the kind of object catalog holds,
 * and parses it into opts (over the defaults).
 */
void
hvcsv_check_options(List *options, Oid catalog, HvcsvOptions *opts)
{
	ListCell   *cell;

	set_defaults(opts);
	foreach(cell, options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);
		const HvcsvOption *opt;

		for (opt = valid_options; opt->name; opt++)
			if (opt->catalog == catalog && strcmp(opt->name, def->defname) == 0)
				break;
		if (opt->name == NULL)
			invalid_option_name(def->defname, catalog);
		apply_option(opts, def);
	}
}

/* Applies a list of options from the catalog. */
static void
apply_options(HvcsvOptions *opts, List *options)
{
	ListCell   *cell;

	foreach(cell, options)
		apply_option(opts, lfirst_node(DefElem, cell));
}

/* Finds the user mapping for userid (or PUBLIC) on a server, if there is one. */
static UserMapping *
find_user_mapping(Oid userid, Oid serverid)
{
	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(serverid)))
		return NULL;
	return GetUserMapping(userid, serverid);
}

/*
 * Checks that a URL the table reads is below its server's api_url: the
 * same scheme, host and port, and a path that starts with api_url's.  A
 * path such as "@other.example" or ".other.example" would otherwise send
 * the user mapping's key to another host.  what names where the URL comes
 * from, for the messages.
 */
static void
check_url_below_api_url(const HvcsvOptions *opts, const char *url_text, const char *what)
{
	HvcsvUrl	base;
	HvcsvUrl	url;

	if (!hvcsv_url_parse(opts->api_url, &base))
		elog(ERROR, "api_url was checked but does not parse");
	if (!hvcsv_url_parse(url_text, &url))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s makes an invalid URL of the server's api_url", what),
				 errhint("A path is appended to api_url as it is; start it with \"/\" or \"?\".")));
	if (!hvcsv_url_same_origin(&base, &url) ||
		strncmp(url.path, base.path, strlen(base.path)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s leads away from the server's api_url", what),
				 errdetail("\"%s\" is not below \"%s\".",
						   hvcsv_redact_url(url_text), hvcsv_redact_url(opts->api_url)),
				 errhint("A path is appended to api_url as it is; start it with \"/\" or \"?\".")));
}

/* Whether url is on one of the server's export_origins. */
static bool
on_export_origin(const HvcsvOptions *opts, const char *url_text)
{
	HvcsvUrl	url;
	char	   *origin;
	ListCell   *cell;

	if (opts->export_origins == NIL || !hvcsv_url_parse(url_text, &url))
		return false;
	origin = url_origin(&url);
	foreach(cell, opts->export_origins)
		if (strcmp(lfirst(cell), origin) == 0)
			return true;
	return false;
}

/*
 * The URL of one export that source names (an entry of the manifest, or
 * the next page a Link header gives, resolved; lists says the same as a
 * verb, "the manifest lists"): a path is appended to api_url as the path
 * option is; a URL (http or https) is taken as it is.
 * Either way it is checked as path is, and must be below api_url, or (a
 * URL) on one of the server's export_origins: the user mapping's
 * credentials go with every request to api_url's origin, so an export
 * elsewhere could receive them, and none go to the export origins (see
 * hvcsv_request_auth).  A URL with a user name or password in it is
 * refused, for the same reason.
 */
char *
hvcsv_export_url(const HvcsvOptions *opts, const char *entry, const char *source,
				 const char *lists)
{
	size_t		len = strcspn(entry, "?#");
	const char *scheme_end = strstr(entry, "://");
	const char *path = entry;
	const char *problem = NULL;
	char	   *url;

	if (scheme_end && scheme_end < entry + len)
	{
		size_t		authority = strcspn(scheme_end + 3, "/?#");

		if (memchr(scheme_end + 3, '@', authority))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an export URL in %s carries a user name or password", source),
					 errdetail("Credentials come from the user mapping only.")));
		path = scheme_end + 3 + authority;
		for (const char *p = entry; p < path; p++)
			if ((unsigned char) *p <= 0x20 || *p == 0x7f)
				problem = "The value must not contain spaces or control characters.";
	}
	/* The URL's path, or the path, as the path option's is checked. */
	if (problem == NULL)
		problem = path_problem(path);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid export in %s: \"%s\"", source,
						hvcsv_printable(entry, Min(strlen(entry), 100), strlen(entry) > 100)),
				 errdetail("%s", problem)));
	url = path == entry ? psprintf("%s%s", opts->api_url, entry) : pstrdup(entry);
	if (strlen(url) > HVCSV_MAX_EXPORT_URL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an export URL %s is longer than %d bytes", lists, HVCSV_MAX_EXPORT_URL)));
	if (path == entry || !on_export_origin(opts, url))
		check_url_below_api_url(opts, url, psprintf("an export %s", lists));
	return url;
}

/*
 * Gathers the options of a server, the user mapping of userid on it (which
 * is optional, for exports that need no key) and a foreign table's options.
 */
HvcsvOptions *
hvcsv_server_options(Oid serverid, Oid userid, List *table_options)
{
	HvcsvOptions *opts = palloc(sizeof(HvcsvOptions));
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *mapping = find_user_mapping(userid, server->serverid);
	ListCell   *cell;

	set_defaults(opts);
	apply_options(opts, server->options);
	if (mapping)
	{
		opts->umid = mapping->umid;
		apply_options(opts, mapping->options);
		hvcsv_check_auth_options(mapping->options, opts);
	}
	apply_options(opts, table_options);
	check_dialect(opts);

	if (opts->api_url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"api_url\" is required for an hvcsv_fdw server")));
	if (opts->encoding < 0)
		opts->encoding = GetDatabaseEncoding();
	opts->url = psprintf("%s%s", opts->api_url, opts->path);
	check_url_below_api_url(opts, opts->url, "option \"path\"");
	foreach(cell, opts->paths)
		check_url_below_api_url(opts, psprintf("%s%s", opts->api_url, (char *) lfirst(cell)),
								"option \"paths\"");
	if (opts->manifest)
		check_url_below_api_url(opts, psprintf("%s%s", opts->api_url, opts->manifest),
								"option \"manifest\"");
	/* The dates put only digits and "-" in the path: one date stands for all. */
	if (opts->path_template)
		check_url_below_api_url(opts,
								psprintf("%s%s", opts->api_url,
										 hvcsv_expand_path_template(opts->path_template,
																	2000, 1, 1)),
								"option \"path_template\"");
	opts->server_owner_is_superuser = superuser_arg(server->owner);
	return opts;
}

/* Gathers the options that apply to a scan of a foreign table by userid. */
HvcsvOptions *
hvcsv_get_options(Oid foreigntableid, Oid userid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);

	return hvcsv_server_options(table->serverid, userid, table->options);
}

/* Names a reader as the reader option spells it. */
const char *
hvcsv_reader_name(HvcsvReaderKind kind)
{
	return reader_names[kind];
}

/* The name of a compression, as the option spells it. */
const char *
hvcsv_compression_name(HvcsvCompression compression)
{
	return compression_names[compression];
}

/* The compression a name spells, as hvcsv_compression_name gives it; auto if none. */
HvcsvCompression
hvcsv_compression_by_name(const char *name)
{
	for (int i = 0; compression_names[i] != NULL; i++)
		if (strcmp(name, compression_names[i]) == 0)
			return (HvcsvCompression) i;
	return HVCSV_COMPRESSION_AUTO;
}

/*
 * A foreign table's target option as written, or NULL; for the refresh's
 * caller, which looks at every table before it reads any table's options.
 */
const char *
hvcsv_table_target_text(Oid foreigntableid)
{
	ListCell   *cell;

	foreach(cell, GetForeignTable(foreigntableid)->options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "target") == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * A foreign table's target option, parsed, or NIL if it has none or it is
 * not a table name (a wrapper without our validator lets anything in).
 * Never an error: the refresh of that table reports the option then.
 */
List *
hvcsv_table_target(Oid foreigntableid)
{
	const char *text = hvcsv_table_target_text(foreigntableid);
	List	   *names;

	return text && split_target(text, &names) ? names : NIL;
}

/*
 * Reads a column's force_null and force_not_null options (file_fdw's), as
 * the column's options list from the catalog holds them.
 */
void
hvcsv_column_force_options(List *column_options, bool *force_null, bool *force_not_null)
{
	ListCell   *cell;

	*force_null = false;
	*force_not_null = false;
	foreach(cell, column_options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "force_null") == 0)
			*force_null = parse_boolean(def);
		else if (strcmp(def->defname, "force_not_null") == 0)
			*force_not_null = parse_boolean(def);
	}
}

/* Fills a tokenizer dialect from the table's CSV options. */
void
hvcsv_dialect(const HvcsvOptions *opts, CsvDialect *dialect)
{
	dialect->delimiter = (unsigned char) opts->delimiter;
	dialect->quote = (unsigned char) opts->quote;
	dialect->escape = (unsigned char) (opts->escape ? opts->escape : opts->quote);
	dialect->null_string = opts->null_string;
	dialect->null_len = strlen(opts->null_string);
	dialect->comment = (unsigned char) opts->comment;
	dialect->skip_lines = (uint64) opts->skip_lines;
}

/* Reads a column's source option: what the column reads instead of a field. */
HvcsvColumnSource
hvcsv_column_source(List *column_options)
{
	ListCell   *cell;

	foreach(cell, column_options)
	{
		DefElem    *def = lfirst_node(DefElem, cell);

		if (strcmp(def->defname, "source") == 0)
			return HVCSV_SOURCE_PATH +
				parse_keyword(def, column_source_names,
							  "Valid values are \"path\", \"url\" and \"line\".");
	}
	return HVCSV_SOURCE_NONE;
}
