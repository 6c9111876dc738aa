/*
 * Load mode of faultline-demo: GET one URL at a fixed rate for a bounded time or count, each
 * request bounded by its own timeout, and print what came back. Requests are sent one after
 * another (a slow answer delays the next one rather than piling up connections).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "demo.h"
#include "log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	return size * n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int demo_load(const struct demo_load_config *cfg)
{
	uint64_t start = now_ns(), interval = 1000000000ull / cfg->rate, next = start;
	uint64_t end = start + (uint64_t)cfg->duration_s * 1000000000ull;
	unsigned long sent = 0, ok = 0, failed = 0, by_class[6] = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	CURL *h;
	int err = 0;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	h = curl_easy_init();
	if (!h) {
		err = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, cfg->url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "faultline-demo-load");
	/* The demo service closes after each answer; a fresh connection per request is honest. */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	log_info("load: GET %s at %u/s for %u s%s", cfg->url, cfg->rate, cfg->duration_s,
		 cfg->count ? " or until the count is reached" : "");
	while (!stop && now_ns() < end && (!cfg->count || sent < cfg->count)) {
		uint64_t t = now_ns();
		long code = 0;
		CURLcode rc;

		if (t < next) {
			struct timespec ts = {.tv_sec = (next - t) / 1000000000ull,
					      .tv_nsec = (next - t) % 1000000000ull};

			nanosleep(&ts, NULL);
			continue;
		}
		next += interval;
		/* After a stall, do not burst to catch up: the rate is a ceiling. */
		if (next < t)
			next = t + interval;
		rc = curl_easy_perform(h);
		sent++;
		if (rc != CURLE_OK) {
			failed++;
			log_debug("load: %s", curl_easy_strerror(rc));
			continue;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		by_class[code >= 100 && code < 600 ? code / 100 : 0]++;
		ok += code >= 200 && code < 300;
	}
	printf("load: %lu requests, %lu answered 2xx, %lu 4xx, %lu 5xx, %lu failed without an "
	       "answer\n",
	       sent, ok, by_class[4], by_class[5], failed);
	fflush(stdout);
	curl_easy_cleanup(h);
out:
	curl_global_cleanup();
	return err;
}
