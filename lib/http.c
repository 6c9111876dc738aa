/* HTTP/1.1 message parsing and formatting; no I/O here, so it is unit-testable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "http.h"

const char *http_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 422:
		return "Unprocessable Content";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

/* Find the end of the head: the first empty line. Accepts CRLF and bare LF line ends. */
static const char *find_head_end(const char *buf, size_t len, size_t *head_len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n') {
			*head_len = i + 2;
			return buf + i;
		}
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			*head_len = i + 3;
			return buf + i;
		}
	}
	return NULL;
}

/* Copy the next line (without its line end) into line; returns the start of the following one. */
static const char *next_line(const char *p, const char *end, char *line, size_t size, int *err)
{
	const char *nl = memchr(p, '\n', end - p);
	size_t n;

	if (!nl)
		nl = end;
	n = nl - p;
	if (n && p[n - 1] == '\r')
		n--;
	if (n >= size) {
		*err = -EMSGSIZE;
		return end;
	}
	memcpy(line, p, n);
	line[n] = '\0';
	return nl < end ? nl + 1 : end;
}

static int parse_size(const char *s, size_t *out)
{
	char *endp;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &endp, 10);
	while (*endp == ' ' || *endp == '\t')
		endp++;
	if (errno || *endp)
		return -EBADMSG;
	*out = v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Parse header lines between p and end into m. */
static int parse_headers(const char *p, const char *end, struct http_msg *m, bool *chunked)
{
	char line[HTTP_MAX_HEAD];
	int err = 0;

	*chunked = false;
	while (p < end) {
		char *colon, *name, *value;

		p = next_line(p, end, line, sizeof(line), &err);
		if (err)
			return err;
		if (!line[0])
			break;
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return -EBADMSG;
		*colon = '\0';
		name = line;
		value = trim(colon + 1);
		if (strpbrk(name, " \t"))
			return -EBADMSG;
		if (!strcasecmp(name, "Content-Length")) {
			size_t v;

			if (parse_size(value, &v))
				return -EBADMSG;
			if (m->has_length && v != m->content_length)
				return -EBADMSG;
			m->content_length = v;
			m->has_length = true;
		} else if (!strcasecmp(name, "Content-Type")) {
			snprintf(m->content_type, sizeof(m->content_type), "%s", value);
		} else if (!strcasecmp(name, "Connection")) {
			if (!strcasecmp(value, "close"))
				m->close = true;
			else if (!strcasecmp(value, "keep-alive"))
				m->close = false;
		} else if (!strcasecmp(name, "Transfer-Encoding")) {
			if (strcasecmp(value, "identity"))
				*chunked = true;
		}
	}
	return 0;
}

static int finish_body(const char *buf, size_t len, size_t head_len, bool eof, bool body_to_eof,
		       struct http_msg *m)
{
	if (m->has_length) {
		if (m->content_length > HTTP_MAX_BODY)
			return -EMSGSIZE;
		if (len - head_len < m->content_length)
			return -EAGAIN;
		m->body = buf + head_len;
		m->body_len = m->content_length;
		m->total_len = head_len + m->content_length;
		return 0;
	}
	if (body_to_eof) {
		if (len - head_len > HTTP_MAX_BODY)
			return -EMSGSIZE;
		if (!eof)
			return -EAGAIN;
		m->body = buf + head_len;
		m->body_len = len - head_len;
		m->total_len = len;
		return 0;
	}
	m->body = buf + head_len;
	m->body_len = 0;
	m->total_len = head_len;
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_msg *m)
{
	char line[HTTP_MAX_HEAD], version[16];
	const char *head_end, *p;
	size_t head_len;
	size_t skipped = 0;
	bool chunked;
	int err = 0;

	memset(m, 0, sizeof(*m));
	/* Tolerate empty lines before a request (RFC 9112 section 2.2). */
	while (len && (*buf == '\r' || *buf == '\n')) {
		buf++;
		len--;
		skipped++;
	}
	head_end = find_head_end(buf, len, &head_len);
	if (!head_end)
		return len > HTTP_MAX_HEAD ? -EMSGSIZE : -EAGAIN;
	if (head_len > HTTP_MAX_HEAD)
		return -EMSGSIZE;

	p = next_line(buf, buf + head_len, line, sizeof(line), &err);
	if (err)
		return err;
	{
		char method[sizeof(m->method)], target[sizeof(m->target)];
		char extra;

		if (strlen(line) >= sizeof(line) - 1)
			return -EMSGSIZE;
		if (sscanf(line, "%15s %1023s %15s %c", method, target, version, &extra) != 3)
			return -EBADMSG;
		for (const char *c = method; *c; c++)
			if (!isupper((unsigned char)*c))
				return -EBADMSG;
		if (target[0] != '/')
			return -EBADMSG;
		snprintf(m->method, sizeof(m->method), "%s", method);
		snprintf(m->target, sizeof(m->target), "%s", target);
	}
	if (!strcmp(version, "HTTP/1.0"))
		m->close = true;
	else if (strcmp(version, "HTTP/1.1"))
		return -EBADMSG;

	err = parse_headers(p, buf + head_len, m, &chunked);
	if (err)
		return err;
	if (chunked)
		return -ENOTSUP;
	err = finish_body(buf, len, head_len, false, false, m);
	if (!err)
		m->total_len += skipped;
	return err;
}

int http_parse_response(const char *buf, size_t len, bool eof, struct http_msg *m)
{
	char line[HTTP_MAX_HEAD];
	const char *head_end, *p;
	size_t head_len;
	bool chunked;
	int err = 0, status, n = 0;

	memset(m, 0, sizeof(*m));
	head_end = find_head_end(buf, len, &head_len);
	if (!head_end) {
		if (len > HTTP_MAX_HEAD)
			return -EMSGSIZE;
		return eof ? -EBADMSG : -EAGAIN;
	}
	p = next_line(buf, buf + head_len, line, sizeof(line), &err);
	if (err)
		return err;
	if (sscanf(line, "HTTP/1.%*1[01] %3d%n", &status, &n) != 1 || n != 12 ||
	    (line[12] && line[12] != ' '))
		return -EBADMSG;
	if (status < 100 || status > 599)
		return -EBADMSG;
	m->status = status;
	err = parse_headers(p, buf + head_len, m, &chunked);
	if (err)
		return err;
	if (chunked)
		return -ENOTSUP;
	return finish_body(buf, len, head_len, eof, !m->has_length, m);
}

/* Join a formatted head (n bytes, or n < 0 on failure) and a body into one message. */
static int append_body(char **out, size_t *out_len, char *head, int n, const char *body,
		       size_t body_len)
{
	char *msg;

	if (n < 0)
		return -ENOMEM;
	msg = realloc(head, n + body_len + 1);
	if (!msg) {
		free(head);
		return -ENOMEM;
	}
	if (body_len)
		memcpy(msg + n, body, body_len);
	msg[n + body_len] = '\0';
	*out = msg;
	*out_len = n + body_len;
	return 0;
}

int http_format_response(char **out, size_t *out_len, int status, const char *ctype,
			 const char *body, size_t body_len, bool close)
{
	char *head = NULL;
	int n;

	n = asprintf(&head,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: %s\r\n"
		     "\r\n",
		     status, http_status_text(status), ctype ? ctype : "application/json", body_len,
		     close ? "close" : "keep-alive");
	return append_body(out, out_len, head, n, body, body_len);
}

int http_format_request(char **out, size_t *out_len, const char *method, const char *target,
			const char *body, size_t body_len)
{
	char *head = NULL;
	int n;

	if (body)
		n = asprintf(&head,
			     "%s %s HTTP/1.1\r\n"
			     "Host: faultline\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n"
			     "\r\n",
			     method, target, body_len);
	else
		n = asprintf(&head,
			     "%s %s HTTP/1.1\r\n"
			     "Host: faultline\r\n"
			     "\r\n",
			     method, target);
	return append_body(out, out_len, head, n, body, body_len);
}

size_t http_body_write(char *data, size_t size, size_t n, void *arg)
{
	struct http_body *b = arg;
	size_t add = size * n;
	char *grown;

	if (b->len + add > b->max) {
		b->too_big = true;
		return 0;
	}
	grown = realloc(b->buf, b->len + add + 1);
	if (!grown)
		return 0;
	b->buf = grown;
	memcpy(b->buf + b->len, data, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}
