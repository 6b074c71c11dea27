/*-------------------------------------------------------------------------
 * url.c
 *	  Checks URLs and removes secrets from them before they are shown.
 *
 * A URL is shown in EXPLAIN, in errors and in the spool's metadata.  The
 * key itself travels in a header and is never part of the URL we build,
 * but a user may still put a password or a token into api_url or path, so
 * the password and the values of query parameters that look like secrets
 * are replaced before any URL leaves this file.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "lib/stringinfo.h"

#include "hvcsv_fdw.h"

/* Query parameter names whose values are treated as secrets. */
static const char *const secret_words[] = {
	"key", "token", "secret", "password", "passwd", "pwd", "auth",
	"signature", "sig", "credential", "session", NULL
};

/* Tells whether a query parameter name looks like it carries a secret. */
static bool
is_secret_name(const char *name, size_t len)
{
	char	   *lower = pnstrdup(name, len);

	for (char *p = lower; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	for (const char *const *w = secret_words; *w; w++)
		if (strstr(lower, *w))
			return true;
	return false;
}

/* Returns the query string with secret-looking values replaced. */
static char *
redact_query(const char *query)
{
	StringInfoData out;
	const char *p = query;

	initStringInfo(&out);
	while (*p)
	{
		size_t		len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);

		if (out.len > 0)
			appendStringInfoChar(&out, '&');
		if (eq && is_secret_name(p, eq - p))
			appendStringInfo(&out, "%.*s=xxxxx", (int) (eq - p), p);
		else
			appendBinaryStringInfo(&out, p, len);
		p += len;
		if (*p == '&')
			p++;
	}
	return out.data;
}

/*
 * Returns url with its password and secret-looking query values replaced by
 * "xxxxx".  A URL that cannot be parsed is not shown at all.
 */
char *
hvcsv_redact_url(const char *url)
{
	CURLU	   *h = curl_url();
	char	   *part = NULL;
	char	   *result;

	if (h == NULL)
		return pstrdup("(URL not shown)");
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
	{
		curl_url_cleanup(h);
		return pstrdup("(URL not shown)");
	}
	if (curl_url_get(h, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
	{
		curl_free(part);
		curl_url_set(h, CURLUPART_PASSWORD, "xxxxx", 0);
	}
	if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
	{
		char	   *query = redact_query(part);

		curl_free(part);
		curl_url_set(h, CURLUPART_QUERY, query, 0);
	}
	if (curl_url_get(h, CURLUPART_URL, &part, 0) != CURLUE_OK)
		result = pstrdup("(URL not shown)");
	else
	{
		result = pstrdup(part);
		curl_free(part);
	}
	curl_url_cleanup(h);
	return result;
}

/*
 * Tells whether url is an absolute http or https URL with a host.  When it
 * parses but has another scheme, *scheme_out names that scheme.
 */
bool
hvcsv_url_is_http(const char *url, char **scheme_out)
{
	CURLU	   *h = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	*scheme_out = NULL;
	if (h == NULL)
		return false;
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
	{
		if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
			ok = curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0';
		else
			*scheme_out = pstrdup(scheme);
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	return ok;
}
