/* What the benchmark programs share: clocks, a quantile, a bounded number argument. */
#ifndef FL_BENCH_UTIL_H
#define FL_BENCH_UTIL_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds, and in nanoseconds. */
double bench_now_us(void);
int64_t bench_now_ns(void);

/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
double bench_quantile(double *v, int n, double q);

/* s as a number in [lo, hi], or a message naming prog and exit 2. */
long bench_arg_long(const char *prog, const char *s, long lo, long hi);

#endif
