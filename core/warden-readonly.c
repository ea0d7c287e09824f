/*
 * Read-only remounts of a mount and every mount below it, found through
 * /proc/self/mountinfo, keeping the flags the kernel locks (as bubblewrap
 * does).
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* One line of /proc/self/mountinfo. */
struct warden_mount {
	int id;
	int parent;
	char *path;
	int below;       /* in the subtree being made read-only */
};

/* Decodes the kernel's \ooo escapes in place. 0 or -1. */
static int
warden_unescape(char *s)
{
	char *d = s;
	int value;

	for (; *s != '\0'; s++) {
		if (*s != '\\') {
			*d++ = *s;
			continue;
		}
		if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' ||
		    s[3] < '0' || s[3] > '7')
			return -1;
		value = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
		if (value == 0)
			return -1;
		*d++ = (char)value;
		s += 3;
	}
	*d = '\0';
	return 0;
}

/* A whole non-negative decimal int. */
static int
warden_parse_id(const char *s, int *out)
{
	long value = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		value = value * 10 + (*s - '0');
		if (value > INT_MAX)
			return -1;
	}
	*out = (int)value;
	return 0;
}

int
warden_mountinfo_parse(char *line, int *id, int *parent, char **mountpoint)
{
	char *field[5], *p = line;
	size_t i;

	/* 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw */
	for (i = 0; i < 5; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if (p == NULL || p == field[i])
			return -1;
		*p++ = '\0';
	}
	if (warden_parse_id(field[0], id) != 0 ||
	    warden_parse_id(field[1], parent) != 0)
		return -1;
	if (field[4][0] != '/' || warden_unescape(field[4]) != 0)
		return -1;
	*mountpoint = field[4];
	return 0;
}

/* The path as the agent will see it, for messages. */
static const char *
warden_inside(const char *root, const char *path)
{
	size_t len = strlen(root);

	if (strncmp(path, root, len) == 0 && path[len] == '/')
		return path + len;
	if (strcmp(path, root) == 0)
		return "/";
	return path;
}

/* The flags that a read-only remount must keep: in a user namespace the
 * kernel locks them and refuses a remount that drops one. */
static unsigned long
warden_locked_flags(unsigned long f)
{
	unsigned long flags = 0;

	if (f & ST_NOSUID)
		flags |= MS_NOSUID;
	if (f & ST_NODEV)
		flags |= MS_NODEV;
	if (f & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (f & ST_NOATIME)
		flags |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		flags |= MS_RELATIME;
	return flags;
}

/*
 * Remounts the mount m read-only (and nosuid, nodev) through its mount
 * point. A mount that its path no longer reaches (covered by another, or
 * below a directory the warden may not enter) is out of the agent's reach
 * too, and is left alone.
 */
static int
warden_remount_ro(const char *root, const struct warden_mount *m,
    char **cause)
{
	struct statx stx;
	struct statvfs sv;
	unsigned long flags;

	if (statx(AT_FDCWD, m->path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
	    STATX_MNT_ID, &stx) != 0) {
		if (errno == EACCES || errno == ENOENT)
			return 0;
		goto fail;
	}
	if ((stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != (__u64)m->id)
		return 0;
	if (statvfs(m->path, &sv) != 0) {
		if (errno == EACCES || errno == ENOENT)
			return 0;
		goto fail;
	}
	flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
	    warden_locked_flags(sv.f_flag);
	if (mount(NULL, m->path, NULL, flags, NULL) == 0 || errno == EACCES)
		return 0;
fail:
	*cause = xasprintf("remount %s read-only: %s", warden_inside(root,
	    m->path), strerror(errno));
	return -1;
}

/* Reads /proc/self/mountinfo into *mounts (pointing into *text). */
static int
warden_mounts_read(char **text, struct warden_mount **mounts, size_t *n,
    char **cause)
{
	char *line, *next, *error = NULL;
	struct warden_mount *v = NULL;
	size_t len, cap = 0;

	*text = path_read_file("/proc/self/mountinfo", 64 << 20, &len, &error);
	if (*text == NULL) {
		*cause = error;
		return -1;
	}
	*n = 0;
	for (line = *text; *line != '\0'; line = next) {
		next = strchrnul(line, '\n');
		if (*next == '\n')
			*next++ = '\0';
		if (*n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		if (warden_mountinfo_parse(line, &v[*n].id, &v[*n].parent,
		    &v[*n].path) != 0) {
			*cause = xasprintf("cannot parse a line of "
			    "/proc/self/mountinfo: %.200s", line);
			free(v);
			return -1;
		}
		v[(*n)++].below = 0;
	}
	*mounts = v;
	return 0;
}

/* Marks the mount id and every mount below it. */
static void
warden_mounts_mark(struct warden_mount *v, size_t n, int id)
{
	size_t i, j;
	int changed = 1;

	for (i = 0; i < n; i++)
		v[i].below = v[i].id == id;
	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			for (j = 0; j < n && !v[i].below; j++) {
				if (v[j].below && v[j].id == v[i].parent)
					v[i].below = changed = 1;
			}
		}
	}
}

/*
 * Makes the mount that fd holds open, and every mount below it, read-only,
 * keeping the flags the kernel locks (nosuid, nodev, noexec, atime), as
 * bubblewrap does.
 */
int
warden_readonly(const char *root, int fd, char **cause)
{
	AUTOFREE char *text = NULL;
	struct warden_mount *v = NULL;
	struct statx stx;
	size_t i, n;
	int rc = 0;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) != 0) {
		*cause = xasprintf("statx: %s", strerror(errno));
		return -1;
	}
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		*cause = xstrdup("the kernel does not report mount ids (statx "
		    "STATX_MNT_ID needs Linux 5.8 or later)");
		return -1;
	}
	if (warden_mounts_read(&text, &v, &n, cause) != 0)
		return -1;
	warden_mounts_mark(v, n, (int)stx.stx_mnt_id);
	for (i = 0; i < n && rc == 0; i++) {
		if (v[i].below)
			rc = warden_remount_ro(root, &v[i], cause);
	}
	free(v);
	return rc;
}
