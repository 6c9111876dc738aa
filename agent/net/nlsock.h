/*
 * The agent's rtnetlink socket and its one netlink-error-to-errno map (agent/net/nlsock.c),
 * for everything in agent/net/ that speaks rtnetlink through libnl: tc*.c and netfault.c.
 *
 * One socket per agent process, opened on first use and kept: a fault's apply and revert are
 * a dozen requests, and each used to create and close a socket of its own. A borrower holds
 * the socket's lock from nlsock_acquire() to nlsock_release(), so two threads never interleave
 * requests on it (network faults apply on the loop thread today; the lock keeps a future
 * off-loop caller safe). A socket that may hold an unread reply (a failure that the kernel
 * did not answer with an error of its own) is dropped, and the next nlsock_acquire() connects
 * a fresh one; so is a socket of another process (after fork) or of another network
 * namespace (after setns), which would talk to the wrong kernel objects.
 */
#ifndef FL_NLSOCK_H
#define FL_NLSOCK_H

#include <stddef.h>

#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

/*
 * A libnl error code (NLE_*, either sign) as a negative errno: 0 stays 0, and the codes with
 * an errno of their own map to it (NLE_EXIST -EEXIST, NLE_NODEV -ENODEV, NLE_OBJ_NOTFOUND
 * -ENOENT, ...); anything else is -EIO.
 */
int nlsock_errno(int nlerr);

/*
 * Lock the agent's rtnetlink socket and hand it out, connected (with extended acks on), in
 * the caller's network namespace. 0 or -errno (then nothing is held). Not re-entrant: a
 * holder must not call it again before nlsock_release().
 */
int nlsock_acquire(struct nl_sock **out);

/* Give the socket back (unlock). NULL is fine. */
void nlsock_release(struct nl_sock *sk);

/*
 * The -errno of a libnl call the holder made on the socket itself (rtnl_link_get_kernel(),
 * rtnl_*_alloc_cache(), nl_send_sync(), ...). Such a call may fail with a reply left unread,
 * so any failure drops the socket: the next nlsock_acquire() connects a fresh one.
 */
int nlsock_result(struct nl_sock *sk, int nlerr);

/*
 * Send a request and wait for the kernel's ack. Returns 0 or -errno; err (may be NULL) gets
 * "what: reason" with the kernel's extended ack message when it sent one. Frees msg. An
 * error the kernel answered keeps the socket; a failure to send or receive drops it.
 */
int nlsock_talk(struct nl_sock *sk, struct nl_msg *msg, const char *what, char *err, size_t size);

/*
 * Send n requests (at most 8) in one datagram and wait for the kernel's answer to each: errs[i]
 * gets the i-th request's 0 or -errno. The kernel runs them in order and goes on after a
 * refusal, so each answer is its own. Returns 0 when every request was answered, whatever the
 * answers; -errno when the exchange failed (the socket is dropped, every errs[i] that -errno,
 * and which requests the kernel ran is unknown). msg (may be NULL) gets the kernel's extended
 * ack message of the first refusal that had one, else "". Frees the messages.
 */
int nlsock_talk_batch(struct nl_sock *sk, struct nl_msg **msgs, size_t n, int *errs, char *msg,
		      size_t msg_size);

/*
 * Send a dump request and hand each answer to cb(msg, arg) until the kernel's end of dump.
 * Returns 0 or -errno (the kernel's own refusal, e.g. -EINVAL, keeps the socket). Frees msg.
 */
int nlsock_dump(struct nl_sock *sk, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg);

/* Close the socket (agent exit, tests); the next nlsock_acquire() opens a new one. */
void nlsock_close(void);

/* Sockets this process has connected so far: what tests check reuse with. */
unsigned long nlsock_opened(void);

#endif
