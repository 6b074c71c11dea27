/*-------------------------------------------------------------------------
 * export_list.c
 *	  The exports a table reads when it names several: the paths option's
 *	  list, path_template's path for each date, or the entries of a
 *	  manifest fetched first.
 *
 * A manifest is fetched and spooled like any export (its own spool, so
 * max_age and conditional requests apply to it too), read whole, up to
 * HVCSV_MAX_MANIFEST_BYTES, and parsed as one of:
 *   - JSON: an array of strings, or of objects with a "url" or "path"
 *     member (other members are ignored; nothing may nest deeper).  Told
 *     by its first non-blank byte, "[" (or "{", to refuse an object).
 *     PostgreSQL's own JSON parser reads it.
 *   - CSV: a header line with a "path" or "url" column (in any case), one
 *     export a line in that column; told by that header.
 *   - plain text: one path or URL per line; blank lines and lines that
 *     start with "#" are ignored.
 * Every entry becomes a URL through hvcsv_export_url (option.c), which
 * applies the path option's checks and keeps every export below api_url,
 * since the user mapping's credentials go with each request.  At most
 * HVCSV_MAX_EXPORTS entries are taken.
 *
 * paginate 'link' makes path the first page, and each page's Link
 * rel="next" (kept in the page's spool metadata, so that a 304 or a spool
 * within max_age still tells it) the next: the pages are known one at a
 * time, as the scan reaches them (hvcsv_export_next_page).  Each link is
 * resolved against its page's URL and checked as a manifest's entries
 * are; one that names a page already read (a loop) is refused.
 *
 * Nothing here fetches an export: the scan spools each one when it reaches
 * it (scan.c), or all of them first (export_fetch.c).  A parallel scan's
 * workers take the list the leader read from its shared memory
 * (hvcsv_export_list_share), so that none asks for a manifest again.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "export_list.h"
#include "http.h"
#include "records.h"
#include "spool.h"

/* Where the JSON parser is in a manifest. */
typedef struct ManifestJson
{
	List	   *entries;
	int			depth;			/* 1 inside the array, 2 inside an element */
	bool		in_entry_field; /* the member being read is "url" or "path" */
	char	   *entry;			/* the current object's url or path */
} ManifestJson;

/* A new export of the table that opts describes. */
static HvcsvExport *
make_export(const HvcsvOptions *opts, char *path, char *url)
{
	HvcsvExport *e = palloc(sizeof(HvcsvExport));
	HvcsvOptions shown = *opts;

	e->path = path;
	e->url = url;
	shown.url = url;
	e->display = hvcsv_display_url(&shown);
	return e;
}

/* Adds an entry of a manifest, refusing one past HVCSV_MAX_EXPORTS. */
static List *
add_entry(List *entries, char *entry)
{
	if (list_length(entries) >= HVCSV_MAX_EXPORTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the manifest lists more than %d exports", HVCSV_MAX_EXPORTS)));
	return lappend(entries, entry);
}

static void
manifest_json_refuse(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_JSON_TEXT),
			 errmsg("invalid JSON manifest: %s", why),
			 errhint("A JSON manifest is an array of strings, or of objects with a \"url\" or \"path\" member.")));
}

static void
json_object_start(void *state)
{
	ManifestJson *m = state;

	if (++m->depth != 2)
		manifest_json_refuse("an object must be an element of the top-level array");
	m->entry = NULL;
}

static void
json_object_end(void *state)
{
	ManifestJson *m = state;

	m->depth--;
	if (m->entry == NULL)
		manifest_json_refuse("an object has no \"url\" or \"path\" member");
}

static void
json_array_start(void *state)
{
	ManifestJson *m = state;

	CHECK_FOR_INTERRUPTS();
	if (++m->depth != 1)
		manifest_json_refuse("arrays must not nest");
}

static void
json_array_end(void *state)
{
	((ManifestJson *) state)->depth--;
}

static void
json_field_start(void *state, char *fname, bool isnull)
{
	ManifestJson *m = state;

	m->in_entry_field = strcmp(fname, "url") == 0 || strcmp(fname, "path") == 0;
}

static void
json_scalar(void *state, char *token, JsonTokenType tokentype)
{
	ManifestJson *m = state;

	CHECK_FOR_INTERRUPTS();
	if (m->depth == 0)
		manifest_json_refuse("the top level must be an array");
	if (m->depth == 1 && tokentype != JSON_TOKEN_STRING)
		manifest_json_refuse("an element must be a string or an object");
	if (m->depth == 2 && m->in_entry_field)
	{
		if (tokentype != JSON_TOKEN_STRING)
			manifest_json_refuse("\"url\" and \"path\" must be strings");
		if (m->entry != NULL)
			manifest_json_refuse("an object has more than one \"url\" or \"path\" member");
		m->entry = token;
	}
	else if (m->depth == 1)
		m->entry = token;
	else
		return;
	m->entries = add_entry(m->entries, m->entry);
}

/* The entries of a JSON manifest (text, len bytes), in order. */
static List *
parse_json_manifest(char *text, size_t len)
{
	ManifestJson m = {0};
	JsonSemAction sem = {0};
	JsonLexContext *lex;
	JsonParseErrorType result;

	/* Strings with escapes undone: the entries are read, not copied. */
	lex = makeJsonLexContextCstringLen(text, (int) len, PG_UTF8, true);
	sem.semstate = &m;
	sem.object_start = json_object_start;
	sem.object_end = json_object_end;
	sem.array_start = json_array_start;
	sem.array_end = json_array_end;
	sem.object_field_start = json_field_start;
	sem.scalar = json_scalar;
	result = pg_parse_json(lex, &sem);
	if (result != JSON_SUCCESS)
		manifest_json_refuse(json_errdetail(result, lex));
	return m.entries;
}

/* The entries of a plain-text manifest: its lines, less blank and "#" ones. */
static List *
parse_text_manifest(char *text)
{
	List	   *entries = NIL;
	char	   *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *end = line + strlen(line);

		CHECK_FOR_INTERRUPTS();
		while (*line == ' ' || *line == '\t')
			line++;
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		entries = add_entry(entries, line);
	}
	return entries;
}

/* A manifest in memory, read by a CSV stream. */
typedef struct ManifestBytes
{
	const char *data;
	size_t		len;
	size_t		pos;
} ManifestBytes;

static size_t
read_manifest_bytes(void *arg, char *buf, size_t size)
{
	ManifestBytes *m = arg;
	size_t		n = Min(size, m->len - m->pos);

	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return n;
}

/* The text of field f of the stream's record, or NULL if it has none. */
static char *
csv_field(const CsvStream *stream, int f)
{
	const CsvRecord *rec = &stream->rec;
	int			s = f - rec->first_field;

	if (stream->more_fields || rec->first_field != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("line " UINT64_FORMAT " of the CSV manifest has too many fields",
						(uint64) rec->line)));
	if (s >= rec->nfields || rec->slot_state[s] != CSV_SLOT_VALUE)
		return NULL;
	return pnstrdup(rec->out + rec->slot_offset[s], rec->slot_length[s]);
}

/*
 * The field of the header line that names the exports, "path" or "url"
 * (in any case; not both), or -1 if the first line has neither: then the
 * manifest is not CSV.
 */
static int
csv_entry_field(CsvStream *stream)
{
	int			found = -1;

	if (!hvcsv_stream_next(stream) || stream->more_fields)
		return -1;
	for (int f = 0; f < stream->rec.nfields; f++)
	{
		char	   *name = csv_field(stream, f);

		if (name == NULL || (pg_strcasecmp(name, "path") != 0 && pg_strcasecmp(name, "url") != 0))
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("the CSV manifest has more than one \"path\" or \"url\" column")));
		found = f;
	}
	return found;
}

/*
 * The entries of a CSV manifest (one whose header line has a "path" or
 * "url" column), or NIL with *is_csv false if it is not one.
 */
static List *
parse_csv_manifest(const char *text, size_t len, bool *is_csv)
{
	ManifestBytes bytes = {text, len, 0};
	CsvDialect	dialect = {',', '"', '"', "", 0, 0, 0};
	CsvStream  *stream = hvcsv_stream_create(&dialect, read_manifest_bytes, &bytes);
	List	   *entries = NIL;
	int			field;

	hvcsv_stream_select_all_fields(stream);
	field = csv_entry_field(stream);
	*is_csv = field >= 0;
	while (*is_csv && hvcsv_stream_next(stream))
	{
		char	   *entry = csv_field(stream, field);

		CHECK_FOR_INTERRUPTS();
		/* A blank line */
		if (entry == NULL && stream->rec.nfields == 1)
			continue;
		if (entry == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("line " UINT64_FORMAT " of the CSV manifest has no export",
							(uint64) stream->rec.line)));
		entries = add_entry(entries, entry);
	}
	return entries;
}

/* Fetches (or revalidates) the manifest and reads it whole, bounded. */
static StringInfo
read_manifest(const HvcsvOptions *opts)
{
	HvcsvOptions manifest_opts = *opts;
	HvcsvSpool *spool;
	StringInfo	text = makeStringInfo();
	char		buf[65536];
	size_t		n;

	manifest_opts.url = psprintf("%s%s", opts->api_url, opts->manifest);
	spool = hvcsv_spool_open(&manifest_opts);
	if (spool->size > HVCSV_MAX_MANIFEST_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("manifest \"%s\" is larger than %d bytes",
						hvcsv_display_url(&manifest_opts), HVCSV_MAX_MANIFEST_BYTES)));
	while ((n = hvcsv_spool_read(spool, buf, sizeof(buf))) > 0)
		appendBinaryStringInfo(text, buf, n);
	hvcsv_spool_close(spool);
	if (memchr(text->data, '\0', text->len))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("manifest \"%s\" contains a zero byte",
						hvcsv_display_url(&manifest_opts))));
	return text;
}

/* The entries of the table's manifest, fetched (or revalidated) first. */
static List *
manifest_entries(const HvcsvOptions *opts)
{
	StringInfo	text = read_manifest(opts);
	char	   *start = text->data;
	List	   *entries;
	bool		is_csv;

	if (strncmp(start, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
		start++;
	if (*start == '[' || *start == '{')
		return parse_json_manifest(start, text->data + text->len - start);
	entries = parse_csv_manifest(start, text->data + text->len - start, &is_csv);
	return is_csv ? entries : parse_text_manifest(start);
}

/* The first page of a paginated table: its path. */
static HvcsvExport *
first_page(const HvcsvOptions *opts)
{
	return make_export(opts, opts->path, psprintf("%s%s", opts->api_url, opts->path));
}

/*
 * The page after the last of pages (a paginated table's, in order), from
 * the Link header its spool keeps, or NULL if it names none.  The spool
 * is not fetched: the scan has read the page (or nothing is known past it).
 */
HvcsvExport *
hvcsv_export_next_page(const HvcsvOptions *opts, const List *pages)
{
	const HvcsvExport *last = llast(pages);
	HvcsvOptions page_opts = *opts;
	char	   *link;
	HvcsvUrl	resolved;
	char	   *url;
	const ListCell *cell;

	CHECK_FOR_INTERRUPTS();
	page_opts.url = last->url;
	link = hvcsv_spool_peek_next_link(&page_opts);
	if (link == NULL)
		return NULL;
	if (!hvcsv_url_resolve(last->url, link, &resolved))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("the Link header of \"%s\" names an invalid next page: \"%s\"",
						last->display, hvcsv_redact_url(link))));
	url = hvcsv_export_url(opts, resolved.url,
						   psprintf("the Link header of \"%s\"", last->display),
						   "a Link header names");
	foreach(cell, pages)
		if (strcmp(((const HvcsvExport *) lfirst(cell))->url, url) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("the pages loop: the Link header of \"%s\" names \"%s\", read before",
							last->display, ((const HvcsvExport *) lfirst(cell))->display)));
	if (list_length(pages) >= HVCSV_MAX_EXPORTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the pages of \"%s\" are more than %d exports",
						((const HvcsvExport *) linitial(pages))->display, HVCSV_MAX_EXPORTS)));
	return make_export(opts, link, url);
}

/*
 * The exports of a table that names several (hvcsv_has_export_list), in
 * order, as HvcsvExport pointers; fetches the manifest if the table has
 * one.  Of a paginated table, only the first page: the others are known
 * as the scan reads each (hvcsv_export_next_page).  Every URL of a
 * manifest is checked (hvcsv_export_url); the paths option's were checked
 * as options.
 */
List *
hvcsv_export_list(const HvcsvOptions *opts)
{
	List	   *exports = NIL;
	ListCell   *cell;

	if (opts->paginate)
		return list_make1(first_page(opts));
	if (opts->manifest == NULL)
		return hvcsv_export_list_known(opts);
	foreach(cell, manifest_entries(opts))
		exports = lappend(exports, make_export(opts, lfirst(cell),
											   hvcsv_export_url(opts, lfirst(cell), "the manifest",
																 "the manifest lists")));
	return exports;
}

/*
 * The paths of path_template, one per date from dates_from to today (UTC:
 * the transaction's start, so that every scan of a statement agrees)
 * inclusive, dates_step apart.  Each date is dates_from plus k steps, so
 * that a step of a month keeps the day of the month where it can.
 */
static List *
template_paths(const HvcsvOptions *opts)
{
	DateADT		from = DatumGetDateADT(DirectFunctionCall1(date_in,
														   CStringGetDatum(opts->dates_from)));
	Datum		step = DirectFunctionCall3(interval_in,
										   CStringGetDatum(opts->dates_step ? opts->dates_step :
														   "1 day"),
										   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	Datum		start = DirectFunctionCall1(date_timestamp, DateADTGetDatum(from));
	/* Both count from 2000-01-01: microseconds in UTC, and days. */
	DateADT		today = (DateADT) (GetCurrentTransactionStartTimestamp() / USECS_PER_DAY);
	List	   *paths = NIL;

	for (int k = 0;; k++)
	{
		Datum		offset = DirectFunctionCall2(interval_mul, step, Float8GetDatum(k));
		DateADT		date = DatumGetDateADT(DirectFunctionCall1(timestamp_date,
															   DirectFunctionCall2(timestamp_pl_interval,
																				   start, offset)));
		int			year;
		int			month;
		int			day;

		CHECK_FOR_INTERRUPTS();
		if (date > today)
			break;
		if (list_length(paths) >= HVCSV_MAX_EXPORTS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("option \"path_template\" names more than %d exports from %s to today",
							HVCSV_MAX_EXPORTS, opts->dates_from),
					 errhint("Set dates_from later, or dates_step longer.")));
		j2date(date + POSTGRES_EPOCH_JDATE, &year, &month, &day);
		paths = lappend(paths, hvcsv_expand_path_template(opts->path_template,
														   year, month, day));
	}
	return paths;
}

/*
 * The exports of a table known without fetching: its paths, or
 * path_template's for each date; the pages whose links spools keep; NIL
 * for a manifest.
 */
List *
hvcsv_export_list_known(const HvcsvOptions *opts)
{
	List	   *exports = NIL;
	ListCell   *cell;
	HvcsvExport *page;

	if (opts->paginate)
	{
		exports = list_make1(first_page(opts));
		while ((page = hvcsv_export_next_page(opts, exports)) != NULL)
			exports = lappend(exports, page);
		return exports;
	}

	foreach(cell, opts->path_template ? template_paths(opts) : opts->paths)
		exports = lappend(exports, make_export(opts, lfirst(cell),
											   psprintf("%s%s", opts->api_url,
														(char *) lfirst(cell))));
	return exports;
}

/*
 * Adds up the sizes of the exports' spools, without fetching; returns how
 * many exports have one.
 */
int
hvcsv_exports_spool_size(const HvcsvOptions *opts, const List *exports, int64 *total)
{
	HvcsvOptions export_opts = *opts;
	const ListCell *cell;
	int			spooled = 0;

	*total = 0;
	foreach(cell, exports)
	{
		int64		size;

		export_opts.url = ((HvcsvExport *) lfirst(cell))->url;
		if (hvcsv_spool_peek_size(&export_opts, &size))
		{
			*total += size;
			spooled++;
		}
	}
	return spooled;
}

/*
 * The bytes hvcsv_export_list_share writes: the number of exports, then
 * each one's path, URL and display, each ended by a NUL.
 */
Size
hvcsv_export_list_shared_size(const List *exports)
{
	Size		size = sizeof(int32);
	const ListCell *cell;

	foreach(cell, exports)
	{
		const HvcsvExport *e = lfirst(cell);

		size = add_size(size, strlen(e->path) + strlen(e->url) + strlen(e->display) + 3);
	}
	return size;
}

/* Appends a string and its NUL at dest; returns where the next goes. */
static char *
put_string(char *dest, const char *s)
{
	size_t		len = strlen(s) + 1;

	memcpy(dest, s, len);
	return dest + len;
}

/*
 * Writes the exports into a parallel scan's shared memory, so that its
 * workers read the list the leader read (a manifest is not asked for again).
 */
void
hvcsv_export_list_share(const List *exports, char *dest)
{
	int32		n = list_length(exports);
	const ListCell *cell;

	memcpy(dest, &n, sizeof(n));
	dest += sizeof(n);
	foreach(cell, exports)
	{
		const HvcsvExport *e = lfirst(cell);

		dest = put_string(dest, e->path);
		dest = put_string(dest, e->url);
		dest = put_string(dest, e->display);
	}
}

/* Takes the next string that put_string wrote, copied; advances *src past it. */
static char *
take_string(const char **src)
{
	char	   *s = pstrdup(*src);

	*src += strlen(s) + 1;
	return s;
}

/* The exports that hvcsv_export_list_share wrote at src, in order. */
List *
hvcsv_export_list_attach(const char *src)
{
	List	   *exports = NIL;
	int32		n;

	memcpy(&n, src, sizeof(n));
	src += sizeof(n);
	for (int i = 0; i < n; i++)
	{
		HvcsvExport *e = palloc(sizeof(HvcsvExport));

		e->path = take_string(&src);
		e->url = take_string(&src);
		e->display = take_string(&src);
		exports = lappend(exports, e);
	}
	return exports;
}

/*
 * Where the exports come from, without secrets, for EXPLAIN and the sync
 * state: the manifest's URL, path_template's with its first date, the
 * first page's, or the first path's URL and how many follow.
 */
char *
hvcsv_exports_display(const HvcsvOptions *opts)
{
	HvcsvOptions shown = *opts;
	int			more = list_length(opts->paths) - 1;

	if (opts->manifest)
	{
		shown.url = psprintf("%s%s", opts->api_url, opts->manifest);
		return psprintf("%s (manifest)", hvcsv_display_url(&shown));
	}
	if (opts->path_template)
	{
		shown.url = psprintf("%s%s", opts->api_url, opts->path_template);
		return psprintf("%s from %s", hvcsv_display_url(&shown), opts->dates_from);
	}
	if (opts->paginate)
	{
		shown.url = psprintf("%s%s", opts->api_url, opts->path);
		return psprintf("%s (paginated)", hvcsv_display_url(&shown));
	}
	shown.url = psprintf("%s%s", opts->api_url, (char *) linitial(opts->paths));
	if (more == 0)
		return hvcsv_display_url(&shown);
	return psprintf("%s and %d more", hvcsv_display_url(&shown), more);
}
