/*
 * The containers of a network fault (agent/net/netif.h): the one its target_watch follows, or
 * each member of a fault over several containers, and a member dropped when its container
 * exits (its rules, its interface and its part of the journal record).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fault.h"
#include "log.h"
#include "netif.h"
#include "netif_impl.h"

int netif_fault_target_container(const struct fault *f, struct fault_target *t)
{
	const struct netif_fault *nf = f->priv;

	/*
	 * Several containers' namespaces (count, percent, all): not one container, each is
	 * watched as a member (netif_fault_target_members(), netif_fault_drop_member()).
	 */
	if (!nf || nf->next || !nf->ns.container[0] || !nf->ns.pid)
		return -ENOENT;
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", nf->ns.container);
	snprintf(t->desc, sizeof(t->desc), "%s", nf->ns.desc);
	t->pid = nf->ns.pid;
	t->starttime = nf->ns.starttime;
	t->netns = nf->ns.ino;
	return 0;
}

int netif_fault_target_members(const struct fault *f, struct fault_target **out, size_t *n)
{
	const struct netif_fault *nf = f->priv, *m;
	struct fault_target *t;
	size_t k = 0;

	if (!nf || !nf->next)
		return -ENOENT;
	for (m = nf; m; m = m->next, k++)
		if (!m->ns.container[0] || !m->ns.pid)
			return -ENOENT;
	t = calloc(k, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (m = nf, k = 0; m; m = m->next, k++) {
		snprintf(t[k].id, sizeof(t[k].id), "%s", m->ns.container);
		snprintf(t[k].desc, sizeof(t[k].desc), "%s", m->ns.desc);
		t[k].pid = m->ns.pid;
		t[k].starttime = m->ns.starttime;
		t[k].netns = m->ns.ino;
	}
	*out = t;
	*n = k;
	return 0;
}

/* The journal record without member idx (0: the first, whose record is the object itself). */
static json_t *undo_without(const json_t *undo, size_t idx)
{
	const json_t *more = json_object_get(undo, "more_netns");
	json_t *out, *rest;
	size_t from;

	if (!json_is_array(more) || idx > json_array_size(more))
		return NULL;
	/* The next member's record becomes the object when the first goes. */
	out = json_deep_copy(idx ? undo : json_array_get(more, 0));
	rest = json_array();
	if (!out || !rest)
		goto fail;
	json_object_del(out, "more_netns");
	from = idx ? 0 : 1;
	for (size_t i = from; i < json_array_size(more); i++) {
		if (idx && i == idx - 1)
			continue;
		if (json_array_append_new(rest, json_deep_copy(json_array_get(more, i))))
			goto fail;
	}
	if (json_array_size(rest) && json_object_set_new(out, "more_netns", rest))
		goto fail_out;
	if (!json_array_size(rest))
		json_decref(rest);
	return out;
fail:
	json_decref(rest);
fail_out:
	json_decref(out);
	return NULL;
}

int netif_fault_drop_member(struct fault *f, const char *id, char *err, size_t size)
{
	struct netif_fault *head = f->priv, *m, *prev = NULL, *gone;
	bool shared = false;
	json_t *undo;
	size_t idx = 0;
	int ret = 0;

	for (m = head; m && strcmp(m->ns.container, id); m = m->next, idx++)
		prev = m;
	if (!m) {
		snprintf(err, size, "no member of the fault is in container %.12s", id);
		return -ENOENT;
	}
	if (m == head && !m->next) {
		snprintf(err, size, "%s is the fault's last container", m->ns.desc);
		return -EBUSY;
	}
	undo = undo_without(f->undo, idx);
	if (!undo) {
		snprintf(err, size,
			 "rewriting the journal record without %s: out of memory or "
			 "not the record of %zu members",
			 m->ns.desc, idx + 1);
		return -ENOMEM;
	}
	/* Its rules stay where another member's interface runs the same program: they are theirs.
	 */
	for (const struct netif_fault *o = head; o && m->nif; o = o->next)
		if (o != m && o->nif && netfault_same_program(o->nif->nf, m->nif->nf))
			shared = true;
	if (m->nif && shared)
		m->n_slots = 0;
	else if (m->nif)
		ret = netif_member_remove_rules(m, err, size);
	if (!ret)
		ret = netif_detach_member(f, m, err, size);
	if (ret) {
		json_decref(undo);
		netif_member_err(m, err, size);
		return ret;
	}
	/* Out of the list; the first member's struct stays first, with the next one's contents. */
	if (m == head) {
		struct netif_fault *next = head->next, tmp = *head;

		*head = *next;
		head->ext = tmp.ext;
		head->ext_free = tmp.ext_free;
		head->pick = tmp.pick;
		head->shaper_dirs = tmp.shaper_dirs;
		*next = tmp;
		next->ext = NULL;
		next->ext_free = NULL;
		gone = next;
	} else {
		prev->next = m->next;
		gone = m;
	}
	gone->next = NULL;
	netif_members_free(gone);
	/* The member is gone from the agent's state: from the journal too, synced. */
	json_decref(f->undo);
	f->undo = undo;
	ret = fault_journal(f);
	if (ret) /* The old record: crash cleanup finds that member's interface clean or gone. */
		log_warn("fault %s: rewriting its journal record without %.12s: %s", f->id, id,
			 strerror(-ret));
	return 0;
}
