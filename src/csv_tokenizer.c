/*-------------------------------------------------------------------------
 * csv_tokenizer.c
 *	  Splits CSV bytes into records and fields, with COPY CSV's rules.
 *
 * The rules are those of COPY ... (FORMAT csv): a field may hold quoted
 * sections anywhere; inside quotes the escape byte followed by the quote or
 * the escape byte stands for that byte (with the default escape, a doubled
 * quote); an unquoted field equal to the null string is NULL, a quoted one
 * never is.  Unlike COPY, LF, CRLF and a lone CR all end a record (so files
 * from any platform read the same), and lines holding nothing are skipped.
 * Optionally, so are a preamble of skip_lines lines and comment lines, as
 * raw lines: they never hold a record, and a quote in them means nothing.
 *
 * Runs of ordinary bytes are found sixteen at a time with SSE2 (with a
 * lookup table elsewhere) and copied with one memcpy, so the cost per
 * field is small.  This file owns no memory and reports no errors itself:
 * see csv_stream.c for that.
 *-------------------------------------------------------------------------
 */
#include "csv_tokenizer.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Prepares a tokenizer for one input stream. */
void
hvcsv_tokenizer_init(CsvTokenizer *tok, const CsvDialect *dialect)
{
	memset(tok, 0, sizeof(*tok));
	tok->dialect = *dialect;

	tok->plain_stop[dialect->delimiter] = 1;
	tok->plain_stop[dialect->quote] = 1;
	tok->plain_stop['\n'] = 1;
	tok->plain_stop['\r'] = 1;

	tok->quoted_stop[dialect->quote] = 1;
	tok->quoted_stop[dialect->escape] = 1;
	tok->quoted_stop['\n'] = 1;
	tok->quoted_stop['\r'] = 1;

	tok->skips_lines = dialect->comment != 0 || dialect->skip_lines > 0;
}

/*
 * Returns the first byte in [p, end) that stop marks.  With SSE2, sixteen
 * bytes are compared with the (at most four) stop bytes at once; the table
 * finishes what is left and serves other machines.
 */
static inline const unsigned char *
find_stop(const unsigned char *stop, const unsigned char *p, const unsigned char *end,
		  unsigned char b1, unsigned char b2)
{
#ifdef __SSE2__
	const __m128i v1 = _mm_set1_epi8((char) b1);
	const __m128i v2 = _mm_set1_epi8((char) b2);
	const __m128i lf = _mm_set1_epi8('\n');
	const __m128i cr = _mm_set1_epi8('\r');

	while (end - p >= 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) p);
		__m128i		hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, v1), _mm_cmpeq_epi8(v, v2)),
									   _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
		int			mask = _mm_movemask_epi8(hit);

		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (p < end && !stop[*p])
		p++;
	return p;
}

/* The bytes that end a line skipped whole. */
static const unsigned char line_stop[256] = {['\n'] = 1, ['\r'] = 1};

/*
 * Whether a line that starts with byte c (not a line break), after
 * line_breaks line breaks, is skipped whole.
 */
static inline bool
skipped_line(unsigned char comment, uint64_t skip_lines, uint64_t line_breaks, unsigned char c)
{
	return line_breaks < skip_lines || (c == comment && comment != 0);
}

/* Counts a line break: CR, LF and CRLF are one each. */
static inline void
count_line_break(CsvTokenizer *tok, unsigned char c)
{
	if (c == '\r' || !tok->after_cr)
		tok->line_breaks++;
	tok->after_cr = (c == '\r');
}

/*
 * Passes over the lines before a record that the dialect's skip_lines or
 * comment skips whole, and blank lines.  Returns where the record starts,
 * or end; when the input ends inside a skipped line, the next call goes on
 * skipping it.
 */
static const unsigned char *
skip_lines_without_record(CsvTokenizer *tok, const unsigned char *p, const unsigned char *end)
{
	while (p < end)
	{
		if (*p == '\n' || *p == '\r')
		{
			count_line_break(tok, *p++);
			tok->in_skipped_line = false;
		}
		else if (tok->in_skipped_line ||
				 skipped_line(tok->dialect.comment, tok->dialect.skip_lines,
							  tok->line_breaks, *p))
		{
			tok->in_skipped_line = true;
			tok->after_cr = false;
			p = find_stop(line_stop, p + 1, end, '\n', '\r');
		}
		else
			break;
	}
	return p;
}

/* Appends n bytes to the record's output, keeping room for a NUL. */
static inline bool
append_bytes(CsvRecord *rec, size_t *out_len, const unsigned char *src, size_t n)
{
	if (*out_len + n + 1 > rec->out_cap)
		return false;
	memcpy(rec->out + *out_len, src, n);
	*out_len += n;
	return true;
}

/* Ends a copied field: NUL-terminates it and records it in its slot. */
static inline bool
finish_field(const CsvTokenizer *tok, CsvRecord *rec, int slot,
			 size_t field_start, size_t *out_len, bool quoted)
{
	const CsvDialect *d = &tok->dialect;
	size_t		flen = *out_len - field_start;
	const char *value = rec->out + field_start;

	if (*out_len + 1 > rec->out_cap)
		return false;
	rec->out[(*out_len)++] = '\0';
	rec->slot_offset[slot] = field_start;
	rec->slot_length[slot] = flen;
	if (!quoted && flen == d->null_len && memcmp(value, d->null_string, flen) == 0)
		rec->slot_state[slot] = CSV_SLOT_NULL;
	else
		rec->slot_state[slot] = CSV_SLOT_VALUE;
	return true;
}

/*
 * Reads the next record from input[0 .. len).
 *
 * *consumed is set to the bytes the caller may drop: the whole record on
 * CSV_RECORD, or the blank lines before an incomplete one.  On CSV_NEED_MORE
 * the caller appends input and calls again from the same place; at_eof says
 * no more input will come.  rec->nfields is then the number of fields before
 * the one the input ends in.
 *
 * On CSV_WINDOW the caller takes fields rec->first_field .. rec->nfields - 1
 * from slots 0 .. and calls again, its input starting at the record's first
 * byte: the record goes on from its next field, not from its start.
 */
CsvStatus
hvcsv_tokenize(CsvTokenizer *tok, const char *input, size_t len, bool at_eof,
			 size_t *consumed, CsvRecord *rec)
{
	const CsvDialect *d = &tok->dialect;
	const unsigned char *in = (const unsigned char *) input;
	const unsigned char *end = in + len;
	const unsigned char *p = in;
	const bool	all_fields = tok->all_fields;
	const CsvWantedField *wanted = tok->wanted;
	const int	nwanted = tok->nwanted;
	int			want = 0;		/* the next entry of wanted */
	uint64_t	breaks = 0;
	size_t		out_len = 0;
	int			field = 0;

	if (tok->resume_field > 0)
	{
		/* The rest of a record that came in windows. */
		*consumed = 0;
		rec->start = 0;
		p = in + tok->resume_offset;
		field = tok->resume_field;
		breaks = tok->resume_breaks;
	}
	else
	{
		/* Lines holding nothing are no record: count them and skip them. */
		if (tok->skips_lines)
			p = skip_lines_without_record(tok, p, end);
		else
			while (p < end && (*p == '\n' || *p == '\r'))
				count_line_break(tok, *p++);
		*consumed = p - in;
		if (p == end)
			return at_eof ? CSV_END : CSV_NEED_MORE;
		tok->after_cr = false;
		rec->line = tok->line_breaks + 1;
		rec->start = p - in;
	}
	rec->first_field = field;
	for (int s = 0; s < rec->nslots; s++)
		rec->slot_state[s] = CSV_SLOT_ABSENT;

	for (;;)
	{
		int			slot;
		bool		copy;
		bool		quoted = false;
		size_t		field_start = out_len;

		if (all_fields)
			slot = field - rec->first_field;
		else if (want < nwanted && wanted[want].field == field)
			slot = wanted[want++].slot;
		else
			slot = -1;
		if (slot >= rec->nslots)
		{
			if (tok->windows && slot > 0)
			{
				/* The slots are full: the next call goes on from this field. */
				tok->resume_field = field;
				tok->resume_offset = (p - in) - rec->start;
				tok->resume_breaks = breaks;
				rec->nfields = field;
				return CSV_WINDOW;
			}
			rec->nfields = field + 1;
			return CSV_NEED_SPACE;
		}
		copy = slot >= 0;

		for (;;)
		{
			const unsigned char *run = p;

			p = find_stop(tok->plain_stop, p, end, d->delimiter, d->quote);
			if (copy && !append_bytes(rec, &out_len, run, p - run))
				return CSV_NEED_SPACE;
			if (p == end)
				goto end_of_input;
			if (*p != d->quote)
				break;			/* a delimiter or a line break */

			/* A quoted section, up to its closing quote. */
			quoted = true;
			p++;
			for (;;)
			{
				unsigned char c;

				run = p;
				p = find_stop(tok->quoted_stop, p, end, d->quote, d->escape);
				if (copy && !append_bytes(rec, &out_len, run, p - run))
					return CSV_NEED_SPACE;
				if (p == end)
				{
					if (!at_eof)
						goto need_more;
					return CSV_UNTERMINATED_QUOTE;
				}
				c = *p;
				if (c == d->escape)
				{
					/* The next byte decides; wait for it unless input ended. */
					if (p + 1 == end && !at_eof)
						goto need_more;
					if (p + 1 < end && (p[1] == d->quote || p[1] == d->escape))
					{
						if (copy && !append_bytes(rec, &out_len, p + 1, 1))
							return CSV_NEED_SPACE;
						p += 2;
						continue;
					}
				}
				if (c == d->quote)
				{
					p++;
					break;
				}
				if (c == '\r')
				{
					/* CRLF inside quotes is one line break, not two. */
					if (p + 1 == end && !at_eof)
						goto need_more;
					if (p + 1 < end && p[1] == '\n')
					{
						if (copy && !append_bytes(rec, &out_len, p, 2))
							return CSV_NEED_SPACE;
						p += 2;
						breaks++;
						continue;
					}
				}
				if (c == '\n' || c == '\r')
					breaks++;
				/* A line break, or an escape byte that escapes nothing. */
				if (copy && !append_bytes(rec, &out_len, p, 1))
					return CSV_NEED_SPACE;
				p++;
			}
		}

		/* *p is a delimiter or a line break. */
		if (copy && !finish_field(tok, rec, slot, field_start, &out_len, quoted))
			return CSV_NEED_SPACE;
		field++;
		if (*p == d->delimiter)
		{
			p++;
			continue;
		}
		if (*p == '\r')
		{
			p++;
			tok->after_cr = true;
			if (p < end && *p == '\n')
			{
				p++;
				tok->after_cr = false;
			}
		}
		else
			p++;
		breaks++;
		break;

end_of_input:
		/* Input ended outside quotes: at EOF that ends the record too. */
		if (!at_eof)
			goto need_more;
		if (copy && !finish_field(tok, rec, slot, field_start, &out_len, quoted))
			return CSV_NEED_SPACE;
		field++;
		break;
	}

	rec->nfields = field;
	rec->length = (p - in) - rec->start;
	tok->line_breaks += breaks;
	tok->resume_field = 0;
	*consumed = p - in;
	return CSV_RECORD;

need_more:
	/* For the caller's error about a record too long to buffer. */
	rec->nfields = field;
	return CSV_NEED_MORE;
}

/* Prepares a row scanner; the first line start reported is at or after first_mark. */
void
hvcsv_row_scanner_init(CsvRowScanner *scanner, const CsvDialect *dialect, uint64_t first_mark)
{
	memset(scanner, 0, sizeof(*scanner));
	scanner->quote = dialect->quote;
	scanner->escape = dialect->escape;
	scanner->stop[dialect->quote] = 1;
	scanner->stop[dialect->escape] = 1;
	scanner->stop['\n'] = 1;
	scanner->stop['\r'] = 1;
	scanner->mark = first_mark;
	scanner->comment = dialect->comment;
	scanner->skip_lines = dialect->skip_lines;
	scanner->skips_lines = dialect->comment != 0 || dialect->skip_lines > 0;
	scanner->line_begins = scanner->skips_lines;
}

/* Reports a line start at offset if it is the first at or after the mark. */
static inline void
line_start(CsvRowScanner *s, uint64_t offset, CsvRowStartFunction found, void *arg)
{
	s->line_begins = s->skips_lines;
	if (offset >= s->mark)
		s->mark = found(arg, offset, s->line_breaks);
}

/*
 * Scans the next bytes of the input.  Line breaks are counted as the
 * tokenizer counts them: CR, LF and CRLF are one each, quoted or not.  A
 * line the tokenizer skips whole is passed over up to its line break, which
 * ends it as any other.
 */
void
hvcsv_row_scanner_feed(CsvRowScanner *s, const char *input, size_t len,
					 CsvRowStartFunction found, void *arg)
{
	const unsigned char *in = (const unsigned char *) input;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = in[i];
		uint64_t	pos = s->offset + i;

		if (s->line_start_pending)
		{
			/* After an unquoted CR: the line starts past a following LF. */
			s->line_start_pending = false;
			if (c == '\n')
			{
				s->after_cr = false;
				line_start(s, pos + 1, found, arg);
				continue;
			}
			line_start(s, pos, found, arg);
		}

		if (s->line_begins)
		{
			s->line_begins = false;
			s->in_skipped_line = c != '\n' && c != '\r' &&
				skipped_line(s->comment, s->skip_lines, s->line_breaks, c);
		}
		if (s->in_skipped_line)
		{
			if (c != '\n' && c != '\r')
			{
				i = find_stop(line_stop, in + i + 1, in + len, '\n', '\r') - in - 1;
				s->after_cr = false;
				continue;
			}
			s->in_skipped_line = false;
		}

		if (!s->stop[c])
		{
			/* A run of ordinary bytes: skip it whole. */
			size_t		j = find_stop(s->stop, in + i + 1, in + len, s->quote, s->escape) - in;

			s->after_cr = false;
			s->after_escape = false;
			i = j - 1;
			continue;
		}

		if (s->in_quotes)
		{
			if (s->after_escape)
			{
				s->after_escape = false;
				if (c == s->quote || c == s->escape)
				{
					s->after_cr = false;
					continue;
				}
			}
			if (c == s->escape && s->escape != s->quote)
				s->after_escape = true;
			else if (c == s->quote)
				s->in_quotes = false;
			else if (c == '\r' || (c == '\n' && !s->after_cr))
				s->line_breaks++;
			s->after_cr = (c == '\r');
			continue;
		}

		if (c == s->quote)
			s->in_quotes = true;
		else if (c == '\n')
		{
			if (!s->after_cr)
				s->line_breaks++;
			line_start(s, pos + 1, found, arg);
		}
		else if (c == '\r')
		{
			s->line_breaks++;
			s->line_start_pending = true;
		}
		s->after_cr = (c == '\r');
	}
	s->offset += len;
}
