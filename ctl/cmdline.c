/*
 * Declarative command lines: getopt_long() driven from a command's table of options, and
 * the options part of its usage printed from the same rows.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "units.h"

/* More options than any command has; a longer table is refused, not cut short. */
#define CTL_OPT_MAX 16
/* getopt_long()'s value for a row without a short form: past every character. */
#define LONG_ONLY 256

static bool takes_arg(const struct ctl_opt *o)
{
	return o->kind == CTL_OPT_STRING || o->kind == CTL_OPT_CHOICE ||
	       o->kind == CTL_OPT_DURATION;
}

static size_t label_len(const struct ctl_opt *o)
{
	return (o->short_name ? 4 : 0) + 2 + strlen(o->name) + (o->arg ? 1 + strlen(o->arg) : 0);
}

void ctl_cmdline_print(FILE *f, const struct ctl_cmdline *cl)
{
	size_t col = (size_t)cl->help_col, listed = 0;
	const struct ctl_opt *o;

	fputs(cl->head, f);
	if (!col) {
		for (o = cl->opts; o->kind != CTL_OPT_END; o++)
			if (o->help && label_len(o) + 4 > col)
				col = label_len(o) + 4;
	}
	for (o = cl->opts; o->kind != CTL_OPT_END; o++) {
		const char *p;
		int n = 0;

		if (!o->help)
			continue;
		listed++;
		if (o->short_name)
			n += fprintf(f, "  -%c,", o->short_name);
		n += fprintf(f, "%s--%s%s%s", o->short_name ? " " : "  ", o->name, o->arg ? " " : "",
			     o->arg ? o->arg : "");
		/* A label as wide as the column still gets its two spaces. */
		fprintf(f, "%*s", n + 2 > (int)col ? 2 : (int)col - n, "");
		for (p = o->help; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "%*s", (int)col, "");
		}
		fputc('\n', f);
	}
	if (listed && cl->tail)
		fputc('\n', f);
	if (cl->tail)
		fputs(cl->tail, f);
}

void ctl_cmdline_usage(const struct ctl_cmdline *cl)
{
	ctl_cmdline_print(stdout, cl);
}

/* Store the option's argument into cfg. Returns 0 or -EINVAL after a message. */
static int store(const struct ctl_cmdline *cl, const struct ctl_opt *o, const char *arg, void *cfg)
{
	char *dst = (char *)cfg + o->offset;
	char err[128];
	int64_t *ns;
	size_t n;

	switch (o->kind) {
	case CTL_OPT_FLAG:
		*(bool *)dst = true;
		return 0;
	case CTL_OPT_COUNT:
		(*(int *)dst)++;
		return 0;
	case CTL_OPT_STRING:
		*(const char **)dst = arg;
		return 0;
	case CTL_OPT_CHOICE:
		for (n = 0; o->choices[n]; n++)
			if (!strcmp(arg, o->choices[n])) {
				*(const char **)dst = o->choices[n];
				return 0;
			}
		if (n == 2) {
			fprintf(stderr, "%s: --%s: '%s' is neither '%s' nor '%s'\n", cl->cmd,
				o->name, arg, o->choices[0], o->choices[1]);
			return -EINVAL;
		}
		fprintf(stderr, "%s: --%s: '%s' is none of", cl->cmd, o->name, arg);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s '%s'", i ? "," : "", o->choices[i]);
		fputc('\n', stderr);
		return -EINVAL;
	case CTL_OPT_DURATION:
		/* A text that is no duration says why; a duration of 0 is refused as such. */
		ns = (int64_t *)dst;
		if (units_parse_duration(arg, ns, err, sizeof(err))) {
			fprintf(stderr, "%s: --%s: '%s': %s\n", cl->cmd, o->name, arg, err);
			return -EINVAL;
		}
		if (*ns <= 0) {
			fprintf(stderr, "%s: --%s: must be above 0s\n", cl->cmd, o->name);
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

int ctl_cmdline_parse(const struct ctl_cmdline *cl, int argc, char **argv, void *cfg)
{
	struct option longopts[CTL_OPT_MAX + 1];
	const struct ctl_opt *rows[CTL_OPT_MAX];
	char shortopts[2 * CTL_OPT_MAX + 2];
	size_t n = 0, ns = 0;
	int c, err;

	memset(longopts, 0, sizeof(longopts));
	if (cl->options_first)
		shortopts[ns++] = '+';
	for (const struct ctl_opt *o = cl->opts; o->kind != CTL_OPT_END; o++) {
		if (o->kind == CTL_OPT_NOTE)
			continue;
		if (n == CTL_OPT_MAX) {
			fprintf(stderr, "%s: too many options in its table\n", cl->cmd);
			return -EINVAL;
		}
		rows[n] = o;
		longopts[n] =
			(struct option){o->name, takes_arg(o) ? required_argument : no_argument,
					NULL, o->short_name ? o->short_name : LONG_ONLY + (int)n};
		if (o->short_name) {
			shortopts[ns++] = (char)o->short_name;
			if (takes_arg(o))
				shortopts[ns++] = ':';
		}
		n++;
	}
	shortopts[ns] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct ctl_opt *o = NULL;

		for (size_t i = 0; i < n && !o; i++)
			if (longopts[i].val == c)
				o = rows[i];
		if (!o) {
			fprintf(stderr, "%s: try '%s --help'\n", cl->cmd, cl->cmd);
			return -EINVAL;
		}
		if (o->kind == CTL_OPT_HELP) {
			ctl_cmdline_usage(cl);
			return 0;
		}
		err = store(cl, o, optarg, cfg);
		if (err)
			return err;
	}
	return optind;
}
