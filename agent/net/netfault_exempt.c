/*
 * Exemptions of a netfault instance: traffic the rules never touch (the agent's own API and
 * SSH sessions, see docs/netfault.md), kept in the exempt prefix trie keyed by protocol, ports
 * and remote prefix. The BPF program looks up only the key shapes some exemption uses.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"

static int exempt_key(const struct netfault_exempt *ex, struct netfault_exempt_key *k,
		      enum netfault_exempt_shape *shape)
{
	unsigned int plen = ex->remote.prefixlen;

	memset(k, 0, sizeof(*k));
	if (!ex->proto && (ex->local_port || ex->remote_port))
		return -EINVAL;
	switch (ex->remote.family) {
	case AF_UNSPEC:
		k->prefixlen = NETFAULT_EXEMPT_FIXED_BITS;
		break;
	case AF_INET:
		if (plen > 32)
			return -EINVAL;
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
		memcpy(&k->addr[12], ex->remote.addr, 4);
		plen += 96;
		k->prefixlen = NETFAULT_EXEMPT_FIXED_BITS + plen;
		break;
	case AF_INET6:
		if (plen > 128)
			return -EINVAL;
		memcpy(k->addr, ex->remote.addr, 16);
		k->prefixlen = NETFAULT_EXEMPT_FIXED_BITS + plen;
		break;
	default:
		return -EINVAL;
	}
	pfxtrie_mask_addr(k->addr, k->prefixlen - NETFAULT_EXEMPT_FIXED_BITS, sizeof(k->addr));
	k->proto = ex->proto;
	k->lport = ex->local_port;
	k->rport = ex->remote_port;
	if (!ex->proto)
		*shape = NETFAULT_EXEMPT_ANY;
	else if (ex->local_port && ex->remote_port)
		*shape = NETFAULT_EXEMPT_FULL;
	else if (ex->local_port)
		*shape = NETFAULT_EXEMPT_LPORT;
	else if (ex->remote_port)
		*shape = NETFAULT_EXEMPT_RPORT;
	else
		*shape = NETFAULT_EXEMPT_PROTO;
	return 0;
}

int netfault_exempt_add(struct netfault *nf, const struct netfault_exempt *ex)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	enum netfault_exempt_shape shape;
	struct netfault_exempt_key k;
	__u32 val = 0;
	int err;

	err = exempt_key(ex, &k, &shape);
	if (err)
		return err;
	if (bpf_map_update_elem(bpf_map__fd(nf->c->skel->maps.exempt), &k, &val, BPF_NOEXIST)) {
		err = -errno;
		if (err != -EEXIST)
			log_err("netfault: adding an exemption: %s", strerror(-err));
		return err;
	}
	if (!nf->c->exempt_count[shape]++)
		__atomic_store_n(&cfg->exempt_shapes, cfg->exempt_shapes | (1u << shape),
				 __ATOMIC_RELEASE);
	return 0;
}

int netfault_exempt_remove(struct netfault *nf, const struct netfault_exempt *ex)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	enum netfault_exempt_shape shape;
	struct netfault_exempt_key k;
	int err;

	err = exempt_key(ex, &k, &shape);
	if (err)
		return err;
	if (bpf_map_delete_elem(bpf_map__fd(nf->c->skel->maps.exempt), &k))
		return -errno;
	if (nf->c->exempt_count[shape] && !--nf->c->exempt_count[shape])
		__atomic_store_n(&cfg->exempt_shapes, cfg->exempt_shapes & ~(1u << shape),
				 __ATOMIC_RELEASE);
	return 0;
}
