/*
 * IFB devices for ingress shaping (see tc.h): created tagged with an alias that says they
 * are faultline's, and deleted only when that tag (or the state a crash mid-create leaves)
 * says so.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "log.h"
#include "nlsock.h"
#include "tc.h"
#include "tc_nl.h"

int tc_ifb_create(const char *name, const char *alias, int *ifindex, char *err, size_t size)
{
	struct rtnl_link *l = rtnl_link_alloc(), *got = NULL, *chg = rtnl_link_alloc();
	struct nl_sock *sk = NULL;
	struct nl_msg *msg;
	char what[64];
	int ret;

	*ifindex = 0;
	if (!l || !chg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tc_sock(&sk, err, size);
	if (ret)
		goto out;
	rtnl_link_set_name(l, name);
	ret = rtnl_link_set_type(l, "ifb");
	if (!ret)
		ret = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &msg);
	if (ret) {
		snprintf(err, size, "building the IFB device: %s", nl_geterror(ret));
		ret = nlsock_errno(ret);
		goto out;
	}
	snprintf(what, sizeof(what), "creating IFB device %s", name);
	ret = nlsock_talk(sk, msg, what, err, size);
	if (ret)
		goto out;
	ret = rtnl_link_get_kernel(sk, 0, name, &got);
	if (ret) {
		ret = nlsock_result(sk, ret);
		snprintf(err, size, "reading IFB device %s back: %s", name, strerror(-ret));
		goto out;
	}
	*ifindex = rtnl_link_get_ifindex(got);
	/* Tagged as ours (crash recovery deletes only a tagged IFB) and up. */
	rtnl_link_set_ifalias(chg, alias);
	rtnl_link_set_flags(chg, IFF_UP);
	ret = rtnl_link_build_change_request(got, chg, 0, &msg);
	if (ret) {
		snprintf(err, size, "building the IFB change: %s", nl_geterror(ret));
		ret = nlsock_errno(ret);
		goto out;
	}
	snprintf(what, sizeof(what), "bringing IFB device %s up", name);
	ret = nlsock_talk(sk, msg, what, err, size);
out:
	/* We created it (NLM_F_EXCL) but could not finish: take it away again. */
	if (ret && *ifindex && rtnl_link_build_delete_request(got, &msg) == 0)
		nlsock_talk(sk, msg, "deleting the half-made IFB device", NULL, 0);
	if (ret)
		*ifindex = 0;
	rtnl_link_put(l);
	rtnl_link_put(chg);
	rtnl_link_put(got);
	nlsock_release(sk);
	return ret;
}

int tc_ifb_delete(const char *name, const char *alias, bool *deleted)
{
	struct rtnl_link *l = NULL;
	struct nl_sock *sk;
	struct nl_msg *msg;
	const char *a, *type;
	int ret;

	*deleted = false;
	ret = nlsock_acquire(&sk);
	if (ret)
		return ret;
	ret = rtnl_link_get_kernel(sk, 0, name, &l);
	if (ret) {
		ret = nlsock_result(sk, ret);
		if (ret == -ENODEV || ret == -ENOENT)
			ret = 0; /* already gone */
		goto out;
	}
	type = rtnl_link_get_type(l);
	a = rtnl_link_get_ifalias(l);
	/*
	 * Ours: tagged with our alias, or, as a crash between tc_ifb_create()'s two requests
	 * leaves it, an untagged IFB device of the recorded name that was never brought up.
	 */
	if (!type || strcmp(type, "ifb") ||
	    (a && *a ? strcmp(a, alias) != 0 : (rtnl_link_get_flags(l) & IFF_UP) != 0)) {
		log_warn("tc: device %s is not our IFB device (kind %s, alias \"%s\"): left alone",
			 name, type ? type : "?", a ? a : "");
		goto out;
	}
	ret = rtnl_link_build_delete_request(l, &msg);
	if (ret) {
		ret = nlsock_errno(ret);
		goto out;
	}
	ret = nlsock_talk(sk, msg, "deleting the IFB device", NULL, 0);
	if (ret == -ENODEV)
		ret = 0;
	else if (!ret)
		*deleted = true;
out:
	rtnl_link_put(l);
	nlsock_release(sk);
	return ret;
}
