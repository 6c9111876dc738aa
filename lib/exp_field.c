/*
 * The table engine: one row per key describes how to read, check, write, compare and free
 * a field, so adding a key is adding a row and the JSON Schema test can walk every table.
 * The value parsers live beside it: text in exp_text.c, structured scalars in exp_scalar.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_priv.h"

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

/* Enums. */

const char *exp_enum_name(const struct exp_enum *e, int v)
{
	if (v < 0 || (size_t)v >= e->n || !e->names[v])
		return "?";
	return e->names[v];
}

/*
 * Where the plain number kinds keep their value: a duration in an int64_t, a percentage, a
 * u32 and a time of day in a uint32_t, the other counts in a uint64_t. 0 for other kinds.
 */
static size_t num_size(uint8_t type)
{
	switch (type) {
	case FT_DURATION:
		return sizeof(int64_t);
	case FT_PERCENT:
	case FT_U32:
	case FT_TIME:
		return sizeof(uint32_t);
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
	case FT_U64:
		return sizeof(uint64_t);
	default:
		return 0;
	}
}

/* The value of a plain number of the kind type (num_size() says it is one). */
static int64_t num_load(uint8_t type, const void *src)
{
	if (type == FT_DURATION)
		return *(const int64_t *)src;
	if (num_size(type) == sizeof(uint32_t))
		return *(const uint32_t *)src;
	/* The bits of a uint64_t, taken back as unsigned by whoever formats them. */
	return (int64_t)((const uint64_t *)src)[0];
}

/* Store v in a plain number of the kind type (num_size() says it is one). */
static void num_store(uint8_t type, void *dst, int64_t v)
{
	if (type == FT_DURATION)
		*(int64_t *)dst = v;
	else if (num_size(type) == sizeof(uint32_t))
		*(uint32_t *)dst = (uint32_t)v;
	else
		*(uint64_t *)dst = (uint64_t)v;
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

void exp_type_error(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n)
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
	/* Every unit kind but a duration is an unsigned count; an FT_SIZE number is bytes. */
	static char *(*const fmt_count[])(char *, uint64_t) = {
		[FT_PERCENT] = units_fmt_percent,     [FT_SIZE] = units_fmt_bytes,
		[FT_BYTES] = units_fmt_bytes,	      [FT_RATE] = units_fmt_rate,
		[FT_BYTE_RATE] = units_fmt_byte_rate, [FT_REQ_RATE] = units_fmt_req_rate,
		[FT_FACTOR] = units_fmt_factor,
	};

	if (type == FT_DURATION)
		units_fmt_duration(buf, v);
	else if (type < ARRAY_SIZE(fmt_count) && fmt_count[type])
		fmt_count[type](buf, (uint64_t)v);
	else
		snprintf(buf, UNITS_FMT_MAX, "%" PRId64, v);
}

/*
 * A range message states exactly what is accepted. A minimum of the smallest unit (1ns,
 * 0.0001%, one byte) means "more than zero" and is said that way: "(0% to 100%)" would
 * claim 0% is accepted, "(0.0001% to 100%)" would read as a typo. Counts (FT_U32, FT_U64)
 * have no such unit and show their minimum.
 */
bool exp_check_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
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

static bool parse_int(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		      void *dst)
{
	if (n->type != EN_SCALAR || n->scalar != ES_INT) {
		exp_type_error(ctx, f, n);
		return false;
	}
	if (n->int_overflow) {
		exp_err(ctx, n, "%s is out of range (%" PRId64 " to %" PRId64 ")", n->str, f->min,
			f->max);
		return false;
	}
	if (!exp_check_range(ctx, f, n, f->type, n->ival))
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
		exp_type_error(ctx, f, n);
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
		exp_type_error(ctx, f, n);
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
	if (is_text_type(f->type)) {
		char *copy;

		s = exp_text_parse(ctx, f, n, buf, sizeof(buf));
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
	switch (f->type) {
	case FT_DURATION:
	case FT_PERCENT:
	case FT_SIZE:
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
		return exp_parse_unit(ctx, f, n, dst);
	case FT_U32:
	case FT_U64:
		return parse_int(ctx, f, n, dst);
	case FT_BOOL:
		if (n->type != EN_SCALAR || n->scalar != ES_BOOL) {
			exp_type_error(ctx, f, n);
			return false;
		}
		*(bool *)dst = n->bval;
		return true;
	case FT_ENUM:
		return parse_enum(ctx, f, n, dst);
	case FT_SIGNAL:
		return exp_parse_signal(ctx, n, dst);
	case FT_CPUSET:
		return exp_parse_cpuset(ctx, n, dst);
	case FT_TIME:
		return exp_parse_time(ctx, n, dst);
	case FT_EXPECT:
		return exp_parse_expect(ctx, n, dst, at(obj, f->off2));
	case FT_CIDR:
		return exp_parse_cidr(ctx, n, dst);
	case FT_RANGE:
		return exp_parse_range(ctx, f, n, dst);
	case FT_LIST:
		return parse_list(ctx, f, n, obj);
	case FT_OBJECT: {
		const struct exp_object *sub = f->aux;
		size_t errs = diag_total(ctx->diags);
		void *p = dst;

		if (n->type != EN_MAP) {
			exp_type_error(ctx, f, n);
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
		if (num_size(f->type)) {
			num_store(f->type, dst, f->def);
			continue;
		}
		switch (f->type) {
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
	case FT_SIZE:
		snprintf(buf, size, "%s", units_fmt_size(tmp, src));
		break;
	case FT_DURATION:
	case FT_PERCENT:
	case FT_BYTES:
	case FT_RATE:
	case FT_BYTE_RATE:
	case FT_REQ_RATE:
	case FT_FACTOR:
		fmt_number(f->type, num_load(f->type, src), tmp);
		snprintf(buf, size, "%s", tmp);
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
		exp_fmt_cpuset(src, buf, size);
		break;
	case FT_TIME:
		snprintf(buf, size, "%02u:%02u", *(const uint32_t *)src / 60,
			 *(const uint32_t *)src % 60);
		break;
	case FT_LIST: {
		/* The elements, space-separated (as a plan lists CIDRs); cut at size. */
		const struct exp_list *L = f->aux;
		const char *arr = *(const char *const *)src;
		size_t n = *(const size_t *)cat(obj, f->off2), used = 0;

		for (size_t i = 0; i < n && used + 1 < size; i++) {
			char v[512];
			int w;

			exp_fld_format(&L->elem, arr + i * L->elem_size, v, sizeof(v));
			w = snprintf(buf + used, size - used, "%s%s", i ? " " : "", v);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		break;
	}
	case FT_EXPECT: {
		char num[64];

		exp_fmt_double(num, sizeof(num), *(const double *)cat(obj, f->off2));
		snprintf(buf, size, "%s %s", exp_enum_name(&exp_cmp_enum, *(const int *)src), num);
		break;
	}
	case FT_CIDR:
		exp_fmt_cidr(src, buf, size);
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
	if (num_size(f->type))
		return num_load(f->type, src) != 0;
	switch (f->type) {
	case FT_SIZE:
		return ((const struct units_size *)src)->bytes ||
		       ((const struct units_size *)src)->ppm;
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
	if (num_size(f->type))
		return !memcmp(x, y, num_size(f->type));
	switch (f->type) {
	case FT_SIZE: {
		const struct units_size *p = x, *q = y;

		return p->bytes == q->bytes && p->ppm == q->ppm;
	}
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
