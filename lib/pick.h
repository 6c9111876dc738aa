/*
 * The seeded choice of process faults: how many of the matching processes to hit and which.
 * Pure arithmetic, so the same seed and the same candidates give the same choice anywhere.
 */
#ifndef FL_PICK_H
#define FL_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How many of n matches a selector hits: all of them, min(count, n), or percent_ppm of n
 * rounded up (so any percentage of a non-empty set hits at least one). 0 only when n is 0.
 * With none of the three given, all of them.
 */
size_t pick_how_many(size_t n, uint32_t count, uint32_t percent_ppm, bool all);

/*
 * Choose want of the candidates 0..n-1 with seed: on return idx[0..want) holds the chosen
 * indices in ascending order. idx must have room for n entries (the rest is scratch).
 * A partial Fisher-Yates shuffle driven by splitmix64, so every subset of size want is
 * equally likely over seeds and a given seed always gives the same subset.
 */
void pick_choose(size_t n, size_t want, uint64_t seed, size_t *idx);

/*
 * The seed of round `round` of a repeating fault: round 0 is seed itself, later rounds a
 * mix of both, so each round chooses anew and a recorded (seed, round) reproduces it.
 */
uint64_t pick_round_seed(uint64_t seed, uint64_t round);

#endif
