/*
 * The agent's rtnetlink socket (see nlsock.h): one libnl socket per process, under a lock,
 * reconnected when it may be out of step with the kernel, and the one map from libnl's error
 * codes to errno values that every rtnetlink caller in agent/net/ uses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/socket.h>

#include "log.h"
#include "nlsock.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Bounds the wait for one ack: the kernel answers every request with one ack or error. */
#define TALK_RECV_MAX 64
/* The receive buffer: twice the largest message the kernel puts in one datagram (32 KiB). */
#define RECV_BUF 65536
/* Requests in one nlsock_talk_batch(). */
#define BATCH_MAX 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct nl_sock *shared;
static pid_t shared_pid;    /* the process that connected it */
static dev_t shared_ns_dev; /* the network namespace it was connected in */
static ino_t shared_ns_ino;
static bool shared_broken; /* a reply may be left unread: connect afresh */
static unsigned long n_opened;

int nlsock_errno(int nlerr)
{
	/*
	 * The codes libnl translates from a kernel errno (nl_syserr2nlerr) go back to that
	 * errno: callers tell "no such device" (-ENODEV) from "no such object" (-ENOENT) and
	 * "exists" (-EEXIST) from other failures. Codes of libnl's own are -EIO.
	 */
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_RANGE:
		return -ERANGE;
	default:
		return -EIO;
	}
}

/* The calling thread's network namespace; 0/0 when /proc cannot tell (then it is not checked). */
static void netns_id(dev_t *dev, ino_t *ino)
{
	struct stat st;

	*dev = 0;
	*ino = 0;
	if (!stat("/proc/thread-self/ns/net", &st)) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
}

/*
 * Is anything waiting to be read on the socket while nobody holds it? Then a reply was left
 * unread (a libnl call that returned before the kernel's last word): the next request would
 * read it as its own answer.
 */
static bool pending(struct nl_sock *sk)
{
	char c;

	return recv(nl_socket_get_fd(sk), &c, sizeof(c), MSG_PEEK | MSG_DONTWAIT) >= 0;
}

static void drop_shared(void)
{
	/*
	 * After fork the child frees its copy only: closing a descriptor of its own leaves the
	 * parent's socket open.
	 */
	nl_socket_free(shared);
	shared = NULL;
	shared_broken = false;
}

static int connect_shared(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err) {
		nl_socket_free(sk);
		return nlsock_errno(err);
	}
	/* The kernel's own words on a refusal, without a copy of our request in the reply. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/*
	 * One recvmsg per answer instead of libnl's default two (a MSG_PEEK for the size
	 * first): a fixed buffer no answer outgrows, since the kernel sizes a dump's
	 * messages by the reader's largest recvmsg, at most 32 KiB.
	 */
	err = nl_socket_set_msg_buf_size(sk, RECV_BUF);
	if (err) {
		nl_socket_free(sk);
		return nlsock_errno(err);
	}
	shared = sk;
	shared_pid = getpid();
	netns_id(&shared_ns_dev, &shared_ns_ino);
	shared_broken = false;
	n_opened++;
	return 0;
}

int nlsock_acquire(struct nl_sock **out)
{
	int err;

	*out = NULL;
	pthread_mutex_lock(&lock);
	if (shared) {
		dev_t dev;
		ino_t ino;

		netns_id(&dev, &ino);
		if (shared_broken || shared_pid != getpid() || dev != shared_ns_dev ||
		    ino != shared_ns_ino || pending(shared)) {
			log_debug("nlsock: reconnecting the rtnetlink socket (%s)",
				  shared_broken		   ? "a request failed on it"
				  : shared_pid != getpid() ? "forked"
				  : ino != shared_ns_ino || dev != shared_ns_dev
					  ? "another network namespace"
					  : "an unread reply");
			drop_shared();
		}
	}
	if (!shared) {
		err = connect_shared();
		if (err) {
			pthread_mutex_unlock(&lock);
			return err;
		}
	}
	*out = shared;
	return 0;
}

void nlsock_release(struct nl_sock *sk)
{
	if (sk)
		pthread_mutex_unlock(&lock);
}

int nlsock_result(struct nl_sock *sk, int nlerr)
{
	if (nlerr < 0 && sk == shared)
		shared_broken = true;
	return nlsock_errno(nlerr);
}

void nlsock_close(void)
{
	pthread_mutex_lock(&lock);
	if (shared)
		drop_shared();
	pthread_mutex_unlock(&lock);
}

unsigned long nlsock_opened(void)
{
	unsigned long n;

	pthread_mutex_lock(&lock);
	n = n_opened;
	pthread_mutex_unlock(&lock);
	return n;
}

/* What the kernel answered to one request. */
struct answer {
	int err; /* -errno from the kernel */
	bool done;
	char msg[160]; /* extended ack message */
};

/* The kernel's extended ack message of an answer (NLMSGERR_ATTR_MSG), if it sent one. */
static void ext_ack_msg(struct nlmsgerr *e, char *buf, size_t size)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	struct nlattr *a;
	int rem;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (off >= nlh->nlmsg_len)
		return;
	nla_for_each_attr(a, (struct nlattr *)((char *)nlh + NLMSG_ALIGN(off)),
			  (int)(nlh->nlmsg_len - NLMSG_ALIGN(off)), rem)
	{
		if (nla_type(a) == NLMSGERR_ATTR_MSG)
			nla_strlcpy(buf, a, size);
	}
}

static int answer_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct answer *t = arg;

	(void)nla;
	t->err = e->error;
	t->done = true;
	ext_ack_msg(e, t->msg, sizeof(t->msg));
	return NL_STOP;
}

static int answer_ack(struct nl_msg *msg, void *arg)
{
	struct answer *t = arg;

	(void)msg;
	t->done = true;
	return NL_STOP;
}

int nlsock_talk(struct nl_sock *sk, struct nl_msg *msg, const char *what, char *err, size_t size)
{
	struct answer t = {0};
	int ret;

	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, answer_error, &t);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, answer_ack, &t);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		t.err = nlsock_result(sk, ret);
	} else {
		for (int i = 0; i < TALK_RECV_MAX && !t.done; i++) {
			ret = nl_recvmsgs_default(sk);
			if (ret < 0 && !t.done) {
				t.err = nlsock_result(sk, ret);
				break;
			}
		}
		if (!t.done && !t.err) {
			/* No answer within the bound: what comes later belongs to this request. */
			t.err = nlsock_result(sk, -NLE_FAILURE);
		}
	}
	nl_socket_modify_err_cb(sk, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_DEFAULT, NULL, NULL);
	if (t.err && err)
		snprintf(err, size, "%s: %s%s%s", what, strerror(-t.err), t.msg[0] ? ": " : "",
			 t.msg);
	return t.err;
}

int nlsock_dump(struct nl_sock *sk, struct nl_msg *msg, nl_recvmsg_msg_cb_t cb, void *arg)
{
	struct answer t = {0};
	int ret;

	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, answer_error, &t);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_err_cb(sk, NL_CB_DEFAULT, NULL, NULL);
	/* The kernel's refusal of the dump is an answer: the socket is in step. */
	if (t.done)
		return t.err;
	return ret < 0 ? nlsock_result(sk, ret) : 0;
}

/* What the kernel answered to each request of a batch, told apart by sequence number. */
struct batch {
	uint32_t seq0; /* the first request's */
	size_t n, answered;
	int *errs;
	bool *done;
	char *msg; /* the first refusal's extended ack message, when wanted */
	size_t msg_size;
};

/* Record the answer to the request with sequence number seq (others are not ours: ignored). */
static void batch_answer(struct batch *b, uint32_t seq, int err)
{
	size_t i = seq - b->seq0;

	if (i < b->n && !b->done[i]) {
		b->errs[i] = err;
		b->done[i] = true;
		b->answered++;
	}
}

static int batch_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct batch *b = arg;

	(void)nla;
	if (e->error && b->msg && !b->msg[0])
		ext_ack_msg(e, b->msg, b->msg_size);
	batch_answer(b, e->msg.nlmsg_seq, e->error);
	return NL_STOP;
}

static int batch_ack(struct nl_msg *msg, void *arg)
{
	batch_answer(arg, nlmsg_hdr(msg)->nlmsg_seq, 0);
	return NL_STOP;
}

int nlsock_talk_batch(struct nl_sock *sk, struct nl_msg **msgs, size_t n, int *errs, char *msg,
		      size_t msg_size)
{
	bool done[BATCH_MAX] = {false};
	struct batch b = {.n = n, .errs = errs, .done = done, .msg = msg, .msg_size = msg_size};
	size_t len = 0, off = 0;
	char *buf = NULL;
	int ret = 0;

	if (msg && msg_size)
		msg[0] = '\0';
	else
		b.msg = NULL;
	if (!n || n > BATCH_MAX) {
		ret = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		len += NLMSG_ALIGN(nlmsg_hdr(msgs[i])->nlmsg_len);
	buf = calloc(1, len);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct nlmsghdr *h = nlmsg_hdr(msgs[i]);

		/*
		 * Our port, the next sequence number and NLM_F_ACK (one answer per request), in
		 * order: libnl expects the answers in the order of their sequence numbers.
		 */
		nl_complete_msg(sk, msgs[i]);
		memcpy(buf + off, h, h->nlmsg_len);
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	b.seq0 = nlmsg_hdr(msgs[0])->nlmsg_seq;
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, batch_error, &b);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, batch_ack, &b);
	/* One datagram: the kernel runs the requests in order, each to its own answer. */
	ret = nl_sendto(sk, buf, len);
	if (ret >= 0) {
		ret = 0;
		for (size_t i = 0; i < TALK_RECV_MAX * n && b.answered < n; i++) {
			size_t before = b.answered;
			int r = nl_recvmsgs_default(sk);

			/* A refusal is an answer too (libnl returns it as an error). */
			if (r < 0 && b.answered == before) {
				ret = r;
				break;
			}
		}
		if (!ret && b.answered < n)
			ret = -NLE_FAILURE; /* what comes later belongs to this batch */
	}
	nl_socket_modify_err_cb(sk, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_DEFAULT, NULL, NULL);
	ret = nlsock_result(sk, ret);
out:
	for (size_t i = 0; i < n; i++) {
		if (ret)
			errs[i] = ret;
		nlmsg_free(msgs[i]);
	}
	free(buf);
	return ret;
}
