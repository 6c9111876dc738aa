/*
 * Units parsing and formatting with exact integer arithmetic. Numbers are read as decimal
 * digits into a 128-bit mantissa plus a count of fraction digits, so "0.1s" never becomes
 * 0.09999... seconds and the formatters can promise a lossless round trip.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "diag.h"
#include "units.h"

typedef unsigned __int128 u128;

/* More digits than this is never a realistic value and would overflow the mantissa. */
#define MAX_DIGITS 30

struct unit {
	const char *name;
	uint64_t mult;
};

struct num {
	u128 mant;	  /* all digits, point removed */
	unsigned fdigits; /* how many of them follow the point */
};

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_size, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return code;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Read "123" or "1.25" at *p. Returns 0, -EINVAL when no number starts there, -ERANGE, or
 * -EDOM for exponent notation ("1e3"), which would otherwise read as the unit 'e'.
 */
static int parse_num(const char **p, struct num *n)
{
	const char *s = *p;
	unsigned digits = 0;

	n->mant = 0;
	n->fdigits = 0;
	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		if (++digits > MAX_DIGITS)
			return -ERANGE;
		n->mant = n->mant * 10 + (u128)(*s - '0');
	}
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return -EINVAL;
		for (; is_digit(*s); s++) {
			if (++digits > MAX_DIGITS)
				return -ERANGE;
			n->mant = n->mant * 10 + (u128)(*s - '0');
			n->fdigits++;
		}
	}
	if ((*s == 'e' || *s == 'E') &&
	    (is_digit(s[1]) || ((s[1] == '-' || s[1] == '+') && is_digit(s[2]))))
		return -EDOM;
	*p = s;
	return 0;
}

static int exponent_error(char *err, size_t err_size, const char *what, const char *s)
{
	char q[DIAG_QUOTE_SIZE];

	return fail(err, err_size, -EINVAL,
		    "%s %s uses exponent notation, which is not supported; write the digits out "
		    "(1000, not 1e3)",
		    what, diag_quote(q, s));
}

static u128 pow10_u128(unsigned e)
{
	u128 r = 1;

	while (e--)
		r *= 10;
	return r;
}

/* n * mult as an exact integer. Returns 0, -EDOM when not whole, -ERANGE on overflow. */
static int scale(const struct num *n, uint64_t mult, u128 *out)
{
	u128 prod, div = pow10_u128(n->fdigits);

	if (__builtin_mul_overflow(n->mant, (u128)mult, &prod))
		return -ERANGE;
	if (prod % div)
		return -EDOM;
	*out = prod / div;
	return 0;
}

/* The run of unit characters at p: letters, '%', '/', and the micro sign. */
static size_t unit_len(const char *p)
{
	size_t i = 0;

	for (;;) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '%' || c == '/')
			i++;
		else if (c == 0xc2 && (unsigned char)p[i + 1] == 0xb5)
			i += 2;
		else
			return i;
	}
}

/* The unit text p[0..ul), its first 32 bytes quoted into uq, for an unknown-unit message. */
static const char *quote_unit(char *uq, const char *p, size_t ul)
{
	char ubuf[64];

	snprintf(ubuf, sizeof(ubuf), "%.*s", (int)(ul < 32 ? ul : 32), p);
	return diag_quote(uq, ubuf);
}

static const struct unit *find_unit(const struct unit *tab, size_t n, const char *u, size_t len,
				    bool nocase)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(tab[i].name) != len)
			continue;
		if (nocase ? !strncasecmp(tab[i].name, u, len) : !strncmp(tab[i].name, u, len))
			return &tab[i];
	}
	return NULL;
}

/*
 * The number at *p, s being the whole text for messages: 0 with *p past it, or the error in
 * err. what names the kind of value ("rate"); bad ends the message for text that is not a
 * number, ": expected a number" unless the kind has a better hint.
 */
static int read_num(const char *s, const char *what, const char *bad, const char **p, struct num *n,
		    char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	int r = parse_num(p, n);

	if (r == -EDOM)
		return exponent_error(err, err_size, what, s);
	if (r == -ERANGE)
		return fail(err, err_size, -ERANGE, "%s %s is too large", what, diag_quote(q, s));
	if (r)
		return fail(err, err_size, -EINVAL, "invalid %s %s%s", what, diag_quote(q, s),
			    bad ? bad : ": expected a number");
	return 0;
}

/*
 * How every value but a duration starts: not empty, an optional '-', a number; *p is left
 * past the number. The sign is refused by the caller, after the unit: "-5x" is negative,
 * "-5q" has a wrong unit.
 */
static int read_lead(const char *s, const char *what, const char *bad, const char **p,
		     struct num *n, char *err, size_t err_size)
{
	if (!*s)
		return fail(err, err_size, -EINVAL, "empty %s", what);
	*p = s;
	if (**p == '-')
		(*p)++;
	return read_num(s, what, bad, p, n, err, err_size);
}

/*
 * The lead of a value whose only unit is one mark after the number ('%', 'x'): anything but
 * the mark or nothing is refused with the same hint as text that is not a number. Whether
 * the mark may be left out is the caller's to say.
 */
static int read_marked(const char *s, const char *what, const char *mark, const char *hint,
		       const char **p, struct num *n, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	int r;

	r = read_lead(s, what, hint, p, n, err, err_size);
	if (r)
		return r;
	if (**p && strcmp(*p, mark))
		return fail(err, err_size, -EINVAL, "invalid %s %s%s", what, diag_quote(q, s),
			    hint);
	return 0;
}

/*
 * How every value but a duration ends once its text is known good: not negative, and the
 * number times mult whole and at most max. frac says why a fraction is refused ("is not a
 * whole number of bytes").
 */
static int finish(const char *s, const char *what, const struct num *n, uint64_t mult, uint64_t max,
		  const char *frac, uint64_t *out, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	u128 v;
	int r;

	if (*s == '-')
		return fail(err, err_size, -ERANGE, "%s %s is negative", what, diag_quote(q, s));
	r = scale(n, mult, &v);
	if (r == -EDOM)
		return fail(err, err_size, -EINVAL, "%s %s %s", what, diag_quote(q, s), frac);
	if (r || v > max)
		return fail(err, err_size, -ERANGE, "%s %s is too large", what, diag_quote(q, s));
	*out = (uint64_t)v;
	return 0;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct unit duration_units[] = {
	{"d", 86400ULL * UNITS_NSEC_PER_SEC},
	{"h", 3600ULL * UNITS_NSEC_PER_SEC},
	{"m", 60ULL * UNITS_NSEC_PER_SEC},
	{"s", UNITS_NSEC_PER_SEC},
	{"ms", 1000000},
	{"us", 1000},
	{"\xc2\xb5s", 1000},
	{"ns", 1},
};

#define DURATION_UNITS "ns, us, ms, s, m, h or d"

int units_parse_duration(const char *s, int64_t *ns, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE], uq[DIAG_QUOTE_SIZE];
	const char *p = s;
	uint64_t last = UINT64_MAX;
	u128 total = 0;
	bool neg = false;

	if (!*s)
		return fail(err, err_size, -EINVAL, "empty duration");
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (*p == '-') {
		neg = true;
		p++;
	}
	while (*p) {
		const struct unit *u;
		struct num n;
		u128 part;
		size_t ul;
		int r;

		r = read_num(s, "duration", NULL, &p, &n, err, err_size);
		if (r)
			return r;
		ul = unit_len(p);
		if (!ul) {
			if (*p)
				return fail(err, err_size, -EINVAL, "invalid duration %s",
					    diag_quote(q, s));
			return fail(err, err_size, -EINVAL,
				    "duration %s has no unit (use " DURATION_UNITS ")",
				    diag_quote(q, s));
		}
		u = find_unit(duration_units, ARRAY_SIZE(duration_units), p, ul, false);
		if (!u)
			return fail(err, err_size, -EINVAL,
				    "duration %s has unknown unit %s (use " DURATION_UNITS ")",
				    diag_quote(q, s), quote_unit(uq, p, ul));
		if (u->mult >= last)
			return fail(err, err_size, -EINVAL,
				    "duration %s must list units from largest to smallest, as in "
				    "'1m30s'",
				    diag_quote(q, s));
		last = u->mult;
		p += ul;
		r = scale(&n, u->mult, &part);
		if (r == -EDOM)
			return fail(err, err_size, -EINVAL,
				    "duration %s is not a whole number of nanoseconds",
				    diag_quote(q, s));
		total += part;
		if (r || total > INT64_MAX)
			return fail(err, err_size, -ERANGE, "duration %s is too large",
				    diag_quote(q, s));
	}
	if (neg)
		return fail(err, err_size, -ERANGE, "duration %s is negative", diag_quote(q, s));
	*ns = (int64_t)total;
	return 0;
}

int units_parse_percent(const char *s, uint64_t *ppm, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	const char *p = s;
	struct num n;
	int r;

	r = read_marked(s, "percentage", "%", " (write it like '5%')", &p, &n, err, err_size);
	if (r)
		return r;
	if (!*p)
		return fail(err, err_size, -EINVAL, "percentage %s needs a '%%' sign, as in '%s%%'",
			    diag_quote(q, s), s);
	return finish(s, "percentage", &n, UNITS_PPM_ONE / 100, UINT32_MAX,
		      "has more than 4 decimals", ppm, err, err_size);
}

static const struct unit size_units[] = {
	{"B", 1},
	{"kB", 1000ULL},
	{"KB", 1000ULL},
	{"MB", 1000ULL * 1000},
	{"GB", 1000ULL * 1000 * 1000},
	{"TB", 1000ULL * 1000 * 1000 * 1000},
	{"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
	{"KiB", 1ULL << 10},
	{"MiB", 1ULL << 20},
	{"GiB", 1ULL << 30},
	{"TiB", 1ULL << 40},
	{"PiB", 1ULL << 50},
};

#define SIZE_UNITS "B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB"
/* What a (bit) rate field takes: the hint of its unit errors lists both kinds. */
#define RATE_UNITS                                                                          \
	"bit, kbit, mbit, gbit or tbit, or a byte unit followed by '/s': B/s, kB/s, MB/s, " \
	"GB/s, TB/s, PB/s, KiB/s, MiB/s, GiB/s, TiB/s or PiB/s"

/*
 * Parses "<num><size unit>" at the start of s; *end gets what follows the unit. more is added
 * to the list of units in a hint (what else the field takes), or NULL.
 */
static int parse_bytes(const char *s, const char *what, const char *suffix, const char *more,
		       uint64_t *out, const char **end, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE], uq[DIAG_QUOTE_SIZE];
	const struct unit *u;
	const char *p = s;
	struct num n;
	size_t ul;
	int r;

	r = read_lead(s, what, NULL, &p, &n, err, err_size);
	if (r)
		return r;
	ul = unit_len(p);
	/* A trailing "/s" belongs to the caller, not to the unit. */
	if (suffix && ul >= strlen(suffix) && !strcmp(p + ul - strlen(suffix), suffix))
		ul -= strlen(suffix);
	if (!ul)
		return fail(err, err_size, -EINVAL, "%s %s has no unit (use " SIZE_UNITS "%s%s)",
			    what, diag_quote(q, s), suffix ? " followed by '/s'" : "",
			    more ? more : "");
	u = find_unit(size_units, ARRAY_SIZE(size_units), p, ul, false);
	if (!u)
		return fail(err, err_size, -EINVAL,
			    "%s %s has unknown unit %s (use " SIZE_UNITS "%s%s)", what,
			    diag_quote(q, s), quote_unit(uq, p, ul),
			    suffix ? " followed by '/s'" : "", more ? more : "");
	r = finish(s, what, &n, u->mult, INT64_MAX, "is not a whole number of bytes", out, err,
		   err_size);
	if (r)
		return r;
	*end = p + ul;
	return 0;
}

int units_parse_size(const char *s, bool allow_percent, struct units_size *out, char *err,
		     size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	const char *end;
	uint64_t v;
	int r;

	if (!*s)
		return fail(err, err_size, -EINVAL, "empty size");
	if (s[strlen(s) - 1] == '%') {
		if (!allow_percent)
			return fail(err, err_size, -EINVAL,
				    "size %s cannot be a percentage here; use a unit such as MiB",
				    diag_quote(q, s));
		r = units_parse_percent(s, &v, err, err_size);
		if (r)
			return r;
		out->bytes = 0;
		out->ppm = (uint32_t)v;
		return 0;
	}
	r = parse_bytes(s, "size", NULL, allow_percent ? ", or a percentage such as '10%'" : NULL,
			&v, &end, err, err_size);
	if (r)
		return r;
	if (*end)
		return fail(err, err_size, -EINVAL, "invalid size %s", diag_quote(q, s));
	out->bytes = v;
	out->ppm = 0;
	return 0;
}

static const struct unit bit_units[] = {
	{"bit", 1},
	{"kbit", 1000ULL},
	{"mbit", 1000ULL * 1000},
	{"gbit", 1000ULL * 1000 * 1000},
	{"tbit", 1000ULL * 1000 * 1000 * 1000},
};

/* tc reads "mbps" as megabytes, people as megabits: neither reading is safe to guess. */
static const char *const ambiguous_rates[] = {"bps", "kbps", "mbps", "gbps", "tbps"};

int units_parse_rate(const char *s, uint64_t *bits_per_sec, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	const struct unit *u;
	const char *p = s;
	struct num n;
	size_t ul;
	int r;

	r = read_lead(s, "rate", NULL, &p, &n, err, err_size);
	if (r)
		return r;
	ul = unit_len(p);
	if (!ul)
		return fail(err, err_size, -EINVAL, "rate %s has no unit (use " RATE_UNITS ")",
			    diag_quote(q, s));
	for (size_t i = 0; i < ARRAY_SIZE(ambiguous_rates); i++) {
		static const char byte_prefix[] = {
			['k'] = 'k', ['m'] = 'M', ['g'] = 'G', ['t'] = 'T'};
		char bits[8] = "", bytes[8] = "";

		if (strlen(ambiguous_rates[i]) != ul || strncasecmp(p, ambiguous_rates[i], ul))
			continue;
		if (ul == 4) {
			bits[0] = ambiguous_rates[i][0];
			bytes[0] = byte_prefix[(unsigned char)ambiguous_rates[i][0]];
		}
		return fail(err, err_size, -EINVAL,
			    "rate %s is ambiguous: write '%.*s%sbit' for bits or '%.*s%sB/s' for "
			    "bytes per second",
			    diag_quote(q, s), (int)(p - s), s, bits, (int)(p - s), s, bytes);
	}
	u = find_unit(bit_units, ARRAY_SIZE(bit_units), p, ul, true);
	if (!u) {
		size_t bl = ul >= 2 && !strncmp(p + ul - 2, "/s", 2) ? ul - 2 : ul;
		char uq[DIAG_QUOTE_SIZE];
		uint64_t bytes;
		const char *end;

		/*
		 * Not a bit unit: it must be a byte rate such as "12MB/s". A unit of neither
		 * kind is named with the units of both.
		 */
		if (!find_unit(size_units, ARRAY_SIZE(size_units), p, bl, false))
			return fail(err, err_size, -EINVAL,
				    "rate %s has unknown unit %s (use " RATE_UNITS ")",
				    diag_quote(q, s), quote_unit(uq, p, ul));
		r = parse_bytes(s, "rate", "/s", NULL, &bytes, &end, err, err_size);
		if (r)
			return r;
		if (strcmp(end, "/s"))
			return fail(err, err_size, -EINVAL,
				    "rate %s has no '/s' after its byte unit (or use kbit, mbit, "
				    "gbit)",
				    diag_quote(q, s));
		if (bytes > INT64_MAX / 8)
			return fail(err, err_size, -ERANGE, "rate %s is too large",
				    diag_quote(q, s));
		*bits_per_sec = bytes * 8;
		return 0;
	}
	if (p[ul])
		return fail(err, err_size, -EINVAL, "invalid rate %s", diag_quote(q, s));
	return finish(s, "rate", &n, u->mult, INT64_MAX, "is not a whole number of bits",
		      bits_per_sec, err, err_size);
}

int units_parse_byte_rate(const char *s, uint64_t *bytes_per_sec, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	const char *end;
	uint64_t v;
	int r;

	r = parse_bytes(s, "byte rate", "/s", NULL, &v, &end, err, err_size);
	if (r)
		return r;
	if (strcmp(end, "/s"))
		return fail(err, err_size, -EINVAL, "byte rate %s needs '/s', as in '50MiB/s'",
			    diag_quote(q, s));
	*bytes_per_sec = v;
	return 0;
}

int units_parse_req_rate(const char *s, uint64_t *per_kmin, char *err, size_t err_size)
{
	char q[DIAG_QUOTE_SIZE];
	const char *p = s;
	uint64_t mult;
	struct num n;
	int r;

	r = read_lead(s, "request rate", NULL, &p, &n, err, err_size);
	if (r)
		return r;
	if (!strcmp(p, "/s"))
		mult = 60000;
	else if (!strcmp(p, "/m"))
		mult = 1000;
	else
		return fail(err, err_size, -EINVAL,
			    "request rate %s needs a unit, as in '5/s' or '30/m'",
			    diag_quote(q, s));
	return finish(s, "request rate", &n, mult, INT64_MAX, "has too many decimals", per_kmin,
		      err, err_size);
}

int units_parse_factor(const char *s, uint64_t *milli, char *err, size_t err_size)
{
	const char *p = s;
	struct num n;
	int r;

	r = read_marked(s, "factor", "x", " (write it like '14.4x')", &p, &n, err, err_size);
	if (r)
		return r;
	return finish(s, "factor", &n, 1000, INT64_MAX, "has more than 3 decimals", milli, err,
		      err_size);
}

/* "12.5" from 12500 and 1000: an integer and its fraction with trailing zeros dropped. */
static char *fmt_fixed(char *buf, size_t size, uint64_t v, uint64_t one, unsigned digits,
		       const char *suffix)
{
	uint64_t ip = v / one, frac = v % one;
	int n;

	if (!frac) {
		snprintf(buf, size, "%" PRIu64 "%s", ip, suffix);
		return buf;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	n = (int)digits;
	snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64 "%s", ip, n, frac, suffix);
	return buf;
}

char *units_fmt_duration(char *buf, int64_t ns)
{
	static const struct unit big[] = {
		{"d", 86400ULL * UNITS_NSEC_PER_SEC},
		{"h", 3600ULL * UNITS_NSEC_PER_SEC},
		{"m", 60ULL * UNITS_NSEC_PER_SEC},
	};
	static const struct unit small[] = {
		{"s", UNITS_NSEC_PER_SEC},
		{"ms", 1000000},
		{"us", 1000},
	};
	uint64_t v;
	size_t o = 0;

	if (ns == 0) {
		strcpy(buf, "0s");
		return buf;
	}
	if (ns < 0) {
		buf[o++] = '-';
		v = (uint64_t)0 - (uint64_t)ns;
	} else {
		v = (uint64_t)ns;
	}
	/* Days, hours and minutes as whole parts: "1h30m". */
	for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
		if (v < big[i].mult)
			continue;
		o += (size_t)snprintf(buf + o, UNITS_FMT_MAX - o, "%" PRIu64 "%s", v / big[i].mult,
				      big[i].name);
		v %= big[i].mult;
	}
	if (!v) {
		buf[o] = '\0';
		return buf;
	}
	/* The rest, under a minute, in one unit with a fraction: "1.5s", "250ms". */
	for (size_t i = 0; i < ARRAY_SIZE(small); i++) {
		unsigned digits = 0;

		if (v < small[i].mult)
			continue;
		for (uint64_t m = small[i].mult; m > 1; m /= 10)
			digits++;
		fmt_fixed(buf + o, UNITS_FMT_MAX - o, v, small[i].mult, digits, small[i].name);
		return buf;
	}
	snprintf(buf + o, UNITS_FMT_MAX - o, "%" PRIu64 "ns", v);
	return buf;
}

char *units_fmt_percent(char *buf, uint64_t ppm)
{
	return fmt_fixed(buf, UNITS_FMT_MAX, ppm, UNITS_PPM_ONE / 100, 4, "%");
}

char *units_fmt_bytes(char *buf, uint64_t bytes)
{
	/* Binary units first: sizes people write are mostly MiB and GiB. */
	static const struct unit order[] = {
		{"PiB", 1ULL << 50},
		{"TiB", 1ULL << 40},
		{"GiB", 1ULL << 30},
		{"MiB", 1ULL << 20},
		{"KiB", 1ULL << 10},
		{"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
		{"TB", 1000ULL * 1000 * 1000 * 1000},
		{"GB", 1000ULL * 1000 * 1000},
		{"MB", 1000ULL * 1000},
		{"kB", 1000ULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(order) && bytes; i++) {
		if (bytes % order[i].mult == 0) {
			snprintf(buf, UNITS_FMT_MAX, "%" PRIu64 "%s", bytes / order[i].mult,
				 order[i].name);
			return buf;
		}
	}
	snprintf(buf, UNITS_FMT_MAX, "%" PRIu64 "B", bytes);
	return buf;
}

char *units_fmt_size(char *buf, const struct units_size *sz)
{
	if (sz->ppm)
		return units_fmt_percent(buf, sz->ppm);
	return units_fmt_bytes(buf, sz->bytes);
}

char *units_fmt_rate(char *buf, uint64_t bps)
{
	for (size_t i = ARRAY_SIZE(bit_units); i-- > 1;) {
		if (bps && bps % bit_units[i].mult == 0) {
			snprintf(buf, UNITS_FMT_MAX, "%" PRIu64 "%s", bps / bit_units[i].mult,
				 bit_units[i].name);
			return buf;
		}
	}
	/* Whole binary byte rates read better as "1MiB/s" than as "8388608bit". */
	if (bps && bps % (8 << 10) == 0) {
		units_fmt_bytes(buf, bps / 8);
		strcat(buf, "/s");
		return buf;
	}
	snprintf(buf, UNITS_FMT_MAX, "%" PRIu64 "bit", bps);
	return buf;
}

char *units_fmt_byte_rate(char *buf, uint64_t bytes_per_sec)
{
	units_fmt_bytes(buf, bytes_per_sec);
	strcat(buf, "/s");
	return buf;
}

char *units_fmt_req_rate(char *buf, uint64_t per_kmin)
{
	if (per_kmin % 60000 == 0 || per_kmin % 1000 != 0) {
		/* Per second when that is exact in thousandths, else per minute. */
		if (per_kmin % 60 == 0)
			return fmt_fixed(buf, UNITS_FMT_MAX, per_kmin / 60, 1000, 3, "/s");
	}
	return fmt_fixed(buf, UNITS_FMT_MAX, per_kmin, 1000, 3, "/m");
}

char *units_fmt_factor(char *buf, uint64_t milli)
{
	return fmt_fixed(buf, UNITS_FMT_MAX, milli, 1000, 3, "x");
}
