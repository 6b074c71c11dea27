/*-------------------------------------------------------------------------
 * csv_tokenizer.h
 *	  Splits CSV bytes into records and fields, with COPY CSV's rules.
 *
 * Pure C with no PostgreSQL dependency, so the same code runs in the server,
 * in the differential check against libcsv and under the fuzzer.  It never
 * allocates: the caller owns every buffer and grows it on CSV_NEED_SPACE.
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_CSV_TOKENIZER_H
#define HVCSV_CSV_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CsvDialect
{
	unsigned char delimiter;
	unsigned char quote;
	unsigned char escape;
	const char *null_string;	/* an unquoted field equal to this is NULL */
	size_t		null_len;

	/*
	 * Lines that hold no record, skipped whole without looking for quotes:
	 * the first skip_lines lines of the input (physical lines, blank ones
	 * included), and any line that starts, outside quotes, with the
	 * comment byte (0: none).  Both still count as lines.
	 */
	unsigned char comment;
	uint64_t	skip_lines;
} CsvDialect;

/* A field to copy out, and the output slot it goes to. */
typedef struct CsvWantedField
{
	int			field;
	int			slot;
} CsvWantedField;

typedef struct CsvTokenizer
{
	CsvDialect	dialect;
	unsigned char plain_stop[256];	/* bytes that end a run outside quotes */
	unsigned char quoted_stop[256]; /* bytes that end a run inside quotes */

	/*
	 * Which fields are copied out: those wanted lists, in ascending order of
	 * field, each to its slot; the others are skipped.  With all_fields,
	 * every field is, field i to slot i.  With windows as well, a record
	 * with more fields than slots comes in windows of that many fields
	 * (CSV_WINDOW), so that the slots need not grow with the record.
	 */
	const CsvWantedField *wanted;
	int			nwanted;
	bool		all_fields;
	bool		windows;

	/* Position carried from record to record. */
	uint64_t	line_breaks;	/* line breaks consumed so far */
	bool		after_cr;		/* last byte consumed was a CR ending a line */
	bool		skips_lines;	/* the dialect has a comment or skip_lines */
	bool		in_skipped_line;	/* the input ended inside a line skipped whole */

	/* Where a record that came in windows goes on (resume_field 0: none). */
	int			resume_field;	/* its next field */
	size_t		resume_offset;	/* where that field starts, from the record's start */
	uint64_t	resume_breaks;	/* line breaks in the record before it */
} CsvTokenizer;

/* What a slot holds after a record. */
#define CSV_SLOT_ABSENT 0		/* the record has no such field */
#define CSV_SLOT_VALUE	1
#define CSV_SLOT_NULL	2

typedef struct CsvRecord
{
	uint64_t	line;			/* 1-based line on which the record starts */
	size_t		start;			/* offset of its first byte in the input */
	size_t		length;			/* its bytes, terminator included */
	int			nfields;		/* fields so far, this window's included */
	int			first_field;	/* with windows, the field in slot 0 */

	/* Caller-owned output: values are NUL-terminated inside out. */
	char	   *out;
	size_t		out_cap;
	int			nslots;
	unsigned char *slot_state;
	size_t	   *slot_offset;
	size_t	   *slot_length;
} CsvRecord;

typedef enum CsvStatus
{
	CSV_RECORD,					/* a whole record was read */
	CSV_NEED_MORE,				/* the input ends inside a record */
	CSV_END,					/* no more records */
	CSV_NEED_SPACE,				/* grow out (or the slots) and call again */
	CSV_WINDOW,					/* the slots are full and the record goes on:
								 * take the fields and call again */
	CSV_UNTERMINATED_QUOTE		/* the input ends inside a quoted field */
} CsvStatus;

extern void hvcsv_tokenizer_init(CsvTokenizer *tok, const CsvDialect *dialect);
extern CsvStatus hvcsv_tokenize(CsvTokenizer *tok, const char *input, size_t len,
							  bool at_eof, size_t *consumed, CsvRecord *rec);

/*
 * Finds where records may start (after a line break outside quotes), in
 * one pass over bytes as they arrive, without splitting fields.  Lines the
 * tokenizer skips whole (CsvDialect's comment and skip_lines) are passed
 * over the same way, so a quote in them opens nothing; they start lines
 * too.  Tokenizing from such an offset, with line_breaks as counted here,
 * gives the same records and lines as tokenizing from the start.  It
 * reports only the first such offset at or after each mark, moving the
 * mark on.
 */
typedef struct CsvRowScanner
{
	unsigned char quote;
	unsigned char escape;
	unsigned char stop[256];	/* quote, escape, CR, LF */
	bool		in_quotes;
	bool		after_escape;	/* inside quotes, the last byte escaped */
	bool		after_cr;		/* the last byte was a CR */
	bool		line_start_pending; /* an unquoted CR: a line starts after it */
	unsigned char comment;		/* as in CsvDialect */
	uint64_t	skip_lines;
	bool		skips_lines;	/* comment or skip_lines is set */
	bool		line_begins;	/* the next byte starts a line outside quotes
								 * (tracked only with comment or skip_lines) */
	bool		in_skipped_line;	/* inside a line skipped whole */
	uint64_t	offset;			/* bytes scanned so far */
	uint64_t	line_breaks;	/* line breaks in them */
	uint64_t	mark;			/* report the first line start at or after this */
} CsvRowScanner;

/* Receives a line start; returns the next mark. */
typedef uint64_t (*CsvRowStartFunction) (void *arg, uint64_t offset, uint64_t line_breaks);

extern void hvcsv_row_scanner_init(CsvRowScanner *scanner, const CsvDialect *dialect,
								 uint64_t first_mark);
extern void hvcsv_row_scanner_feed(CsvRowScanner *scanner, const char *input, size_t len,
								 CsvRowStartFunction found, void *arg);

#endif							/* HVCSV_CSV_TOKENIZER_H */
