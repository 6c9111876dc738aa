/*
 * The params schema of each fault type (exp_params.c), named by the type table in
 * exp_fault.c: the fields, their units and ranges, and the checks between fields.
 */
#ifndef FL_EXP_PARAMS_H
#define FL_EXP_PARAMS_H

#include "exp_priv.h"

extern const struct exp_object exp_params_latency;
extern const struct exp_object exp_params_loss;
extern const struct exp_object exp_params_corruption;
extern const struct exp_object exp_params_duplication;
extern const struct exp_object exp_params_partition;
extern const struct exp_object exp_params_bandwidth;
extern const struct exp_object exp_params_dns;
extern const struct exp_object exp_params_kill;
extern const struct exp_object exp_params_pause;
extern const struct exp_object exp_params_cpu;
extern const struct exp_object exp_params_memory;
extern const struct exp_object exp_params_disk_fill;
extern const struct exp_object exp_params_io;
extern const struct exp_object exp_params_fds;

/* The checks of a whole fault's params against its timing (.check of the type table). */
void exp_params_kill_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f);
void exp_params_memory_check(struct exp_ctx *ctx, const struct enode *map, struct fault_spec *f);

/* process.kill signals once unless it has an interval, when it repeats for its duration. */
bool exp_params_kill_once(const struct fault_spec *f);

#endif
