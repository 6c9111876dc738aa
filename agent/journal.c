/*
 * A write-ahead log per writing process: each change (a record put under its key, or a key
 * removed) is one line appended to the process's own log file and made durable with one
 * fdatasync(2) before the caller goes on to change the system. Recovery replays every log whose
 * writer has died and folds what is left into one new log. The format is in docs/api.md
 * ("Crash safety"); records of the earlier format (one KEY.json file each) are still read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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
#define WAL_SUFFIX ".wal"
/* An own log that grew past this is rewritten with only the live records. */
#define WAL_COMPACT_BYTES (1 << 20)
#define KEY_MAX 64

/* A live record: its key and the JSON text of the record (the writer's copy, for compaction). */
struct rec {
	char key[KEY_MAX + 8];
	char *text;
	json_t *json;
	bool legacy; /* read from KEY.json (the earlier format), removed by unlinking it */
	bool removed;
};

struct journal {
	char dir[256];
	int dirfd;
	pthread_mutex_t mu; /* records are written from the loop and from worker threads */
	/* This process's own log: created at its first change, locked while the process lives. */
	pid_t owner;
	int wal;
	char wal_name[64];
	off_t wal_off;
	struct rec *live;
	size_t nlive, caplive;
	/* While journal_foreach() runs: the records it read, removals only marked. */
	struct rec *seen;
	size_t nseen;
	pid_t gone; /* a writer known dead, whose lock may not be released yet */
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
	j->wal = -1;
	j->owner = getpid();
	pthread_mutex_init(&j->mu, NULL);
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		err = -errno;
		pthread_mutex_destroy(&j->mu);
		free(j);
		return err;
	}
	*out = j;
	return 0;
}

static void live_free(struct journal *j)
{
	for (size_t i = 0; i < j->nlive; i++)
		free(j->live[i].text);
	free(j->live);
	j->live = NULL;
	j->nlive = j->caplive = 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	/*
	 * A log with no live record left says nothing: removed at a clean stop (no sync needed,
	 * should the unlink be lost it replays to nothing). Only by the process that wrote it: a
	 * forked child holding a copy of this structure leaves it alone.
	 */
	if (j->wal >= 0 && j->owner == getpid()) {
		if (!j->nlive)
			unlinkat(j->dirfd, j->wal_name, 0);
		close(j->wal);
	}
	live_free(j);
	close(j->dirfd);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static int valid_key(const char *key)
{
	if (!*key || strlen(key) > KEY_MAX)
		return 0;
	for (const char *c = key; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return 0;
	return 1;
}

/* FNV-1a, 32 bits: tells a torn or damaged line from a whole one. */
static uint32_t line_sum(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* One log line: "SUM put KEY JSON\n" or "SUM del KEY\n", SUM the checksum of what follows it. */
static char *make_line(const char *op, const char *key, const char *text, size_t *len)
{
	size_t body_len = strlen(op) + 1 + strlen(key) + (text ? 1 + strlen(text) : 0);
	char *line = malloc(body_len + 11);

	if (!line)
		return NULL;
	sprintf(line + 9, "%s %s%s%s", op, key, text ? " " : "", text ? text : "");
	snprintf(line, 9, "%08x", line_sum(line + 9, body_len));
	line[8] = ' ';
	line[9 + body_len] = '\n';
	line[10 + body_len] = '\0';
	*len = body_len + 10;
	return line;
}

static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Create a new log file for this process and take its lock: a POSIX record lock, which the
 * kernel drops when the process dies however it dies, and which children made by fork() or
 * clone() (the watchdog, stressor workers) never hold, so recovery can tell a dead writer's
 * log from a live one. The directory is synced once here, so later changes sync only the file.
 */
static int wal_create(struct journal *j, int *fdp, char *name, size_t size)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct timespec ts;
	int fd, err;

	for (int tries = 0;; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(name, size, "%d-%lld%09ld" WAL_SUFFIX, (int)getpid(), (long long)ts.tv_sec,
			 ts.tv_nsec);
		fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries >= 10)
			return -errno;
	}
	if (fcntl(fd, F_SETLK, &lk) || fsync(j->dirfd)) {
		err = -errno;
		unlinkat(j->dirfd, name, 0);
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static struct rec *live_find(struct journal *j, const char *key)
{
	for (size_t i = 0; i < j->nlive; i++)
		if (!strcmp(j->live[i].key, key))
			return &j->live[i];
	return NULL;
}

/*
 * Rewrite the own log with only its live records once it has grown past WAL_COMPACT_BYTES: a
 * new log (synced, its directory entry too), then the old one unlinked and the directory synced
 * again before any further change, so that after a crash at most both logs exist, and both then
 * say the same.
 */
static int wal_compact(struct journal *j)
{
	char name[64];
	off_t off = 0;
	int fd, err;

	err = wal_create(j, &fd, name, sizeof(name));
	if (err)
		return err;
	for (size_t i = 0; i < j->nlive && !err; i++) {
		size_t len;
		char *line = make_line("put", j->live[i].key, j->live[i].text, &len);

		err = line ? write_all(fd, line, len, off) : -ENOMEM;
		off += len;
		free(line);
	}
	if (!err && fdatasync(fd))
		err = -errno;
	if (err) {
		unlinkat(j->dirfd, name, 0);
		close(fd);
		return err;
	}
	/* Closing the old descriptor drops no lock: the new log's lock is on another file. */
	unlinkat(j->dirfd, j->wal_name, 0);
	close(j->wal);
	j->wal = fd;
	j->wal_off = off;
	snprintf(j->wal_name, sizeof(j->wal_name), "%s", name);
	if (fsync(j->dirfd))
		return -errno;
	return 0;
}

/* Append one change to the own log and make it durable. Called with j->mu held. */
static int wal_append(struct journal *j, const char *op, const char *key, const char *text)
{
	size_t len;
	char *line;
	int err;

	if (j->wal >= 0 && j->wal_off > WAL_COMPACT_BYTES) {
		err = wal_compact(j);
		if (err)
			log_warn("journal %s: compacting %s: %s", j->dir, j->wal_name,
				 strerror(-err));
	}
	if (j->wal < 0) {
		err = wal_create(j, &j->wal, j->wal_name, sizeof(j->wal_name));
		if (err)
			return err;
		j->wal_off = 0;
	}
	line = make_line(op, key, text, &len);
	if (!line)
		return -ENOMEM;
	err = write_all(j->wal, line, len, j->wal_off);
	free(line);
	if (!err && fdatasync(j->wal))
		err = -errno;
	if (err) {
		/* A partial line is cut off, so that the next change starts on a line of its own.
		 */
		if (ftruncate(j->wal, j->wal_off))
			log_warn("journal %s: truncating %s: %s", j->dir, j->wal_name,
				 strerror(errno));
		return err;
	}
	j->wal_off += len;
	return 0;
}

int journal_write(struct journal *j, const char *key, const json_t *record)
{
	struct rec *r;
	char *text;
	int err;

	if (!valid_key(key))
		return -EINVAL;
	text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	pthread_mutex_lock(&j->mu);
	/* Room for the writer's copy first: a durable record compaction did not know would be lost.
	 */
	r = live_find(j, key);
	if (!r && j->nlive == j->caplive) {
		size_t cap = j->caplive ? j->caplive * 2 : 8;
		struct rec *p = realloc(j->live, cap * sizeof(*p));

		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		j->live = p;
		j->caplive = cap;
	}
	err = wal_append(j, "put", key, text);
	if (err)
		goto out;
	if (!r) {
		r = &j->live[j->nlive++];
		memset(r, 0, sizeof(*r));
		snprintf(r->key, sizeof(r->key), "%s", key);
	}
	free(r->text);
	r->text = text;
	text = NULL;
out:
	pthread_mutex_unlock(&j->mu);
	free(text);
	if (err)
		log_err("journal: writing record %s in %s: %s", key, j->dir, strerror(-err));
	return err;
}

/* A record journal_foreach() is reading: its removal is marked, and made at the end. */
static struct rec *seen_find(struct journal *j, const char *key)
{
	for (size_t i = 0; i < j->nseen; i++)
		if (!j->seen[i].removed && !strcmp(j->seen[i].key, key))
			return &j->seen[i];
	return NULL;
}

int journal_remove(struct journal *j, const char *key)
{
	struct rec *r;
	int err = 0;

	if (!valid_key(key))
		return -EINVAL;
	pthread_mutex_lock(&j->mu);
	r = seen_find(j, key);
	if (r) {
		char name[128];

		r->removed = true;
		if (r->legacy) {
			snprintf(name, sizeof(name), "%s" JOURNAL_SUFFIX, key);
			if (unlinkat(j->dirfd, name, 0) && errno != ENOENT)
				err = -errno;
			else if (fsync(j->dirfd))
				err = -errno;
		}
	}
	r = live_find(j, key);
	if (r) {
		/* No record (an apply that changed nothing): nothing to write or sync either. */
		err = wal_append(j, "del", key, NULL);
		if (!err) {
			free(r->text);
			*r = j->live[--j->nlive];
		}
	}
	pthread_mutex_unlock(&j->mu);
	return err;
}

struct logfile {
	char name[128];
	struct timespec mtime;
	bool legacy;
};

static int by_mtime(const void *a, const void *b)
{
	const struct logfile *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

void journal_writer_gone(struct journal *j, pid_t pid)
{
	j->gone = pid;
}

/* Whether another live process holds the log's lock: the log of a running writer. */
static bool wal_alive(const struct journal *j, int fd, const char *name)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char prefix[24];

	if (fcntl(fd, F_GETLK, &lk) || lk.l_type == F_UNLCK)
		return false;
	snprintf(prefix, sizeof(prefix), "%d-", (int)j->gone);
	return !(j->gone > 0 && !strncmp(name, prefix, strlen(prefix)));
}

static int slurp(int fd, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fstat(fd, &st))
		return -errno;
	buf = malloc(st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

struct replay {
	struct journal *j;
	void (*fn)(void *ctx, const char *key, json_t *record, const char *problem);
	void *ctx;
	int reported;
};

static struct rec *seen_add(struct journal *j, const char *key)
{
	struct rec *p = realloc(j->seen, (j->nseen + 1) * sizeof(*p));

	if (!p)
		return NULL;
	j->seen = p;
	p = &j->seen[j->nseen++];
	memset(p, 0, sizeof(*p));
	snprintf(p->key, sizeof(p->key), "%s", key);
	return p;
}

/*
 * Replay one dead log into j->seen. A line whose checksum or form is wrong is torn when it is
 * the last (its write never completed, so the change it announced was never made: ignored);
 * anywhere else the file was damaged: reported, and the file kept as NAME.corrupt.
 */
static int replay_wal(struct replay *rp, const char *name, bool *damaged)
{
	struct journal *j = rp->j;
	char *buf = NULL, *p, *end;
	size_t len = 0;
	int fd, err, lineno = 0;

	fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = slurp(fd, &buf, &len);
	close(fd);
	if (err)
		return err;
	for (p = buf, end = buf + len; p < end; p = p ? p + 1 : end) {
		char *nl = memchr(p, '\n', end - p), *op, *key, *text = NULL;
		unsigned int sum;
		struct rec *r;
		bool good;

		lineno++;
		if (nl)
			*nl = '\0';
		good = nl && nl - p > 9 && sscanf(p, "%8x", &sum) == 1 && p[8] == ' ' &&
		       sum == line_sum(p + 9, nl - p - 9);
		op = p + 9;
		key = good ? strchr(op, ' ') : NULL;
		if (key) {
			*key++ = '\0';
			text = strchr(key, ' ');
			if (text)
				*text++ = '\0';
		}
		good = good && key && valid_key(key) &&
		       ((!strcmp(op, "put") && text) || (!strcmp(op, "del") && !text));
		if (!good) {
			char problem[800];

			if (!nl || nl + 1 >= end) {
				log_info("journal %s: %s: line %d torn (a change never made): "
					 "ignored",
					 j->dir, name, lineno);
				break;
			}
			snprintf(problem, sizeof(problem),
				 "unreadable record at %s/%s:%d (kept as %s.corrupt)", j->dir, name,
				 lineno, name);
			*damaged = true;
			rp->reported++;
			rp->fn(rp->ctx, name, NULL, problem);
			p = nl;
			continue;
		}
		r = seen_find(j, key);
		if (!strcmp(op, "del")) {
			if (r)
				r->removed = true;
			p = nl;
			continue;
		}
		if (!r)
			r = seen_add(j, key);
		if (!r) {
			free(buf);
			return -ENOMEM;
		}
		free(r->text);
		r->text = strdup(text);
		r->legacy = false;
		p = nl;
	}
	free(buf);
	return 0;
}

static void seen_free(struct journal *j)
{
	for (size_t i = 0; i < j->nseen; i++) {
		free(j->seen[i].text);
		json_decref(j->seen[i].json);
	}
	free(j->seen);
	j->seen = NULL;
	j->nseen = 0;
}

/*
 * After the records were handed out: what is left of the dead logs goes into one new log (not
 * locked: it has no writer, so the next recovery reads it), synced with its directory entry
 * before the logs it replaces are unlinked. A crash in between leaves both, which say the same.
 */
static int fold(struct journal *j, struct logfile *files, size_t n, const bool *damaged)
{
	char tmp[64], name[64];
	struct timespec ts;
	bool any = false, logs = false;
	off_t off = 0;
	int fd = -1, err = 0;

	for (size_t i = 0; i < n; i++)
		logs |= !files[i].legacy;
	if (!logs)
		return 0;
	for (size_t i = 0; i < j->nseen; i++)
		any |= !j->seen[i].removed && !j->seen[i].legacy;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), ".fold-%d.tmp", (int)getpid());
	snprintf(name, sizeof(name), "0-%lld%09ld" WAL_SUFFIX, (long long)ts.tv_sec, ts.tv_nsec);
	if (any) {
		fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		for (size_t i = 0; i < j->nseen && !err; i++) {
			size_t len;
			char *line;

			if (j->seen[i].removed || j->seen[i].legacy)
				continue;
			line = make_line("put", j->seen[i].key, j->seen[i].text, &len);
			err = line ? write_all(fd, line, len, off) : -ENOMEM;
			off += len;
			free(line);
		}
		if (!err && fsync(fd))
			err = -errno;
		close(fd);
		if (!err && renameat(j->dirfd, tmp, j->dirfd, name))
			err = -errno;
		if (!err && fsync(j->dirfd))
			err = -errno;
		if (err) {
			unlinkat(j->dirfd, tmp, 0);
			return err;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char bad[160];

		if (files[i].legacy)
			continue;
		if (damaged[i]) {
			snprintf(bad, sizeof(bad), "%s.corrupt", files[i].name);
			renameat(j->dirfd, files[i].name, j->dirfd, bad);
		} else {
			unlinkat(j->dirfd, files[i].name, 0);
		}
	}
	if (fsync(j->dirfd))
		return -errno;
	return 0;
}

static int list_files(struct journal *j, struct logfile **out, size_t *count)
{
	struct logfile *files = NULL;
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
		size_t len = strlen(de->d_name), sl = strlen(JOURNAL_SUFFIX),
		       wl = strlen(WAL_SUFFIX);
		bool legacy, wal;
		struct stat st;

		if (de->d_name[0] == '.') {
			/* A temporary file of a write that never finished: what it replaces stands.
			 */
			if (len > 4 && !strcmp(de->d_name + len - 4, ".tmp"))
				unlinkat(j->dirfd, de->d_name, 0);
			continue;
		}
		legacy = len > sl && len - sl <= KEY_MAX &&
			 !strcmp(de->d_name + len - sl, JOURNAL_SUFFIX);
		wal = len > wl && len < sizeof(files[0].name) &&
		      !strcmp(de->d_name + len - wl, WAL_SUFFIX);
		/* This process's own log is its live state, never a leftover. */
		if ((!legacy && !wal) || (j->wal >= 0 && !strcmp(de->d_name, j->wal_name)))
			continue;
		if (fstatat(j->dirfd, de->d_name, &st, 0))
			continue;
		if (n == cap) {
			struct logfile *p = realloc(files, (cap = cap ? cap * 2 : 16) * sizeof(*p));

			if (!p) {
				closedir(d);
				free(files);
				return -ENOMEM;
			}
			files = p;
		}
		snprintf(files[n].name, sizeof(files[n].name), "%s", de->d_name);
		files[n].mtime = st.st_mtim;
		files[n].legacy = legacy;
		n++;
	}
	closedir(d);
	/* An empty journal has no array at all, and qsort's pointer must not be NULL. */
	if (n)
		qsort(files, n, sizeof(*files), by_mtime);
	*out = files;
	*count = n;
	return 0;
}

/* A record of the earlier format: one file KEY.json holding the record. */
static void read_legacy(struct replay *rp, const char *name)
{
	struct journal *j = rp->j;
	char key[KEY_MAX + 8], path[400], bad[160];
	size_t klen = strlen(name) - strlen(JOURNAL_SUFFIX);
	json_error_t jerr;
	struct rec *r;
	json_t *rec;

	snprintf(key, sizeof(key), "%.*s", (int)klen, name);
	snprintf(path, sizeof(path), "%s/%s", j->dir, name);
	rec = json_load_file(path, 0, &jerr);
	if (!rec || !json_is_object(rec)) {
		char problem[700];

		snprintf(problem, sizeof(problem), "unreadable record %s: %s", path,
			 rec ? "not a JSON object" : jerr.text);
		snprintf(bad, sizeof(bad), "%s.corrupt", key);
		renameat(j->dirfd, name, j->dirfd, bad);
		rp->reported++;
		rp->fn(rp->ctx, key, NULL, problem);
		json_decref(rec);
		return;
	}
	r = seen_find(j, key);
	if (!r)
		r = seen_add(j, key);
	if (!r) {
		json_decref(rec);
		return;
	}
	free(r->text);
	r->text = NULL;
	json_decref(r->json);
	r->json = rec;
	r->legacy = true;
}

int journal_foreach(struct journal *j,
		    void (*fn)(void *ctx, const char *key, json_t *record, const char *problem),
		    void *ctx)
{
	struct replay rp = {.j = j, .fn = fn, .ctx = ctx};
	struct logfile *files = NULL;
	bool *damaged = NULL;
	size_t n = 0, records = 0;
	int err;

	err = list_files(j, &files, &n);
	if (err)
		return err;
	damaged = calloc(n ? n : 1, sizeof(*damaged));
	if (!damaged) {
		free(files);
		return -ENOMEM;
	}
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < n && !err; i++) {
		int fd;

		if (files[i].legacy) {
			read_legacy(&rp, files[i].name);
			continue;
		}
		fd = openat(j->dirfd, files[i].name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (wal_alive(j, fd, files[i].name)) {
			/*
			 * The log of a process that still runs (an agent started while a watchdog
			 * waited for this lock): its faults are its own, neither undone nor folded.
			 */
			log_info("journal %s: %s belongs to a running process: left to it", j->dir,
				 files[i].name);
			files[i].legacy = true; /* not folded, not unlinked */
			close(fd);
			continue;
		}
		close(fd);
		err = replay_wal(&rp, files[i].name, &damaged[i]);
	}
	pthread_mutex_unlock(&j->mu);
	if (err)
		goto out;
	/* Outside the lock: fn calls journal_remove(), which marks the record it names. */
	for (size_t i = 0; i < j->nseen; i++) {
		struct rec *r = &j->seen[i];
		json_error_t jerr;
		json_t *rec;

		if (r->removed)
			continue;
		records++;
		rec = r->json ? json_incref(r->json) : json_loads(r->text, 0, &jerr);
		if (!rec || !json_is_object(rec)) {
			char problem[800];

			snprintf(problem, sizeof(problem), "unreadable record %s in %s: %s", r->key,
				 j->dir, rec ? "not a JSON object" : jerr.text);
			json_decref(rec);
			/* Kept in the folded log for the operator, reported like a damaged file. */
			fn(ctx, r->key, NULL, problem);
			continue;
		}
		fn(ctx, r->key, rec, NULL);
		json_decref(rec);
	}
	pthread_mutex_lock(&j->mu);
	err = fold(j, files, n, damaged);
	pthread_mutex_unlock(&j->mu);
out:
	seen_free(j);
	free(damaged);
	free(files);
	if (err)
		return err;
	return (int)(records + rp.reported);
}

int journal_lock(struct journal *j, int timeout_ms)
{
	const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
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
