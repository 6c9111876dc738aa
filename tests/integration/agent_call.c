/*
 * agent_call: drives one faultctl client connection (ctl/client.c) from a shell test, so the
 * test exercises faultctl's own transports (unix:// and ssh://) and can cut one mid-use.
 *
 * Usage: agent_call ADDR, then one request per stdin line: "METHOD TARGET [JSON BODY]".
 * For each it prints one line: "STATUS ELAPSED_MS BODY" (body compact JSON, or "null"), or
 * "ERR ELAPSED_MS errno-name: message" when the call failed. At EOF it closes the client and
 * prints "CLOSED ELAPSED_MS". Exit status: 0, 2 for a bad address, 3 when connect failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void call(struct client *c, char *line)
{
	char *method = strtok(line, " \n");
	char *target = strtok(NULL, " \n");
	char *rest = strtok(NULL, "\n");
	char err[1024];
	json_t *body = NULL, *resp = NULL;
	long long t0;
	int status, e;

	if (!method || !target) {
		printf("ERR 0 EINVAL: expected METHOD TARGET [BODY]\n");
		return;
	}
	if (rest) {
		json_error_t jerr;

		body = json_loads(rest, 0, &jerr);
		if (!body) {
			printf("ERR 0 EINVAL: body: %s\n", jerr.text);
			return;
		}
	}
	t0 = now_ms();
	e = client_call(c, method, target, body, &status, &resp, err, sizeof(err));
	json_decref(body);
	if (e) {
		printf("ERR %lld %s\n", now_ms() - t0, err);
		return;
	}
	printf("%d %lld ", status, now_ms() - t0);
	if (resp) {
		json_dumpf(resp, stdout, JSON_COMPACT);
		json_decref(resp);
	} else {
		printf("null");
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct agent_addr addr;
	struct client *c;
	char err[1024], line[65536];
	long long t0;

	if (argc != 2) {
		fprintf(stderr, "usage: agent_call ADDR\n");
		return 2;
	}
	if (addr_parse(argv[1], &addr, err, sizeof(err))) {
		fprintf(stderr, "agent_call: %s\n", err);
		return 2;
	}
	if (client_connect(&addr, &c, err, sizeof(err))) {
		fprintf(stderr, "agent_call: %s\n", err);
		return 3;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin))
		call(c, line);
	t0 = now_ms();
	client_close(c);
	printf("CLOSED %lld\n", now_ms() - t0);
	return 0;
}
