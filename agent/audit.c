/* Audit trail of every API request, for the game-day record and for security review. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "log.h"
#include "timefmt.h"

#define AUDIT_MAX_BODY 4096

struct audit {
	int fd;
	char *path; /* for audit_reopen() */
};

int audit_open(const char *path, struct audit **out)
{
	char dir[256];
	char *slash;
	struct audit *au;
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -errno;
	}
	au = calloc(1, sizeof(*au));
	if (!au)
		return -ENOMEM;
	au->path = strdup(path);
	if (!au->path) {
		free(au);
		return -ENOMEM;
	}
	au->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (au->fd < 0) {
		err = -errno;
		free(au->path);
		free(au);
		return err;
	}
	*out = au;
	return 0;
}

void audit_close(struct audit *au)
{
	if (!au)
		return;
	close(au->fd);
	free(au->path);
	free(au);
}

int audit_reopen(struct audit *au)
{
	int fd, err;

	if (!au)
		return 0;
	fd = open(au->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/*
	 * dup3 swaps the file under the same descriptor in one step: every record goes either
	 * to the old file (renamed by logrotate, still open until now) or to the new one.
	 */
	if (dup3(fd, au->fd, O_CLOEXEC) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

void audit_record(struct audit *au, const struct peer *peer, const struct http_msg *req,
		  bool allowed, int status, const char *why)
{
	char when[TIMEFMT_ISO_SIZE];
	json_t *line;
	char *text;
	size_t len;

	if (!au)
		return;
	timefmt_now_iso(when, sizeof(when));
	line = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:b, s:i}", "time", when, "uid",
			 (json_int_t)peer->uid, "gid", (json_int_t)peer->gid, "pid",
			 (json_int_t)peer->pid, "method", req->method, "target", req->target,
			 "allowed", allowed, "status", status);
	if (!line)
		return;
	if (why)
		json_object_set_new(line, "reason", json_string(why));
	if (req->body_len) {
		size_t n = req->body_len < AUDIT_MAX_BODY ? req->body_len : AUDIT_MAX_BODY;
		char body[AUDIT_MAX_BODY];

		/*
		 * The body as the client sent it (truncated), so a refused request is on record
		 * too; bytes outside printable ASCII become '?' so any input yields a valid line.
		 */
		for (size_t i = 0; i < n; i++)
			body[i] = (req->body[i] >= 0x20 && req->body[i] < 0x7f) ? req->body[i] : '?';
		json_object_set_new(line, "body", json_stringn(body, n));
		if (n < req->body_len)
			json_object_set_new(line, "body_truncated", json_true());
	}
	text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(line);
	if (!text)
		return;
	len = strlen(text);
	text[len] = '\n';
	if (write(au->fd, text, len + 1) != (ssize_t)(len + 1))
		log_warn("audit: write failed: %s", strerror(errno));
	free(text);
}
