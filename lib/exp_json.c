/*
 * Strict JSON (RFC 8259) syntax check for files named *.json. The tree is then built by the
 * YAML reader (exp_yaml.c), which reads JSON as flow syntax with exact positions; but YAML
 * flow syntax also takes trailing commas, comments, single quotes and bare words, which a
 * JSON file must not have: a file another JSON tool reads differently, or refuses, is not
 * the file that was reviewed. The first syntax error is reported with its line and column
 * (in characters, as the YAML reader counts them) and a message that names the mistake.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "exp_priv.h"

struct jscan {
	const char *buf;
	size_t len, pos;
	unsigned depth;
	struct diag_list *diags;
	bool failed;
};

/* Report at byte offset off; only the first error counts (the rest would be noise). */
static bool jfail_at(struct jscan *j, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool jfail_at(struct jscan *j, size_t off, const char *fmt, ...)
{
	unsigned line = 1, col = 1;
	char msg[256];
	va_list ap;

	if (j->failed)
		return false;
	j->failed = true;
	for (size_t i = 0; i < off && i < j->len; i++) {
		unsigned char c = (unsigned char)j->buf[i];

		if (c == '\n') {
			line++;
			col = 1;
		} else if ((c & 0xc0) != 0x80) {
			col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (diag_add(j->diags, line, col, "", "invalid JSON: %s", msg))
		j->diags->err = -ENOMEM;
	return false;
}

static void skip_ws(struct jscan *j)
{
	while (j->pos < j->len) {
		char c = j->buf[j->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		j->pos++;
	}
}

static int peek(const struct jscan *j)
{
	return j->pos < j->len ? (unsigned char)j->buf[j->pos] : -1;
}

/* What stands at the current position where something else was expected. */
static bool unexpected(struct jscan *j, const char *expected)
{
	int c = peek(j);

	if (c < 0)
		return jfail_at(j, j->pos, "the document ends where %s was expected", expected);
	if (c == '/' && j->pos + 1 < j->len &&
	    (j->buf[j->pos + 1] == '/' || j->buf[j->pos + 1] == '*'))
		return jfail_at(j, j->pos, "comments are not allowed in JSON");
	if (c == '#')
		return jfail_at(j, j->pos, "comments are not allowed in JSON");
	if (c == '\'')
		return jfail_at(j, j->pos, "strings need double quotes in JSON, not single quotes");
	if (c >= 0x20 && c < 0x7f)
		return jfail_at(j, j->pos, "'%c' where %s was expected", c, expected);
	return jfail_at(j, j->pos, "byte 0x%02x where %s was expected", (unsigned)c, expected);
}

static bool scan_value(struct jscan *j);

static bool scan_string(struct jscan *j)
{
	size_t start = j->pos;

	j->pos++; /* the opening quote */
	while (j->pos < j->len) {
		unsigned char c = (unsigned char)j->buf[j->pos];

		if (c == '"') {
			j->pos++;
			return true;
		}
		if (c < 0x20)
			return jfail_at(
				j, j->pos,
				"control character 0x%02x in a string (write it as an escape "
				"such as \\n, \\t or \\u00%02x)",
				c, c);
		if (c != '\\') {
			j->pos++;
			continue;
		}
		if (j->pos + 1 >= j->len)
			break;
		c = (unsigned char)j->buf[j->pos + 1];
		if (c && strchr("\"\\/bfnrt", c)) {
			j->pos += 2;
			continue;
		}
		if (c == 'u') {
			for (int i = 2; i < 6; i++) {
				char h = j->pos + i < j->len ? j->buf[j->pos + i] : '\0';

				if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
				      (h >= 'A' && h <= 'F')))
					return jfail_at(j, j->pos,
							"\\u needs four hexadecimal digits");
			}
			j->pos += 6;
			continue;
		}
		return jfail_at(j, j->pos, "invalid escape '\\%c' in a string",
				c >= 0x20 && c < 0x7f ? c : '?');
	}
	return jfail_at(j, start, "string not terminated");
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool scan_number(struct jscan *j)
{
	size_t start = j->pos;

	if (peek(j) == '-')
		j->pos++;
	if (peek(j) == '0') {
		j->pos++;
		if (is_digit(peek(j)))
			return jfail_at(j, start, "numbers in JSON have no leading zeros");
	} else if (is_digit(peek(j))) {
		while (is_digit(peek(j)))
			j->pos++;
	} else {
		return jfail_at(j, start, "invalid number");
	}
	if (peek(j) == '.') {
		j->pos++;
		if (!is_digit(peek(j)))
			return jfail_at(j, start, "invalid number: digits must follow '.'");
		while (is_digit(peek(j)))
			j->pos++;
	}
	if (peek(j) == 'e' || peek(j) == 'E') {
		j->pos++;
		if (peek(j) == '+' || peek(j) == '-')
			j->pos++;
		if (!is_digit(peek(j)))
			return jfail_at(j, start,
					"invalid number: digits must follow the exponent");
		while (is_digit(peek(j)))
			j->pos++;
	}
	return true;
}

/* The members or items of an object or array, after its opening bracket. */
static bool scan_container(struct jscan *j, char close)
{
	bool object = close == '}';
	size_t open = j->pos;

	if (++j->depth > EXP_MAX_DEPTH)
		return jfail_at(j, j->pos, "nested deeper than %d levels", EXP_MAX_DEPTH);
	j->pos++;
	skip_ws(j);
	if (peek(j) == close) {
		j->pos++;
		j->depth--;
		return true;
	}
	for (;;) {
		size_t comma;

		skip_ws(j);
		if (object) {
			if (peek(j) != '"') {
				int c = peek(j);

				if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
					return jfail_at(j, j->pos,
							"object keys need double quotes in JSON");
				return unexpected(j, "a key in double quotes");
			}
			if (!scan_string(j))
				return false;
			skip_ws(j);
			if (peek(j) != ':')
				return unexpected(j, "':' after the key");
			j->pos++;
			skip_ws(j);
		}
		if (!scan_value(j))
			return false;
		skip_ws(j);
		if (peek(j) == close) {
			j->pos++;
			j->depth--;
			return true;
		}
		if (peek(j) != ',') {
			if (peek(j) < 0)
				return jfail_at(j, open, "'%c' not closed", object ? '{' : '[');
			return unexpected(j, object ? "',' or '}'" : "',' or ']'");
		}
		comma = j->pos++;
		skip_ws(j);
		if (peek(j) == '}' || peek(j) == ']')
			return jfail_at(j, comma,
					"trailing comma: JSON allows no comma after the last %s",
					object ? "member" : "item");
	}
}

static bool scan_value(struct jscan *j)
{
	static const char *const words[] = {"true", "false", "null"};
	int c = peek(j);

	if (c == '{')
		return scan_container(j, '}');
	if (c == '[')
		return scan_container(j, ']');
	if (c == '"')
		return scan_string(j);
	if (c == '-' || is_digit(c))
		return scan_number(j);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i]);

		if (j->len - j->pos >= n && !memcmp(j->buf + j->pos, words[i], n)) {
			char after = j->pos + n < j->len ? j->buf[j->pos + n] : ' ';

			if (!((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
			      is_digit(after) || after == '_')) {
				j->pos += n;
				return true;
			}
		}
	}
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
		size_t n = 0;

		while (j->pos + n < j->len && n < 32 &&
		       ((j->buf[j->pos + n] >= 'a' && j->buf[j->pos + n] <= 'z') ||
			(j->buf[j->pos + n] >= 'A' && j->buf[j->pos + n] <= 'Z') ||
			is_digit(j->buf[j->pos + n]) || j->buf[j->pos + n] == '_'))
			n++;
		return jfail_at(j, j->pos,
				"'%.*s' is not a JSON value: text needs double quotes (the words "
				"are true, false and null)",
				(int)n, j->buf + j->pos);
	}
	return unexpected(j, "a value");
}

int exp_json_check(const char *buf, size_t len, struct diag_list *diags)
{
	struct jscan j = {.buf = buf, .len = len, .diags = diags};
	size_t errs = diag_total(diags);

	/* Too large a file is cut short when read: the loader says so, not a syntax error here. */
	if (len > EXP_MAX_DOC_SIZE)
		return 0;
	/* A byte order mark is tolerated, as the YAML reader does. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		j.pos = 3;
	skip_ws(&j);
	if (peek(&j) != '{' && peek(&j) != '[')
		unexpected(&j, "'{'");
	else if (scan_value(&j)) {
		skip_ws(&j);
		if (j.pos < j.len)
			unexpected(&j, "the end of the document");
	}
	if (diags->err)
		return -ENOMEM;
	return diag_total(diags) != errs ? -EINVAL : 0;
}

bool exp_path_is_json(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	return n >= 5 && !strcasecmp(path + n - 5, ".json");
}
