/*
 * Helpers every cmocka unit test links: reading a fixture, and the problems a loader reported,
 * as a user sees them.
 */
#ifndef FL_TEST_HELPERS_H
#define FL_TEST_HELPERS_H

#include <string.h>

#include "diag.h"

/* The whole file at path in a string to free(), or NULL (the test then fails naming it). */
char *th_slurp(const char *path);

/* Every problem in dl as faultctl prints them (diag_print()), in a string to free(). */
char *th_render(struct diag_list *dl);

/*
 * Assert that dl, printed, is exactly want; on a mismatch doc (when not NULL), want and
 * what was got go to stderr first. Clears dl.
 */
void th_assert_printed(struct diag_list *dl, const char *doc, const char *want);

/*
 * Assert that a load succeeded (r is its result) and reported nothing in dl; otherwise the
 * problems go to stderr first. Clears dl.
 */
void th_assert_clean(int r, struct diag_list *dl);

/*
 * Loads doc, reporting into dl, and checks that a failed load leaves no object behind.
 * Frees what it loaded; returns the loader's result. TH_LOADER() writes one.
 */
typedef int (*th_load_fn)(const char *doc, struct diag_list *dl);

/*
 * Define static int name(doc, dl), a th_load_fn over load (a *_load_buf() or
 * exp_fault_parse() that makes a type *), whose objects free_fn releases.
 */
#define TH_LOADER(name, type, load, free_fn)                   \
	static int name(const char *doc, struct diag_list *dl) \
	{                                                      \
		type *obj = (type *)1;                         \
		int r = load(doc, strlen(doc), &obj, dl);      \
                                                               \
		assert_true(r ? obj == NULL : obj != NULL);    \
		free_fn(obj);                                  \
		return r;                                      \
	}

/*
 * Load doc, as if from a file called file, expecting -EINVAL and exactly the problems want
 * (as th_render() prints them). On a mismatch doc, want and what was got go to stderr.
 */
void th_expect_problems(th_load_fn load, const char *file, const char *doc, const char *want);

#endif
