/*
 * The prefix tries' tables and their diff (agent/net/pfxtrie.c), without root or maps: fixture
 * rule sets go through pfxtrie_add() and pfxtrie_finish(), and pfxtrie_diff() writes into a log
 * of puts and deletes that the tests read back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pfxtrie.h"

/* Side numbers as the trie keys carry them; pfxtrie only compares them. */
#define REMOTE 0
#define LOCAL 1
#define BIT(slot) (1ULL << (slot))

/* One CIDR a fixture rule names. */
struct fx {
	int slot;
	uint32_t side;
	const char *cidr;
};

struct table {
	struct pfxtrie_entry v[64];
	size_t n;
};

/* Build the finished table of one family from fixture rules; every CIDR must be of family. */
static void build(struct table *t, int family, const struct fx *fx, size_t n)
{
	t->n = 0;
	for (size_t i = 0; i < n; i++) {
		char buf[64], *slash;
		uint8_t addr[16] = {0};

		snprintf(buf, sizeof(buf), "%s", fx[i].cidr);
		slash = strchr(buf, '/');
		assert_non_null(slash);
		*slash = '\0';
		assert_int_equal(inet_pton(family, buf, addr), 1);
		pfxtrie_add(t->v, &t->n, addr, family == AF_INET ? 4 : 16,
			    (unsigned int)atoi(slash + 1), fx[i].side, fx[i].slot);
	}
	pfxtrie_finish(t->v, &t->n);
}

/* The entry for side and cidr, which must be in the table. */
static const struct pfxtrie_entry *get(const struct table *t, int family, uint32_t side,
				       const char *cidr)
{
	struct fx one = {0, side, cidr};
	struct table k;
	const struct pfxtrie_entry *e;

	build(&k, family, &one, 1);
	e = pfxtrie_find(t->v, t->n, &k.v[0]);
	if (!e)
		fail_msg("%s (side %u) is not in the table", cidr, side);
	return e;
}

static bool has(const struct table *t, int family, uint32_t side, const char *cidr)
{
	struct fx one = {0, side, cidr};
	struct table k;

	build(&k, family, &one, 1);
	return pfxtrie_find(t->v, t->n, &k.v[0]) != NULL;
}

/* The diff's calls, in order. */
struct op {
	char kind; /* 'p' put, 'd' delete */
	struct pfxtrie_entry e;
};

struct log {
	struct op ops[64];
	size_t n;
	size_t fail_at; /* the call that fails with -EIO, counted from 1; 0: none */
};

static int record(struct log *l, char kind, const struct pfxtrie_entry *e)
{
	assert_true(l->n < sizeof(l->ops) / sizeof(l->ops[0]));
	l->ops[l->n].kind = kind;
	l->ops[l->n].e = *e;
	l->n++;
	return l->fail_at && l->n == l->fail_at ? -EIO : 0;
}

static int log_put(void *ctx, const struct pfxtrie_entry *e)
{
	return record(ctx, 'p', e);
}

static int log_del(void *ctx, const struct pfxtrie_entry *e)
{
	return record(ctx, 'd', e);
}

static const struct pfxtrie_ops log_ops = {.put = log_put, .del = log_del};

static int diff(const struct table *old, const struct table *new, struct log *l)
{
	return pfxtrie_diff(old->v, old->n, new->v, new->n, &log_ops, l);
}

/* Is op i a put (or delete) of side/cidr, and, for a put, with that effective mask? */
static void expect_op(const struct log *l, size_t i, char kind, int family, uint32_t side,
		      const char *cidr, uint64_t eff)
{
	struct fx one = {0, side, cidr};
	struct table k;

	assert_true(i < l->n);
	build(&k, family, &one, 1);
	assert_int_equal(l->ops[i].kind, kind);
	assert_int_equal(pfxtrie_cmp(&l->ops[i].e, &k.v[0]), 0);
	if (kind == 'p')
		assert_int_equal(l->ops[i].e.eff, eff);
}

/* No delete comes before a put. */
static void expect_puts_first(const struct log *l)
{
	bool deleting = false;

	for (size_t i = 0; i < l->n; i++) {
		if (l->ops[i].kind == 'd')
			deleting = true;
		else if (deleting)
			fail_msg("op %zu is a put after a delete", i);
	}
}

static const struct fx nested[] = {
	{0, REMOTE, "10.0.0.0/8"},
	{1, REMOTE, "10.1.0.0/16"},
	{2, REMOTE, "10.1.2.0/24"},
	{3, REMOTE, "10.2.0.0/16"},
};

/* A prefix holds its own rules and those of every prefix enclosing it, not its siblings'. */
static void test_enclosing(void **state)
{
	struct table t;

	(void)state;
	build(&t, AF_INET, nested, 4);
	assert_int_equal(t.n, 4);
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.0.0.0/8")->eff, BIT(0));
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.1.0.0/16")->eff, BIT(0) | BIT(1));
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.1.2.0/24")->eff, BIT(0) | BIT(1) | BIT(2));
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.2.0.0/16")->eff, BIT(0) | BIT(3));
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.1.2.0/24")->own, BIT(2));
}

/* Host bits are cleared: 10.1.2.3/16 is the prefix 10.1.0.0/16. */
static void test_host_bits(void **state)
{
	const struct fx fx[] = {{5, REMOTE, "10.1.2.3/16"}, {6, REMOTE, "10.1.255.255/16"}};
	struct table t;

	(void)state;
	build(&t, AF_INET, fx, 2);
	assert_int_equal(t.n, 1);
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.1.0.0/16")->own, BIT(5) | BIT(6));
}

/* Remote and local prefixes are separate entries and do not inherit from each other. */
static void test_sides(void **state)
{
	const struct fx fx[] = {
		{0, REMOTE, "0.0.0.0/0"}, {1, LOCAL, "10.0.0.0/8"}, {2, REMOTE, "10.0.0.0/8"}};
	struct table t;

	(void)state;
	build(&t, AF_INET, fx, 3);
	assert_int_equal(t.n, 3);
	assert_int_equal(get(&t, AF_INET, LOCAL, "10.0.0.0/8")->eff, BIT(1));
	assert_int_equal(get(&t, AF_INET, REMOTE, "10.0.0.0/8")->eff, BIT(0) | BIT(2));
}

/* From nothing: every entry is put, in table order, and nothing deleted. */
static void test_from_empty(void **state)
{
	struct table old = {.n = 0}, new;
	struct log l = {.n = 0};

	(void)state;
	build(&new, AF_INET, nested, 4);
	assert_int_equal(diff(&old, &new, &l), 0);
	assert_int_equal(l.n, 4);
	expect_op(&l, 0, 'p', AF_INET, REMOTE, "10.0.0.0/8", BIT(0));
	expect_op(&l, 1, 'p', AF_INET, REMOTE, "10.1.0.0/16", BIT(0) | BIT(1));
	expect_op(&l, 2, 'p', AF_INET, REMOTE, "10.1.2.0/24", BIT(0) | BIT(1) | BIT(2));
	expect_op(&l, 3, 'p', AF_INET, REMOTE, "10.2.0.0/16", BIT(0) | BIT(3));
}

/* The same rules again: nothing to write. */
static void test_unchanged(void **state)
{
	struct table old, new;
	struct log l = {.n = 0};

	(void)state;
	build(&old, AF_INET, nested, 4);
	build(&new, AF_INET, nested, 4);
	assert_int_equal(diff(&old, &new, &l), 0);
	assert_int_equal(l.n, 0);
}

/*
 * A rule removed: its prefix is deleted, the prefix it enclosed is rewritten without it, the
 * prefixes it had nothing to do with are left alone; the rewrite comes before the delete.
 */
static void test_rule_removed(void **state)
{
	struct table old, new;
	struct log l = {.n = 0};
	const struct fx without1[] = {nested[0], nested[2], nested[3]};

	(void)state;
	build(&old, AF_INET, nested, 4);
	build(&new, AF_INET, without1, 3);
	assert_int_equal(diff(&old, &new, &l), 0);
	assert_int_equal(l.n, 2);
	expect_op(&l, 0, 'p', AF_INET, REMOTE, "10.1.2.0/24", BIT(0) | BIT(2));
	expect_op(&l, 1, 'd', AF_INET, REMOTE, "10.1.0.0/16", 0);
}

/* A prefix two rules share stays while either names it, with the mask of those left. */
static void test_shared_prefix(void **state)
{
	const struct fx both[] = {{0, REMOTE, "192.168.0.0/24"},
				  {1, REMOTE, "192.168.0.0/24"},
				  {1, REMOTE, "192.168.0.128/25"}};
	const struct fx only0[] = {both[0]};
	struct table t0, t1, t2 = {.n = 0};
	struct log l = {.n = 0};

	(void)state;
	build(&t0, AF_INET, both, 3);
	assert_int_equal(t0.n, 2);
	assert_int_equal(get(&t0, AF_INET, REMOTE, "192.168.0.0/24")->own, BIT(0) | BIT(1));
	assert_int_equal(get(&t0, AF_INET, REMOTE, "192.168.0.128/25")->eff, BIT(0) | BIT(1));
	build(&t1, AF_INET, only0, 1);
	assert_int_equal(diff(&t0, &t1, &l), 0);
	assert_int_equal(l.n, 2);
	expect_op(&l, 0, 'p', AF_INET, REMOTE, "192.168.0.0/24", BIT(0));
	expect_op(&l, 1, 'd', AF_INET, REMOTE, "192.168.0.128/25", 0);
	/* The last rule gone: the prefix goes. */
	l.n = 0;
	assert_int_equal(diff(&t1, &t2, &l), 0);
	assert_int_equal(l.n, 1);
	expect_op(&l, 0, 'd', AF_INET, REMOTE, "192.168.0.0/24", 0);
}

/*
 * A rule moving to other prefixes: every put comes before every delete even where a deleted
 * entry sorts before the new ones, so the rule is never without a prefix it keeps.
 */
static void test_puts_before_deletes(void **state)
{
	const struct fx a[] = {{0, REMOTE, "10.0.0.0/8"},
			       {0, REMOTE, "172.16.0.0/12"},
			       {1, LOCAL, "192.0.2.0/24"}};
	const struct fx b[] = {{0, REMOTE, "11.0.0.0/8"},
			       {0, REMOTE, "172.16.0.0/12"},
			       {0, REMOTE, "172.16.5.0/24"},
			       {1, LOCAL, "9.9.9.9/32"}};
	struct table old, new;
	struct log l = {.n = 0};

	(void)state;
	build(&old, AF_INET, a, 3);
	build(&new, AF_INET, b, 4);
	assert_int_equal(diff(&old, &new, &l), 0);
	assert_int_equal(l.n, 5);
	expect_puts_first(&l);
	expect_op(&l, 0, 'p', AF_INET, REMOTE, "11.0.0.0/8", BIT(0));
	expect_op(&l, 1, 'p', AF_INET, REMOTE, "172.16.5.0/24", BIT(0));
	expect_op(&l, 2, 'p', AF_INET, LOCAL, "9.9.9.9/32", BIT(1));
	expect_op(&l, 3, 'd', AF_INET, REMOTE, "10.0.0.0/8", 0);
	expect_op(&l, 4, 'd', AF_INET, LOCAL, "192.0.2.0/24", 0);
	assert_false(has(&new, AF_INET, REMOTE, "10.0.0.0/8"));
}

/* IPv6: the same nesting over 128 bits, and a rule added under an enclosing one. */
static void test_ipv6(void **state)
{
	const struct fx a[] = {
		{0, REMOTE, "2001:db8::/32"}, {2, REMOTE, "fe80::/10"}, {3, LOCAL, "::/0"}};
	const struct fx b[] = {
		a[0], a[1], a[2], {1, REMOTE, "2001:db8:1::/48"}, {4, REMOTE, "2001:db8:1::1/128"}};
	struct table old, new;
	struct log l = {.n = 0};

	(void)state;
	build(&old, AF_INET6, a, 3);
	build(&new, AF_INET6, b, 5);
	assert_int_equal(get(&new, AF_INET6, REMOTE, "2001:db8:1::1/128")->eff,
			 BIT(0) | BIT(1) | BIT(4));
	assert_int_equal(get(&new, AF_INET6, REMOTE, "fe80::/10")->eff, BIT(2));
	assert_int_equal(get(&new, AF_INET6, LOCAL, "::/0")->eff, BIT(3));
	assert_int_equal(diff(&old, &new, &l), 0);
	assert_int_equal(l.n, 2);
	expect_op(&l, 0, 'p', AF_INET6, REMOTE, "2001:db8:1::/48", BIT(0) | BIT(1));
	expect_op(&l, 1, 'p', AF_INET6, REMOTE, "2001:db8:1::1/128", BIT(0) | BIT(1) | BIT(4));
	/* And back: both deleted, the enclosing prefix untouched. */
	l.n = 0;
	assert_int_equal(diff(&new, &old, &l), 0);
	assert_int_equal(l.n, 2);
	expect_op(&l, 0, 'd', AF_INET6, REMOTE, "2001:db8:1::/48", 0);
	expect_op(&l, 1, 'd', AF_INET6, REMOTE, "2001:db8:1::1/128", 0);
}

/* A failing write stops the walk and its error is returned; no delete follows a failed put. */
static void test_error_stops(void **state)
{
	const struct fx without1[] = {nested[0], nested[2], nested[3]};
	struct table old, new;
	struct log l = {.n = 0, .fail_at = 1};

	(void)state;
	build(&old, AF_INET, nested, 4);
	build(&new, AF_INET, without1, 3);
	assert_int_equal(diff(&old, &new, &l), -EIO);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ops[0].kind, 'p');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enclosing),     cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_sides),	      cmocka_unit_test(test_from_empty),
		cmocka_unit_test(test_unchanged),     cmocka_unit_test(test_rule_removed),
		cmocka_unit_test(test_shared_prefix), cmocka_unit_test(test_puts_before_deletes),
		cmocka_unit_test(test_ipv6),	      cmocka_unit_test(test_error_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
