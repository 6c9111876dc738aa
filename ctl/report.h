/*
 * The report files, rendered from the JSON report (docs/report.schema.json) or from a game
 * day's combined report (docs/gameday.schema.json): pure functions of the JSON (report.c).
 */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <jansson.h>

/* Write the report as JUnit XML or as Markdown. Returns 0 or -errno. */
int report_write_junit(const json_t *report, const char *path);
int report_write_markdown(const json_t *report, const char *path);
int report_write_json(const json_t *report, const char *path);

/*
 * A game day's combined report (docs/gameday.schema.json; each step carries its run report)
 * as JUnit XML, one <testsuite> per step, or as one Markdown write-up with a summary table
 * and a section per step. Returns 0 or -errno.
 */
int report_write_gameday_junit(const json_t *gameday, const char *path);
int report_write_gameday_markdown(const json_t *gameday, const char *path);

#endif
