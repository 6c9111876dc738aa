/*
 * Unit tests for the seeded choice of process faults: how many of the matches a selector
 * hits, that a seed always gives the same choice (a recorded seed reproduces a run), and that
 * over many seeds the choice is uniform within binomial bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pick.h"

#define PPM(pct) ((uint32_t)((pct)*10000))

static void how_many(void **state)
{
	assert_int_equal(pick_how_many(0, 3, 0, false), 0);
	assert_int_equal(pick_how_many(0, 0, 0, true), 0);
	assert_int_equal(pick_how_many(0, 0, PPM(50), false), 0);
	assert_int_equal(pick_how_many(10, 0, 0, true), 10);
	assert_int_equal(pick_how_many(10, 3, 0, false), 3);
	/* More asked than matched: every match, never more. */
	assert_int_equal(pick_how_many(10, 20, 0, false), 10);
	assert_int_equal(pick_how_many(10, 0, PPM(50), false), 5);
	/* Percentages round up: 33% of 10 is 3.3, so 4; any share of a match hits one. */
	assert_int_equal(pick_how_many(10, 0, PPM(33), false), 4);
	assert_int_equal(pick_how_many(10, 0, PPM(30), false), 3);
	assert_int_equal(pick_how_many(1, 0, 1, false), 1);
	assert_int_equal(pick_how_many(3, 0, PPM(100), false), 3);
	assert_int_equal(pick_how_many(100000, 0, PPM(0.001), false), 1);
	assert_int_equal(pick_how_many(7, 0, 0, false), 7);
}

static void check_choice(const size_t *idx, size_t n, size_t want)
{
	for (size_t i = 0; i < want; i++) {
		assert_true(idx[i] < n);
		if (i)
			assert_true(idx[i - 1] < idx[i]); /* ascending, so distinct */
	}
}

static void reproducible(void **state)
{
	size_t a[100], b[100];

	for (uint64_t seed = 1; seed < 200; seed++) {
		pick_choose(100, 7, seed, a);
		pick_choose(100, 7, seed, b);
		check_choice(a, 100, 7);
		assert_memory_equal(a, b, 7 * sizeof(a[0]));
	}
	/*
	 * Pinned vectors: recorded seeds must keep reproducing the same choice across versions,
	 * so a change of the algorithm has to change this test.
	 */
	pick_choose(10, 3, 42, a);
	assert_int_equal(a[0], 2);
	assert_int_equal(a[1], 3);
	assert_int_equal(a[2], 4);
	pick_choose(5, 1, 1, a);
	assert_int_equal(a[0], 0);
}

static void whole_and_empty(void **state)
{
	size_t idx[8];

	pick_choose(8, 8, 99, idx);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(idx[i], i);
	pick_choose(8, 12, 99, idx);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(idx[i], i);
	pick_choose(1, 1, 5, idx);
	assert_int_equal(idx[0], 0);
	/* want 0 writes only scratch and must not crash. */
	pick_choose(8, 0, 5, idx);
}

static void seeds_differ(void **state)
{
	size_t choices[200][3], idx[100];
	int distinct = 0;

	for (size_t s = 0; s < 200; s++) {
		pick_choose(100, 3, s + 1, idx);
		memcpy(choices[s], idx, sizeof(choices[s]));
	}
	for (size_t s = 0; s < 200; s++) {
		bool seen = false;

		for (size_t t = 0; t < s && !seen; t++)
			seen = !memcmp(choices[s], choices[t], sizeof(choices[s]));
		distinct += !seen;
	}
	/*
	 * 161700 subsets of 3 out of 100: 200 uniform draws repeat one with probability
	 * about 200^2 / (2 * 161700) = 12%, two or more far less; 195 leaves ample room.
	 */
	assert_true(distinct >= 195);
}

static void uniform(void **state)
{
	enum { N = 10, DRAWS = 20000 };
	unsigned hits1[N] = {0}, hits3[N] = {0};
	size_t idx[N];

	for (uint64_t seed = 1; seed <= DRAWS; seed++) {
		pick_choose(N, 1, seed, idx);
		hits1[idx[0]]++;
		pick_choose(N, 3, seed * 7919, idx);
		for (int i = 0; i < 3; i++)
			hits3[idx[i]]++;
	}
	/*
	 * Binomial bounds at 6 standard deviations: 1 of 10 over 20000 draws is 2000 hits per
	 * index, sd sqrt(20000 * 0.1 * 0.9) = 42.4; 3 of 10 is 6000, sd sqrt(20000 * 0.3 * 0.7)
	 * = 64.8. The seeds are fixed, so the result is deterministic; the bounds say what a
	 * fair choice looks like.
	 */
	for (int i = 0; i < N; i++) {
		if (hits1[i] < 2000 - 255 || hits1[i] > 2000 + 255)
			fail_msg("1 of 10: index %d hit %u times (expected 2000 +- 255)", i,
				 hits1[i]);
		if (hits3[i] < 6000 - 389 || hits3[i] > 6000 + 389)
			fail_msg("3 of 10: index %d hit %u times (expected 6000 +- 389)", i,
				 hits3[i]);
	}
}

static void round_seeds(void **state)
{
	static uint64_t seen[1001];

	assert_true(pick_round_seed(42, 0) == 42);
	for (uint64_t r = 0; r <= 1000; r++) {
		seen[r] = pick_round_seed(42, r);
		assert_true(seen[r] == pick_round_seed(42, r));
		for (uint64_t q = 0; q < r; q++)
			assert_true(seen[q] != seen[r]);
	}
	assert_true(pick_round_seed(42, 1) != pick_round_seed(43, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(how_many),	   cmocka_unit_test(reproducible),
		cmocka_unit_test(whole_and_empty), cmocka_unit_test(seeds_differ),
		cmocka_unit_test(uniform),	   cmocka_unit_test(round_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
