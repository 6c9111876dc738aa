/*
 * stress.io: sustained writes at a target byte rate, optionally with fdatasync after every
 * write. path is either an existing directory, where the worker writes an unnamed file that
 * vanishes with it, or a file that must not exist yet, created and removed like disk_fill's.
 * The writes cycle over a window of the file (at most 256 MiB), so IO never fills the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>

#include "agent.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "stressor.h"

struct io_priv {
	struct stressor *s;
	bool in_dir; /* path is a directory: an unnamed file inside it */
	/* A container target: path's parent inside its root; with in_dir, path itself too. */
	struct stressor_root root;
	int dirfd;
};

static int io_probe(const struct agent *a, char *why, size_t size)
{
	return stressor_probe(why, size);
}

static int io_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_io *p = &f->spec->params.io;
	struct io_priv *io;
	struct stat st;
	int ret;

	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->dirfd = -1;
	f->priv = io;
	/* A path inside a container is resolved in its root, never on the host. */
	ret = stressor_container_dir(f, p->path, &io->root, err, size);
	if (ret)
		return ret;
	ret = io->root.dirfd >= 0 ? fstatat(io->root.dirfd, io->root.base, &st, AT_SYMLINK_NOFOLLOW)
				  : lstat(p->path, &st);
	if (!ret) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(
				err, size,
				"params.path: %s exists%s and is not a directory; stress.io writes "
				"a new file or an unnamed file inside a directory",
				p->path, io->root.dirfd >= 0 ? " in the container" : "");
			return -EINVAL;
		}
		io->in_dir = true;
		/* One component, never a symlink (S_ISDIR above came from lstat semantics). */
		if (io->root.dirfd >= 0) {
			io->dirfd = openat(io->root.dirfd, io->root.base,
					   O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (io->dirfd < 0) {
				snprintf(err, size, "params.path: %s in the container: %s", p->path,
					 strerror(errno));
				return -EINVAL;
			}
		}
	} else if (errno != ENOENT) {
		snprintf(err, size, "params.path: %s: %s", p->path, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int io_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_stress_io *p = &f->spec->params.io;
	struct io_priv *io = f->priv;
	char rate[24];
	const char *args[] = { "io", rate, p->fsync ? "1" : "0", NULL };
	struct stressor_spawn sp = { .args = args, .cpu = -1 };
	int ret, fd = -1;

	snprintf(rate, sizeof(rate), "%llu", (unsigned long long)p->rate_bytes);
	ret = stressor_new(f, 1, &io->s, err, size);
	if (ret)
		return ret;
	if (io->in_dir) {
		/* Unnamed: nothing to journal, the file goes with its last descriptor. */
		fd = io->dirfd >= 0 ? openat(io->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)
				    : open(p->path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, size, "params.path: creating an unnamed file in %s: %s",
				 p->path, strerror(-ret));
			if (ret == -EISDIR)
				ret = -EOPNOTSUPP;
			goto fail;
		}
		sp.data_fd = fd;
	} else {
		ret = stressor_create_file_at(io->s, f, &io->root, p->path, err, size);
		if (ret)
			goto fail;
		sp.data_fd = io->s->file_fd;
	}
	ret = stressor_start(io->s, f, &sp, err, size);
	if (!ret)
		ret = stressor_wait_started(io->s, f, err, size);
	if (fd >= 0)
		close(fd);
	if (ret)
		goto fail;
	log_info("fault %s: writing %s bytes/s to %s%s", f->id, rate, p->path,
		 p->fsync ? " with fdatasync" : "");
	return 0;
fail:
	stressor_abort(io->s, f);
	return ret;
}

static int io_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct io_priv *io = f->priv;

	return io ? stressor_stop(io->s, err, size) : 0;
}

static json_t *io_describe(const struct fault *f)
{
	const struct fault_stress_io *p = &f->spec->params.io;
	struct io_priv *io = f->priv;
	uint64_t done, elapsed;
	json_t *o;

	if (!io || !io->s || !io->s->n)
		return NULL;
	o = stressor_describe(io->s);
	done = __atomic_load_n(&io->s->st[0].done, __ATOMIC_RELAXED);
	elapsed = stressor_elapsed_ns(io->s);
	json_object_set_new(o, "path", json_string(p->path));
	json_object_set_new(o, "requested_bytes_per_sec", json_integer((json_int_t)p->rate_bytes));
	json_object_set_new(o, "bytes_written", json_integer((json_int_t)done));
	if (elapsed)
		json_object_set_new(o, "achieved_bytes_per_sec",
				    json_integer((json_int_t)(done * 1e9 / (double)elapsed)));
	json_object_set_new(o, "written_source", json_string("the worker's completed pwrite(2)s"));
	if (p->fsync)
		json_object_set_new(o, "fsyncs",
				    json_integer((json_int_t)__atomic_load_n(&io->s->st[0].extra,
									     __ATOMIC_RELAXED)));
	return o;
}

static int io_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	return stressor_cleanup(undo, report, size);
}

static void io_free(struct fault *f)
{
	struct io_priv *io = f->priv;

	if (io) {
		stressor_free(io->s);
		if (io->root.dirfd >= 0)
			close(io->root.dirfd);
		if (io->dirfd >= 0)
			close(io->dirfd);
	}
	free(io);
	f->priv = NULL;
}

static void io_activated(struct fault *f)
{
	stressor_watch(((struct io_priv *)f->priv)->s, f);
}

/* The container whose filesystem the file is in: watched for its exit (target_watch.h). */
static int io_target(const struct fault *f, struct fault_target *t)
{
	const struct io_priv *io = f->priv;

	return stressor_root_target(io ? &io->root : NULL, t);
}

const struct fault_ops fault_stress_io = {
	.name = "stress.io",
	/*
	 * Workers drop the bounding set before they exec, which needs CAP_SETPCAP; a path
	 * inside a container opens /proc/PID/root of its main process (ptrace read access).
	 */
	.caps = 1ULL << CAP_SETPCAP | 1ULL << CAP_SYS_PTRACE,
	.probe = io_probe,
	.validate = io_validate,
	.resolve = stressor_resolve,
	.apply = io_apply,
	.revert = io_revert,
	.describe = io_describe,
	.activated = io_activated,
	.cleanup = io_cleanup,
	.free_priv = io_free,
	.target_container = io_target,
	/* Starting, and killing and reaping, hundreds of workers: off the loop. */
	.off_loop = true,
	.revert_off_loop = true,
};
