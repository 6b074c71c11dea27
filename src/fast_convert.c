/*-------------------------------------------------------------------------
 * fast_convert.c
 *	  Faster conversions for the commonest text forms, each giving exactly
 *	  what the type's input function gives, or declining.
 *
 * timestamptz_in handles every date style, zone name and abbreviation, so
 * it costs more than the rest of a row's conversion.  An ISO 8601
 * timestamp with an explicit zone ("2024-03-01T12:34:56Z",
 * "2024-03-01 12:34:56.5+05:30") means the same thing whatever DateStyle
 * and TimeZone are, so it can be computed directly.  Anything else, and
 * any value out of the plain ranges (hour 24, second 60, more than six
 * fraction digits, an invalid date), is left to the input function, which
 * also reports errors.
 *
 * The same holds for plain decimals ("-123.45": at most 18 digits, made
 * with the server's own int64_div_fast_to_numeric, display scale kept),
 * the four spellings true/false/t/f of a boolean, and text, whose length
 * is already known.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#include "records.h"

/* Reads n digits at *p as a number; false if they are not all digits. */
static inline bool
read_digits(const char **p, const char *end, int n, int *value)
{
	int			v = 0;

	if (end - *p < n)
		return false;
	for (int i = 0; i < n; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*value = v;
	return true;
}

/*
 * Converts an ISO 8601 timestamp with an explicit zone; false (and nothing
 * set) for any other form, which the caller then gives to timestamptz_in.
 */
bool
hvcsv_fast_timestamptz(const char *value, size_t len, TimestampTz *result)
{
	const char *p = value;
	const char *end = value + len;
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int			usec = 0;
	int			zone_hours = 0;
	int			zone_minutes = 0;
	int			zone_sign = 1;

	if (!read_digits(&p, end, 4, &year) || p == end || *p++ != '-' ||
		!read_digits(&p, end, 2, &month) || p == end || *p++ != '-' ||
		!read_digits(&p, end, 2, &day) || p == end || (*p != 'T' && *p != ' ') ||
		!(p++, read_digits(&p, end, 2, &hour)) || p == end || *p++ != ':' ||
		!read_digits(&p, end, 2, &minute) || p == end || *p++ != ':' ||
		!read_digits(&p, end, 2, &second) || p == end)
		return false;

	if (*p == '.')
	{
		int			digits = 0;

		for (p++; p < end && *p >= '0' && *p <= '9'; p++, digits++)
			usec = usec * 10 + (*p - '0');
		if (digits == 0 || digits > 6)
			return false;
		for (; digits < 6; digits++)
			usec *= 10;
	}

	if (p == end)
		return false;			/* no zone: TimeZone would decide */
	if (*p == 'Z' && p + 1 == end)
		p++;
	else if (*p == '+' || *p == '-')
	{
		zone_sign = (*p++ == '-') ? -1 : 1;
		if (!read_digits(&p, end, 2, &zone_hours))
			return false;
		if (p < end && *p == ':')
			p++;
		if (p < end && !read_digits(&p, end, 2, &zone_minutes))
			return false;
	}
	if (p != end)
		return false;

	if (year < 1 || month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1] ||
		hour > 23 || minute > 59 || second > 59 ||
		zone_hours > 14 || zone_minutes > 59)
		return false;

	*result = (TimestampTz) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
		((int64) ((hour * MINS_PER_HOUR + minute) * SECS_PER_MINUTE + second)) * USECS_PER_SEC +
		usec -
		(int64) zone_sign * (zone_hours * MINS_PER_HOUR + zone_minutes) * SECS_PER_MINUTE * USECS_PER_SEC;
	return true;
}

/*
 * Converts a plain decimal, [-]digits[.digits] with at most 18 digits, as
 * numeric_in would; false for any other form.
 */
bool
hvcsv_fast_numeric(const char *value, size_t len, Datum *result)
{
	const char *p = value;
	const char *end = value + len;
	int64		n = 0;
	int			digits = 0;
	int			scale = 0;
	bool		negative = false;

	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
		n = n * 10 + (*p - '0');
	if (digits == 0)
		return false;
	if (p < end && *p == '.')
	{
		for (p++; p < end && *p >= '0' && *p <= '9'; p++, digits++, scale++)
			n = n * 10 + (*p - '0');
		if (scale == 0)
			return false;
	}
	if (p != end || digits > 18)
		return false;
	*result = NumericGetDatum(int64_div_fast_to_numeric(negative ? -n : n, scale));
	return true;
}

/* Converts the four plain spellings of a boolean; false for any other. */
bool
hvcsv_fast_bool(const char *value, size_t len, Datum *result)
{
	if ((len == 4 && memcmp(value, "true", 4) == 0) || (len == 1 && value[0] == 't'))
		*result = BoolGetDatum(true);
	else if ((len == 5 && memcmp(value, "false", 5) == 0) || (len == 1 && value[0] == 'f'))
		*result = BoolGetDatum(false);
	else
		return false;
	return true;
}
