/*
 * The live rollback plan: the operations that take the merged view from
 * one manifest's view of the real tree to another's. The candidates are
 * the paths of both manifests, plus the real tree's children of a
 * directory whose lower side is visible in one view and hidden in the
 * other (an opaque directory, one made anew); each candidate is looked up
 * in both views and compared, in path order so parents come first. After an
 * operation that empties or replaces a directory, what lay below it is
 * known to be gone (or copied whole) and is not looked up again.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define ROLLBACK_RECORD_VERSION 1

static const char *const rollback_kind_names[] = {
	[ROLLBACK_REMOVE] = "remove",
	[ROLLBACK_MKDIR] = "mkdir",
	[ROLLBACK_CHMOD] = "chmod",
	[ROLLBACK_FILE] = "file",
	[ROLLBACK_SYMLINK] = "symlink",
	[ROLLBACK_LOWER] = "lower",
	[ROLLBACK_SPECIAL] = "special",
};

/* What one path is in one view. */
enum view_kind {
	VIEW_ABSENT,
	VIEW_FILE,
	VIEW_DIR,
	VIEW_LINK,
	VIEW_SPECIAL,  /* a fifo or a socket of a manifest */
	VIEW_KEEP,     /* a device, a special of the real tree, or a file
			  recorded without content */
};
struct view {
	enum view_kind kind;
	uint32_t mode;            /* permission bits */
	uint64_t size;            /* files */
	uint64_t ino;             /* the real tree's: inode and times */
	int64_t mtime_ns, ctime_ns;
	const struct mentry *e;   /* the manifest's entry; NULL: the real tree */
	char *target;             /* a link of the real tree (owned) */
};

/* A path below which the current view is known after an operation. */
enum reset_kind {
	RESET_EMPTY,    /* removed, or made anew: nothing below */
	RESET_COPIED,   /* copied whole from the real tree: as it is there */
};
struct reset {
	char *path;
	enum reset_kind kind;
};

struct planner {
	const struct manifest *cur, *to;
	const struct rollback_bases *bases;  /* may be NULL */
	int lowerfd;
	const char *lower;
	char **cand;          /* candidates, sorted; processed up to next */
	size_t ncand, next;
	struct reset *resets; /* in path order */
	size_t nresets;
	struct rollback_plan *plan;
	char **cause;
};

const char *
rollback_kind_name(enum rollback_kind kind)
{
	return rollback_kind_names[kind];
}

static int
rollback_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
view_clear(struct view *v)
{
	free(v->target);
	memset(v, 0, sizeof *v);
}

/* The entry of path in m when an ancestor hides the real tree below. */
static int
rollback_hidden(const struct manifest *m, const char *path)
{
	const struct mentry *e;
	const char *slash;

	for (slash = strchr(path, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		e = manifest_find(m, path, (size_t)(slash - path));
		if (e != NULL && (e->kind != MENTRY_DIR || e->opaque))
			return 1;
	}
	return 0;
}

/* What the real tree has at path, never following a symlink. */
static int
rollback_lower_view(struct planner *p, const char *path, struct view *v)
{
	AUTOCLOSE int dir = -1;
	const char *name;
	struct stat sb;
	ssize_t n;

	dir = beneath_parent(p->lowerfd, path, &name);
	if (dir < 0 && (errno == ENOENT || errno == ENOTDIR ||
	    errno == ELOOP || errno == EXDEV))
		return 0;
	if (dir < 0 || fstatat(dir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (dir >= 0 && errno == ENOENT)
			return 0;
		*p->cause = xasprintf("cannot look at %s/%s: %s", p->lower,
		    path, strerror(errno));
		return -1;
	}
	v->mode = sb.st_mode & 07777;
	v->size = (uint64_t)sb.st_size;
	v->ino = (uint64_t)sb.st_ino;
	v->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	v->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 +
	    sb.st_ctim.tv_nsec;
	if (S_ISREG(sb.st_mode))
		v->kind = VIEW_FILE;
	else if (S_ISDIR(sb.st_mode))
		v->kind = VIEW_DIR;
	else if (S_ISLNK(sb.st_mode)) {
		v->kind = VIEW_LINK;
		v->target = xmalloc((size_t)sb.st_size + 1);
		n = readlinkat(dir, name, v->target, (size_t)sb.st_size + 1);
		if (n != sb.st_size) {
			*p->cause = xasprintf("cannot read the link %s/%s: %s",
			    p->lower, path, n < 0 ? strerror(errno) :
			    "it changed while read");
			return -1;
		}
		v->target[n] = '\0';
	} else
		v->kind = VIEW_KEEP;
	return 0;
}

/* 1 for the specials a rollback makes again: fifos and sockets. */
static int
rollback_makeable(uint32_t mode)
{
	return S_ISFIFO(mode) || S_ISSOCK(mode);
}

static void
rollback_entry_view(const struct mentry *e, struct view *v)
{
	v->e = e;
	v->mode = e->mode & 07777;
	v->size = e->size;
	switch (e->kind) {
	case MENTRY_FILE:
		v->kind = e->has_content ? VIEW_FILE : VIEW_KEEP;
		break;
	case MENTRY_DIR:
		v->kind = VIEW_DIR;
		break;
	case MENTRY_SYMLINK:
		v->kind = VIEW_LINK;
		break;
	case MENTRY_SPECIAL:
		v->kind = rollback_makeable(e->mode) ? VIEW_SPECIAL : VIEW_KEEP;
		break;
	case MENTRY_WHITEOUT:
	case MENTRY_ABSENT:
		v->kind = VIEW_ABSENT;
		break;
	}
}

/* What path is in the view of m over the real tree. 0 or -1. */
static int
rollback_view(struct planner *p, const struct manifest *m, const char *path,
    struct view *v)
{
	const struct mentry *e = manifest_find(m, path, strlen(path));

	memset(v, 0, sizeof *v);
	if (e != NULL) {
		rollback_entry_view(e, v);
		return 0;
	}
	if (rollback_hidden(m, path))
		return 0;
	return rollback_lower_view(p, path, v);
}

/* 1 when the real tree's children of path show in the view of m. */
static int
rollback_lower_shows(struct planner *p, const struct manifest *m,
    const char *path)
{
	const struct mentry *e = manifest_find(m, path, strlen(path));
	int fd;

	if (rollback_hidden(m, path))
		return 0;
	if (e != NULL && (e->kind != MENTRY_DIR || e->opaque))
		return 0;
	fd = beneath_open(p->lowerfd, path, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The reset that covers path (path itself or an ancestor), or NULL. */
static const struct reset *
rollback_reset_find(const struct planner *p, const char *path)
{
	size_t i, len;

	/* few, and the newest are the likeliest */
	for (i = p->nresets; i > 0; i--) {
		len = strlen(p->resets[i - 1].path);
		if (strncmp(path, p->resets[i - 1].path, len) == 0 &&
		    (path[len] == '\0' || path[len] == '/'))
			return &p->resets[i - 1];
	}
	return NULL;
}

static void
rollback_reset_add(struct planner *p, const char *path, enum reset_kind kind)
{
	p->resets = xreallocarray(p->resets, p->nresets + 1,
	    sizeof *p->resets);
	p->resets[p->nresets].path = xstrdup(path);
	p->resets[p->nresets++].kind = kind;
}

static struct rollback_op *
rollback_emit(struct planner *p, enum rollback_kind kind, const char *path,
    uint32_t mode)
{
	struct rollback_plan *plan = p->plan;
	struct rollback_op *op;

	plan->v = xreallocarray(plan->v, plan->n + 1, sizeof *plan->v);
	op = &plan->v[plan->n++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->path = xstrdup(path);
	op->mode = mode;
	return op;
}

/* The SHA-256 of the real tree's file at path. 0 or -1. */
static int
rollback_lower_hash(struct planner *p, const char *path,
    unsigned char hash[HASH_LEN])
{
	AUTOCLOSE int fd = beneath_open(p->lowerfd, path,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		*p->cause = xasprintf("cannot open %s/%s: %s", p->lower, path,
		    strerror(errno));
		return -1;
	}
	if (hash_fd(fd, hash, NULL) != 0) {
		*p->cause = xasprintf("cannot read %s/%s: %s", p->lower, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The hash of the real file of view v from its base, when the file is
 * still as the base recorded it (inode, size, mtime and ctime, as a
 * checkpoint reuses an entry): 1, 0 when that cannot be told, -1.
 */
static int
rollback_base_hash(struct planner *p, const char *path, const struct view *v,
    unsigned char hash[HASH_LEN])
{
	static const unsigned char zero[HASH_LEN];
	struct mentry b;
	int rc, same;

	if (p->bases == NULL)
		return 0;
	memset(&b, 0, sizeof b);
	rc = p->bases->get(p->bases->arg, path, &b, p->cause);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	/* a zero hash: the base could not be read */
	same = b.kind == MENTRY_FILE && b.ino == v->ino && b.size == v->size &&
	    b.mtime_ns == v->mtime_ns && b.ctime_ns == v->ctime_ns &&
	    memcmp(b.hash, zero, HASH_LEN) != 0;
	if (same)
		memcpy(hash, b.hash, HASH_LEN);
	mentry_free(&b);
	return same;
}

/* 1 when two file views hold the same bytes, 0 when not, -1 on error. */
static int
rollback_same_content(struct planner *p, const char *path,
    const struct view *a, const struct view *b)
{
	unsigned char hash[HASH_LEN];
	int rc;

	if (a->e == NULL && b->e == NULL)
		return 1;
	if (a->e != NULL && b->e != NULL)
		return memcmp(a->e->hash, b->e->hash, HASH_LEN) == 0;
	/* Files of different sizes differ: no need to hash the real one. */
	if (a->size != b->size)
		return 0;
	rc = rollback_base_hash(p, path, a->e == NULL ? a : b, hash);
	if (rc < 0)
		return -1;
	if (rc == 0 && rollback_lower_hash(p, path, hash) != 0)
		return -1;
	return memcmp(hash, a->e != NULL ? a->e->hash : b->e->hash,
	    HASH_LEN) == 0;
}

static const char *
rollback_target(const struct view *v)
{
	return v->e != NULL ? v->e->target : v->target;
}

/* Makes path a file, a link or a fifo or socket as d says (c: what is
 * there now). */
static int
rollback_leaf(struct planner *p, const char *path, const struct view *c,
    const struct view *d)
{
	struct rollback_op *op;
	int same = 0;

	if (c->kind == d->kind && d->kind == VIEW_FILE) {
		if ((same = rollback_same_content(p, path, c, d)) < 0)
			return -1;
	} else if (c->kind == d->kind && d->kind == VIEW_SPECIAL)
		same = (c->e->mode & S_IFMT) == (d->e->mode & S_IFMT);
	else if (c->kind == d->kind)
		same = strcmp(rollback_target(c), rollback_target(d)) == 0;
	if (same) {
		if (d->kind != VIEW_LINK && c->mode != d->mode)
			rollback_emit(p, ROLLBACK_CHMOD, path, d->mode);
		return 0;
	}
	if (c->kind == VIEW_DIR) {
		rollback_emit(p, ROLLBACK_REMOVE, path, 0);
		rollback_reset_add(p, path, RESET_EMPTY);
	}
	if (d->e == NULL)
		rollback_emit(p, ROLLBACK_LOWER, path, 0);
	else if (d->kind == VIEW_SPECIAL)
		rollback_emit(p, ROLLBACK_SPECIAL, path,
		    d->e->mode & (S_IFMT | 07777));
	else if (d->kind == VIEW_FILE) {
		op = rollback_emit(p, ROLLBACK_FILE, path, d->mode);
		memcpy(op->hash, d->e->hash, HASH_LEN);
	} else {
		op = rollback_emit(p, ROLLBACK_SYMLINK, path, 0);
		op->target = xstrdup(d->e->target);
	}
	return 0;
}

/* Adds the real tree's children of path to the candidates still to come. */
static int
rollback_expand(struct planner *p, const char *path)
{
	int fd = beneath_open(p->lowerfd, path, O_RDONLY | O_DIRECTORY);
	char **kids = NULL, **merged;
	size_t nkids = 0, i, j, k;
	struct dirent *d;
	DIR *dir;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		*p->cause = xasprintf("cannot read %s/%s: %s", p->lower, path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		kids = xreallocarray(kids, nkids + 1, sizeof *kids);
		kids[nkids++] = xasprintf("%s/%s", path, d->d_name);
	}
	closedir(dir);
	if (nkids > 0)
		qsort(kids, nkids, sizeof *kids, rollback_strcmp);
	/* merge into cand[next..], dropping duplicates */
	merged = xreallocarray(NULL, p->ncand + nkids, sizeof *merged);
	memcpy(merged, p->cand, p->next * sizeof *merged);
	for (i = p->next, j = 0, k = p->next; i < p->ncand || j < nkids;) {
		int c = i == p->ncand ? 1 : j == nkids ? -1 :
		    strcmp(p->cand[i], kids[j]);

		if (c <= 0)
			merged[k++] = p->cand[i++];
		if (c == 0)
			free(kids[j++]);
		else if (c > 0)
			merged[k++] = kids[j++];
	}
	free(p->cand);
	free(kids);
	p->cand = merged;
	p->ncand = k;
	return 0;
}

/* Makes path a directory as d says. */
static int
rollback_dir(struct planner *p, const char *path, const struct view *c,
    const struct view *d)
{
	int shows_now = 0;

	if (c->kind == VIEW_DIR) {
		if (c->mode != d->mode)
			rollback_emit(p, ROLLBACK_CHMOD, path, d->mode);
		shows_now = rollback_lower_shows(p, p->cur, path);
	} else {
		if (c->kind != VIEW_ABSENT) {
			rollback_emit(p, ROLLBACK_REMOVE, path, 0);
			rollback_reset_add(p, path, RESET_EMPTY);
		}
		if (d->e == NULL) {
			rollback_emit(p, ROLLBACK_LOWER, path, 0);
			rollback_reset_add(p, path, RESET_COPIED);
			return 0;
		}
		rollback_emit(p, ROLLBACK_MKDIR, path, d->mode);
		if (c->kind == VIEW_ABSENT)
			rollback_reset_add(p, path, RESET_EMPTY);
	}
	if (rollback_lower_shows(p, p->to, path) != shows_now)
		return rollback_expand(p, path);
	return 0;
}

/* Compares one candidate in both views and emits what makes them equal. */
static int
rollback_one(struct planner *p, const char *path)
{
	const struct reset *r = rollback_reset_find(p, path);
	struct view c, d;
	int rc = 0;

	if (r != NULL && r->kind == RESET_COPIED)
		return 0;
	memset(&c, 0, sizeof c);
	memset(&d, 0, sizeof d);
	if ((r == NULL && rollback_view(p, p->cur, path, &c) != 0) ||
	    rollback_view(p, p->to, path, &d) != 0) {
		view_clear(&c);
		view_clear(&d);
		return -1;
	}
	switch (d.kind) {
	case VIEW_KEEP:
		break;
	case VIEW_ABSENT:
		if (c.kind != VIEW_ABSENT) {
			rollback_emit(p, ROLLBACK_REMOVE, path, 0);
			rollback_reset_add(p, path, RESET_EMPTY);
		}
		break;
	case VIEW_FILE:
	case VIEW_LINK:
	case VIEW_SPECIAL:
		rc = rollback_leaf(p, path, &c, &d);
		break;
	case VIEW_DIR:
		rc = rollback_dir(p, path, &c, &d);
		break;
	}
	view_clear(&c);
	view_clear(&d);
	return rc;
}

static void
rollback_candidates(struct planner *p)
{
	const struct manifest *m[2] = { p->cur, p->to };
	size_t i, j, n = 0;

	p->cand = xreallocarray(NULL, p->cur->n + p->to->n + 1,
	    sizeof *p->cand);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < m[i]->n; j++) {
			if (m[i]->v[j].pathlen > 0)
				p->cand[n++] = xstrdup(m[i]->v[j].path);
		}
	}
	if (n > 0)
		qsort(p->cand, n, sizeof *p->cand, rollback_strcmp);
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && strcmp(p->cand[j - 1], p->cand[i]) == 0)
			free(p->cand[i]);
		else
			p->cand[j++] = p->cand[i];
	}
	p->ncand = j;
}

int
rollback_plan_make(const struct manifest *cur, const struct manifest *to,
    const char *lower, const struct rollback_bases *bases,
    struct rollback_plan *plan, char **cause)
{
	struct planner p;
	size_t i;
	int rc = 0;

	memset(plan, 0, sizeof *plan);
	memset(&p, 0, sizeof p);
	p.cur = cur;
	p.to = to;
	p.bases = bases;
	p.lower = lower;
	p.plan = plan;
	p.cause = cause;
	p.lowerfd = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p.lowerfd < 0) {
		*cause = xasprintf("cannot open %s: %s", lower, strerror(errno));
		return -1;
	}
	rollback_candidates(&p);
	for (p.next = 0; p.next < p.ncand && rc == 0;) {
		const char *path = p.cand[p.next++];

		rc = rollback_one(&p, path);
	}
	for (i = 0; i < p.ncand; i++)
		free(p.cand[i]);
	free(p.cand);
	for (i = 0; i < p.nresets; i++)
		free(p.resets[i].path);
	free(p.resets);
	close(p.lowerfd);
	if (rc != 0)
		rollback_plan_free(plan);
	return rc;
}

void
rollback_op_clear(struct rollback_op *op)
{
	free(op->path);
	free(op->target);
	memset(op, 0, sizeof *op);
}

void
rollback_plan_free(struct rollback_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->n; i++)
		rollback_op_clear(&plan->v[i]);
	free(plan->v);
	memset(plan, 0, sizeof *plan);
}

void
rollback_op_encode(struct buf *b, const struct rollback_op *op)
{
	rec_put_u64(b, ROLLBACK_RECORD_VERSION);
	rec_put_u64(b, op->kind);
	rec_put_u64(b, op->mode);
	rec_put_str(b, op->path);
	rec_put_bytes(b, op->hash, HASH_LEN);
	rec_put_str(b, op->target);
}

/* A relative path without empty, "." or ".." components. */
static int
rollback_path_ok(const char *path)
{
	const char *p = path, *end;
	size_t len;

	if (*path == '\0' || *path == '/')
		return 0;
	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (*end == '\0')
			return 1;
		p = end + 1;
	}
}

/* Permission bits, and for a special the type of a fifo or a socket. */
static int
rollback_mode_ok(uint64_t kind, uint64_t mode)
{
	if (kind != ROLLBACK_SPECIAL)
		return mode <= 07777;
	return (mode & ~(uint64_t)(S_IFMT | 07777)) == 0 &&
	    ((mode & S_IFMT) == S_IFIFO || (mode & S_IFMT) == S_IFSOCK);
}

int
rollback_op_decode(const void *data, size_t len, struct rollback_op *op,
    char **cause)
{
	struct rec_reader r;
	uint64_t version, kind, mode;
	const void *hash;
	size_t hlen;

	memset(op, 0, sizeof *op);
	rec_reader_init(&r, data, len);
	version = rec_get_u64(&r);
	kind = rec_get_u64(&r);
	mode = rec_get_u64(&r);
	op->path = rec_get_str(&r);
	hash = rec_get_bytes(&r, &hlen);
	op->target = rec_get_str(&r);
	if (r.error || r.left != 0 || version != ROLLBACK_RECORD_VERSION ||
	    kind > ROLLBACK_SPECIAL || !rollback_mode_ok(kind, mode) ||
	    hlen != HASH_LEN ||
	    op->path == NULL || !rollback_path_ok(op->path) ||
	    (kind == ROLLBACK_SYMLINK) != (op->target != NULL) ||
	    (op->target != NULL && op->target[0] == '\0')) {
		*cause = xstrdup("a malformed rollback operation");
		rollback_op_clear(op);
		return -1;
	}
	op->kind = (enum rollback_kind)kind;
	op->mode = (uint32_t)mode;
	memcpy(op->hash, hash, HASH_LEN);
	return 0;
}
