/*
 * The prefix tries of a netfault instance (see pfxtrie.h and docs/netfault.md): the table the
 * rules in force call for, per family, and its difference to the table last written, put into
 * the prefixes_v4 / prefixes_v6 tries and the prefixes_h4 / prefixes_h6 hash maps (the same
 * entries); after a failed write the maps are resynchronised in full. Then the inline tables
 * and the hash maps' lengths in cfg.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"

static int family_index(int family)
{
	return family == AF_INET ? 0 : 1;
}

/* The table the rules in force call for, sorted, each entry with its effective mask. */
static int table_build(const struct netfault *nf, int family, struct pfxtrie_entry **out,
		       size_t *out_n)
{
	unsigned int alen = family == AF_INET ? 4 : 16;
	struct pfxtrie_entry *v;
	size_t n = 0, total = 0;

	for (int s = 0; s < NETFAULT_MAX_RULES; s++) {
		const struct rule_rec *rec = &nf->c->rules[s];

		if (!rec->used)
			continue;
		for (size_t i = 0; i < rec->n_remote; i++)
			total += rec->remote[i].family == family;
		for (size_t i = 0; i < rec->n_local; i++)
			total += rec->local[i].family == family;
	}
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int s = 0; s < NETFAULT_MAX_RULES; s++) {
		const struct rule_rec *rec = &nf->c->rules[s];

		if (!rec->used)
			continue;
		for (size_t i = 0; i < rec->n_remote; i++)
			if (rec->remote[i].family == family)
				pfxtrie_add(v, &n, rec->remote[i].addr, alen,
					    rec->remote[i].prefixlen, NETFAULT_SIDE_REMOTE, s);
		for (size_t i = 0; i < rec->n_local; i++)
			if (rec->local[i].family == family)
				pfxtrie_add(v, &n, rec->local[i].addr, alen,
					    rec->local[i].prefixlen, NETFAULT_SIDE_LOCAL, s);
	}
	pfxtrie_finish(v, &n);
	*out = v;
	*out_n = n;
	return 0;
}

union lpm_key {
	struct netfault_lpm4_key v4;
	struct netfault_lpm6_key v6;
};

static size_t lpm_key_make(int family, const struct pfxtrie_entry *p, union lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (family == AF_INET) {
		k->v4.prefixlen = NETFAULT_LPM_SIDE_BITS + p->plen;
		k->v4.side = p->side;
		memcpy(k->v4.addr, p->addr, 4);
		return sizeof(k->v4);
	}
	k->v6.prefixlen = NETFAULT_LPM_SIDE_BITS + p->plen;
	k->v6.side = p->side;
	memcpy(k->v6.addr, p->addr, 16);
	return sizeof(k->v6);
}

static void lpm_key_parse(int family, const union lpm_key *k, struct pfxtrie_entry *p)
{
	memset(p, 0, sizeof(*p));
	if (family == AF_INET) {
		p->plen = k->v4.prefixlen - NETFAULT_LPM_SIDE_BITS;
		p->side = k->v4.side;
		memcpy(p->addr, k->v4.addr, 4);
	} else {
		p->plen = k->v6.prefixlen - NETFAULT_LPM_SIDE_BITS;
		p->side = k->v6.side;
		memcpy(p->addr, k->v6.addr, 16);
	}
}

static int trie_fd(const struct netfault *nf, int family)
{
	return bpf_map__fd(family == AF_INET ? nf->c->skel->maps.prefixes_v4
					     : nf->c->skel->maps.prefixes_v6);
}

/* The key of the prefix hash maps (struct netfault_hkey4/6) for an entry. */
union hash_key {
	struct netfault_hkey4 v4;
	struct netfault_hkey6 v6;
};

static void hash_key_make(int family, const struct pfxtrie_entry *p, union hash_key *k)
{
	memset(k, 0, sizeof(*k));
	if (family == AF_INET) {
		k->v4.plen_side = p->plen | p->side << 8;
		memcpy(&k->v4.addr, p->addr, 4);
	} else {
		k->v6.plen_side = p->plen | p->side << 8;
		memcpy(k->v6.addr, p->addr, 16);
	}
}

static void hash_key_parse(int family, const union hash_key *k, struct pfxtrie_entry *p)
{
	memset(p, 0, sizeof(*p));
	if (family == AF_INET) {
		p->plen = k->v4.plen_side & 0xff;
		p->side = k->v4.plen_side >> 8;
		memcpy(p->addr, &k->v4.addr, 4);
	} else {
		p->plen = k->v6.plen_side & 0xff;
		p->side = k->v6.plen_side >> 8;
		memcpy(p->addr, k->v6.addr, 16);
	}
}

static int hash_fd(const struct netfault *nf, int family)
{
	return bpf_map__fd(family == AF_INET ? nf->c->skel->maps.prefixes_h4
					     : nf->c->skel->maps.prefixes_h6);
}

/* An entry into the trie, then into the hash map: both hold every entry. */
static int trie_put(int fd, int hfd, int family, const struct pfxtrie_entry *p)
{
	union lpm_key k;
	union hash_key h;

	lpm_key_make(family, p, &k);
	if (bpf_map_update_elem(fd, &k, &p->eff, BPF_ANY))
		return -errno;
	hash_key_make(family, p, &h);
	return bpf_map_update_elem(hfd, &h, &p->eff, BPF_ANY) ? -errno : 0;
}

static int trie_del(int fd, int hfd, int family, const struct pfxtrie_entry *p)
{
	union lpm_key k;
	union hash_key h;

	lpm_key_make(family, p, &k);
	if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
		return -errno;
	hash_key_make(family, p, &h);
	if (bpf_map_delete_elem(hfd, &h) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Where pfxtrie_diff()'s writes go: one family's trie and hash maps. */
struct trie_ctx {
	int fd;
	int hfd;
	int family;
};

static int trie_ctx_put(void *ctx, const struct pfxtrie_entry *e)
{
	const struct trie_ctx *c = ctx;

	return trie_put(c->fd, c->hfd, c->family, e);
}

static int trie_ctx_del(void *ctx, const struct pfxtrie_entry *e)
{
	const struct trie_ctx *c = ctx;

	return trie_del(c->fd, c->hfd, c->family, e);
}

static const struct pfxtrie_ops trie_ops = {
	.put = trie_ctx_put,
	.del = trie_ctx_del,
};

/* A map key of the family's trie (lpm_key) or hash table (hash_key), parsed into an entry. */
union map_key {
	union lpm_key lpm;
	union hash_key hash;
};

static void lpm_parse(int family, const union map_key *k, struct pfxtrie_entry *p)
{
	lpm_key_parse(family, &k->lpm, p);
}

static void hash_parse(int family, const union map_key *k, struct pfxtrie_entry *p)
{
	hash_key_parse(family, &k->hash, p);
}

/*
 * Delete whatever the map fd (the trie or the hash table, its keys read by parse) holds that
 * v lacks: the stale keys are gathered first, since deleting while iterating may skip keys.
 */
static int map_drop_stale(int fd, int family,
			  void (*parse)(int, const union map_key *, struct pfxtrie_entry *),
			  const struct pfxtrie_entry *v, size_t n)
{
	union map_key key, next, *stale = NULL;
	size_t n_stale = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	memset(&next, 0, sizeof(next));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct pfxtrie_entry p;

		parse(family, &next, &p);
		if (!pfxtrie_find(v, n, &p)) {
			if (n_stale == cap) {
				union map_key *tmp;

				cap = cap ? 2 * cap : 64;
				tmp = realloc(stale, cap * sizeof(*stale));
				if (!tmp) {
					free(stale);
					return -ENOMEM;
				}
				stale = tmp;
			}
			stale[n_stale++] = next;
		}
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n_stale && !err; i++)
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
			err = -errno;
	free(stale);
	return err;
}

/* Rewrite every entry and delete whatever else the maps hold. */
static int trie_resync_full(int fd, int hfd, int family, const struct pfxtrie_entry *v,
			    size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = trie_put(fd, hfd, family, &v[i]);
	if (!err)
		err = map_drop_stale(hfd, family, hash_parse, v, n);
	if (!err)
		err = map_drop_stale(fd, family, lpm_parse, v, n);
	return err;
}

/*
 * The family's inline table in cfg (include/faultline/netfault.h): a side's entries when they
 * fit, else NETFAULT_INLINE_TRIE. Written between two increments of its seq, so the program
 * reading it meanwhile asks the trie, which already holds the new entries. v is the finished
 * table (sorted by side, duplicates merged); an address matches every entry containing it, so
 * the entries carry their own rules, not the trie's effective masks.
 */
static void inline_write(struct netfault *nf, int family, const struct pfxtrie_entry *v, size_t n)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	__u32 *seq = family == AF_INET ? &cfg->in4.seq : &cfg->in6.seq;
	__u32 *count = family == AF_INET ? cfg->in4.n : cfg->in6.n;
	size_t side_n[2] = {0, 0}, k[2] = {0, 0};

	for (size_t i = 0; i < n; i++)
		side_n[v[i].side]++;
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
	/* The odd count is visible before any entry changes. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (int side = 0; side < 2; side++) {
		count[side] = side_n[side] <= NETFAULT_INLINE_PREFIXES ? side_n[side]
								       : NETFAULT_INLINE_TRIE;
		/* The program compares every entry: the unused ones match nothing. */
		for (int j = 0; j < NETFAULT_INLINE_PREFIXES; j++) {
			if (family == AF_INET)
				cfg->in4.e[side][j] = (struct netfault_inline4_entry){
					.addr = ~0u, .mask = 0, .rules = 0};
			else
				cfg->in6.e[side][j] = (struct netfault_inline6_entry){
					.addr = {~0ULL, ~0ULL}, .mask = {0, 0}, .rules = 0};
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct pfxtrie_entry *e = &v[i];
		uint8_t mask[16];
		size_t j;

		if (side_n[e->side] > NETFAULT_INLINE_PREFIXES)
			continue;
		j = k[e->side]++;
		memset(mask, 0xff, sizeof(mask));
		pfxtrie_mask_addr(mask, e->plen, sizeof(mask));
		if (family == AF_INET) {
			struct netfault_inline4_entry *d = &cfg->in4.e[e->side][j];

			memcpy(&d->addr, e->addr, 4);
			memcpy(&d->mask, mask, 4);
			d->rules = e->own;
		} else {
			struct netfault_inline6_entry *d = &cfg->in6.e[e->side][j];

			memcpy(d->addr, e->addr, 16);
			memcpy(d->mask, mask, 16);
			d->rules = e->own;
		}
	}
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

/*
 * The family's prefix hash lengths in cfg (include/faultline/netfault.h): per side the
 * distinct lengths of the entries of a and b together (the old and the new table while the
 * maps change; then the new one alone), longest first, when at most NETFAULT_HASH_LENS, else
 * NETFAULT_INLINE_TRIE, as for every side when use_trie (the maps may differ from the table
 * after a failed write). Written between two increments of the seq, as inline_write().
 */
static void hash_lens_write(struct netfault *nf, int family, const struct pfxtrie_entry *a,
			    size_t na, const struct pfxtrie_entry *b, size_t nb, bool use_trie)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	__u32 *seq = family == AF_INET ? &cfg->h4.seq : &cfg->h6.seq;
	__u32 *count = family == AF_INET ? cfg->h4.n : cfg->h6.n;
	unsigned int alen = family == AF_INET ? 4 : 16;
	bool has[2][129];
	unsigned int n_len[2] = {0, 0};

	memset(has, 0, sizeof(has));
	for (size_t i = 0; i < na + nb; i++) {
		const struct pfxtrie_entry *e = i < na ? &a[i] : &b[i - na];

		if (e->side < 2 && e->plen <= alen * 8 && !has[e->side][e->plen]) {
			has[e->side][e->plen] = true;
			n_len[e->side]++;
		}
	}
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (int side = 0; side < 2; side++) {
		unsigned int k = 0;

		if (use_trie || n_len[side] > NETFAULT_HASH_LENS) {
			count[side] = NETFAULT_INLINE_TRIE;
			continue;
		}
		for (int plen = (int)alen * 8; plen >= 0; plen--) {
			uint8_t mask[16];

			if (!has[side][plen])
				continue;
			memset(mask, 0xff, sizeof(mask));
			pfxtrie_mask_addr(mask, (unsigned int)plen, sizeof(mask));
			if (family == AF_INET) {
				cfg->h4.l[side][k].plen_side = (__u32)plen | (__u32)side << 8;
				memcpy(&cfg->h4.l[side][k].mask, mask, 4);
			} else {
				cfg->h6.l[side][k].plen_side = (__u32)plen | (__u32)side << 8;
				memcpy(cfg->h6.l[side][k].mask, mask, 16);
			}
			k++;
		}
		count[side] = k;
	}
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

/*
 * Bring the family's trie and hash map, then its inline table and hash lengths, in line with
 * the rules in force.
 */
static int trie_sync(struct netfault *nf, int family)
{
	struct pfxtrie_table *t = &nf->c->tables[family_index(family)];
	int fd = trie_fd(nf, family), hfd = hash_fd(nf, family);
	struct pfxtrie_entry *v;
	struct trie_ctx ctx;
	size_t n;
	int err;

	err = table_build(nf, family, &v, &n);
	if (err)
		return err;
	if (n > NETFAULT_MAX_PREFIXES) {
		log_err("netfault: %zu %s prefixes over all rules; the limit is %d", n,
			family == AF_INET ? "IPv4" : "IPv6", NETFAULT_MAX_PREFIXES);
		free(v);
		return -ENOSPC;
	}
	/* Lengths of the old and the new entries while the maps change; the trie if dirty. */
	hash_lens_write(nf, family, t->v, t->n, v, n, t->dirty);
	if (t->dirty) {
		err = trie_resync_full(fd, hfd, family, v, n);
		goto done;
	}
	ctx.fd = fd;
	ctx.hfd = hfd;
	ctx.family = family;
	err = pfxtrie_diff(t->v, t->n, v, n, &trie_ops, &ctx);
done:
	inline_write(nf, family, v, n);
	hash_lens_write(nf, family, v, n, NULL, 0, err != 0);
	/* Keep the new table either way; after a failure the map is resynchronised in full. */
	t->dirty = err != 0;
	free(t->v);
	t->v = v;
	t->n = n;
	if (err)
		log_err("netfault: writing the %s prefix trie: %s",
			family == AF_INET ? "IPv4" : "IPv6", strerror(-err));
	return err;
}

unsigned int netfault_rec_families(const struct rule_rec *rec)
{
	unsigned int f = 0;

	for (size_t i = 0; i < rec->n_remote; i++)
		f |= 1u << family_index(rec->remote[i].family);
	for (size_t i = 0; i < rec->n_local; i++)
		f |= 1u << family_index(rec->local[i].family);
	return f;
}

int netfault_tries_sync(struct netfault *nf, unsigned int families)
{
	int err = 0, e;

	for (int f = 0; f < 2; f++) {
		if (!(families & (1u << f)) && !nf->c->tables[f].dirty)
			continue;
		e = trie_sync(nf, f == 0 ? AF_INET : AF_INET6);
		if (e && !err)
			err = e;
	}
	return err;
}
