/* faultline-demo: a small HTTP service for the lab (service, backend and load modes). */
#ifndef FL_DEMO_H
#define FL_DEMO_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

/* Latency histogram buckets in seconds (upper bounds); +Inf is implied. */
#define DEMO_HIST_BUCKETS 13

struct demo_hist {
	uint64_t counts[DEMO_HIST_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	uint64_t count;
	double sum;
};

/* The status codes counted one by one; anything else is counted as "other". */
#define DEMO_CODES 12

enum demo_backend_result {
	DEMO_BACKEND_OK,	   /* a 2xx answer */
	DEMO_BACKEND_HTTP_ERROR,   /* an answer with another status */
	DEMO_BACKEND_CONN_ERROR,   /* connect refused, reset, unreachable */
	DEMO_BACKEND_TIMEOUT,	   /* no whole answer within the timeout */
	DEMO_BACKEND_BAD_RESPONSE, /* not HTTP, or larger than the buffer */
	DEMO_BACKEND_DNS_ERROR,	   /* the backend's name did not resolve */
	DEMO_BACKEND__COUNT,
};

struct demo_metrics {
	const char *role;		       /* "service" or "backend", a label */
	uint64_t requests[DEMO_CODES + 1];     /* by status code index; last is "other" */
	struct demo_hist latency;	       /* of counted requests */
	uint64_t backend[DEMO_BACKEND__COUNT]; /* service mode: backend calls by result */
	struct demo_hist backend_latency;      /* service mode: backend call durations */
	uint64_t conns_rejected;	       /* over --max-connections */
	uint64_t conns_active;
};

extern const double demo_hist_bounds[DEMO_HIST_BUCKETS];

void demo_hist_observe(struct demo_hist *h, double seconds);
void demo_metrics_count(struct demo_metrics *m, int status, double seconds);
/* The Prometheus text exposition of m, malloc'd; NULL when out of memory. */
char *demo_metrics_render(const struct demo_metrics *m, int with_backend);

/*
 * An endpoint: an IPv4 or bracketed IPv6 literal and a port, in ss; or, for the backend URL
 * only, a DNS name in name (ss unused, family AF_UNSPEC), resolved at every call.
 */
struct demo_endpoint {
	struct sockaddr_storage ss;
	socklen_t len;
	char name[64];	     /* the DNS name, or "" for a numeric address */
	char port_text[6];   /* the port as written, for getaddrinfo */
	char host[80]; /* HOST:PORT as written, brackets included, for the Host header */
	char path[256];
};

/*
 * Parse "HOST:PORT" (listen addresses) or "http://HOST:PORT/PATH" (the backend URL). HOST is a
 * numeric address: the lab addresses namespaces directly (only the service's backend may be
 * named, below).
 * Returns 0, or -EINVAL with a reason in why.
 */
int demo_parse_hostport(const char *s, struct demo_endpoint *ep, const char **why);
int demo_parse_url(const char *s, struct demo_endpoint *ep, const char **why);
/*
 * The backend URL of serve mode: as demo_parse_url, but HOST may also be a DNS name (letters,
 * digits, hyphens, dots; at most 63 characters), which the service resolves with getaddrinfo
 * at every backend call, through the C library's resolver and /etc/resolv.conf.
 */
int demo_parse_backend_url(const char *s, struct demo_endpoint *ep, const char **why);

struct demo_config {
	struct demo_endpoint listen;
	struct demo_endpoint backend; /* service mode only */
	int backend_mode;	      /* answer requests ourselves instead of calling out */
	unsigned backend_timeout_ms;  /* whole backend call, connect to last byte */
	unsigned request_timeout_ms;  /* a client must send its request within this */
	unsigned delay_ms;	      /* backend mode: answer after this delay */
	unsigned max_connections;
};

/* Run the HTTP server until SIGTERM or SIGINT. Returns 0 or -errno. */
int demo_serve(const struct demo_config *cfg);

struct demo_load_config {
	const char *url;
	unsigned rate;	     /* requests per second */
	unsigned duration_s; /* stop after this long ... */
	unsigned count;	     /* ... or after this many requests (0: no count limit) */
	unsigned timeout_ms; /* per request */
};

/* Send requests at a fixed rate; prints a summary. Returns 0 or -errno. */
int demo_load(const struct demo_load_config *cfg);

#endif
