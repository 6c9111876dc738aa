/* Unit tests for the pure parts of faultline-demo (lab/demo): addresses, URLs, metrics text. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "demo.h"

static void hostport(void **state)
{
	struct demo_endpoint ep;
	const char *why = NULL;

	assert_int_equal(demo_parse_hostport("10.0.0.1:8080", &ep, &why), 0);
	assert_int_equal(ep.ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ep.ss)->sin_port), 8080);
	assert_string_equal(ep.host, "10.0.0.1:8080");
	assert_int_equal(demo_parse_hostport("[fd00::1]:9", &ep, &why), 0);
	assert_int_equal(ep.ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ep.ss)->sin6_port), 9);

	assert_int_equal(demo_parse_hostport("localhost:80", &ep, &why), -EINVAL);
	assert_non_null(strstr(why, "numeric"));
	assert_int_equal(demo_parse_hostport("10.0.0.1", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_hostport("10.0.0.1:65536", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_hostport("10.0.0.1:", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_hostport(":80", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_hostport("[fd00::1]80", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_hostport("[10.0.0.1]:80", &ep, &why), -EINVAL);
}

static void url(void **state)
{
	struct demo_endpoint ep;
	const char *why = NULL;

	assert_int_equal(demo_parse_url("http://10.1.2.3:81/api/x?y=1", &ep, &why), 0);
	assert_string_equal(ep.path, "/api/x?y=1");
	assert_string_equal(ep.host, "10.1.2.3:81");
	assert_int_equal(demo_parse_url("http://10.1.2.3:81", &ep, &why), 0);
	assert_string_equal(ep.path, "/");
	assert_int_equal(demo_parse_url("https://10.1.2.3:81/", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_url("http://10.1.2.3:0/", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_url("http://10.1.2.3:80/a b", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_url("http://example.com:80/", &ep, &why), -EINVAL);
	assert_string_equal(ep.name, "");
}

/* Serve mode's backend URL may name its host; the name is kept for getaddrinfo. */
static void backend_url(void **state)
{
	struct demo_endpoint ep;
	const char *why = NULL;

	assert_int_equal(demo_parse_backend_url("http://backend.lab.internal:8081/x", &ep, &why),
			 0);
	assert_string_equal(ep.name, "backend.lab.internal");
	assert_string_equal(ep.port_text, "8081");
	assert_string_equal(ep.host, "backend.lab.internal:8081");
	assert_string_equal(ep.path, "/x");
	assert_int_equal(ep.ss.ss_family, AF_UNSPEC);
	assert_int_equal(demo_parse_backend_url("http://Db-1.example.:80", &ep, &why), 0);
	assert_string_equal(ep.name, "Db-1.example.");
	/* Numeric addresses stay numeric, with no name to resolve. */
	assert_int_equal(demo_parse_backend_url("http://10.1.2.3:81/", &ep, &why), 0);
	assert_string_equal(ep.name, "");
	assert_int_equal(ep.ss.ss_family, AF_INET);
	assert_int_equal(demo_parse_backend_url("http://[fd00::1]:81/", &ep, &why), 0);
	assert_int_equal(ep.ss.ss_family, AF_INET6);

	assert_int_equal(demo_parse_backend_url("http://backend.lab.internal:0/", &ep, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "port 0"));
	assert_int_equal(demo_parse_backend_url("http://back_end:80/", &ep, &why), -EINVAL);
	assert_non_null(strstr(why, "DNS name"));
	assert_int_equal(demo_parse_backend_url("http://a..b:80/", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_backend_url("http://.a:80/", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_backend_url("http://10.1.2:80/", &ep, &why), -EINVAL);
	assert_int_equal(demo_parse_backend_url("http://backend:/", &ep, &why), -EINVAL);
	/* 64 characters: longer than a name the endpoint holds. */
	assert_int_equal(
		demo_parse_backend_url("http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:80/",
				       &ep, &why),
		-EINVAL);
	/* Listen addresses and the load's URL are numeric only. */
	assert_int_equal(demo_parse_hostport("backend.lab.internal:80", &ep, &why), -EINVAL);
}

static void histogram_buckets(void **state)
{
	struct demo_hist h = {0};

	demo_hist_observe(&h, 0.001); /* "le" is inclusive */
	demo_hist_observe(&h, 0.0011);
	demo_hist_observe(&h, 10);
	demo_hist_observe(&h, 11);
	assert_int_equal(h.counts[0], 1);
	assert_int_equal(h.counts[1], 1);
	assert_int_equal(h.counts[DEMO_HIST_BUCKETS - 1], 1);
	assert_int_equal(h.counts[DEMO_HIST_BUCKETS], 1);
	assert_int_equal(h.count, 4);
}

static void render(void **state)
{
	struct demo_metrics m = {.role = "service"};
	char *text;

	demo_metrics_count(&m, 200, 0.003);
	demo_metrics_count(&m, 200, 0.2);
	demo_metrics_count(&m, 504, 1.5);
	demo_metrics_count(&m, 418, 0.0001);
	m.backend[DEMO_BACKEND_TIMEOUT] = 1;
	m.backend[DEMO_BACKEND_DNS_ERROR] = 3;
	text = demo_metrics_render(&m, 1);
	assert_non_null(text);
	assert_non_null(strstr(text, "demo_requests_total{role=\"service\",code=\"200\"} 2\n"));
	assert_non_null(strstr(text, "demo_requests_total{role=\"service\",code=\"504\"} 1\n"));
	assert_non_null(strstr(text, "demo_requests_total{role=\"service\",code=\"other\"} 1\n"));
	assert_non_null(strstr(text, "demo_requests_total{role=\"service\",code=\"502\"} 0\n"));
	/* Cumulative: 0.0001 and 0.003 are at or below 0.005; everything at +Inf. */
	assert_non_null(strstr(text, "demo_request_duration_seconds_bucket{role=\"service\","
				     "le=\"0.005\"} 2\n"));
	assert_non_null(strstr(text, "demo_request_duration_seconds_bucket{role=\"service\","
				     "le=\"1\"} 3\n"));
	assert_non_null(strstr(text, "demo_request_duration_seconds_bucket{role=\"service\","
				     "le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(text, "demo_request_duration_seconds_count{role=\"service\"} 4\n"));
	assert_non_null(strstr(text, "# TYPE demo_request_duration_seconds histogram\n"));
	assert_non_null(strstr(text, "demo_backend_requests_total{role=\"service\","
				     "result=\"timeout\"} 1\n"));
	assert_non_null(strstr(text, "demo_backend_requests_total{role=\"service\","
				     "result=\"dns_error\"} 3\n"));
	free(text);

	m.role = "backend";
	text = demo_metrics_render(&m, 0);
	assert_non_null(text);
	assert_null(strstr(text, "demo_backend_requests_total"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostport),
		cmocka_unit_test(url),
		cmocka_unit_test(backend_url),
		cmocka_unit_test(histogram_buckets),
		cmocka_unit_test(render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
