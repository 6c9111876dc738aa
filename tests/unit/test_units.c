/* Units: exact parsing, exact error messages, and formatters that round-trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"

#define SEC 1000000000LL
#define MS 1000000LL

static void test_duration_ok(void **state)
{
	static const struct {
		const char *text;
		int64_t ns;
	} cases[] = {
		{"0", 0},
		{"0s", 0},
		{"250ms", 250 * MS},
		{"1m30s", 90 * SEC},
		{"1.5s", 1500 * MS},
		{"0.1s", 100 * MS},
		{"2h", 7200 * SEC},
		{"1d12h", 36 * 3600 * SEC},
		{"1h0m5s", 3605 * SEC},
		{"10us", 10000},
		{"10\xc2\xb5s", 10000},
		{"7ns", 7},
		{"1.000000001s", SEC + 1},
		{"106751d", 106751LL * 86400 * SEC},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ns = -1;

		assert_int_equal(units_parse_duration(cases[i].text, &ns, err, sizeof(err)), 0);
		assert_int_equal(ns, cases[i].ns);
	}
}

static void expect_duration_error(const char *text, int code, const char *msg)
{
	char err[256] = "";
	int64_t ns = 12345;

	assert_int_equal(units_parse_duration(text, &ns, err, sizeof(err)), code);
	assert_string_equal(err, msg);
	assert_int_equal(ns, 12345);
}

static void test_duration_errors(void **state)
{
	expect_duration_error("", -EINVAL, "empty duration");
	expect_duration_error("30", -EINVAL,
			      "duration '30' has no unit (use ns, us, ms, s, m, h or d)");
	expect_duration_error("1e3ms", -EINVAL,
			      "duration '1e3ms' uses exponent notation, which is not supported; "
			      "write the digits out (1000, not 1e3)");
	expect_duration_error(
		"5sec", -EINVAL,
		"duration '5sec' has unknown unit 'sec' (use ns, us, ms, s, m, h or d)");
	expect_duration_error("-5s", -ERANGE, "duration '-5s' is negative");
	expect_duration_error("30s1m", -EINVAL,
			      "duration '30s1m' must list units from largest to smallest, as in "
			      "'1m30s'");
	expect_duration_error("1s1s", -EINVAL,
			      "duration '1s1s' must list units from largest to smallest, as in "
			      "'1m30s'");
	expect_duration_error("0.5ns", -EINVAL,
			      "duration '0.5ns' is not a whole number of nanoseconds");
	expect_duration_error("106752d", -ERANGE, "duration '106752d' is too large");
	expect_duration_error("99999999999999999999999999999999h", -ERANGE,
			      "duration '99999999999999999999999999999999h' is too large");
	expect_duration_error("s", -EINVAL, "invalid duration 's': expected a number");
	expect_duration_error("1.s", -EINVAL, "invalid duration '1.s': expected a number");
	expect_duration_error("1 s", -EINVAL, "invalid duration '1 s'");
}

static void test_percent(void **state)
{
	char err[256];
	uint64_t ppm;

	assert_int_equal(units_parse_percent("5%", &ppm, err, sizeof(err)), 0);
	assert_int_equal(ppm, 50000);
	assert_int_equal(units_parse_percent("0.5%", &ppm, err, sizeof(err)), 0);
	assert_int_equal(ppm, 5000);
	assert_int_equal(units_parse_percent("0.0001%", &ppm, err, sizeof(err)), 0);
	assert_int_equal(ppm, 1);
	assert_int_equal(units_parse_percent("100%", &ppm, err, sizeof(err)), 0);
	assert_int_equal(ppm, 1000000);
	/* No range here: 150% parses; the field that holds it decides. */
	assert_int_equal(units_parse_percent("150%", &ppm, err, sizeof(err)), 0);
	assert_int_equal(ppm, 1500000);

	assert_int_equal(units_parse_percent("5", &ppm, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "percentage '5' needs a '%' sign, as in '5%'");
	assert_int_equal(units_parse_percent("0.00001%", &ppm, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "percentage '0.00001%' has more than 4 decimals");
	assert_int_equal(units_parse_percent("-1%", &ppm, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "percentage '-1%' is negative");
	assert_int_equal(units_parse_percent("5%%", &ppm, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid percentage '5%%' (write it like '5%')");
	assert_int_equal(units_parse_percent("1000000%", &ppm, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "percentage '1000000%' is too large");
}

static void test_size(void **state)
{
	struct units_size sz;
	char err[256];

	assert_int_equal(units_parse_size("512MiB", false, &sz, err, sizeof(err)), 0);
	assert_int_equal(sz.bytes, 512ULL << 20);
	assert_int_equal(sz.ppm, 0);
	assert_int_equal(units_parse_size("1.5GB", false, &sz, err, sizeof(err)), 0);
	assert_int_equal(sz.bytes, 1500000000ULL);
	assert_int_equal(units_parse_size("4096B", false, &sz, err, sizeof(err)), 0);
	assert_int_equal(sz.bytes, 4096);
	assert_int_equal(units_parse_size("80%", true, &sz, err, sizeof(err)), 0);
	assert_int_equal(sz.bytes, 0);
	assert_int_equal(sz.ppm, 800000);

	assert_int_equal(units_parse_size("80%", false, &sz, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size '80%' cannot be a percentage here; use a unit such as MiB");
	assert_int_equal(units_parse_size("512", false, &sz, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size '512' has no unit (use B, kB, MB, GB, TB, PB, KiB, MiB, "
				 "GiB, TiB or PiB)");
	assert_int_equal(units_parse_size("512mb", false, &sz, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size '512mb' has unknown unit 'mb' (use B, kB, MB, GB, TB, PB, "
				 "KiB, MiB, GiB, TiB or PiB)");
	/* A size that may be relative says so in its hint. */
	assert_int_equal(units_parse_size("512mb", true, &sz, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size '512mb' has unknown unit 'mb' (use B, kB, MB, GB, TB, PB, "
				 "KiB, MiB, GiB, TiB or PiB, or a percentage such as '10%')");
	assert_int_equal(units_parse_size("1e3MiB", false, &sz, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "exponent notation"));
	assert_int_equal(units_parse_size("1.5B", false, &sz, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "size '1.5B' is not a whole number of bytes");
	assert_int_equal(units_parse_size("-1MiB", false, &sz, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "size '-1MiB' is negative");
	assert_int_equal(units_parse_size("9000PiB", false, &sz, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "size '9000PiB' is too large");
}

#define RATE_HINT                                                                                 \
	"bit, kbit, mbit, gbit or tbit, or a byte unit followed by '/s': B/s, kB/s, MB/s, GB/s, " \
	"TB/s, PB/s, KiB/s, MiB/s, GiB/s, TiB/s or PiB/s"

static void test_rates(void **state)
{
	char err[256];
	uint64_t v;

	assert_int_equal(units_parse_rate("10mbit", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 10000000);
	assert_int_equal(units_parse_rate("1.5Gbit", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1500000000);
	assert_int_equal(units_parse_rate("500kbit", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 500000);
	assert_int_equal(units_parse_rate("12MB/s", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 96000000);
	assert_int_equal(units_parse_rate("1MiB/s", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 8388608);

	assert_int_equal(units_parse_rate("10mbps", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10mbps' is ambiguous: write '10mbit' for bits or "
				 "'10MB/s' for bytes per second");
	assert_int_equal(units_parse_rate("10bps", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10bps' is ambiguous: write '10bit' for bits or '10B/s' "
				 "for bytes per second");
	assert_int_equal(units_parse_rate("10", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10' has no unit (use " RATE_HINT ")");
	/* A rate field's hint lists rate units, bit and byte ones, never sizes alone. */
	assert_int_equal(units_parse_rate("10x", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10x' has unknown unit 'x' (use " RATE_HINT ")");
	assert_int_equal(units_parse_rate("10mb/s", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10mb/s' has unknown unit 'mb/s' (use " RATE_HINT ")");
	/* "1e308mbit" once read as the unit 'e' of a byte rate. */
	assert_int_equal(units_parse_rate("1e308mbit", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '1e308mbit' uses exponent notation, which is not "
				 "supported; write the digits out (1000, not 1e3)");
	assert_int_equal(units_parse_rate("2.5E-3gbit", &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "exponent notation"));
	assert_int_equal(units_parse_byte_rate("5x/s", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "byte rate '5x/s' has unknown unit 'x' (use B, kB, MB, GB, TB, "
				 "PB, KiB, MiB, GiB, TiB or PiB followed by '/s')");
	assert_int_equal(units_parse_rate("10MB", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate '10MB' has no '/s' after its byte unit (or use kbit, "
				 "mbit, gbit)");

	assert_int_equal(units_parse_byte_rate("50MiB/s", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 50ULL << 20);
	assert_int_equal(units_parse_byte_rate("50MiB", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "byte rate '50MiB' needs '/s', as in '50MiB/s'");

	assert_int_equal(units_parse_req_rate("5/s", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(units_parse_req_rate("30/m", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(units_parse_req_rate("0.5/s", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(units_parse_req_rate("5", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "request rate '5' needs a unit, as in '5/s' or '30/m'");

	assert_int_equal(units_parse_factor("14.4x", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 14400);
	assert_int_equal(units_parse_factor("6", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 6000);
	assert_int_equal(units_parse_factor("1.2345x", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "factor '1.2345x' has more than 3 decimals");
}

static void test_format(void **state)
{
	struct units_size sz = {.bytes = 512ULL << 20};
	char b[UNITS_FMT_MAX];

	assert_string_equal(units_fmt_duration(b, 0), "0s");
	assert_string_equal(units_fmt_duration(b, 90 * SEC), "1m30s");
	assert_string_equal(units_fmt_duration(b, 1500 * MS), "1.5s");
	assert_string_equal(units_fmt_duration(b, 250 * MS), "250ms");
	assert_string_equal(units_fmt_duration(b, 1250000), "1.25ms");
	assert_string_equal(units_fmt_duration(b, 36 * 3600 * SEC), "1d12h");
	assert_string_equal(units_fmt_duration(b, 3600 * SEC + 500 * MS), "1h500ms");
	assert_string_equal(units_fmt_duration(b, 7), "7ns");
	assert_string_equal(units_fmt_percent(b, 5000), "0.5%");
	assert_string_equal(units_fmt_percent(b, 1000000), "100%");
	assert_string_equal(units_fmt_percent(b, 1), "0.0001%");
	assert_string_equal(units_fmt_size(b, &sz), "512MiB");
	sz.bytes = 1500000000;
	assert_string_equal(units_fmt_size(b, &sz), "1500MB");
	sz.bytes = 1001;
	assert_string_equal(units_fmt_size(b, &sz), "1001B");
	sz.ppm = 800000;
	assert_string_equal(units_fmt_size(b, &sz), "80%");
	assert_string_equal(units_fmt_rate(b, 10000000), "10mbit");
	assert_string_equal(units_fmt_rate(b, 8388608), "1MiB/s");
	assert_string_equal(units_fmt_rate(b, 1234), "1234bit");
	assert_string_equal(units_fmt_byte_rate(b, 50ULL << 20), "50MiB/s");
	assert_string_equal(units_fmt_req_rate(b, 300000), "5/s");
	assert_string_equal(units_fmt_req_rate(b, 30000), "30/m");
	assert_string_equal(units_fmt_req_rate(b, 60), "0.001/s");
	assert_string_equal(units_fmt_req_rate(b, 2500), "2.5/m");
	assert_string_equal(units_fmt_factor(b, 14400), "14.4x");
}

/* Whatever a formatter writes parses back to the same value. */
static void test_round_trip(void **state)
{
	static const int64_t durations[] = {1,		 999,	   1000,	 1001,
					    1500 * MS,	 59 * SEC, 61 * SEC + 1, 3600 * SEC,
					    90061 * SEC, INT64_MAX};
	static const uint64_t bytes[] = {
		1, 1000, 1024, 1536, 3 * 1000 * 1000, 1ULL << 40, (1ULL << 40) + 1, INT64_MAX};
	char b[UNITS_FMT_MAX], err[256];

	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		int64_t v;

		assert_int_equal(units_parse_duration(units_fmt_duration(b, durations[i]), &v, err,
						      sizeof(err)),
				 0);
		assert_int_equal(v, durations[i]);
	}
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		struct units_size in = {.bytes = bytes[i]}, out;
		uint64_t r;

		assert_int_equal(
			units_parse_size(units_fmt_size(b, &in), false, &out, err, sizeof(err)), 0);
		assert_int_equal(out.bytes, bytes[i]);
		assert_int_equal(
			units_parse_rate(units_fmt_rate(b, bytes[i]), &r, err, sizeof(err)), 0);
		assert_int_equal(r, bytes[i]);
	}
	for (uint64_t ppm = 0; ppm <= 1000000; ppm += 4999) {
		uint64_t v;

		assert_int_equal(
			units_parse_percent(units_fmt_percent(b, ppm), &v, err, sizeof(err)), 0);
		assert_int_equal(v, ppm);
	}
	for (uint64_t r = 1000; r <= 60000000; r = r * 7 + 13) {
		uint64_t v;

		assert_int_equal(
			units_parse_req_rate(units_fmt_req_rate(b, r), &v, err, sizeof(err)), 0);
		assert_int_equal(v, r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok), cmocka_unit_test(test_duration_errors),
		cmocka_unit_test(test_percent),	    cmocka_unit_test(test_size),
		cmocka_unit_test(test_rates),	    cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
