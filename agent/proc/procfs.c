/*
 * The small /proc readers every process-facing part of the agent shares (the process
 * selector, containers, stressors, the SSH-session lookup of network faults): one file
 * reader and one /proc/PID/stat parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

int procfs_read_file(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (len)
		*len = n;
	return 0;
}

int procfs_stat(pid_t pid, struct procfs_stat *st)
{
	char path[64], buf[1024], *open_paren, *close_paren, *p;
	int field = 3;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (procfs_read_file(path, buf, sizeof(buf), NULL))
		return -ESRCH;
	/* comm may contain spaces and parentheses: it runs to the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EIO;
	n = close_paren - open_paren - 1;
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open_paren + 1, n);
	st->comm[n] = '\0';
	p = close_paren + 2;
	st->state = *p;
	/* strtok_r: process.pause selects on a worker thread while the loop may select too. */
	for (char *save, *tok = strtok_r(p, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 4)
			st->ppid = atoi(tok);
		else if (field == 6)
			st->sid = atoi(tok);
		else if (field == 9)
			st->flags = strtoul(tok, NULL, 10);
		else if (field == 22) {
			st->starttime = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -EIO;
}

unsigned long long procfs_starttime(pid_t pid)
{
	struct procfs_stat st;

	return procfs_stat(pid, &st) ? 0 : st.starttime;
}
