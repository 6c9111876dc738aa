/* Unit tests for lib/http.c: request/response parsing and formatting, limits, malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"

static void parse_get(void **state)
{
	const char *r = "GET /v1/info?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_msg m;

	assert_int_equal(http_parse_request(r, strlen(r), &m), 0);
	assert_string_equal(m.method, "GET");
	assert_string_equal(m.target, "/v1/info?x=1");
	assert_int_equal(m.body_len, 0);
	assert_int_equal(m.total_len, strlen(r));
	assert_false(m.close);
}

static void parse_post_body_and_pipelining(void **state)
{
	const char *r = "POST /v1/faults HTTP/1.1\r\nContent-Length: 7\r\n"
			"Content-Type: application/json\r\n\r\n{\"a\":1}"
			"GET /v1/info HTTP/1.1\r\n\r\n";
	struct http_msg m;
	size_t first;

	assert_int_equal(http_parse_request(r, strlen(r), &m), 0);
	assert_string_equal(m.method, "POST");
	assert_int_equal(m.body_len, 7);
	assert_memory_equal(m.body, "{\"a\":1}", 7);
	assert_string_equal(m.content_type, "application/json");
	first = m.total_len;
	assert_int_equal(http_parse_request(r + first, strlen(r) - first, &m), 0);
	assert_string_equal(m.target, "/v1/info");
	assert_int_equal(first + m.total_len, strlen(r));
}

static void parse_incremental(void **state)
{
	const char *r = "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
	struct http_msg m;

	/* Every proper prefix is incomplete, never an error. */
	for (size_t n = 0; n < strlen(r); n++)
		assert_int_equal(http_parse_request(r, n, &m), -EAGAIN);
	assert_int_equal(http_parse_request(r, strlen(r), &m), 0);
}

static void parse_lf_only_and_http10(void **state)
{
	const char *r = "GET /v1/info HTTP/1.0\n\n";
	struct http_msg m;

	assert_int_equal(http_parse_request(r, strlen(r), &m), 0);
	assert_true(m.close);
}

static void parse_connection_close(void **state)
{
	const char *r = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct http_msg m;

	assert_int_equal(http_parse_request(r, strlen(r), &m), 0);
	assert_true(m.close);
}

static void reject_malformed(void **state)
{
	static const char *bad[] = {
		"GET\r\n\r\n",
		"get /x HTTP/1.1\r\n\r\n",
		"GET x HTTP/1.1\r\n\r\n",
		"GET /x HTTP/2.0\r\n\r\n",
		"GET /x HTTP/1.1 extra\r\n\r\n",
		"GET /x HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	struct http_msg m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = http_parse_request(bad[i], strlen(bad[i]), &m);

		if (err != -EBADMSG)
			fail_msg("case %zu (%s): got %d", i, bad[i], err);
	}
}

static void reject_chunked_and_oversize(void **state)
{
	const char *chunked = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	char big[64];
	struct http_msg m;
	char *head;

	assert_int_equal(http_parse_request(chunked, strlen(chunked), &m), -ENOTSUP);
	snprintf(big, sizeof(big), "POST /x HTTP/1.1\r\nContent-Length: %u\r\n\r\n",
		 HTTP_MAX_BODY + 1);
	assert_int_equal(http_parse_request(big, strlen(big), &m), -EMSGSIZE);

	/* A head that never ends is cut off at the limit, not buffered forever. */
	head = malloc(HTTP_MAX_HEAD + 2);
	memcpy(head, "GET /", 5);
	memset(head + 5, 'a', HTTP_MAX_HEAD - 4);
	assert_int_equal(http_parse_request(head, HTTP_MAX_HEAD + 1, &m), -EMSGSIZE);
	free(head);
}

static void response_roundtrip(void **state)
{
	char *out;
	size_t len;
	struct http_msg m;

	assert_int_equal(http_format_response(&out, &len, 404, "application/json", "{}\n", 3, false),
			 0);
	assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
	assert_int_equal(http_parse_response(out, len, false, &m), 0);
	assert_int_equal(m.status, 404);
	assert_int_equal(m.body_len, 3);
	assert_memory_equal(m.body, "{}\n", 3);
	assert_false(m.close);
	free(out);
}

static void response_until_eof(void **state)
{
	const char *r = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nline1\nline2\n";
	struct http_msg m;

	assert_int_equal(http_parse_response(r, strlen(r), false, &m), -EAGAIN);
	assert_int_equal(http_parse_response(r, strlen(r), true, &m), 0);
	assert_int_equal(m.body_len, 12);
	assert_int_equal(http_parse_response("HTTP/1.1 200", 12, true, &m), -EBADMSG);
	assert_int_equal(http_parse_response("HTTP/1.1 2000 X\r\n\r\n", 19, true, &m), -EBADMSG);
}

static void request_format(void **state)
{
	char *out;
	size_t len;
	struct http_msg m;

	assert_int_equal(http_format_request(&out, &len, "POST", "/v1/faults", "{}", 2), 0);
	assert_int_equal(http_parse_request(out, len, &m), 0);
	assert_string_equal(m.method, "POST");
	assert_int_equal(m.body_len, 2);
	free(out);
	assert_int_equal(http_format_request(&out, &len, "GET", "/v1/info", NULL, 0), 0);
	assert_int_equal(http_parse_request(out, len, &m), 0);
	assert_false(m.has_length);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_get),
		cmocka_unit_test(parse_post_body_and_pipelining),
		cmocka_unit_test(parse_incremental),
		cmocka_unit_test(parse_lf_only_and_http10),
		cmocka_unit_test(parse_connection_close),
		cmocka_unit_test(reject_malformed),
		cmocka_unit_test(reject_chunked_and_oversize),
		cmocka_unit_test(response_roundtrip),
		cmocka_unit_test(response_until_eof),
		cmocka_unit_test(request_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
