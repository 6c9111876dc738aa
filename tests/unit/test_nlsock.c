/*
 * The agent's rtnetlink socket (agent/net/nlsock.c): the one netlink-error-to-errno map, and
 * one socket reused across requests, reconnected when it may be out of step (a failed
 * request, a reply left unread, a fork), and serialised between threads. The requests only
 * read (dumps and gets of lo), so this needs no root and changes nothing in the kernel.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include "nlsock.h"
#include "tc.h"

/* Threads and requests per thread of the concurrency check. */
#define N_THREADS 4
#define N_ROUNDS 50

static int lo;

static int setup(void **state)
{
	(void)state;
	lo = (int)if_nametoindex("lo");
	return lo > 0 ? 0 : -1;
}

static void test_errno_map(void **state)
{
	static const struct {
		int nlerr, want;
	} cases[] = {
		{0, 0},
		{NLE_NOMEM, -ENOMEM},
		{NLE_PERM, -EPERM},
		{NLE_INVAL, -EINVAL},
		{NLE_EXIST, -EEXIST},
		{NLE_BUSY, -EBUSY},
		{NLE_NODEV, -ENODEV},
		{NLE_OBJ_NOTFOUND, -ENOENT},
		{NLE_OPNOTSUPP, -EOPNOTSUPP},
		{NLE_RANGE, -ERANGE},
		{NLE_FAILURE, -EIO},
		{NLE_SEQ_MISMATCH, -EIO},
		{NLE_DUMP_INTR, -EIO},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* libnl returns its codes negative; either sign maps the same. */
		assert_int_equal(nlsock_errno(-cases[i].nlerr), cases[i].want);
		assert_int_equal(nlsock_errno(cases[i].nlerr), cases[i].want);
	}
}

/* A read of lo's qdiscs through the tc code: lo always has a root (noqueue), no clsact. */
static void read_lo(void)
{
	bool present = true;
	json_t *snap = NULL;
	char why[256] = "";

	assert_int_equal(tc_clsact_present(lo, &present), 0);
	assert_false(present);
	assert_int_equal(tc_root_snapshot(lo, &snap, why, sizeof(why)), 0);
	assert_non_null(snap);
	json_decref(snap);
}

static void test_reused(void **state)
{
	unsigned long n0;

	(void)state;
	nlsock_close();
	n0 = nlsock_opened();
	/* Dumps (qdiscs, classes) and cache reads in a row, all on one socket. */
	for (int i = 0; i < 5; i++) {
		struct tc_shaper_stats st;

		read_lo();
		/* lo has no class of ours: -ENOENT, an answer, not a broken socket. */
		assert_int_equal(tc_shaper_stats(lo, &st), -ENOENT);
	}
	assert_int_equal(nlsock_opened(), n0 + 1);
}

static void test_kernel_refusal_keeps_socket(void **state)
{
	struct nl_sock *sk;
	struct nl_msg *msg;
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 0x7ffffff0};
	char err[128] = "";
	unsigned long n0;

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	/* A get of an ifindex that does not exist: the kernel answers -ENODEV. */
	msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
	assert_non_null(msg);
	assert_int_equal(nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
	assert_int_equal(nlsock_acquire(&sk), 0);
	assert_int_equal(nlsock_talk(sk, msg, "getting a missing link", err, sizeof(err)), -ENODEV);
	nlsock_release(sk);
	assert_non_null(strstr(err, "getting a missing link: "));
	read_lo();
	assert_int_equal(nlsock_opened(), n0);
}

/* A get of one link by ifindex, as a request of a batch. */
static struct nl_msg *getlink(int ifindex)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, 0);

	assert_non_null(msg);
	assert_int_equal(nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
	return msg;
}

static void test_batch_answers_each(void **state)
{
	int errs[4] = {1, 1, 1, 1};
	struct nl_msg *msgs[4];
	struct nl_sock *sk;
	unsigned long n0;
	char msg[64] = "x";

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	/*
	 * A refusal in the middle: the kernel goes on with the requests after it, and each
	 * answer lands on its own request (lo's gets also send a reply before their ack).
	 */
	msgs[0] = getlink(lo);
	msgs[1] = getlink(0x7ffffff0);
	msgs[2] = getlink(lo);
	msgs[3] = getlink(0x7ffffff1);
	assert_int_equal(nlsock_acquire(&sk), 0);
	assert_int_equal(nlsock_talk_batch(sk, msgs, 4, errs, msg, sizeof(msg)), 0);
	nlsock_release(sk);
	assert_int_equal(errs[0], 0);
	assert_int_equal(errs[1], -ENODEV);
	assert_int_equal(errs[2], 0);
	assert_int_equal(errs[3], -ENODEV);
	/* Every answer read: the socket is in step, kept, and the next request works. */
	read_lo();
	assert_int_equal(nlsock_opened(), n0);

	/* Nothing to send, or more than a batch holds: refused before anything is sent. */
	assert_int_equal(nlsock_acquire(&sk), 0);
	assert_int_equal(nlsock_talk_batch(sk, msgs, 0, errs, NULL, 0), -EINVAL);
	nlsock_release(sk);
	read_lo();
	assert_int_equal(nlsock_opened(), n0);
}

static void test_failure_reconnects(void **state)
{
	struct nl_sock *sk;
	unsigned long n0;

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	assert_int_equal(nlsock_acquire(&sk), 0);
	assert_int_equal(nlsock_result(sk, -NLE_SEQ_MISMATCH), -EIO);
	nlsock_release(sk);
	read_lo();
	assert_int_equal(nlsock_opened(), n0 + 1);
	read_lo();
	assert_int_equal(nlsock_opened(), n0 + 1);
}

static void test_unread_reply_reconnects(void **state)
{
	struct rtgenmsg gen = {.rtgen_family = AF_UNSPEC};
	struct nl_sock *sk;
	unsigned long n0;

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	/* A dump sent and never read: its answers wait on the socket. */
	assert_int_equal(nlsock_acquire(&sk), 0);
	assert_true(nl_send_simple(sk, RTM_GETLINK, NLM_F_DUMP, &gen, sizeof(gen)) >= 0);
	nlsock_release(sk);
	/* The next request must not take them for its answer. */
	read_lo();
	assert_int_equal(nlsock_opened(), n0 + 1);
}

static void test_fork_gets_own_socket(void **state)
{
	unsigned long n0;
	int status;
	pid_t pid;

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool present = true;

		/* The child connects its own: the parent's port is not the child's to use. */
		_exit(tc_clsact_present(lo, &present) == 0 && !present && nlsock_opened() == n0 + 1
			      ? 0
			      : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's socket is untouched by the child's. */
	read_lo();
	assert_int_equal(nlsock_opened(), n0);
}

static void *reader(void *arg)
{
	long failures = 0;

	(void)arg;
	for (int i = 0; i < N_ROUNDS; i++) {
		bool present = true;
		json_t *snap = NULL;
		char why[256];

		if (tc_clsact_present(lo, &present) || present)
			failures++;
		if (tc_root_snapshot(lo, &snap, why, sizeof(why)))
			failures++;
		json_decref(snap);
	}
	return (void *)failures;
}

static void test_threads_serialised(void **state)
{
	pthread_t t[N_THREADS];
	unsigned long n0;

	(void)state;
	read_lo();
	n0 = nlsock_opened();
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 0; i < N_THREADS; i++) {
		void *failures;

		assert_int_equal(pthread_join(t[i], &failures), 0);
		assert_int_equal((long)failures, 0);
	}
	assert_int_equal(nlsock_opened(), n0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_map),
		cmocka_unit_test(test_reused),
		cmocka_unit_test(test_kernel_refusal_keeps_socket),
		cmocka_unit_test(test_batch_answers_each),
		cmocka_unit_test(test_failure_reconnects),
		cmocka_unit_test(test_unread_reply_reconnects),
		cmocka_unit_test(test_fork_gets_own_socket),
		cmocka_unit_test(test_threads_serialised),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
