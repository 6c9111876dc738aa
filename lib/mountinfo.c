/* mountinfo parsing, kept free of system calls so it is unit-testable. */
#include <errno.h>
#include <string.h>

#include "mountinfo.h"

/* Decode the kernel's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Is word one of the comma-separated items of list? */
static int has_item(const char *list, const char *word)
{
	size_t n = strlen(word);

	while (*list) {
		const char *end = strchr(list, ',');
		size_t len = end ? (size_t)(end - list) : strlen(list);

		if (len == n && !strncmp(list, word, n))
			return 1;
		if (!end)
			break;
		list = end + 1;
	}
	return 0;
}

/*
 * The mount point of the first mount whose file-system type is fstype, whose root (the fourth
 * field) is root when root is not NULL and, when opt is not NULL, whose super options have
 * the item opt, decoded into mnt.
 */
static int find_mount(FILE *f, const char *fstype, const char *root, const char *opt, char *mnt,
		      size_t size)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *mount_point = NULL;
		int field = 0, after_sep = 0;

		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			field++;
			if (field == 4 && root && strcmp(tok, root))
				break;
			if (field == 5)
				mount_point = tok;
			if (after_sep) {
				/* After " - ": file-system type, source, super options. */
				after_sep++;
				if (after_sep == 2 && strcmp(tok, fstype))
					break;
				if (after_sep == (opt ? 4 : 2)) {
					if ((opt && !has_item(tok, opt)) || !mount_point)
						break;
					unescape(mount_point);
					if (strlen(mount_point) >= size)
						return -ENAMETOOLONG;
					strcpy(mnt, mount_point);
					return 0;
				}
				continue;
			}
			if (field > 6 && !strcmp(tok, "-"))
				after_sep = 1;
		}
	}
	return -ENOENT;
}

int mountinfo_find_fstype(FILE *f, const char *fstype, char *mnt, size_t size)
{
	return find_mount(f, fstype, NULL, NULL, mnt, size);
}

int mountinfo_find_cgroup1(FILE *f, const char *controller, char *mnt, size_t size)
{
	return find_mount(f, "cgroup", NULL, controller, mnt, size);
}

int mountinfo_find_root(FILE *f, const char *fstype, const char *root, char *mnt, size_t size)
{
	return find_mount(f, fstype, root, NULL, mnt, size);
}
