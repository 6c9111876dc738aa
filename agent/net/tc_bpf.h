/*
 * clsact and direct-action cls_bpf filters over the agent's shared rtnetlink socket
 * (agent/net/tc_bpf.c), in place of libbpf's bpf_tc_*() calls, each of which opened and closed
 * a netlink socket of its own (a dozen per network fault's apply and revert). Same requests,
 * same answers: -EEXIST when the qdisc or the filter slot is taken, the kernel's errno else.
 */
#ifndef FL_TC_BPF_H
#define FL_TC_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/msg.h>

/* Add clsact to the device (exclusively: -EEXIST when one is there). 0 or -errno. */
int tc_bpf_clsact_add(int ifindex);

/* Delete the device's clsact, and every filter on it. 0 or -errno (-EINVAL: none there). */
int tc_bpf_clsact_del(int ifindex);

/*
 * Attach a direct-action cls_bpf filter running prog_fd (named name) at parent (a clsact
 * hook), priority prio, handle handle, protocol all. Exclusive unless replace (which changes
 * the program of the filter that is there): -EEXIST when the slot is taken. 0 or -errno.
 */
int tc_bpf_filter_add(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle, int prog_fd,
		      const char *name, bool replace);

/* Delete the cls_bpf filter at parent, prio, handle. 0 or -errno (-ENOENT: none there). */
int tc_bpf_filter_del(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle);

/*
 * The same requests built, not sent, to go out together in one tc_bpf_batch(): a fault's
 * attach or detach is one datagram and one wait. NULL without memory.
 */
struct nl_msg *tc_bpf_clsact_msg(bool add, int ifindex);
struct nl_msg *tc_bpf_filter_add_msg(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
				     int prog_fd, const char *name, bool replace);
struct nl_msg *tc_bpf_filter_del_msg(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle);

/*
 * Send built requests (at most 8) in one datagram, run by the kernel in order, each answered:
 * errs[i] is the i-th request's 0 or -errno. Returns 0 when all were answered, else -errno
 * (every errs[i] too; which ran is then unknown). A NULL among msgs (a builder out of memory)
 * is -ENOMEM with nothing sent. Frees the messages.
 */
int tc_bpf_batch(struct nl_msg **msgs, size_t n, int *errs);

/*
 * The program id of the cls_bpf filter at parent, prio, handle. -ENOENT when there is none
 * (no such filter, another kind there, or no clsact at all), -ENODEV without the device.
 */
int tc_bpf_filter_prog(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
		       uint32_t *prog_id);

/*
 * One dump of a hook (parent) for a detach: *prog_id that of the cls_bpf filter at prio,
 * handle (0 when none), *others how many other filters the hook holds (0: once ours goes,
 * nothing is left on it). No clsact at all is -ENOENT, no device -ENODEV.
 */
int tc_bpf_hook_scan(int ifindex, uint32_t parent, uint16_t prio, uint32_t handle,
		     uint32_t *prog_id, int *others);

#endif
