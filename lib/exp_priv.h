/*
 * Internals of the experiment loader, shared by lib/exp*.c only: the document tree with
 * positions, the field tables that drive parsing, serialisation, comparison and freeing,
 * and the helpers that report problems with a field path.
 */
#ifndef FL_EXP_PRIV_H
#define FL_EXP_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "exp.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The units the schema tables give bounds in: durations in ns, percentages in ppm, bytes. */
#define US 1000LL
#define MS 1000000LL
#define SEC 1000000000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define PCT(x) ((int64_t)(x) * (UNITS_PPM_ONE / 100))
#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)
#define PIB (1024 * TIB)

/* The document as a tree. Every node remembers where it started in the input. */

enum enode_type {
	EN_SCALAR,
	EN_MAP,
	EN_SEQ,
};

/* What a plain scalar means under the YAML 1.2 core schema; quoted scalars are strings. */
enum escalar {
	ES_STRING,
	ES_NULL,
	ES_BOOL,
	ES_INT,
	ES_FLOAT,
};

struct enode {
	uint8_t type;	   /* enum enode_type */
	uint8_t scalar;	   /* enum escalar */
	bool int_overflow; /* ES_INT that does not fit an int64_t */
	bool bval;
	/*
	 * A problem with this value is reported already (a YAML alias or tag): the field
	 * parsers skip it without a second message, and the rest of the document is checked.
	 */
	bool reported;
	uint32_t line, col; /* 1-based */
	const char *str;    /* scalar text, NUL-terminated, never containing NUL */
	size_t len;
	int64_t ival;
	/* Children: the items of a list, the keys of a mapping, in document order. */
	struct enode *first, *last, *next;
	struct enode *value; /* a mapping key's value */
	size_t n;
};

/* Nodes and their text live in an arena that is dropped whole once loading is done. */
struct exp_arena_chunk;

struct exp_arena {
	struct exp_arena_chunk *head;
};

#define EXP_PATH_MAX 1024

struct exp_ctx {
	struct diag_list *diags;
	struct exp_arena arena;
	size_t nodes;
	/*
	 * Allocation failures are sticky rather than returned through every helper: the
	 * checks then read as a plain list of rules, and loading ends with -ENOMEM.
	 */
	bool nomem;
	size_t plen;
	char path[EXP_PATH_MAX]; /* field path of the node being looked at */
};

void exp_ctx_init(struct exp_ctx *ctx, struct diag_list *diags);
void exp_ctx_release(struct exp_ctx *ctx);
void *exp_ctx_alloc(struct exp_ctx *ctx, size_t size);

/*
 * Read a whole file into a malloc'd buffer, at most EXP_MAX_DOC_SIZE + 1 bytes (one more than
 * the loader accepts, so it can say the file is too big). Returns 0 or -errno.
 */
struct exp_object;

int exp_read_file(const char *path, char **buf, size_t *len);

/* exp_read_file(), with a failure also reported in diags (as line 0 of the file). */
int exp_read_file_diag(const char *path, char **buf, size_t *len, struct diag_list *diags);

/*
 * Load a whole document that is one object of type obj (a policy, an inventory, a game-day
 * plan): tree, allocation of obj->size, defaults, fields and checks. 0 with *out (release
 * with exp_obj_release() and free()), -EINVAL with the problems in diags, or -ENOMEM.
 */
int exp_doc_load(const struct exp_object *obj, const char *buf, size_t len, void **out,
		 struct diag_list *diags);

/* exp_doc_load() of a file's contents; a file that cannot be read is reported in diags. */
int exp_doc_load_file(const struct exp_object *obj, const char *path, void **out,
		      struct diag_list *diags);

/* Release a document exp_doc_load() made (NULL is fine). */
void exp_doc_free(const struct exp_object *obj, void *doc);

/* Parse buf into a tree. Returns the root, or NULL after reporting why (or on no memory). */
struct enode *exp_tree_build(struct exp_ctx *ctx, const char *buf, size_t len);

/* Path helpers: each push returns the old length, to hand back to exp_path_set(). */
size_t exp_path_key(struct exp_ctx *ctx, const char *key);
size_t exp_path_index(struct exp_ctx *ctx, size_t i);
void exp_path_set(struct exp_ctx *ctx, size_t len);

/*
 * Append printf text to a plan line at offset o of buf (size bytes). Returns the new offset,
 * which may pass size: the text is then cut, and later appends write nothing.
 */
size_t exp_put(char *buf, size_t size, size_t o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Item i of a list of ranges in a plan line: "lo" or "lo-hi", after a comma unless first. */
size_t exp_put_range(char *buf, size_t size, size_t o, size_t i, unsigned lo, unsigned hi);

/* Report a problem at node n (may be NULL: no position) for the current path. */
void exp_err(struct exp_ctx *ctx, const struct enode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void exp_verr(struct exp_ctx *ctx, const struct enode *n, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * "unknown WHAT 'NAME'; did you mean 'X'?" at n when one of cands is close to name (see
 * exp_did_you_mean()), else "unknown WHAT 'NAME'" and otherwise ("; it must be ...", or "").
 */
void exp_err_unknown(struct exp_ctx *ctx, const struct enode *n, const char *what, const char *name,
		     const char *const *cands, size_t n_cands, const char *otherwise);

/* Report at the value of key in map (or at map when the key is absent), path ".key". */
void exp_err_key(struct exp_ctx *ctx, const struct enode *map, const char *key, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* The key node and the value node of key in map, or NULL. */
const struct enode *exp_node_key(const struct enode *map, const char *key);
const struct enode *exp_node_get(const struct enode *map, const char *key);
/* The i-th item of a list, or NULL. */
const struct enode *exp_node_item(const struct enode *seq, size_t i);
/* "a string", "an integer", "a mapping": what a node is, for messages. */
const char *exp_node_what(const struct enode *n);

/* Field tables. */

enum ftype {
	FT_STRING,    /* char *: free text, 1..max bytes */
	FT_NAME,      /* char *: identifier [A-Za-z0-9][A-Za-z0-9._-]* */
	FT_PATH,      /* char *: absolute path */
	FT_URL,	      /* char *: http:// or https:// URL */
	FT_ADDRESS,   /* char *: agent address, unix:// or ssh:// */
	FT_IFNAME,    /* char *: network interface name */
	FT_REGEX,     /* char *: POSIX extended regular expression */
	FT_COMM,      /* char *: process name as the kernel keeps it, 1..15 bytes */
	FT_USER,      /* char *: user name or numeric uid */
	FT_TZ,	      /* char *: IANA time zone name */
	FT_DURATION,  /* int64_t nanoseconds */
	FT_PERCENT,   /* uint32_t ppm */
	FT_SIZE,      /* struct units_size; FF_RELATIVE allows a percentage */
	FT_BYTES,     /* uint64_t bytes: a size that cannot be a percentage */
	FT_RATE,      /* uint64_t bits per second */
	FT_BYTE_RATE, /* uint64_t bytes per second */
	FT_REQ_RATE,  /* uint64_t requests per 1000 minutes */
	FT_FACTOR,    /* uint64_t thousandths */
	FT_U32,	      /* uint32_t */
	FT_U64,	      /* uint64_t */
	FT_BOOL,      /* bool */
	FT_ENUM,      /* int; aux: struct exp_enum */
	FT_SIGNAL,    /* int signal number */
	FT_CPUSET,    /* struct exp_cpuset */
	FT_TIME,      /* uint32_t minutes after midnight, "HH:MM" */
	FT_EXPECT,    /* int enum cmp_op at off, double at off2: "< 0.01" */
	FT_CIDR,      /* struct net_cidr */
	FT_RANGE,     /* struct port_range or struct status_range; aux: noun for messages */
	FT_LIST,      /* array pointer at off, size_t count at off2; aux: struct exp_list */
	FT_OBJECT,    /* struct at off (a pointer to one with FF_PTR); aux: struct exp_object */
	FT_CUSTOM,    /* aux: struct exp_custom */
};

#define FF_REQUIRED (1u << 0)
#define FF_DEFAULT (1u << 1)  /* def holds the value used when the key is absent */
#define FF_PTR (1u << 2)      /* FT_OBJECT: allocated when given, NULL otherwise */
#define FF_RELATIVE (1u << 3) /* FT_SIZE: a percentage is allowed */
#define FF_UNIQUE (1u << 4)   /* FT_LIST of names or enums: no repeats */

struct exp_field {
	const char *key;
	uint8_t type; /* enum ftype */
	uint8_t flags;
	size_t off, off2;
	int64_t min, max; /* inclusive range in stored units; for text: max length */
	int64_t def;
	const void *aux;
	const void *aux2;
};

struct exp_enum {
	const char *const *names; /* indexed by value; NULL entries are not writable */
	size_t n;
};

struct exp_list {
	struct exp_field elem; /* key unused, off 0: describes one element */
	size_t elem_size;
	size_t min_items, max_items;
};

struct exp_seen {
	uint64_t present; /* keys given, by field index */
	uint64_t valid;	  /* keys given and accepted */
};

/* An object has at most 64 fields: struct exp_seen is a bitmask of them. */
struct exp_object {
	const char *name; /* schema definition name */
	const struct exp_field *fields;
	size_t n_fields;
	size_t size; /* of the C struct, for FF_PTR objects and list elements */
	/* Rules that span fields, run after every field was read. */
	void (*check)(struct exp_ctx *ctx, const struct enode *map, void *obj,
		      const struct exp_seen *seen);
};

/*
 * Fields no generic type can describe: a fault's type, target and params (their schema is
 * the type's) and the probe keys of guardrails and checks (they share one union; the
 * field's def holds the probe kind and aux2 the probe's object).
 */
struct exp_custom {
	void (*init)(const struct exp_field *f, void *obj);
	bool (*parse)(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *val,
		      void *obj);
	/* Sets *out to NULL when there is nothing to write. Returns 0 or -ENOMEM. */
	int (*to_json)(const struct exp_field *f, const void *obj, json_t **out);
	void (*release)(const struct exp_field *f, void *obj);
	bool (*equal)(const struct exp_field *f, const void *a, const void *b);
	/* Objects this field can hold, one per i until NULL, for exp_schema_walk(). */
	const struct exp_object *(*schema)(size_t i);
};

/* Field table row builders, so that tables read as one line per key. */
#define FLD(k, t, fl, o, mn, mx, d, a)                                                        \
	{                                                                                     \
		.key = (k), .type = (t), .flags = (fl), .off = (o), .min = (mn), .max = (mx), \
		.def = (d), .aux = (a)                                                        \
	}

void exp_obj_init(const struct exp_object *o, void *obj);
/* Read map into obj; reports every problem. Returns which keys were given and accepted. */
struct exp_seen exp_obj_parse(struct exp_ctx *ctx, const struct exp_object *o,
			      const struct enode *map, void *obj);
bool exp_fld_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *val,
		   void *obj);
void exp_obj_release(const struct exp_object *o, void *obj);
int exp_obj_to_json(const struct exp_object *o, const void *obj, json_t **out);
bool exp_obj_equal(const struct exp_object *o, const void *a, const void *b);
/* Canonical text of one scalar field, as written to JSON and shown in plans. */
void exp_fld_format(const struct exp_field *f, const void *obj, char *buf, size_t size);

int exp_seen_index(const struct exp_object *o, const char *key);
bool exp_seen_present(const struct exp_object *o, const struct exp_seen *s, const char *key);
bool exp_seen_valid(const struct exp_object *o, const struct exp_seen *s, const char *key);

/* The candidate closest to word by edit distance, or NULL when none is close enough. */
const char *exp_did_you_mean(const char *word, const char *const *cands, size_t n);

/* "expected a duration such as '30s', got a list": n is not of the kind field f takes. */
void exp_type_error(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n);
/* Whether v (of the field kind type) is in f's range; if not, reports it with both bounds. */
bool exp_check_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		     uint8_t type, int64_t v);

/*
 * Value parsers of the scalar field types, for exp_fld_parse(). Each reads node n, stores
 * the value and returns true, or reports the problem at n and returns false.
 */

/* Text fields (exp_text.c): the text to store (n->str or buf), or NULL after a report. */
const char *exp_text_parse(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
			   char *buf, size_t size);

/* Structured scalars (exp_scalar.c). */
bool exp_parse_signal(struct exp_ctx *ctx, const struct enode *n, int *out);
bool exp_parse_cpuset(struct exp_ctx *ctx, const struct enode *n, struct exp_cpuset *out);
bool exp_parse_time(struct exp_ctx *ctx, const struct enode *n, uint32_t *out);
bool exp_parse_expect(struct exp_ctx *ctx, const struct enode *n, int *op, double *thr);
bool exp_parse_cidr(struct exp_ctx *ctx, const struct enode *n, struct net_cidr *out);
bool exp_parse_range(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		     struct port_range *out);
/* FT_DURATION .. FT_FACTOR: text through lib/units, then the field's range. */
bool exp_parse_unit(struct exp_ctx *ctx, const struct exp_field *f, const struct enode *n,
		    void *dst);
void exp_fmt_cpuset(const struct exp_cpuset *cs, char *buf, size_t size);
void exp_fmt_cidr(const struct net_cidr *c, char *buf, size_t size);

/* Fault and probe pieces, defined in exp_fault.c and exp_probe.c. */

struct fault_type_desc {
	const char *name;
	enum fault_target_kind target;
	/*
	 * NULL: every fault of the type lasts a duration, which is required. Else the type may
	 * act once (process.kill: one signal): once() says whether this fault does (then it
	 * takes no duration) or repeats (then it needs one).
	 */
	bool (*once)(const struct fault_spec *f);
	int default_direction; /* of a network target that names none */
	/*
	 * A network type whose rules carry one direction each (a shaper or a delay per
	 * direction): a target of direction both takes its rules twice.
	 */
	bool rules_per_direction;
	const struct exp_object *params;
	/* Rules between params and the rest of the fault (timing). */
	void (*check)(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f);
	/*
	 * Whether two faults of this type that run at the same time on the same agent cannot
	 * be combined; if so, what they both do, for the message. NULL: always combinable.
	 */
	bool (*conflicts)(const struct fault_spec *a, const struct fault_spec *b, char *what,
			  size_t size);
	/*
	 * What a fault of the type does that its parameters do not say, for the plan's reader
	 * (faultctl plan); NULL when the parameters say it all.
	 */
	const char *effect;
};

extern const struct fault_type_desc exp_fault_types[FAULT_TYPE_COUNT];

/* The params object of a fault type; NULL for a type out of range (not parsed yet). */
static inline const struct exp_object *exp_params_object(int type)
{
	return type >= 0 && type < FAULT_TYPE_COUNT ? exp_fault_types[type].params : NULL;
}
extern const struct exp_object exp_fault_object;
extern const struct exp_object exp_guardrail_object;
extern const struct exp_object exp_check_object;
extern const struct exp_object exp_experiment_object;
/* safety.window; game-day plans (lib/gameday.c) take the same object. */
extern const struct exp_object exp_window_object;
extern const struct exp_enum exp_on_error_enum;
extern const struct exp_enum exp_direction_enum;
extern const struct exp_enum exp_protocol_enum;
extern const struct exp_enum exp_method_enum;
extern const struct exp_enum exp_cmp_enum;
extern const struct exp_enum exp_weekday_enum;

const char *exp_enum_name(const struct exp_enum *e, int v);
const char *exp_signal_name(int sig, char *buf, size_t size);

/* Rules over the whole experiment: timing, references, names, conflicts. */
void exp_check_experiment(struct exp_ctx *ctx, const struct enode *root, struct experiment *e);

/* Plan and description helpers shared by exp_plan.c. */
void exp_describe_target(const struct fault_spec *f, char *buf, size_t size);
void exp_describe_params(const struct fault_spec *f, char *buf, size_t size);
void exp_describe_probe(const struct exp_probe *p, char *buf, size_t size);

/* Shortest "%g" text that reads back as the same double. */
void exp_fmt_double(char *buf, size_t size, double v);

/*
 * The target schemas (exp_target.c): exp_fault.c picks one by the type's target kind, the
 * plan's descriptions read the process target's; the criteria are a process target's
 * selectors without how many to hit (two pauses with the same criteria conflict).
 */
extern const struct exp_object exp_net_target_object;
extern const struct exp_object exp_proc_target_object;
extern const struct exp_object exp_stress_target_object;
extern const struct exp_object exp_proc_criteria_object;

#endif
