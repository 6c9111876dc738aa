/*
 * The prefix tries' tables and the difference between two of them (see pfxtrie.h). Pure: libc
 * only, so the unit layer tests it without root and without the agent's libraries.
 */
#include <stdlib.h>
#include <string.h>

#include "pfxtrie.h"

void pfxtrie_mask_addr(uint8_t *addr, unsigned int plen, unsigned int alen)
{
	for (unsigned int i = 0; i < alen; i++) {
		unsigned int keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;

		addr[i] &= (uint8_t)(0xff00 >> keep);
	}
}

int pfxtrie_cmp(const void *a, const void *b)
{
	const struct pfxtrie_entry *x = a, *y = b;
	int c;

	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/* Does prefix a contain prefix b? */
static bool pfx_contains(const struct pfxtrie_entry *a, const struct pfxtrie_entry *b)
{
	uint8_t tmp[16];

	if (a->side != b->side || a->plen > b->plen)
		return false;
	memcpy(tmp, b->addr, sizeof(tmp));
	pfxtrie_mask_addr(tmp, a->plen, sizeof(tmp));
	return !memcmp(tmp, a->addr, sizeof(tmp));
}

void pfxtrie_add(struct pfxtrie_entry *v, size_t *n, const uint8_t *addr, unsigned int alen,
		 unsigned int plen, uint32_t side, int slot)
{
	struct pfxtrie_entry *p = &v[(*n)++];

	memset(p, 0, sizeof(*p));
	p->side = side;
	p->plen = plen;
	memcpy(p->addr, addr, alen);
	pfxtrie_mask_addr(p->addr, p->plen, sizeof(p->addr));
	p->own = 1ULL << slot;
}

void pfxtrie_finish(struct pfxtrie_entry *v, size_t *n)
{
	struct pfxtrie_entry *stack[130];
	size_t m = 0, depth = 0;

	qsort(v, *n, sizeof(*v), pfxtrie_cmp);
	/* Merge duplicates. */
	for (size_t i = 0; i < *n; i++) {
		if (m && !pfxtrie_cmp(&v[m - 1], &v[i]))
			v[m - 1].own |= v[i].own;
		else
			v[m++] = v[i];
	}
	*n = m;
	/*
	 * In this order a prefix comes right after the prefixes containing it, and the prefixes
	 * it contains follow it contiguously; a stack of the enclosing chain (at most 129 deep
	 * plus one, lengths strictly grow along it) gives each entry its inherited rules.
	 */
	for (size_t i = 0; i < m; i++) {
		while (depth && !pfx_contains(stack[depth - 1], &v[i]))
			depth--;
		v[i].eff = v[i].own | (depth ? stack[depth - 1]->eff : 0);
		if (depth < sizeof(stack) / sizeof(stack[0]))
			stack[depth++] = &v[i];
	}
}

const struct pfxtrie_entry *pfxtrie_find(const struct pfxtrie_entry *v, size_t n,
					 const struct pfxtrie_entry *key)
{
	return n ? bsearch(key, v, n, sizeof(*v), pfxtrie_cmp) : NULL;
}

int pfxtrie_diff(const struct pfxtrie_entry *old, size_t n_old, const struct pfxtrie_entry *new,
		 size_t n_new, const struct pfxtrie_ops *ops, void *ctx)
{
	size_t i = 0, j = 0;
	int err = 0;

	/* New and changed entries first... */
	while (j < n_new && !err) {
		int c = i < n_old ? pfxtrie_cmp(&old[i], &new[j]) : 1;

		if (c < 0) {
			i++;
		} else if (c == 0) {
			if (old[i].eff != new[j].eff)
				err = ops->put(ctx, &new[j]);
			i++;
			j++;
		} else {
			err = ops->put(ctx, &new[j]);
			j++;
		}
	}
	/* ...then the entries no rule names any more. */
	for (i = 0, j = 0; i < n_old && !err; i++) {
		while (j < n_new && pfxtrie_cmp(&new[j], &old[i]) < 0)
			j++;
		if (j == n_new || pfxtrie_cmp(&new[j], &old[i]))
			err = ops->del(ctx, &old[i]);
	}
	return err;
}
