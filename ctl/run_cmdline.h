/*
 * The command line `faultctl run` and `faultctl gameday` share (run_cmdline.c).
 */
#ifndef FL_RUN_CMDLINE_H
#define FL_RUN_CMDLINE_H

#include <stdbool.h>

#include <jansson.h>

/*
 * The command line of `faultctl run` and `faultctl gameday` (run_cmdline.c): one file
 * operand, the report files and --help, and each command's own options.
 */
struct run_cmdline {
	const char *file;      /* the operand: the experiment or plan file */
	const char *inventory; /* --inventory FILE (RUN_OPT_INVENTORY) */
	const char *report_json, *junit, *markdown;
	bool yes;  /* --yes (RUN_OPT_YES) */
	bool json; /* --json after the command (RUN_OPT_JSON), as the global option */
};

/* The options a command accepts besides the report files and --help. */
enum run_cmdline_flags {
	RUN_OPT_INVENTORY = 1 << 0,
	RUN_OPT_YES = 1 << 1,
	RUN_OPT_JSON = 1 << 2,
};

struct run_cmdline_spec {
	const char *cmd;     /* prefix of messages, "faultctl run" */
	const char *operand; /* what the one operand is, "experiment file" */
	unsigned flags;	     /* enum run_cmdline_flags */
	void (*usage)(void);
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
