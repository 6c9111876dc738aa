/*
 * Declarative command lines for faultctl's subcommands (cmdline.c): one table per command
 * whose rows drive getopt_long() and print the options part of the usage, so that what a
 * command accepts and what its --help lists cannot drift apart.
 */
#ifndef FL_CMDLINE_H
#define FL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What an option takes and where its value goes (at ctl_opt.offset in the command's struct). */
enum ctl_opt_kind {
	CTL_OPT_END,	  /* ends the table */
	CTL_OPT_FLAG,	  /* no argument: sets a bool to true */
	CTL_OPT_COUNT,	  /* no argument: adds one to an int each time it is given (-vv) */
	CTL_OPT_STRING,	  /* an argument kept as given: a const char * */
	CTL_OPT_CHOICE,	  /* one of ctl_opt.choices: a const char * */
	CTL_OPT_DURATION, /* a duration above 0s (units_parse_duration): an int64_t of ns */
	CTL_OPT_HELP,	  /* print the usage and stop: no value */
	CTL_OPT_NOTE,	  /* a line of the usage only, for an option read elsewhere (global) */
};

struct ctl_opt {
	const char *name; /* the long name, without its dashes */
	int short_name;	  /* its one-letter form, or 0 */
	enum ctl_opt_kind kind;
	const char *arg;	    /* the argument as the usage names it ("FILE"), or NULL */
	size_t offset;		    /* where the value goes in the command's options struct */
	const char *help;	    /* its usage lines, '\n' between them; NULL: not listed */
	const char *const *choices; /* CTL_OPT_CHOICE: the accepted words, NULL-terminated */
};

struct ctl_cmdline {
	const char *cmd;	    /* prefix of messages, "faultctl check" */
	const char *head;	    /* the usage up to the options: synopsis and description */
	const char *tail;	    /* the usage after them (the exit status), or NULL */
	const struct ctl_opt *opts; /* ends with a CTL_OPT_END row */
	/* The column of the help texts; 0: two spaces after the longest option. */
	int help_col;
	/* Options only before the first operand (getopt's '+'); else also after it. */
	bool options_first;
};

/*
 * Print the usage on f: the head, one entry per listed option ("-v, --verbose" where the row
 * has a short form), the tail.
 */
void ctl_cmdline_print(FILE *f, const struct ctl_cmdline *cl);

/* ctl_cmdline_print() on stdout: what --help prints. */
void ctl_cmdline_usage(const struct ctl_cmdline *cl);

/*
 * Parse a command's own argv (argv[0] is the command's name) from a fresh getopt state
 * (optind 0), storing each option's value into cfg at its row's offset; cfg holds the
 * defaults. Returns the index of the first operand in argv, 0 after printing the usage
 * for --help, or -EINVAL after a message on stderr naming the option.
 */
int ctl_cmdline_parse(const struct ctl_cmdline *cl, int argc, char **argv, void *cfg);

#endif
