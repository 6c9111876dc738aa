/* Helpers every cmocka unit test links (see helpers.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"

char *th_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

char *th_render(struct diag_list *dl)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	diag_print(f, dl);
	fclose(f);
	return out;
}

void th_assert_printed(struct diag_list *dl, const char *doc, const char *want)
{
	char *got = th_render(dl);

	if (strcmp(got, want))
		fprintf(stderr, "document:\n%s\nwant:\n%s\ngot:\n%s\n", doc ? doc : "(none)", want,
			got);
	assert_string_equal(got, want);
	free(got);
	diag_clear(dl);
}

void th_assert_clean(int r, struct diag_list *dl)
{
	char *out = th_render(dl);

	if (r || *out)
		fprintf(stderr, "%s", out);
	assert_int_equal(r, 0);
	assert_string_equal(out, "");
	free(out);
	diag_clear(dl);
}

void th_expect_problems(th_load_fn load, const char *file, const char *doc, const char *want)
{
	struct diag_list dl;
	int r;

	assert_int_equal(diag_init(&dl, file), 0);
	r = load(doc, &dl);
	th_assert_printed(&dl, doc, want);
	assert_int_equal(r, -EINVAL);
}
