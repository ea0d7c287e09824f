/*
 * Copies of the real tree that a rollback made in the scratch.
 *
 * A running session is rolled back through the merged view, and an overlay
 * gives no way to drop what its upper dir holds: a path made the real
 * tree's again is copied there from the real tree. The checkpoint a
 * rollback appends stands for the checkpoint rolled back to, which has no
 * entry for such a path (the real tree shows through); so it takes each
 * copy out of its manifest once the copy is found equal to the real tree's
 * entry (content, mode, link target, a directory's names), and keeps the
 * copy's stat and the real entry's (entries under CKPT_COPIES and
 * CKPT_COPIES_REAL). The checkpoints after it take a copy out again as long
 * as neither stat moved (inode, size, mtime, ctime, mode: the rule a
 * checkpoint reuses an entry by); once one did, the copy is recorded as any
 * scratch entry is, and so is everything below a directory that is no
 * longer a copy (it hides the real tree's).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define COPIES_CHUNK (128 * 1024)

/* What one entry of the scanned scratch is to the copies. */
enum copy_state {
	COPY_NONE,   /* no copy: recorded as it is */
	COPY_TAKEN,  /* a copy, taken out of the manifest */
	COPY_KEPT,   /* was a copy, or under a root, and is not one now */
};

static int
copies_load_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct manifest *m = arg;
	struct mentry e;
	int gone;

	/* a corrupt record is no copy: the path is recorded as it is */
	if (mentry_decode(key, klen, val, vlen, &e, &gone) != 0)
		return 0;
	(void)cause;
	if (!gone)
		manifest_add(m, &e);
	mentry_free(&e);
	return 0;
}

int
copies_load(struct index_txn *t, uint32_t owner, struct copies *c,
    char **cause)
{
	unsigned char prefix[8];

	memset(c, 0, sizeof *c);
	be32_put(prefix, owner);
	be32_put(prefix + 4, CKPT_COPIES);
	if (index_walk(t, INDEX_ENTRIES, prefix, sizeof prefix, 0,
	    copies_load_fn, &c->up, cause) != 0)
		return -1;
	be32_put(prefix + 4, CKPT_COPIES_REAL);
	if (index_walk(t, INDEX_ENTRIES, prefix, sizeof prefix, 0,
	    copies_load_fn, &c->real, cause) != 0)
		return -1;
	manifest_sort(&c->up);
	manifest_sort(&c->real);
	return 0;
}

void
copies_free(struct copies *c)
{
	manifest_free(&c->up);
	manifest_free(&c->real);
	manifest_free(&c->new_up);
	manifest_free(&c->new_real);
	manifest_free(&c->gone);
	manifest_free(&c->bases);
}

/* The stat a checkpoint reuses an entry by, and the kind and mode. */
static int
copies_same_stat(const struct mentry *a, const struct mentry *b)
{
	if (a->kind != b->kind || a->mode != b->mode || a->ino != b->ino ||
	    a->size != b->size || a->mtime_ns != b->mtime_ns ||
	    a->ctime_ns != b->ctime_ns)
		return 0;
	if (a->kind == MENTRY_SYMLINK)
		return a->target != NULL && b->target != NULL &&
		    strcmp(a->target, b->target) == 0;
	return 1;
}

static int
copies_stat_moved(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_size != b->st_size ||
	    a->st_mode != b->st_mode ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
	    a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
	    a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

/* e's stat is that of sb (the scan's view of the same entry). */
static int
copies_is_scanned(const struct mentry *e, const struct stat *sb)
{
	struct mentry s;

	memset(&s, 0, sizeof s);
	s.kind = e->kind;
	s.mode = sb->st_mode;
	s.ino = sb->st_ino;
	/* as a scan records it: a directory's size is 0 */
	s.size = S_ISDIR(sb->st_mode) ? 0 : (uint64_t)sb->st_size;
	s.mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 +
	    sb->st_mtim.tv_nsec;
	s.ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 +
	    sb->st_ctim.tv_nsec;
	s.target = e->target;
	return copies_same_stat(e, &s);
}

static int
copies_read_full(int fd, char *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, off + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* 1 when two open files of size bytes hold the same bytes, else 0; hash
 * (unless NULL) gets their SHA-256. */
static int
copies_same_bytes(int a, int b, uint64_t size, unsigned char *hash)
{
	char *x = xmalloc(COPIES_CHUNK), *y = xmalloc(COPIES_CHUNK);
	struct hash_ctx *h = hash != NULL ? hash_new() : NULL;
	uint64_t off = 0;
	int same = 1;

	while (same && off < size) {
		size_t n = size - off < COPIES_CHUNK ? (size_t)(size - off) :
		    COPIES_CHUNK;

		if (copies_read_full(a, x, n, (off_t)off) != 0 ||
		    copies_read_full(b, y, n, (off_t)off) != 0 ||
		    memcmp(x, y, n) != 0)
			same = 0;
		else if (h != NULL)
			hash_update(h, x, n);
		off += n;
	}
	if (h != NULL) {
		hash_final(h, hash);
		hash_free(h);
	}
	free(x);
	free(y);
	return same;
}

static int
copies_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
copies_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The names in a directory, sorted; -1 when it cannot be read. */
static int
copies_names(int fd, char ***names, size_t *n)
{
	struct dirent *d;
	DIR *dir;
	int dup_fd = dup(fd);

	*names = NULL;
	*n = 0;
	if (dup_fd < 0)
		return -1;
	if ((dir = fdopendir(dup_fd)) == NULL) {
		close(dup_fd);
		return -1;
	}
	rewinddir(dir);
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		*names = xreallocarray(*names, *n + 1, sizeof **names);
		(*names)[(*n)++] = xstrdup(d->d_name);
	}
	if (errno != 0) {
		closedir(dir);
		copies_names_free(*names, *n);
		return -1;
	}
	closedir(dir);
	if (*n > 1)
		qsort(*names, *n, sizeof **names, copies_name_cmp);
	return 0;
}


/* 1 when two open directories hold the same names, else 0. */
static int
copies_same_names(int a, int b)
{
	char **x, **y;
	size_t nx, ny, i;
	int same;

	if (copies_names(a, &x, &nx) != 0)
		return 0;
	if (copies_names(b, &y, &ny) != 0) {
		copies_names_free(x, nx);
		return 0;
	}
	same = nx == ny;
	for (i = 0; same && i < nx; i++)
		same = strcmp(x[i], y[i]) == 0;
	copies_names_free(x, nx);
	copies_names_free(y, ny);
	return same;
}

/*
 * Compares the scratch's entry e (as scanned) with the real tree's entry at
 * its path: 1 and *real filled when e is an exact copy of it (and neither
 * moved while they were compared), else 0 (also when either cannot be
 * read: then it is no copy).
 */
static int
copies_compare(const struct mentry *e, int upperfd,
    struct dirtree_parent *lowerp, int want_hash, struct mentry *real)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct stat ua, ub, la, lb;
	const char *name;
	char *why = NULL;
	int u = -1, l = -1, pfd, rc, same = 0;

	memset(real, 0, sizeof *real);
	pfd = dirtree_parent_open(lowerp, e->path, e->pathlen, &name);
	if (pfd == -1)
		return 0;
	rc = dirtree_stat(pfd, name, 0, real, &why);
	if (rc < 0) {
		/* a real entry that cannot be looked at is no copy's */
		free(why);
		return 0;
	}
	if (rc == 1 || real->kind != e->kind || real->mode != e->mode)
		goto out;
	if (e->kind == MENTRY_SYMLINK) {
		same = real->target != NULL && e->target != NULL &&
		    strcmp(real->target, e->target) == 0;
		goto out;
	}
	if (e->kind == MENTRY_FILE && real->size != e->size)
		goto out;
	if (e->kind == MENTRY_DIR)
		flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	u = dirtree_open(upperfd, e->path, e->pathlen, flags);
	l = openat(pfd, name, flags);
	if (u == -1 || l == -1 || fstat(u, &ua) != 0 || fstat(l, &la) != 0 ||
	    !copies_is_scanned(e, &ua) || !copies_is_scanned(real, &la))
		goto out;
	same = e->kind == MENTRY_FILE ? copies_same_bytes(u, l, e->size,
	    want_hash ? real->hash : NULL) : copies_same_names(u, l);
	if (same && (fstat(u, &ub) != 0 || fstat(l, &lb) != 0 ||
	    copies_stat_moved(&ua, &ub) || copies_stat_moved(&la, &lb)))
		same = 0;
out:
	if (u != -1)
		close(u);
	if (l != -1)
		close(l);
	if (!same)
		mentry_free(real);
	return same;
}

/* The real tree's entry at e's path is still as recorded. */
static int
copies_real_unmoved(const struct mentry *e, const struct mentry *rec,
    struct dirtree_parent *lowerp)
{
	struct mentry now;
	const char *name;
	char *why = NULL;
	int pfd, same;

	pfd = dirtree_parent_open(lowerp, e->path, e->pathlen, &name);
	if (pfd == -1)
		return 0;
	memset(&now, 0, sizeof now);
	if (dirtree_stat(pfd, name, 0, &now, &why) != 0) {
		free(why);
		mentry_free(&now);
		return 0;
	}
	same = copies_same_stat(&now, rec);
	mentry_free(&now);
	return same;
}

/* path is root or below it. */
static int
copies_below(const char *path, size_t len, const char *root)
{
	size_t rlen = strlen(root);

	return len >= rlen && memcmp(path, root, rlen) == 0 &&
	    (len == rlen || path[rlen] == '/');
}

/* The entry of m for each directory above e, nearest first, passed to fn
 * with its index; fn returns 1 to stop. */
static void
copies_ancestors(const struct manifest *m, const struct mentry *e,
    int (*fn)(size_t, void *), void *arg)
{
	size_t len;

	for (len = e->pathlen; len > 0; len--) {
		const struct mentry *a;

		if (e->path[len - 1] != '/')
			continue;
		a = manifest_find(m, e->path, len - 1);
		if (a != NULL && fn((size_t)(a - m->v), arg))
			return;
	}
}

struct copies_mark {
	enum copy_state *state;
	const struct manifest *m;
	int found;
};

static int
copies_demote_fn(size_t i, void *arg)
{
	struct copies_mark *k = arg;

	if (k->state[i] == COPY_TAKEN)
		k->state[i] = COPY_KEPT;
	return 0;
}

/* An ancestor that stays in the manifest and hides the real tree below
 * it (kept, or an opaque directory that is no copy): nothing below it is
 * taken out, else the manifest would say it holds nothing there. */
static int
copies_kept_fn(size_t i, void *arg)
{
	struct copies_mark *k = arg;

	k->found = k->state[i] == COPY_KEPT ||
	    (k->state[i] == COPY_NONE && k->m->v[i].opaque);
	return k->found;
}

/* Whether e is a copy to take out, on its own; *is_fresh when it was
 * found one by comparing it now (fresh: the real entry). */
static enum copy_state
copies_judge(struct copies *c, const struct mentry *e,
    struct dirtree_parent *lowerp, int upperfd, const char *const *roots,
    size_t nroots, const struct copies_bases *bases, struct mentry *fresh,
    int *is_fresh)
{
	const struct mentry *up = manifest_find(&c->up, e->path, e->pathlen);
	const struct mentry *real = manifest_find(&c->real, e->path,
	    e->pathlen);
	size_t j;
	int root = 0;

	*is_fresh = 0;
	for (j = 0; j < nroots && !root; j++)
		root = copies_below(e->path, e->pathlen, roots[j]);
	if (up == NULL && !root)
		return COPY_NONE;
	if (e->kind != MENTRY_FILE && e->kind != MENTRY_DIR &&
	    e->kind != MENTRY_SYMLINK)
		return COPY_KEPT;
	if (up != NULL && real != NULL && copies_same_stat(e, up) &&
	    copies_real_unmoved(e, real, lowerp))
		return COPY_TAKEN;
	if (!root)
		return COPY_KEPT;
	*is_fresh = copies_compare(e, upperfd, lowerp, e->kind == MENTRY_FILE &&
	    !bases->has(bases->arg, e), fresh);
	return *is_fresh ? COPY_TAKEN : COPY_KEPT;
}

int
copies_filter(struct copies *c, struct manifest *m, int upperfd,
    struct dirtree_parent *lowerp, const char *const *roots, size_t nroots,
    const struct copies_bases *bases, size_t *taken, char **cause)
{
	struct copies_mark k;
	enum copy_state *state;
	struct mentry *fresh;
	unsigned char *isfresh;
	size_t i, n = 0;
	int is_fresh;

	*taken = 0;
	if (lowerp->rootfd == -1 || (c->up.n == 0 && nroots == 0))
		return 0;
	state = xcalloc(m->n == 0 ? 1 : m->n, sizeof *state);
	fresh = xcalloc(m->n == 0 ? 1 : m->n, sizeof *fresh);
	isfresh = xcalloc(m->n == 0 ? 1 : m->n, 1);
	/* each on its own, parents before children */
	for (i = 0; i < m->n; i++) {
		state[i] = copies_judge(c, &m->v[i], lowerp, upperfd, roots,
		    nroots, bases, &fresh[i], &is_fresh);
		isfresh[i] = (unsigned char)is_fresh;
	}
	/* a directory is taken out only with all below it: one that holds
	 * anything else is kept (its copy is opaque, or may be), and so is
	 * everything below a kept one */
	k.state = state;
	k.m = m;
	for (i = 0; i < m->n; i++) {
		if (state[i] != COPY_TAKEN)
			copies_ancestors(m, &m->v[i], copies_demote_fn, &k);
	}
	for (i = 0; i < m->n; i++) {
		if (state[i] != COPY_TAKEN)
			continue;
		k.found = 0;
		copies_ancestors(m, &m->v[i], copies_kept_fn, &k);
		if (k.found)
			state[i] = COPY_KEPT;
	}
	for (i = 0; i < m->n; i++) {
		struct mentry *e = &m->v[i];

		if (state[i] == COPY_KEPT &&
		    manifest_find(&c->up, e->path, e->pathlen) != NULL)
			manifest_add(&c->gone, e);
		if (state[i] == COPY_TAKEN && isfresh[i]) {
			manifest_add(&c->new_up, e);
			fresh[i].path = e->path;  /* borrowed for the copies */
			fresh[i].pathlen = e->pathlen;
			manifest_add(&c->new_real, &fresh[i]);
			/* the real entry is the path's base, when it has none:
			 * its bytes are the copy's, hashed, not stored */
			if (!bases->has(bases->arg, e))
				manifest_add(&c->bases, &fresh[i]);
			fresh[i].path = NULL;
		}
		if (isfresh[i])
			mentry_free(&fresh[i]);
		if (state[i] == COPY_TAKEN) {
			mentry_free(e);
			(*taken)++;
		} else
			m->v[n++] = *e;
	}
	m->n = n;
	free(isfresh);
	free(fresh);
	free(state);
	(void)cause;
	return 0;
}

static int
copies_put_one(struct index_txn *t, uint32_t owner, uint32_t number,
    const struct mentry *e, struct buf *key, struct buf *val, char **cause)
{
	mentry_key(key, owner, number, e->path, e->pathlen);
	buf_reset(val);
	mentry_encode(val, e);
	return index_put(t, INDEX_ENTRIES, key->data, key->len, val->data,
	    val->len, cause);
}

int
copies_put(struct index_txn *t, uint32_t owner, const struct copies *c,
    char **cause)
{
	struct buf key = BUF_INIT, val = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < c->gone.n && rc == 0; i++) {
		const struct mentry *e = &c->gone.v[i];
		int number;

		for (number = 0; number < 2 && rc == 0; number++) {
			mentry_key(&key, owner, number == 0 ? CKPT_COPIES :
			    CKPT_COPIES_REAL, e->path, e->pathlen);
			if (index_del(t, INDEX_ENTRIES, key.data, key.len,
			    cause) < 0)
				rc = -1;
		}
	}
	for (i = 0; i < c->new_up.n && rc == 0; i++)
		rc = copies_put_one(t, owner, CKPT_COPIES, &c->new_up.v[i],
		    &key, &val, cause);
	for (i = 0; i < c->new_real.n && rc == 0; i++)
		rc = copies_put_one(t, owner, CKPT_COPIES_REAL,
		    &c->new_real.v[i], &key, &val, cause);
	buf_free(&key);
	buf_free(&val);
	return rc;
}
