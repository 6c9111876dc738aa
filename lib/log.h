/* Logging for faultlined and faultctl: levels, human or journald-style output. */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdarg.h>

/* Levels are syslog priorities so journald can read them from a "<N>" prefix. */
enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

enum log_style {
	LOG_STYLE_HUMAN,   /* "faultlined: warn: message" on stderr */
	LOG_STYLE_JOURNAL, /* "<4>message" on stderr, for systemd's journal */
};

void log_setup(const char *prog, enum log_level max, enum log_style style);
int log_level_parse(const char *s, enum log_level *out);
enum log_level log_max_level(void);
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
