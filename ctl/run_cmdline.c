/*
 * The command line `faultctl run` and `faultctl gameday` share: one file operand, the report
 * files (--report-json, --junit, --markdown) and --help, plus the few options of each
 * command's own; and writing the report files when the command is done.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "run_cmdline.h"

/* Every option either command has; each command's table keeps the ones it accepts. */
static const struct {
	struct option opt;
	unsigned only; /* 0: every command; else the enum run_cmdline_flags bit it needs */
	const char *shortopt;
} options[] = {
	{{"inventory", required_argument, NULL, 'i'}, RUN_OPT_INVENTORY, "i:"},
	{{"yes", no_argument, NULL, 'y'}, RUN_OPT_YES, "y"},
	{{"json", no_argument, NULL, 'j'}, RUN_OPT_JSON, NULL},
	{{"report-json", required_argument, NULL, 'r'}, 0, NULL},
	{{"junit", required_argument, NULL, 'u'}, 0, NULL},
	{{"markdown", required_argument, NULL, 'm'}, 0, NULL},
	{{"help", no_argument, NULL, 'h'}, 0, "h"},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

int run_cmdline_parse(const struct run_cmdline_spec *s, int argc, char **argv,
		      struct run_cmdline *o)
{
	/*
	 * Only the command's own options are in its table, so that getopt_long() rejects the
	 * others and resolves abbreviations among the ones that exist (--j is --junit for
	 * run, ambiguous for gameday).
	 */
	struct option longopts[N_OPTIONS + 1];
	char shortopts[16] = "";
	size_t n = 0;
	int c;

	memset(o, 0, sizeof(*o));
	memset(longopts, 0, sizeof(longopts));
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].only && !(s->flags & options[i].only))
			continue;
		longopts[n++] = options[i].opt;
		if (options[i].shortopt)
			strcat(shortopts, options[i].shortopt);
	}
	/* Options may follow the file: "run FILE --junit out.xml" reads naturally. */
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->inventory = optarg;
			break;
		case 'y':
			o->yes = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'r':
			o->report_json = optarg;
			break;
		case 'u':
			o->junit = optarg;
			break;
		case 'm':
			o->markdown = optarg;
			break;
		case 'h':
			s->usage();
			return 1;
		default:
			fprintf(stderr, "%s: try '%s --help'\n", s->cmd, s->cmd);
			return -EINVAL;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s: expected exactly one %s\n", s->cmd, s->operand);
		return -EINVAL;
	}
	o->file = argv[optind];
	return 0;
}

int run_cmdline_write(const struct run_cmdline_spec *s, const struct run_cmdline *o,
		      const json_t *rep, bool json)
{
	int err = 0, e;

	if (o->report_json && (e = report_write_json(rep, o->report_json))) {
		fprintf(stderr, "%s: %s: %s\n", s->cmd, o->report_json, strerror(-e));
		err = e;
	}
	if (o->junit && (e = s->write_junit(rep, o->junit))) {
		fprintf(stderr, "%s: %s: %s\n", s->cmd, o->junit, strerror(-e));
		err = e;
	}
	if (o->markdown && (e = s->write_markdown(rep, o->markdown))) {
		fprintf(stderr, "%s: %s: %s\n", s->cmd, o->markdown, strerror(-e));
		err = e;
	}
	if (json) {
		json_dumpf(rep, stdout, JSON_INDENT(2));
		printf("\n");
	}
	return err;
}
