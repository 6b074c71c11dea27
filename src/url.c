/*-------------------------------------------------------------------------
 * url.c
 *	  Parses URLs as libcurl does, decides which hosts may be reached
 *	  (hvcsv_fdw.allowed_hosts), and removes secrets from URLs before they
 *	  are shown.
 *
 * Every URL is parsed by libcurl's own URL parser, and the string it gives
 * back is the one requested, so the host checked here is the host libcurl
 * connects to (numeric forms such as 2130706433 and percent-encoded host
 * names are normalized before the check, not after).
 *
 * Non-public addresses (loopback, private, link-local, ...) are where a
 * database server's neighbours live: services that trust it and cloud
 * metadata endpoints.  fetch.c refuses to connect to one unless the host
 * is named in hvcsv_fdw.allowed_hosts or is the api_url of a server a
 * superuser owns; it checks each address it connects to (so names and
 * their resolution are covered), and this file says which addresses those
 * are.
 *
 * A URL is shown in EXPLAIN, in errors and in the spool's metadata.  The
 * key travels in a header, or in the query of the URL libcurl is given
 * and of no other (api_key_param, see auth.c), but a user may still put a
 * password or a token into api_url or path, and a server may echo the key
 * into a redirect, so the password, the values of query parameters that
 * look like secrets and of the key's parameter are replaced before any
 * URL leaves this file.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "http.h"


/* hvcsv_fdw.allowed_hosts: where requests may go; empty means anywhere. */
static char *allowed_hosts = NULL;

/* One entry of hvcsv_fdw.allowed_hosts. */
typedef struct HostEntry
{
	bool		wildcard;		/* "*.example.com": any host below it */
	char		host[256];		/* lower case; IPv6 in brackets */
	int			port;			/* 0: any port */
} HostEntry;

/* Query parameter names whose values are treated as secrets. */
static const char *const secret_words[] = {
	"key", "token", "secret", "password", "passwd", "pwd", "auth",
	"signature", "sig", "credential", "session", NULL
};

/*
 * Tells whether a query parameter name looks like it carries a secret, or
 * is param (the key's, or NULL).
 */
static bool
is_secret_name(const char *name, size_t len, const char *param)
{
	char	   *lower = pnstrdup(name, len);

	if (param && strlen(param) == len && strncmp(name, param, len) == 0)
		return true;

	for (char *p = lower; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	for (const char *const *w = secret_words; *w; w++)
		if (strstr(lower, *w))
			return true;
	return false;
}

/* Returns the query string with secret-looking values replaced. */
static char *
redact_query(const char *query, const char *param)
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
		if (eq && is_secret_name(p, eq - p, param))
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
	return hvcsv_redact_url_param(url, NULL);
}

/* hvcsv_redact_url that also replaces the value of the query parameter param. */
char *
hvcsv_redact_url_param(const char *url, const char *param)
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
		char	   *query = redact_query(part, param);

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


/* Lower-cases a host name and drops a trailing dot, in place. */
static void
normalize_host(char *host)
{
	size_t		len;

	for (char *p = host; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	len = strlen(host);
	if (len > 1 && host[len - 1] == '.')
		host[len - 1] = '\0';
}

/* The value of hex digit c, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Tells whether the query's pair (len bytes) has the name name, its
 * percent-escapes decoded as a server decodes them.
 */
static bool
pair_has_name(const char *pair, size_t len, const char *name)
{
	size_t		end = strcspn(pair, "=&#");
	const char *p = pair;

	if (end > len)
		end = len;
	while (p < pair + end)
	{
		int			c = (unsigned char) *p++;

		if (c == '%' && p + 1 < pair + end && hex_value(p[0]) >= 0 && hex_value(p[1]) >= 0)
		{
			c = hex_value(p[0]) * 16 + hex_value(p[1]);
			p += 2;
		}
		if (*name == '\0' || (unsigned char) *name++ != c)
			return false;
	}
	return *name == '\0';
}

/*
 * Appends url up to its fragment to buf, less the query parameters named
 * name; returns the separator the next parameter takes ('?' or '&').
 */
static char
append_other_params(StringInfo buf, const char *url, const char *name)
{
	size_t		before_fragment = strcspn(url, "#");
	size_t		before_query = strcspn(url, "?#");
	char		separator = '?';

	appendBinaryStringInfo(buf, url, before_query);
	for (size_t at = before_query; at < before_fragment;)
	{
		const char *pair = url + at + 1;
		size_t		len = strcspn(pair, "&#");

		if (len > 0 && !pair_has_name(pair, len, name))
		{
			appendStringInfoChar(buf, separator);
			appendBinaryStringInfo(buf, pair, len);
			separator = '&';
		}
		at += 1 + len;
	}
	return separator;
}

/*
 * url with name=value as the only parameter of that name in its query
 * (before any fragment), the value percent-encoded but for RFC 3986's
 * unreserved characters.  Parameters of the same name already in the query
 * are dropped: a server that redirects to a URL echoing the key, or a path
 * that names the cursor's parameter itself, would otherwise send it twice,
 * and which of two values an API honours is its own choice.
 */
char *
hvcsv_url_with_query_param(const char *url, const char *name, const char *value)
{
	StringInfoData buf;
	char		separator;

	initStringInfo(&buf);
	separator = append_other_params(&buf, url, name);
	appendStringInfo(&buf, "%c%s=", separator, name);
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if (isalnum(*p) || strchr("-._~", *p))
			appendStringInfoChar(&buf, (char) *p);
		else
			appendStringInfo(&buf, "%%%02X", *p);
	}
	appendStringInfoString(&buf, url + strcspn(url, "#"));
	return buf.data;
}

/*
 * url (absolute or relative) without its query parameters named name: a
 * link a server gives back, less the key it echoes (which each request
 * adds again).
 */
char *
hvcsv_url_without_query_param(const char *url, const char *name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	(void) append_other_params(&buf, url, name);
	appendStringInfoString(&buf, url + strcspn(url, "#"));
	return buf.data;
}

/*
 * The length of the occurrence of secret at text, each of its bytes as it
 * is or percent-encoded (a space also as '+'); 0 if there is none.
 */
static size_t
secret_at(const char *text, const char *secret)
{
	const char *p = text;

	for (const char *s = secret; *s; s++)
	{
		if (*p == *s)
			p++;
		else if (p[0] == '%' && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0 &&
				 hex_value(p[1]) * 16 + hex_value(p[2]) == (unsigned char) *s)
			p += 3;
		else if (*p == '+' && *s == ' ')
			p++;
		else
			return 0;
	}
	return p - text;
}

/*
 * text with every occurrence of each of secrets masked, its bytes as they
 * are or percent-encoded in any mix: a server may echo a key it received
 * into a URL under any name, or into the path, encoded as it likes, and a
 * URL shown in a message must not carry it.
 */
char *
hvcsv_mask_secrets(const char *text, List *secrets)
{
	StringInfoData buf;

	initStringInfo(&buf);
	while (*text)
	{
		size_t		len = 0;
		ListCell   *cell;

		foreach(cell, secrets)
		{
			const char *secret = lfirst(cell);

			if (*secret && (len = secret_at(text, secret)) > 0)
				break;
		}
		if (len > 0)
		{
			appendStringInfoString(&buf, "xxxxx");
			text += len;
		}
		else
			appendStringInfoChar(&buf, *text++);
	}
	return buf.data;
}

/*
 * Parses url as libcurl will request it; false if it does not parse.  Any
 * scheme is accepted (the caller decides); the host may be empty, as in
 * file:///etc/passwd.
 */
bool
hvcsv_url_parse(const char *url, HvcsvUrl *parsed)
{
	return hvcsv_url_resolve(NULL, url, parsed);
}

/*
 * Parses reference, relative to base if base is not NULL (as a browser
 * resolves a Location header), as hvcsv_url_parse does.
 */
bool
hvcsv_url_resolve(const char *base, const char *reference, HvcsvUrl *parsed)
{
	CURLU	   *h = curl_url();
	char	   *url = NULL;
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	bool		ok = false;

	memset(parsed, 0, sizeof(*parsed));
	if (h == NULL)
		return false;
	if ((base == NULL || curl_url_set(h, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) &&
		curl_url_set(h, CURLUPART_URL, reference, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_URL, &url, 0) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK)
	{
		parsed->url = pstrdup(url);
		parsed->scheme = pstrdup(scheme);	/* libcurl gives it in lower case */
		if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK)
			host = NULL;
		parsed->host = pstrdup(host ? host : "");
		normalize_host(parsed->host);
		parsed->path = pstrdup(path);
		/* Schemes libcurl does not know have no default port. */
		if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
			parsed->port = atoi(port);
		ok = true;
	}
	curl_free(url);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(h);
	return ok;
}

/* Tells whether a parsed URL is http or https. */
bool
hvcsv_url_is_http(const HvcsvUrl *url)
{
	return strcmp(url->scheme, "http") == 0 || strcmp(url->scheme, "https") == 0;
}

/* Tells whether two URLs have the same scheme, host and port. */
bool
hvcsv_url_same_origin(const HvcsvUrl *a, const HvcsvUrl *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
		a->port == b->port;
}

/*
 * Parses one entry of hvcsv_fdw.allowed_hosts: a host name or IP literal
 * (IPv6 in brackets), optionally with a leading "*." and a trailing :port.
 * On a bad entry, *why says what is wrong.
 */
static bool
parse_host_entry(const char *text, size_t len, HostEntry *entry, const char **why)
{
	char		buf[300];
	char	   *host = buf;
	char	   *port = NULL;
	unsigned char addr[16];

	memset(entry, 0, sizeof(*entry));
	if (len >= sizeof(buf) - 1)
	{
		*why = "It is too long.";
		return false;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strncmp(host, "*.", 2) == 0)
	{
		entry->wildcard = true;
		host += 2;
	}
	if (host[0] == '[')
	{
		char	   *close = strchr(host, ']');

		if (close == NULL)
		{
			*why = "An IPv6 address lacks its closing bracket.";
			return false;
		}
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
		{
			*why = "Only a :port may follow an IPv6 address in brackets.";
			return false;
		}
		close[1] = '\0';
		*close = '\0';
		if (entry->wildcard || inet_pton(AF_INET6, host + 1, addr) != 1)
		{
			*why = "The text in brackets must be an IPv6 address.";
			return false;
		}
		*close = ']';
	}
	else
	{
		port = strchr(host, ':');
		if (port)
		{
			*port++ = '\0';
			if (strchr(port, ':'))
			{
				*why = "Write an IPv6 address in brackets, such as [::1] or [::1]:8080.";
				return false;
			}
		}
		if (host[0] == '\0' ||
			strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(host))
		{
			*why = "A host must be a name or an IP address, optionally after \"*.\" and before \":port\".";
			return false;
		}
		/* Digits and dots alone must be a whole IPv4 address, as URLs are normalized to one. */
		if (strspn(host, "0123456789.") == strlen(host) &&
			(entry->wildcard || inet_pton(AF_INET, host, addr) != 1))
		{
			*why = "An IPv4 address must have four decimal parts, such as 127.0.0.1.";
			return false;
		}
	}
	if (port)
	{
		char	   *end;
		long		n = strtol(port, &end, 10);

		if (end == port || *end != '\0' || n < 1 || n > 65535)
		{
			*why = "A port must be a number from 1 to 65535.";
			return false;
		}
		entry->port = (int) n;
	}
	strlcpy(entry->host, host, sizeof(entry->host));
	normalize_host(entry->host);
	return true;
}

/* Tells whether a normalized host equals an entry's host, IP literals by value. */
static bool
same_host(const char *host, const char *entry_host)
{
	unsigned char a[16];
	unsigned char b[16];

	if (host[0] == '[' && entry_host[0] == '[')
	{
		char		ha[64];
		char		hb[64];

		strlcpy(ha, host + 1, Min(sizeof(ha), strlen(host) - 1));
		strlcpy(hb, entry_host + 1, Min(sizeof(hb), strlen(entry_host) - 1));
		return inet_pton(AF_INET6, ha, a) == 1 && inet_pton(AF_INET6, hb, b) == 1 &&
			memcmp(a, b, 16) == 0;
	}
	return strcmp(host, entry_host) == 0;
}

/* Tells whether an entry of hvcsv_fdw.allowed_hosts admits a URL's host and port. */
static bool
entry_admits(const HostEntry *entry, const HvcsvUrl *url)
{
	unsigned char addr[4];

	if (entry->port != 0 && entry->port != url->port)
		return false;
	if (!entry->wildcard)
		return same_host(url->host, entry->host);
	/* "*.example.com": names below example.com, never an IP address. */
	if (url->host[0] == '[' || inet_pton(AF_INET, url->host, addr) == 1)
		return false;
	{
		size_t		hlen = strlen(url->host);
		size_t		elen = strlen(entry->host);

		return hlen > elen + 1 && url->host[hlen - elen - 1] == '.' &&
			strcmp(url->host + hlen - elen, entry->host) == 0;
	}
}

/*
 * Calls fn for every entry of a hvcsv_fdw.allowed_hosts value, in order,
 * until it returns true; returns whether one did.  Empty entries are
 * skipped.  On a bad entry, returns false with *bad pointing at it.
 */
static bool
for_each_host_entry(const char *list, bool (*fn) (const HostEntry *entry, const void *arg),
					const void *arg, const char **bad, size_t *bad_len, const char **why)
{
	const char *p = list;

	*bad = NULL;
	while (p && *p)
	{
		size_t		len;
		HostEntry	entry;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			break;
		if (!parse_host_entry(p, len, &entry, why))
		{
			*bad = p;
			*bad_len = len;
			return false;
		}
		if (fn && fn(&entry, arg))
			return true;
		p += len;
	}
	return false;
}

/* for_each_host_entry callback: does this entry admit the URL? */
static bool
entry_admits_url(const HostEntry *entry, const void *arg)
{
	return entry_admits(entry, (const HvcsvUrl *) arg);
}

/* Returns hvcsv_fdw.allowed_hosts from its first entry on, or NULL if it is empty. */
static const char *
allowed_hosts_list(void)
{
	const char *p = allowed_hosts;

	if (p == NULL)
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return *p ? p : NULL;
}

/*
 * Tells whether hvcsv_fdw.allowed_hosts lets requests go to url's host and
 * port.  An empty setting allows every host.
 */
bool
hvcsv_host_allowed(const HvcsvUrl *url)
{
	return allowed_hosts_list() == NULL || hvcsv_host_listed(url);
}

/*
 * Tells whether an entry of hvcsv_fdw.allowed_hosts names url's host and
 * port: a superuser's admission, which also lets the host be reached at a
 * non-public address.  An empty setting names no host.
 */
bool
hvcsv_host_listed(const HvcsvUrl *url)
{
	const char *bad;
	size_t		bad_len;
	const char *why;
	const char *list = allowed_hosts_list();

	return list && for_each_host_entry(list, entry_admits_url, url, &bad, &bad_len, &why);
}

/* GUC check hook of hvcsv_fdw.allowed_hosts: every entry must parse. */
static bool
check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	const char *bad;
	size_t		bad_len;
	const char *why;

	(void) for_each_host_entry(*newval, NULL, NULL, &bad, &bad_len, &why);
	if (bad)
	{
		GUC_check_errdetail("Entry \"%.*s\" is not valid. %s", (int) bad_len, bad, why);
		return false;
	}
	return true;
}


/* The first 12 bytes of IPv6 addresses that hold an IPv4 one. */
static const unsigned char ipv4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const unsigned char ipv4_compatible[12] = {0};

/*
 * Tells whether an IPv4 address (in network byte order) is public: not
 * "this network" (0.0.0.0/8, which Linux connects to itself), private
 * (10/8, 172.16/12, 192.168/16), shared (100.64/10, carrier-grade NAT),
 * loopback (127/8), link-local (169.254/16, where cloud metadata lives),
 * multicast, reserved or broadcast (224/3).
 */
static bool
ipv4_is_public(const unsigned char *a)
{
	return !(a[0] == 0 || a[0] == 10 || a[0] == 127 ||
			 (a[0] == 100 && (a[1] & 0xc0) == 64) ||
			 (a[0] == 169 && a[1] == 254) ||
			 (a[0] == 172 && (a[1] & 0xf0) == 16) ||
			 (a[0] == 192 && a[1] == 168) ||
			 a[0] >= 224);
}

/*
 * Tells whether an IPv6 address is public: an IPv4 address within one
 * (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, which holds :: and
 * ::1, and the NAT64 prefix 64:ff9b::/96) is judged as that address; not
 * unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10)
 * or multicast (ff00::/8).
 */
static bool
ipv6_is_public(const unsigned char *a)
{
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};

	if (memcmp(a, ipv4_mapped, 12) == 0 || memcmp(a, ipv4_compatible, 12) == 0 ||
		memcmp(a, nat64, 12) == 0)
		return ipv4_is_public(a + 12);
	return !((a[0] & 0xfe) == 0xfc ||
			 (a[0] == 0xfe && (a[1] & 0x80) == 0x80) ||
			 a[0] == 0xff);
}

/*
 * The four bytes of an IPv4 address, also of one within an IPv6 address
 * (mapped or compatible), or NULL.
 */
static const unsigned char *
ipv4_bytes(const struct sockaddr *addr)
{
	const unsigned char *a;

	if (addr->sa_family == AF_INET)
		return (const unsigned char *) &((const struct sockaddr_in *) addr)->sin_addr;
	if (addr->sa_family != AF_INET6)
		return NULL;
	a = ((const struct sockaddr_in6 *) addr)->sin6_addr.s6_addr;
	return memcmp(a, ipv4_mapped, 12) == 0 || memcmp(a, ipv4_compatible, 12) == 0 ? a + 12 : NULL;
}

/* Tells whether two addresses are the same (an IPv4 one also in IPv6 form). */
static bool
same_address(const struct sockaddr *a, const struct sockaddr *b)
{
	const unsigned char *a4 = ipv4_bytes(a);
	const unsigned char *b4 = ipv4_bytes(b);

	if (a4 || b4)
		return a4 && b4 && memcmp(a4, b4, 4) == 0;
	return a->sa_family == AF_INET6 && b->sa_family == AF_INET6 &&
		memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
			   &((const struct sockaddr_in6 *) b)->sin6_addr, 16) == 0;
}

/*
 * Tells whether an address is one of this machine's own (of any interface):
 * a public address of the database server reaches its local services as
 * well as loopback does.  Uses no palloc or ereport: libcurl's callbacks
 * call it.
 */
static bool
address_is_local(const struct sockaddr *addr)
{
	struct ifaddrs *list;
	bool		local = false;

	/* Not knowing this machine's addresses, take none of them for sure. */
	if (getifaddrs(&list) != 0)
		return true;
	for (struct ifaddrs *i = list; i != NULL && !local; i = i->ifa_next)
		local = i->ifa_addr != NULL && same_address(addr, i->ifa_addr);
	freeifaddrs(list);
	return local;
}

/*
 * Tells whether an address libcurl is about to connect to is public, and
 * not this machine's.
 */
bool
hvcsv_address_is_public(const struct sockaddr *addr)
{
	bool		in_public_range;

	if (addr->sa_family == AF_INET)
		in_public_range = ipv4_is_public((const unsigned char *) &((const struct sockaddr_in *) addr)->sin_addr);
	else if (addr->sa_family == AF_INET6)
		in_public_range = ipv6_is_public(((const struct sockaddr_in6 *) addr)->sin6_addr.s6_addr);
	else
		return false;
	return in_public_range && !address_is_local(addr);
}

/* Tells whether a URL's host is an IP address that is not public. */
static bool
host_is_non_public_address(const char *host)
{
	unsigned char a[16];
	char		v6[64];

	if (inet_pton(AF_INET, host, a) == 1)
		return !ipv4_is_public(a);
	if (host[0] != '[' || strlen(host) >= sizeof(v6))
		return false;
	strlcpy(v6, host + 1, strlen(host) - 1);
	return inet_pton(AF_INET6, v6, a) == 1 && !ipv6_is_public(a);
}

/*
 * Refuses, when a server's api_url is set, an IP address that fetch.c would
 * refuse to connect to: a role that is not a superuser may not point a
 * server at a non-public address that hvcsv_fdw.allowed_hosts does not
 * list.  Host names are judged by what they resolve to, when connecting.
 */
void
hvcsv_check_server_host(const HvcsvUrl *url)
{
	if (superuser() || hvcsv_host_listed(url) || !host_is_non_public_address(url->host))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("host \"%s\" is a non-public address", url->host),
			 errdetail("Only superusers may create servers for loopback, private, link-local and other non-public addresses that hvcsv_fdw.allowed_hosts does not list."),
			 errhint("A superuser may admit the host by listing it in hvcsv_fdw.allowed_hosts.")));
}

/* Defines hvcsv_fdw.allowed_hosts. */
void
hvcsv_url_init(void)
{
	DefineCustomStringVariable("hvcsv_fdw.allowed_hosts",
							   "Hosts that hvcsv_fdw servers and redirects may reach; empty means any.",
							   "A comma-separated list of host names and IP addresses (IPv6 in brackets), each optionally with a leading \"*.\" for the names below it and a trailing :port.",
							   &allowed_hosts,
							   "",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   check_allowed_hosts, NULL, NULL);
}
