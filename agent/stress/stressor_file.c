/*
 * A stressor's file (stress.disk_fill, stress.io): created by identity, on the host or inside
 * a container's root filesystem, its identity journaled before its name; removed only while
 * it is still that file, by stop and by crash cleanup, also where a stopped container's
 * filesystem keeps it on the host. The workers and their cgroup: stressor.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "stressor.h"

int stressor_parent_dir(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash || !slash[1])
		return -EINVAL;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

int stressor_create_file(struct stressor *s, struct fault *f, const char *path, char *err,
			 size_t size)
{
	return stressor_create_file_at(s, f, NULL, path, err, size);
}

/*
 * A file created inside a container's root filesystem: where it lies on the host too, when
 * that is the overlay upper directory of the container's root mount and the name there is the
 * same file (its inode, and its xattr). The journal gets it ("upper": {dir, path, dev, ino}),
 * so a crash cleanup removes the file even when the container was stopped meanwhile (its
 * filesystem stays on the host until the container is removed). Best effort: without it a
 * cleanup finds the file through the container's root only.
 */
static void record_upper(struct fault *f, json_t *rec, const struct stressor_root *r,
			 const char *dir, const char *base, const struct stat *st)
{
	char upper[PATH_MAX], rel[PATH_MAX];
	struct stat ust;
	int dfd, ret;

	if (stressor_upper_dir(r->pid, r->start, r->dirfd, upper, sizeof(upper)))
		return;
	snprintf(rel, sizeof(rel), "%s", dir + strspn(dir, "/"));
	ret = stressor_upper_open(upper, rel, &dfd);
	if (ret) {
		log_debug("fault %s: %s/%s not found in the container's upper directory %s: %s",
			  f->id, dir, base, upper, strerror(-ret));
		return;
	}
	ret = fstatat(dfd, base, &ust, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	/* overlayfs reports a file of the upper layer with that layer's inode number. */
	if (ret || !S_ISREG(ust.st_mode) || ust.st_ino != st->st_ino) {
		log_debug("fault %s: %s in %s is not the file created", f->id, base, upper);
		return;
	}
	json_object_set_new(rec, "upper",
			    json_pack("{s:s, s:s, s:I, s:I}", "dir", upper, "path", rel, "dev",
				      (json_int_t)ust.st_dev, "ino", (json_int_t)ust.st_ino));
	ret = fault_journal(f);
	if (ret)
		log_warn("fault %s: journaling where the file lies on the host: %s", f->id,
			 strerror(-ret));
	else
		log_info("fault %s: the file lies at %s/%s%s%s on the host", f->id, upper, rel,
			 rel[0] ? "/" : "", base);
}

int stressor_create_file_at(struct stressor *s, struct fault *f, const struct stressor_root *r,
			    const char *path, char *err, size_t size)
{
	int dirfd = r ? r->dirfd : -1;
	const char *base = r ? r->base : NULL;
	char dir[PATH_MAX], proc[64];
	json_t *rec;
	bool xattr = false;
	struct stat st;
	int fd, ret;

	ret = stressor_parent_dir(path, dir, sizeof(dir));
	if (ret) {
		snprintf(err, size, "path: '%s' does not name a file", path);
		return ret;
	}
	/*
	 * An unnamed file first: a crash before the journal knows its identity leaves
	 * nothing behind, because the file has no name until linkat below. Inside a
	 * container, relative to the directory already resolved in its root.
	 */
	fd = dirfd >= 0 ? openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)
			: open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		if (ret == -EOPNOTSUPP || ret == -EISDIR)
			snprintf(err, size,
				 "path: the filesystem of %s cannot create unnamed files "
				 "(O_TMPFILE), "
				 "which crash-safe removal needs",
				 dir);
		else
			snprintf(err, size, "path: creating a file in %s: %s", dir, strerror(-ret));
		return ret == -EISDIR ? -EOPNOTSUPP : ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, size, "path: fstat: %s", strerror(-ret));
		goto fail;
	}
	/* Extra proof of ownership where the filesystem has user xattrs. */
	if (!fsetxattr(fd, STRESSOR_XATTR, f->id, strlen(f->id), 0))
		xattr = true;
	rec = json_pack("{s:s, s:I, s:I, s:b}", "path", path, "dev", (json_int_t)st.st_dev, "ino",
			(json_int_t)st.st_ino, "xattr", xattr);
	/* Inside a container: the path is in the root of this process, not the host's. */
	if (rec && dirfd >= 0)
		json_object_set_new(rec, "root",
				    json_pack("{s:i, s:I}", "pid", (int)r->pid, "starttime",
					      (json_int_t)r->start));
	ret = stressor_undo_set(f, "file", rec);
	if (ret) {
		snprintf(err, size, "journaling the file: %s", strerror(-ret));
		goto fail;
	}
	if (dirfd >= 0) {
		s->file_dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		if (s->file_dirfd < 0) {
			ret = -errno;
			snprintf(err, size, "path: dup: %s", strerror(-ret));
			goto fail;
		}
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* linkat never follows a symlink at the new name: an existing one is EEXIST. */
	if (linkat(AT_FDCWD, proc, dirfd >= 0 ? dirfd : AT_FDCWD, dirfd >= 0 ? base : path,
		   AT_SYMLINK_FOLLOW)) {
		ret = -errno;
		if (ret == -EEXIST)
			snprintf(err, size,
				 "path: %s exists; stressors never touch an existing file", path);
		else
			snprintf(err, size, "path: creating %s: %s", path, strerror(-ret));
		goto fail;
	}
	s->file = strdup(dirfd >= 0 ? base : path);
	if (!s->file) {
		/* The name exists now: remove it by identity, as stop would. */
		if (dirfd >= 0)
			unlinkat(dirfd, base, 0);
		else
			unlink(path);
		ret = -ENOMEM;
		goto fail;
	}
	s->file_dev = st.st_dev;
	s->file_ino = st.st_ino;
	s->file_fd = fd;
	if (dirfd >= 0)
		record_upper(f, rec, r, dir, base, &st);
	return 0;
fail:
	close(fd);
	return ret;
}

/*
 * Remove path (relative to dirfd, AT_FDCWD for the host's) if it is still the file with
 * this identity (and our xattr, if set).
 */
int stressor_remove_file(int dirfd, const char *path, dev_t dev, ino_t ino, const char *xattr_id,
			 char *report, size_t size)
{
	struct stat st;
	char val[64];
	ssize_t n;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		snprintf(report, size, "checking %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) {
		snprintf(report, size, "left %s alone: it is not the file the stressor created",
			 path);
		return 1;
	}
	if (xattr_id) {
		if (dirfd == AT_FDCWD) {
			n = lgetxattr(path, STRESSOR_XATTR, val, sizeof(val) - 1);
		} else {
			int fd =
				openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

			n = fd < 0 ? -1 : fgetxattr(fd, STRESSOR_XATTR, val, sizeof(val) - 1);
			if (fd >= 0)
				close(fd);
		}
		if (n < 0 || (size_t)n != strlen(xattr_id) || memcmp(val, xattr_id, (size_t)n)) {
			snprintf(report, size,
				 "left %s alone: its %s attribute does not name the fault", path,
				 STRESSOR_XATTR);
			return 1;
		}
	}
	if (unlinkat(dirfd, path, 0) && errno != ENOENT) {
		snprintf(report, size, "removing %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * The container of a file is gone (its main process, or the directory in its root): a
 * container stopped, not removed, keeps its filesystem on the host, so the file is removed
 * where it lies there (the journal's "upper"), by identity; a container removed took it with
 * it.
 */
int stressor_cleanup_gone_root(const json_t *undo, const char *path, int rpid, const char *xid,
			       char *report, size_t off, size_t size)
{
	const char *udir = NULL, *urel = NULL;
	json_int_t udev = 0, uino = 0;
	char why[512];
	int dfd, ret;

	if (json_unpack((json_t *)undo, "{s:{s:{s:s, s:s, s:I, s:I}}}", "file", "upper", "dir",
			&udir, "path", &urel, "dev", &udev, "ino", &uino)) {
		if (off < size)
			snprintf(report + off, size - off,
				 "%s%s: the container (main pid %d) is gone, nothing of it to "
				 "clean",
				 off ? "; " : "", path, rpid);
		return 0;
	}
	ret = stressor_upper_open(udir, urel, &dfd);
	if (ret == -ENOENT) {
		if (off < size)
			snprintf(report + off, size - off,
				 "%s%s: the container (main pid %d) is gone with its "
				 "filesystem (%s), nothing of it to clean",
				 off ? "; " : "", path, rpid, udir);
		return 0;
	}
	if (ret) {
		snprintf(report, size, "opening %s/%s, where %s lies on the host: %s", udir, urel,
			 path, strerror(-ret));
		return ret;
	}
	ret = stressor_remove_file(dfd, strrchr(path, '/') + 1, (dev_t)udev, (ino_t)uino, xid, why,
				   sizeof(why));
	close(dfd);
	if (ret < 0) {
		snprintf(report, size, "%s", why);
		return ret;
	}
	if (off >= size)
		return 0;
	if (ret)
		snprintf(report + off, size - off, "%s%s: the container (main pid %d) is gone; %s",
			 off ? "; " : "", path, rpid, why);
	else
		snprintf(report + off, size - off,
			 "%s%s: the container (main pid %d) is gone; removed %s/%s%s%s, where its "
			 "stopped filesystem kept the file on the host",
			 off ? "; " : "", path, rpid, udir, urel, urel[0] ? "/" : "",
			 strrchr(path, '/') + 1);
	return 0;
}
