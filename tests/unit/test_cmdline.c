/*
 * faultctl's declarative command lines (ctl/cmdline.c): each kind of option stores its value
 * where its row says, bad values are refused naming the option, --help prints the usage laid
 * out from the same rows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmdline.h"

struct args {
	const char *file, *mode;
	int64_t wait_ns;
	bool verbose;
};

static const char *const modes[] = {"fast", "slow", NULL};
static const char *const three[] = {"a", "b", "c", NULL};

static const struct ctl_opt opts[] = {
	{.name = "file",
	 .short_name = 'f',
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct args, file),
	 .help = "the file"},
	{.name = "mode",
	 .kind = CTL_OPT_CHOICE,
	 .arg = "fast|slow",
	 .offset = offsetof(struct args, mode),
	 .help = "how\nto go",
	 .choices = modes},
	{.name = "wait",
	 .kind = CTL_OPT_DURATION,
	 .arg = "DURATION",
	 .offset = offsetof(struct args, wait_ns),
	 .help = "how long"},
	{.name = "verbose",
	 .short_name = 'v',
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct args, verbose)},
	{.name = "json", .kind = CTL_OPT_NOTE, .arg = "(global)", .help = "noted"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline cl = {
	.cmd = "faultctl t",
	.head = "Usage: t\n\n",
	.tail = "Exit status: 0\n",
	.opts = opts,
};

/* Parse words (NULL-terminated, after the command's name) with whatever table c has. */
static int parse_with(const struct ctl_cmdline *c, struct args *a, const char *const *words)
{
	char *argv[16] = {"t"};
	int argc = 1;

	while (*words && argc < 15)
		argv[argc++] = (char *)*words++;
	argv[argc] = NULL;
	return ctl_cmdline_parse(c, argc, argv, a);
}

/* What fn printed on stream (stdout or stderr), in a string to free(). */
static char *captured(FILE *stream, int (*fn)(void *), void *arg, int *ret)
{
	char path[] = "/tmp/fl-test-cmdline.XXXXXX";
	int fd = mkstemp(path), saved, target = fileno(stream);
	char *buf = calloc(1, 4096);

	assert_true(fd >= 0);
	assert_non_null(buf);
	fflush(stream);
	saved = dup(target);
	assert_true(saved >= 0);
	assert_true(dup2(fd, target) >= 0);
	*ret = fn(arg);
	fflush(stream);
	assert_true(dup2(saved, target) >= 0);
	close(saved);
	assert_true(pread(fd, buf, 4095, 0) >= 0);
	close(fd);
	unlink(path);
	return buf;
}

struct call {
	const struct ctl_cmdline *cl;
	struct args *a;
	const char *const *words;
};

static int do_parse(void *p)
{
	struct call *c = p;

	return parse_with(c->cl, c->a, c->words);
}

static int do_usage(void *p)
{
	ctl_cmdline_usage(p);
	return 0;
}

static void test_values(void **state)
{
	static const char *const words[] = {"x.yaml", "-f",    "in", "--mode", "slow",
					    "--wait", "1m30s", "-v", NULL};
	struct args a = {.mode = "fast"};
	int first;

	(void)state;
	first = parse_with(&cl, &a, words);
	/* Options may follow the operand: getopt moved it last. */
	assert_int_equal(first, 8);
	assert_string_equal(a.file, "in");
	assert_string_equal(a.mode, "slow");
	assert_int_equal(a.wait_ns, 90LL * 1000000000);
	assert_true(a.verbose);
}

static void test_defaults_stay(void **state)
{
	static const char *const words[] = {"x.yaml", NULL};
	struct args a = {.mode = "fast", .wait_ns = 5};

	(void)state;
	assert_int_equal(parse_with(&cl, &a, words), 1);
	assert_string_equal(a.mode, "fast");
	assert_int_equal(a.wait_ns, 5);
	assert_null(a.file);
	assert_false(a.verbose);
}

static void test_options_first(void **state)
{
	static const struct ctl_cmdline first_cl = {
		.cmd = "faultctl t", .head = "", .opts = opts, .options_first = true};
	static const char *const words[] = {"-v", "x.yaml", "-f", "in", NULL};
	struct args a = {0};

	(void)state;
	assert_int_equal(parse_with(&first_cl, &a, words), 2);
	assert_true(a.verbose);
	assert_null(a.file);
}

/* Run parse on words and check its result and what it printed on stderr. */
static void expect_error(const struct ctl_cmdline *c, const char *const *words, int want,
			 const char *want_err)
{
	struct args a = {0};
	struct call call = {c, &a, words};
	char *err;
	int ret;

	err = captured(stderr, do_parse, &call, &ret);
	assert_int_equal(ret, want);
	assert_string_equal(err, want_err);
	free(err);
}

static void test_errors(void **state)
{
	static const struct ctl_opt three_opts[] = {
		{.name = "pick", .kind = CTL_OPT_CHOICE, .arg = "a|b|c", .choices = three},
		{0},
	};
	static const struct ctl_cmdline three_cl = {
		.cmd = "faultctl t", .head = "", .opts = three_opts};

	(void)state;
	expect_error(&cl, (const char *const[]){"--mode", "medium", NULL}, -EINVAL,
		     "faultctl t: --mode: 'medium' is neither 'fast' nor 'slow'\n");
	expect_error(&three_cl, (const char *const[]){"--pick", "d", NULL}, -EINVAL,
		     "faultctl t: --pick: 'd' is none of 'a', 'b', 'c'\n");
	expect_error(&cl, (const char *const[]){"--wait", "0", NULL}, -EINVAL,
		     "faultctl t: --wait: must be above 0s\n");
	expect_error(&cl, (const char *const[]){"--wait", "-1s", NULL}, -EINVAL,
		     "faultctl t: --wait: '-1s': duration '-1s' is negative\n");
	expect_error(&cl, (const char *const[]){"--bogus", NULL}, -EINVAL,
		     "t: unrecognized option '--bogus'\n"
		     "faultctl t: try 'faultctl t --help'\n");
	expect_error(&cl, (const char *const[]){"--file", NULL}, -EINVAL,
		     "t: option '--file' requires an argument\n"
		     "faultctl t: try 'faultctl t --help'\n");
	/* A note is a line of the usage, not an option. */
	expect_error(&cl, (const char *const[]){"--json", NULL}, -EINVAL,
		     "t: unrecognized option '--json'\n"
		     "faultctl t: try 'faultctl t --help'\n");
}

/*
 * A text that is no duration names itself and what went wrong, whatever the option's default
 * (guard's --for defaults to 0 and once answered "must be above 0s" to any text).
 */
static void test_bad_duration(void **state)
{
	static const char *const words[] = {"--wait", "soon", NULL};

	(void)state;
	for (int64_t def = 0; def <= 1; def++) {
		struct args a = {.wait_ns = def};
		struct call call = {&cl, &a, words};
		char *err;
		int ret;

		err = captured(stderr, do_parse, &call, &ret);
		assert_int_equal(ret, -EINVAL);
		assert_non_null(strstr(err, "faultctl t: --wait: 'soon': "));
		assert_null(strstr(err, "must be above 0s"));
		free(err);
	}
}

static void test_help(void **state)
{
	static const char *const words[] = {"-v", "--help", "-f", NULL};
	struct args a = {0};
	struct call call = {&cl, &a, words};
	char *out;
	int ret;

	(void)state;
	out = captured(stdout, do_parse, &call, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "Usage: t\n"));
	free(out);
}

static void test_usage_layout(void **state)
{
	static const struct ctl_cmdline col_cl = {
		.cmd = "faultctl t", .head = "H\n", .opts = opts, .help_col = 30};
	static const struct ctl_opt none[] = {
		{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
		{0},
	};
	static const struct ctl_cmdline bare_cl = {
		.cmd = "faultctl t", .head = "H\n\n", .tail = "T\n", .opts = none};
	char *out;
	int ret;

	(void)state;
	/* Two spaces after the longest listed label; a short form before the long one;
	 * continuation lines under the text; unlisted rows (--verbose, --help) absent. */
	out = captured(stdout, do_usage, (void *)&cl, &ret);
	assert_string_equal(out, "Usage: t\n\n"
				 "  -f, --file FILE   the file\n"
				 "  --mode fast|slow  how\n"
				 "                    to go\n"
				 "  --wait DURATION   how long\n"
				 "  --json (global)   noted\n"
				 "\n"
				 "Exit status: 0\n");
	free(out);
	out = captured(stdout, do_usage, (void *)&col_cl, &ret);
	assert_string_equal(out, "H\n"
				 "  -f, --file FILE             the file\n"
				 "  --mode fast|slow            how\n"
				 "                              to go\n"
				 "  --wait DURATION             how long\n"
				 "  --json (global)             noted\n");
	free(out);
	/* No option listed: the head runs straight into the tail. */
	out = captured(stdout, do_usage, (void *)&bare_cl, &ret);
	assert_string_equal(out, "H\n\nT\n");
	free(out);
}

/* A counting option adds one each time it is given, in either form; the usage goes to any stream. */
static void test_count(void **state)
{
	struct loud {
		int level;
	};
	static const struct ctl_opt count_opts[] = {
		{.name = "verbose",
		 .short_name = 'v',
		 .kind = CTL_OPT_COUNT,
		 .offset = offsetof(struct loud, level),
		 .help = "more"},
		{0},
	};
	static const struct ctl_cmdline count_cl = {
		.cmd = "faultctl t", .head = "H\n", .opts = count_opts, .options_first = true};
	char *argv[] = {"t", "-vv", "--verbose", "op", "-v", NULL};
	struct loud l = {0};
	char path[] = "/tmp/fl-test-cmdline.XXXXXX";
	char buf[64] = "";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	/* options_first: the -v after the operand is the operand's. */
	assert_int_equal(ctl_cmdline_parse(&count_cl, 5, argv, &l), 3);
	assert_int_equal(l.level, 3);
	assert_true(fd >= 0);
	f = fdopen(fd, "w+");
	assert_non_null(f);
	ctl_cmdline_print(f, &count_cl);
	rewind(f);
	assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), strlen("H\n  -v, --verbose  more\n"));
	fclose(f);
	unlink(path);
	assert_string_equal(buf, "H\n  -v, --verbose  more\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),	      cmocka_unit_test(test_defaults_stay),
		cmocka_unit_test(test_options_first), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bad_duration),  cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_layout), cmocka_unit_test(test_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
