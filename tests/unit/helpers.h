/* Helpers every cmocka unit test links: the problems a loader reported, as a user sees them. */
#ifndef FL_TEST_HELPERS_H
#define FL_TEST_HELPERS_H

#include "diag.h"

/* Every problem in dl as faultctl prints them (diag_print()), in a string to free(). */
char *th_render(struct diag_list *dl);

/*
 * Assert that a load succeeded (r is its result) and reported nothing in dl; otherwise the
 * problems go to stderr first. Clears dl.
 */
void th_assert_clean(int r, struct diag_list *dl);

/*
 * Loads doc (one of the lib's *_load_buf() or exp_fault_parse()), reporting into dl, and
 * checks that a failed load leaves no object behind. Frees what it loaded; returns the
 * loader's result.
 */
typedef int (*th_load_fn)(const char *doc, struct diag_list *dl);

/*
 * Load doc, as if from a file called file, expecting -EINVAL and exactly the problems want
 * (as th_render() prints them). On a mismatch doc, want and what was got go to stderr.
 */
void th_expect_problems(th_load_fn load, const char *file, const char *doc, const char *want);

#endif
