#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The changes of a session come from its scratch (the overlay's upper dir)
 * alone. The scan walks upper and looks every path up in the real tree; it
 * reads a real directory's listing only below an opaque directory or a
 * deletion, so its cost grows with what the agent changed.
 *
 * Upper was written by an untrusted program: names hold any byte, paths may
 * be longer than PATH_MAX and nesting arbitrarily deep, so the walk is
 * iterative, goes through directory fds only, never follows a symlink, and
 * keeps at most SCAN_FD_WINDOW levels of fds open (deeper levels are closed
 * while below them and reopened through ".." with an inode check).
 */

#define SCAN_FD_WINDOW 64
#define SCAN_CHUNK (64 * 1024)

struct scan_side {
	int	 fd;       /* -1 when absent or closed for now */
	int	 present;
	dev_t	 dev;
	ino_t	 ino;
};

struct scan_frame {
	struct scan_side u, r;
	int		 list_real;  /* opaque or deleted: real entries count */
	int		 r_path;     /* r.fd is O_PATH (lookups only) */
	char		*name;       /* in the parent; NULL for the root */
	char		**names;     /* upper's names, plus real's when list_real */
	size_t		 nnames;
	size_t		 next;
	size_t		 pathlen;
	size_t		 first;      /* changes when the frame began */
	int		 has_self;   /* list the directory when nothing below is */
	struct change	 self;
};

struct scan {
	struct changes		*out;
	size_t			 outcap;
	struct buf		 path;
	struct scan_frame	*v;
	size_t			 n;
	size_t			 cap;
	char			*chunk[2];
	char			**cause;
};

static enum entry_type
scan_type(mode_t mode)
{
	if (S_ISREG(mode))
		return ENTRY_FILE;
	if (S_ISDIR(mode))
		return ENTRY_DIR;
	if (S_ISLNK(mode))
		return ENTRY_SYMLINK;
	return ENTRY_SPECIAL;
}

/* Sets *cause to "what PATH: why" for the current path. */
static int
scan_fail_why(struct scan *scan, const char *what, const char *why)
{
	struct buf	q = BUF_INIT;

	if (scan->path.len == 0)
		buf_addstr(&q, ".");
	else
		quote_path(&q, scan->path.data, scan->path.len, 0);
	*scan->cause = xasprintf("%s %s: %s", what, q.data, why);
	buf_free(&q);
	return -1;
}

static int
scan_fail(struct scan *scan, const char *what, int error)
{
	return scan_fail_why(scan, what, strerror(error));
}

static int
scan_open_real(int dirfd, const char *name, int flags)
{
	struct open_how	how;
	int		fd;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
	if (fd == -1 && errno == ENOSYS)
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static struct change *
scan_emit(struct scan *scan, enum change_kind kind, const struct stat *old,
    const struct stat *new)
{
	struct change	*c;

	if (scan->out->n == scan->outcap) {
		scan->outcap = scan->outcap ? scan->outcap * 2 : 64;
		scan->out->v = xreallocarray(scan->out->v, scan->outcap,
		    sizeof *scan->out->v);
	}
	c = &scan->out->v[scan->out->n++];
	memset(c, 0, sizeof *c);
	c->path = xmemdup(scan->path.data, scan->path.len + 1);
	c->pathlen = scan->path.len;
	c->kind = kind;
	c->old_type = ENTRY_NONE;
	c->new_type = ENTRY_NONE;
	if (old != NULL) {
		c->old_type = scan_type(old->st_mode);
		c->old_mode = old->st_mode;
		if (!S_ISDIR(old->st_mode))
			c->old_size = old->st_size;
	}
	if (new != NULL) {
		c->new_type = scan_type(new->st_mode);
		c->new_mode = new->st_mode;
		if (!S_ISDIR(new->st_mode))
			c->new_size = new->st_size;
	}
	return c;
}

static int
scan_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the names in the directory fd to *names (the fd stays open). */
static int
scan_read_dir(struct scan *scan, int fd, char ***names, size_t *n,
    size_t *cap)
{
	DIR		*d;
	struct dirent	*de;
	int		 dfd, error;

	if ((dfd = dup(fd)) == -1)
		return scan_fail(scan, "cannot read directory", errno);
	if ((d = fdopendir(dfd)) == NULL) {
		error = errno;
		close(dfd);
		return scan_fail(scan, "cannot read directory", error);
	}
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*names = xreallocarray(*names, *cap, sizeof **names);
		}
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	error = errno;
	closedir(d);
	if (error != 0)
		return scan_fail(scan, "cannot read directory", error);
	return 0;
}

/* Lists the frame's entries: upper's, and real's when they count. */
static int
scan_list(struct scan *scan, struct scan_frame *f)
{
	size_t	cap = 0, i, j;

	if (f->u.fd != -1 &&
	    scan_read_dir(scan, f->u.fd, &f->names, &f->nnames, &cap) != 0)
		return -1;
	if (f->list_real && f->r.fd != -1 &&
	    scan_read_dir(scan, f->r.fd, &f->names, &f->nnames, &cap) != 0)
		return -1;
	if (f->nnames == 0)
		return 0;
	qsort(f->names, f->nnames, sizeof *f->names, scan_name_cmp);
	for (i = 1, j = 0; i < f->nnames; i++) {
		if (strcmp(f->names[i], f->names[j]) == 0)
			free(f->names[i]);
		else
			f->names[++j] = f->names[i];
	}
	f->nnames = j + 1;
	return 0;
}

static void
scan_side_set(struct scan_side *s, int fd)
{
	struct stat	st;

	s->fd = fd;
	s->present = fd != -1;
	if (fd != -1 && fstat(fd, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
}

/*
 * Pushes a directory: ufd and rfd are its fds in upper and the real tree
 * (-1 when absent), owned by the frame from now on. self, when not NULL,
 * is the change to list for the directory if nothing below it is listed.
 */
static int
scan_push(struct scan *scan, int ufd, int rfd, int list_real, int r_path,
    const char *name, const struct change *self)
{
	struct scan_frame	*f, *parent;

	if (scan->n == scan->cap) {
		scan->cap = scan->cap ? scan->cap * 2 : 16;
		scan->v = xreallocarray(scan->v, scan->cap, sizeof *scan->v);
	}
	f = &scan->v[scan->n++];
	memset(f, 0, sizeof *f);
	scan_side_set(&f->u, ufd);
	scan_side_set(&f->r, rfd);
	f->list_real = list_real;
	f->r_path = r_path;
	f->name = name != NULL ? xstrdup(name) : NULL;
	f->pathlen = scan->path.len;
	f->first = scan->out->n;
	if (self != NULL) {
		f->has_self = 1;
		f->self = *self;
	}

	/* Deep below the window, the parent's fds wait closed. */
	if (scan->n >= 2 && scan->n - 2 >= SCAN_FD_WINDOW) {
		parent = &scan->v[scan->n - 2];
		if (parent->u.fd != -1) {
			close(parent->u.fd);
			parent->u.fd = -1;
		}
		if (parent->r.fd != -1) {
			close(parent->r.fd);
			parent->r.fd = -1;
		}
	}
	return scan_list(scan, f);
}

/* Reopens a closed side of frame i, from its child's ".." or by name. */
static int
scan_reopen(struct scan *scan, size_t i, int real)
{
	struct scan_frame	*f = &scan->v[i], *child = &scan->v[i + 1];
	struct scan_side	*s = real ? &f->r : &f->u;
	struct scan_side	*cs = real ? &child->r : &child->u;
	struct scan_side	*as;
	struct stat		 st;
	int			 flags = O_RDONLY | O_DIRECTORY, fd, next;
	size_t			 j, k;

	if (real && f->r_path)
		flags = O_PATH | O_DIRECTORY;
	if (cs->fd != -1)
		fd = openat(cs->fd, "..", flags | O_CLOEXEC);
	else {
		/* The root's fds are never closed, so this finds one. */
		for (j = i; j > 0; j--) {
			as = real ? &scan->v[j - 1].r : &scan->v[j - 1].u;
			if (as->fd != -1)
				break;
		}
		if (j == 0)
			fatalx("scan lost the root directory");
		fd = dup(as->fd);
		for (k = j; k <= i && fd != -1; k++) {
			next = scan_open_real(fd, scan->v[k].name,
			    k == i ? flags : (O_PATH | O_DIRECTORY));
			close(fd);
			fd = next;
		}
	}
	if (fd == -1)
		return scan_fail(scan, "cannot reopen directory above", errno);
	if (fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
		close(fd);
		return scan_fail(scan, "directory moved during the scan above",
		    ESTALE);
	}
	s->fd = fd;
	return 0;
}

static void
scan_frame_free(struct scan_frame *f)
{
	size_t	i;

	if (f->u.fd != -1)
		close(f->u.fd);
	if (f->r.fd != -1)
		close(f->r.fd);
	for (i = f->next; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	free(f->name);
}

/* Ends the top frame: lists the directory itself when nothing below was. */
static int
scan_pop(struct scan *scan)
{
	struct scan_frame	*f = &scan->v[scan->n - 1], *parent;
	struct change		*c;
	size_t			 i;
	int			 error = 0;

	scan->path.len = f->pathlen;
	scan->path.data[scan->path.len] = '\0';
	if (f->has_self && scan->out->n == f->first) {
		c = scan_emit(scan, f->self.kind, NULL, NULL);
		c->old_type = f->self.old_type;
		c->old_mode = f->self.old_mode;
		c->new_type = f->self.new_type;
		c->new_mode = f->self.new_mode;
	}
	if (scan->n >= 2) {
		i = scan->n - 2;
		parent = &scan->v[i];
		if (parent->u.present && parent->u.fd == -1)
			error = scan_reopen(scan, i, 0);
		if (error == 0 && parent->r.present && parent->r.fd == -1)
			error = scan_reopen(scan, i, 1);
		scan->path.len = parent->pathlen;
		scan->path.data[scan->path.len] = '\0';
	}
	scan_frame_free(f);
	scan->n--;
	return error;
}

/* 1 when the xattr in the open fd has exactly the value want. */
static int
scan_xattr_is(int fd, const char *name, const char *want)
{
	char		v[8];
	ssize_t		n;

	n = fgetxattr(fd, name, v, sizeof v);
	return n >= 0 && (size_t)n == strlen(want) &&
	    memcmp(v, want, (size_t)n) == 0;
}

static int
scan_xattr_has(int fd, const char *name)
{
	return fgetxattr(fd, name, NULL, 0) >= 0;
}

/* 1 when the name in dir fd is a whiteout (0:0 device, or an xwhiteout). */
static int
scan_is_whiteout(int dirfd, const char *name, const struct stat *st)
{
	int	fd, yes;

	if (S_ISCHR(st->st_mode))
		return st->st_rdev == makedev(0, 0);
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return 0;
	fd = openat(dirfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	yes = scan_xattr_has(fd, "trusted.overlay.whiteout") ||
	    scan_xattr_has(fd, "user.overlay.whiteout");
	close(fd);
	return yes;
}

/*
 * Compares two regular files by content, in chunks. 0 when equal, 1 when
 * they differ or cannot be read (a file the caller cannot read is shown as
 * a change rather than hidden), -1 on other errors.
 */
static int
scan_same_content(struct scan *scan, int ufd, int rfd, const char *name)
{
	int	fd[2], i, result = 1;
	ssize_t	n[2], r;
	size_t	got;

	fd[0] = openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	fd[1] = scan_open_real(rfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd[0] == -1 || fd[1] == -1)
		goto out;
	if (scan_xattr_has(fd[0], "trusted.overlay.metacopy") ||
	    scan_xattr_has(fd[0], "user.overlay.metacopy")) {
		result = scan_fail_why(scan, "cannot compare", "a metacopy "
		    "file (the overlay must be mounted with metacopy=off)");
		goto out;
	}
	for (;;) {
		for (i = 0; i < 2; i++) {
			got = 0;
			while (got < SCAN_CHUNK) {
				r = read(fd[i], scan->chunk[i] + got,
				    SCAN_CHUNK - got);
				if (r == -1 && errno == EINTR)
					continue;
				if (r == -1) {
					result = scan_fail(scan, "cannot read",
					    errno);
					goto out;
				}
				if (r == 0)
					break;
				got += (size_t)r;
			}
			n[i] = (ssize_t)got;
		}
		if (n[0] != n[1] ||
		    memcmp(scan->chunk[0], scan->chunk[1], (size_t)n[0]) != 0)
			goto out;
		if (n[0] < SCAN_CHUNK) {
			result = 0;
			goto out;
		}
	}
out:
	for (i = 0; i < 2; i++) {
		if (fd[i] != -1)
			close(fd[i]);
	}
	return result;
}

/* 0 when both symlinks point at the same target, 1 when not, -1 on error. */
static int
scan_same_target(struct scan *scan, int ufd, int rfd, const char *name)
{
	ssize_t	n[2];

	n[0] = readlinkat(ufd, name, scan->chunk[0], SCAN_CHUNK);
	if (n[0] == -1)
		return scan_fail(scan, "cannot read symlink", errno);
	n[1] = readlinkat(rfd, name, scan->chunk[1], SCAN_CHUNK);
	if (n[1] == -1)
		return 1;
	if (n[0] != n[1] ||
	    memcmp(scan->chunk[0], scan->chunk[1], (size_t)n[0]) != 0)
		return 1;
	return 0;
}

static int
scan_perms_differ(const struct stat *a, const struct stat *b)
{
	return (a->st_mode & 07777) != (b->st_mode & 07777);
}

/* A real path that is gone from the merged view: list what it held. */
static int
scan_deleted(struct scan *scan, int rdirfd, const char *name,
    const struct stat *rst)
{
	struct change	self;
	int		fd;

	if (!S_ISDIR(rst->st_mode)) {
		scan_emit(scan, CHANGE_DELETED, rst, NULL);
		return 0;
	}
	if ((fd = scan_open_real(rdirfd, name, O_RDONLY | O_DIRECTORY)) == -1)
		return scan_fail(scan, "cannot open real directory", errno);
	memset(&self, 0, sizeof self);
	self.kind = CHANGE_DELETED;
	self.old_type = ENTRY_DIR;
	self.old_mode = rst->st_mode;
	return scan_push(scan, -1, fd, 1, 0, name, &self);
}

/* Real entries below a path that upper replaced by a non-directory. */
static int
scan_replaced_dir(struct scan *scan, int rdirfd, const char *name)
{
	int	fd;

	if ((fd = scan_open_real(rdirfd, name, O_RDONLY | O_DIRECTORY)) == -1)
		return scan_fail(scan, "cannot open real directory", errno);
	return scan_push(scan, -1, fd, 1, 0, name, NULL);
}

static int
scan_dir(struct scan *scan, struct scan_frame *f, const char *name,
    const struct stat *ust, const struct stat *rst)
{
	struct change	self;
	int		ufd, rfd = -1, opaque, list_real, flags;

	ufd = openat(f->u.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (ufd == -1)
		return scan_fail(scan, "cannot open scratch directory", errno);
	if (scan_xattr_has(ufd, "trusted.overlay.redirect") ||
	    scan_xattr_has(ufd, "user.overlay.redirect")) {
		close(ufd);
		return scan_fail_why(scan, "cannot scan", "a redirected "
		    "directory (the overlay must be mounted with "
		    "redirect_dir=nofollow)");
	}
	opaque = scan_xattr_is(ufd, "trusted.overlay.opaque", "y") ||
	    scan_xattr_is(ufd, "user.overlay.opaque", "y");

	if (rst != NULL && S_ISDIR(rst->st_mode)) {
		if (scan_perms_differ(ust, rst))
			scan_emit(scan, CHANGE_MODE, rst, ust);
		/* Below an opaque directory, nothing of the real one shows. */
		list_real = f->list_real || opaque;
		flags = list_real ? O_RDONLY | O_DIRECTORY : O_PATH | O_DIRECTORY;
		if ((rfd = scan_open_real(f->r.fd, name, flags)) == -1) {
			close(ufd);
			return scan_fail(scan, "cannot open real directory",
			    errno);
		}
		/* f is invalid once scan_push grows the stack. */
		return scan_push(scan, ufd, rfd, list_real, !list_real, name,
		    NULL);
	}
	if (rst != NULL) {
		scan_emit(scan, CHANGE_TYPE, rst, ust);
		return scan_push(scan, ufd, -1, 0, 0, name, NULL);
	}
	memset(&self, 0, sizeof self);
	self.kind = CHANGE_ADDED;
	self.new_type = ENTRY_DIR;
	self.new_mode = ust->st_mode;
	return scan_push(scan, ufd, -1, 0, 0, name, &self);
}

/* A file, symlink or special file in upper, against the real path. */
static int
scan_nondir(struct scan *scan, struct scan_frame *f, const char *name,
    const struct stat *ust, const struct stat *rst)
{
	int	differ;

	if (rst == NULL) {
		scan_emit(scan, CHANGE_ADDED, NULL, ust);
		return 0;
	}
	if ((ust->st_mode & S_IFMT) != (rst->st_mode & S_IFMT) ||
	    (scan_type(ust->st_mode) == ENTRY_SPECIAL &&
	    ust->st_rdev != rst->st_rdev)) {
		scan_emit(scan, CHANGE_TYPE, rst, ust);
		if (S_ISDIR(rst->st_mode))
			return scan_replaced_dir(scan, f->r.fd, name);
		return 0;
	}
	differ = 0;
	if (S_ISREG(ust->st_mode)) {
		if (ust->st_size != rst->st_size)
			differ = 1;
		else
			differ = scan_same_content(scan, f->u.fd, f->r.fd, name);
	} else if (S_ISLNK(ust->st_mode))
		differ = scan_same_target(scan, f->u.fd, f->r.fd, name);
	if (differ == -1)
		return -1;
	if (differ)
		scan_emit(scan, CHANGE_MODIFIED, rst, ust);
	else if (!S_ISLNK(ust->st_mode) && scan_perms_differ(ust, rst))
		scan_emit(scan, CHANGE_MODE, rst, ust);
	return 0;
}

static int
scan_lstat(struct scan *scan, int dirfd, const char *name, struct stat *st,
    const char *what)
{
	if (dirfd == -1)
		return 1;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno == ENOENT || errno == ENOTDIR)
		return 1;
	return scan_fail(scan, what, errno);
}

/* Handles the next name of the top frame. */
static int
scan_next(struct scan *scan)
{
	struct scan_frame	*f = &scan->v[scan->n - 1];
	struct stat		 ust, rst;
	char			*name;
	int			 hu, hr = 1, error = -1;

	name = f->names[f->next++];
	scan->path.len = f->pathlen;
	if (scan->path.len != 0)
		buf_addch(&scan->path, '/');
	buf_addstr(&scan->path, name);

	/* 0 found, 1 absent, -1 error. */
	hu = scan_lstat(scan, f->u.fd, name, &ust, "cannot stat scratch");
	if (hu != -1)
		hr = scan_lstat(scan, f->r.fd, name, &rst, "cannot stat real");
	if (hu == -1 || hr == -1)
		goto out;
	error = 0;
	if (hu != 0) {
		/* Only in the real tree, below an opaque dir or a deletion. */
		if (hr == 0 && f->list_real)
			error = scan_deleted(scan, f->r.fd, name, &rst);
	} else if (scan_is_whiteout(f->u.fd, name, &ust)) {
		if (hr == 0)
			error = scan_deleted(scan, f->r.fd, name, &rst);
	} else if (S_ISDIR(ust.st_mode))
		error = scan_dir(scan, f, name, &ust, hr == 0 ? &rst : NULL);
	else
		error = scan_nondir(scan, f, name, &ust, hr == 0 ? &rst : NULL);
out:
	free(name);
	return error;
}

static int
change_cmp(const void *a, const void *b)
{
	const struct change	*ca = a, *cb = b;

	return strcmp(ca->path, cb->path);
}

int
changes_scan(const char *upper, const char *tree, struct changes *changes,
    char **cause)
{
	struct scan	scan;
	int		ufd, rfd, error = 0;

	memset(changes, 0, sizeof *changes);
	memset(&scan, 0, sizeof scan);
	scan.out = changes;
	scan.cause = cause;
	buf_init(&scan.path);

	ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd == -1) {
		*cause = xasprintf("cannot open scratch %s: %s", upper,
		    strerror(errno));
		return -1;
	}
	rfd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd == -1) {
		*cause = xasprintf("cannot open %s: %s", tree, strerror(errno));
		close(ufd);
		return -1;
	}
	scan.chunk[0] = xmalloc(SCAN_CHUNK);
	scan.chunk[1] = xmalloc(SCAN_CHUNK);

	/* The root is never opaque: overlayfs ignores the mark there. */
	error = scan_push(&scan, ufd, rfd, 0, 1, NULL, NULL);
	while (error == 0 && scan.n > 0) {
		if (scan.v[scan.n - 1].next < scan.v[scan.n - 1].nnames)
			error = scan_next(&scan);
		else
			error = scan_pop(&scan);
	}
	while (scan.n > 0)
		scan_frame_free(&scan.v[--scan.n]);
	free(scan.v);
	free(scan.chunk[0]);
	free(scan.chunk[1]);
	buf_free(&scan.path);
	if (error != 0) {
		changes_free(changes);
		return -1;
	}
	if (changes->n > 1)
		qsort(changes->v, changes->n, sizeof *changes->v, change_cmp);
	return 0;
}

void
changes_free(struct changes *changes)
{
	size_t	i;

	for (i = 0; i < changes->n; i++)
		free(changes->v[i].path);
	free(changes->v);
	changes->v = NULL;
	changes->n = 0;
}

char
change_letter(const struct change *c)
{
	switch (c->kind) {
	case CHANGE_ADDED:
		return 'A';
	case CHANGE_DELETED:
		return 'D';
	case CHANGE_TYPE:
		return 'T';
	case CHANGE_MODIFIED:
	case CHANGE_MODE:
		break;
	}
	return 'M';
}

const char *
change_name(const struct change *c)
{
	switch (c->kind) {
	case CHANGE_ADDED:
		return "added";
	case CHANGE_DELETED:
		return "deleted";
	case CHANGE_TYPE:
		return "type";
	case CHANGE_MODE:
		return "mode";
	case CHANGE_MODIFIED:
		break;
	}
	return "modified";
}

/*
 * Paths whose content runs code or changes how tools behave: git's hooks
 * and config (of the repository and of submodules), shell start-up files,
 * direnv, CI definitions, editor and dev-container settings that run tasks,
 * and git hook managers. Matched per component so nested projects count.
 */
static const char *change_risky_names[] = {
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout",
	".bash_aliases", ".profile", ".zshrc", ".zshenv", ".zprofile",
	".zlogin", ".zlogout", ".cshrc", ".tcshrc", ".kshrc", ".mkshrc",
	".envrc", ".direnvrc", ".exrc", ".nvimrc", ".nvim.lua", ".vimrc",
	".gitlab-ci.yml", ".travis.yml", ".pre-commit-config.yaml",
	"config.fish",
};
static const char *change_risky_dirs[] = {
	".vscode", ".idea", ".devcontainer", ".husky", ".circleci",
};

static int
change_risky_path(const char *path)
{
	const char	*base, *p;
	size_t		 i;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	for (i = 0; i < sizeof change_risky_names / sizeof *change_risky_names;
	    i++) {
		if (strcmp(base, change_risky_names[i]) == 0)
			return 1;
	}
	/* Walk the components: what follows a .git, .github or editor dir. */
	for (p = path; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, ".git/", 5) == 0) {
			if (strncmp(p + 5, "hooks/", 6) == 0 ||
			    strcmp(p + 5, "config") == 0 ||
			    strcmp(p + 5, "hooks") == 0)
				return 1;
			/* Submodules keep their own hooks and config. */
			if (strncmp(p + 5, "modules/", 8) == 0 &&
			    (strcmp(base, "config") == 0 ||
			    strstr(p + 13, "/hooks/") != NULL))
				return 1;
		}
		if (strncmp(p, ".github/workflows/", 18) == 0 ||
		    strncmp(p, ".github/actions/", 16) == 0)
			return 1;
		for (i = 0; i < sizeof change_risky_dirs /
		    sizeof *change_risky_dirs; i++) {
			size_t	len = strlen(change_risky_dirs[i]);

			if (strncmp(p, change_risky_dirs[i], len) == 0 &&
			    p[len] == '/')
				return 1;
		}
	}
	return 0;
}

int
change_is_risky(const struct change *c)
{
	mode_t	gained;

	if (change_risky_path(c->path))
		return 1;
	if (c->new_type != ENTRY_FILE)
		return 0;
	/* An exec, setuid or setgid bit the file did not have before. */
	gained = c->new_mode & (0111 | S_ISUID | S_ISGID);
	if (c->old_type == ENTRY_FILE)
		gained &= ~c->old_mode;
	return gained != 0;
}
