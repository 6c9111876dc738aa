/*
 * stress.disk_fill: a file of a given size, or one that fills its filesystem up to a share
 * of the filesystem's size. The file never replaces an existing one: it is created unnamed,
 * its identity (device, inode, an xattr naming the fault) journaled, and only then linked
 * at path; revert and crash cleanup remove it only while it is still that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <linux/capability.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "stressor.h"

struct fill_priv {
	struct stressor *s;
	uint64_t bytes; /* the file's size */
	char dir[PATH_MAX];
	/* A container target: the file's directory inside its root, and its name. */
	struct stressor_root root;
};

static int fill_probe(const struct agent *a, char *why, size_t size)
{
	return stressor_probe(why, size);
}

static void dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	snprintf(buf, size, "%.*s", (int)n, path);
}

static int fill_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_disk_fill *p = &f->spec->params.disk_fill;
	struct fill_priv *d;
	struct statvfs vfs;
	struct stat st;
	uint64_t total, used, avail, bytes;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	f->priv = d;
	/* A path inside a container is resolved in its root, never on the host. */
	ret = stressor_container_dir(f, p->path, &d->root, err, size);
	if (ret)
		return ret;
	if (d->root.dirfd >= 0 ? !fstatat(d->root.dirfd, d->root.base, &st, AT_SYMLINK_NOFOLLOW)
			       : !lstat(p->path, &st)) {
		snprintf(err, size, "params.path: %s exists%s; disk_fill only creates a new file",
			 p->path, d->root.dirfd >= 0 ? " in the container" : "");
		return -EINVAL;
	}
	dir_of(p->path, d->dir, sizeof(d->dir));
	if (d->root.dirfd >= 0 ? fstatvfs(d->root.dirfd, &vfs) : statvfs(d->dir, &vfs)) {
		snprintf(err, size, "params.path: %s: %s", d->dir, strerror(errno));
		return -EINVAL;
	}
	total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	used = (uint64_t)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (p->size.ppm) {
		/* A share: fill the filesystem up to it, counting what is already used. */
		uint64_t target = (uint64_t)((unsigned __int128)total * p->size.ppm / UNITS_PPM_ONE);

		if (used >= target) {
			snprintf(err, size,
				 "params.size: the filesystem of %s is already %.2f%% used, at or "
				 "above the target %.2f%%",
				 d->dir, total ? used * 100.0 / total : 0, p->size.ppm / 10000.0);
			return -EINVAL;
		}
		bytes = target - used;
	} else {
		bytes = p->size.bytes;
	}
	if (bytes > avail) {
		snprintf(err, size,
			 "params.size: %llu bytes exceed the %llu bytes available on the "
			 "filesystem of %s",
			 (unsigned long long)bytes, (unsigned long long)avail, d->dir);
		return -EINVAL;
	}
	d->bytes = bytes;
	return 0;
}

static int fill_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_disk_fill *p = &f->spec->params.disk_fill;
	struct fill_priv *d = f->priv;
	char bytes[24];
	const char *args[] = { "fill", bytes, NULL };
	struct stressor_spawn sp = { .args = args, .cpu = -1 };
	int ret;

	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)d->bytes);
	ret = stressor_new(f, 1, &d->s, err, size);
	if (ret)
		return ret;
	ret = stressor_create_file_at(d->s, f, &d->root, p->path, err, size);
	if (ret)
		goto fail;
	sp.data_fd = d->s->file_fd;
	ret = stressor_start(d->s, f, &sp, err, size);
	if (!ret)
		ret = stressor_wait_started(d->s, f, err, size);
	if (ret)
		goto fail;
	log_info("fault %s: filling %s with %s bytes", f->id, p->path, bytes);
	return 0;
fail:
	stressor_abort(d->s, f);
	return ret;
}

static int fill_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct fill_priv *d = f->priv;

	return d ? stressor_stop(d->s, err, size) : 0;
}

static json_t *fill_describe(const struct fault *f)
{
	const struct fault_stress_disk_fill *p = &f->spec->params.disk_fill;
	struct fill_priv *d = f->priv;
	struct statvfs vfs;
	struct stat st;
	json_t *o;

	if (!d || !d->s)
		return NULL;
	o = stressor_describe(d->s);
	json_object_set_new(o, "path", json_string(p->path));
	json_object_set_new(o, "requested_bytes", json_integer((json_int_t)d->bytes));
	if (p->size.ppm)
		json_object_set_new(o, "requested_filesystem_used_pct",
				    json_real(p->size.ppm / 10000.0));
	if (d->root.dirfd >= 0
		    ? d->s->file_fd >= 0 && !fstat(d->s->file_fd, &st)
		    : d->s->file && !lstat(d->s->file, &st) && st.st_ino == d->s->file_ino)
		json_object_set_new(o, "allocated_bytes",
				    json_integer((json_int_t)st.st_blocks * 512));
	if (!(d->root.dirfd >= 0 ? fstatvfs(d->root.dirfd, &vfs) : statvfs(d->dir, &vfs)) &&
	    vfs.f_blocks)
		json_object_set_new(o, "filesystem_used_pct",
				    json_real((double)(vfs.f_blocks - vfs.f_bfree) * 100.0 /
					      (double)vfs.f_blocks));
	return o;
}

static int fill_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return stressor_cleanup(undo, report, size);
}

static void fill_free(struct fault *f)
{
	struct fill_priv *d = f->priv;

	if (d) {
		stressor_free(d->s);
		if (d->root.dirfd >= 0)
			close(d->root.dirfd);
	}
	free(d);
	f->priv = NULL;
}

static void fill_activated(struct fault *f)
{
	stressor_watch(((struct fill_priv *)f->priv)->s, f);
}

/* The container whose filesystem the file is in: watched for its exit (target_watch.h). */
static int fill_target(const struct fault *f, struct fault_target *t)
{
	const struct fill_priv *d = f->priv;

	return stressor_root_target(d ? &d->root : NULL, t);
}

const struct fault_ops fault_stress_disk_fill = {
	.name = "stress.disk_fill",
	/*
	 * Workers drop the bounding set before they exec, which needs CAP_SETPCAP; a path
	 * inside a container opens /proc/PID/root of its main process, which needs ptrace
	 * read access to it.
	 */
	.caps = 1ULL << CAP_SETPCAP | 1ULL << CAP_SYS_PTRACE,
	.probe = fill_probe,
	.validate = fill_validate,
	.resolve = stressor_resolve,
	.apply = fill_apply,
	.revert = fill_revert,
	.describe = fill_describe,
	.activated = fill_activated,
	.cleanup = fill_cleanup,
	.free_priv = fill_free,
	.target_container = fill_target,
	/* Starting, and killing and reaping, hundreds of workers: off the loop. */
	.off_loop = true,
	.revert_off_loop = true,
};
