/*
 * The JSON report of a run, built from its state (run_report.c).
 */
#ifndef FL_RUN_REPORT_H
#define FL_RUN_REPORT_H

#include <jansson.h>

struct run;

/* The report as JSON (docs/report.schema.json). New reference, or NULL on -ENOMEM. */
json_t *run_report_json(struct run *r);

#endif
