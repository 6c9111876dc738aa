/* Logging: one place decides format and verbosity for every message of a process. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>

#include "log.h"

static const char *log_prog = "faultline";
static enum log_level log_max = LOG_LVL_INFO;
static enum log_style log_style = LOG_STYLE_HUMAN;

void log_setup(const char *prog, enum log_level max, enum log_style style)
{
	if (prog)
		log_prog = prog;
	log_max = max;
	log_style = style;
}

enum log_level log_max_level(void)
{
	return log_max;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} names[] = {
		{ "error", LOG_LVL_ERR },
		{ "warn", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n;

	if (lvl > log_max)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One line per message: strip a trailing newline (libbpf adds them). */
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	/* A single fprintf keeps a message in one write(2), so lines never interleave. */
	if (log_style == LOG_STYLE_JOURNAL)
		fprintf(stderr, "<%d>%s\n", (int)lvl, buf);
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, level_name(lvl), buf);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
