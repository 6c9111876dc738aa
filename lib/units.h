/* Units people write in experiment files: durations, sizes, percentages and rates. */
#ifndef FL_UNITS_H
#define FL_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every parser takes the text, stores the value in a fixed integer unit and returns 0, or
 * -EINVAL (malformed) or -ERANGE (negative or too large), with a message in err that quotes
 * the text. Parsing is exact integer arithmetic: "0.1s" is 100000000 ns, never a rounded
 * double, and text that does not denote a whole number of the stored unit is an error.
 * Range checks against a field's own limits are the caller's: the parsers only refuse what
 * no field can hold.
 */

#define UNITS_NSEC_PER_SEC 1000000000LL

/* Percentages are stored in parts per million of the whole: 100% is 1000000. */
#define UNITS_PPM_ONE 1000000u

/* A formatted value never needs more than this, terminating NUL included. */
#define UNITS_FMT_MAX 48

/* A size in bytes, or a share of something (memory, a filesystem) when ppm is nonzero. */
struct units_size {
	uint64_t bytes;
	uint32_t ppm;
};

/*
 * Durations: one or more number+unit pairs, largest unit first: "250ms", "1m30s", "1.5h",
 * "2d". Units ns, us, ms, s, m, h, d. A bare "0" is zero. Stored in nanoseconds.
 */
int units_parse_duration(const char *s, int64_t *ns, char *err, size_t err_size);

/* Percentages: "5%", "0.5%", at most four decimals. Stored in ppm; no upper limit here. */
int units_parse_percent(const char *s, uint64_t *ppm, char *err, size_t err_size);

/*
 * Sizes: "512MiB", "1.5GB", "4096B". Decimal units kB/KB, MB, GB, TB, PB, binary KiB, MiB,
 * GiB, TiB, PiB. With allow_percent, "80%" is stored in ppm (of memory or of a filesystem).
 */
int units_parse_size(const char *s, bool allow_percent, struct units_size *out, char *err,
		     size_t err_size);

/*
 * Network rates in bits per second: "10mbit", "1.5gbit", "500kbit" (decimal, as tc writes
 * them; case does not matter), or byte rates such as "12MB/s" or "1MiB/s".
 */
int units_parse_rate(const char *s, uint64_t *bits_per_sec, char *err, size_t err_size);

/* Byte rates: a size per second, "50MiB/s". Stored in bytes per second. */
int units_parse_byte_rate(const char *s, uint64_t *bytes_per_sec, char *err, size_t err_size);

/*
 * Request rates: "5/s", "0.5/s", "30/m", at most three decimals. Stored in requests per
 * 1000 minutes so that both per-second and per-minute rates are exact integers.
 */
int units_parse_req_rate(const char *s, uint64_t *per_kmin, char *err, size_t err_size);

/* Factors: "14.4x" or "14.4", at most three decimals. Stored in thousandths. */
int units_parse_factor(const char *s, uint64_t *milli, char *err, size_t err_size);

/*
 * Formatters write the canonical text of a value into buf (UNITS_FMT_MAX bytes) and return
 * buf. Parsing the text gives back the same value, so values survive a round trip.
 */
char *units_fmt_duration(char *buf, int64_t ns);
char *units_fmt_percent(char *buf, uint64_t ppm);
char *units_fmt_size(char *buf, const struct units_size *sz);
char *units_fmt_bytes(char *buf, uint64_t bytes);
char *units_fmt_rate(char *buf, uint64_t bits_per_sec);
char *units_fmt_byte_rate(char *buf, uint64_t bytes_per_sec);
char *units_fmt_req_rate(char *buf, uint64_t per_kmin);
char *units_fmt_factor(char *buf, uint64_t milli);

#endif
