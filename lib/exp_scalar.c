/*
 * Structured scalar fields: signals, CPU lists, times of day, comparisons, CIDRs, port and
 * status ranges, and the units fields (durations, percentages, sizes, rates, factors).
 * Each reads one scalar node into its C value or reports why it cannot, and the ones
 * without a lib/units formatter have their canonical text here too.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "exp_priv.h"

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
/* Structured scalars. */

bool exp_parse_signal(struct exp_ctx *ctx, const struct enode *n, int *out)
{
	const char *names[ARRAY_SIZE(signals)];
	char full[ARRAY_SIZE(signals)][16], more[80];
	const char *s;
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
			snprintf(more, sizeof(more),
				 " (use a name such as SIGTERM or a number from 1 to %d)",
				 MAX_SIGNAL);
			exp_err_unknown(ctx, n, "signal", s, names, ARRAY_SIZE(signals), more);
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

bool exp_parse_cpuset(struct exp_ctx *ctx, const struct enode *n, struct exp_cpuset *out)
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

void exp_fmt_cpuset(const struct exp_cpuset *cs, char *buf, size_t size)
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

bool exp_parse_time(struct exp_ctx *ctx, const struct enode *n, uint32_t *out)
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

bool exp_parse_expect(struct exp_ctx *ctx, const struct enode *n, int *op, double *thr)
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

/* The first 12 bytes of an IPv4-mapped IPv6 address, ::ffff:0:0/96. */
static const uint8_t v4mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};

bool exp_parse_cidr(struct exp_ctx *ctx, const struct enode *n, struct net_cidr *out)
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
	 * IPv4 form (host bits cleared). The bytes are compared rather than read through
	 * IN6_IS_ADDR_V4MAPPED(): addr sits at offset 2, not aligned for a struct in6_addr.
	 */
	if (out->family == AF_INET6 && prefix >= 96 &&
	    !memcmp(out->addr, v4mapped_prefix, sizeof(v4mapped_prefix))) {
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

void exp_fmt_cidr(const struct net_cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, c->prefix);
}

bool exp_parse_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
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
bool exp_parse_unit(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		    void *dst)
{
	char err[512];
	struct units_size sz;
	uint64_t v = 0;
	int64_t ns;
	int r;

	if (f->type == FT_DURATION && n->type == EN_SCALAR && n->scalar == ES_INT && !n->ival &&
	    !n->int_overflow) {
		/* A bare 0 is the one duration that needs no unit. */
		if (!exp_check_range(ctx, f, n, f->type, 0))
			return false;
		*(int64_t *)dst = 0;
		return true;
	}
	if (n->type != EN_SCALAR ||
	    (n->scalar != ES_STRING &&
	     !(f->type == FT_FACTOR && (n->scalar == ES_INT || n->scalar == ES_FLOAT)))) {
		exp_type_error(ctx, f, n);
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
			if (!exp_check_range(ctx, &pf, n, FT_PERCENT, sz.ppm))
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
	if (!exp_check_range(ctx, f, n, f->type, (int64_t)v))
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
