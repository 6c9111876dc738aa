/*
 * libFuzzer target for the agent API's HTTP/1.1 codec (lib/http.c), the first code that
 * touches bytes from the socket. Beyond "no crash, no leak, no undefined behaviour" it checks
 * what the server relies on: a parsed message lies inside the buffer, its body is exactly
 * Content-Length bytes inside it, a strict prefix of a complete request is never taken for
 * a complete one, and a request we format parses back equal.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

static void check_msg(const char *buf, size_t len, const struct http_msg *m)
{
	if (m->total_len > len || m->body_len > m->total_len)
		fail("message longer than the buffer");
	if (m->body_len && (m->body < buf || m->body + m->body_len > buf + m->total_len))
		fail("body outside the message");
	if (m->has_length && m->body_len != m->content_length)
		fail("body length differs from Content-Length");
	if (!memchr(m->method, '\0', sizeof(m->method)) ||
	    !memchr(m->target, '\0', sizeof(m->target)) ||
	    !memchr(m->content_type, '\0', sizeof(m->content_type)))
		fail("unterminated string field");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_msg m, m2;
	char *out = NULL;
	size_t out_len;
	int r;

	r = http_parse_request(buf, size, &m);
	if (r == 0) {
		check_msg(buf, size, &m);
		/* A strict prefix of the message is never taken for a complete request. */
		if (m.total_len > 0 && http_parse_request(buf, m.total_len - 1, &m2) == 0)
			fail("a strict prefix parsed as a complete request");
		/* Formatting what we parsed gives a request that parses to the same fields. */
		if (!http_format_request(&out, &out_len, m.method, m.target, m.body, m.body_len)) {
			if (http_parse_request(out, out_len, &m2))
				fail("formatted request does not parse");
			if (strcmp(m.method, m2.method) || strcmp(m.target, m2.target) ||
			    m.body_len != m2.body_len || memcmp(m.body, m2.body, m.body_len))
				fail("formatted request parses differently");
			free(out);
		}
	} else if (r != -EAGAIN && r != -EBADMSG && r != -EMSGSIZE && r != -ENOTSUP) {
		fail("unexpected return value from http_parse_request");
	}

	for (int eof = 0; eof < 2; eof++) {
		r = http_parse_response(buf, size, eof, &m);
		if (r == 0)
			check_msg(buf, size, &m);
		else if (r != -EAGAIN && r != -EBADMSG && r != -EMSGSIZE && r != -ENOTSUP)
			fail("unexpected return value from http_parse_response");
	}
	return 0;
}
