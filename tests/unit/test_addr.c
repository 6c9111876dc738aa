/* Unit tests for lib/addr.c (unix:// and ssh:// agent addresses) and lib/mountinfo.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wordexp.h>
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
	assert_string_equal(err,
			    "agent address '/run/x.sock' has no scheme (expected unix:///PATH, "
			    "ssh://[user@]host[:port][/PATH])");
	assert_int_equal(addr_parse("tcp://h:1", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(
		err,
		"agent address 'tcp://h:1': unsupported scheme 'tcp' (supported: unix:///PATH, "
		"ssh://[user@]host[:port][/PATH])");
	assert_int_equal(addr_parse("unix://rel.sock", &a, err, sizeof(err)), -EINVAL);
	assert_string_equal(
		err,
		"agent address 'unix://rel.sock': the socket path must be absolute (unix:///PATH)");
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:///", 8);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(addr_parse(longp, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket path longer than 107 bytes"));
}

static void parse_ssh(void **state)
{
	struct agent_addr a;
	char err[256], buf[400];

	assert_int_equal(addr_parse("ssh://host", &a, err, sizeof(err)), 0);
	assert_int_equal(a.transport, AGENT_SSH);
	assert_string_equal(a.host, "host");
	assert_string_equal(a.user, "");
	assert_int_equal(a.port, 0);
	assert_string_equal(a.path, "");

	assert_int_equal(addr_parse("ssh://root@db-1.example.org:2222/run/fl/agent.sock", &a, err,
				    sizeof(err)),
			 0);
	assert_string_equal(a.user, "root");
	assert_string_equal(a.host, "db-1.example.org");
	assert_int_equal(a.port, 2222);
	assert_string_equal(a.path, "/run/fl/agent.sock");
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "ssh://root@db-1.example.org:2222/run/fl/agent.sock");

	/* "ssh://host/" names no socket, like "ssh://host"; a trailing dot is an FQDN. */
	assert_int_equal(addr_parse("ssh://web.example.org./", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "web.example.org.");
	assert_string_equal(a.path, "");

	assert_int_equal(addr_parse("ssh://10.0.0.7:22", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "10.0.0.7");
	assert_int_equal(a.port, 22);
	assert_int_equal(addr_parse("ssh://my_alias", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "my_alias");
}

static void parse_ssh_ipv6(void **state)
{
	struct agent_addr a;
	char err[256], buf[400];

	assert_int_equal(addr_parse("ssh://admin@[2001:db8::1]:2022/x.sock", &a, err, sizeof(err)),
			 0);
	assert_string_equal(a.user, "admin");
	assert_string_equal(a.host, "2001:db8::1");
	assert_int_equal(a.port, 2022);
	assert_string_equal(a.path, "/x.sock");
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "ssh://admin@[2001:db8::1]:2022/x.sock");

	assert_int_equal(addr_parse("ssh://[::1]", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 0);
	/* A link-local zone, plain or percent-encoded as RFC 6874 has it. */
	assert_int_equal(addr_parse("ssh://[fe80::1%eth0]:22", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "fe80::1%eth0");
	assert_int_equal(addr_parse("ssh://[fe80::1%25veth-a.1]", &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "fe80::1%veth-a.1");
}

/* Each bad ssh:// address, with the exact message naming the part that is wrong. */
static void parse_ssh_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "ssh://", "no host (ssh://[user@]host[:port])" },
		{ "ssh:///run/x.sock", "no host (ssh://[user@]host[:port])" },
		{ "ssh://root@", "no host (ssh://[user@]host[:port])" },
		{ "ssh://:22", "no host (ssh://[user@]host[:port])" },
		{ "ssh://@host", "empty user name before '@'" },
		{ "ssh://a@b@host", "more than one '@'" },
		{ "ssh://ro ot@host", "user name 'ro ot' has an invalid character ' ' (letters, "
				     "digits, '.', '_', '-'; not starting with '-')" },
		{ "ssh://-oProxyCommand=x@host", "user name '-oProxyCommand=x' has an invalid "
						"character '-' (letters, digits, '.', '_', '-'; "
						"not starting with '-')" },
		{ "ssh://-oProxyCommand=x", "the host must not start with '-'" },
		{ "ssh://ho;st", "host 'ho;st' has an invalid character ';' (letters, digits, '.', "
				"'_', '-'; IPv6 addresses in brackets)" },
		{ "ssh://a..b", "host 'a..b' has an empty label" },
		{ "ssh://.a", "host '.a' has an empty label" },
		{ "ssh://host:", "empty port after ':'" },
		{ "ssh://host:0", "port '0' is not a number from 1 to 65535" },
		{ "ssh://host:65536", "port '65536' is not a number from 1 to 65535" },
		{ "ssh://host:99999999999", "port '99999999999' is not a number from 1 to 65535" },
		{ "ssh://host:22x", "port '22x' is not a number from 1 to 65535" },
		{ "ssh://host:-1", "port '-1' is not a number from 1 to 65535" },
		{ "ssh://2001:db8::1",
		 "an IPv6 address must be in brackets (ssh://[2001:db8::1]:22)" },
		{ "ssh://[2001:db8::1", "'[' without a closing ']'" },
		{ "ssh://[2001:db8::1]x", "expected ':PORT' or '/PATH' after ']'" },
		{ "ssh://[db.example]", "'[db.example]' is not an IPv6 address" },
		{ "ssh://[]", "'[]' is not an IPv6 address" },
		{ "ssh://[10.0.0.1]", "'[10.0.0.1]' is not an IPv6 address" },
		{ "ssh://[fe80::1%]",
		 "the IPv6 zone must be an interface name of 1 to 15 characters" },
		{ "ssh://[fe80::1%a;b]", "the IPv6 zone 'a;b' is not an interface name" },
		{ "ssh://[fe80::1%0123456789abcdef]",
		 "the IPv6 zone must be an interface name of 1 to 15 characters" },
		{ "ssh://host/run/a\tb.sock", "the socket path has a control character (0x09)" },
	};
	struct agent_addr a;
	char err[512], want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "agent address '%s': %s", cases[i].in, cases[i].msg);
		assert_int_equal(addr_parse(cases[i].in, &a, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, want);
		/* Nothing of a refused address is left behind for a careless caller. */
		assert_string_equal(a.host, "");
		assert_int_equal(a.transport, AGENT_UNIX);
	}
}

static void parse_ssh_limits(void **state)
{
	struct agent_addr a;
	char in[512], err[512];
	int n;

	/* 64-byte user: accepted; 65: refused. */
	n = snprintf(in, sizeof(in), "ssh://%0*d@h", ADDR_USER_MAX, 0);
	assert_true(n > 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), 0);
	snprintf(in, sizeof(in), "ssh://%0*d@h", ADDR_USER_MAX + 1, 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "user name longer than 64 bytes"));

	/* A 63-character label is fine, 64 is not; 253 bytes in all is the limit. */
	snprintf(in, sizeof(in), "ssh://%063d.x", 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), 0);
	snprintf(in, sizeof(in), "ssh://%064d.x", 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has a label longer than 63 characters"));
	snprintf(in, sizeof(in), "ssh://%063d.%063d.%063d.%061d", 0, 0, 0, 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.host), 253);
	snprintf(in, sizeof(in), "ssh://%063d.%063d.%063d.%062d", 0, 0, 0, 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host name longer than 253 bytes"));

	/* The remote path has the same sun_path limit as a local one. */
	n = snprintf(in, sizeof(in), "ssh://h/%0107d", 0);
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket path longer than 107 bytes"));
	in[n - 1] = '\0';
	assert_int_equal(addr_parse(in, &a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a.path), 107);
}

/* The words the remote shell will see: wordexp(3) splits and unquotes like sh, running nothing. */
static void assert_words(const char *cmd, const char *const *want, size_t n)
{
	wordexp_t we;

	assert_int_equal(wordexp(cmd, &we, WRDE_NOCMD | WRDE_UNDEF), 0);
	assert_int_equal(we.we_wordc, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(we.we_wordv[i], want[i]);
	wordfree(&we);
}

static void ssh_command_argv(void **state)
{
	static const char *const full[] = { "ssh", "-T", "-x", "-a", "-o", "BatchMode=yes",
					    "-l", "root", "-p", "2222", "--", "db-1" };
	static const char *const bare[] = { "/usr/local/bin/myssh", "-T", "-x", "-a", "-o",
					    "BatchMode=yes", "--", "fe80::1%eth0" };
	struct addr_ssh_cmd cmd;
	struct agent_addr a;
	char err[256];
	size_t i;

	assert_int_equal(addr_parse("ssh://root@db-1:2222/run/fl/agent.sock", &a, err, sizeof(err)),
			 0);
	assert_int_equal(addr_ssh_command(&a, "ssh", NULL, &cmd, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++)
		assert_string_equal(cmd.argv[i], full[i]);
	assert_string_equal(cmd.argv[i++], "'faultctl' dial-stdio --agent 'unix:///run/fl/agent.sock'");
	assert_null(cmd.argv[i]);

	/* No user, port or path: ssh's config decides them, the remote faultctl its socket. */
	assert_int_equal(addr_parse("ssh://[fe80::1%25eth0]", &a, err, sizeof(err)), 0);
	assert_int_equal(addr_ssh_command(&a, "/usr/local/bin/myssh", "", &cmd, err, sizeof(err)),
			 0);
	for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++)
		assert_string_equal(cmd.argv[i], bare[i]);
	assert_string_equal(cmd.argv[i++], "'faultctl' dial-stdio");
	assert_null(cmd.argv[i]);
}

static void ssh_command_quoting(void **state)
{
	static const char *const hostile[] = { "faultctl", "dial-stdio", "--agent",
					       "unix:///tmp/it's $HOME; `id` \"x\".sock" };
	static const char *const sudo[] = { "sudo", "-n", "/opt/it's/faultctl", "dial-stdio" };
	static const char *const dflt[] = { "faultctl", "dial-stdio" };
	struct addr_ssh_cmd cmd;
	struct agent_addr a;
	char err[256], longcmd[1100];

	/* A socket path full of shell syntax reaches dial-stdio as one literal argument. */
	assert_int_equal(addr_parse("ssh://h/tmp/it's $HOME; `id` \"x\".sock", &a, err, sizeof(err)),
			 0);
	assert_int_equal(addr_ssh_command(&a, "ssh", NULL, &cmd, err, sizeof(err)), 0);
	assert_words(cmd.remote, hostile, 4);

	/* Several words, extra blanks ignored, each quoted on its own. */
	assert_int_equal(addr_parse("ssh://h", &a, err, sizeof(err)), 0);
	assert_int_equal(
		addr_ssh_command(&a, "ssh", "  sudo\t-n  /opt/it's/faultctl ", &cmd, err, sizeof(err)),
		0);
	assert_words(cmd.remote, sudo, 4);
	assert_int_equal(addr_ssh_command(&a, "ssh", " \t ", &cmd, err, sizeof(err)), 0);
	assert_words(cmd.remote, dflt, 2);

	/* Too long for the command buffer: refused with the reason, not truncated. */
	memset(longcmd, 'x', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	assert_int_equal(addr_ssh_command(&a, "ssh", longcmd, &cmd, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "the remote command for h is too long"));
}

static void format_unix(void **state)
{
	struct agent_addr a;
	char err[256], buf[200];

	assert_int_equal(addr_parse("unix:///run/x.sock", &a, err, sizeof(err)), 0);
	addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "unix:///run/x.sock");
	/* Truncation is safe. */
	addr_format(&a, buf, 8);
	assert_string_equal(buf, "unix://");
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

static int find1(const char *text, const char *ctl, char *out, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = mountinfo_find_cgroup1(f, ctl, out, size);
	fclose(f);
	return err;
}

static void mountinfo_cgroup1_controllers(void **state)
{
	/* cpu shares a hierarchy with cpuacct on some hosts; "cpuacct" alone is not "cpu". */
	const char *mi =
		"30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,cpu\n"
		"33 30 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
		"34 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup "
		"rw,cpu,cpuacct\n"
		"35 30 0:32 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
	char out[64];

	assert_int_equal(find1(mi, "cpu", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(find1(mi, "freezer", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/freezer");
	/* Controllers that only the v2 hierarchy has, or that are not mounted at all. */
	assert_int_equal(find1(mi, "memory", out, sizeof(out)), -ENOENT);
	assert_int_equal(find1(mi, "cpu", out, 8), -ENAMETOOLONG);
	/* A pure v2 host: nothing. */
	assert_int_equal(find1("31 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "cpu", out,
			       sizeof(out)),
			 -ENOENT);
}

static void mountinfo_nsfs_root(void **state)
{
	/* Network namespaces bound to files (ip netns, podman): found by their inode. */
	const char *mi = "23 45 0:4 net:[4026532173] /run/netns/a rw shared:2 - nsfs nsfs rw\n"
			 "24 45 0:4 net:[4026532306] /run/netns/b\\040c rw - nsfs nsfs rw\n"
			 "25 45 0:4 mnt:[4026532999] /run/mntns rw - nsfs nsfs rw\n";
	FILE *f;
	char out[64];

	f = fmemopen((void *)mi, strlen(mi), "r");
	assert_non_null(f);
	assert_int_equal(mountinfo_find_root(f, "nsfs", "net:[4026532306]", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/netns/b c");
	rewind(f);
	assert_int_equal(mountinfo_find_root(f, "nsfs", "net:[4026532999]", out, sizeof(out)),
			 -ENOENT);
	rewind(f);
	assert_int_equal(mountinfo_find_root(f, "nsfs", "net:[402653217]", out, sizeof(out)),
			 -ENOENT);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_unix),
		cmocka_unit_test(parse_errors),
		cmocka_unit_test(parse_ssh),
		cmocka_unit_test(parse_ssh_ipv6),
		cmocka_unit_test(parse_ssh_errors),
		cmocka_unit_test(parse_ssh_limits),
		cmocka_unit_test(ssh_command_argv),
		cmocka_unit_test(ssh_command_quoting),
		cmocka_unit_test(format_unix),
		cmocka_unit_test(resolve_order),
		cmocka_unit_test(mountinfo_hybrid),
		cmocka_unit_test(mountinfo_escapes_and_no_optional),
		cmocka_unit_test(mountinfo_cgroup1_controllers),
		cmocka_unit_test(mountinfo_nsfs_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
