/*
 * csv_diff.c
 *	  Checks the tokenizer and the row scanner on one input against their
 *	  references.
 *
 * For one input and dialect, csv_diff_input requires:
 *  - the tokenizer fed the whole input at once gives the same records,
 *    fields, NULLs, lines, offsets and errors as a model of COPY's rules
 *    written one byte at a time (parse_model below);
 *  - where libcsv can express the dialect (escape equal to quote; libcsv has
 *    no other escape byte, and no comment or skipped lines) and accepts the
 *    input in strict mode, the same fields as libcsv;
 *  - fed in chunks, with output space grown only on CSV_NEED_SPACE, the same
 *    as fed whole, also when records come in windows of a few fields;
 *  - copying out only some fields, into slots in another order, those same
 *    fields;
 *  - the row scanner, fed in the plan's chunks and a byte at a time, reports
 *    exactly the line starts (after an unquoted line break) that the
 *    tokenizer's records and the lines it skipped imply, with their line
 *    counts, under the first-start-past-each-mark rule of the row index.
 * On a mismatch it prints both sides to stderr and returns false.
 *
 * Records are compared as text: fields as "<len>:<bytes>|" or "N|" for
 * NULL, each record ending in '\n', and their places apart.
 */
#include "csv_diff.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a record lies. */
typedef struct Place
{
	uint64_t	line;
	size_t		start;
	size_t		length;
} Place;

/* The records of one input, as text and places. */
typedef struct Rows
{
	char	   *text;
	size_t		len;
	size_t		cap;
	Place	   *place;
	size_t		nplaces;
	size_t		place_cap;
	bool		refused;		/* an unterminated quote (libcsv: any error) */
	size_t		refused_at;		/* where the refused record starts */
	const char *broken;			/* a status the caller must never see */
} Rows;

static void *
xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

static void
rows_add(Rows *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap)
	{
		r->cap = (r->len + n + 1) * 2;
		r->text = xrealloc(r->text, r->cap);
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static void
rows_field(Rows *r, const char *value, size_t n, bool isnull)
{
	char		head[32];

	if (isnull)
		rows_add(r, "N|", 2);
	else
	{
		snprintf(head, sizeof(head), "%zu:", n);
		rows_add(r, head, strlen(head));
		rows_add(r, value, n);
		rows_add(r, "|", 1);
	}
}

static void
rows_place(Rows *r, uint64_t line, size_t start, size_t length)
{
	if (r->nplaces == r->place_cap)
	{
		r->place_cap = r->place_cap ? 2 * r->place_cap : 16;
		r->place = xrealloc(r->place, r->place_cap * sizeof(Place));
	}
	r->place[r->nplaces].line = line;
	r->place[r->nplaces].start = start;
	r->place[r->nplaces].length = length;
	r->nplaces++;
}

static void
rows_free(Rows *r)
{
	free(r->text);
	free(r->place);
}

static void
libcsv_field(void *field, size_t len, void *data)
{
	rows_field(data, field, len, field == NULL);
}

static void
libcsv_row(int c, void *data)
{
	(void) c;
	rows_add(data, "\n", 1);
}

static int
no_space(unsigned char c)
{
	(void) c;
	return 0;
}

/* Parses with libcsv in strict mode; refused when it reports an error. */
static Rows
parse_libcsv(const char *in, size_t len, const CsvDialect *d)
{
	struct csv_parser p;
	Rows		r = {0};

	csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL);
	csv_set_space_func(&p, no_space);
	csv_set_delim(&p, d->delimiter);
	csv_set_quote(&p, d->quote);
	if (csv_parse(&p, in, len, libcsv_field, libcsv_row, &r) != len ||
		csv_fini(&p, libcsv_field, libcsv_row, &r) != 0)
		r.refused = true;
	csv_free(&p);
	return r;
}

/*
 * COPY's rules as plainly as they can be written, one byte at a time: the
 * reference where libcsv cannot express the dialect or refuses the input.
 * Inside quotes the escape byte followed by the quote or the escape stands
 * for that byte, and any other byte is itself; outside them a quote opens a
 * quoted section anywhere in a field.  CR, LF and CRLF end a record; lines
 * holding nothing are skipped; each of CR, LF and CRLF is one line break.
 * A line is skipped whole, quotes and all, when fewer than skip_lines line
 * breaks come before it or it starts with the comment byte.
 */
static Rows
parse_model(const char *input, size_t len, const CsvDialect *d)
{
	const unsigned char *in = (const unsigned char *) input;
	Rows		r = {0};
	char	   *field = xrealloc(NULL, len);
	size_t		flen = 0;
	bool		in_record = false;
	bool		in_quotes = false;
	bool		quoted = false;
	bool		skipping = false;	/* in a line skipped whole */
	uint64_t	breaks = 0;		/* line breaks in in[0 .. i) */
	uint64_t	line = 0;
	size_t		start = 0;
	size_t		text_start = 0; /* the record's first field in r.text */

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = in[i];
		bool		newline = c == '\r' || c == '\n';

		if (!in_record && !newline && !skipping &&
			(breaks < d->skip_lines || (d->comment != 0 && c == d->comment)))
			skipping = true;
		else if (skipping && newline)
			skipping = false;
		if (!in_record && !newline && !skipping)
		{
			in_record = true;
			start = i;
			line = breaks + 1;
			text_start = r.len;
		}
		if (!in_record)
			;					/* a blank line, or one skipped whole */
		else if (in_quotes)
		{
			if (c == d->escape && i + 1 < len &&
				(in[i + 1] == d->quote || in[i + 1] == d->escape))
				field[flen++] = in[++i];
			else if (c == d->quote)
				in_quotes = false;
			else
				field[flen++] = c;
		}
		else if (c == d->quote)
			in_quotes = quoted = true;
		else if (c == d->delimiter || newline)
		{
			rows_field(&r, field, flen, !quoted && flen == d->null_len &&
					   memcmp(field, d->null_string, flen) == 0);
			flen = 0;
			quoted = false;
			if (newline)
			{
				bool		crlf = c == '\r' && i + 1 < len && in[i + 1] == '\n';

				rows_add(&r, "\n", 1);
				rows_place(&r, line, start, i + 1 + crlf - start);
				in_record = false;
			}
		}
		else
			field[flen++] = c;

		if (c == '\r' || (c == '\n' && (i == 0 || in[i - 1] != '\r')))
			breaks++;
	}
	if (in_quotes)
	{
		/* Like the tokenizer, give no field of the refused record. */
		r.refused = true;
		r.refused_at = start;
		r.len = text_start;
	}
	else if (in_record)
	{
		rows_field(&r, field, flen, !quoted && flen == d->null_len &&
				   memcmp(field, d->null_string, flen) == 0);
		rows_add(&r, "\n", 1);
		rows_place(&r, line, start, len - start);
	}
	free(field);
	return r;
}

/* Output space for a record: nslots slots and out_cap bytes. */
static void
record_size(CsvRecord *rec, int nslots, size_t out_cap)
{
	rec->nslots = nslots;
	rec->out_cap = out_cap;
	rec->out = xrealloc(rec->out, out_cap);
	rec->slot_state = xrealloc(rec->slot_state, nslots);
	rec->slot_offset = xrealloc(rec->slot_offset, nslots * sizeof(size_t));
	rec->slot_length = xrealloc(rec->slot_length, nslots * sizeof(size_t));
}

static void
record_free(CsvRecord *rec)
{
	free(rec->out);
	free(rec->slot_state);
	free(rec->slot_offset);
	free(rec->slot_length);
}

/*
 * Tokenizes every field of in, giving the tokenizer chunk[0], chunk[1],
 * chunk[0], ... more bytes on each CSV_NEED_MORE, and starting with nslots
 * slots and out_cap bytes, grown on each CSV_NEED_SPACE.  Past the first
 * 256 bytes of a record, each CSV_NEED_MORE at least doubles what the
 * tokenizer is given, as csv_stream.c's buffer grows, so that a long record
 * is not tokenized again and again.  With windows, a record with more
 * fields than slots comes in windows of fields, which must follow on.
 */
static Rows
tokenize(const char *in, size_t len, const CsvDialect *d, const size_t chunk[2],
		 int nslots, size_t out_cap, bool windows)
{
	CsvTokenizer tok;
	CsvRecord	rec = {0};
	Rows		r = {0};
	size_t		start = 0;
	size_t		avail = chunk[0] < len ? chunk[0] : len;
	int			turn = 1;
	int			fields_taken = 0;	/* of the record coming in windows */
	size_t		text_before = 0;	/* r.len before that record's fields */

	hvcsv_tokenizer_init(&tok, d);
	tok.all_fields = true;
	tok.windows = windows;
	record_size(&rec, nslots, out_cap);

	for (;;)
	{
		size_t		consumed;
		bool		at_eof = start + avail == len;
		CsvStatus	st = hvcsv_tokenize(&tok, in + start, avail, at_eof, &consumed, &rec);

		if (consumed > avail)
		{
			r.broken = "consumed more than it was given";
			break;
		}
		if (st == CSV_RECORD || st == CSV_WINDOW)
		{
			if (rec.first_field != fields_taken)
			{
				r.broken = "a window that does not follow on";
				break;
			}
			for (int i = 0; i < rec.nfields - rec.first_field; i++)
				rows_field(&r, rec.out + rec.slot_offset[i], rec.slot_length[i],
						   rec.slot_state[i] == CSV_SLOT_NULL);
			fields_taken = rec.nfields;
		}
		if (st == CSV_RECORD)
		{
			rows_place(&r, rec.line, start + rec.start, rec.length);
			rows_add(&r, "\n", 1);
			fields_taken = 0;
			text_before = r.len;
		}
		else if (st == CSV_UNTERMINATED_QUOTE)
		{
			r.len = text_before;	/* a refused record has no fields */
			r.refused = true;
			r.refused_at = start + rec.start;
		}
		start += consumed;
		avail -= consumed;
		if (st == CSV_RECORD || st == CSV_WINDOW)
			continue;
		if (st == CSV_NEED_MORE)
		{
			size_t		more = avail > 256 && avail > chunk[turn] ? avail : chunk[turn];

			if (at_eof)
			{
				r.broken = "CSV_NEED_MORE at the end of the input";
				break;
			}
			turn = 1 - turn;
			avail += more < len - start - avail ? more : len - start - avail;
		}
		else if (st == CSV_NEED_SPACE)
		{
			if ((size_t) rec.nslots > len + 1 && rec.out_cap > 2 * len + 2)
			{
				r.broken = "CSV_NEED_SPACE with room for any record";
				break;
			}
			record_size(&rec, rec.nfields > 2 * rec.nslots ? rec.nfields : 2 * rec.nslots,
						2 * rec.out_cap + 1);
		}
		else
			break;				/* CSV_END, or refused above */
	}
	record_free(&rec);
	return r;
}

/*
 * Tokenizes the whole input at once, with room for any record's bytes.
 * Slots grow on demand, since every record clears all of them.
 */
static Rows
tokenize_whole(const char *in, size_t len, const CsvDialect *d)
{
	size_t		whole[2] = {len, len};

	return tokenize(in, len, d, whole, 16, 2 * len + 2, false);
}

/* A record's length without its line break: a CRLF split by a chunk leaves its LF out. */
static size_t
content_length(const char *in, const Place *p)
{
	size_t		n = p->length;

	while (n > 0 && (in[p->start + n - 1] == '\r' || in[p->start + n - 1] == '\n'))
		n--;
	return n;
}

/* Compares two tokenizations of in; describes the first difference. */
static bool
same_rows(const char *in, const Rows *a, const Rows *b, char *why, size_t whysize)
{
	if (a->broken || b->broken)
		snprintf(why, whysize, "tokenizer: %s", a->broken ? a->broken : b->broken);
	else if (a->refused != b->refused || (a->refused && a->refused_at != b->refused_at))
		snprintf(why, whysize, "refused %d at %zu against %d at %zu",
				 a->refused, a->refused_at, b->refused, b->refused_at);
	else if (a->len != b->len || (a->len > 0 && memcmp(a->text, b->text, a->len) != 0))
		snprintf(why, whysize, "different fields");
	else if (a->nplaces != b->nplaces)
		snprintf(why, whysize, "%zu records against %zu", a->nplaces, b->nplaces);
	else
	{
		for (size_t i = 0; i < a->nplaces; i++)
		{
			const Place *p = &a->place[i];
			const Place *q = &b->place[i];

			if (p->line != q->line || p->start != q->start ||
				content_length(in, p) != content_length(in, q))
			{
				snprintf(why, whysize, "record %zu: line %llu at %zu (%zu bytes) against line %llu at %zu (%zu bytes)",
						 i + 1, (unsigned long long) p->line, p->start, p->length,
						 (unsigned long long) q->line, q->start, q->length);
				return false;
			}
		}
		return true;
	}
	return false;
}

/*
 * Tokenizes in twice in step, once copying every field and once only the
 * fields in mask (of the first 8), into slots in reverse order; each copied
 * field must equal the same field of the full copy, and a field the record
 * lacks must be absent.
 */
static bool
same_projection(const char *in, size_t len, const CsvDialect *d, unsigned mask,
				char *why, size_t whysize)
{
	CsvTokenizer all;
	CsvTokenizer some;
	CsvRecord	rec_all = {0};
	CsvRecord	rec_some = {0};
	int			field_slot[8];
	CsvWantedField wanted[8];
	int			nwanted = 0;
	int			nslots = 0;
	size_t		start = 0;
	bool		ok = true;

	for (int f = 7; f >= 0; f--)
		field_slot[f] = (mask >> f) & 1 ? nslots++ : -1;
	for (int f = 0; f < 8; f++)
		if (field_slot[f] >= 0)
			wanted[nwanted++] = (CsvWantedField) {f, field_slot[f]};

	hvcsv_tokenizer_init(&all, d);
	all.all_fields = true;
	hvcsv_tokenizer_init(&some, d);
	some.wanted = wanted;
	some.nwanted = nwanted;
	record_size(&rec_all, 16, 2 * len + 2);
	record_size(&rec_some, nslots, len + nslots + 1);

	while (ok)
	{
		size_t		consumed_all;
		size_t		consumed_some;
		size_t		skipped = 0;
		CsvStatus	st_all = hvcsv_tokenize(&all, in + start, len - start, true, &consumed_all, &rec_all);
		CsvStatus	st_some = hvcsv_tokenize(&some, in + start, len - start, true, &consumed_some, &rec_some);

		/* More slots for every field, after the blank lines already skipped. */
		while (st_all == CSV_NEED_SPACE)
		{
			skipped += consumed_all;
			record_size(&rec_all, 2 * rec_all.nslots, rec_all.out_cap);
			st_all = hvcsv_tokenize(&all, in + start + skipped, len - start - skipped, true,
								  &consumed_all, &rec_all);
			rec_all.start += skipped;
		}
		consumed_all += skipped;

		if (st_all != st_some || consumed_all != consumed_some)
		{
			snprintf(why, whysize, "projected: status %d after %zu bytes against %d after %zu",
					 st_some, consumed_some, st_all, consumed_all);
			ok = false;
			break;
		}
		if (st_all != CSV_RECORD)
			break;
		if (rec_all.nfields != rec_some.nfields || rec_all.line != rec_some.line ||
			rec_all.start != rec_some.start || rec_all.length != rec_some.length)
		{
			snprintf(why, whysize, "projected: record at %zu differs in its place or field count",
					 start + rec_all.start);
			ok = false;
		}
		for (int f = 0; f < 8 && ok; f++)
		{
			int			s = field_slot[f];

			if (s < 0)
				continue;
			if (f >= rec_all.nfields)
				ok = rec_some.slot_state[s] == CSV_SLOT_ABSENT;
			else
				ok = rec_some.slot_state[s] == rec_all.slot_state[f] &&
					rec_some.slot_length[s] == rec_all.slot_length[f] &&
					memcmp(rec_some.out + rec_some.slot_offset[s],
						   rec_all.out + rec_all.slot_offset[f], rec_all.slot_length[f]) == 0;
			if (!ok)
				snprintf(why, whysize, "projected: field %d of the record at %zu differs",
						 f + 1, start + rec_all.start);
		}
		start += consumed_all;
	}
	record_free(&rec_all);
	record_free(&rec_some);
	return ok;
}

typedef struct LineStarts
{
	Place	   *start;			/* line: the line breaks before it */
	size_t		n;
	size_t		cap;
	uint64_t	step;
} LineStarts;

static void
line_starts_add(LineStarts *ls, uint64_t offset, uint64_t line_breaks)
{
	if (ls->n == ls->cap)
	{
		ls->cap = ls->cap ? 2 * ls->cap : 16;
		ls->start = xrealloc(ls->start, ls->cap * sizeof(Place));
	}
	ls->start[ls->n].start = offset;
	ls->start[ls->n].line = line_breaks;
	ls->n++;
}

/* The mark after a line start at offset, as the row index sets it. */
static uint64_t
next_mark(uint64_t offset, uint64_t step)
{
	return (offset / step + 1) * step;
}

/* Collects what the row scanner reports. */
static uint64_t
scanner_found(void *arg, uint64_t offset, uint64_t line_breaks)
{
	LineStarts *ls = arg;

	line_starts_add(ls, offset, line_breaks);
	return next_mark(offset, ls->step);
}

/*
 * Adds the line starts after the CR and LF bytes of in[from .. to), which
 * the tokenizer skipped as blank lines or lines skipped whole, to expected
 * (those at or past a mark).  False if a byte there is neither a line
 * break nor in a line the dialect skips whole.
 */
static bool
skipped_line_starts(const char *in, size_t len, size_t from, size_t to, const CsvDialect *d,
					const uint64_t *breaks, LineStarts *expected, uint64_t *mark)
{
	size_t		line = from;	/* where the line of in[q] starts */

	for (size_t q = from; q < to; q++)
	{
		size_t		next = q + 1;

		if (in[q] != '\r' && in[q] != '\n')
		{
			if (breaks[line] < d->skip_lines ||
				(d->comment != 0 && (unsigned char) in[line] == d->comment))
				continue;
			return false;
		}
		line = next;
		if (in[q] == '\r' && next < len && in[next] == '\n')
			continue;			/* the line starts after the LF */
		if (next < len && next >= *mark)
		{
			line_starts_add(expected, next, breaks[next]);
			*mark = next_mark(next, expected->step);
		}
	}
	return true;
}

/*
 * Feeds the row scanner chunk[0], chunk[1], chunk[0], ... bytes at a time
 * and compares what it reports with expected; a start at the very end of
 * the input begins no record and is not compared.
 */
static bool
scanner_reports(const char *in, size_t len, const CsvDiffPlan *plan, const size_t chunk[2],
				const LineStarts *expected, uint64_t line_breaks, char *why, size_t whysize)
{
	LineStarts	found = {.step = plan->mark_step};
	CsvRowScanner sc;
	size_t		at = 0;
	int			turn = 0;
	bool		ok = true;

	hvcsv_row_scanner_init(&sc, &plan->dialect, plan->mark_step);
	while (at < len)
	{
		size_t		n = chunk[turn] < len - at ? chunk[turn] : len - at;

		hvcsv_row_scanner_feed(&sc, in + at, n, scanner_found, &found);
		at += n;
		turn = 1 - turn;
	}
	if (found.n > 0 && found.start[found.n - 1].start == len)
		found.n--;

	if (sc.line_breaks != line_breaks)
	{
		snprintf(why, whysize, "scanner (chunks %zu/%zu): %llu line breaks in all, not %llu",
				 chunk[0], chunk[1], (unsigned long long) sc.line_breaks,
				 (unsigned long long) line_breaks);
		ok = false;
	}
	for (size_t i = 0; ok && i < expected->n + 1; i++)
	{
		if (i == expected->n)
			ok = found.n == expected->n;
		else
			ok = i < found.n && found.start[i].start == expected->start[i].start &&
				found.start[i].line == expected->start[i].line;
		if (!ok)
			snprintf(why, whysize, "scanner (chunks %zu/%zu): line start %zu: found %lld (after %lld breaks), expected %lld (after %lld)",
					 chunk[0], chunk[1], i + 1,
					 i < found.n ? (long long) found.start[i].start : -1LL,
					 i < found.n ? (long long) found.start[i].line : -1LL,
					 i < expected->n ? (long long) expected->start[i].start : -1LL,
					 i < expected->n ? (long long) expected->start[i].line : -1LL);
	}
	free(found.start);
	return ok;
}

/*
 * Checks the row scanner, fed in the plan's chunks and a byte at a time,
 * against the line starts that the whole tokenization implies: after each
 * record, after each blank line and after each line skipped whole.
 */
static bool
same_line_starts(const char *in, size_t len, const CsvDiffPlan *plan, const Rows *whole,
				 char *why, size_t whysize)
{
	static const size_t bytewise[2] = {1, 1};
	uint64_t   *breaks = xrealloc(NULL, (len + 1) * sizeof(uint64_t));
	LineStarts	expected = {.step = plan->mark_step};
	uint64_t	mark = plan->mark_step;
	size_t		pos = 0;
	bool		ok = true;

	/* Line breaks before each offset, counted as the tokenizer counts them. */
	breaks[0] = 0;
	for (size_t i = 0; i < len; i++)
		breaks[i + 1] = breaks[i] + (in[i] == '\r' || (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')));

	for (size_t k = 0; k < whole->nplaces && ok; k++)
	{
		size_t		end = whole->place[k].start + whole->place[k].length;

		ok = skipped_line_starts(in, len, pos, whole->place[k].start, &plan->dialect, breaks,
								 &expected, &mark);
		if (ok && end < len && end >= mark)
		{
			line_starts_add(&expected, end, breaks[end]);
			mark = next_mark(end, expected.step);
		}
		pos = end;
	}
	if (ok)
		ok = skipped_line_starts(in, len, pos, whole->refused ? whole->refused_at : len,
								 &plan->dialect, breaks, &expected, &mark);
	if (!ok)
		snprintf(why, whysize, "scanner: the tokenizer skipped bytes of a line it must read");

	ok = ok && scanner_reports(in, len, plan, plan->chunk, &expected, breaks[len], why, whysize) &&
		scanner_reports(in, len, plan, bytewise, &expected, breaks[len], why, whysize);
	free(breaks);
	free(expected.start);
	return ok;
}

/* Prints bytes with C escapes, at most limit of them. */
static void
print_bytes(const char *s, size_t n, size_t limit)
{
	for (size_t i = 0; i < n && i < limit; i++)
	{
		unsigned char c = s[i];

		if (c == '\\')
			fputs("\\\\", stderr);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else if (c == '\n')
			fputs("\\n\n", stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	if (n > limit)
		fputs("...", stderr);
	fputc('\n', stderr);
}

static void
report(const char *what, const char *in, size_t len, const CsvDiffPlan *plan, const char *why,
	   const char *name_a, const Rows *a, const char *name_b, const Rows *b)
{
	const CsvDialect *d = &plan->dialect;

	fprintf(stderr, "MISMATCH %s: %s\ndialect: delimiter 0x%02x quote 0x%02x escape 0x%02x comment 0x%02x skip_lines %llu null \"",
			what, why, d->delimiter, d->quote, d->escape, d->comment,
			(unsigned long long) d->skip_lines);
	print_bytes(d->null_string, d->null_len, 64);
	fprintf(stderr, "chunks %zu/%zu, first slots %d, mark step %llu, projected 0x%02x\ninput (%zu bytes):\n",
			plan->chunk[0], plan->chunk[1], plan->first_slots,
			(unsigned long long) plan->mark_step, plan->projected, len);
	print_bytes(in, len, 2000);
	if (a)
	{
		fprintf(stderr, "--- %s%s:\n", name_a, a->refused ? " (refused)" : "");
		print_bytes(a->text ? a->text : "", a->len, 4000);
		fprintf(stderr, "--- %s%s:\n", name_b, b->refused ? " (refused)" : "");
		print_bytes(b->text ? b->text : "", b->len, 4000);
	}
}

bool
csv_diff_input(const char *what, const char *in, size_t len, const CsvDiffPlan *plan)
{
	const CsvDialect *d = &plan->dialect;
	Rows		whole = tokenize_whole(in, len, d);
	Rows		model = parse_model(in, len, d);
	char		why[512];
	bool		ok;

	ok = same_rows(in, &model, &whole, why, sizeof(why));
	if (!ok)
		report(what, in, len, plan, why, "model", &model, "tokenizer", &whole);

	if (ok && d->escape == d->quote && d->comment == 0 && d->skip_lines == 0)
	{
		/* libcsv knows only the empty string as NULL. */
		CsvDialect	empty_null = *d;
		Rows		lib;
		Rows		ours;

		empty_null.null_string = "";
		empty_null.null_len = 0;
		lib = parse_libcsv(in, len, &empty_null);
		if (!lib.refused)
		{
			ours = d->null_len == 0 ? whole : tokenize_whole(in, len, &empty_null);
			ok = !ours.refused && ours.len == lib.len &&
				(lib.len == 0 || memcmp(ours.text, lib.text, lib.len) == 0);
			if (!ok)
				report(what, in, len, plan, "libcsv accepts it, and the fields differ",
					   "libcsv", &lib, "tokenizer", &ours);
			if (d->null_len != 0)
				rows_free(&ours);
		}
		rows_free(&lib);
	}

	for (int windows = 0; windows <= 1 && ok; windows++)
	{
		Rows		chunked = tokenize(in, len, d, plan->chunk, plan->first_slots,
									   plan->first_slots, windows);

		ok = same_rows(in, &whole, &chunked, why, sizeof(why));
		if (!ok)
			report(what, in, len, plan, why, "whole", &whole,
				   windows ? "chunked, in windows" : "chunked", &chunked);
		rows_free(&chunked);
	}
	if (ok && !(ok = same_projection(in, len, d, plan->projected, why, sizeof(why))))
		report(what, in, len, plan, why, NULL, NULL, NULL, NULL);
	if (ok && !(ok = same_line_starts(in, len, plan, &whole, why, sizeof(why))))
		report(what, in, len, plan, why, NULL, NULL, NULL, NULL);

	rows_free(&whole);
	rows_free(&model);
	return ok;
}
