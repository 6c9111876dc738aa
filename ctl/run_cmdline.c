/*
 * The command line `faultctl run` and `faultctl gameday` share: one file operand, the report
 * files (--report-json, --junit, --markdown) and --help, plus the few options of each
 * command's own; and writing the report files when the command is done.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "report.h"
#include "run_cmdline.h"

int run_cmdline_parse(const struct run_cmdline_spec *s, int argc, char **argv,
		      struct run_cmdline *o)
{
	int first;

	memset(o, 0, sizeof(*o));
	/*
	 * Only the command's own options are in its table, so that getopt_long() rejects the
	 * others and resolves abbreviations among the ones that exist (--j is --junit for
	 * run, ambiguous for gameday). Options may follow the file: "run FILE --junit out.xml"
	 * reads naturally.
	 */
	first = ctl_cmdline_parse(s->cl, argc, argv, o);
	if (first <= 0)
		return first ? first : 1;
	if (argc - first != 1) {
		fprintf(stderr, "%s: expected exactly one %s\n", s->cl->cmd, s->operand);
		return -EINVAL;
	}
	o->file = argv[first];
	return 0;
}

int run_cmdline_write(const struct run_cmdline_spec *s, const struct run_cmdline *o,
		      const json_t *rep, bool json)
{
	int err = 0, e;

	if (o->report_json && (e = report_write_json(rep, o->report_json))) {
		fprintf(stderr, "%s: %s: %s\n", s->cl->cmd, o->report_json, strerror(-e));
		err = e;
	}
	if (o->junit && (e = s->write_junit(rep, o->junit))) {
		fprintf(stderr, "%s: %s: %s\n", s->cl->cmd, o->junit, strerror(-e));
		err = e;
	}
	if (o->markdown && (e = s->write_markdown(rep, o->markdown))) {
		fprintf(stderr, "%s: %s: %s\n", s->cl->cmd, o->markdown, strerror(-e));
		err = e;
	}
	if (json) {
		json_dumpf(rep, stdout, JSON_INDENT(2));
		printf("\n");
	}
	return err;
}
