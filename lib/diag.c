/* Diagnostics list: collect every problem of an input, then print them in source order. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

int diag_init(struct diag_list *dl, const char *file)
{
	memset(dl, 0, sizeof(*dl));
	dl->file = strdup(file ? file : "-");
	if (!dl->file)
		return -ENOMEM;
	return 0;
}

void diag_clear(struct diag_list *dl)
{
	if (!dl)
		return;
	for (size_t i = 0; i < dl->count; i++) {
		free(dl->items[i].path);
		free(dl->items[i].message);
	}
	free(dl->items);
	free(dl->file);
	memset(dl, 0, sizeof(*dl));
}

int diag_add(struct diag_list *dl, unsigned line, unsigned column, const char *path,
	     const char *fmt, ...)
{
	struct diag *d;
	va_list ap;
	char *msg;
	int n;

	if (dl->count >= DIAG_MAX) {
		dl->dropped++;
		return 0;
	}
	if (dl->count == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 16;
		struct diag *items = realloc(dl->items, cap * sizeof(*items));

		if (!items)
			goto nomem;
		dl->items = items;
		dl->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto nomem;
	d = &dl->items[dl->count];
	d->path = strdup(path ? path : "");
	if (!d->path) {
		free(msg);
		goto nomem;
	}
	d->message = msg;
	d->line = line;
	d->column = line ? column : 0;
	dl->count++;
	return 0;
nomem:
	dl->err = -ENOMEM;
	return -ENOMEM;
}

size_t diag_total(const struct diag_list *dl)
{
	return dl->count + dl->dropped;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	c = strcmp(x->path, y->path);
	if (c)
		return c;
	return strcmp(x->message, y->message);
}

void diag_sort(struct diag_list *dl)
{
	if (dl->count > 1)
		qsort(dl->items, dl->count, sizeof(dl->items[0]), diag_cmp);
}

void diag_print(FILE *f, struct diag_list *dl)
{
	diag_sort(dl);
	for (size_t i = 0; i < dl->count; i++) {
		const struct diag *d = &dl->items[i];

		if (d->line)
			fprintf(f, "%s:%u:%u: ", dl->file, d->line, d->column);
		else
			fprintf(f, "%s: ", dl->file);
		if (d->path[0])
			fprintf(f, "%s: ", d->path);
		fprintf(f, "%s\n", d->message);
	}
	if (dl->dropped)
		fprintf(f, "%s: %zu more problems not shown\n", dl->file, dl->dropped);
}

int diag_to_json(struct diag_list *dl, json_t **out)
{
	json_t *arr = json_array();

	*out = NULL;
	if (!arr)
		return -ENOMEM;
	diag_sort(dl);
	for (size_t i = 0; i < dl->count; i++) {
		const struct diag *d = &dl->items[i];
		json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", dl->file, "line",
				      (json_int_t)d->line, "column", (json_int_t)d->column, "path",
				      d->path, "message", d->message);

		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	*out = arr;
	return 0;
}

const char *diag_quote(char *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	buf[o++] = '\'';
	for (i = 0; s[i] && i < DIAG_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\'' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i]) {
		/* Do not cut a UTF-8 sequence in half: drop its leading bytes too. */
		while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0xc0)
			o--;
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}
