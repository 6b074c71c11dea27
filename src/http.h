/*-------------------------------------------------------------------------
 * http.h
 *	  HTTP: URLs and where they may go (url.c), one request and a resumable
 *	  body (fetch.c), content codings (content_decoding.c), the file's own
 *	  compression (file_compression.c).
 *-------------------------------------------------------------------------
 */
#ifndef HVCSV_HTTP_H
#define HVCSV_HTTP_H

#include "postgres.h"

#include "nodes/parsenodes.h"

#include "option.h"

/* in url.c */

/* A URL as libcurl parsed it. */
typedef struct HvcsvUrl
{
	char	   *url;			/* what is requested */
	char	   *scheme;			/* lower case */
	char	   *host;			/* lower case, no trailing dot; IPv6 in brackets */
	int			port;			/* explicit, or the scheme's default */
	char	   *path;
} HvcsvUrl;

extern void hvcsv_url_init(void);
extern char *hvcsv_redact_url(const char *url);
extern char *hvcsv_redact_url_param(const char *url, const char *param);
extern char *hvcsv_url_with_query_param(const char *url, const char *name, const char *value);
extern char *hvcsv_url_without_query_param(const char *url, const char *name);
extern char *hvcsv_mask_secrets(const char *text, List *secrets);
extern bool hvcsv_url_parse(const char *url, HvcsvUrl *parsed);
extern bool hvcsv_url_resolve(const char *base, const char *reference, HvcsvUrl *parsed);
extern bool hvcsv_url_is_http(const HvcsvUrl *url);
extern bool hvcsv_url_same_origin(const HvcsvUrl *a, const HvcsvUrl *b);
extern bool hvcsv_host_allowed(const HvcsvUrl *url);
extern bool hvcsv_host_listed(const HvcsvUrl *url);
struct sockaddr;
extern bool hvcsv_address_is_public(const struct sockaddr *addr);
extern void hvcsv_check_server_host(const HvcsvUrl *url);

/* in auth.c */

extern bool hvcsv_is_http_token(const char *s, size_t len);
extern char *hvcsv_parse_key_header(DefElem *def);
extern char *hvcsv_parse_credential(DefElem *def);
extern List *hvcsv_parse_headers(DefElem *def);
extern void hvcsv_check_auth_options(List *options, const HvcsvOptions *opts);
extern char *hvcsv_display_url(const HvcsvOptions *opts);
extern char *hvcsv_credentials_identity(const HvcsvOptions *opts);

/* in fetch.c */

/*
 * What one HTTP request asks for.  auth_header, key_value and the extra
 * headers are secrets, sent only to url's scheme, host and port.
 */
typedef struct HvcsvRequest
{
	const char *url;			/* without key_param */
	const char *display_url;	/* url without secrets, for messages */
	const char *auth_header;	/* whole header line with the key, or NULL */
	const char *key_param;		/* query parameter that carries the key, or NULL */
	const char *key_value;
	List	   *extra_headers;	/* "Name: value" lines of option headers */
	List	   *secrets;		/* the values above that messages mask wherever
								 * they appear (hvcsv_mask_secrets) */
	const char *auth_options;	/* the user mapping's options that say how it
								 * authenticates, for a hint; NULL: none */
	const char *if_none_match;
	const char *if_modified_since;
	double		connect_timeout;
	double		timeout;
	int			max_retries;
	double		retry_delay;
	double		max_retry_delay;
	int64		max_bytes;		/* 0 means no limit */
	HvcsvCompression compression;	/* of the file, under any Content-Encoding */
	const char *max_bytes_name; /* the option or setting max_bytes comes from */
	const char *ca_file;
	const char *trusted_url;	/* api_url of a superuser's server, or NULL */
	bool		missing_ok;		/* a 404 or 410 ends the body as missing
								 * (hvcsv_body_missing), not in an error */
	int64		range_end;		/* a range's end: the byte after its last
								 * (see hvcsv_body_limit); 0: none */
} HvcsvRequest;

/* What a response said. */
typedef struct HvcsvResponse
{
	long		status;			/* 200, or 304 for a conditional request */
	char		etag[256];
	char		last_modified[64];
	char		next_link[2048];	/* the URI of its Link rel="next", as sent
									 * (maybe relative); empty if none */
	bool		next_link_too_long; /* it had one, longer than next_link holds */
	int64		length;			/* its Content-Length, or -1 */
	bool		accepts_ranges; /* it said Accept-Ranges: bytes */
	int64		body_bytes;		/* handed out so far */
} HvcsvResponse;

typedef struct HvcsvBody HvcsvBody;
typedef struct HvcsvTransferGroup HvcsvTransferGroup;

extern void hvcsv_fetch_init(void);
extern HvcsvTransferGroup *hvcsv_transfer_group_create(void);
extern void hvcsv_transfer_group_wait(HvcsvTransferGroup *group);
extern void hvcsv_transfer_group_poll(HvcsvTransferGroup *group);
extern void hvcsv_request_init(HvcsvRequest *req, const HvcsvOptions *opts);
extern void hvcsv_request_auth(HvcsvRequest *req, const HvcsvOptions *opts);
extern bool hvcsv_request_has_credentials(const HvcsvRequest *req);
extern HvcsvBody *hvcsv_body_open(const HvcsvRequest *req,
								  void (*on_restart) (void *arg, const char *why), void *arg);
extern HvcsvBody *hvcsv_body_start(const HvcsvRequest *req, HvcsvTransferGroup *group,
								   void (*on_restart) (void *arg, const char *why), void *arg);
extern void hvcsv_body_connect(HvcsvBody *b);
extern bool hvcsv_body_ready(HvcsvBody *b);
extern bool hvcsv_body_missing(const HvcsvBody *b);
extern bool hvcsv_body_read(HvcsvBody *body, const char **data, size_t *len);
extern size_t hvcsv_body_read_into(void *body, char *buf, size_t size);
extern const HvcsvResponse *hvcsv_body_response(const HvcsvBody *body);
extern HvcsvCompression hvcsv_body_compression(const HvcsvBody *body);
extern void hvcsv_body_close(HvcsvBody *body);
extern bool hvcsv_body_splittable(const HvcsvBody *b);
extern bool hvcsv_body_resumable(const HvcsvBody *b);
extern void hvcsv_body_limit(HvcsvBody *b, int64 end);
extern HvcsvBody *hvcsv_body_start_range(const HvcsvBody *whole, int64 first, int64 end);
extern bool hvcsv_body_changed(const HvcsvBody *b);
extern HvcsvTransferGroup *hvcsv_body_group(const HvcsvBody *b);

/* in ranged_fetch.c */

typedef struct HvcsvRanged HvcsvRanged;

extern HvcsvRanged *hvcsv_ranged_start(HvcsvBody *whole, const char *display_url,
										int connections);
extern bool hvcsv_ranged_ready(HvcsvRanged *r);
extern bool hvcsv_ranged_read(HvcsvRanged *r, const char **data, size_t *len, int64 *offset);
extern int64 hvcsv_ranged_contiguous(const HvcsvRanged *r);
extern bool hvcsv_ranged_changed(const HvcsvRanged *r);
extern void hvcsv_ranged_close(HvcsvRanged *r);

/* in content_decoding.c */

/*
 * Content codings decoded.  Each layer can multiply the work of the one
 * below it a thousandfold, so no more than real servers send: "gzip, gzip".
 */
#define HVCSV_MAX_CODINGS 2

/* Why a body's Content-Encoding could not be undone. */
typedef enum HvcsvDecodeFailure
{
	HVCSV_DECODE_NONE,
	HVCSV_DECODE_UNSUPPORTED,	/* a coding other than gzip, x-gzip, deflate */
	HVCSV_DECODE_NOT_TOKEN,		/* the header is not a list of codings */
	HVCSV_DECODE_TOO_MANY,		/* more codings than are decoded */
	HVCSV_DECODE_BAD_DATA,		/* bytes that are not of the coding */
	HVCSV_DECODE_TRUNCATED,		/* the body ends inside the coding's data */
	HVCSV_DECODE_NO_MEMORY
} HvcsvDecodeFailure;

typedef struct HvcsvDecoder HvcsvDecoder;

extern HvcsvDecoder *hvcsv_decoder_create(void);
extern void hvcsv_decoder_reset(HvcsvDecoder *d);
extern void hvcsv_decoder_add_codings(HvcsvDecoder *d, const char *list, size_t len);
extern void hvcsv_unasked_transfer_coding(const char *list, size_t len, char *coding,
										  size_t size);
extern bool hvcsv_decoder_encoded(const HvcsvDecoder *d);
extern bool hvcsv_decoder_feed(HvcsvDecoder *d, const char *data, size_t len);
extern bool hvcsv_decoder_read(HvcsvDecoder *d, char *out, size_t size, size_t *produced);
extern bool hvcsv_decoder_has_more(const HvcsvDecoder *d);
extern uint64 hvcsv_decoder_inner_bytes(const HvcsvDecoder *d);
extern bool hvcsv_decoder_finish(HvcsvDecoder *d);
extern HvcsvDecodeFailure hvcsv_decoder_failure(const HvcsvDecoder *d, const char **coding,
												const char **why);
extern void hvcsv_decoder_end(HvcsvDecoder *d);

/* in file_compression.c */

/* Why the file's compression could not be undone. */
typedef enum HvcsvUnpackFailure
{
	HVCSV_UNPACK_NONE,
	HVCSV_UNPACK_NOT_FORMAT,	/* the body does not begin as the asked format does */
	HVCSV_UNPACK_BAD_DATA,		/* bytes that are not of the format */
	HVCSV_UNPACK_TRUNCATED,		/* the body ends inside the compressed data */
	HVCSV_UNPACK_TOO_MUCH_MEMORY,	/* its window or dictionary is past the limit */
	HVCSV_UNPACK_ZIP_SECOND_ENTRY,	/* a zip archive holds more than one file */
	HVCSV_UNPACK_ZIP_UNREADABLE,	/* a zip archive's file cannot be read as it comes */
	HVCSV_UNPACK_NO_MEMORY
} HvcsvUnpackFailure;

typedef struct HvcsvUnpacker HvcsvUnpacker;

extern HvcsvUnpacker *hvcsv_unpacker_create(HvcsvCompression asked);
extern void hvcsv_unpacker_restart(HvcsvUnpacker *u);
extern bool hvcsv_unpacker_active(const HvcsvUnpacker *u);
extern HvcsvCompression hvcsv_unpacker_format(const HvcsvUnpacker *u);
extern uint64 hvcsv_unpacker_input_bytes(const HvcsvUnpacker *u);
extern bool hvcsv_unpacker_has_more(const HvcsvUnpacker *u);
extern void hvcsv_unpacker_input_ends(HvcsvUnpacker *u);
extern bool hvcsv_unpacker_feed(HvcsvUnpacker *u, const char *data, size_t len);
extern bool hvcsv_unpacker_read(HvcsvUnpacker *u, char *out, size_t size, size_t *produced,
								bool (*pull) (void *arg, char *buf, size_t size, size_t *got),
								void *arg);
extern bool hvcsv_unpacker_finish(HvcsvUnpacker *u);
extern HvcsvUnpackFailure hvcsv_unpacker_failure(const HvcsvUnpacker *u, HvcsvCompression *format,
												  const char **why);
extern void hvcsv_unpacker_end(HvcsvUnpacker *u);

#endif							/* HVCSV_HTTP_H */
