/*
 * DNS name patterns of network.dns: "db.internal." (that name) or "*.example.com" (every name
 * below it), case-insensitive, parsed into the lower-case wire format the data path compares
 * (include/faultline/netfault.h), and the query types by name. Pure: libc only.
 */
#ifndef FL_DNSNAME_H
#define FL_DNSNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSNAME_WIRE_MAX 255 /* bytes of a name in wire format, the root's 0 included */

struct dnsname {
	uint8_t wire[DNSNAME_WIRE_MAX]; /* lower case: length byte, label, ..., 0 */
	size_t len;			/* bytes of wire in use */
	bool suffix;			/* "*.NAME": the names strictly below NAME */
};

/*
 * Parse a pattern: labels of 1 to 63 letters, digits, '-' or '_' separated by dots, an optional
 * final dot, at most 253 characters without it; "*." before the first label makes it a suffix
 * pattern. 0, or -EINVAL with why set to what is wrong.
 */
int dnsname_parse(const char *text, struct dnsname *out, char *why, size_t size);

/* The query types network.dns names (enum dns_qtype in lib/exp.h): the wire number of each. */
uint16_t dnsname_qtype_number(int qtype);

#endif
