/*-------------------------------------------------------------------------
 * csv_stream.c
 *	  Feeds the tokenizer from any byte source and owns its buffers.
 *
 * Bytes arrive through a read function (a spool file, an HTTP body) into
 * one buffer.  A record cut by the end of the buffer is moved to its start
 * and the buffer refilled; when such a record fills more than half of the
 * buffer, the buffer doubles, up to the longest record accepted.  The
 * output area always has room for a whole buffer, and a record read with
 * every field copied out comes in windows of a fixed number of fields, so
 * neither the output area nor the slots grow with the number of fields.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "records.h"

#define INITIAL_BUFFER_SIZE (1024 * 1024)

/*
 * The longest record accepted, whatever the reader: beyond it an error, not
 * an allocation failure.  The buffer and the output area each hold one such
 * record (plus a byte, to see it end), far below PostgreSQL's 1 GB limit.
 */
#define MAX_RECORD_BYTES (128 * 1024 * 1024)
#define MAX_BUFFER_SIZE ((size_t) MAX_RECORD_BYTES + 1)

/* Bytes of a record shown in an error. */
#define SHOWN_RECORD_BYTES 40

/* Fields in each window of a record read with every field copied out. */
#define WINDOW_FIELDS 1024

/* Sizes the output area and the slot arrays for the buffer and nslots. */
static void
size_output(CsvStream *s, int nslots)
{
	CsvRecord  *rec = &s->rec;
	size_t		out_cap = s->buf_size + nslots + 1;

	if (rec->out == NULL)
		rec->out = palloc(out_cap);
	else if (rec->out_cap < out_cap)
		rec->out = repalloc(rec->out, out_cap);
	rec->out_cap = Max(rec->out_cap, out_cap);

	if (nslots > rec->nslots || rec->slot_state == NULL)
	{
		int			n = Max(nslots, 1);

		if (rec->slot_state)
		{
			pfree(rec->slot_state);
			pfree(rec->slot_offset);
			pfree(rec->slot_length);
		}
		rec->slot_state = palloc0(n);
		rec->slot_offset = palloc0(n * sizeof(size_t));
		rec->slot_length = palloc0(n * sizeof(size_t));
	}
	rec->nslots = nslots;
}

/* Creates a stream over a read function, copying out no field yet. */
CsvStream *
hvcsv_stream_create(const CsvDialect *dialect, CsvReadFunction read, void *read_arg)
{
	CsvStream  *s = palloc0(sizeof(CsvStream));

	hvcsv_tokenizer_init(&s->tok, dialect);
	s->buf_size = INITIAL_BUFFER_SIZE;
	s->buf = palloc(s->buf_size);
	s->read = read;
	s->read_arg = read_arg;
	size_output(s, 0);
	return s;
}

/* Copies out the fields that wanted lists (ascending), each into its slot. */
void
hvcsv_stream_select_fields(CsvStream *stream, const CsvWantedField *wanted,
						 int nwanted, int nslots)
{
	stream->tok.all_fields = false;
	stream->tok.windows = false;
	stream->tok.wanted = wanted;
	stream->tok.nwanted = nwanted;
	size_output(stream, nslots);
}

/*
 * Copies out every field of the next records, in windows of WINDOW_FIELDS
 * fields: hvcsv_stream_next returns each window, and stream->more_fields says
 * whether the record goes on.
 */
void
hvcsv_stream_select_all_fields(CsvStream *stream)
{
	stream->tok.all_fields = true;
	stream->tok.windows = true;
	size_output(stream, WINDOW_FIELDS);
}

/* Names fields in errors: field fields[i] is names[i] (none without a header). */
void
hvcsv_stream_name_fields(CsvStream *stream, const int *fields, char **names, int nnames)
{
	stream->named_fields = fields;
	stream->field_names = names;
	stream->nfield_names = nnames;
}

/* The name of a field, or NULL if it has none. */
static const char *
field_name(const CsvStream *s, int field)
{
	for (int i = 0; i < s->nfield_names; i++)
		if (s->named_fields[i] == field)
			return s->field_names[i];
	return NULL;
}

/*
 * Reports a record longer than MAX_RECORD_BYTES, naming the field the limit
 * was reached in and showing how the record starts.
 */
static void
record_too_long(CsvStream *s)
{
	int			field = s->rec.nfields;	/* fields before the one cut */
	const char *name = field_name(s, field);
	const char *start = s->buf + s->buf_start;
	size_t		shown = 0;
	char	   *field_desc;

	/* Its first bytes, up to a line break, show which record it is. */
	while (shown < SHOWN_RECORD_BYTES && start[shown] != '\n' && start[shown] != '\r')
		shown++;

	if (name)
	{
		int			len = strlen(name);
		int			clip = pg_mbcliplen(name, len, SHOWN_RECORD_BYTES);

		field_desc = psprintf("%d (\"%.*s%s\")", field + 1, clip, name, clip < len ? "..." : "");
	}
	else
		field_desc = psprintf("%d", field + 1);
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("CSV record is too long"),
			 errdetail("The record that starts on line " UINT64_FORMAT " grows past %d bytes, the most a record may hold, in field %s. Its first bytes: %s",
					   (uint64) s->rec.line, MAX_RECORD_BYTES, field_desc,
					   hvcsv_printable(start, shown, true))));
}

/*
 * Reads more input after the tokenizer stopped inside a record, growing the
 * buffer when the record fills more than half of it.
 */
static void
refill(CsvStream *s)
{
	size_t		pending = s->buf_end - s->buf_start;

	if (s->buf_start > 0)
	{
		memmove(s->buf, s->buf + s->buf_start, pending);
		s->buf_offset += s->buf_start;
		s->buf_start = 0;
		s->buf_end = pending;
	}
	if (pending > MAX_RECORD_BYTES)
		record_too_long(s);
	if (pending > s->buf_size / 2 && s->buf_size < MAX_BUFFER_SIZE)
	{
		s->buf_size = Min(2 * s->buf_size, MAX_BUFFER_SIZE);
		s->buf = repalloc_huge(s->buf, s->buf_size);
		size_output(s, s->rec.nslots);
	}

	/*
	 * The tokenizer starts a cut record over after every refill, so read at
	 * least as many new bytes as it will scan again: then a long record
	 * costs O(length) even when the source hands out small pieces.  The
	 * buffer is never full here, so a read that returns 0 means the end.
	 */
	do
	{
		size_t		n = s->read(s->read_arg, s->buf + s->buf_end, s->buf_size - s->buf_end);

		if (n == 0)
		{
			s->at_eof = true;
			break;
		}
		s->buf_end += n;
	} while (s->buf_end - pending < pending && s->buf_end < s->buf_size);
}

/*
 * Reads the next record (or window of one) into stream->rec; false at the
 * end of the input.  A quoted field still open at the end of the input is an
 * error.
 */
bool
hvcsv_stream_next(CsvStream *s)
{
	for (;;)
	{
		size_t		consumed;
		CsvStatus	st;

		st = hvcsv_tokenize(&s->tok, s->buf + s->buf_start, s->buf_end - s->buf_start,
						  s->at_eof, &consumed, &s->rec);
		if (st == CSV_RECORD || st == CSV_WINDOW)
			s->record_offset = s->buf_offset + s->buf_start + s->rec.start;
		s->buf_start += consumed;

		switch (st)
		{
			case CSV_RECORD:
			case CSV_WINDOW:
				s->more_fields = st == CSV_WINDOW;
				return true;
			case CSV_END:
				return false;
			case CSV_NEED_MORE:
				refill(s);
				break;
			case CSV_NEED_SPACE:
				/* The output area holds a whole buffer, and windows bound the slots. */
				elog(ERROR, "the CSV tokenizer ran out of output space");
				break;
			case CSV_UNTERMINATED_QUOTE:
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("unterminated CSV quoted field"),
						 errdetail("The input ends inside a quoted field that starts on line " UINT64_FORMAT ".",
								   (uint64) s->rec.line)));
		}
	}
}

/* Skips a UTF-8 byte order mark at the very start of the input. */
void
hvcsv_stream_skip_bom(CsvStream *s)
{
	while (s->buf_end < 3 && !s->at_eof)
		refill(s);
	if (s->buf_offset == 0 && s->buf_start == 0 && s->buf_end >= 3 &&
		memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0)
		s->buf_start = 3;
}

/*
 * Forgets buffered input, and any record it was inside, after the caller
 * repositioned its source at offset, the start of a line after line_breaks
 * line breaks.  Lines the dialect's skip_lines counts are skipped again
 * when the offset is among them (the input starts over).
 */
void
hvcsv_stream_restart(CsvStream *s, uint64 offset, uint64 line_breaks)
{
	s->buf_start = s->buf_end = 0;
	s->buf_offset = offset;
	s->at_eof = false;
	s->tok.line_breaks = line_breaks;
	s->tok.after_cr = false;
	s->tok.in_skipped_line = false;
	s->tok.resume_field = 0;
}

/*
 * Renders bytes for a message: the text if it is valid in the database
 * encoding, else with control and non-ASCII bytes as \xNN; "..." marks a
 * clipped value.
 */
char *
hvcsv_printable(const char *bytes, size_t len, bool clipped)
{
	StringInfoData buf;

	if (pg_verifymbstr(bytes, len, true))
		return psprintf("%.*s%s", (int) len, bytes, clipped ? "..." : "");
	initStringInfo(&buf);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) bytes[i];

		if (c < 0x20 || c >= 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, c);
	}
	if (clipped)
		appendStringInfoString(&buf, "...");
	return buf.data;
}
