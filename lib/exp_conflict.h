/*
 * The conflict tests of the fault types (exp_conflict.c), as the type table names them: each
 * returns whether faults a and b (of its type) conflict, and if so what they fight over in
 * what (size bytes).
 */
#ifndef FL_EXP_CONFLICT_H
#define FL_EXP_CONFLICT_H

#include <stdbool.h>
#include <stddef.h>

struct fault_spec;

/*
 * Latency, loss, corruption and duplication: the same packets (interface, direction,
 * protocol, ports and addresses all overlap).
 */
bool exp_conflict_packets(const struct fault_spec *a, const struct fault_spec *b, char *what,
			  size_t size);
/*
 * network.dns: the same queries (interface, protocol, resolvers and ports overlap) and a name
 * both faults' patterns match, for a query type both select.
 */
bool exp_conflict_dns(const struct fault_spec *a, const struct fault_spec *b, char *what,
		      size_t size);
bool exp_conflict_bandwidth(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size);
bool exp_conflict_disk_fill(const struct fault_spec *a, const struct fault_spec *b, char *what,
			    size_t size);
bool exp_conflict_io(const struct fault_spec *a, const struct fault_spec *b, char *what,
		     size_t size);

#endif
