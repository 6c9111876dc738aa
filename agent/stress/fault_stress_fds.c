/*
 * stress.fds: one worker holds N open descriptors. Its RLIMIT_NOFILE is raised for it
 * alone (CAP_SYS_RESOURCE, before it drops its capabilities); a count beyond fs.nr_open
 * (the most one process may have) or beyond what fs.file-max leaves free is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/capability.h>

#include "agent.h"
#include "caps.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "stressor.h"

/* Descriptors the worker has besides those it holds (0 to 4) and some slack. */
#define FDS_SLACK 64

static int read_u64s(const char *path, unsigned long long *v, int n)
{
	FILE *fp = fopen(path, "re");
	int got = 0;

	if (!fp)
		return -errno;
	while (got < n && fscanf(fp, "%llu", &v[got]) == 1)
		got++;
	fclose(fp);
	return got == n ? 0 : -EIO;
}

static int fds_probe(const struct agent *a, char *why, size_t size)
{
	return stressor_probe(why, size);
}

static int fds_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	uint64_t count = f->spec->params.fds.count;
	unsigned long long nr_open, nr[3];
	struct rlimit rl;
	int ret;

	ret = read_u64s("/proc/sys/fs/nr_open", &nr_open, 1);
	if (!ret)
		ret = read_u64s("/proc/sys/fs/file-nr", nr, 3);
	if (ret) {
		snprintf(err, size, "reading fs.nr_open and fs.file-nr: %s", strerror(-ret));
		return ret;
	}
	if (count + FDS_SLACK > nr_open) {
		snprintf(err, size,
			 "params.count: %llu descriptors exceed what one process may hold here "
			 "(fs.nr_open %llu, less %d for the worker itself)",
			 (unsigned long long)count, nr_open, FDS_SLACK);
		return -EINVAL;
	}
	/* Beyond the agent's own hard limit only CAP_SYS_RESOURCE can raise it. */
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		snprintf(err, size, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return -errno;
	}
	if (count + FDS_SLACK > rl.rlim_max && !caps_effective(CAP_SYS_RESOURCE)) {
		snprintf(err, size,
			 "params.count: %llu descriptors exceed the hard RLIMIT_NOFILE %llu (less "
			 "%d for the worker itself), and the agent lacks CAP_SYS_RESOURCE to raise it",
			 (unsigned long long)count, (unsigned long long)rl.rlim_max, FDS_SLACK);
		return -EINVAL;
	}
	/* file-nr: allocated, unused, max. Keep a tenth of the system's table for the rest. */
	if (nr[0] + count > nr[2] - nr[2] / 10) {
		snprintf(err, size,
			 "params.count: %llu descriptors would leave less than a tenth of the "
			 "system's file table free (fs.file-max %llu, %llu in use)",
			 (unsigned long long)count, nr[2], nr[0]);
		return -EINVAL;
	}
	return 0;
}

static int fds_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	uint32_t count = f->spec->params.fds.count;
	char n[16];
	const char *args[] = { "fds", n, NULL };
	struct stressor_spawn sp = {
		.args = args,
		.cpu = -1,
		.data_fd = -1,
		.nofile = (rlim_t)count + FDS_SLACK,
	};
	struct stressor *s;
	int ret;

	snprintf(n, sizeof(n), "%u", count);
	ret = stressor_new(f, 1, &s, err, size);
	if (ret)
		return ret;
	f->priv = s;
	ret = stressor_start(s, f, &sp, err, size);
	if (!ret)
		ret = stressor_wait_started(s, f, err, size);
	if (ret) {
		stressor_abort(s, f);
		return ret;
	}
	log_info("fault %s: holding %u descriptors in %s", f->id, count, s->cgroup);
	return 0;
}

static int fds_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	return stressor_stop(f->priv, err, size);
}

/* Entries of /proc/PID/fd: what the worker really holds, not what it says. */
static long count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static json_t *fds_describe(const struct fault *f)
{
	struct stressor *s = f->priv;
	json_t *o;
	long n;

	if (!s || !s->n)
		return NULL;
	o = stressor_describe(s);
	json_object_set_new(o, "requested_fds", json_integer(f->spec->params.fds.count));
	json_object_set_new(o, "fds_held",
			    json_integer((json_int_t)__atomic_load_n(&s->st[0].done,
								     __ATOMIC_RELAXED)));
	if (stressor_alive(s) && (n = count_fds(s->pids[0])) >= 0) {
		json_object_set_new(o, "open_fds", json_integer(n));
		json_object_set_new(o, "open_fds_source",
				    json_string("/proc/PID/fd of the worker (held + 0-4)"));
	}
	return o;
}

static int fds_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return stressor_cleanup(undo, report, size);
}

static void fds_free(struct fault *f)
{
	stressor_free(f->priv);
	f->priv = NULL;
}

static void fds_activated(struct fault *f)
{
	stressor_watch(f->priv, f);
}

const struct fault_ops fault_stress_fds = {
	.name = "stress.fds",
	/*
	 * CAP_SETPCAP drops the worker's bounding set. CAP_SYS_RESOURCE raises its RLIMIT_NOFILE
	 * beyond the agent's hard limit; without it, smaller counts still work (fds_validate).
	 */
	.caps = 1ULL << CAP_SETPCAP,
	.caps_optional = 1ULL << CAP_SYS_RESOURCE,
	.probe = fds_probe,
	.validate = fds_validate,
	.apply = fds_apply,
	.revert = fds_revert,
	.describe = fds_describe,
	.activated = fds_activated,
	.cleanup = fds_cleanup,
	.free_priv = fds_free,
	/* Starting, and killing and reaping, hundreds of workers: off the loop. */
	.off_loop = true,
	.revert_off_loop = true,
};
