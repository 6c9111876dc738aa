/*
 * The table engine: one row per key describes how to read, check, write, compare and free
 * a field, so adding a key is adding a row and the JSON Schema test can walk every table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <signal.h>
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

static void *at(void *obj, size_t off)
{
	return (char *)obj + off;
}

static const void *cat(const void *obj, size_t off)
{
	return (const char *)obj + off;
}

int exp_seen_index(const struct exp_object *o, const char *key)
{
	for (size_t i = 0; i < o->n_fields; i++) {
		if (!strcmp(o->fields[i].key, key))
			return (int)i;
	}
	return -1;
}

bool exp_seen_present(const struct exp_object *o, const struct exp_seen *s, const char *key)
{
	int i = exp_seen_index(o, key);

	return i >= 0 && (s->present >> i) & 1;
}

bool exp_seen_valid(const struct exp_object *o, const struct exp_seen *s, const char *key)
{
	int i = exp_seen_index(o, key);

	return i >= 0 && (s->valid >> i) & 1;
}

/* Optimal string alignment distance: edits, with a swap of neighbours counting as one. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[65][65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *exp_did_you_mean(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit, best = SIZE_MAX;
	const char *pick = NULL;

	/* Short words get fewer edits, or every three-letter typo would match something. */
	limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (!cands[i])
			continue;
		d = edit_distance(word, cands[i]);
		if (d <= limit && d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return pick;
}

/* Enums and signals. */

const char *exp_enum_name(const struct exp_enum *e, int v)
{
	if (v < 0 || (size_t)v >= e->n || !e->names[v])
		return "?";
	return e->names[v];
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},   {"ILL", SIGILL},
	{"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
	{"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
	{"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU},     {"URG", SIGURG},	  {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
	{"PWR", SIGPWR},       {"SYS", SIGSYS},
};

/* Linux signal numbers run from 1 to 64 (SIGRTMAX with glibc). */
#define MAX_SIGNAL 64

const char *exp_signal_name(int sig, char *buf, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
		if (signals[i].sig == sig) {
			snprintf(buf, size, "SIG%s", signals[i].name);
			return buf;
		}
	}
	snprintf(buf, size, "%d", sig);
	return buf;
}

/* Shortest text that reads back as the same double, so thresholds survive a round trip. */
void exp_fmt_double(char *buf, size_t size, double v)
{
	/* Plain notation when some precision gives it exactly, else the exponent form. */
	for (int pass = 0; pass < 2; pass++) {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v && (pass || !strchr(buf, 'e')))
				return;
		}
	}
}

/* Messages. */

static bool is_text_type(uint8_t t)
{
	switch (t) {
	case FT_STRING:
	case FT_NAME:
	case FT_PATH:
	case FT_URL:
	case FT_ADDRESS:
	case FT_IFNAME:
	case FT_REGEX:
	case FT_COMM:
	case FT_USER:
	case FT_TZ:
		return true;
	default:
		return false;
	}
}

static void enum_list(const struct exp_enum *e, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->n; i++) {
		if (!e->names[i])
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", e->names[i]);
		if (o >= size)
			break;
	}
}

static const char *expect_text(const struct exp_field *f, char *buf, size_t size)
{
	char names[512];

	switch (f->type) {
	case FT_USER:
		return "a user name or uid";
	case FT_DURATION:
		return "a duration such as '30s'";
	case FT_PERCENT:
		return "a percentage such as '5%'";
	case FT_SIZE:
		return f->flags & FF_RELATIVE ? "a size such as '512MiB' or '80%'"
					      : "a size such as '512MiB'";
	case FT_BYTES:
		return "a size such as '64KiB'";
	case FT_RATE:
		return "a rate such as '10mbit'";
	case FT_BYTE_RATE:
		return "a byte rate such as '50MiB/s'";
	case FT_REQ_RATE:
		return "a request rate such as '5/s'";
	case FT_FACTOR:
		return "a factor such as '14.4x'";
	case FT_U32:
	case FT_U64:
		return "an integer";
	case FT_BOOL:
		return "true or false";
	case FT_ENUM:
		enum_list(f->aux, names, sizeof(names));
		snprintf(buf, size, "one of: %s", names);
		return buf;
	case FT_SIGNAL:
		return "a signal such as 'SIGTERM'";
	case FT_CPUSET:
		return "a CPU list such as '0-3,8'";
	case FT_TIME:
		return "a time of day such as '09:00'";
	case FT_EXPECT:
		return "a comparison such as '< 0.01'";
	case FT_CIDR:
		return "a CIDR such as '192.0.2.0/24'";
	case FT_RANGE:
		snprintf(buf, size, "a %s or a range such as '%s'", (const char *)f->aux,
			 f->max > 1000 ? "8000-8100" : "200-299");
		return buf;
	case FT_LIST:
		return "a list";
	case FT_OBJECT:
		return "a mapping";
	default:
		return "a string";
	}
}

static void type_error(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n)
{
	char buf[600];
	const char *want = expect_text(f, buf, sizeof(buf));

	if (is_text_type(f->type) && n->type == EN_SCALAR && n->scalar != ES_NULL)
		exp_err(ctx, n, "expected %s, got %s; put it in quotes to make it text", want,
			exp_node_what(n));
	else
		exp_err(ctx, n, "expected %s, got %s", want, exp_node_what(n));
}

/* Canonical text of a number of the field's kind, for range messages and output. */
static void fmt_number(uint8_t type, int64_t v, char *buf)
{
	struct units_size sz = {.bytes = (uint64_t)v};

	switch (type) {
	case FT_DURATION:
		units_fmt_duration(buf, v);
		break;
	case FT_PERCENT:
		units_fmt_percent(buf, (uint64_t)v);
		break;
	case FT_SIZE:
	case FT_BYTES:
		units_fmt_size(buf, &sz);
		break;
	case FT_RATE:
		units_fmt_rate(buf, (uint64_t)v);
		break;
	case FT_BYTE_RATE:
		units_fmt_byte_rate(buf, (uint64_t)v);
		break;
	case FT_REQ_RATE:
		units_fmt_req_rate(buf, (uint64_t)v);
		break;
	case FT_FACTOR:
		units_fmt_factor(buf, (uint64_t)v);
		break;
	default:
		snprintf(buf, UNITS_FMT_MAX, "%" PRId64, v);
		break;
	}
}

/*
 * A range message states exactly what is accepted. A minimum of the smallest unit (1ns,
 * 0.0001%, one byte) means "more than zero" and is said that way: "(0% to 100%)" would
 * claim 0% is accepted, "(0.0001% to 100%)" would read as a typo. Counts (FT_U32, FT_U64)
 * have no such unit and show their minimum.
 */
static bool check_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			uint8_t type, int64_t v)
{
	char a[UNITS_FMT_MAX], lo[UNITS_FMT_MAX], hi[UNITS_FMT_MAX];

	if (v >= f->min && v <= f->max)
		return true;
	fmt_number(type, v, a);
	fmt_number(type, f->max, hi);
	if (f->min == 1 && type != FT_U32 && type != FT_U64) {
		fmt_number(type, 0, lo);
		exp_err(ctx, n, "%s is out of range (more than %s, at most %s)", a, lo, hi);
		return false;
	}
	fmt_number(type, f->min, lo);
	exp_err(ctx, n, "%s is out of range (%s to %s)", a, lo, hi);
	return false;
}

/* Text fields. */

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
static const char *parse_text(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
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
		type_error(ctx, f, n);
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

/* Structured scalars. */

static bool parse_signal(struct exp_ctx *ctx, const struct enode *n, int *out)
{
	char q[DIAG_QUOTE_SIZE];
	const char *names[ARRAY_SIZE(signals)];
	char full[ARRAY_SIZE(signals)][16];
	const char *s, *hint;
	int64_t v = -1;

	if (n->type == EN_SCALAR && n->scalar == ES_INT) {
		v = n->int_overflow ? -1 : n->ival;
	} else if (n->type == EN_SCALAR && n->scalar == ES_STRING) {
		s = n->str;
		if (s[0] >= '0' && s[0] <= '9' && n->len <= 3 && strspn(s, "0123456789") == n->len)
			v = strtol(s, NULL, 10);
		else {
			const char *bare = strncmp(s, "SIG", 3) ? s : s + 3;

			for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
				if (!strcmp(bare, signals[i].name)) {
					*out = signals[i].sig;
					return true;
				}
			}
			for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
				snprintf(full[i], sizeof(full[i]), "SIG%s", signals[i].name);
				names[i] = full[i];
			}
			hint = exp_did_you_mean(s, names, ARRAY_SIZE(signals));
			if (hint)
				exp_err(ctx, n, "unknown signal %s; did you mean '%s'?",
					diag_quote(q, s), hint);
			else
				exp_err(ctx, n,
					"unknown signal %s (use a name such as SIGTERM or a number "
					"from 1 to %d)",
					diag_quote(q, s), MAX_SIGNAL);
			return false;
		}
	} else {
		exp_err(ctx, n, "expected a signal such as 'SIGTERM', got %s", exp_node_what(n));
		return false;
	}
	if (v < 1 || v > MAX_SIGNAL) {
		exp_err(ctx, n, "signal %s is out of range (1 to %d)", n->str, MAX_SIGNAL);
		return false;
	}
	*out = (int)v;
	return true;
}

static bool parse_cpuset(struct exp_ctx *ctx, const struct enode *n, struct exp_cpuset *out)
{
	char q[DIAG_QUOTE_SIZE];
	const char *p = n->str;

	memset(out, 0, sizeof(*out));
	if (n->type != EN_SCALAR || (n->scalar != ES_STRING && n->scalar != ES_INT)) {
		exp_err(ctx, n, "expected a CPU list such as '0-3,8', got %s", exp_node_what(n));
		return false;
	}
	if (!*p) {
		exp_err(ctx, n, "must not be empty");
		return false;
	}
	for (;;) {
		unsigned long lo, hi;
		char *end;

		if (*p < '0' || *p > '9')
			goto bad;
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (lo >= EXP_MAX_CPUS || hi >= EXP_MAX_CPUS) {
			exp_err(ctx, n, "CPU %lu is out of range (0 to %d)", lo > hi ? lo : hi,
				EXP_MAX_CPUS - 1);
			return false;
		}
		if (lo > hi) {
			exp_err(ctx, n, "invalid CPU list %s: range %lu-%lu runs backwards",
				diag_quote(q, n->str), lo, hi);
			return false;
		}
		for (unsigned long c = lo; c <= hi; c++)
			out->bits[c / 64] |= 1ULL << (c % 64);
		if (!*p)
			return true;
		if (*p != ',')
			goto bad;
		p++;
	}
bad:
	exp_err(ctx, n, "invalid CPU list %s: expected CPU numbers and ranges such as '0-3,8'",
		diag_quote(q, n->str));
	return false;
}

static void fmt_cpuset(const struct exp_cpuset *cs, char *buf, size_t size)
{
	size_t o = 0;
	int c = 0;

	buf[0] = '\0';
	while (c < EXP_MAX_CPUS) {
		int lo, hi;

		if (!(cs->bits[c / 64] >> (c % 64) & 1)) {
			c++;
			continue;
		}
		lo = c;
		while (c + 1 < EXP_MAX_CPUS && cs->bits[(c + 1) / 64] >> ((c + 1) % 64) & 1)
			c++;
		hi = c++;
		if (o < size) {
			if (lo == hi)
				o += (size_t)snprintf(buf + o, size - o, "%s%d", o ? "," : "", lo);
			else
				o += (size_t)snprintf(buf + o, size - o, "%s%d-%d", o ? "," : "",
						      lo, hi);
		}
	}
}

static bool parse_time(struct exp_ctx *ctx, const struct enode *n, uint32_t *out)
{
	char q[DIAG_QUOTE_SIZE];
	const char *s = n->str;
	unsigned h, m;

	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_err(ctx, n, "expected a time of day such as '09:00', got %s", exp_node_what(n));
		return false;
	}
	if (n->len != 5 || s[2] != ':' || strspn(s, "0123456789") != 2 ||
	    strspn(s + 3, "0123456789") != 2)
		goto bad;
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (h > 23 || m > 59)
		goto bad;
	*out = h * 60 + m;
	return true;
bad:
	exp_err(ctx, n, "invalid time %s: expected HH:MM between 00:00 and 23:59",
		diag_quote(q, s));
	return false;
}

static const char *const cmp_names[] = {
	[CMP_LT] = "<",	 [CMP_LE] = "<=", [CMP_GT] = ">",
	[CMP_GE] = ">=", [CMP_EQ] = "==", [CMP_NE] = "!=",
};

const struct exp_enum exp_cmp_enum = {cmp_names, ARRAY_SIZE(cmp_names)};

static bool parse_expect(struct exp_ctx *ctx, const struct enode *n, int *op, double *thr)
{
	char q[DIAG_QUOTE_SIZE];
	const char *p = n->str;
	char *end;
	double v;
	int o = -1;

	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_err(ctx, n, "expected a comparison such as '< 0.01', got %s", exp_node_what(n));
		return false;
	}
	while (*p == ' ')
		p++;
	/* Two-character operators first, so "<=" is not read as "<" and "=". */
	for (int pass = 0; pass < 2 && o < 0; pass++) {
		for (size_t i = 0; i < ARRAY_SIZE(cmp_names); i++) {
			size_t l = strlen(cmp_names[i]);

			if ((pass == 0) == (l == 2) && !strncmp(p, cmp_names[i], l)) {
				o = (int)i;
				p += l;
				break;
			}
		}
	}
	if (o < 0)
		goto bad;
	while (*p == ' ')
		p++;
	if (!*p || !strchr("+-.0123456789", *p))
		goto bad;
	v = strtod(p, &end);
	while (*end == ' ')
		end++;
	if (*end || !isfinite(v))
		goto bad;
	*op = o;
	*thr = v;
	return true;
bad:
	exp_err(ctx, n,
		"invalid comparison %s: expected an operator (<, <=, >, >=, ==, !=) and a number, "
		"as in '< 0.01'",
		diag_quote(q, n->str));
	return false;
}

static bool parse_cidr(struct exp_ctx *ctx, const struct enode *n, struct net_cidr *out)
{
	char q[DIAG_QUOTE_SIZE], addr[64], fixed[INET6_ADDRSTRLEN];
	const char *s = n->str, *slash;
	unsigned prefix, max;
	size_t alen;

	memset(out, 0, sizeof(*out));
	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		exp_err(ctx, n, "expected a CIDR such as '192.0.2.0/24', got %s", exp_node_what(n));
		return false;
	}
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : n->len;
	if (!alen || alen >= sizeof(addr))
		goto bad_addr;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (strchr(addr, ':')) {
		out->family = AF_INET6;
		max = 128;
	} else {
		out->family = AF_INET;
		max = 32;
	}
	if (inet_pton(out->family, addr, out->addr) != 1)
		goto bad_addr;
	prefix = max;
	if (slash) {
		const char *d = slash + 1;
		size_t dl = strlen(d);

		if (!dl || dl > 3 || strspn(d, "0123456789") != dl || (dl > 1 && d[0] == '0') ||
		    (prefix = (unsigned)strtoul(d, NULL, 10)) > max) {
			exp_err(ctx, n, "invalid CIDR %s: the prefix length must be 0 to %u",
				diag_quote(q, s), max);
			return false;
		}
	}
	out->prefix = (uint8_t)prefix;
	/*
	 * ::ffff:a.b.c.d/96+ names IPv4 hosts, but an IPv4 packet carries IPv4 addresses and
	 * an IPv6 rule never matches it: the fault would silently do nothing. Suggest the
	 * IPv4 form (host bits cleared).
	 */
	if (out->family == AF_INET6 && prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out->addr)) {
		unsigned p4 = prefix - 96;
		uint32_t v4;

		memcpy(&v4, out->addr + 12, 4);
		v4 = ntohl(v4);
		if (p4 < 32)
			v4 &= p4 ? ~0u << (32 - p4) : 0;
		v4 = htonl(v4);
		inet_ntop(AF_INET, &v4, fixed, sizeof(fixed));
		exp_err(ctx, n,
			"CIDR %s is an IPv4-mapped IPv6 address, which no IPv4 packet carries; "
			"write it as IPv4: '%s/%u'",
			diag_quote(q, s), fixed, p4);
		return false;
	}
	for (unsigned bit = prefix; bit < max; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			struct net_cidr fix = *out;

			for (unsigned b = prefix; b < max; b++)
				fix.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
			inet_ntop(fix.family, fix.addr, fixed, sizeof(fixed));
			exp_err(ctx, n, "CIDR %s has host bits set; did you mean '%s/%u'?",
				diag_quote(q, s), fixed, prefix);
			return false;
		}
	}
	return true;
bad_addr:
	exp_err(ctx, n, "invalid CIDR %s: not an IPv4 or IPv6 address", diag_quote(q, s));
	return false;
}

static void fmt_cidr(const struct net_cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, c->prefix);
}

static bool parse_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			struct port_range *out)
{
	const char *noun = f->aux;
	char q[DIAG_QUOTE_SIZE];
	int64_t lo, hi;

	if (n->type == EN_SCALAR && n->scalar == ES_INT) {
		lo = hi = n->int_overflow ? INT64_MAX : n->ival;
	} else if (n->type == EN_SCALAR && n->scalar == ES_STRING) {
		const char *s = n->str, *dash = strchr(s, '-');
		size_t l1 = dash ? (size_t)(dash - s) : n->len;
		size_t l2 = dash ? strlen(dash + 1) : 0;

		if (!l1 || l1 > 6 || strspn(s, "0123456789") != l1 ||
		    (dash && (!l2 || l2 > 6 || strspn(dash + 1, "0123456789") != l2))) {
			exp_err(ctx, n, "invalid %s range %s: expected N or N-M", noun,
				diag_quote(q, s));
			return false;
		}
		lo = strtoll(s, NULL, 10);
		hi = dash ? strtoll(dash + 1, NULL, 10) : lo;
	} else {
		exp_err(ctx, n, "expected a %s or a range such as '%s', got %s", noun,
			f->max > 1000 ? "8000-8100" : "200-299", exp_node_what(n));
		return false;
	}
	for (int i = 0; i < 2; i++) {
		int64_t v = i ? hi : lo;

		if (v < f->min || v > f->max) {
			if (n->int_overflow)
				exp_err(ctx, n,
					"%s %s is out of range (%" PRId64 " to %" PRId64 ")", noun,
					n->str, f->min, f->max);
			else
				exp_err(ctx, n,
					"%s %" PRId64 " is out of range (%" PRId64 " to %" PRId64
					")",
					noun, v, f->min, f->max);
			return false;
		}
	}
	if (lo > hi) {
		exp_err(ctx, n, "invalid %s range %s: %" PRId64 " is greater than %" PRId64, noun,
			diag_quote(q, n->str), lo, hi);
		return false;
	}
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return true;
}

/* Units fields: text through lib/units, then the field's range. */
static bool parse_unit(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		       void *dst)
{
	char err[512], buf[600];
	struct units_size sz;
	uint64_t v = 0;
	int64_t ns;
	int r;

	if (f->type == FT_DURATION && n->type == EN_SCALAR && n->scalar == ES_INT && !n->ival &&
	    !n->int_overflow) {
		/* A bare 0 is the one duration that needs no unit. */
		if (!check_range(ctx, f, n, f->type, 0))
			return false;
		*(int64_t *)dst = 0;
		return true;
	}
	if (n->type != EN_SCALAR ||
	    (n->scalar != ES_STRING &&
	     !(f->type == FT_FACTOR && (n->scalar == ES_INT || n->scalar == ES_FLOAT)))) {
		exp_err(ctx, n, "expected %s, got %s", expect_text(f, buf, sizeof(buf)),
			exp_node_what(n));
		return false;
	}
	switch (f->type) {
	case FT_DURATION:
		r = units_parse_duration(n->str, &ns, err, sizeof(err));
		v = (uint64_t)ns;
		break;
	case FT_PERCENT:
		r = units_parse_percent(n->str, &v, err, sizeof(err));
		break;
	case FT_SIZE:
		r = units_parse_size(n->str, f->flags & FF_RELATIVE, &sz, err, sizeof(err));
		if (!r && sz.ppm) {
			struct exp_field pf = *f;

			pf.min = 1;
			pf.max = UNITS_PPM_ONE;
			if (!check_range(ctx, &pf, n, FT_PERCENT, sz.ppm))
				return false;
			*(struct units_size *)dst = sz;
			return true;
		}
		v = sz.bytes;
		break;
	case FT_BYTES:
		r = units_parse_size(n->str, false, &sz, err, sizeof(err));
		v = sz.bytes;
		break;
	case FT_RATE:
		r = units_parse_rate(n->str, &v, err, sizeof(err));
		break;
	case FT_BYTE_RATE:
		r = units_parse_byte_rate(n->str, &v, err, sizeof(err));
		break;
	case FT_REQ_RATE:
		r = units_parse_req_rate(n->str, &v, err, sizeof(err));
		break;
	case FT_FACTOR:
		r = units_parse_factor(n->str, &v, err, sizeof(err));
		break;
	default:
		return false;
	}
	if (r) {
		exp_err(ctx, n, "%s", err);
		return false;
	}
	/* The parsers cap values at INT64_MAX, so the cast keeps the value. */
	if (!check_range(ctx, f, n, f->type, (int64_t)v))
		return false;
	switch (f->type) {
	case FT_DURATION:
		*(int64_t *)dst = (int64_t)v;
		break;
	case FT_PERCENT:
		*(uint32_t *)dst = (uint32_t)v;
		break;
	case FT_SIZE:
		((struct units_size *)dst)->bytes = v;
		((struct units_size *)dst)->ppm = 0;
		break;
	default:
		*(uint64_t *)dst = v;
		break;
	}
	return true;
}

static bool parse_int(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		      void *dst)
{
	if (n->type != EN_SCALAR || n->scalar != ES_INT) {
		type_error(ctx, f, n);
		return false;
	}
	if (n->int_overflow) {
		exp_err(ctx, n, "%s is out of range (%" PRId64 " to %" PRId64 ")", n->str, f->min,
			f->max);
		return false;
	}
	if (!check_range(ctx, f, n, f->type, n->ival))
		return false;
	if (f->type == FT_U32)
		*(uint32_t *)dst = (uint32_t)n->ival;
	else
		*(uint64_t *)dst = (uint64_t)n->ival;
	return true;
}

static bool parse_enum(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		       int *dst)
{
	const struct exp_enum *e = f->aux;
	char q[DIAG_QUOTE_SIZE], names[512];
	const char *hint;

	if (n->type != EN_SCALAR || n->scalar != ES_STRING) {
		type_error(ctx, f, n);
		return false;
	}
	for (size_t i = 0; i < e->n; i++) {
		if (e->names[i] && !strcmp(e->names[i], n->str)) {
			*dst = (int)i;
			return true;
		}
	}
	hint = exp_did_you_mean(n->str, e->names, e->n);
	if (hint) {
		exp_err(ctx, n, "invalid value %s; did you mean '%s'?", diag_quote(q, n->str),
			hint);
	} else {
		enum_list(e, names, sizeof(names));
		exp_err(ctx, n, "invalid value %s; expected one of: %s", diag_quote(q, n->str),
			names);
	}
	return false;
}

static bool text_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static bool parse_list(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		       void *obj)
{
	const struct exp_list *L = f->aux;
	size_t errs = diag_total(ctx->diags), i = 0;
	char q[DIAG_QUOTE_SIZE];
	const struct enode *it;
	char *items;

	if (n->type != EN_SEQ) {
		type_error(ctx, f, n);
		return false;
	}
	if (n->n < L->min_items) {
		if (L->min_items == 1)
			exp_err(ctx, n, "must not be empty");
		else
			exp_err(ctx, n, "needs at least %zu items", L->min_items);
		return false;
	}
	if (n->n > L->max_items) {
		exp_err(ctx, n, "has %zu items; at most %zu are allowed", n->n, L->max_items);
		return false;
	}
	if (!n->n)
		return true;
	items = calloc(n->n, L->elem_size);
	if (!items) {
		ctx->nomem = true;
		return false;
	}
	*(void **)at(obj, f->off) = items;
	*(size_t *)at(obj, f->off2) = n->n;
	for (it = n->first; it; it = it->next, i++) {
		size_t old = exp_path_index(ctx, i);
		void *p = items + i * L->elem_size;

		if (exp_fld_parse(ctx, &L->elem, it, p) && (f->flags & FF_UNIQUE)) {
			for (size_t j = 0; j < i; j++) {
				const void *o = items + j * L->elem_size;
				bool same = L->elem.type == FT_ENUM
						    ? *(const int *)o == *(const int *)p
						    : text_equal(*(char *const *)o, *(char **)p);

				if (same) {
					exp_err(ctx, it, "%s is listed twice",
						diag_quote(q, it->str));
					break;
				}
			}
		}
		exp_path_set(ctx, old);
	}
	return diag_total(ctx->diags) == errs;
}

bool exp_fld_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n, void *obj)
{
	void *dst = at(obj, f->off);
	char buf[32];
	const char *s;

	if (n->reported)
		return false;
	switch (f->type) {
	case FT_STRING:
	case FT_NAME:
	case FT_PATH:
	case FT_URL:
	case FT_ADDRESS:
	case FT_IFNAME:
	case FT_REGEX:
	case FT_COMM:
	case FT_USER:
	case FT_TZ: {
		char *copy;

		s = parse_text(ctx, f, n, buf, sizeof(buf));
		if (!s)
			return false;
		copy = strdup(s);
		if (!copy) {
			ctx->nomem = true;
			return false;
		}
		free(*(char **)dst);
		*(char **)dst = copy;
		return true;
	}
	case FT_DURATION:
	case FT_PERCENT:
	case FT_SIZE:
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
		return parse_unit(ctx, f, n, dst);
	case FT_U32:
	case FT_U64:
		return parse_int(ctx, f, n, dst);
	case FT_BOOL:
		if (n->type != EN_SCALAR || n->scalar != ES_BOOL) {
			type_error(ctx, f, n);
			return false;
		}
		*(bool *)dst = n->bval;
		return true;
	case FT_ENUM:
		return parse_enum(ctx, f, n, dst);
	case FT_SIGNAL:
		return parse_signal(ctx, n, dst);
	case FT_CPUSET:
		return parse_cpuset(ctx, n, dst);
	case FT_TIME:
		return parse_time(ctx, n, dst);
	case FT_EXPECT:
		return parse_expect(ctx, n, dst, at(obj, f->off2));
	case FT_CIDR:
		return parse_cidr(ctx, n, dst);
	case FT_RANGE:
		return parse_range(ctx, f, n, dst);
	case FT_LIST:
		return parse_list(ctx, f, n, obj);
	case FT_OBJECT: {
		const struct exp_object *sub = f->aux;
		size_t errs = diag_total(ctx->diags);
		void *p = dst;

		if (n->type != EN_MAP) {
			type_error(ctx, f, n);
			return false;
		}
		if (f->flags & FF_PTR) {
			p = calloc(1, sub->size);
			if (!p) {
				ctx->nomem = true;
				return false;
			}
			*(void **)dst = p;
		}
		exp_obj_init(sub, p);
		exp_obj_parse(ctx, sub, n, p);
		return diag_total(ctx->diags) == errs;
	}
	case FT_CUSTOM:
		return ((const struct exp_custom *)f->aux)->parse(ctx, f, n, obj);
	}
	return false;
}

void exp_obj_init(const struct exp_object *o, void *obj)
{
	for (size_t i = 0; i < o->n_fields; i++) {
		const struct exp_field *f = &o->fields[i];
		void *dst = at(obj, f->off);

		if (f->type == FT_OBJECT && !(f->flags & FF_PTR)) {
			exp_obj_init(f->aux, dst);
			continue;
		}
		if (f->type == FT_CUSTOM) {
			const struct exp_custom *c = f->aux;

			if (c->init)
				c->init(f, obj);
			continue;
		}
		if (!(f->flags & FF_DEFAULT))
			continue;
		switch (f->type) {
		case FT_DURATION:
			*(int64_t *)dst = f->def;
			break;
		case FT_PERCENT:
		case FT_U32:
		case FT_TIME:
			*(uint32_t *)dst = (uint32_t)f->def;
			break;
		case FT_BYTES:
		case FT_RATE:
		case FT_BYTE_RATE:
		case FT_REQ_RATE:
		case FT_FACTOR:
		case FT_U64:
			*(uint64_t *)dst = (uint64_t)f->def;
			break;
		case FT_BOOL:
			*(bool *)dst = f->def != 0;
			break;
		case FT_ENUM:
		case FT_SIGNAL:
			*(int *)dst = (int)f->def;
			break;
		case FT_SIZE:
			((struct units_size *)dst)->bytes = (uint64_t)f->def;
			break;
		default:
			break;
		}
	}
}

struct exp_seen exp_obj_parse(struct exp_ctx *ctx, const struct exp_object *o,
			      const struct enode *map, void *obj)
{
	struct exp_seen seen = {0};
	const char *keys[64];

	if (map->reported)
		return seen;
	if (map->type != EN_MAP) {
		exp_err(ctx, map, "expected a mapping, got %s", exp_node_what(map));
		return seen;
	}
	for (size_t i = 0; i < o->n_fields; i++)
		keys[i] = o->fields[i].key;
	for (const struct enode *k = map->first; k; k = k->next) {
		int i = exp_seen_index(o, k->str);
		const char *hint;
		size_t old;

		if (i >= 0) {
			seen.present |= 1ULL << i;
			continue;
		}
		old = exp_path_key(ctx, k->str);
		hint = exp_did_you_mean(k->str, keys, o->n_fields);
		if (hint) {
			exp_err(ctx, k, "unknown key; did you mean '%s'?", hint);
		} else {
			char list[1024];
			size_t n = 0;

			list[0] = '\0';
			for (size_t j = 0; j < o->n_fields && n < sizeof(list); j++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
						      j ? ", " : "", keys[j]);
			exp_err(ctx, k, "unknown key (valid keys: %s)", list);
		}
		exp_path_set(ctx, old);
	}
	for (size_t i = 0; i < o->n_fields; i++) {
		const struct exp_field *f = &o->fields[i];
		const struct enode *k = exp_node_key(map, f->key);
		size_t old = exp_path_key(ctx, f->key);

		if (!k || !k->value) {
			if (f->flags & FF_REQUIRED)
				exp_err(ctx, map, "missing required field");
		} else if (exp_fld_parse(ctx, f, k->value, obj)) {
			seen.valid |= 1ULL << i;
		}
		exp_path_set(ctx, old);
	}
	if (o->check)
		o->check(ctx, map, obj, &seen);
	return seen;
}

/* Freeing. */

static void fld_release(const struct exp_field *f, void *obj)
{
	void *dst = at(obj, f->off);

	if (is_text_type(f->type)) {
		free(*(char **)dst);
		*(char **)dst = NULL;
		return;
	}
	switch (f->type) {
	case FT_LIST: {
		const struct exp_list *L = f->aux;
		char *items = *(char **)dst;
		size_t n = *(size_t *)at(obj, f->off2);

		for (size_t i = 0; items && i < n; i++)
			fld_release(&L->elem, items + i * L->elem_size);
		free(items);
		*(char **)dst = NULL;
		*(size_t *)at(obj, f->off2) = 0;
		break;
	}
	case FT_OBJECT:
		if (f->flags & FF_PTR) {
			void *p = *(void **)dst;

			if (p) {
				exp_obj_release(f->aux, p);
				free(p);
			}
			*(void **)dst = NULL;
		} else {
			exp_obj_release(f->aux, dst);
		}
		break;
	case FT_CUSTOM:
		((const struct exp_custom *)f->aux)->release(f, obj);
		break;
	default:
		break;
	}
}

void exp_obj_release(const struct exp_object *o, void *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < o->n_fields; i++)
		fld_release(&o->fields[i], obj);
}

/* Writing. */

void exp_fld_format(const struct exp_field *f, const void *obj, char *buf, size_t size)
{
	const void *src = cat(obj, f->off);
	char tmp[UNITS_FMT_MAX];

	buf[0] = '\0';
	if (is_text_type(f->type)) {
		snprintf(buf, size, "%s", *(char *const *)src ? *(char *const *)src : "");
		return;
	}
	switch (f->type) {
	case FT_DURATION:
		snprintf(buf, size, "%s", units_fmt_duration(tmp, *(const int64_t *)src));
		break;
	case FT_PERCENT:
		snprintf(buf, size, "%s", units_fmt_percent(tmp, *(const uint32_t *)src));
		break;
	case FT_SIZE:
		snprintf(buf, size, "%s", units_fmt_size(tmp, src));
		break;
	case FT_BYTES:
		snprintf(buf, size, "%s", units_fmt_bytes(tmp, *(const uint64_t *)src));
		break;
	case FT_RATE:
		snprintf(buf, size, "%s", units_fmt_rate(tmp, *(const uint64_t *)src));
		break;
	case FT_BYTE_RATE:
		snprintf(buf, size, "%s", units_fmt_byte_rate(tmp, *(const uint64_t *)src));
		break;
	case FT_REQ_RATE:
		snprintf(buf, size, "%s", units_fmt_req_rate(tmp, *(const uint64_t *)src));
		break;
	case FT_FACTOR:
		snprintf(buf, size, "%s", units_fmt_factor(tmp, *(const uint64_t *)src));
		break;
	case FT_U32:
		snprintf(buf, size, "%" PRIu32, *(const uint32_t *)src);
		break;
	case FT_U64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *)src);
		break;
	case FT_BOOL:
		snprintf(buf, size, "%s", *(const bool *)src ? "true" : "false");
		break;
	case FT_ENUM:
		snprintf(buf, size, "%s", exp_enum_name(f->aux, *(const int *)src));
		break;
	case FT_SIGNAL:
		exp_signal_name(*(const int *)src, buf, size);
		break;
	case FT_CPUSET:
		fmt_cpuset(src, buf, size);
		break;
	case FT_TIME:
		snprintf(buf, size, "%02u:%02u", *(const uint32_t *)src / 60,
			 *(const uint32_t *)src % 60);
		break;
	case FT_EXPECT: {
		char num[64];

		exp_fmt_double(num, sizeof(num), *(const double *)cat(obj, f->off2));
		snprintf(buf, size, "%s %s", exp_enum_name(&exp_cmp_enum, *(const int *)src), num);
		break;
	}
	case FT_CIDR:
		fmt_cidr(src, buf, size);
		break;
	case FT_RANGE: {
		const struct port_range *r = src;

		if (r->lo == r->hi)
			snprintf(buf, size, "%u", r->lo);
		else
			snprintf(buf, size, "%u-%u", r->lo, r->hi);
		break;
	}
	default:
		break;
	}
}

static bool fld_has_value(const struct exp_field *f, const void *obj)
{
	const void *src = cat(obj, f->off);

	if (f->flags & (FF_REQUIRED | FF_DEFAULT))
		return true;
	if (is_text_type(f->type))
		return *(char *const *)src != NULL;
	switch (f->type) {
	case FT_DURATION:
		return *(const int64_t *)src != 0;
	case FT_PERCENT:
	case FT_U32:
	case FT_TIME:
		return *(const uint32_t *)src != 0;
	case FT_SIZE:
		return ((const struct units_size *)src)->bytes ||
		       ((const struct units_size *)src)->ppm;
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
	case FT_U64:
		return *(const uint64_t *)src != 0;
	case FT_BOOL:
		return *(const bool *)src;
	case FT_ENUM:
	case FT_SIGNAL:
		return *(const int *)src != 0;
	case FT_CPUSET: {
		const struct exp_cpuset *cs = src;

		for (size_t i = 0; i < ARRAY_SIZE(cs->bits); i++) {
			if (cs->bits[i])
				return true;
		}
		return false;
	}
	case FT_LIST:
		return *(const size_t *)cat(obj, f->off2) != 0;
	case FT_OBJECT:
		return !(f->flags & FF_PTR) || *(void *const *)src != NULL;
	default:
		return true;
	}
}

/* List elements are always written (force): an element's zero is a value, not "not given". */
static int fld_to_json(const struct exp_field *f, const void *obj, bool force, json_t **out)
{
	const void *src = cat(obj, f->off);
	char buf[4096];
	int r;

	*out = NULL;
	if (f->type == FT_CUSTOM)
		return ((const struct exp_custom *)f->aux)->to_json(f, obj, out);
	if (!force && !fld_has_value(f, obj))
		return 0;
	switch (f->type) {
	case FT_U32:
		*out = json_integer(*(const uint32_t *)src);
		break;
	case FT_U64:
		*out = json_integer((json_int_t) * (const uint64_t *)src);
		break;
	case FT_BOOL:
		*out = json_boolean(*(const bool *)src);
		break;
	case FT_RANGE: {
		const struct port_range *pr = src;

		if (pr->lo == pr->hi) {
			*out = json_integer(pr->lo);
			break;
		}
		exp_fld_format(f, obj, buf, sizeof(buf));
		*out = json_string(buf);
		break;
	}
	case FT_LIST: {
		const struct exp_list *L = f->aux;
		const char *items = *(char *const *)src;
		size_t n = *(const size_t *)cat(obj, f->off2);

		*out = json_array();
		if (!*out)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			json_t *v;

			r = fld_to_json(&L->elem, items + i * L->elem_size, true, &v);
			if (r || !v || json_array_append_new(*out, v)) {
				json_decref(*out);
				*out = NULL;
				return -ENOMEM;
			}
		}
		return 0;
	}
	case FT_OBJECT: {
		const void *p = f->flags & FF_PTR ? *(void *const *)src : src;

		r = exp_obj_to_json(f->aux, p, out);
		if (r)
			return r;
		/* An inline object that says nothing is left out, like an absent one. */
		if (!force && !json_object_size(*out) && !(f->flags & FF_REQUIRED) &&
		    !(f->flags & FF_PTR)) {
			json_decref(*out);
			*out = NULL;
		}
		return 0;
	}
	default:
		if (is_text_type(f->type)) {
			*out = json_string(*(char *const *)src);
			break;
		}
		exp_fld_format(f, obj, buf, sizeof(buf));
		*out = json_string(buf);
		break;
	}
	return *out ? 0 : -ENOMEM;
}

int exp_obj_to_json(const struct exp_object *o, const void *obj, json_t **out)
{
	json_t *j = json_object();

	*out = NULL;
	if (!j)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_fields; i++) {
		json_t *v;
		int r = fld_to_json(&o->fields[i], obj, false, &v);

		if (r) {
			json_decref(j);
			return r;
		}
		if (v && json_object_set_new(j, o->fields[i].key, v)) {
			json_decref(j);
			return -ENOMEM;
		}
	}
	*out = j;
	return 0;
}

/* Comparing. */

static bool fld_equal(const struct exp_field *f, const void *a, const void *b)
{
	const void *x = cat(a, f->off), *y = cat(b, f->off);

	if (is_text_type(f->type))
		return text_equal(*(char *const *)x, *(char *const *)y);
	switch (f->type) {
	case FT_DURATION:
		return *(const int64_t *)x == *(const int64_t *)y;
	case FT_PERCENT:
	case FT_U32:
	case FT_TIME:
		return *(const uint32_t *)x == *(const uint32_t *)y;
	case FT_SIZE: {
		const struct units_size *p = x, *q = y;

		return p->bytes == q->bytes && p->ppm == q->ppm;
	}
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
	case FT_U64:
		return *(const uint64_t *)x == *(const uint64_t *)y;
	case FT_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case FT_ENUM:
	case FT_SIGNAL:
		return *(const int *)x == *(const int *)y;
	case FT_CPUSET:
		return !memcmp(x, y, sizeof(struct exp_cpuset));
	case FT_EXPECT:
		return *(const int *)x == *(const int *)y &&
		       *(const double *)cat(a, f->off2) == *(const double *)cat(b, f->off2);
	case FT_CIDR:
		return !memcmp(x, y, sizeof(struct net_cidr));
	case FT_RANGE:
		return !memcmp(x, y, sizeof(struct port_range));
	case FT_LIST: {
		const struct exp_list *L = f->aux;
		size_t n = *(const size_t *)cat(a, f->off2);

		if (n != *(const size_t *)cat(b, f->off2))
			return false;
		for (size_t i = 0; i < n; i++) {
			if (!fld_equal(&L->elem, *(char *const *)x + i * L->elem_size,
				       *(char *const *)y + i * L->elem_size))
				return false;
		}
		return true;
	}
	case FT_OBJECT:
		if (f->flags & FF_PTR) {
			const void *p = *(void *const *)x, *q = *(void *const *)y;

			if (!p || !q)
				return p == q;
			return exp_obj_equal(f->aux, p, q);
		}
		return exp_obj_equal(f->aux, x, y);
	case FT_CUSTOM:
		return ((const struct exp_custom *)f->aux)->equal(f, a, b);
	}
	return false;
}

bool exp_obj_equal(const struct exp_object *o, const void *a, const void *b)
{
	for (size_t i = 0; i < o->n_fields; i++) {
		if (!fld_equal(&o->fields[i], a, b))
			return false;
	}
	return true;
}

/* Schema walk: every object reachable from the experiment, each once. */

struct walk {
	const struct exp_object *seen[128];
	size_t n;
	void (*cb)(const char *object, const char *key, void *arg);
	void *arg;
};

static void walk_object(struct walk *w, const struct exp_object *o);

static void walk_field(struct walk *w, const struct exp_field *f)
{
	if (f->type == FT_OBJECT) {
		walk_object(w, f->aux);
	} else if (f->type == FT_LIST) {
		walk_field(w, &((const struct exp_list *)f->aux)->elem);
	} else if (f->type == FT_CUSTOM) {
		const struct exp_custom *c = f->aux;

		if (f->aux2)
			walk_object(w, f->aux2);
		for (size_t i = 0; c->schema && c->schema(i); i++)
			walk_object(w, c->schema(i));
	}
}

static void walk_object(struct walk *w, const struct exp_object *o)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->seen[i] == o)
			return;
	}
	if (w->n < ARRAY_SIZE(w->seen))
		w->seen[w->n++] = o;
	w->cb(o->name, NULL, w->arg);
	for (size_t i = 0; i < o->n_fields; i++)
		w->cb(o->name, o->fields[i].key, w->arg);
	for (size_t i = 0; i < o->n_fields; i++)
		walk_field(w, &o->fields[i]);
}

void exp_schema_walk(void (*cb)(const char *object, const char *key, void *arg), void *arg)
{
	struct walk w = {.cb = cb, .arg = arg};

	walk_object(&w, &exp_experiment_object);
}
