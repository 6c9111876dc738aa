/* A small, strict HTTP/1.1 codec for the agent API over a Unix socket (curl --unix-socket works). */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#ifndef HTTP_MAX_HEAD
#define HTTP_MAX_HEAD 8192 /* request/status line plus headers */
#endif
#ifndef HTTP_MAX_BODY
#define HTTP_MAX_BODY (1u << 20)
#endif

struct http_msg {
	char method[16];   /* requests */
	char target[1024]; /* requests: path and query */
	int status;        /* responses */
	char content_type[128];
	size_t content_length;
	bool has_length;
	bool close;       /* "Connection: close", or HTTP/1.0 without keep-alive */
	const char *body; /* points into the parsed buffer, not NUL-terminated */
	size_t body_len;
	size_t total_len; /* bytes of the buffer this message occupies */
};

/*
 * Parse one request from buf. Returns 0 when a whole message is there, -EAGAIN when more
 * bytes are needed, -EBADMSG when malformed, -EMSGSIZE when head or body exceed the limits,
 * -ENOTSUP for request bodies without Content-Length (chunked uploads).
 */
int http_parse_request(const char *buf, size_t len, struct http_msg *m);

/*
 * Parse one response. A response without Content-Length runs until end of stream, so the
 * caller passes eof=true once the peer closed. Same return values as http_parse_request().
 */
int http_parse_response(const char *buf, size_t len, bool eof, struct http_msg *m);

/* Format a response head and body into a malloc'd buffer. Returns 0 or -ENOMEM. */
int http_format_response(char **out, size_t *out_len, int status, const char *ctype,
			 const char *body, size_t body_len, bool close);

/* Format a request into a malloc'd buffer. Returns 0 or -ENOMEM. */
int http_format_request(char **out, size_t *out_len, const char *method, const char *target,
			const char *body, size_t body_len);

const char *http_status_text(int status);

/* A response body collected by http_body_write(): at most max bytes, NUL-terminated. */
struct http_body {
	char *buf; /* malloc'd; NULL until the first byte */
	size_t len;
	size_t max;
	bool too_big; /* the answer passed max: it was cut off */
};

/*
 * A libcurl CURLOPT_WRITEFUNCTION with a struct http_body as CURLOPT_WRITEDATA: appends
 * size * n bytes of data and returns how many, or 0 (curl stops) past max or on no memory.
 */
size_t http_body_write(char *data, size_t size, size_t n, void *arg);

#endif
