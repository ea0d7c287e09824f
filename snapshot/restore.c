/*
 * Offline rollback: makes a scratch dir (not mounted) equal to a manifest.
 * Three passes over sorted paths: remove what does not belong (children
 * before parents), create what is missing (parents before children), then
 * put modes and mtimes back (children before parents, so a directory made
 * read-only last does not stop the work inside it).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

struct restore {
	struct store *st;
	const char *upper;
	int rootfd;
	int userxattr;
	const struct manifest *m;
	struct manifest cur;         /* upper before; removed: MENTRY_ABSENT */
	unsigned char *made;         /* per entry of m: created or rewritten */
	struct dirtree_parent parent;
	unsigned int seq;
};

static int
restore_fail(struct restore *r, const char *what, const struct mentry *e,
    int error, char **cause)
{
	struct buf q = BUF_INIT;

	manifest_quote(&q, e->path, e->pathlen);
	*cause = xasprintf("cannot %s %s/%s: %s", what, r->upper, q.data,
	    strerror(error));
	buf_free(&q);
	return -1;
}

/* Every path is relative and clean, and its parent is a directory of m. */
static int
restore_check(const struct manifest *m, char **cause)
{
	struct buf q = BUF_INIT;
	const struct mentry *parent;
	size_t i, j, start;

	for (i = 0; i < m->n; i++) {
		const struct mentry *e = &m->v[i];
		int bad = e->pathlen == 0 || strlen(e->path) != e->pathlen ||
		    e->kind == MENTRY_ABSENT ||
		    (i > 0 && mentry_cmp(&m->v[i - 1], e) >= 0);

		for (start = 0, j = 0; !bad && j <= e->pathlen; j++) {
			if (j < e->pathlen && e->path[j] != '/')
				continue;
			bad = j == start || (j - start == 1 &&
			    e->path[start] == '.') || (j - start == 2 &&
			    memcmp(e->path + start, "..", 2) == 0);
			if (!bad && j < e->pathlen) {
				parent = manifest_find(m, e->path, j);
				bad = parent == NULL || parent->kind != MENTRY_DIR;
			}
			start = j + 1;
		}
		if (bad) {
			manifest_quote(&q, e->path, e->pathlen);
			*cause = xasprintf("cannot restore: bad manifest entry %s",
			    q.data);
			buf_free(&q);
			return -1;
		}
	}
	return 0;
}

/* 1 when what upper has at the path can stay (content aside). */
static int
restore_keeps(const struct mentry *c, const struct mentry *want)
{
	if (want == NULL || c->kind != want->kind)
		return 0;
	switch (c->kind) {
	case MENTRY_SYMLINK:
		return strcmp(c->target, want->target) == 0;
	case MENTRY_SPECIAL:
		return c->rdev == want->rdev &&
		    (c->mode & S_IFMT) == (want->mode & S_IFMT);
	default:
		return 1;
	}
}

static int
restore_remove(struct restore *r, struct mentry *c, char **cause)
{
	const char *name;
	int pfd, flags = c->kind == MENTRY_DIR ? AT_REMOVEDIR : 0;

	pfd = dirtree_parent_open(&r->parent, c->path, c->pathlen, &name);
	if (pfd == -1 || (unlinkat(pfd, name, flags) != 0 && errno != ENOENT))
		return restore_fail(r, "remove", c, errno, cause);
	if (c->kind == MENTRY_DIR)
		dirtree_parent_reset(&r->parent);
	c->kind = MENTRY_ABSENT;
	return 0;
}

static int
restore_remove_pass(struct restore *r, char **cause)
{
	size_t i = r->cur.n;

	while (i-- > 0) {
		struct mentry *c = &r->cur.v[i];
		const struct mentry *want = manifest_find(r->m, c->path,
		    c->pathlen);

		if (!restore_keeps(c, want) && restore_remove(r, c, cause) != 0)
			return -1;
	}
	return 0;
}

/* Writes to fd, leaving holes where the content is zeros. */
struct restore_sink {
	int fd;
};

static int
restore_is_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int
restore_sink_write(const void *p, size_t n, void *arg, char **cause)
{
	struct restore_sink *s = arg;
	const char *at = p;

	if (restore_is_zero(p, n)) {
		if (lseek(s->fd, (off_t)n, SEEK_CUR) != -1)
			return 0;
	}
	while (n > 0) {
		ssize_t w = write(s->fd, at, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int error = errno;

			*cause = xasprintf("cannot write: %s", strerror(error));
			errno = error;
			return -1;
		}
		at += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
restore_fill(struct restore *r, int fd, const struct mentry *want,
    char **cause)
{
	struct restore_sink s = { fd };
	struct timespec times[2] = {
		{ 0, UTIME_OMIT },
		{ want->mtime_ns / 1000000000, want->mtime_ns % 1000000000 },
	};

	if (blob_read(r->st, want->hash, restore_sink_write, &s, cause) != 0)
		return -1;
	if (ftruncate(fd, (off_t)want->size) != 0 ||
	    fchmod(fd, want->mode & 07777) != 0 ||
	    futimens(fd, times) != 0) {
		*cause = xasprintf("cannot finish: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A new name next to the target, for writing before the rename. */
static char *
restore_tmp_name(struct restore *r)
{
	return xasprintf(".airlock-restore.%ld.%u", (long)getpid(), r->seq++);
}

static int
restore_file(struct restore *r, const struct mentry *want, char **cause)
{
	struct buf q = BUF_INIT;
	const char *name;
	char *tmp = NULL, *why = NULL;
	int pfd, fd = -1, tries, rc;

	pfd = dirtree_parent_open(&r->parent, want->path, want->pathlen,
	    &name);
	if (pfd == -1)
		return restore_fail(r, "open the directory of", want, errno,
		    cause);
	for (tries = 0; fd == -1 && tries < 16; tries++) {
		free(tmp);
		tmp = restore_tmp_name(r);
		fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		free(tmp);
		return restore_fail(r, "create a file for", want, errno, cause);
	}
	rc = restore_fill(r, fd, want, &why);
	if (close(fd) != 0 && rc == 0)
		rc = -1;
	if (rc == 0 && renameat(pfd, tmp, pfd, name) != 0)
		rc = -1;
	if (rc == 0) {
		free(tmp);
		return 0;
	}
	if (why == NULL)
		why = xstrdup(strerror(errno));
	unlinkat(pfd, tmp, 0);
	manifest_quote(&q, want->path, want->pathlen);
	*cause = xasprintf("cannot restore %s/%s: %s", r->upper, q.data, why);
	buf_free(&q);
	free(why);
	free(tmp);
	return -1;
}

static int
restore_unchanged(const struct mentry *c, const struct mentry *want)
{
	return c != NULL && c->kind == MENTRY_FILE && c->ino == want->ino &&
	    c->size == want->size && c->mtime_ns == want->mtime_ns &&
	    c->ctime_ns == want->ctime_ns && c->mode == want->mode;
}

static const char *
restore_opaque_name(int user)
{
	return user ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

/* Marks or unmarks a directory as opaque. */
static int
restore_opaque(struct restore *r, const struct mentry *want, int was,
    char **cause)
{
	const char *name;
	char *path;
	int pfd, rc = 0, error = 0;

	if (want->opaque == was)
		return 0;
	pfd = dirtree_parent_open(&r->parent, want->path, want->pathlen,
	    &name);
	if (pfd == -1)
		return restore_fail(r, "open the directory of", want, errno,
		    cause);
	path = dirtree_proc_path(pfd, name);
	if (want->opaque)
		rc = lsetxattr(path, restore_opaque_name(r->userxattr), "y", 1,
		    0);
	else {
		/* Either name may carry it; unprivileged, trusted.* is
		 * invisible (ENODATA) or refused (EPERM). */
		if (lremovexattr(path, restore_opaque_name(1)) != 0 &&
		    errno != ENODATA)
			error = errno;
		if (lremovexattr(path, restore_opaque_name(0)) != 0 &&
		    errno != ENODATA && errno != EPERM)
			error = errno;
		rc = error != 0 ? -1 : 0;
		errno = error;
	}
	error = errno;
	free(path);
	if (rc != 0)
		return restore_fail(r, want->opaque ? "mark opaque" :
		    "unmark opaque", want, error, cause);
	return 0;
}

static int
restore_make(struct restore *r, const struct mentry *want, char **cause)
{
	const char *name;
	int pfd, rc = 0;

	pfd = dirtree_parent_open(&r->parent, want->path, want->pathlen,
	    &name);
	if (pfd == -1)
		return restore_fail(r, "open the directory of", want, errno,
		    cause);
	switch (want->kind) {
	case MENTRY_DIR:
		rc = mkdirat(pfd, name, 0700);
		break;
	case MENTRY_SYMLINK:
		rc = symlinkat(want->target, pfd, name);
		break;
	case MENTRY_WHITEOUT:
		/* Unprivileged since Linux 5.8, for whiteouts only. */
		rc = mknodat(pfd, name, S_IFCHR | (want->mode & 07777),
		    makedev(0, 0));
		break;
	default:
		break;
	}
	if (rc != 0)
		return restore_fail(r, "create", want, errno, cause);
	return 0;
}

/*
 * Fifos and sockets the agent made come back as they were; devices never
 * do (and could not be made without privileges): they stay out.
 */
static int
restore_special(struct restore *r, const struct mentry *want, char **cause)
{
	const char *name;
	int pfd;

	if (!S_ISFIFO(want->mode) && !S_ISSOCK(want->mode))
		return 0;
	pfd = dirtree_parent_open(&r->parent, want->path, want->pathlen, &name);
	if (pfd == -1 || mknodat(pfd, name, want->mode & (S_IFMT | 0777), 0) != 0)
		return restore_fail(r, "make", want, errno, cause);
	return 0;
}

static int
restore_create_one(struct restore *r, size_t i, char **cause)
{
	const struct mentry *want = &r->m->v[i];
	const struct mentry *c = manifest_find(&r->cur, want->path,
	    want->pathlen);

	if (c != NULL && c->kind == MENTRY_ABSENT)
		c = NULL;
	switch (want->kind) {
	case MENTRY_FILE:
		if (!want->has_content || restore_unchanged(c, want))
			return 0;
		r->made[i] = 1;
		return restore_file(r, want, cause);
	case MENTRY_DIR:
		if (c == NULL) {
			r->made[i] = 1;
			if (restore_make(r, want, cause) != 0)
				return -1;
		}
		return restore_opaque(r, want, c == NULL ? 0 : c->opaque, cause);
	case MENTRY_SYMLINK:
	case MENTRY_WHITEOUT:
		if (c != NULL)
			return 0;
		r->made[i] = 1;
		return restore_make(r, want, cause);
	case MENTRY_SPECIAL:
		if (c != NULL)
			return 0;
		return restore_special(r, want, cause);
	default:
		return 0;
	}
}

/* Puts a directory's (or a new entry's) mode and mtime back. */
static int
restore_meta_one(struct restore *r, size_t i, char **cause)
{
	const struct mentry *want = &r->m->v[i];
	struct timespec times[2] = {
		{ 0, UTIME_OMIT },
		{ want->mtime_ns / 1000000000, want->mtime_ns % 1000000000 },
	};
	const char *name;
	struct stat sb;
	int pfd;

	if (want->kind == MENTRY_FILE || want->kind == MENTRY_SPECIAL ||
	    (want->kind != MENTRY_DIR && !r->made[i]))
		return 0;
	pfd = dirtree_parent_open(&r->parent, want->path, want->pathlen,
	    &name);
	if (pfd == -1 || fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return restore_fail(r, "stat", want, errno, cause);
	if (want->kind != MENTRY_SYMLINK &&
	    (sb.st_mode & 07777) != (want->mode & 07777) &&
	    fchmodat(pfd, name, want->mode & 07777, 0) != 0)
		return restore_fail(r, "chmod", want, errno, cause);
	if ((sb.st_mtim.tv_sec != times[1].tv_sec ||
	    sb.st_mtim.tv_nsec != times[1].tv_nsec) &&
	    utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW) != 0)
		return restore_fail(r, "set the time of", want, errno, cause);
	return 0;
}

static int
restore_run(struct restore *r, char **cause)
{
	size_t i;

	if (restore_check(r->m, cause) != 0 ||
	    dirtree_scan(r->rootfd, r->upper, DIRTREE_UPPER | DIRTREE_OPEN_UP,
	    NULL, NULL, &r->cur, cause) != 0 ||
	    restore_remove_pass(r, cause) != 0)
		return -1;
	r->made = xcalloc(r->m->n, 1);
	dirtree_parent_reset(&r->parent);
	for (i = 0; i < r->m->n; i++) {
		if (restore_create_one(r, i, cause) != 0)
			return -1;
	}
	dirtree_parent_reset(&r->parent);
	for (i = r->m->n; i-- > 0;) {
		if (restore_meta_one(r, i, cause) != 0)
			return -1;
	}
	return 0;
}

int
restore_upper(struct store *st, const char *upper, const struct manifest *m,
    int userxattr, char **cause)
{
	struct restore r;
	int rc;

	memset(&r, 0, sizeof r);
	r.st = st;
	r.upper = upper;
	r.userxattr = userxattr;
	r.m = m;
	r.rootfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.rootfd == -1) {
		*cause = xasprintf("cannot open the scratch %s: %s", upper,
		    strerror(errno));
		return -1;
	}
	dirtree_parent_init(&r.parent, r.rootfd);
	rc = restore_run(&r, cause);
	dirtree_parent_reset(&r.parent);
	manifest_free(&r.cur);
	free(r.made);
	close(r.rootfd);
	return rc;
}
