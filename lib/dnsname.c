/*
 * DNS name patterns and query types of network.dns (dnsname.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dnsname.h"
#include "exp.h"

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int dnsname_parse(const char *text, struct dnsname *out, char *why, size_t size)
{
	const char *p = text, *end;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!strncmp(p, "*.", 2)) {
		out->suffix = true;
		p += 2;
	}
	end = p + strlen(p);
	if (end > p && end[-1] == '.')
		end--;
	if (end == p) {
		snprintf(why, size,
			 out->suffix ? "'%s' names no domain after '*.' (every name would match)"
				     : "'%s' is not a name (labels separated by dots, like "
				       "db.internal.)",
			 text);
		return -EINVAL;
	}
	if (end - p > DNSNAME_WIRE_MAX - 2) {
		snprintf(why, size, "'%s' is longer than a DNS name (253 characters)", text);
		return -EINVAL;
	}
	while (p < end) {
		const char *dot = memchr(p, '.', end - p);
		size_t len = (dot ? dot : end) - p;

		if (!len) {
			snprintf(why, size, "'%s' has an empty label (two dots, or a leading dot)",
				 text);
			return -EINVAL;
		}
		if (len > 63) {
			snprintf(why, size, "'%s' has a label longer than 63 characters", text);
			return -EINVAL;
		}
		out->wire[n++] = len;
		for (size_t i = 0; i < len; i++) {
			char c = p[i];

			if (!label_char(c)) {
				snprintf(why, size,
					 c == '*' ? "'%s': '*' may only be the whole first label "
						    "('*.example.com')"
						  : "'%s': '%c' is not allowed in a name (letters, "
						    "digits, '-' and '_')",
					 text, c);
				return -EINVAL;
			}
			out->wire[n++] = c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
		}
		p += len + (dot != NULL);
	}
	out->wire[n++] = 0;
	out->len = n;
	return 0;
}

static const uint16_t qtype_numbers[] = {
	[DNS_QTYPE_A] = 1,	[DNS_QTYPE_NS] = 2,	[DNS_QTYPE_CNAME] = 5,
	[DNS_QTYPE_SOA] = 6,	[DNS_QTYPE_PTR] = 12,	[DNS_QTYPE_MX] = 15,
	[DNS_QTYPE_TXT] = 16,	[DNS_QTYPE_AAAA] = 28,	[DNS_QTYPE_SRV] = 33,
	[DNS_QTYPE_NAPTR] = 35, [DNS_QTYPE_DS] = 43,	[DNS_QTYPE_DNSKEY] = 48,
	[DNS_QTYPE_SVCB] = 64,	[DNS_QTYPE_HTTPS] = 65, [DNS_QTYPE_ANY] = 255,
	[DNS_QTYPE_CAA] = 257,
};

uint16_t dnsname_qtype_number(int qtype)
{
	if (qtype < 0 || (size_t)qtype >= sizeof(qtype_numbers) / sizeof(qtype_numbers[0]))
		return 0;
	return qtype_numbers[qtype];
}
