/* Seeded choice among matching processes (see pick.h). */
#include <stdlib.h>

#include "pick.h"

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t pick_how_many(size_t n, uint32_t count, uint32_t percent_ppm, bool all)
{
	if (!n || all)
		return n;
	if (count)
		return count < n ? count : n;
	if (percent_ppm) {
		uint64_t want = ((uint64_t)n * percent_ppm + 999999) / 1000000;

		return want < n ? (size_t)want : n;
	}
	return n;
}

static int by_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

void pick_choose(size_t n, size_t want, uint64_t seed, size_t *idx)
{
	uint64_t s = seed;

	if (want > n)
		want = n;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	if (want == n)
		return;
	for (size_t i = 0; i < want; i++) {
		size_t j = i + (size_t)(splitmix64(&s) % (n - i));
		size_t tmp = idx[i];

		idx[i] = idx[j];
		idx[j] = tmp;
	}
	qsort(idx, want, sizeof(*idx), by_index);
}

uint64_t pick_round_seed(uint64_t seed, uint64_t round)
{
	uint64_t s = seed ^ (round * 0xd6e8feb86659fd93ULL);

	return round ? splitmix64(&s) : seed;
}
