/* faultline-demo: the lab's demo service, its backend, and a bounded load generator. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "log.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: faultline-demo serve   [--listen ADDR:PORT] --backend URL [OPTIONS]\n"
		"       faultline-demo backend [--listen ADDR:PORT] [--delay-ms MS] [OPTIONS]\n"
		"       faultline-demo load    --url URL [--rate N] [--duration S] [--count N]\n"
		"                              [--timeout-ms MS]\n"
		"\n"
		"serve: answer GET / by calling the backend (GET URL); 200 with its body on a\n"
		"  2xx, 502 on another status, a connection error or a name that does not\n"
		"  resolve, 504 on a timeout. A backend named by a DNS name is resolved at every\n"
		"  call (getaddrinfo, /etc/resolv.conf; no cache).\n"
		"backend: answer GET / with 200 \"backend ok\" (after --delay-ms).\n"
		"Both serve /metrics (Prometheus) and /healthz, and close every connection after\n"
		"one answer. Addresses are numeric (10.0.0.1:8080, [fd00::1]:8080), except the\n"
		"backend URL's, which may be a name.\n"
		"load: GET URL at --rate per second (default 10) for --duration seconds\n"
		"  (default 10, at most 86400) or --count requests, then print a summary.\n"
		"\n"
		"  -L, --listen ADDR:PORT        listen address (default 127.0.0.1:8080)\n"
		"  -b, --backend URL             serve: http://HOST:PORT/PATH of the backend\n"
		"      --backend-timeout-ms MS   serve: bound of one backend call (default 1000)\n"
		"      --request-timeout-ms MS   time a client has to send its request (5000)\n"
		"      --max-connections N       open connections beyond N are closed (256)\n"
		"      --delay-ms MS             backend: delay before answering (default 0)\n"
		"  -l, --log-level LEVEL         error, warn, info (default) or debug\n"
		"  -h, --help, --version\n");
}

static int parse_uint(const char *opt, const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "faultline-demo: --%s: '%s' is not a number in [%u, %u]\n", opt, s,
			min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'L'},
		{"backend", required_argument, NULL, 'b'},
		{"backend-timeout-ms", required_argument, NULL, 'T'},
		{"request-timeout-ms", required_argument, NULL, 'R'},
		{"max-connections", required_argument, NULL, 'M'},
		{"delay-ms", required_argument, NULL, 'D'},
		{"url", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"count", required_argument, NULL, 'c'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct demo_config cfg = {
		.backend_timeout_ms = 1000,
		.request_timeout_ms = 5000,
		.max_connections = 256,
	};
	struct demo_load_config load = {.rate = 10, .duration_s = 10, .timeout_ms = 2000};
	const char *mode, *listen = "127.0.0.1:8080", *backend = NULL, *why = "";
	enum log_level lvl = LOG_LVL_INFO;
	int c, err = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("faultline-demo %s\n", FL_VERSION);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	if (strcmp(mode, "serve") && strcmp(mode, "backend") && strcmp(mode, "load")) {
		fprintf(stderr, "faultline-demo: unknown mode '%s' (serve, backend, load)\n", mode);
		return 2;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "L:b:u:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			listen = optarg;
			break;
		case 'b':
			backend = optarg;
			break;
		case 'u':
			load.url = optarg;
			break;
		case 'T':
			err = parse_uint("backend-timeout-ms", optarg, 1, 600000,
					 &cfg.backend_timeout_ms);
			break;
		case 'R':
			err = parse_uint("request-timeout-ms", optarg, 1, 600000,
					 &cfg.request_timeout_ms);
			break;
		case 'M':
			err = parse_uint("max-connections", optarg, 1, 65536, &cfg.max_connections);
			break;
		case 'D':
			err = parse_uint("delay-ms", optarg, 0, 600000, &cfg.delay_ms);
			break;
		case 'r':
			err = parse_uint("rate", optarg, 1, 1000, &load.rate);
			break;
		case 'd':
			err = parse_uint("duration", optarg, 1, 86400, &load.duration_s);
			break;
		case 'c':
			err = parse_uint("count", optarg, 1, 100000000, &load.count);
			break;
		case 't':
			err = parse_uint("timeout-ms", optarg, 1, 600000, &load.timeout_ms);
			break;
		case 'l':
			if (log_level_parse(optarg, &lvl)) {
				fprintf(stderr, "faultline-demo: --log-level: unknown level '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (err)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "faultline-demo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_setup("faultline-demo", lvl, LOG_STYLE_HUMAN);
	signal(SIGPIPE, SIG_IGN);

	if (!strcmp(mode, "load")) {
		struct demo_endpoint ep;

		if (!load.url) {
			fprintf(stderr, "faultline-demo load: --url is required\n");
			return 2;
		}
		if (demo_parse_url(load.url, &ep, &why)) {
			fprintf(stderr, "faultline-demo load: --url '%s': %s\n", load.url, why);
			return 2;
		}
		return demo_load(&load) ? 1 : 0;
	}
	if (demo_parse_hostport(listen, &cfg.listen, &why)) {
		fprintf(stderr, "faultline-demo: --listen '%s': %s\n", listen, why);
		return 2;
	}
	cfg.backend_mode = !strcmp(mode, "backend");
	if (!cfg.backend_mode) {
		if (!backend) {
			fprintf(stderr, "faultline-demo serve: --backend URL is required\n");
			return 2;
		}
		if (demo_parse_backend_url(backend, &cfg.backend, &why)) {
			fprintf(stderr, "faultline-demo serve: --backend '%s': %s\n", backend, why);
			return 2;
		}
	} else if (backend) {
		fprintf(stderr, "faultline-demo backend: --backend is for serve mode\n");
		return 2;
	}
	return demo_serve(&cfg) ? 1 : 0;
}
