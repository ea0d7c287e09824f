/*
 * A rollback operation carried out by the warden on the merged view, while
 * the agent runs and may have planted symlinks or mounts anywhere below the
 * tree: every path is opened beneath the tree's root fd without following
 * symlinks or crossing mounts (beneath.c), the last component only through
 * *at calls that do not follow it either. Files, links, fifos and sockets
 * are made as a temporary next to their place and renamed over it, so a
 * reader sees the old or the new one. The real tree's copies come from an fd the warden
 * opened before pivot_root, which the agent never had.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Deeper trees than this are refused rather than walked with one fd a
 * level. */
#define APPLY_DEPTH_MAX 512

struct apply {
	const char *path;   /* the operation's path, for messages */
	char **cause;
};

static int
apply_fail(struct apply *a, const char *what, int error)
{
	struct buf shown = BUF_INIT;

	manifest_quote(&shown, a->path, strlen(a->path));
	*a->cause = xasprintf("%s %s: %s", what, shown.data, strerror(error));
	buf_free(&shown);
	return -1;
}

static int
apply_remove(struct apply *a, int dir, const char *name, int depth);

/* Empties the directory name of dir, then removes it. */
static int
apply_remove_dir(struct apply *a, int dir, const char *name, int depth)
{
	struct dirent *d;
	DIR *list;
	int fd, rc = 0;

	if (depth > APPLY_DEPTH_MAX)
		return apply_fail(a, "remove", ELOOP);
	fd = beneath_open(dir, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return errno == ENOENT ? 0 : apply_fail(a, "remove", errno);
	if ((list = fdopendir(fd)) == NULL) {
		close(fd);
		return apply_fail(a, "remove", errno);
	}
	while (rc == 0 && (errno = 0, d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			rc = apply_remove(a, dirfd(list), d->d_name, depth + 1);
	}
	if (rc == 0 && errno != 0)
		rc = apply_fail(a, "remove", errno);
	closedir(list);
	if (rc == 0 && unlinkat(dir, name, AT_REMOVEDIR) != 0 &&
	    errno != ENOENT)
		rc = apply_fail(a, "remove", errno);
	return rc;
}

/* Removes name of dir, a whole tree for a directory; absent is fine. */
static int
apply_remove(struct apply *a, int dir, const char *name, int depth)
{
	struct stat sb;

	if (fstatat(dir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : apply_fail(a, "remove", errno);
	if (S_ISDIR(sb.st_mode))
		return apply_remove_dir(a, dir, name, depth);
	if (unlinkat(dir, name, 0) != 0 && errno != ENOENT)
		return apply_fail(a, "remove", errno);
	return 0;
}

/* chmod of name in dir, never through a symlink. */
static int
apply_chmod(struct apply *a, int dir, const char *name, uint32_t mode)
{
	AUTOCLOSE int fd = beneath_open(dir, name, O_PATH);
	char proc[64];

	if (fd < 0)
		return apply_fail(a, "chmod", errno);
	/* an O_PATH fd takes no fchmod: its /proc link names the inode */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (chmod(proc, mode) != 0)
		return apply_fail(a, "chmod", errno);
	return 0;
}

static int
apply_mkdir(struct apply *a, int dir, const char *name, uint32_t mode)
{
	struct stat sb;

	if (mkdirat(dir, name, 0700) != 0) {
		if (errno != EEXIST || fstatat(dir, name, &sb,
		    AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode))
			return apply_fail(a, "mkdir", errno);
	}
	return apply_chmod(a, dir, name, mode);
}

/* A fresh name for a temporary next to the target. */
static void
apply_temp_name(char *out, size_t size)
{
	unsigned char r[8];

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	snprintf(out, size, ".airlock-rollback-%02x%02x%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

/* Copies every byte of in (from its start) to out, in the kernel where it
 * can (copy_file_range refuses the overlay and the real tree as a pair:
 * sendfile does not), else through a buffer. 0 or -1 with errno. */
static int
apply_copy_bytes(int in, int out)
{
	char chunk[65536];
	off_t off = 0;
	ssize_t n, w, done;

	for (;;) {
		n = sendfile(out, in, &off, (size_t)1 << 30);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		break;
	}
	for (;;) {
		n = pread(in, chunk, sizeof chunk, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		for (done = 0; done < n; done += w) {
			w = write(out, chunk + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return -1;
		}
		off += n;
	}
}

/* Set-id bits again: writing cleared them (without CAP_FSETID). */
static int
apply_privs(int fd, uint32_t mode)
{
	return (mode & (S_ISUID | S_ISGID)) != 0 ? fchmod(fd, mode) : 0;
}

/* Writes in's content as name of dir with mode: temporary, then rename. */
static int
apply_write(struct apply *a, int dir, const char *name, int in, uint32_t mode)
{
	char tmp[64];
	int out, tries = 0, error;

	do {
		apply_temp_name(tmp, sizeof tmp);
		out = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode & 07777);
	} while (out < 0 && errno == EEXIST && ++tries < 16);
	if (out < 0)
		return apply_fail(a, "write", errno);
	if (apply_copy_bytes(in, out) != 0 || apply_privs(out, mode) != 0) {
		error = errno;
		close(out);
		unlinkat(dir, tmp, 0);
		return apply_fail(a, "write", error);
	}
	if (close(out) != 0 || renameat(dir, tmp, dir, name) != 0) {
		error = errno;
		unlinkat(dir, tmp, 0);
		return apply_fail(a, "write", error);
	}
	return 0;
}

static int
apply_symlink(struct apply *a, int dir, const char *name, const char *target)
{
	char tmp[64];
	int tries = 0, rc, error;

	do {
		apply_temp_name(tmp, sizeof tmp);
		rc = symlinkat(target, dir, tmp);
	} while (rc != 0 && errno == EEXIST && ++tries < 16);
	if (rc != 0)
		return apply_fail(a, "symlink", errno);
	if (renameat(dir, tmp, dir, name) != 0) {
		error = errno;
		unlinkat(dir, tmp, 0);
		return apply_fail(a, "symlink", error);
	}
	return 0;
}

/* A fifo or a socket (never a device: the decoder lets no other type
 * through), made under a temporary name and renamed into place. */
static int
apply_special(struct apply *a, int dir, const char *name, uint32_t mode)
{
	char tmp[64];
	int tries = 0, rc, error;

	if (!S_ISFIFO(mode) && !S_ISSOCK(mode))
		return apply_fail(a, "make", EINVAL);
	do {
		apply_temp_name(tmp, sizeof tmp);
		rc = mknodat(dir, tmp, (mode & S_IFMT) | 0600, 0);
	} while (rc != 0 && errno == EEXIST && ++tries < 16);
	if (rc != 0)
		return apply_fail(a, "make", errno);
	/* the umask must not decide the mode */
	if (apply_chmod(a, dir, tmp, mode & 07777) != 0) {
		unlinkat(dir, tmp, 0);
		return -1;
	}
	if (renameat(dir, tmp, dir, name) != 0) {
		error = errno;
		unlinkat(dir, tmp, 0);
		return apply_fail(a, "make", error);
	}
	return 0;
}

static int
apply_fill(struct apply *a, int from, int to, int depth);

/* One entry of a directory being filled: name of from copied into to,
 * where nothing is yet (no temporary: the directory is one itself). */
static int
apply_fill_one(struct apply *a, int from, int to, const char *name,
    int depth)
{
	AUTOCLOSE int in = -1;
	AUTOCLOSE int out = -1;
	struct stat sb;
	char *target;
	ssize_t n;
	int rc;

	if (fstatat(from, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : apply_fail(a, "copy", errno);
	if (S_ISDIR(sb.st_mode)) {
		if (mkdirat(to, name, 0700) != 0 ||
		    (in = beneath_open(from, name, O_RDONLY | O_DIRECTORY)) < 0 ||
		    (out = beneath_open(to, name, O_RDONLY | O_DIRECTORY)) < 0)
			return apply_fail(a, "copy", errno);
		rc = apply_fill(a, in, out, depth + 1);
		in = -1;   /* apply_fill closed it */
		if (rc != 0)
			return -1;
		if (fchmod(out, sb.st_mode & 07777) != 0)
			return apply_fail(a, "chmod", errno);
		return 0;
	}
	if (S_ISREG(sb.st_mode)) {
		in = beneath_open(from, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (in < 0)
			return apply_fail(a, "copy", errno);
		out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, sb.st_mode & 07777);
		if (out < 0 || apply_copy_bytes(in, out) != 0 ||
		    apply_privs(out, sb.st_mode & 07777) != 0)
			return apply_fail(a, "copy", errno);
		return 0;
	}
	if (!S_ISLNK(sb.st_mode))
		return 0;
	target = xmalloc((size_t)sb.st_size + 1);
	n = readlinkat(from, name, target, (size_t)sb.st_size + 1);
	if (n != sb.st_size) {
		free(target);
		return apply_fail(a, "copy", n < 0 ? errno : EAGAIN);
	}
	target[n] = '\0';
	rc = symlinkat(target, to, name);
	free(target);
	return rc != 0 ? apply_fail(a, "copy", errno) : 0;
}

/* Copies every entry of the real tree's directory from (closed here)
 * into the new directory to. */
static int
apply_fill(struct apply *a, int from, int to, int depth)
{
	struct dirent *d;
	DIR *list;
	int rc = 0;

	if (depth > APPLY_DEPTH_MAX) {
		close(from);
		return apply_fail(a, "copy", ELOOP);
	}
	if ((list = fdopendir(from)) == NULL) {
		rc = errno;
		close(from);
		return apply_fail(a, "copy", rc);
	}
	while (rc == 0 && (errno = 0, d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			rc = apply_fill_one(a, dirfd(list), to, d->d_name, depth);
	}
	if (rc == 0 && errno != 0)
		rc = apply_fail(a, "copy", errno);
	closedir(list);
	return rc;
}

/*
 * Copies the real tree's directory name (of ldir) as name of dir: built
 * whole under a temporary name, then renamed into place once, so its
 * entries need no temporaries of their own, and a reader sees no half
 * copy. Something there by then (the agent's, made meanwhile) goes.
 */
static int
apply_copy_dir(struct apply *a, int ldir, int dir, const char *name,
    uint32_t mode)
{
	AUTOCLOSE int to = -1;
	char tmp[64];
	int from, tries = 0, rc;

	do {
		apply_temp_name(tmp, sizeof tmp);
		rc = mkdirat(dir, tmp, 0700);
	} while (rc != 0 && errno == EEXIST && ++tries < 16);
	if (rc != 0)
		return apply_fail(a, "copy", errno);
	if ((to = beneath_open(dir, tmp, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (from = beneath_open(ldir, name, O_RDONLY | O_DIRECTORY)) < 0)
		rc = apply_fail(a, "copy", errno);
	else
		rc = apply_fill(a, from, to, 1);
	if (rc == 0 && fchmod(to, mode) != 0)
		rc = apply_fail(a, "chmod", errno);
	if (rc == 0 && renameat2(dir, tmp, dir, name, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST && apply_remove(a, dir, name, 0) == 0 &&
		    renameat2(dir, tmp, dir, name, RENAME_NOREPLACE) == 0)
			return 0;
		rc = apply_fail(a, "copy", errno);
	}
	if (rc != 0)
		apply_remove(a, dir, tmp, 0);
	return rc;
}

/* Makes name of dir what name of ldir (the real tree) is; specials stay. */
static int
apply_copy(struct apply *a, int ldir, int dir, const char *name, int depth)
{
	AUTOCLOSE int in = -1;
	struct stat sb;
	char *target;
	ssize_t n;
	int rc;

	if (fstatat(ldir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? apply_remove(a, dir, name, depth) :
		    apply_fail(a, "copy", errno);
	if (S_ISDIR(sb.st_mode))
		return apply_copy_dir(a, ldir, dir, name, sb.st_mode & 07777);
	if (S_ISREG(sb.st_mode)) {
		in = beneath_open(ldir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (in < 0)
			return apply_fail(a, "copy", errno);
		return apply_write(a, dir, name, in, sb.st_mode & 07777);
	}
	if (!S_ISLNK(sb.st_mode))
		return 0;
	target = xmalloc((size_t)sb.st_size + 1);
	n = readlinkat(ldir, name, target, (size_t)sb.st_size + 1);
	if (n != sb.st_size) {
		free(target);
		return apply_fail(a, "copy", n < 0 ? errno : EAGAIN);
	}
	target[n] = '\0';
	rc = apply_symlink(a, dir, name, target);
	free(target);
	return rc;
}

/* ROLLBACK_LOWER: the real tree's path; absent there: absent here. */
static int
apply_lower(struct apply *a, int lower, int dir, const char *name)
{
	AUTOCLOSE int ldir = -1;
	const char *lname;

	if (lower < 0)
		return apply_fail(a, "copy", EBADF);
	ldir = beneath_parent(lower, a->path, &lname);
	if (ldir < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return apply_remove(a, dir, name, 0);
		return apply_fail(a, "copy", errno);
	}
	return apply_copy(a, ldir, dir, name, 0);
}

static int
apply_op(int root, int lower, const struct rollback_op *op, int fd,
    char **cause)
{
	struct apply a = { op->path, cause };
	AUTOCLOSE int dir = -1;
	const char *name;

	dir = beneath_parent(root, op->path, &name);
	if (dir < 0)
		return apply_fail(&a, "open the directory of", errno);
	switch (op->kind) {
	case ROLLBACK_REMOVE:
		return apply_remove(&a, dir, name, 0);
	case ROLLBACK_MKDIR:
		return apply_mkdir(&a, dir, name, op->mode);
	case ROLLBACK_CHMOD:
		return apply_chmod(&a, dir, name, op->mode);
	case ROLLBACK_FILE:
		if (fd < 0)
			return apply_fail(&a, "write", EBADF);
		return apply_write(&a, dir, name, fd, op->mode);
	case ROLLBACK_SYMLINK:
		return apply_symlink(&a, dir, name, op->target);
	case ROLLBACK_LOWER:
		return apply_lower(&a, lower, dir, name);
	case ROLLBACK_SPECIAL:
		return apply_special(&a, dir, name, op->mode);
	}
	return apply_fail(&a, "apply", EINVAL);
}

int
warden_apply(int root, int lower, const struct rollback_op *op, int fd,
    char **cause)
{
	/* files are made with their modes, the real tree's or the plan's */
	mode_t mask = umask(0);
	int rc;

	rc = apply_op(root, lower, op, fd, cause);
	umask(mask);
	return rc;
}
