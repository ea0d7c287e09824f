/*
 * Directory trees written by an untrusted program, read through directory
 * fds: names may hold any byte, paths may be longer than PATH_MAX, symlinks
 * point anywhere and are never followed, fifos are never opened.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define DIRTREE_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | \
	RESOLVE_NO_MAGICLINKS)

/* One openat2 of a piece shorter than PATH_MAX. */
static int
dirtree_openat2(int dirfd, const char *piece, size_t len, int flags)
{
	struct open_how how;
	char *copy = xstrndup(piece, len);
	int fd, tries = 0;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = DIRTREE_RESOLVE;
	do
		fd = (int)syscall(SYS_openat2, dirfd, copy, &how, sizeof how);
	while (fd == -1 && (errno == EINTR || errno == EAGAIN) && ++tries < 8);
	free(copy);
	return fd;
}

/*
 * Without openat2 (before Linux 5.6, or under valgrind): one component at a
 * time with O_NOFOLLOW, refusing "." and "..", which is as strict.
 */
static int
dirtree_open_walk(int rootfd, const char *path, size_t len, int flags)
{
	int fd = rootfd, next, error;
	size_t n;

	for (;;) {
		char *name;
		int last;

		for (n = 0; n < len && path[n] != '/'; n++)
			;
		last = n == len;
		if (n == 0 || (n == 1 && path[0] == '.') ||
		    (n == 2 && path[0] == '.' && path[1] == '.')) {
			next = -1;
			error = EXDEV;
		} else {
			name = xstrndup(path, n);
			next = openat(fd, name, O_CLOEXEC | O_NOFOLLOW |
			    (last ? flags : O_PATH | O_DIRECTORY));
			error = errno;
			free(name);
		}
		if (fd != rootfd)
			close(fd);
		fd = next;
		errno = error;
		if (fd == -1 || last)
			return fd;
		path += n + 1;
		len -= n + 1;
	}
}

static int dirtree_no_openat2;

int
dirtree_open(int rootfd, const char *path, size_t len, int flags)
{
	int fd = rootfd, next, error;
	size_t len0;

	if (len == 0)
		return openat(rootfd, ".", flags | O_CLOEXEC);
	if (dirtree_no_openat2)
		return dirtree_open_walk(rootfd, path, len, flags);
	len0 = len;
	while (len > 0) {
		size_t piece = len;
		int last = 1;

		if (len >= PATH_MAX) {
			/* Stop at the last slash that keeps the piece short. */
			piece = PATH_MAX - 1;
			while (piece > 0 && path[piece] != '/')
				piece--;
			if (piece == 0) {
				errno = ENAMETOOLONG;
				break;
			}
			last = 0;
		}
		next = dirtree_openat2(fd, path, piece,
		    last ? flags : O_PATH | O_DIRECTORY);
		error = errno;
		if (next == -1 && error == ENOSYS) {
			dirtree_no_openat2 = 1;
			if (fd != rootfd)
				close(fd);
			return dirtree_open_walk(rootfd, path - (len0 - len),
			    len0, flags);
		}
		if (fd != rootfd)
			close(fd);
		fd = next;
		errno = error;
		if (fd == -1 || last)
			return fd;
		path += piece + 1;
		len -= piece + 1;
	}
	error = errno;
	if (fd != rootfd)
		close(fd);
	errno = error;
	return -1;
}

char *
dirtree_proc_path(int dirfd, const char *name)
{
	return xasprintf("/proc/self/fd/%d/%s", dirfd, name);
}

/* dirtree_stat: leave a directory's opaque marker for later (dirtree_read
 * reads it from the directory's fd when it lists it). */
#define DIRTREE_LATER_OPAQUE 0x100
#define DIRTREE_NONE ((size_t)-1)
#define DIRTREE_LIST_SIZE (32 * 1024)

/* 1 when the entry has the xattr (with value "y" when want_y). */
static int
dirtree_xattr(int dirfd, const char *name, const char *attr, int want_y)
{
	char *path = dirtree_proc_path(dirfd, name), value[8];
	ssize_t n = lgetxattr(path, attr, value, sizeof value);

	free(path);
	if (n < 0)
		return 0;
	return !want_y || (n == 1 && value[0] == 'y');
}

static int
dirtree_xattr_any(int dirfd, const char *name, const char *suffix, int want_y)
{
	char trusted[64], user[64];

	snprintf(trusted, sizeof trusted, "trusted.overlay.%s", suffix);
	snprintf(user, sizeof user, "user.overlay.%s", suffix);
	return dirtree_xattr(dirfd, name, trusted, want_y) ||
	    dirtree_xattr(dirfd, name, user, want_y);
}

static char *
dirtree_readlink(int dirfd, const char *name, size_t hint)
{
	size_t size = hint < 64 ? 64 : hint + 1;

	for (;;) {
		char *p = xmalloc(size);
		ssize_t n = readlinkat(dirfd, name, p, size);

		if (n < 0) {
			free(p);
			return NULL;
		}
		if ((size_t)n < size) {
			p[n] = '\0';
			return p;
		}
		free(p);
		size *= 2;
	}
}

static int64_t
dirtree_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int dirtree_stat_sb(int, const char *, int, struct mentry *,
    struct stat *, char **);

int
dirtree_stat(int dirfd, const char *name, int flags, struct mentry *e,
    char **cause)
{
	struct stat sb;

	return dirtree_stat_sb(dirfd, name, flags & ~DIRTREE_LATER_OPAQUE, e,
	    &sb, cause);
}

/* dirtree_stat, and the stat itself in *sb. */
static int
dirtree_stat_sb(int dirfd, const char *name, int flags, struct mentry *e,
    struct stat *sbp, char **cause)
{
	struct stat sb;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 1;
		*cause = xasprintf("cannot stat: %s", strerror(errno));
		return -1;
	}
	e->mode = sb.st_mode;
	e->size = (uint64_t)sb.st_size;
	e->mtime_ns = dirtree_ns(&sb.st_mtim);
	e->ctime_ns = dirtree_ns(&sb.st_ctim);
	e->ino = sb.st_ino;
	e->opaque = 0;
	e->has_content = 0;
	memset(e->hash, 0, HASH_LEN);
	e->target = NULL;
	e->rdev = 0;
	if (S_ISREG(sb.st_mode)) {
		e->kind = MENTRY_FILE;
		if ((flags & DIRTREE_UPPER) && sb.st_size == 0 &&
		    dirtree_xattr_any(dirfd, name, "whiteout", 0))
			e->kind = MENTRY_WHITEOUT;
	} else if (S_ISDIR(sb.st_mode)) {
		e->kind = MENTRY_DIR;
		e->size = 0;
		if ((flags & DIRTREE_UPPER) && !(flags & DIRTREE_LATER_OPAQUE))
			e->opaque = dirtree_xattr_any(dirfd, name, "opaque", 1);
	} else if (S_ISLNK(sb.st_mode)) {
		e->kind = MENTRY_SYMLINK;
		e->target = dirtree_readlink(dirfd, name, (size_t)sb.st_size);
		if (e->target == NULL) {
			if (errno == ENOENT)
				return 1;
			*cause = xasprintf("cannot read the link: %s",
			    strerror(errno));
			return -1;
		}
		e->size = strlen(e->target);
	} else if (S_ISCHR(sb.st_mode) && sb.st_rdev == 0 &&
	    (flags & DIRTREE_UPPER)) {
		e->kind = MENTRY_WHITEOUT;
		e->size = 0;
	} else {
		e->kind = MENTRY_SPECIAL;
		e->size = 0;
		e->rdev = sb.st_rdev;
	}
	*sbp = sb;
	return 0;
}

/* A directory to read, and the ones opened up to be put back. */
struct dirtree_dir {
	char *path;
	size_t len;
	mode_t mode;
	uid_t uid;
	size_t index;    /* its entry in the manifest, DIRTREE_NONE: the root */
};
struct dirtree_walk {
	int rootfd;
	int flags;
	uid_t euid;
	const char *shown;
	struct buf *note;
	struct dirtree_dir *todo;
	size_t ntodo;
	struct dirtree_undo *undo;
	char *list;      /* getdents64's buffer */
};

/* What getdents64 returns (the kernel's struct linux_dirent64). */
struct dirtree_dirent {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void
dirtree_push(struct dirtree_walk *w, const char *path, size_t len,
    const struct stat *sb, size_t index)
{
	struct dirtree_dir *d;

	w->todo = xreallocarray(w->todo, w->ntodo + 1, sizeof *w->todo);
	d = &w->todo[w->ntodo++];
	d->path = xmemdup(path, len + 1);
	d->len = len;
	d->mode = sb == NULL ? 0 : sb->st_mode;
	d->uid = sb == NULL ? 0 : sb->st_uid;
	d->index = index;
}

static int
dirtree_chmod_fd(int fd, mode_t mode)
{
	char *path = xasprintf("/proc/self/fd/%d", fd);
	int rc = chmod(path, mode & 07777);

	free(path);
	return rc;
}

/* Adds u+rx (u+rwx to stay) to a directory of ours we cannot use. */
static int
dirtree_open_up(struct dirtree_walk *w, const struct dirtree_dir *d)
{
	struct stat sb;
	mode_t add = (w->flags & DIRTREE_OPEN_UP) ? 0700 : 0500;
	int fd, rc, error;

	fd = dirtree_open(w->rootfd, d->path, d->len,
	    O_PATH | O_DIRECTORY | O_NOFOLLOW);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) != 0 || sb.st_uid != geteuid() ||
	    (sb.st_mode & add) == add) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	rc = dirtree_chmod_fd(fd, (sb.st_mode | add) & 07777);
	error = errno;
	close(fd);
	if (rc == 0) {
		struct dirtree_undo *u = w->undo;

		u->v = xreallocarray(u->v, u->n + 1, sizeof *u->v);
		u->v[u->n].path = xmemdup(d->path, d->len + 1);
		u->v[u->n].len = d->len;
		u->v[u->n].mode = sb.st_mode;
		u->n++;
	}
	errno = error;
	return rc;
}

static int
dirtree_open_dir(struct dirtree_walk *w, const struct dirtree_dir *d)
{
	int need = R_OK | X_OK | ((w->flags & DIRTREE_OPEN_UP) ? W_OK : 0);
	mode_t bits = 0500 | ((w->flags & DIRTREE_OPEN_UP) ? 0200 : 0);
	int fd, tries, mine;

	/* Its owner's bits decide for its owner: no need to ask. */
	mine = d->uid == w->euid && (d->mode & bits) == bits;
	for (tries = 0; tries < 2; tries++) {
		fd = dirtree_open(w->rootfd, d->path, d->len,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd != -1 && (d->len == 0 || (tries == 0 && mine) ||
		    faccessat(fd, ".", need, AT_EACCESS) == 0))
			return fd;
		if (fd != -1)
			close(fd);
		else if (errno != EACCES)
			return -1;
		if (tries == 0 && dirtree_open_up(w, d) != 0)
			break;
	}
	errno = EACCES;
	return -1;
}

void
dirtree_undo(int rootfd, struct dirtree_undo *u)
{
	while (u->n > 0) {
		struct dirtree_undo_dir *d = &u->v[--u->n];
		int fd = dirtree_open(rootfd, d->path, d->len,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW);

		if (fd != -1) {
			dirtree_chmod_fd(fd, d->mode);
			close(fd);
		}
		free(d->path);
	}
	free(u->v);
	u->v = NULL;
}

static int
dirtree_fail(struct dirtree_walk *w, const char *what, const char *path,
    size_t len, const char *why, char **cause)
{
	struct buf q = BUF_INIT;

	manifest_quote(&q, path, len);
	*cause = xasprintf("%s %s/%s: %s", what, w->shown, q.data, why);
	buf_free(&q);
	return -1;
}

/* The opaque marker of the directory open at fd: one flistxattr, which
 * finds nothing on almost every directory. */
static int
dirtree_fd_opaque(int fd)
{
	static const char *const names[] = { "trusted.overlay.opaque",
	    "user.overlay.opaque" };
	char list[1024], value[8];
	ssize_t n = flistxattr(fd, list, sizeof list - 1), at;
	size_t i;
	int found;

	if (n == 0 || (n < 0 && errno != ERANGE))
		return 0;
	if (n > 0)
		list[n] = '\0';
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		found = n < 0;   /* a long list: ask for each */
		for (at = 0; !found && at < n; at += (ssize_t)strlen(list + at) + 1)
			found = strcmp(list + at, names[i]) == 0;
		if (found && fgetxattr(fd, names[i], value, sizeof value) == 1 &&
		    value[0] == 'y')
			return 1;
	}
	return 0;
}

/* The opaque marker of a directory that could not be opened. */
static int
dirtree_path_opaque(struct dirtree_walk *w, const struct dirtree_dir *d)
{
	struct dirtree_parent p;
	const char *name;
	int pfd, opaque = 0;

	dirtree_parent_init(&p, w->rootfd);
	pfd = dirtree_parent_open(&p, d->path, d->len, &name);
	if (pfd != -1)
		opaque = dirtree_xattr_any(pfd, name, "opaque", 1);
	dirtree_parent_reset(&p);
	return opaque;
}

/* Reads one directory's entries into m and queues its subdirectories. */
static int
dirtree_read(struct dirtree_walk *w, struct dirtree_dir *d,
    struct manifest *m, char **cause)
{
	struct buf path = BUF_INIT;
	struct dirtree_dirent *de;
	struct mentry e;
	struct stat sb;
	char *why = NULL;
	long n = 0, at = 0;
	int fd, rc = 0, flags = w->flags | DIRTREE_LATER_OPAQUE;

	fd = dirtree_open_dir(w, d);
	if ((w->flags & DIRTREE_UPPER) && d->index != DIRTREE_NONE)
		m->v[d->index].opaque = fd != -1 ? dirtree_fd_opaque(fd) :
		    dirtree_path_opaque(w, d);
	if (fd == -1) {
		/* Gone or replaced since it was listed: the next walk sees it. */
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0;
		if (w->note != NULL && errno == EACCES) {
			buf_addstr(w->note, "cannot read directory ");
			manifest_quote(w->note, d->path, d->len);
			buf_addstr(w->note, ": permission denied\n");
			return 0;
		}
		return dirtree_fail(w, "cannot open", d->path, d->len,
		    strerror(errno), cause);
	}
	for (;;) {
		if (at >= n) {
			n = syscall(SYS_getdents64, fd, w->list,
			    DIRTREE_LIST_SIZE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			at = 0;
		}
		de = (struct dirtree_dirent *)(w->list + at);
		at += de->d_reclen;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		buf_reset(&path);
		if (d->len > 0) {
			buf_add(&path, d->path, d->len);
			buf_addch(&path, '/');
		}
		buf_addstr(&path, de->d_name);
		rc = dirtree_stat_sb(fd, de->d_name, flags, &e, &sb, &why);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc != 0) {
			dirtree_fail(w, "cannot read", path.data, path.len, why,
			    cause);
			free(why);
			break;
		}
		e.path = path.data;
		e.pathlen = path.len;
		manifest_add(m, &e);
		free(e.target);
		if (e.kind == MENTRY_DIR)
			dirtree_push(w, path.data, path.len, &sb, m->n - 1);
	}
	if (rc == 0 && n < 0)
		rc = dirtree_fail(w, "cannot read", d->path, d->len,
		    strerror(errno), cause);
	close(fd);
	buf_free(&path);
	return rc;
}

int
dirtree_scan(int rootfd, const char *shown, int flags, struct buf *note,
    struct dirtree_undo *undo, struct manifest *m, char **cause)
{
	struct dirtree_undo own = { NULL, 0 };
	struct dirtree_walk w;
	struct dirtree_dir d;
	int rc = 0;

	memset(&w, 0, sizeof w);
	w.rootfd = rootfd;
	w.flags = flags;
	w.euid = geteuid();
	w.shown = shown;
	w.note = note;
	w.undo = undo != NULL ? undo : &own;
	w.list = xmalloc(DIRTREE_LIST_SIZE);
	m->v = NULL;
	m->n = 0;
	dirtree_push(&w, "", 0, NULL, DIRTREE_NONE);
	while (w.ntodo > 0) {
		d = w.todo[--w.ntodo];
		if (rc == 0)
			rc = dirtree_read(&w, &d, m, cause);
		free(d.path);
	}
	free(w.todo);
	free(w.list);
	if (flags & DIRTREE_OPEN_UP) {
		while (own.n > 0)
			free(own.v[--own.n].path);
		free(own.v);
	} else
		dirtree_undo(rootfd, &own);
	if (rc != 0) {
		manifest_free(m);
		return -1;
	}
	manifest_sort(m);
	return 0;
}

void
dirtree_parent_init(struct dirtree_parent *p, int rootfd)
{
	p->rootfd = rootfd;
	p->fd = -1;
	p->error = 0;
	p->path = NULL;
	p->len = 0;
	p->nup = 0;
}

/* Closes the open ancestors below the first keep. */
static void
dirtree_parent_pop(struct dirtree_parent *p, size_t keep)
{
	while (p->nup > keep)
		close(p->up[--p->nup]);
}

/* Forgets the last result but keeps the ancestors. */
static void
dirtree_parent_drop(struct dirtree_parent *p)
{
	/* A parent deeper than the ancestors kept is an fd of its own. */
	if (p->fd != -1 && p->fd != p->rootfd &&
	    (p->nup == 0 || p->fd != p->up[p->nup - 1]))
		close(p->fd);
	p->fd = -1;
	p->error = 0;
	free(p->path);
	p->path = NULL;
	p->len = 0;
}

void
dirtree_parent_reset(struct dirtree_parent *p)
{
	dirtree_parent_drop(p);
	dirtree_parent_pop(p, 0);
}

/* How many of the open ancestors (those of the last path) path[0 .. plen)
 * lies below or is. */
static size_t
dirtree_parent_common(const struct dirtree_parent *p, const char *path,
    size_t plen)
{
	size_t keep = 0, end;

	if (p->path == NULL)
		return 0;
	while (keep < p->nup) {
		end = p->upend[keep];
		if (end > plen || (end < plen && path[end] != '/') ||
		    memcmp(p->path, path, end) != 0)
			break;
		keep++;
	}
	return keep;
}

/* Opens path[at .. plen) below the nearest open ancestor, a component at a
 * time with O_NOFOLLOW (as strict as RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS:
 * no component is empty, "." or ".."); past DIRTREE_PARENT_DEPTH the rest
 * at once. The fd, or -1 with errno. */
static int
dirtree_parent_walk(struct dirtree_parent *p, const char *path, size_t at,
    size_t plen)
{
	char name[NAME_MAX + 1];
	size_t end, n;
	int dirfd, fd;

	while (at < plen) {
		dirfd = p->nup == 0 ? p->rootfd : p->up[p->nup - 1];
		if (p->nup == DIRTREE_PARENT_DEPTH)
			return dirtree_open(dirfd, path + at, plen - at,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW);
		for (end = at; end < plen && path[end] != '/'; end++)
			;
		n = end - at;
		if (n == 0 || (n == 1 && path[at] == '.') ||
		    (n == 2 && path[at] == '.' && path[at + 1] == '.')) {
			errno = EXDEV;
			return -1;
		}
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(name, path + at, n);
		name[n] = '\0';
		fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd == -1)
			return -1;
		p->up[p->nup] = fd;
		p->upend[p->nup] = end;
		p->nup++;
		at = end + 1;
	}
	return p->nup == 0 ? p->rootfd : p->up[p->nup - 1];
}

int
dirtree_parent_open(struct dirtree_parent *p, const char *path, size_t len,
    const char **name)
{
	size_t plen = len, keep;

	while (plen > 0 && path[plen - 1] != '/')
		plen--;
	*name = path + plen;
	if (plen > 0)
		plen--;   /* the slash */
	if (p->path != NULL && p->len == plen &&
	    memcmp(p->path, path, plen) == 0) {
		if (p->fd == -1)
			errno = p->error;
		return p->fd;
	}
	keep = dirtree_parent_common(p, path, plen);
	dirtree_parent_drop(p);
	dirtree_parent_pop(p, keep);
	p->path = xmemdup(path, plen);
	p->len = plen;
	p->fd = dirtree_parent_walk(p, path, keep == 0 ? 0 :
	    p->upend[keep - 1] + 1, plen);
	if (p->fd == -1)
		p->error = errno;
	return p->fd;
}
