#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_quantile(double *v, int n, double q)
{
	int k;

	qsort(v, n, sizeof(*v), by_value);
	k = (int)(q * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	return v[k < n ? k : n - 1];
}

long bench_arg_long(const char *prog, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: '%s' is not a number in [%ld, %ld]\n", prog, s, lo, hi);
		exit(2);
	}
	return v;
}
