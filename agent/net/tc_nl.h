/*
 * The tc message plumbing shared by agent/net/tc_*.c (agent/net/tc_nl.c): building a tc
 * request (struct tcmsg header) and dumping the qdiscs, classes or filters of one device into
 * a list, each object as the kernel dumped it. Requests go through the agent's rtnetlink
 * socket (nlsock.h). Not for use outside the tc files: their public interface is tc.h.
 */
#ifndef FL_TC_NL_H
#define FL_TC_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>

/* The HTB version the kernel accepts in TCA_HTB_INIT (HTB_VER >> 16 in sch_htb.c). */
#define TC_HTB_VERSION_MAJOR 3

/* One qdisc, class or filter as dumped: TCA_OPTIONS kept as the raw bytes. */
struct tc_obj {
	uint32_t handle, parent;
	uint32_t info; /* a filter's priority (upper 16 bits) and protocol */
	char kind[32];
	uint8_t *opts;
	size_t opts_len;
	bool stab, estimator, offloaded;
};

/* The objects of one device that a dump returned. */
struct tc_list {
	struct tc_obj *v;
	size_t n;
	int ifindex;
	int err;
};

void tc_list_free(struct tc_list *l);

/* A handle as tc prints it: "root", "1:", "1:10". */
void tc_fmt_handle(uint32_t h, char *buf, size_t size);

/* A tc request; size 0 is libnl's default buffer (a page), else at least that many bytes. */
struct nl_msg *tc_msg_sized(int type, int flags, int ifindex, uint32_t handle, uint32_t parent,
			    size_t size);
struct nl_msg *tc_msg(int type, int flags, int ifindex, uint32_t handle, uint32_t parent);

/*
 * nlsock_acquire() for a tc request whose caller wants words: on failure err gets
 * "netlink: reason".
 */
int tc_sock(struct nl_sock **sk, char *err, size_t size);

/* Send one built request and wait for its ack (nlsock_talk()), on the shared socket. Frees msg. */
int tc_send(struct nl_msg *msg, const char *what, char *err, size_t size);

/*
 * Dump qdiscs (RTM_GETQDISC), classes (RTM_GETTCLASS, of ifindex) or filters (RTM_GETTFILTER,
 * of ifindex under parent) into l, keeping only those of ifindex. 0 or -errno (then l is empty).
 */
int tc_dump(struct nl_sock *sk, int type, int ifindex, uint32_t parent, struct tc_list *l);

/* tc_dump() on the shared socket, acquired for it and released after. */
int tc_dump_shared(int type, int ifindex, uint32_t parent, struct tc_list *l);

#endif
