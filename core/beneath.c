/*
 * Paths below a directory fd that never leave it: the agent writes the
 * merged view, so any component may be a symlink it planted, or the mount
 * point of a mask or a read-write bind. openat2 refuses all three.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define BENEATH_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
	RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

/* One openat2 of a piece shorter than PATH_MAX. */
static int
beneath_openat2(int dirfd, const char *piece, size_t len, int flags)
{
	struct open_how how;
	char *copy = xstrndup(piece, len);
	int fd, tries = 0, error;

	memset(&how, 0, sizeof how);
	how.flags = (__u64)(flags | O_CLOEXEC);
	how.resolve = BENEATH_RESOLVE;
	/* EAGAIN: a rename raced with the lookup */
	do
		fd = (int)syscall(SYS_openat2, dirfd, copy, &how, sizeof how);
	while (fd < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 16);
	error = errno;
	free(copy);
	errno = error;
	return fd;
}

/* openat2 said ENOSYS once (before Linux 5.6, or under valgrind). */
static int beneath_no_openat2;

/* The mount id of what fd holds open, or -1. */
static int64_t
beneath_mount_id(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID,
	    &stx) != 0)
		return -1;
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		errno = ENOSYS;
		return -1;
	}
	return (int64_t)stx.stx_mnt_id;
}

/* Opens one component below fd as strictly as openat2 would: no ".", "..",
 * symlink or mount. */
static int
beneath_step(int fd, const char *name, size_t len, int flags, int64_t mnt)
{
	char *copy;
	struct stat sb;
	int next, error;

	if (len == 0 || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.')) {
		errno = EXDEV;
		return -1;
	}
	copy = xstrndup(name, len);
	next = openat(fd, copy, flags | O_NOFOLLOW | O_CLOEXEC);
	error = errno;
	free(copy);
	if (next < 0) {
		errno = error;
		return -1;
	}
	/* O_PATH | O_NOFOLLOW opens a symlink itself */
	if (fstat(next, &sb) != 0 || S_ISLNK(sb.st_mode))
		error = ELOOP;
	else if (beneath_mount_id(next) != mnt)
		error = EXDEV;
	else
		return next;
	close(next);
	errno = error;
	return -1;
}

/* Without openat2: one component at a time. */
static int
beneath_walk(int rootfd, const char *path, int flags)
{
	int64_t mnt = beneath_mount_id(rootfd);
	int fd = rootfd, next, error, last;
	size_t n;

	if (mnt < 0)
		return -1;
	for (;;) {
		n = strchrnul(path, '/') - path;
		last = path[n] == '\0';
		next = beneath_step(fd, path, n, last ? flags :
		    O_PATH | O_DIRECTORY, mnt);
		error = errno;
		if (fd != rootfd)
			close(fd);
		fd = next;
		errno = error;
		if (fd < 0 || last)
			return fd;
		path += n + 1;
	}
}

/* The length of the next piece of path to open at once (< PATH_MAX, cut at
 * a slash), or 0 when a single name is too long. */
static size_t
beneath_piece(const char *path, size_t len, int *last)
{
	size_t piece = len;

	*last = 1;
	if (len < PATH_MAX)
		return len;
	*last = 0;
	piece = PATH_MAX - 1;
	while (piece > 0 && path[piece] != '/')
		piece--;
	return piece;
}

int
beneath_open(int rootfd, const char *path, int flags)
{
	size_t len = strlen(path), piece;
	int fd = rootfd, next, error, last;

	if (len == 0)
		return openat(rootfd, ".", flags | O_CLOEXEC);
	if (beneath_no_openat2)
		return beneath_walk(rootfd, path, flags);
	for (;;) {
		piece = beneath_piece(path, len, &last);
		if (piece == 0) {
			error = ENAMETOOLONG;
			break;
		}
		next = beneath_openat2(fd, path, piece,
		    last ? flags : O_PATH | O_DIRECTORY);
		error = errno;
		if (next < 0 && error == ENOSYS && fd == rootfd) {
			beneath_no_openat2 = 1;
			return beneath_walk(rootfd, path, flags);
		}
		if (fd != rootfd)
			close(fd);
		fd = next;
		if (fd < 0 || last) {
			errno = error;
			return fd;
		}
		path += piece + 1;
		len -= piece + 1;
	}
	if (fd != rootfd)
		close(fd);
	errno = error;
	return -1;
}

int
beneath_parent(int rootfd, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, error;

	if (slash == NULL) {
		*name = path;
		return openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	*name = slash + 1;
	dir = xstrndup(path, (size_t)(slash - path));
	fd = beneath_open(rootfd, dir, O_PATH | O_DIRECTORY);
	error = errno;
	free(dir);
	errno = error;
	return fd;
}
