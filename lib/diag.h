/* Diagnostics: every problem found in one input, each with its position and field path. */
#ifndef FL_DIAG_H
#define FL_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/*
 * Past this many problems in one input the rest are only counted: a file that is wrong in a
 * thousand places does not need a thousand lines to say so.
 */
#ifndef DIAG_MAX
#define DIAG_MAX 200
#endif

/* Longest user text echoed in a message; longer text is cut and marked with "...". */
#define DIAG_QUOTE_MAX 80

struct diag {
	unsigned line;	 /* 1-based; 0 when the problem concerns the whole input */
	unsigned column; /* 1-based; 0 together with line */
	char *path;	 /* "faults[0].target.cidrs[2]", or "" for the document itself */
	char *message;
};

struct diag_list {
	char *file; /* name printed in front of every problem */
	struct diag *items;
	size_t count;
	size_t cap;
	size_t dropped; /* problems beyond DIAG_MAX, counted but not kept */
	int err;	/* -ENOMEM once an add failed, so callers never mistake a lost problem */
};

/* Start an empty list for the input called file. Returns 0 or -ENOMEM. */
int diag_init(struct diag_list *dl, const char *file);

/* Free what the list holds and leave it empty and reusable; accepts a zeroed list. */
void diag_clear(struct diag_list *dl);

/*
 * Record one problem. path may be NULL for "". Returns 0, or -ENOMEM (also remembered in
 * dl->err so a caller that ignores the return value still finds out).
 */
int diag_add(struct diag_list *dl, unsigned line, unsigned column, const char *path,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Total number of problems, including the dropped ones. */
size_t diag_total(const struct diag_list *dl);

/* Order by position, then path, then message, so output never depends on check order. */
void diag_sort(struct diag_list *dl);

/*
 * Print every problem as "file:line:column: path: message", one per line, in sorted order.
 * Problems without a position print as "file: path: message", an empty path is left out.
 */
void diag_print(FILE *f, struct diag_list *dl);

/* The problems as a JSON array of {file, line, column, path, message}. Returns 0 or -ENOMEM. */
int diag_to_json(struct diag_list *dl, json_t **out);

/*
 * Quote user text for a message: 'text' with control characters, quotes and backslashes
 * escaped and long text cut after DIAG_QUOTE_MAX bytes. Returns buf, which needs at least
 * DIAG_QUOTE_SIZE bytes.
 */
#define DIAG_QUOTE_SIZE (DIAG_QUOTE_MAX * 4 + 8)
const char *diag_quote(char *buf, const char *s);

#endif
