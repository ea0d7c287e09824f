#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (*b == '/')
		b++;
	if (la > 0 && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

int
path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	if (strncmp(path, dir, n) != 0)
		return 0;
	return path[n] == '\0' || path[n] == '/';
}

int
path_mkdirs(const char *dir, mode_t mode, char **cause)
{
	char *copy = xstrdup(dir), *p;
	int error = 0;

	for (p = copy + 1; !error; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		int last = *p == '\0';
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			*cause = xasprintf("cannot create %s: %s", copy,
			    strerror(errno));
			error = 1;
		}
		if (last)
			break;
		*p = '/';
	}
	free(copy);
	return error ? -1 : 0;
}

/* Empties the directory open at fd, then closes it. */
static int
path_remove_children(int fd, const char *shown, char **cause)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int error = 0;

	if (d == NULL) {
		*cause = xasprintf("cannot read %s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	while (!error && (errno = 0, de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			*cause = xasprintf("cannot stat in %s: %s", shown,
			    strerror(errno));
			error = 1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;

			/* A directory left without permissions is still ours. */
			if ((st.st_mode & 0700) != 0700)
				fchmodat(dirfd(d), name, 0700, 0);
			sub = openat(dirfd(d), name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || path_remove_children(sub, shown, cause) != 0) {
				if (sub < 0)
					*cause = xasprintf("cannot open in %s: %s",
					    shown, strerror(errno));
				error = 1;
				break;
			}
		}
		if (unlinkat(dirfd(d), name,
		    S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
		    errno != ENOENT) {
			*cause = xasprintf("cannot remove in %s: %s", shown,
			    strerror(errno));
			error = 1;
		}
	}
	if (!error && errno != 0) {
		*cause = xasprintf("cannot read %s: %s", shown, strerror(errno));
		error = 1;
	}
	closedir(d);
	return error ? -1 : 0;
}

int
path_remove_tree(const char *path, char **cause)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		*cause = xasprintf("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((st.st_mode & 0700) != 0700)
			chmod(path, 0700);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			*cause = xasprintf("cannot open %s: %s", path,
			    strerror(errno));
			return -1;
		}
		if (path_remove_children(fd, path, cause) != 0)
			return -1;
		if (rmdir(path) != 0 && errno != ENOENT) {
			*cause = xasprintf("cannot remove %s: %s", path,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		*cause = xasprintf("cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

char *
path_read_file(const char *path, size_t max, size_t *len, char **cause)
{
	struct buf b = BUF_INIT;
	char chunk[65536];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot read %s: %s", path,
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			*cause = xasprintf("%s is larger than %zu bytes", path,
			    max);
			n = -1;
			break;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	if (n < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, len);
}

int
path_write_file(const char *path, const void *p, size_t len, mode_t mode,
    char **cause)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	const char *at = p;
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0) {
		*cause = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(fd, at, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot write %s: %s", tmp,
			    strerror(errno));
			goto fail;
		}
		at += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0) {
		*cause = xasprintf("cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		*cause = xasprintf("cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}
