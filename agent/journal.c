/* One file per fault record, replaced atomically with rename(2). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"

#define JOURNAL_SUFFIX ".json"

struct journal {
	char dir[256];
	int dirfd;
};

const char *journal_dir(const struct journal *j)
{
	return j->dir;
}

int journal_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int journal_open(const char *dir, struct journal **out)
{
	struct journal *j;
	int err;

	if (strlen(dir) >= sizeof(j->dir))
		return -ENAMETOOLONG;
	err = journal_mkdir_p(dir, 0700);
	if (err)
		return err;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	strcpy(j->dir, dir);
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		err = -errno;
		free(j);
		return err;
	}
	*out = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	close(j->dirfd);
	free(j);
}

static int valid_key(const char *key)
{
	if (!*key || strlen(key) > 64)
		return 0;
	for (const char *c = key; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return 0;
	return 1;
}

int journal_write(struct journal *j, const char *key, const json_t *record)
{
	char tmp[128], name[128];
	char *text;
	size_t len, off = 0;
	int fd, err = 0;

	if (!valid_key(key))
		return -EINVAL;
	text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", key);
	snprintf(name, sizeof(name), "%s" JOURNAL_SUFFIX, key);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += n;
	}
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && renameat(j->dirfd, tmp, j->dirfd, name))
		err = -errno;
	/*
	 * The directory too, also when the rename replaced a record: until then a machine
	 * crash may bring back the replaced one, which does not name what this step is about
	 * to make (a file on another file system outlives the crash).
	 */
	if (!err && fsync(j->dirfd))
		err = -errno;
	if (err)
		unlinkat(j->dirfd, tmp, 0);
out:
	free(text);
	if (err)
		log_err("journal: writing record %s in %s: %s", key, j->dir, strerror(-err));
	return err;
}

int journal_remove(struct journal *j, const char *key)
{
	char name[128];

	if (!valid_key(key))
		return -EINVAL;
	snprintf(name, sizeof(name), "%s" JOURNAL_SUFFIX, key);
	if (unlinkat(j->dirfd, name, 0)) {
		/* No record (an apply that changed nothing): nothing to sync either. */
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	if (fsync(j->dirfd))
		return -errno;
	return 0;
}

struct entry {
	char key[72];
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

int journal_foreach(struct journal *j,
		    void (*fn)(void *ctx, const char *key, json_t *record, const char *problem),
		    void *ctx)
{
	struct entry *ents = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(JOURNAL_SUFFIX);
		struct stat st;

		if (de->d_name[0] == '.') {
			/* A temporary file of a write that never finished: the old record stands. */
			if (len > 4 && !strcmp(de->d_name + len - 4, ".tmp"))
				unlinkat(j->dirfd, de->d_name, 0);
			continue;
		}
		if (len <= sl || len - sl >= sizeof(ents[0].key) ||
		    strcmp(de->d_name + len - sl, JOURNAL_SUFFIX))
			continue;
		if (fstatat(j->dirfd, de->d_name, &st, 0))
			continue;
		if (n == cap) {
			struct entry *p = realloc(ents, (cap = cap ? cap * 2 : 16) * sizeof(*ents));

			if (!p) {
				closedir(d);
				free(ents);
				return -ENOMEM;
			}
			ents = p;
		}
		memcpy(ents[n].key, de->d_name, len - sl);
		ents[n].key[len - sl] = '\0';
		ents[n].mtime = st.st_mtim;
		n++;
	}
	closedir(d);
	/* An empty journal has no array at all, and qsort's pointer must not be NULL. */
	if (n)
		qsort(ents, n, sizeof(*ents), by_mtime);
	for (size_t i = 0; i < n; i++) {
		char name[128], path[400], bad[160];
		json_error_t jerr;
		json_t *rec;

		snprintf(name, sizeof(name), "%s" JOURNAL_SUFFIX, ents[i].key);
		snprintf(path, sizeof(path), "%s/%s", j->dir, name);
		rec = json_load_file(path, 0, &jerr);
		if (!rec || !json_is_object(rec)) {
			char problem[700];

			snprintf(problem, sizeof(problem), "unreadable record %s: %s", path,
				 rec ? "not a JSON object" : jerr.text);
			snprintf(bad, sizeof(bad), "%s.corrupt", ents[i].key);
			renameat(j->dirfd, name, j->dirfd, bad);
			fn(ctx, ents[i].key, NULL, problem);
			json_decref(rec);
			continue;
		}
		fn(ctx, ents[i].key, rec, NULL);
		json_decref(rec);
	}
	free(ents);
	return (int)n;
}

int journal_lock(struct journal *j, int timeout_ms)
{
	const struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	bool told = false;
	int fd, err;

	fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (int waited = 0;; waited += 10) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		err = -errno;
		if (err != -EWOULDBLOCK || waited >= timeout_ms)
			break;
		if (!told) {
			log_info("journal %s: waiting for another process's cleanup to finish",
				 j->dir);
			told = true;
		}
		nanosleep(&pause, NULL);
	}
	close(fd);
	return err == -EWOULDBLOCK ? -ETIMEDOUT : err;
}

void journal_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
