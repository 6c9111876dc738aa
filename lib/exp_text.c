/*
 * Text fields: names, paths, URLs, agent addresses, interface names, regular expressions,
 * process names, users and time zones. Each rule says what is wrong with the text in the
 * message, and nothing the agent would act on gets through unchecked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "exp_priv.h"

#define MAX_TEXT 4096
#define MAX_PATH_LEN 4095
#define MAX_URL 2048
#define MAX_REGEX 1024
/* Size of a regex after glibc expands its bounded repetitions, and its group nesting. */
#define MAX_REGEX_EXPANSION 4096
#define MAX_REGEX_DEPTH 32

static bool valid_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i <= EXP_MAX_NAME;
}

static bool has_ctl_or_space(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	}
	return false;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return true;
	}
	return false;
}

static bool check_path(struct exp_ctx *ctx, const struct enode *n, const char *s)
{
	char q[DIAG_QUOTE_SIZE];

	if (s[0] != '/') {
		exp_err(ctx, n, "%s is not an absolute path", diag_quote(q, s));
		return false;
	}
	if (strlen(s) > MAX_PATH_LEN) {
		exp_err(ctx, n, "path is longer than %d bytes", MAX_PATH_LEN);
		return false;
	}
	if (has_ctl(s)) {
		exp_err(ctx, n, "path %s contains control characters", diag_quote(q, s));
		return false;
	}
	for (const char *p = s; (p = strstr(p, "/..")); p++) {
		if (p[3] == '/' || p[3] == '\0') {
			exp_err(ctx, n, "path %s must not contain '..'", diag_quote(q, s));
			return false;
		}
	}
	return true;
}

static bool valid_hostname(const char *h, size_t len)
{
	if (!len || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return h[0] != '-' && h[0] != '.';
}

/*
 * host, "[v6]", and an optional ":port" in s[0..len). Returns NULL when fine, else what is
 * wrong.
 */
static const char *check_hostport(const char *s, size_t len)
{
	const char *colon;
	size_t hlen;

	if (!len)
		return "no host";
	if (s[0] == '[') {
		const char *end = memchr(s, ']', len);
		char v6[64];
		struct in6_addr a;

		if (!end || (size_t)(end - s - 1) >= sizeof(v6))
			return "unterminated IPv6 address";
		memcpy(v6, s + 1, (size_t)(end - s - 1));
		v6[end - s - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &a) != 1)
			return "invalid IPv6 address";
		colon = end + 1 < s + len ? end + 1 : NULL;
		if (colon && *colon != ':')
			return "unexpected text after the IPv6 address";
		hlen = (size_t)(end - s + 1);
	} else {
		colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
		if (!valid_hostname(s, hlen))
			return hlen ? "invalid host name" : "no host";
	}
	if (colon) {
		size_t plen = len - hlen - 1;
		unsigned long port = 0;

		if (!plen || plen > 5)
			return "invalid port";
		for (size_t i = 0; i < plen; i++) {
			char c = colon[1 + i];

			if (c < '0' || c > '9')
				return "invalid port";
			port = port * 10 + (unsigned long)(c - '0');
		}
		if (port < 1 || port > 65535)
			return "port out of range (1 to 65535)";
	}
	return NULL;
}

static bool check_url(struct exp_ctx *ctx, const struct enode *n, const char *s)
{
	char q[DIAG_QUOTE_SIZE];
	const char *rest, *why;
	size_t alen;

	if (!strncmp(s, "http://", 7))
		rest = s + 7;
	else if (!strncmp(s, "https://", 8))
		rest = s + 8;
	else {
		exp_err(ctx, n, "invalid URL %s: must start with http:// or https://",
			diag_quote(q, s));
		return false;
	}
	if (strlen(s) > MAX_URL) {
		exp_err(ctx, n, "URL is longer than %d bytes", MAX_URL);
		return false;
	}
	if (has_ctl_or_space(s)) {
		exp_err(ctx, n, "invalid URL %s: contains spaces or control characters",
			diag_quote(q, s));
		return false;
	}
	alen = strcspn(rest, "/?#");
	if (memchr(rest, '@', alen)) {
		exp_err(ctx, n,
			"invalid URL %s: credentials (user@) do not belong in experiment files",
			diag_quote(q, s));
		return false;
	}
	why = check_hostport(rest, alen);
	if (why) {
		exp_err(ctx, n, "invalid URL %s: %s", diag_quote(q, s), why);
		return false;
	}
	return true;
}

static bool check_address(struct exp_ctx *ctx, const struct enode *n, const char *s)
{
	char q[DIAG_QUOTE_SIZE], err[512];
	const char *why = NULL;
	struct agent_addr addr;

	if (!strncmp(s, "unix://", 7)) {
		const char *path = s + 7;

		if (path[0] != '/')
			why = "the socket path must be absolute (unix:///PATH)";
		else if (strlen(path) > 107)
			why = "socket path longer than 107 bytes";
		else if (has_ctl(path))
			why = "control characters in the socket path";
	} else if (!strncmp(s, "ssh://", 6)) {
		/* The very parser faultctl connects with, so files and --agent agree. */
		if (addr_parse(s, &addr, err, sizeof(err)))
			why = addr_error_reason(s, err);
	} else {
		why = "expected unix:///PATH or ssh://[USER@]HOST[:PORT][/PATH]";
	}
	if (why) {
		exp_err(ctx, n, "invalid agent address %s: %s", diag_quote(q, s), why);
		return false;
	}
	return true;
}

static bool check_ifname(struct exp_ctx *ctx, const struct enode *n, const char *s)
{
	char q[DIAG_QUOTE_SIZE];
	size_t len = strlen(s);

	/* The kernel's own rules (dev_valid_name) plus IFNAMSIZ. */
	if (!len || len > 15 || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/') ||
	    strchr(s, ':') || has_ctl_or_space(s)) {
		exp_err(ctx, n,
			"invalid interface name %s: 1 to 15 characters without '/', ':' or spaces",
			diag_quote(q, s));
		return false;
	}
	return true;
}

/*
 * A bound at p: "{n}", "{n,}", "{n,m}", or glibc's "{,m}". Returns its closing brace and
 * sets *copies to how many copies of the repeated part glibc makes, or returns NULL when
 * p starts no bound.
 */
static const char *regex_bound(const char *p, uint64_t *copies)
{
	uint64_t n = 0, m;
	bool digits = false;

	for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
		if (n <= MAX_REGEX_EXPANSION)
			n = n * 10 + (uint64_t)(*p - '0');
	}
	m = n;
	if (*p == ',') {
		/* "{n,}" is n copies and one more made optional; "{n,m}" m copies. */
		m = n + 1;
		if (p[1] >= '0' && p[1] <= '9')
			m = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
			if (m <= MAX_REGEX_EXPANSION)
				m = m * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p != '}' || !digits)
		return NULL;
	*copies = m > n ? m : n ? n : 1;
	return p;
}

/*
 * glibc compiles a repetition by copying what it repeats, so "(a{100}){100}" becomes 10000
 * copies and "a+++...+" doubles with every '+'. Estimate the size of the pattern after
 * that expansion (atoms count one, a group the sum of its content, "x{n,m}" m copies of x,
 * "x+" two) and refuse patterns past MAX_REGEX_EXPANSION before regcomp() spends time and
 * memory on them.
 */
static bool regex_too_complex(const char *s)
{
	uint64_t stack[MAX_REGEX_DEPTH], sum = 0, last = 0, m;
	size_t depth = 0;
	const char *end;

	for (const char *p = s; *p; p++) {
		if (*p == '(') {
			if (depth >= ARRAY_SIZE(stack))
				return true;
			stack[depth++] = sum;
			sum = 0;
			last = 0;
			continue;
		}
		if (*p == ')' && !depth) {
			/* glibc's ERE takes an unmatched ')' as a literal: one atom. */
			sum++;
			last = 1;
		} else if (*p == ')') {
			/* A group is at least one node, also "()" or "(|)": glibc copies it too. */
			last = sum ? sum : 1;
			sum = stack[--depth] + last;
		} else if (*p == '{' && (end = regex_bound(p, &m))) {
			if (m > MAX_REGEX_EXPANSION)
				return true;
			sum += last * (m - 1);
			last *= m;
			p = end;
		} else if (*p == '+') {
			/* glibc reads "x+" as "xx*", so "x++" doubles again. */
			sum += last;
			last *= 2;
		} else if (*p == '*' || *p == '?' || *p == '|') {
			continue;
		} else {
			if (*p == '\\' && p[1]) {
				p++;
			} else if (*p == '[') {
				/* One atom; "[]a]" and "[^]a]" start with a literal ']'. */
				const char *q = p + 1;

				if (*q == '^')
					q++;
				if (*q == ']')
					q++;
				q = strchr(q, ']');
				if (!q)
					return false; /* regcomp() reports it */
				p = q;
			}
			sum++;
			last = 1;
		}
		if (sum > MAX_REGEX_EXPANSION)
			return true;
	}
	while (depth)
		sum += stack[--depth];
	return sum > MAX_REGEX_EXPANSION;
}

static bool check_regex(struct exp_ctx *ctx, const struct enode *n, const char *s)
{
	char q[DIAG_QUOTE_SIZE], msg[256];
	regex_t re;
	int r;

	if (strlen(s) > MAX_REGEX) {
		exp_err(ctx, n, "regular expression is longer than %d bytes", MAX_REGEX);
		return false;
	}
	if (regex_too_complex(s)) {
		exp_err(ctx, n,
			"regular expression %s is too complex (its repetitions expand to more than "
			"%d elements)",
			diag_quote(q, s), MAX_REGEX_EXPANSION);
		return false;
	}
	/*
	 * glibc takes back-references in extended syntax too, and matching them can take
	 * exponential time on the agent, for every process it looks at.
	 */
	for (const char *p = s; *p; p++) {
		if (*p != '\\' || !p[1])
			continue;
		if (p[1] >= '1' && p[1] <= '9') {
			exp_err(ctx, n,
				"regular expression %s uses a back-reference (\\%c), which POSIX "
				"extended syntax does not have",
				diag_quote(q, s), p[1]);
			return false;
		}
		p++;
	}
	r = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
	if (r) {
		if (r == REG_ESPACE) {
			ctx->nomem = true;
			return false;
		}
		regerror(r, &re, msg, sizeof(msg));
		exp_err(ctx, n, "invalid regular expression %s: %s", diag_quote(q, s), msg);
		return false;
	}
	/*
	 * A pattern that matches the empty string ('.*', 'a*', '^', 'x|') matches every
	 * command line, a kernel thread's empty one included: it selects the whole host.
	 */
	r = regexec(&re, "", 0, NULL, 0);
	regfree(&re);
	if (!r) {
		exp_err(ctx, n,
			"regular expression %s matches the empty string, so it matches every "
			"process; name what the command line must contain",
			diag_quote(q, s));
		return false;
	}
	return true;
}

static bool valid_user(const char *s)
{
	size_t i;

	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		return !*end && !errno && v <= UINT32_MAX - 1 && strlen(s) <= 10;
	}
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || (c == '$' && !s[i + 1])))
			return false;
	}
	return i <= 32;
}

static bool valid_tz(const char *s)
{
	size_t len = strlen(s), comp = 0;

	if (!len || len > 64 || s[0] == '/' || s[len - 1] == '/')
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;

		if (c == '/') {
			if (!comp)
				return false;
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return false;
		comp++;
	}
	return !strstr(s, "..");
}

/*
 * Control characters, in ASCII (DEL included) and beyond: C1 controls and the Unicode line
 * and paragraph separators. They hide what a reviewer reads, and YAML readers treat some
 * of them as line breaks, so text that held them would not survive the canonical JSON.
 * Free text may keep line breaks and tabs.
 */
static bool hidden_chars(const char *s, bool free_text)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\n' || *c == '\t') {
			if (!free_text)
				return true;
		} else if (*c < ' ' || *c == 0x7f) {
			return true;
		} else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
			return true;
		} else if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9)) {
			return true;
		}
	}
	return false;
}

/* Returns the text to store (s itself or buf), or NULL after reporting the problem. */
const char *exp_text_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			   char *buf, size_t size)
{
	char q[DIAG_QUOTE_SIZE];
	const char *s = n->str;
	int64_t max = f->max ? f->max : MAX_TEXT;

	if (n->type == EN_SCALAR && n->scalar == ES_INT && f->type == FT_USER) {
		if (n->int_overflow || n->ival < 0 || n->ival > (int64_t)UINT32_MAX - 1) {
			exp_err(ctx, n, "uid %s is out of range (0 to 4294967294)", n->str);
			return NULL;
		}
		snprintf(buf, size, "%" PRId64, n->ival);
		return buf;
	}
	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_type_error(ctx, f, n);
		return NULL;
	}
	if (!n->len) {
		exp_err(ctx, n, "must not be empty");
		return NULL;
	}
	if (hidden_chars(s, f->type == FT_STRING)) {
		exp_err(ctx, n, "text contains control characters");
		return NULL;
	}
	switch (f->type) {
	case FT_STRING:
		if ((int64_t)n->len > max) {
			exp_err(ctx, n, "text is longer than %" PRId64 " bytes", max);
			return NULL;
		}
		return s;
	case FT_NAME:
		if (!valid_name(s)) {
			exp_err(ctx, n,
				"invalid name %s: use letters, digits, '.', '_' and '-', starting "
				"with a letter or digit, at most %d characters",
				diag_quote(q, s), EXP_MAX_NAME);
			return NULL;
		}
		return s;
	case FT_PATH:
		return check_path(ctx, n, s) ? s : NULL;
	case FT_URL:
		return check_url(ctx, n, s) ? s : NULL;
	case FT_ADDRESS:
		return check_address(ctx, n, s) ? s : NULL;
	case FT_IFNAME:
		return check_ifname(ctx, n, s) ? s : NULL;
	case FT_REGEX:
		return check_regex(ctx, n, s) ? s : NULL;
	case FT_COMM:
		if (n->len > 15) {
			exp_err(ctx, n,
				"process name %s is longer than 15 characters, the kernel's limit; "
				"match longer names with 'cmdline'",
				diag_quote(q, s));
			return NULL;
		}
		if (has_ctl(s)) {
			exp_err(ctx, n, "process name %s contains control characters",
				diag_quote(q, s));
			return NULL;
		}
		return s;
	case FT_USER:
		if (!valid_user(s)) {
			exp_err(ctx, n, "invalid user %s: expected a user name or a numeric uid",
				diag_quote(q, s));
			return NULL;
		}
		return s;
	case FT_TZ:
		if (!valid_tz(s)) {
			exp_err(ctx, n,
				"invalid time zone %s: expected an IANA name such as "
				"'Europe/Berlin' or 'UTC'",
				diag_quote(q, s));
			return NULL;
		}
		return s;
	default:
		return NULL;
	}
}
