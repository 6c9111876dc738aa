/*
 * The command line `faultctl run` and `faultctl gameday` share (run_cmdline.c).
 */
#ifndef FL_RUN_CMDLINE_H
#define FL_RUN_CMDLINE_H

#include <stdbool.h>

#include <jansson.h>

/*
 * The command line of `faultctl run` and `faultctl gameday` (run_cmdline.c): one file
 * operand and the options of each command's table (report files, --help and its own).
 */
struct run_cmdline {
	const char *file;      /* the operand: the experiment or plan file */
	const char *inventory; /* run's --inventory FILE */
	const char *report_json, *junit, *markdown;
	bool yes;  /* gameday's --yes */
	bool json; /* gameday's --json after the command, as the global option */
};

struct ctl_cmdline;

struct run_cmdline_spec {
	/* The command's options, stored into a struct run_cmdline; its cmd prefixes messages. */
	const struct ctl_cmdline *cl;
	const char *operand; /* what the one operand is, "experiment file" */
	/* The command's JUnit and Markdown writers (the JSON one is report_write_json()). */
	int (*write_junit)(const json_t *report, const char *path);
	int (*write_markdown)(const json_t *report, const char *path);
};

/*
 * Parse the command's own argv (argv[0] is the command's name; options may follow the
 * operand). Returns 0, 1 after printing the usage for --help, or -EINVAL after a message on
 * stderr.
 */
int run_cmdline_parse(const struct run_cmdline_spec *s, int argc, char **argv,
		      struct run_cmdline *o);

/*
 * Write rep to every report file o names and, with json, to stdout. A file that cannot be
 * written is reported on stderr and the others are still written. Returns 0 or the -errno
 * of the last failure.
 */
int run_cmdline_write(const struct run_cmdline_spec *s, const struct run_cmdline *o,
		      const json_t *rep, bool json);

#endif
