/*
 * Keys of the live status the network fault types report (a fault's "status" in the agent's
 * API and in its fault.* events; docs/network-faults.md), named once for both sides: the
 * agent writes them (agent/net/netif.c), the controller reads them (ctl/report.c,
 * ctl/run_events.c). Each counter key carries the field of struct netfault_counters
 * (include/faultline/netfault.h) of the same name, summed over the fault's rules.
 */
#ifndef FAULTLINE_FAULT_STATUS_H
#define FAULTLINE_FAULT_STATUS_H

/* The object of counters summed over all the fault's rules. */
#define FL_STATUS_COUNTERS "counters"
/* The list of the fault's rules, each with its slot, direction and own counters. */
#define FL_STATUS_RULES "rules"

#define FL_COUNTER_MATCHED "matched"	   /* packets a rule applied to, exempted ones not */
#define FL_COUNTER_DROPPED "dropped"	   /* of those, dropped (loss, partition) */
#define FL_COUNTER_CORRUPTED "corrupted"   /* a bit was flipped */
#define FL_COUNTER_DUPLICATED "duplicated" /* a copy was sent */
#define FL_COUNTER_EXEMPTED "exempted"	   /* matched, but left alone as exempt flows */
#define FL_COUNTER_DELAYED "delayed"	   /* a departure time was set (latency, EDT) */
/* network.dns only: "matched" counts the queries whose name and type the fault selects. */
#define FL_COUNTER_QUERIES "queries"   /* DNS queries to the target's resolvers and ports */
#define FL_COUNTER_ANSWERED "answered" /* of the matched, answered by the data path */

#endif
