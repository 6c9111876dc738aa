/* faultctl validate: check experiment files and report every problem in each of them. */
#include <errno.h>
#include <stdio.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "gameday.h"

static const struct ctl_opt validate_opts[] = {
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline validate_cl = {
	.cmd = "faultctl validate",
	.head = "Usage: faultctl [--json] validate FILE...\n"
		"\n"
		"Check experiment files (YAML or JSON, see docs/experiment-format.md) without\n"
		"running anything; a game-day plan (docs/gameday.md) is checked as a plan, not\n"
		"the experiments it names. Every problem is reported, one per line, as\n"
		"FILE:LINE:COLUMN: FIELD.PATH: MESSAGE on stderr; valid files are listed on "
		"stdout.\n"
		"With --json, one JSON document on stdout lists the problems of every file.\n"
		"\n",
	.tail = "Exit status: 0 when every file is valid, 2 when any is invalid or unreadable.\n",
	.opts = validate_opts,
	.options_first = true,
};

void cmd_validate_usage(void)
{
	ctl_cmdline_usage(&validate_cl);
}

/* Validate one file into dl. Returns 0 valid, -EINVAL invalid or unreadable, -ENOMEM. */
static int validate_one(const char *path, struct diag_list *dl)
{
	int err;

	err = diag_init(dl, path);
	if (err)
		return err;
	err = gd_validate_file(path, dl);
	if (err == -ENOMEM)
		return err;
	return err ? -EINVAL : 0;
}

static int append_json(json_t *files, struct diag_list *dl, bool valid)
{
	json_t *diags, *o;

	if (diag_to_json(dl, &diags))
		return -ENOMEM;
	o = json_pack("{s:s, s:b, s:o}", "file", dl->file, "valid", valid, "diagnostics", diags);
	if (!o || json_array_append_new(files, o))
		return -ENOMEM;
	return 0;
}

int cmd_validate(const struct ctl_opts *opts, int argc, char **argv)
{
	json_t *files = NULL, *doc;
	bool all_valid = true;
	int first, r, ret = CTL_EXIT_OK;

	first = ctl_cmdline_parse(&validate_cl, argc, argv, NULL);
	if (first <= 0)
		return first ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	if (first >= argc) {
		fprintf(stderr, "faultctl validate: no experiment file given\n");
		return CTL_EXIT_INVALID;
	}
	if (opts->json) {
		files = json_array();
		if (!files)
			goto nomem;
	}
	for (int i = first; i < argc; i++) {
		struct diag_list dl;

		r = validate_one(argv[i], &dl);
		if (r == -ENOMEM) {
			diag_clear(&dl);
			goto nomem;
		}
		all_valid &= !r;
		if (files) {
			r = append_json(files, &dl, !r);
			diag_clear(&dl);
			if (r)
				goto nomem;
			continue;
		}
		if (r)
			diag_print(stderr, &dl);
		else
			printf("%s: valid\n", argv[i]);
		diag_clear(&dl);
	}
	if (!all_valid)
		ret = CTL_EXIT_INVALID;
	if (files) {
		doc = json_pack("{s:b, s:o}", "valid", all_valid, "files", files);
		files = NULL;
		if (!doc)
			goto nomem;
		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(doc);
	}
	return ret;
nomem:
	json_decref(files);
	fprintf(stderr, "faultctl validate: out of memory\n");
	return CTL_EXIT_INFRA;
}
