/* Timestamps as the agent writes them in events, audit lines and API answers. */
#ifndef FL_TIMEFMT_H
#define FL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_ISO_SIZE 32

/* Now, UTC, millisecond precision: "2026-11-22T12:00:00.123Z". Returns buf. */
char *timefmt_now_iso(char *buf, size_t size);

struct timespec;

/* The same format for a CLOCK_REALTIME time. Returns buf. */
char *timefmt_ts_iso(const struct timespec *ts, char *buf, size_t size);

/* The same format for a time in milliseconds since the epoch (UTC). Returns buf. */
char *timefmt_ms_iso(uint64_t ms, char *buf, size_t size);

#endif
