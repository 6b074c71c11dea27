/*-------------------------------------------------------------------------
 * auth.c
 *	  The ways a user mapping authenticates: a key in the Authorization
 *	  header (auth_scheme), in a header of its own (api_key_header) or in
 *	  a query parameter (api_key_param); HTTP Basic (user, password); and
 *	  extra fixed request headers (headers).
 *
 * Every credential is a user mapping option, so that only the mapping's
 * user and the server's owner can read it (pg_user_mappings); a server's
 * options are visible to every role.  fetch.c sends the credentials, the
 * extra headers included, only to the scheme, host and port of the URL
 * the user named, never across a redirect to another origin.  The key of
 * api_key_param is added to the URL at the last moment (fetch.c, for the
 * request alone), so every URL that is shown is built from the URL
 * without it, with the parameter's value replaced by "xxxxx".
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"

#include "http.h"


/*
 * Longest api_key, user, password or headers: more than HTTP servers take
 * in one header line, and far below the 1 MB request that libcurl refuses
 * with a misleading "out of memory".
 */
#define MAX_CREDENTIAL_BYTES (64 * 1024)

/*
 * Request headers that hvcsv_fdw sets itself or that decide how the
 * message is framed; one set by the user would break resumption,
 * revalidation, decoding or the request itself.
 */
static const char *const controlled_headers[] = {
	"Host", "Content-Length", "Transfer-Encoding", "Range", "If-Range",
	"If-None-Match", "If-Modified-Since", "Accept-Encoding", "Connection",
	"TE", "Upgrade", "Expect", NULL
};

/* Tells whether s is an HTTP token (RFC 9110 section 5.6.2): a header name or a scheme. */
bool
hvcsv_is_http_token(const char *s, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(tchar, s[i]) == NULL)
			return false;
	return true;
}

/* Reports an invalid credential or header without showing its value. */
static void
invalid_secret(const char *option, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\"", option),
			 errdetail_internal("%s", detail)));
}

/* Tells whether name is a header that hvcsv_fdw sets itself. */
static bool
is_controlled_header(const char *name, size_t len)
{
	for (const char *const *h = controlled_headers; *h; h++)
		if (strlen(*h) == len && pg_strncasecmp(name, *h, len) == 0)
			return true;
	return false;
}

/* Checks a header name that the user gives: a token that we do not set. */
static void
check_header_name(const char *option, const char *name, size_t len)
{
	if (!hvcsv_is_http_token(name, len))
		invalid_secret(option, "A header name must be an HTTP token, such as \"X-API-Key\".");
	if (is_controlled_header(name, len))
		invalid_secret(option, psprintf("The header \"%.*s\" is set by hvcsv_fdw.",
										(int) len, name));
}

/* Parses api_key_header: the name of the header that carries the key. */
char *
hvcsv_parse_key_header(DefElem *def)
{
	const char *name = defGetString(def);

	check_header_name(def->defname, name, strlen(name));
	return defGetString(def);
}

/*
 * Parses api_key, user or password: printable, not too long; a user name
 * must not hold ':', which ends it in a Basic credential (RFC 7617).
 */
char *
hvcsv_parse_credential(DefElem *def)
{
	const char *value = defGetString(def);

	if (strlen(value) > MAX_CREDENTIAL_BYTES)
		invalid_secret(def->defname, psprintf("The value must not be longer than %d bytes.",
											  MAX_CREDENTIAL_BYTES));
	for (const char *p = value; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			invalid_secret(def->defname, "The value must not contain control characters.");
	if (strcmp(def->defname, "user") == 0 && strchr(value, ':'))
		invalid_secret(def->defname, "A user name for HTTP Basic must not contain \":\".");
	return defGetString(def);
}

/* Parses one "Name: value" line of the headers option into a header line. */
static char *
parse_header_line(const char *line, size_t len, int lineno)
{
	const char *colon = memchr(line, ':', len);
	const char *value;
	const char *end = line + len;

	if (colon == NULL)
		invalid_secret("headers", psprintf("Line %d is not of the form \"Name: value\".", lineno));
	check_header_name("headers", line, colon - line);
	for (value = colon + 1; value < end && (*value == ' ' || *value == '\t'); value++)
		;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* libcurl takes "Name:" with nothing after it for "do not send Name". */
	if (end == value)
		invalid_secret("headers", psprintf("The header on line %d has no value.", lineno));
	for (const char *p = value; p < end; p++)
		if (((unsigned char) *p < 0x20 && *p != '\t') || *p == 0x7f)
			invalid_secret("headers", psprintf("The value on line %d contains a control character.",
											   lineno));
	return psprintf("%.*s: %.*s", (int) (colon - line), line, (int) (end - value), value);
}

/*
 * Parses the headers option: one "Name: value" per line, lines separated
 * by newlines; blank lines are skipped.  A carriage return is refused like
 * any control character: it could end a header early.
 */
List *
hvcsv_parse_headers(DefElem *def)
{
	const char *text = defGetString(def);
	List	   *headers = NIL;
	int			lineno = 1;

	if (strlen(text) > MAX_CREDENTIAL_BYTES)
		invalid_secret("headers", psprintf("The value must not be longer than %d bytes.",
										   MAX_CREDENTIAL_BYTES));
	for (const char *line = text; *line; lineno++)
	{
		size_t		len = strcspn(line, "\n");

		if (strspn(line, " \t") < len)
			headers = lappend(headers, parse_header_line(line, len, lineno));
		line += len;
		if (*line == '\n')
			line++;
	}
	return headers;
}

/* Tells whether one of the extra headers is called name. */
static bool
has_header(List *headers, const char *name)
{
	ListCell   *cell;
	size_t		len = strlen(name);

	foreach(cell, headers)
	{
		const char *line = lfirst(cell);

		if (pg_strncasecmp(line, name, len) == 0 && line[len] == ':')
			return true;
	}
	return false;
}

/* Tells whether the option name is among options. */
static bool
option_given(List *options, const char *name)
{
	ListCell   *cell;

	foreach(cell, options)
		if (strcmp(lfirst_node(DefElem, cell)->defname, name) == 0)
			return true;
	return false;
}

/* Reports two options that cannot be used together. */
static void
conflicting(const char *a, const char *b, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("options \"%s\" and \"%s\" cannot be used together", a, b),
			 errdetail("%s", detail)));
}

/* Reports an option that is valid only with another one. */
static void
needs(const char *option, const char *needed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" requires option \"%s\"", option, needed)));
}

/*
 * Checks the authentication options of a user mapping against each other:
 * options as the catalog holds them, parsed into opts.  One style at a
 * time: a key (in Authorization, in a header of its own or in the query)
 * or HTTP Basic.
 */
void
hvcsv_check_auth_options(List *options, const HvcsvOptions *opts)
{
	static const char *const key_places[] = {"auth_scheme", "api_key_header", "api_key_param"};

	for (size_t i = 0; i < lengthof(key_places); i++)
	{
		if (!option_given(options, key_places[i]))
			continue;
		/* auth_scheme alone was accepted before there was a choice. */
		if (opts->api_key == NULL && i > 0)
			needs(key_places[i], "api_key");
		for (size_t j = i + 1; j < lengthof(key_places); j++)
			if (option_given(options, key_places[j]))
				conflicting(key_places[i], key_places[j], "The key is sent in one place only.");
	}
	if (opts->password && opts->user == NULL)
		needs("password", "user");
	if (opts->api_key && opts->user)
		conflicting("api_key", "user", "A user mapping authenticates with a key or with HTTP Basic, not both.");
	if ((opts->user || (opts->api_key && !opts->api_key_header && !opts->api_key_param)) &&
		has_header(opts->headers, "Authorization"))
		invalid_secret("headers", "The header \"Authorization\" is set by another option of the user mapping.");
	if (opts->api_key_header && has_header(opts->headers, opts->api_key_header))
		invalid_secret("headers", psprintf("The header \"%s\" is set by option \"api_key_header\".",
										   opts->api_key_header));
}

/* The Authorization header line of HTTP Basic for user and password. */
static char *
basic_header(const char *user, const char *password)
{
	char	   *pair = psprintf("%s:%s", user, password ? password : "");
	int			len = strlen(pair);
	char	   *encoded = palloc(pg_b64_enc_len(len) + 1);
	int			n = pg_b64_encode(pair, len, encoded, pg_b64_enc_len(len));
	char	   *header;

	if (n < 0)
		elog(ERROR, "could not encode the HTTP Basic credentials");
	encoded[n] = '\0';
	header = psprintf("Authorization: Basic %s", encoded);
	explicit_bzero(pair, len);
	explicit_bzero(encoded, n);
	pfree(pair);
	pfree(encoded);
	return header;
}

/* Tells whether a request has credentials or extra headers to send. */
bool
hvcsv_request_has_credentials(const HvcsvRequest *req)
{
	return req->auth_header || req->key_param || req->extra_headers != NIL;
}

/*
 * The user mapping's secret values: the key, the password and the extra
 * headers' values, each as sent.
 */
static List *
secret_values(const HvcsvOptions *opts)
{
	List	   *secrets = NIL;
	ListCell   *cell;

	if (opts->api_key)
		secrets = lappend(secrets, opts->api_key);
	if (opts->password && opts->password[0])
		secrets = lappend(secrets, opts->password);
	foreach(cell, opts->headers)
	{
		const char *value = strchr(lfirst(cell), ':');

		if (value)
		{
			value += strspn(value + 1, " \t") + 1;
			if (*value)
				secrets = lappend(secrets, (char *) value);
		}
	}
	return secrets;
}

/* Whether opts->url is on api_url's scheme, host and port. */
static bool
on_api_origin(const HvcsvOptions *opts)
{
	HvcsvUrl	base;
	HvcsvUrl	url;

	return hvcsv_url_parse(opts->api_url, &base) && hvcsv_url_parse(opts->url, &url) &&
		hvcsv_url_same_origin(&base, &url);
}

/*
 * Fills the credentials of a request from the user mapping's options.
 * They go to api_url's origin only: an export on one of the server's
 * export_origins is asked for without them, as a pre-signed URL is, yet
 * their values are still masked wherever a URL is shown.
 */
void
hvcsv_request_auth(HvcsvRequest *req, const HvcsvOptions *opts)
{
	req->secrets = secret_values(opts);
	if (!on_api_origin(opts))
		return;
	if (opts->user)
	{
		req->auth_header = basic_header(opts->user, opts->password);
		req->auth_options = "user and password";
	}
	else if (opts->api_key && opts->api_key_param)
	{
		req->key_param = opts->api_key_param;
		req->key_value = opts->api_key;
		req->auth_options = "api_key and api_key_param";
	}
	else if (opts->api_key && opts->api_key_header)
	{
		req->auth_header = psprintf("%s: %s", opts->api_key_header, opts->api_key);
		req->auth_options = "api_key and api_key_header";
	}
	else if (opts->api_key)
	{
		req->auth_header = psprintf("Authorization: %s %s", opts->auth_scheme, opts->api_key);
		req->auth_options = "api_key and auth_scheme";
	}
	else if (opts->headers != NIL)
		req->auth_options = "headers";
	req->extra_headers = opts->headers;
}

/*
 * The table's URL as it is shown: without secrets, and with the
 * api_key_param parameter that requests carry, its value masked.
 */
char *
hvcsv_display_url(const HvcsvOptions *opts)
{
	const char *url = opts->url;

	if (opts->api_key && opts->api_key_param)
		url = hvcsv_url_with_query_param(url, opts->api_key_param, "xxxxx");
	return hvcsv_mask_secrets(hvcsv_redact_url(url), secret_values(opts));
}

/*
 * What the credentials add to a spool's name, so that two user mappings
 * with different credentials never share a spool.  Empty without the
 * newer options, so that spools named before them keep their names.
 */
char *
hvcsv_credentials_identity(const HvcsvOptions *opts)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	if (opts->api_key_header)
		appendStringInfo(&buf, " header=%s", opts->api_key_header);
	if (opts->api_key_param)
		appendStringInfo(&buf, " param=%s", opts->api_key_param);
	if (opts->user)
		appendStringInfo(&buf, " user=%zu:%s password=%s", strlen(opts->user), opts->user,
						 opts->password ? opts->password : "");
	foreach(cell, opts->headers)
		appendStringInfo(&buf, " h=%zu:%s", strlen(lfirst(cell)), (char *) lfirst(cell));
	return buf.data;
}
