/* Unit tests for lib/addr.c and lib/mountinfo.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "mountinfo.h"

static void parse_unix(void **state)
{
	struct agent_addr a;
	char err[256];

	assert_int_equal(addr_parse("unix:///run/x.sock", &a, err, sizeof(err)), 0);
	assert_int_equal(a.transport, AGENT_UNIX);
	assert_string_equal(a.path, "/run/x.sock");
}

static void parse_errors(void **state)
{
	struct agent_addr a;
	char err[256], longp[200];

	assert_int_equal(addr_parse("/run/x.sock", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "agent address '/run/x.sock' has no scheme (expected unix:///PATH)");
	assert_int_equal(addr_parse("tcp://h:1", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "agent address 'tcp://h:1': unsupported scheme 'tcp' (supported: unix:///PATH)");
	assert_int_equal(addr_parse("unix://rel.sock", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "agent address 'unix://rel.sock': the socket path must be absolute (unix:///PATH)");
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:///", 8);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(addr_parse(longp, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket path longer than 107 bytes"));
}

static void resolve_order(void **state)
{
	struct agent_addr a;
	char err[256];

	unsetenv(AGENT_ENV);
	assert_int_equal(addr_resolve(NULL, &a, err, sizeof(err)), 0);
	assert_string_equal(a.path, AGENT_DEFAULT_SOCKET);
	setenv(AGENT_ENV, "unix:///env.sock", 1);
	assert_int_equal(addr_resolve(NULL, &a, err, sizeof(err)), 0);
	assert_string_equal(a.path, "/env.sock");
	assert_int_equal(addr_resolve("unix:///cli.sock", &a, err, sizeof(err)), 0);
	assert_string_equal(a.path, "/cli.sock");
	unsetenv(AGENT_ENV);
}

static int find(const char *text, const char *type, char *out, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = mountinfo_find_fstype(f, type, out, size);
	fclose(f);
	return err;
}

static void mountinfo_hybrid(void **state)
{
	/* A hybrid layout as on Debian with systemd's legacy mode: v1 tmpfs + unified v2. */
	const char *mi =
		"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
		"30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
		"32 30 0:28 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n";
	char out[64];

	assert_int_equal(find(mi, "cgroup2", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");
	assert_int_equal(find(mi, "bpf", out, sizeof(out)), -ENOENT);
	assert_int_equal(find(mi, "cgroup2", out, 8), -ENAMETOOLONG);
}

static void mountinfo_escapes_and_no_optional(void **state)
{
	/* No optional fields at all, and an escaped space in the mount point. */
	const char *mi = "40 22 0:35 / /mnt/my\\040cg rw - cgroup2 none rw\n";
	char out[64];

	assert_int_equal(find(mi, "cgroup2", out, sizeof(out)), 0);
	assert_string_equal(out, "/mnt/my cg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_unix),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(resolve_order),
		cmocka_unit_test(mountinfo_hybrid),
		cmocka_unit_test(mountinfo_escapes_and_no_optional),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
