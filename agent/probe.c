/*
 * Mechanism probe: instead of guessing from the kernel version or /proc/config.gz, try each
 * mechanism the way the fault types will use it, in a private network namespace, and report
 * the kernel's answer. A forked child does the work so that unshare(CLONE_NEWNET) never moves
 * the agent itself out of the host's namespace.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/qdisc/htb.h>

#include "caps.h"
#include "cgroup.h"
#include "log.h"
#include "probe.h"
#include "probe.skel.h"

#ifndef PROBE_TIMEOUT_MS
#define PROBE_TIMEOUT_MS 60000 /* generous: the vm stage runs ~20x slower */
#endif

static const struct {
	const char *name;
	const char *purpose;
} probe_info[PROBE__COUNT] = {
	[PROBE_CLSACT_BPF] = { "clsact+cls_bpf", "loss, corruption, duplication, partition" },
	[PROBE_NETEM] = { "netem", "latency and jitter (netem path)" },
	[PROBE_FQ] = { "fq", "latency and jitter (EDT path)" },
	[PROBE_HTB] = { "htb", "bandwidth limits for selected traffic" },
	[PROBE_TBF] = { "tbf", "bandwidth limits" },
	[PROBE_IFB] = { "ifb", "ingress latency and bandwidth" },
	[PROBE_CGROUP_BPF] = { "cgroup-v2-bpf", "per-cgroup network faults" },
};

const char *probe_name(enum probe_id id)
{
	return id < PROBE__COUNT ? probe_info[id].name : "unknown";
}

const char *probe_purpose(enum probe_id id)
{
	return id < PROBE__COUNT ? probe_info[id].purpose : "";
}

static void set_unavail(struct probe_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_unavail(struct probe_result *r, const char *fmt, ...)
{
	va_list ap;

	r->available = false;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void probe_clsact_bpf(struct probe_result *r, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct probe_bpf *skel;
	int err;

	skel = probe_bpf__open();
	if (!skel) {
		set_unavail(r, "cannot open the probe BPF object: %s", strerror(errno));
		return;
	}
	bpf_program__set_autoload(skel->progs.probe_cgroup_skb, false);
	err = probe_bpf__load(skel);
	if (err) {
		set_unavail(r, "cannot load a BPF_PROG_TYPE_SCHED_CLS program: %s", strerror(-err));
		goto out;
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		set_unavail(r, "cannot create a clsact qdisc: %s%s", strerror(-err),
			    err == -ENOENT || err == -EOPNOTSUPP ? " (sch_ingress missing)" : "");
		goto out;
	}
	opts.prog_fd = bpf_program__fd(skel->progs.probe_tc);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		set_unavail(r, "cannot attach a direct-action cls_bpf filter: %s%s", strerror(-err),
			    err == -ENOENT || err == -EOPNOTSUPP ? " (cls_bpf missing)" : "");
	} else {
		r->available = true;
		opts.flags = opts.prog_fd = opts.prog_id = 0;
		bpf_tc_detach(&hook, &opts);
	}
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook);
out:
	probe_bpf__destroy(skel);
}

/* Explain a failed qdisc add the way an operator needs to read it. */
static void qdisc_failed(struct probe_result *r, const char *kind, int nlerr)
{
	if (nlerr == -NLE_OBJ_NOTFOUND || nlerr == -NLE_OPNOTSUPP)
		set_unavail(r,
			    "qdisc kind \"%s\" is unknown to this kernel (module sch_%s not built "
			    "in and not loadable)",
			    kind, kind);
	else
		set_unavail(r, "adding a %s qdisc failed: %s", kind, nl_geterror(nlerr));
}

static void probe_qdisc(struct probe_result *r, struct nl_sock *sk, int ifindex, const char *kind)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int err;

	if (!q) {
		set_unavail(r, "out of memory");
		return;
	}
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(0xf1, 0));
	err = rtnl_tc_set_kind(TC_CAST(q), kind);
	if (err) {
		set_unavail(r, "libnl cannot build a %s qdisc: %s", kind, nl_geterror(err));
		goto out;
	}
	/* Give each kind the options a fault would give it, so the kernel validates them too. */
	if (!strcmp(kind, "netem")) {
		rtnl_netem_set_limit(q, 1000);
		rtnl_netem_set_delay(q, 1000);
	} else if (!strcmp(kind, "tbf")) {
		/* A bucket above lo's 64 KiB MTU, or the kernel warns. */
		rtnl_qdisc_tbf_set_limit(q, 262144);
		rtnl_qdisc_tbf_set_rate(q, 125000, 131072, 0);
	} else if (!strcmp(kind, "htb")) {
		rtnl_htb_set_defcls(q, 0);
	}
	err = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	if (err) {
		qdisc_failed(r, kind, err);
		goto out;
	}
	r->available = true;
	err = rtnl_qdisc_delete(sk, q);
	if (err)
		log_warn("probe: deleting the %s qdisc in the probe namespace: %s", kind,
			 nl_geterror(err));
out:
	rtnl_qdisc_put(q);
}

static void probe_ifb(struct probe_result *r, struct nl_sock *sk)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int err;

	if (!l) {
		set_unavail(r, "out of memory");
		return;
	}
	rtnl_link_set_name(l, "flprobe0");
	err = rtnl_link_set_type(l, "ifb");
	if (!err)
		err = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	if (err) {
		if (err == -NLE_OPNOTSUPP || err == -NLE_OBJ_NOTFOUND)
			set_unavail(r, "link kind \"ifb\" is unknown to this kernel (module ifb not "
				       "built in and not loadable)");
		else
			set_unavail(r, "creating an ifb device failed: %s", nl_geterror(err));
		goto out;
	}
	r->available = true;
	rtnl_link_delete(sk, l);
out:
	rtnl_link_put(l);
}

static void probe_cgroup_bpf(struct probe_result *r)
{
	char root[256], dir[320];
	struct probe_bpf *skel = NULL;
	struct bpf_link *link;
	int err, fd = -1;

	err = cgroup_v2_root(root, sizeof(root));
	if (err) {
		set_unavail(r, "no cgroup v2 hierarchy is mounted");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/faultline-probe.%d", root, (int)getpid());
	if (mkdir(dir, 0700)) {
		set_unavail(r, "cannot create a cgroup under %s: %s", root, strerror(errno));
		return;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		set_unavail(r, "cannot open cgroup %s: %s", dir, strerror(errno));
		goto out;
	}
	skel = probe_bpf__open();
	if (!skel) {
		set_unavail(r, "cannot open the probe BPF object: %s", strerror(errno));
		goto out;
	}
	bpf_program__set_autoload(skel->progs.probe_tc, false);
	err = probe_bpf__load(skel);
	if (err) {
		set_unavail(r, "cannot load a BPF_PROG_TYPE_CGROUP_SKB program: %s", strerror(-err));
		goto out;
	}
	link = bpf_program__attach_cgroup(skel->progs.probe_cgroup_skb, fd);
	if (!link) {
		set_unavail(r, "cannot attach a cgroup_skb program to a v2 cgroup: %s",
			    strerror(errno));
		goto out;
	}
	r->available = true;
	bpf_link__destroy(link);
out:
	probe_bpf__destroy(skel);
	if (fd >= 0)
		close(fd);
	if (rmdir(dir))
		log_warn("probe: removing %s: %s", dir, strerror(errno));
}

static void probe_child(struct probe_report *rep)
{
	static const struct {
		enum probe_id id;
		const char *kind;
	} qdiscs[] = {
		{ PROBE_NETEM, "netem" },
		{ PROBE_FQ, "fq" },
		{ PROBE_HTB, "htb" },
		{ PROBE_TBF, "tbf" },
	};
	struct nl_sock *sk = NULL;
	int err;

	/* The cgroup probe needs no private network namespace; run it first. */
	probe_cgroup_bpf(&rep->r[PROBE_CGROUP_BPF]);

	if (unshare(CLONE_NEWNET)) {
		err = errno;
		for (int i = 0; i < PROBE__COUNT; i++) {
			if (i == PROBE_CGROUP_BPF)
				continue;
			set_unavail(&rep->r[i],
				    "cannot probe: unshare(CLONE_NEWNET) failed: %s (the agent needs "
				    "CAP_SYS_ADMIN to probe)",
				    strerror(err));
		}
		return;
	}
	/*
	 * Without CAP_NET_ADMIN every tc and rtnetlink change is refused with EPERM: that says
	 * nothing about the kernel, so say what it does say.
	 */
	if (!caps_effective(CAP_NET_ADMIN)) {
		for (int i = 0; i < PROBE__COUNT; i++)
			if (i != PROBE_CGROUP_BPF)
				set_unavail(&rep->r[i],
					    "cannot probe: the agent lacks CAP_NET_ADMIN, which tc "
					    "and rtnetlink need");
		return;
	}
	/* In a fresh namespace, lo (ifindex 1) is the only device: safe to change. */
	probe_clsact_bpf(&rep->r[PROBE_CLSACT_BPF], 1);

	sk = nl_socket_alloc();
	if (!sk || (err = nl_connect(sk, NETLINK_ROUTE))) {
		for (size_t i = 0; i < sizeof(qdiscs) / sizeof(qdiscs[0]); i++)
			set_unavail(&rep->r[qdiscs[i].id], "cannot open a netlink socket");
		set_unavail(&rep->r[PROBE_IFB], "cannot open a netlink socket");
		goto out;
	}
	for (size_t i = 0; i < sizeof(qdiscs) / sizeof(qdiscs[0]); i++)
		probe_qdisc(&rep->r[qdiscs[i].id], sk, 1, qdiscs[i].kind);
	probe_ifb(&rep->r[PROBE_IFB], sk);
out:
	nl_socket_free(sk);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int probe_run(struct probe_report *out)
{
	struct probe_report rep;
	size_t got = 0;
	int pfd[2], err = 0, status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		close(pfd[0]);
		memset(&rep, 0, sizeof(rep));
		probe_child(&rep);
		_exit(write_all(pfd[1], &rep, sizeof(rep)) ? 1 : 0);
	}
	close(pfd[1]);
	while (got < sizeof(rep)) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t n;
		int pr = poll(&p, 1, PROBE_TIMEOUT_MS);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			err = pr ? -errno : -ETIMEDOUT;
			break;
		}
		n = read(pfd[0], (char *)&rep + got, sizeof(rep) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n ? -errno : -EPIPE;
			break;
		}
		got += n;
	}
	close(pfd[0]);
	if (err)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (err)
		return err;
	for (int i = 0; i < PROBE__COUNT; i++)
		rep.r[i].reason[sizeof(rep.r[i].reason) - 1] = '\0';
	*out = rep;
	return 0;
}
