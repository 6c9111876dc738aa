/*
 * YAML (and JSON, read as YAML flow syntax) to a tree of nodes with positions. The tree is
 * built from libyaml's event stream rather than its document API so that every limit
 * (size, depth, node count, list length) is enforced while reading, and so that anchors,
 * aliases, tags and duplicate keys can be refused with a position.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "exp_priv.h"

#define ARENA_CHUNK (64 * 1024)

struct exp_arena_chunk {
	struct exp_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void exp_ctx_init(struct exp_ctx *ctx, struct diag_list *diags)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->diags = diags;
}

void exp_ctx_release(struct exp_ctx *ctx)
{
	struct exp_arena_chunk *c = ctx->arena.head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	ctx->arena.head = NULL;
}

void *exp_ctx_alloc(struct exp_ctx *ctx, size_t size)
{
	struct exp_arena_chunk *c = ctx->arena.head;
	size_t need = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	void *p;

	if (!c || c->cap - c->used < need) {
		size_t cap = need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c) {
			ctx->nomem = true;
			return NULL;
		}
		c->used = 0;
		c->cap = cap;
		/* A big block goes behind the current chunk, which keeps its free space. */
		if (ctx->arena.head && cap != ARENA_CHUNK) {
			c->next = ctx->arena.head->next;
			ctx->arena.head->next = c;
		} else {
			c->next = ctx->arena.head;
			ctx->arena.head = c;
		}
	}
	p = (char *)c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

static bool simple_key(const char *key)
{
	size_t i;

	for (i = 0; key[i]; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return i > 0 && i <= 64;
}

static void path_append(struct exp_ctx *ctx, const char *s)
{
	size_t room = sizeof(ctx->path) - ctx->plen;
	size_t n = strlen(s);

	if (n >= room) {
		/* Keep the path a valid string; a cut path still points the right way. */
		n = room - 1;
	}
	memcpy(ctx->path + ctx->plen, s, n);
	ctx->plen += n;
	ctx->path[ctx->plen] = '\0';
}

size_t exp_path_key(struct exp_ctx *ctx, const char *key)
{
	size_t old = ctx->plen;
	char q[DIAG_QUOTE_SIZE];

	if (ctx->plen)
		path_append(ctx, ".");
	path_append(ctx, simple_key(key) ? key : diag_quote(q, key));
	return old;
}

size_t exp_path_index(struct exp_ctx *ctx, size_t i)
{
	size_t old = ctx->plen;
	char buf[32];

	snprintf(buf, sizeof(buf), "[%zu]", i);
	path_append(ctx, buf);
	return old;
}

void exp_path_set(struct exp_ctx *ctx, size_t len)
{
	if (len < ctx->plen) {
		ctx->plen = len;
		ctx->path[len] = '\0';
	}
}

void exp_verr(struct exp_ctx *ctx, const struct enode *n, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (diag_add(ctx->diags, n ? n->line : 0, n ? n->col : 0, ctx->path, "%s", msg))
		ctx->nomem = true;
}

void exp_err(struct exp_ctx *ctx, const struct enode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	exp_verr(ctx, n, fmt, ap);
	va_end(ap);
}

void exp_err_key(struct exp_ctx *ctx, const struct enode *map, const char *key, const char *fmt,
		 ...)
{
	const struct enode *v = exp_node_get(map, key);
	size_t old = exp_path_key(ctx, key);
	va_list ap;

	va_start(ap, fmt);
	exp_verr(ctx, v ? v : map, fmt, ap);
	va_end(ap);
	exp_path_set(ctx, old);
}

void exp_err_unknown(struct exp_ctx *ctx, const struct enode *n, const char *what, const char *name,
		     const char *const *cands, size_t n_cands, const char *otherwise)
{
	const char *hint = exp_did_you_mean(name, cands, n_cands);
	char q[DIAG_QUOTE_SIZE];

	if (hint)
		exp_err(ctx, n, "unknown %s %s; did you mean '%s'?", what, diag_quote(q, name),
			hint);
	else
		exp_err(ctx, n, "unknown %s %s%s", what, diag_quote(q, name), otherwise);
}

const struct enode *exp_node_key(const struct enode *map, const char *key)
{
	if (!map || map->type != EN_MAP)
		return NULL;
	for (const struct enode *k = map->first; k; k = k->next) {
		if (!strcmp(k->str, key))
			return k;
	}
	return NULL;
}

const struct enode *exp_node_get(const struct enode *map, const char *key)
{
	const struct enode *k = exp_node_key(map, key);

	return k ? k->value : NULL;
}

const struct enode *exp_node_item(const struct enode *seq, size_t i)
{
	const struct enode *n;

	if (!seq || seq->type != EN_SEQ)
		return NULL;
	for (n = seq->first; n && i; n = n->next)
		i--;
	return n;
}

const char *exp_node_what(const struct enode *n)
{
	if (n->type == EN_MAP)
		return "a mapping";
	if (n->type == EN_SEQ)
		return "a list";
	switch (n->scalar) {
	case ES_NULL:
		return "null";
	case ES_BOOL:
		return "a boolean";
	case ES_INT:
		return "an integer";
	case ES_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}

/* YAML 1.2 core schema: what a plain (unquoted) scalar denotes. */

static bool all_of(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!strchr(set, *s))
			return false;
	}
	return true;
}

static bool is_float(const char *s)
{
	static const char *const special[] = {".inf",  ".Inf",	".INF",	 "+.inf", "+.Inf", "+.INF",
					      "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
	bool digits = false;

	for (size_t i = 0; i < ARRAY_SIZE(special); i++) {
		if (!strcmp(s, special[i]))
			return true;
	}
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static void resolve_plain(struct enode *n)
{
	const char *s = n->str;
	const char *digits = s;
	int base = 10;

	n->scalar = ES_STRING;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL")) {
		n->scalar = ES_NULL;
		return;
	}
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		n->scalar = ES_BOOL;
		n->bval = true;
		return;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		n->scalar = ES_BOOL;
		return;
	}
	if (!strncmp(s, "0o", 2) && all_of(s + 2, "01234567")) {
		base = 8;
		digits = s + 2;
	} else if (!strncmp(s, "0x", 2) && all_of(s + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		digits = s + 2;
	} else if (!all_of(*s == '-' || *s == '+' ? s + 1 : s, "0123456789")) {
		if (is_float(s))
			n->scalar = ES_FLOAT;
		return;
	}
	n->scalar = ES_INT;
	errno = 0;
	if (base == 10) {
		n->ival = strtoll(digits, NULL, 10);
	} else {
		unsigned long long v = strtoull(digits, NULL, base);

		n->ival = (int64_t)v;
		if (v > INT64_MAX)
			errno = ERANGE;
	}
	if (errno == ERANGE)
		n->int_overflow = true;
}

/* Tree building. */

struct build {
	struct enode *stack[EXP_MAX_DEPTH + 1];
	struct enode *key[EXP_MAX_DEPTH + 1]; /* a mapping's key still waiting for its value */
	bool skip[EXP_MAX_DEPTH + 1];	      /* that key was a repeat: drop its value */
	size_t plen[EXP_MAX_DEPTH + 1];	      /* path length to restore when the level ends */
	size_t depth;
	struct enode *root;
};

static struct enode *new_node(struct exp_ctx *ctx, uint8_t type, yaml_mark_t mark)
{
	struct enode *n;

	if (++ctx->nodes > EXP_MAX_NODES) {
		/* Reported here for every kind of node; the caller's false ends the parse. */
		if (!ctx->nomem &&
		    diag_add(ctx->diags, (unsigned)mark.line + 1, (unsigned)mark.column + 1, "",
			     "document has more than %d values", EXP_MAX_NODES))
			ctx->nomem = true;
		return NULL;
	}
	n = exp_ctx_alloc(ctx, sizeof(*n));
	if (!n)
		return NULL;
	n->type = type;
	n->line = (uint32_t)mark.line + 1;
	n->col = (uint32_t)mark.column + 1;
	return n;
}

static void append(struct enode *parent, struct enode *n)
{
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	parent->n++;
}

/* Hang n under the open container. Returns false when building must stop. */
static bool attach(struct exp_ctx *ctx, struct build *b, struct enode *n)
{
	char q[DIAG_QUOTE_SIZE];
	struct enode *parent;
	size_t d;

	if (!b->depth) {
		b->root = n;
		return true;
	}
	d = b->depth - 1;
	parent = b->stack[d];
	if (parent->type == EN_SEQ) {
		if (parent->n >= EXP_MAX_LIST) {
			exp_err(ctx, n, "list has more than %d items", EXP_MAX_LIST);
			return false;
		}
		append(parent, n);
		return true;
	}
	if (b->key[d]) {
		if (!b->skip[d])
			b->key[d]->value = n;
		b->key[d] = NULL;
		return true;
	}
	if (n->reported) {
		/* An alias or a tagged key: reported; its value is read and dropped. */
		b->key[d] = n;
		b->skip[d] = true;
		return true;
	}
	if (n->type != EN_SCALAR) {
		exp_err(ctx, n, "mapping keys must be plain text, not %s", exp_node_what(n));
		return false;
	}
	for (struct enode *k = parent->first; k; k = k->next) {
		size_t old;

		if (k->len != n->len || memcmp(k->str, n->str, n->len))
			continue;
		old = exp_path_key(ctx, n->str);
		exp_err(ctx, n, "duplicate key %s (first given at line %u, column %u)",
			diag_quote(q, n->str), k->line, k->col);
		exp_path_set(ctx, old);
		b->key[d] = n;
		b->skip[d] = true;
		return true;
	}
	if (parent->n >= EXP_MAX_MAP_KEYS) {
		exp_err(ctx, n, "mapping has more than %d keys", EXP_MAX_MAP_KEYS);
		return false;
	}
	append(parent, n);
	b->key[d] = n;
	b->skip[d] = false;
	return true;
}

/* Extend the path by the name the next child gets in the open container. */
static void path_child(struct exp_ctx *ctx, struct build *b)
{
	struct enode *parent;

	if (!b->depth)
		return;
	parent = b->stack[b->depth - 1];
	if (parent->type == EN_SEQ)
		exp_path_index(ctx, parent->n);
	else if (b->key[b->depth - 1])
		/* A key that is not a scalar (an alias, a flow mapping) has no text of its own. */
		exp_path_key(ctx, b->key[b->depth - 1]->str ? b->key[b->depth - 1]->str
							    : "(non-scalar key)");
}

/* Where line/column (1-based, in characters) falls in buf, as a byte offset. */
static size_t mark_offset(const char *buf, size_t len, size_t line, size_t col)
{
	size_t i = 0;

	while (line > 1 && i < len) {
		if (buf[i] == '\n' || (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n')))
			line--;
		i++;
	}
	while (col > 1 && i < len) {
		i++;
		while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
			i++;
		col--;
	}
	return i;
}

static void report_yaml_error(struct exp_ctx *ctx, const yaml_parser_t *p, const char *buf,
			      size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	unsigned line = (unsigned)p->problem_mark.line + 1;
	unsigned col = (unsigned)p->problem_mark.column + 1;
	size_t off;

	if (p->error == YAML_MEMORY_ERROR) {
		ctx->nomem = true;
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		if (diag_add(ctx->diags, line, col, "", "invalid input: %s", problem))
			ctx->nomem = true;
		return;
	}
	off = mark_offset(buf, len, line, col);
	if (off < len && buf[off] == '\t') {
		if (diag_add(ctx->diags, line, col, "",
			     "tab character where YAML expects spaces (indent with spaces only)"))
			ctx->nomem = true;
		return;
	}
	if (p->context) {
		if (diag_add(ctx->diags, line, col, "", "%s (%s at line %u, column %u)", problem,
			     p->context, (unsigned)p->context_mark.line + 1,
			     (unsigned)p->context_mark.column + 1))
			ctx->nomem = true;
		return;
	}
	if (diag_add(ctx->diags, line, col, "", "%s", problem))
		ctx->nomem = true;
}

/*
 * Anchors and tags: refused, see docs/experiment-format.md. Reported, and the reading goes
 * on so that the problems after them are reported too: an anchored value is still checked
 * (it is written out right there), a tagged one is skipped (its tag would change its meaning).
 */
static void refuse_extras(struct exp_ctx *ctx, const yaml_event_t *ev, struct enode *at)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if (anchor)
		exp_err(ctx, at, "YAML anchors and aliases are not supported; write the value out");
	if (tag) {
		exp_err(ctx, at, "YAML tags are not supported");
		at->reported = true;
	}
}

/*
 * An alias: reported, and stands in the tree as a value that is skipped, so neither a
 * "missing required field" nor a type error follows from it.
 */
static bool on_alias(struct exp_ctx *ctx, struct build *b, const yaml_event_t *ev)
{
	struct enode *n = new_node(ctx, EN_SCALAR, ev->start_mark);

	if (!n)
		return false;
	n->str = "";
	n->reported = true;
	exp_err(ctx, n, "YAML anchors and aliases are not supported; write the value out");
	return attach(ctx, b, n);
}

static bool on_scalar(struct exp_ctx *ctx, struct build *b, const yaml_event_t *ev)
{
	size_t len = ev->data.scalar.length;
	struct enode *n;
	char *s;

	n = new_node(ctx, EN_SCALAR, ev->start_mark);
	if (!n)
		return false;
	refuse_extras(ctx, ev, n);
	if (len > EXP_MAX_SCALAR) {
		exp_err(ctx, n, "text longer than %d bytes", EXP_MAX_SCALAR);
		return false;
	}
	if (memchr(ev->data.scalar.value, '\0', len)) {
		exp_err(ctx, n, "text contains a NUL character");
		return false;
	}
	s = exp_ctx_alloc(ctx, len + 1);
	if (!s)
		return false;
	memcpy(s, ev->data.scalar.value, len);
	n->str = s;
	n->len = len;
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		resolve_plain(n);
	return attach(ctx, b, n);
}

static bool on_start(struct exp_ctx *ctx, struct build *b, const yaml_event_t *ev, uint8_t type)
{
	struct enode *n = new_node(ctx, type, ev->start_mark);
	size_t plen = ctx->plen;

	if (!n)
		return false;
	path_child(ctx, b);
	refuse_extras(ctx, ev, n);
	if (b->depth >= EXP_MAX_DEPTH) {
		exp_err(ctx, n, "nested deeper than %d levels", EXP_MAX_DEPTH);
		return false;
	}
	if (!attach(ctx, b, n))
		return false;
	b->plen[b->depth] = plen;
	b->stack[b->depth] = n;
	b->key[b->depth] = NULL;
	b->skip[b->depth] = false;
	b->depth++;
	return true;
}

struct enode *exp_tree_build(struct exp_ctx *ctx, const char *buf, size_t len)
{
	yaml_parser_t parser;
	struct build b;
	bool done = false, ok = true;
	int docs = 0;

	memset(&b, 0, sizeof(b));
	if (len > EXP_MAX_DOC_SIZE) {
		if (diag_add(ctx->diags, 0, 0, "", "document is larger than %u bytes",
			     (unsigned)EXP_MAX_DOC_SIZE))
			ctx->nomem = true;
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		ctx->nomem = true;
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (ok && !done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			report_yaml_error(ctx, &parser, buf, len);
			ok = false;
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				if (diag_add(ctx->diags, (unsigned)ev.start_mark.line + 1,
					     (unsigned)ev.start_mark.column + 1, "",
					     "only one YAML document per file is allowed"))
					ctx->nomem = true;
				ok = false;
			}
			break;
		case YAML_ALIAS_EVENT:
		case YAML_SCALAR_EVENT: {
			/* A leaf: its path is its parent's and its key or index, for its problems.
			 */
			size_t plen = ctx->plen;

			path_child(ctx, &b);
			ok = ev.type == YAML_ALIAS_EVENT ? on_alias(ctx, &b, &ev)
							 : on_scalar(ctx, &b, &ev);
			exp_path_set(ctx, plen);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
			ok = on_start(ctx, &b, &ev, EN_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			ok = on_start(ctx, &b, &ev, EN_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth) {
				b.depth--;
				exp_path_set(ctx, b.plen[b.depth]);
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	exp_path_set(ctx, 0);
	if (!ok || ctx->nomem)
		return NULL;
	if (!b.root) {
		if (diag_add(ctx->diags, 1, 1, "", "empty document"))
			ctx->nomem = true;
		return NULL;
	}
	return b.root;
}
