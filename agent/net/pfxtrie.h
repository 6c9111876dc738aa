/*
 * The prefix tries' tables, pure (libc only, no map fds): see docs/netfault.md.
 *
 * The BPF prefix tries answer with the longest matching prefix only, so the mask stored for a
 * prefix must hold the rules of every prefix containing it as well as its own. A table is one
 * family's entries sorted by side, address and length, each with its own rules and its
 * effective mask. pfxtrie_finish() turns the entries the rules name into such a table;
 * pfxtrie_diff() walks from the table last written to the new one and calls put for new and
 * changed entries first and del for stale ones after, so a rule never loses a prefix it keeps
 * while the trie changes. netfault_trie.c writes the calls into the maps.
 */
#ifndef FL_PFXTRIE_H
#define FL_PFXTRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One (side, prefix) of a trie: the rules naming it and what the trie stores for it. */
struct pfxtrie_entry {
	uint32_t side;
	uint32_t plen;	  /* address bits */
	uint8_t addr[16]; /* host bits cleared; IPv4 in addr[0..3], the rest 0 */
	uint64_t own;	  /* rules with this very prefix */
	uint64_t eff;	  /* rules with this prefix or one containing it: the trie's value */
};

/* The table last written to one family's trie. */
struct pfxtrie_table {
	struct pfxtrie_entry *v;
	size_t n;
	bool dirty; /* a write failed: the map may differ from v; resynchronise in full */
};

/* What pfxtrie_diff() calls; each returns 0 or -errno, which stops the walk. */
struct pfxtrie_ops {
	int (*put)(void *ctx, const struct pfxtrie_entry *e);
	int (*del)(void *ctx, const struct pfxtrie_entry *e);
};

/* Clear the bits of addr (alen bytes) past plen. */
void pfxtrie_mask_addr(uint8_t *addr, unsigned int plen, unsigned int alen);

/* Order of a table: side, address, length. A qsort/bsearch comparator. */
int pfxtrie_cmp(const void *a, const void *b);

/*
 * Append the prefix addr/plen (alen address bytes: 4 or 16) on side, named by rule slot, to
 * v[*n] and count it; v must have room.
 */
void pfxtrie_add(struct pfxtrie_entry *v, size_t *n, const uint8_t *addr, unsigned int alen,
		 unsigned int plen, uint32_t side, int slot);

/* Sort the entries, merge duplicates (their rules joined) and give each its effective mask. */
void pfxtrie_finish(struct pfxtrie_entry *v, size_t *n);

/* The entry of a finished table equal to key in side, address and length, or NULL. */
const struct pfxtrie_entry *pfxtrie_find(const struct pfxtrie_entry *v, size_t n,
					 const struct pfxtrie_entry *key);

/*
 * The writes that turn the trie holding old into one holding new (both finished): put for
 * every entry of new that old lacks or has with another effective mask, in table order, then
 * del for every entry of old that new lacks. Returns the first error of a call, 0 when all
 * succeed.
 */
int pfxtrie_diff(const struct pfxtrie_entry *old, size_t n_old, const struct pfxtrie_entry *new,
		 size_t n_new, const struct pfxtrie_ops *ops, void *ctx);

#endif
