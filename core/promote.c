/*
 * Promotion: copying chosen changes of the scratch into the real tree, so
 * that nothing the user had is ever lost and nothing is written outside
 * the tree whatever the agent left in the scratch.
 *
 * The whole promotion is planned before anything is written (conflicts
 * stop it). Then it is recorded in one transaction: the plan (the state
 * each path should reach) in "promotions", the real tree's state of each
 * path it changes as pins (content in blobs; a directory it removes with
 * everything below), and a journal entry. Contents are then staged in a
 * directory at the tree's root and synced once; removals, directories,
 * renames and links follow in path order, through directory fds that never
 * follow a symlink; one more sync, and the journal entry goes. A promotion
 * found in the journal with nobody holding its session's promote.lock was
 * interrupted: the next airlock finishes it, path by path, leaving alone
 * what the user changed meanwhile. Unpromote is a promotion whose plan is
 * an earlier promotion's record, so it is journaled and undoable too.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define PROMOTE_VERSION 1
#define PROMOTE_KEY_LEN 8          /* owner + number */
#define PROMOTE_TEXT_MAX ((size_t)64 << 20)  /* merges and hunks in memory */
#define PROMOTE_DEPTH_MAX 4096
/* Up to this many paths, each staged file and each directory touched is
 * synced on its own; above, two syncfs calls are cheaper (but they wait
 * for every other writer of the file system too). */
#define PROMOTE_FSYNC_MAX 64

/* States of a promotion record. */
#define PSTATE_WRITING 1
#define PSTATE_DONE 2
#define PSTATE_UNDONE 3           /* a later unpromote restored it */
#define PSTATE_RECOVERED 4        /* finished after an interruption */

/* Item flags. */
#define PI_TREE 0x1               /* removing a directory takes what is below */
#define PI_MERGED 0x2             /* content of a three-way merge */
#define PI_PARTIAL 0x4            /* some hunks only */
#define PI_IMPLICIT 0x8           /* a missing parent directory */
#define PI_STRIPPED 0x10          /* setuid/setgid dropped */
#define PI_FORCED 0x20            /* a conflict resolved with --theirs */

struct pitem {
	char *path;
	size_t len;
	struct mentry want;       /* ABSENT, FILE, DIR or SYMLINK */
	uint32_t flags;
	/* while applying */
	int stage;                /* staged as this number, or -1 */
	int skip;                 /* nothing to do, or left alone */
	struct mentry before;     /* as recorded */
	int has_before;
};

struct promotion {
	uint32_t owner, number;
	uint64_t state;
	int64_t time;
	uint32_t undoes;          /* the promotion this one undoes, or 0 */
	struct pitem *v;
	size_t n, cap;
};

/* What the real tree holds at a path. */
struct real {
	enum mentry_kind kind;    /* MENTRY_ABSENT, FILE, DIR, SYMLINK, SPECIAL */
	uint32_t mode;            /* st_mode */
	uint64_t size;
	unsigned char hash[HASH_LEN];  /* files, when hashed */
	int hashed;
	char *target;
	int error;                /* errno of a lookup that failed (ELOOP ...) */
};

struct pctx {
	struct store *st;
	const struct session *s;
	const char *tree;
	int treefd;
	char *upper;
	int upperfd;
	struct buf *out;
	char **cause;
	/* recording */
	struct pack_writer *pw;
	struct blob_set blobs;
	struct index_txn *rtxn;
	struct buf pins;          /* encoded pins: key len, key, val len, val */
};

static void
pitem_free(struct pitem *it)
{
	free(it->path);
	free(it->want.target);
	mentry_free(&it->before);
}

static void
promotion_free(struct promotion *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		pitem_free(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof *p);
}

static struct pitem *
promotion_add(struct promotion *p, const char *path, size_t len)
{
	struct pitem *it;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = xreallocarray(p->v, p->cap, sizeof *p->v);
	}
	it = &p->v[p->n++];
	memset(it, 0, sizeof *it);
	it->path = xmemdup(path, len + 1);
	it->path[len] = '\0';
	it->len = len;
	it->want.kind = MENTRY_ABSENT;
	it->stage = -1;
	return it;
}

static int
pitem_cmp(const void *a, const void *b)
{
	const struct pitem *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->path, y->path, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void
promote_quote(struct buf *out, const char *path, size_t len)
{
	quote_path(out, path, len, QUOTE_SPACE);
}

/* Pin names: "p0000000003/" + path (the state before promotion 3), "w..."
 * (what it wrote), "base/" + path (what airlock last knew there). */
static char *
promote_pin_name(char tag, uint32_t number, const char *path, size_t len,
    size_t *outlen)
{
	struct buf b = BUF_INIT;

	if (tag == 'b')
		buf_addstr(&b, "base/");
	else
		buf_printf(&b, "%c%010u/", tag, number);
	buf_add(&b, path, len);
	return buf_detach(&b, outlen);
}

/* ---- the real tree ---- */

static void
real_clear(struct real *r)
{
	free(r->target);
	memset(r, 0, sizeof *r);
	r->kind = MENTRY_ABSENT;
}

/*
 * Looks at path in the real tree without following any symlink; hashes a
 * file when want_hash is set. A parent that is a symlink or not a
 * directory leaves r->error set (ELOOP, ENOTDIR, EXDEV) and the kind
 * absent. 0, or -1 with *cause on an I/O error.
 */
static int
promote_real(struct pctx *c, const char *path, int want_hash, struct real *r)
{
	AUTOCLOSE int dir = -1, fd = -1;
	const char *name;
	struct stat sb;
	ssize_t n;

	real_clear(r);
	dir = beneath_parent(c->treefd, path, &name);
	if (dir < 0) {
		if (errno == ENOENT)
			return 0;
		r->error = errno;
		if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
			return 0;
		*c->cause = xasprintf("cannot look at %s/%s: %s", c->tree,
		    path, strerror(errno));
		return -1;
	}
	if (fstatat(dir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		*c->cause = xasprintf("cannot look at %s/%s: %s", c->tree,
		    path, strerror(errno));
		return -1;
	}
	r->mode = sb.st_mode;
	r->size = (uint64_t)sb.st_size;
	if (S_ISDIR(sb.st_mode))
		r->kind = MENTRY_DIR;
	else if (S_ISLNK(sb.st_mode)) {
		r->kind = MENTRY_SYMLINK;
		r->target = xmalloc((size_t)sb.st_size + 1);
		n = readlinkat(dir, name, r->target, (size_t)sb.st_size + 1);
		if (n < 0 || n != sb.st_size) {
			*c->cause = xasprintf("cannot read the link %s/%s: %s",
			    c->tree, path, n < 0 ? strerror(errno) :
			    "it changed while read");
			return -1;
		}
		r->target[n] = '\0';
	} else if (S_ISREG(sb.st_mode)) {
		r->kind = MENTRY_FILE;
		if (!want_hash)
			return 0;
		fd = beneath_open(c->treefd, path, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
		if (fd < 0 || hash_fd(fd, r->hash, &r->size) != 0) {
			*c->cause = xasprintf("cannot read %s/%s: %s", c->tree,
			    path, strerror(errno));
			return -1;
		}
		r->hashed = 1;
	} else
		r->kind = MENTRY_SPECIAL;
	return 0;
}

/* 1 when the real state equals the entry e (a want or a before). */
static int
promote_real_is(const struct real *r, const struct mentry *e)
{
	if (r->kind != e->kind)
		return 0;
	switch (e->kind) {
	case MENTRY_ABSENT:
		return 1;
	case MENTRY_DIR:
		return (r->mode & 07777) == (e->mode & 07777);
	case MENTRY_SYMLINK:
		return e->target != NULL && strcmp(r->target, e->target) == 0;
	case MENTRY_FILE:
		return r->hashed && r->size == e->size &&
		    (r->mode & 07777) == (e->mode & 07777) &&
		    memcmp(r->hash, e->hash, HASH_LEN) == 0;
	default:
		return (r->mode & S_IFMT) == (e->mode & S_IFMT);
	}
}

/* Reads a whole file of the real tree (text for merges). */
static char *
promote_read_real(struct pctx *c, const char *path, size_t *len)
{
	AUTOCLOSE int fd = beneath_open(c->treefd, path, O_RDONLY |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct buf b = BUF_INIT;
	char chunk[65536];
	ssize_t n;

	if (fd < 0) {
		*c->cause = xasprintf("cannot open %s/%s: %s", c->tree, path,
		    strerror(errno));
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > PROMOTE_TEXT_MAX) {
			*c->cause = n < 0 ? xasprintf("cannot read %s/%s: %s",
			    c->tree, path, strerror(errno)) :
			    xasprintf("%s/%s is too big to merge", c->tree, path);
			buf_free(&b);
			return NULL;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	return buf_detach(&b, len);
}

/* ---- the record ---- */

static void
promote_key(unsigned char key[PROMOTE_KEY_LEN], uint32_t owner,
    uint32_t number)
{
	be32_put(key, owner);
	be32_put(key + 4, number);
}

static void
promotion_encode(struct buf *b, const struct promotion *p)
{
	size_t i;

	rec_put_u64(b, PROMOTE_VERSION);
	rec_put_u64(b, p->state);
	rec_put_u64(b, (uint64_t)p->time);
	rec_put_u64(b, p->undoes);
	rec_put_u64(b, p->n);
	for (i = 0; i < p->n; i++) {
		const struct pitem *it = &p->v[i];

		rec_put_bytes(b, it->path, it->len);
		rec_put_u64(b, it->want.kind);
		rec_put_u64(b, it->want.mode);
		rec_put_u64(b, it->want.size);
		rec_put_bytes(b, it->want.hash, HASH_LEN);
		rec_put_str(b, it->want.target);
		rec_put_u64(b, it->flags);
	}
}

static int
promotion_decode(const void *val, size_t vlen, struct promotion *p)
{
	struct rec_reader r;
	uint64_t version, n, i, kind;
	const void *path, *hash;
	size_t plen, hlen;
	struct pitem *it;

	rec_reader_init(&r, val, vlen);
	version = rec_get_u64(&r);
	p->state = rec_get_u64(&r);
	p->time = (int64_t)rec_get_u64(&r);
	p->undoes = (uint32_t)rec_get_u64(&r);
	n = rec_get_u64(&r);
	if (r.error || version != PROMOTE_VERSION || n > vlen)
		return -1;
	for (i = 0; i < n; i++) {
		path = rec_get_bytes(&r, &plen);
		if (path == NULL || plen == 0 || memchr(path, '\0', plen) != NULL)
			return -1;
		it = promotion_add(p, path, plen);
		kind = rec_get_u64(&r);
		it->want.mode = (uint32_t)rec_get_u64(&r);
		it->want.size = rec_get_u64(&r);
		hash = rec_get_bytes(&r, &hlen);
		it->want.target = rec_get_str(&r);
		it->flags = (uint32_t)rec_get_u64(&r);
		if (r.error || hlen != HASH_LEN || (kind != MENTRY_ABSENT &&
		    kind != MENTRY_FILE && kind != MENTRY_DIR &&
		    kind != MENTRY_SYMLINK) ||
		    (kind == MENTRY_SYMLINK) != (it->want.target != NULL))
			return -1;
		it->want.kind = (enum mentry_kind)kind;
		it->want.has_content = kind == MENTRY_FILE;
		memcpy(it->want.hash, hash, HASH_LEN);
	}
	return r.left == 0 ? 0 : -1;
}

/* Reads promotion number of owner in txn. 0, 1 when absent, -1. */
static int
promotion_get_txn(struct index_txn *txn, uint32_t owner, uint32_t number,
    struct promotion *p, char **cause)
{
	unsigned char key[PROMOTE_KEY_LEN];
	const void *val;
	size_t vlen;
	int rc;

	memset(p, 0, sizeof *p);
	promote_key(key, owner, number);
	rc = index_get(txn, INDEX_PROMOTIONS, key, sizeof key, &val, &vlen,
	    cause);
	if (rc != 0)
		return rc;
	p->owner = owner;
	p->number = number;
	if (promotion_decode(val, vlen, p) != 0) {
		promotion_free(p);
		*cause = xasprintf("promotion %u of session %u: a corrupt "
		    "record", number, owner);
		return -1;
	}
	return 0;
}

struct promote_last {
	uint32_t number;
};

static int
promote_last_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct promote_last *l = arg;

	if (klen == PROMOTE_KEY_LEN)
		l->number = be32_get((const unsigned char *)key + 4);
	return 1;
}

/* The newest promotion number of owner (0: none). */
static int
promotion_last_txn(struct index_txn *txn, uint32_t owner, uint32_t *number,
    char **cause)
{
	struct promote_last l = { 0 };
	unsigned char prefix[4];

	be32_put(prefix, owner);
	if (index_walk(txn, INDEX_PROMOTIONS, prefix, sizeof prefix, 1,
	    promote_last_fn, &l, cause) != 0)
		return -1;
	*number = l.number;
	return 0;
}

/* The pins of one prefix, as entries with the prefix stripped. */
struct pin_walk {
	size_t strip;
	struct manifest *m;
};

static int
promote_pin_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct pin_walk *w = arg;
	struct mentry e;
	int gone;

	if (mentry_decode(key, klen, val, vlen, &e, &gone) != 0 || gone ||
	    e.pathlen <= w->strip) {
		if (!gone)
			mentry_free(&e);
		*cause = xstrdup("a corrupt promotion record (pins)");
		return -1;
	}
	memmove(e.path, e.path + w->strip, e.pathlen - w->strip + 1);
	e.pathlen -= w->strip;
	manifest_add(w->m, &e);
	mentry_free(&e);
	return 0;
}

/* The real tree's state before promotion number, sorted by path. */
static int
promote_befores(struct store *st, uint32_t owner, uint32_t number,
    struct manifest *m, char **cause)
{
	struct index_txn *txn;
	struct buf key = BUF_INIT;
	struct pin_walk w;
	char *name;
	size_t nlen;
	int rc;

	memset(m, 0, sizeof *m);
	name = promote_pin_name('p', number, "", 0, &nlen);
	mentry_key(&key, owner, CKPT_PINS, name, nlen);
	w.strip = nlen;
	w.m = m;
	free(name);
	if (index_read_begin(st->index, &txn, cause) != 0) {
		buf_free(&key);
		return -1;
	}
	/* Long paths are keyed by a hash past the prefix: the prefix holds. */
	rc = index_walk(txn, INDEX_ENTRIES, key.data, key.len, 0,
	    promote_pin_fn, &w, cause);
	index_txn_abort(txn);
	buf_free(&key);
	if (rc != 0) {
		manifest_free(m);
		return -1;
	}
	manifest_sort(m);
	return 0;
}

int
promote_base(struct store *st, uint32_t owner, const char *path,
    size_t pathlen, struct mentry *e, char **cause)
{
	struct index_txn *txn;
	struct buf key = BUF_INIT;
	const void *val;
	size_t vlen, nlen;
	char *name;
	int rc, gone;

	memset(e, 0, sizeof *e);
	name = promote_pin_name('b', 0, path, pathlen, &nlen);
	mentry_key(&key, owner, CKPT_PINS, name, nlen);
	free(name);
	if (index_read_begin(st->index, &txn, cause) != 0) {
		buf_free(&key);
		return -1;
	}
	rc = index_get(txn, INDEX_ENTRIES, key.data, key.len, &val, &vlen,
	    cause);
	if (rc == 0) {
		if (mentry_decode(key.data, key.len, val, vlen, e, &gone) != 0 ||
		    gone) {
			*cause = xstrdup("a corrupt base record");
			rc = -1;
		} else {
			free(e->path);
			e->path = xmemdup(path, pathlen + 1);
			e->path[pathlen] = '\0';
			e->pathlen = pathlen;
		}
	}
	index_txn_abort(txn);
	buf_free(&key);
	if (rc == 1)
		return checkpoint_base(st, owner, path, pathlen, e, cause);
	return rc;
}

/* ---- storing content and pins ---- */

static void
promote_pin(struct pctx *c, char tag, uint32_t number, const struct mentry *e)
{
	struct buf key = BUF_INIT, val = BUF_INIT;
	struct mentry pin = *e;
	size_t nlen;
	unsigned char len[8];

	pin.path = promote_pin_name(tag, number, e->path, e->pathlen, &nlen);
	pin.pathlen = nlen;
	mentry_key(&key, c->s->id, CKPT_PINS, pin.path, nlen);
	mentry_encode(&val, &pin);
	be64_put(len, key.len);
	buf_add(&c->pins, len, 8);
	buf_add(&c->pins, key.data, key.len);
	be64_put(len, val.len);
	buf_add(&c->pins, len, 8);
	buf_add(&c->pins, val.data, val.len);
	free(pin.path);
	buf_free(&key);
	buf_free(&val);
}

/* Small files are read whole, hashed and looked up before anything is
 * compressed: what a promotion keeps is mostly stored already. */
#define PROMOTE_SMALL ((uint64_t)1 << 20)

static int
promote_store_small(struct pctx *c, int fd, uint64_t size,
    unsigned char hash[HASH_LEN])
{
	struct blob_set_item *it;
	struct blob_ref ref, old;
	char *data = xmalloc(size + 1);
	uint64_t done = 0;
	ssize_t n;
	int added, rc = -1;

	while (done <= size) {
		n = pread(fd, data + done, size + 1 - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*c->cause = xasprintf("cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
	}
	if (done != size) {
		*c->cause = xstrdup("it changed size while read");
		errno = EAGAIN;
		goto out;
	}
	hash_buffer(data, size, hash);
	it = blob_set_add(&c->blobs, hash, &added);
	if (!added) {
		rc = 0;
		goto out;
	}
	if ((rc = blob_find(c->rtxn, hash, &old, c->cause)) <= 0) {
		it->flags = 0;
		goto out;
	}
	if (pack_writer_add_data(c->pw, data, size, &ref, c->cause) != 0) {
		rc = -1;
		goto out;
	}
	it->ref = ref;
	it->flags = 1;
	rc = 0;
out:
	free(data);
	return rc;
}

/* Appends fd's size bytes as a blob unless stored; fills hash. */
static int
promote_store_fd(struct pctx *c, int fd, uint64_t size,
    unsigned char hash[HASH_LEN])
{
	struct blob_set_item *it;
	struct blob_ref ref, old;
	int added, rc;

	if (c->pw == NULL && pack_writer_open(c->st, &c->pw, c->cause) != 0)
		return -1;
	if (size <= PROMOTE_SMALL)
		return promote_store_small(c, fd, size, hash);
	if (lseek(fd, 0, SEEK_SET) != 0 || pack_writer_add(c->pw, fd, size,
	    size > CKPT_THREADS_MIN_SIZE ? session_checkpoint_threads() : 0,
	    hash, &ref, c->cause) != 0)
		return -1;
	it = blob_set_add(&c->blobs, hash, &added);
	if (!added)
		return pack_writer_undo(c->pw, &ref, c->cause);
	rc = blob_find(c->rtxn, hash, &old, c->cause);
	if (rc == 0) {
		it->flags = 0;
		return pack_writer_undo(c->pw, &ref, c->cause);
	}
	if (rc < 0)
		return -1;
	it->ref = ref;
	it->flags = 1;
	return 0;
}

/* Stores content held in memory; fills hash. */
static int
promote_store_mem(struct pctx *c, const void *data, size_t len,
    unsigned char hash[HASH_LEN])
{
	AUTOCLOSE int fd = memfd_create("airlock-promote", MFD_CLOEXEC);
	const char *p = data;
	size_t done = 0;
	ssize_t n;

	if (fd < 0) {
		*c->cause = xasprintf("memfd_create: %s", strerror(errno));
		return -1;
	}
	while (done < len) {
		n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*c->cause = xasprintf("cannot stage a merge: %s",
			    strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return promote_store_fd(c, fd, len, hash);
}

/* Records the real tree's path (and, for a directory the plan may remove,
 * all below it) as pins "p<number>/...". */
static int
promote_capture(struct pctx *c, uint32_t number, struct pitem *it,
    int depth);

static int
promote_capture_path(struct pctx *c, uint32_t number, const char *path,
    size_t len, int below, int depth, struct mentry *out)
{
	struct real r;
	struct mentry e;
	AUTOCLOSE int fd = -1;
	struct stat sb;
	int rc = -1;

	memset(&r, 0, sizeof r);
	memset(&e, 0, sizeof e);
	if (promote_real(c, path, 0, &r) != 0)
		goto out;
	e.path = (char *)path;
	e.pathlen = len;
	e.kind = r.kind;
	e.mode = r.mode;
	e.size = r.size;
	e.target = r.target;
	if (r.kind == MENTRY_FILE) {
		fd = beneath_open(c->treefd, path, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
		if (fd < 0 || fstat(fd, &sb) != 0) {
			*c->cause = xasprintf("cannot read %s/%s: %s", c->tree,
			    path, strerror(errno));
			goto out;
		}
		e.size = (uint64_t)sb.st_size;
		if (promote_store_fd(c, fd, e.size, e.hash) != 0) {
			if (errno == EAGAIN) {
				free(*c->cause);
				*c->cause = xasprintf("%s/%s changed while it was "
				    "saved: promote again", c->tree, path);
			}
			goto out;
		}
		e.has_content = 1;
	}
	promote_pin(c, 'p', number, &e);
	if (out != NULL) {
		mentry_copy(out, &e);
	}
	rc = 0;
	if (below && r.kind == MENTRY_DIR) {
		struct pitem sub;
		AUTOCLOSE int dfd = -1;
		struct dirent *d;
		DIR *list;

		if (depth > PROMOTE_DEPTH_MAX) {
			*c->cause = xasprintf("%s/%s: too deep", c->tree, path);
			rc = -1;
			goto out;
		}
		dfd = beneath_open(c->treefd, path, O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || (list = fdopendir(dfd)) == NULL) {
			*c->cause = xasprintf("cannot read %s/%s: %s", c->tree,
			    path, strerror(errno));
			rc = -1;
			goto out;
		}
		dfd = -1;
		while (rc == 0 && (errno = 0, d = readdir(list)) != NULL) {
			if (strcmp(d->d_name, ".") == 0 ||
			    strcmp(d->d_name, "..") == 0)
				continue;
			memset(&sub, 0, sizeof sub);
			sub.path = xasprintf("%s/%s", path, d->d_name);
			sub.len = strlen(sub.path);
			sub.flags = PI_TREE;
			rc = promote_capture(c, number, &sub, depth + 1);
			free(sub.path);
		}
		closedir(list);
	}
out:
	free(r.target);
	return rc;
}

static int
promote_capture(struct pctx *c, uint32_t number, struct pitem *it, int depth)
{
	int below = (it->flags & PI_TREE) != 0;

	mentry_free(&it->before);
	it->has_before = 1;
	return promote_capture_path(c, number, it->path, it->len, below, depth,
	    depth == 0 ? &it->before : NULL);
}

/* ---- the journal transaction ---- */

struct record_arg {
	struct pctx *c;
	struct promotion *p;
	int finish;               /* done: drop the journal, set bases */
	int drop_approvals;
};

/* The blobs and pins c gathered, into txn. */
static int
promote_put_pins(struct index_txn *txn, struct pctx *c, char **cause)
{
	const char *q, *end, *k;
	uint64_t klen, vlen;
	size_t i;

	for (i = 0; i < c->blobs.cap; i++) {
		struct blob_set_item *it = &c->blobs.v[i];

		if (it->used && it->flags && blob_put(txn, it->hash, &it->ref,
		    cause) != 0)
			return -1;
	}
	for (q = c->pins.data, end = q + c->pins.len; q < end;) {
		klen = be64_get((const unsigned char *)q);
		q += 8;
		k = q;
		q += klen;
		vlen = be64_get((const unsigned char *)q);
		q += 8;
		if (index_put(txn, INDEX_ENTRIES, k, klen, q, vlen, cause) != 0)
			return -1;
		q += vlen;
	}
	return 0;
}

static int
promote_pins_txn(struct index_txn *txn, void *arg, char **cause)
{
	return promote_put_pins(txn, arg, cause);
}

static int
promote_record_txn(struct index_txn *txn, void *arg, char **cause)
{
	struct record_arg *a = arg;
	struct pctx *c = a->c;
	struct promotion *p = a->p;
	unsigned char key[PROMOTE_KEY_LEN];
	struct buf val = BUF_INIT;
	size_t i;
	int rc = -1;

	promote_key(key, p->owner, p->number);
	promotion_encode(&val, p);
	if (index_put(txn, INDEX_PROMOTIONS, key, sizeof key, val.data,
	    val.len, cause) != 0)
		goto out;
	if (!a->finish) {
		buf_reset(&val);
		rec_put_u64(&val, PROMOTE_VERSION);
		rec_put_u64(&val, p->state);
		if (index_put(txn, INDEX_JOURNAL, key, sizeof key, val.data,
		    val.len, cause) != 0)
			goto out;
	} else if (index_del(txn, INDEX_JOURNAL, key, sizeof key, cause) < 0)
		goto out;
	/* what was promoted needs its approval no more */
	for (i = 0; a->drop_approvals && i < p->n; i++) {
		if (p->v[i].skip != 2 && approval_del_txn(txn, p->owner,
		    p->v[i].path, p->v[i].len, cause) < 0)
			goto out;
	}
	if (promote_put_pins(txn, c, cause) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&val);
	return rc;
}

/* ---- applying ---- */

static int64_t
promote_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Copies size bytes from in to out in the kernel. 0, or -1. */
static int
promote_copy(int in, int out, uint64_t size)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < size) {
		n = copy_file_range(in, NULL, out, NULL, size - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/*
 * Writes what a staged file holds: the scratch's copy when it still is
 * the checkpointed one, else the blob. With syncfd set (a small
 * promotion), starts writing it out and hands its fd over to be
 * fdatasync()ed once all are staged: the writes go to the disk together
 * instead of one after the other.
 */
static int
promote_stage_one(struct pctx *c, int stagefd, struct pitem *it,
    int number, int *syncfd)
{
	char name[32];
	AUTOCLOSE int fd = -1, in = -1;
	struct stat sb;
	int rc;

	snprintf(name, sizeof name, "%d", number);
	fd = openat(stagefd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(stagefd, name, 0) == 0)
		fd = openat(stagefd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*c->cause = xasprintf("cannot stage %s: %s", it->path,
		    strerror(errno));
		return -1;
	}
	rc = -1;
	/* The scratch's copy when it is still the checkpointed one: a
	 * kernel copy instead of decompressing. */
	if (c->upperfd >= 0 && !(it->flags & (PI_MERGED | PI_PARTIAL)) &&
	    it->want.ino != 0 && (in = dirtree_open(c->upperfd, it->path,
	    it->len, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) >= 0 &&
	    fstat(in, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_ino == it->want.ino &&
	    (uint64_t)sb.st_size == it->want.size &&
	    promote_ns(sb.st_mtim) == it->want.mtime_ns &&
	    promote_ns(sb.st_ctim) == it->want.ctime_ns)
		rc = promote_copy(in, fd, it->want.size);
	if (rc != 0 && (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)) {
		*c->cause = xasprintf("cannot stage %s: %s", it->path,
		    strerror(errno));
		return -1;
	}
	if (rc != 0 && blob_write_fd(c->st, it->want.hash, fd, c->cause) != 0)
		return -1;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != it->want.size) {
		*c->cause = xasprintf("cannot stage %s: the stored content has "
		    "the wrong size", it->path);
		return -1;
	}
	if (fchmod(fd, it->want.mode & 07777) != 0) {
		*c->cause = xasprintf("cannot stage %s: %s", it->path,
		    strerror(errno));
		return -1;
	}
	it->stage = number;
	if (syncfd != NULL) {
		/* a hint: fdatasync reports what fails */
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		*syncfd = fd;
		fd = -1;
	}
	return 0;
}

static int
promote_remove(struct pctx *c, int dir, const char *name, int tree,
    const char *shown, int depth);

static int
promote_remove_below(struct pctx *c, int dir, const char *name,
    const char *shown, int depth)
{
	int fd, rc = 0;
	struct dirent *d;
	DIR *list;

	if (depth > PROMOTE_DEPTH_MAX) {
		*c->cause = xasprintf("cannot remove %s: too deep", shown);
		return -1;
	}
	fd = beneath_open(dir, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || (list = fdopendir(fd)) == NULL) {
		*c->cause = xasprintf("cannot remove %s: %s", shown,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (errno = 0, d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			rc = promote_remove(c, dirfd(list), d->d_name, 1, shown,
			    depth + 1);
	}
	closedir(list);
	return rc;
}

/* Removes name of dir; a directory with what is below only when tree is
 * set, else only when empty (1: kept, not empty). */
static int
promote_remove(struct pctx *c, int dir, const char *name, int tree,
    const char *shown, int depth)
{
	struct stat sb;

	if (fstatat(dir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode)) {
		if (unlinkat(dir, name, 0) != 0 && errno != ENOENT) {
			*c->cause = xasprintf("cannot remove %s: %s", shown,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (tree && promote_remove_below(c, dir, name, shown, depth) != 0)
		return -1;
	if (unlinkat(dir, name, AT_REMOVEDIR) != 0) {
		if (errno == ENOENT)
			return 0;
		if (!tree && (errno == ENOTEMPTY || errno == EEXIST))
			return 1;
		*c->cause = xasprintf("cannot remove %s: %s", shown,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
promote_say(struct pctx *c, const char *what, const struct pitem *it,
    const char *why)
{
	buf_printf(c->out, "%s ", what);
	promote_quote(c->out, it->path, it->len);
	if (why != NULL)
		buf_printf(c->out, ": %s", why);
	buf_addch(c->out, '\n');
}

/* A temporary name for a link next to its place. */
static void
promote_temp_name(char *out, size_t size, uint32_t number, size_t i)
{
	snprintf(out, size, PROMOTE_STAGE_PREFIX "%u-%zu.tmp", number, i);
}

/* fsyncs the directory of every path written and every directory whose
 * mode was set (a small promotion, instead of syncfs), each once: items
 * come in path order, so a directory's turns follow one another. 0 or -1
 * (errno). */
static int
promote_sync_dirs(struct pctx *c, const struct promotion *p)
{
	char *dir, *last = NULL;
	size_t i, len;
	int fd, pass, error;

	for (i = 0; i < p->n; i++) {
		const struct pitem *it = &p->v[i];

		if (it->skip)
			continue;
		for (pass = 0; pass < 2; pass++) {
			if (pass == 1 && it->want.kind != MENTRY_DIR)
				break;
			len = it->len;
			if (pass == 0)
				while (len > 0 && it->path[len - 1] != '/')
					len--;
			dir = xmemdup(it->path, len + 1);
			dir[len > 0 && pass == 0 ? len - 1 : len] = '\0';
			if (last != NULL && strcmp(dir, last) == 0) {
				free(dir);
				continue;
			}
			free(last);
			last = dir;
			fd = beneath_open(c->treefd, dir, O_RDONLY | O_DIRECTORY);
			if (fd < 0) {
				/* gone, or no directory any more: the item
				 * that replaced it syncs its parent */
				if (errno == ENOENT || errno == ENOTDIR ||
				    errno == ELOOP)
					continue;
				goto fail;
			}
			if (fsync(fd) != 0) {
				close(fd);
				goto fail;
			}
			close(fd);
		}
	}
	free(last);
	return 0;
fail:
	error = errno;
	free(last);
	errno = error;
	return -1;
}

/*
 * Makes the real tree reach each item's want. verify: look at each path
 * first and leave alone what already is as wanted, and (with befores set)
 * what is neither as wanted nor as before (the user changed it since).
 */
static int
promote_apply(struct pctx *c, struct promotion *p, int verify)
{
	char stagename[64], tmp[96];
	AUTOCLOSE int stagefd = -1;
	struct real r;
	size_t i;
	int rc = -1, staged = 0, small = p->n <= PROMOTE_FSYNC_MAX;
	int syncfds[PROMOTE_FSYNC_MAX], nsync = 0;

	memset(&r, 0, sizeof r);
	snprintf(stagename, sizeof stagename, PROMOTE_STAGE_PREFIX "%u-%u",
	    p->owner, p->number);
	/* Stage: every file's content, then one sync. */
	for (i = 0; i < p->n; i++) {
		struct pitem *it = &p->v[i];

		it->skip = 0;
		if (verify) {
			if (promote_real(c, it->path, 1, &r) != 0)
				goto out;
			if (promote_real_is(&r, &it->want)) {
				it->skip = 1;
				continue;
			}
			/* absent: removed on the way to the want (the
			 * removals come before anything is made) */
			if (it->has_before && !promote_real_is(&r, &it->before) &&
			    !(r.kind == MENTRY_ABSENT && r.error == 0 &&
			    it->before.kind != MENTRY_ABSENT) &&
			    !(r.kind == MENTRY_DIR &&
			    it->want.kind == MENTRY_DIR)) {
				/* a directory made 0700 for the moment is on the
				 * way too */
				it->skip = 2;
				promote_say(c, "left alone (changed since)", it,
				    NULL);
				continue;
			}
		}
		if (it->want.kind != MENTRY_FILE)
			continue;
		if (stagefd < 0) {
			if (mkdirat(c->treefd, stagename, 0700) != 0 &&
			    errno != EEXIST) {
				*c->cause = xasprintf("cannot make %s/%s: %s",
				    c->tree, stagename, strerror(errno));
				goto out;
			}
			stagefd = beneath_open(c->treefd, stagename,
			    O_RDONLY | O_DIRECTORY);
			if (stagefd < 0) {
				*c->cause = xasprintf("cannot open %s/%s: %s",
				    c->tree, stagename, strerror(errno));
				goto out;
			}
		}
		if (promote_stage_one(c, stagefd, it, staged++,
		    small ? &syncfds[nsync] : NULL) != 0)
			goto out;
		nsync += small;
	}
	for (i = 0; i < (size_t)nsync; i++) {
		if (fdatasync(syncfds[i]) != 0) {
			*c->cause = xasprintf("cannot sync %s/%s: %s", c->tree,
			    stagename, strerror(errno));
			goto out;
		}
	}
	if (stagefd >= 0 && !small && syncfs(stagefd) != 0) {
		*c->cause = xasprintf("cannot sync %s: %s", c->tree,
		    strerror(errno));
		goto out;
	}
	/* Removals, children first. */
	for (i = p->n; i > 0; i--) {
		struct pitem *it = &p->v[i - 1];
		AUTOCLOSE int dir = -1;
		const char *name;
		struct stat sb;
		int gone;

		if (it->skip)
			continue;
		dir = beneath_parent(c->treefd, it->path, &name);
		if (dir < 0) {
			/* Nothing can be there below a file or a symlink (one
			 * the plan replaces later): nothing to remove. */
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				continue;
			goto parent_fail;
		}
		if (fstatat(dir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (it->want.kind == MENTRY_DIR && S_ISDIR(sb.st_mode))
			continue;
		if (it->want.kind == MENTRY_FILE && S_ISREG(sb.st_mode))
			continue;   /* the rename replaces it */
		if (it->want.kind == MENTRY_SYMLINK && S_ISLNK(sb.st_mode))
			continue;
		gone = promote_remove(c, dir, name, (it->flags & PI_TREE) != 0,
		    it->path, 0);
		if (gone < 0)
			goto out;
		if (gone == 1) {
			promote_say(c, "kept", it, "it holds files the promotion "
			    "did not write");
			it->skip = 2;
		}
		continue;
parent_fail:
		*c->cause = xasprintf("%s/%s: %s", c->tree, it->path,
		    errno == ELOOP ? "a symlink on the way (the real tree "
		    "changed while promoting)" : strerror(errno));
		goto out;
	}
	/* Directories, files and links, parents first. */
	for (i = 0; i < p->n; i++) {
		struct pitem *it = &p->v[i];
		AUTOCLOSE int dir = -1;
		const char *name;
		char num[32];

		if (it->skip || it->want.kind == MENTRY_ABSENT)
			continue;
		dir = beneath_parent(c->treefd, it->path, &name);
		if (dir < 0) {
			*c->cause = xasprintf("%s/%s: %s", c->tree, it->path,
			    errno == ELOOP ? "a symlink on the way (the real "
			    "tree changed while promoting)" : strerror(errno));
			goto out;
		}
		switch (it->want.kind) {
		case MENTRY_DIR:
			if (mkdirat(dir, name, 0700) != 0 && errno != EEXIST) {
				*c->cause = xasprintf("cannot make %s/%s: %s",
				    c->tree, it->path, strerror(errno));
				goto out;
			}
			break;
		case MENTRY_FILE:
			snprintf(num, sizeof num, "%d", it->stage);
			if (renameat(stagefd, num, dir, name) != 0) {
				*c->cause = xasprintf("cannot write %s/%s: %s",
				    c->tree, it->path, strerror(errno));
				goto out;
			}
			break;
		case MENTRY_SYMLINK:
			promote_temp_name(tmp, sizeof tmp, p->number, i);
			unlinkat(dir, tmp, 0);
			if (symlinkat(it->want.target, dir, tmp) != 0 ||
			    renameat(dir, tmp, dir, name) != 0) {
				*c->cause = xasprintf("cannot make the link "
				    "%s/%s: %s", c->tree, it->path,
				    strerror(errno));
				unlinkat(dir, tmp, 0);
				goto out;
			}
			break;
		default:
			break;
		}
	}
	/* Directory modes last, children first: a read-only directory can
	 * still be filled. */
	for (i = p->n; i > 0; i--) {
		struct pitem *it = &p->v[i - 1];
		AUTOCLOSE int fd = -1;

		if (it->skip || it->want.kind != MENTRY_DIR)
			continue;
		fd = beneath_open(c->treefd, it->path, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || fchmod(fd, it->want.mode & 07777) != 0) {
			*c->cause = xasprintf("cannot set the mode of %s/%s: %s",
			    c->tree, it->path, strerror(errno));
			goto out;
		}
	}
	if (small ? promote_sync_dirs(c, p) != 0 : syncfs(c->treefd) != 0) {
		*c->cause = xasprintf("cannot sync %s: %s", c->tree,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	while (nsync > 0)
		close(syncfds[--nsync]);
	free(r.target);
	{
		/* What is left is what failed, or what an interrupted run
		 * staged (this one may have had nothing left to stage):
		 * nothing of the user's. */
		char *why = NULL;
		AUTOFREE char *full = path_join(c->tree, stagename);
		struct stat sb;

		if (lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    path_remove_tree(full, &why) != 0)
			free(why);
	}
	return rc;
}

/* ---- planning ---- */

struct plan_state {
	struct pctx *c;
	const struct promote_options *o;
	struct promotion *p;
	const struct manifest *m;     /* the newest checkpoint */
	size_t conflicts, refused, skipped, merged;
	struct buf conflict_text;
};

static int
promote_selected(const struct promote_options *o, const struct change *ch)
{
	size_t i, n;

	if (o->all || o->approved)
		return 1;
	for (i = 0; i < o->npaths; i++) {
		n = strlen(o->paths[i]);
		if (n == 0)
			return 1;
		if (ch->pathlen >= n && memcmp(ch->path, o->paths[i], n) == 0 &&
		    (ch->pathlen == n || ch->path[n] == '/'))
			return 1;
	}
	return 0;
}

static void
promote_conflict(struct plan_state *ps, const struct change *ch,
    const char *why)
{
	ps->conflicts++;
	buf_addstr(&ps->conflict_text, "conflict ");
	promote_quote(&ps->conflict_text, ch->path, ch->pathlen);
	buf_printf(&ps->conflict_text, ": %s\n", why);
}

static const char *
promote_kind_name(enum mentry_kind kind)
{
	switch (kind) {
	case MENTRY_ABSENT:
		return "absent";
	case MENTRY_DIR:
		return "a directory";
	case MENTRY_SYMLINK:
		return "a symlink";
	case MENTRY_FILE:
		return "a file";
	default:
		return "a special file";
	}
}

/* 1 when the real state equals the base (what airlock knew there). */
/*
 * The scratch's file is its base (content and mode): the session left the
 * real file's content as it was when the path first appeared, as in a copy
 * a live rollback makes; a change of the real file since is the real
 * tree's alone.
 */
static int
promote_scratch_is_base(const struct mentry *want, const struct mentry *base)
{
	return want->kind == MENTRY_FILE && base->kind == MENTRY_FILE &&
	    memcmp(want->hash, base->hash, HASH_LEN) == 0 &&
	    (want->mode & 07777) == (base->mode & 07777);
}

static int
promote_real_is_base(const struct real *r, const struct mentry *b)
{
	if (b->kind == MENTRY_WHITEOUT)
		return r->kind == MENTRY_ABSENT;
	if (r->kind != b->kind)
		return 0;
	if (b->kind == MENTRY_FILE)
		return r->hashed && memcmp(r->hash, b->hash, HASH_LEN) == 0;
	if (b->kind == MENTRY_SYMLINK)
		return b->target != NULL && strcmp(r->target, b->target) == 0;
	return 1;
}

/* 1 when the plan already makes an ancestor of path a directory (a type
 * change planned before: changes come in path order). */
static int
promote_planned_dir(const struct plan_state *ps, const char *path)
{
	const struct promotion *p = ps->p;
	size_t i;

	for (i = p->n; i > 0; i--) {
		const struct pitem *it = &p->v[i - 1];

		if (it->want.kind == MENTRY_DIR && strncmp(path, it->path,
		    it->len) == 0 && path[it->len] == '/')
			return 1;
	}
	return 0;
}

/* Content of the new side of a file change. */
static char *
promote_new_text(struct plan_state *ps, const struct change *ch, size_t *len)
{
	return blob_read_buf(ps->c->st, ch->new_entry->hash, PROMOTE_TEXT_MAX,
	    len, ps->c->cause);
}

/*
 * merge3, telling binary content (2: no merge, a conflict) from an error
 * (-1 with *cause: libgit2 failed or cannot be loaded, which is no
 * conflict). 0 clean, 1 conflicting.
 */
static int
promote_merge(const char *b, size_t bl, const char *o, size_t ol,
    const char *n, size_t nl, const char *path, int favor, struct buf *out,
    char **cause)
{
	int	m;

	m = merge3(b, bl, o, ol, n, nl, path, favor, out, cause);
	if (m < 0 && (diff_is_binary(b, bl) || diff_is_binary(o, ol) ||
	    diff_is_binary(n, nl))) {
		free(*cause);
		*cause = NULL;
		return 2;
	}
	return m;
}

/* Plans one chosen change. 0 or -1 (errors, not conflicts). */
static int
promote_plan_one(struct plan_state *ps, const struct change *ch)
{
	struct pctx *c = ps->c;
	const struct mentry *ne = ch->new_entry;
	struct approval ap;
	struct real r;
	struct mentry base;
	struct pitem *it;
	unsigned char old_fp[HASH_LEN], new_fp[HASH_LEN];
	enum approval_state as = APPROVAL_NONE;
	size_t approved = 0;
	int rc = -1, has_ap = 0, has_base = 0;

	memset(&r, 0, sizeof r);
	memset(&base, 0, sizeof base);
	memset(&ap, 0, sizeof ap);
	if (promote_real(c, ch->path, 1, &r) != 0)
		return -1;
	/* The approval, when --approved chose it. */
	if (ps->o->approved) {
		int got = approval_get(c->st, c->s->id, ch->path, ch->pathlen,
		    &ap, c->cause);

		if (got < 0)
			goto out;
		has_ap = got == 0;
		approval_fingerprint(ch->old_type, ch->old_mode,
		    r.kind == MENTRY_FILE ? (const char *)r.hash : r.target,
		    r.kind == MENTRY_FILE ? HASH_LEN : r.target != NULL ?
		    strlen(r.target) : 0, old_fp);
		approval_fingerprint(ch->new_type, ch->new_mode,
		    ne == NULL ? NULL : ne->kind == MENTRY_FILE ?
		    (const char *)ne->hash : ne->target,
		    ne == NULL ? 0 : ne->kind == MENTRY_FILE ? HASH_LEN :
		    ne->target != NULL ? strlen(ne->target) : 0, new_fp);
		if (has_ap && !ap.whole) {
			struct hunks hs = { 0 };
			char *o = NULL, *n = NULL;
			size_t ol = 0, nl = 0;

			if (ch->old_type == ENTRY_FILE && ch->new_type ==
			    ENTRY_FILE && (o = promote_read_real(c, ch->path,
			    &ol)) != NULL && (n = promote_new_text(ps, ch,
			    &nl)) != NULL && hunks_compute(o, ol, n, nl, &hs,
			    c->cause) == 0) {
				as = approval_state_of(&ap, old_fp, new_fp, hs.n,
				    &approved);
				hunks_free(&hs);
			}
			free(o);
			free(n);
		} else
			as = approval_state_of(has_ap ? &ap : NULL, old_fp,
			    new_fp, 0, &approved);
		if (as == APPROVAL_NONE || as == APPROVAL_LAPSED) {
			if (as == APPROVAL_LAPSED) {
				ps->skipped++;
				buf_addstr(c->out, "skipped ");
				promote_quote(c->out, ch->path, ch->pathlen);
				buf_addstr(c->out, ": its approval lapsed (the "
				    "change differs from what was approved)\n");
			}
			rc = 0;
			goto out;
		}
	}
	if (ch->new_type == ENTRY_SPECIAL) {
		ps->refused++;
		buf_addstr(c->out, "refused ");
		promote_quote(c->out, ch->path, ch->pathlen);
		buf_printf(c->out, ": a %s (airlock never makes special "
		    "files)\n", S_ISFIFO(ch->new_mode) ? "fifo" :
		    S_ISSOCK(ch->new_mode) ? "socket" : "device");
		rc = 0;
		goto out;
	}
	if (ne != NULL && ne->kind == MENTRY_FILE && !ne->has_content) {
		ps->refused++;
		buf_addstr(c->out, "refused ");
		promote_quote(c->out, ch->path, ch->pathlen);
		buf_addstr(c->out, ": its content could not be read at the "
		    "checkpoint\n");
		rc = 0;
		goto out;
	}
	if (change_is_risky(ch) && (ps->o->all || ps->o->approved) &&
	    !ps->o->include_risky) {
		ps->skipped++;
		buf_addstr(c->out, "skipped ");
		promote_quote(c->out, ch->path, ch->pathlen);
		buf_addstr(c->out, ": risky (--include-risky promotes it)\n");
		rc = 0;
		goto out;
	}
	if (r.error != 0 && promote_planned_dir(ps, ch->path)) {
		/* a parent the plan makes a directory: nothing there yet */
		r.error = 0;
		r.kind = MENTRY_ABSENT;
	}
	if (r.error != 0) {
		promote_conflict(ps, ch, r.error == ELOOP ? "a parent directory "
		    "is a symlink in the real tree now" : r.error == EXDEV ?
		    "a parent directory is a mount point" :
		    "a parent directory is not a directory in the real tree now");
		rc = 0;
		goto out;
	}
	if (r.kind == MENTRY_SPECIAL) {
		promote_conflict(ps, ch, "the real tree has a special file there");
		rc = 0;
		goto out;
	}
	it = promotion_add(ps->p, ch->path, ch->pathlen);
	if (ne == NULL || ch->new_type == ENTRY_NONE) {
		it->want.kind = MENTRY_ABSENT;
		if (r.kind == MENTRY_DIR)
			it->flags |= PI_TREE;
	} else {
		it->want.kind = ne->kind;
		it->want.mode = ne->mode & 07777;
		if (it->want.mode & (S_ISUID | S_ISGID)) {
			it->want.mode &= ~(uint32_t)(S_ISUID | S_ISGID);
			it->flags |= PI_STRIPPED;
		}
		it->want.size = ne->size;
		it->want.ino = ne->ino;
		it->want.mtime_ns = ne->mtime_ns;
		it->want.ctime_ns = ne->ctime_ns;
		memcpy(it->want.hash, ne->hash, HASH_LEN);
		it->want.has_content = ne->kind == MENTRY_FILE;
		if (ne->target != NULL)
			it->want.target = xstrdup(ne->target);
		if (r.kind == MENTRY_DIR && ne->kind != MENTRY_DIR)
			it->flags |= PI_TREE;
	}
	/* Partial: the real file with the approved hunks (and lines). */
	if (as == APPROVAL_PARTIAL) {
		struct buf res = BUF_INIT;
		char *o, *n = NULL;
		size_t ol, nl;

		o = promote_read_real(c, ch->path, &ol);
		if (o == NULL || (n = promote_new_text(ps, ch, &nl)) == NULL ||
		    hunks_apply_lines(o, ol, n, nl, ap.pick, ap.nhunks,
		    ap.lines, ap.nlines, &res, c->cause) != 0) {
			free(o);
			free(n);
			buf_free(&res);
			goto out;
		}
		free(o);
		free(n);
		it->flags |= PI_PARTIAL;
		it->want.size = res.len;
		/* content is stored when recorded: keep it in target for now */
		it->want.target = buf_detach(&res, NULL);
		/* hunks are content: the mode stays the real file's */
		it->want.mode = (uint32_t)(r.mode & 07777) &
		    ~(uint32_t)(S_ISUID | S_ISGID);
		rc = 0;
		goto out;
	}
	/* Conflicts: the real tree moved away from the base. */
	if ((has_base = promote_base(c->st, c->s->id, ch->path, ch->pathlen,
	    &base, c->cause)) < 0)
		goto out;
	has_base = has_base == 0;
	if (!has_base || promote_real_is_base(&r, &base)) {
		rc = 0;
		goto out;
	}
	if (promote_scratch_is_base(&it->want, &base)) {
		/* the real tree's change alone: nothing to write */
		ps->p->n--;
		pitem_free(it);
		rc = 0;
		goto out;
	}
	if (base.kind == MENTRY_FILE && r.kind == MENTRY_FILE &&
	    it->want.kind == MENTRY_FILE && base.has_content) {
		struct buf res = BUF_INIT;
		char *b = NULL, *o = NULL, *n = NULL;
		size_t bl, ol, nl;
		int m;

		b = blob_read_buf(c->st, base.hash, PROMOTE_TEXT_MAX, &bl,
		    c->cause);
		if (b == NULL || (o = promote_read_real(c, ch->path,
		    &ol)) == NULL || (n = promote_new_text(ps, ch, &nl)) ==
		    NULL) {
			free(b);
			free(o);
			goto out;
		}
		m = promote_merge(b, bl, o, ol, n, nl, ch->path, ps->o->favor ==
		    PROMOTE_FAVOR_OURS ? 1 : ps->o->favor ==
		    PROMOTE_FAVOR_THEIRS ? 2 : 0, &res, c->cause);
		free(b);
		free(o);
		free(n);
		if (m < 0) {
			buf_free(&res);
			goto out;
		}
		if (m == 2) {
			/* binary: a conflict unless resolved by a side */
			m = 1;
			if (ps->o->favor == 0) {
				buf_free(&res);
				promote_conflict(ps, ch, "changed in the real "
				    "tree too, and binary (no merge)");
				ps->p->n--;
				pitem_free(it);
				rc = 0;
				goto out;
			}
		}
		if (m == 1 && ps->o->favor == 0) {
			buf_free(&res);
			promote_conflict(ps, ch, "changed in the real tree too, "
			    "on the same lines (airlock diff --conflicts shows "
			    "the merge)");
			ps->p->n--;
			pitem_free(it);
			rc = 0;
			goto out;
		}
		if (m == 0) {
			ps->merged++;
			it->flags |= PI_MERGED;
			it->want.size = res.len;
			free(it->want.target);
			it->want.target = buf_detach(&res, NULL);
			rc = 0;
			goto out;
		}
		buf_free(&res);
		/* binary with a side chosen: fall through to the choice */
	}
	if (ps->o->favor == PROMOTE_FAVOR_THEIRS) {
		it->flags |= PI_FORCED;
		rc = 0;
		goto out;
	}
	ps->p->n--;
	pitem_free(it);
	if (ps->o->favor == PROMOTE_FAVOR_OURS) {
		ps->skipped++;
		buf_addstr(c->out, "kept the real tree's ");
		promote_quote(c->out, ch->path, ch->pathlen);
		buf_addstr(c->out, " (--ours)\n");
		rc = 0;
		goto out;
	}
	{
		char *w = xasprintf("the real tree changed it since the checkpoint"
		    " (was %s, now %s)", promote_kind_name(base.kind ==
		    MENTRY_WHITEOUT ? MENTRY_ABSENT : base.kind),
		    promote_kind_name(r.kind));

		if (base.kind == r.kind)
			promote_conflict(ps, ch, "the real tree changed it since "
			    "the checkpoint");
		else
			promote_conflict(ps, ch, w);
		free(w);
	}
	rc = 0;
out:
	free(r.target);
	mentry_free(&base);
	approval_free(&ap);
	return rc;
}

/* 1 when the sorted items v[0..n) hold path. */
static int
promote_has_item(const struct pitem *v, size_t n, const char *path, size_t len)
{
	struct pitem key;

	key.path = (char *)path;
	key.len = len;
	return bsearch(&key, v, n, sizeof *v, pitem_cmp) != NULL;
}

/* Adds the missing parent directories of every item (sorted), with the
 * modes the checkpoint has for them; a parent the real tree has as
 * something else than a directory is a conflict. */
static int
promote_plan_parents(struct plan_state *ps)
{
	struct pctx *c = ps->c;
	struct promotion *p = ps->p;
	size_t i, n = p->n, okl = 0;
	char *ok = NULL;   /* the deepest directory known to be fine */
	struct real r;
	int rc = 0;

	memset(&r, 0, sizeof r);
	for (i = 0; i < n && rc == 0; i++) {
		const char *path = p->v[i].path;
		const char *slash;
		const char *name;
		int fd;

		if (p->v[i].want.kind == MENTRY_ABSENT)
			continue;
		if (ok != NULL && p->v[i].len > okl && path[okl] == '/' &&
		    memcmp(path, ok, okl) == 0 && strchr(path + okl + 1, '/') ==
		    NULL)
			continue;
		fd = beneath_parent(c->treefd, path, &name);
		if (fd >= 0) {
			close(fd);
			free(ok);
			okl = (size_t)(name - path) - (name > path);
			ok = xmemdup(path, okl + 1);
			ok[okl] = '\0';
			continue;
		}
		for (slash = strchr(path, '/'); slash != NULL && rc == 0;
		    slash = strchr(slash + 1, '/')) {
			size_t len = (size_t)(slash - path), k;
			const struct mentry *e;
			struct pitem *it;
			char *prefix = xmemdup(path, len + 1);
			int have;

			prefix[len] = '\0';
			have = promote_has_item(p->v, n, prefix, len);
			for (k = n; k < p->n && !have; k++)
				have = p->v[k].len == len &&
				    memcmp(p->v[k].path, prefix, len) == 0;
			if (!have && (rc = promote_real(c, prefix, 0, &r)) == 0 &&
			    r.kind != MENTRY_DIR) {
				e = manifest_find(ps->m, prefix, len);
				it = promotion_add(p, prefix, len);
				path = p->v[i].path;   /* the array moved */
				slash = path + len;
				it->want.kind = MENTRY_DIR;
				it->want.mode = e != NULL && e->kind ==
				    MENTRY_DIR ? e->mode & 0777 : 0755;
				it->flags |= PI_IMPLICIT;
				if (r.kind != MENTRY_ABSENT || r.error != 0) {
					struct change fake;

					memset(&fake, 0, sizeof fake);
					fake.path = prefix;
					fake.pathlen = len;
					promote_conflict(ps, &fake, r.error ==
					    ELOOP || r.kind == MENTRY_SYMLINK ?
					    "a symlink in the real tree, a "
					    "directory in the scratch" :
					    "not a directory in the real tree");
				}
			}
			free(prefix);
		}
		free(ok);
		okl = p->v[i].len;
		ok = xmemdup(p->v[i].path, okl + 1);
		while (okl > 0 && ok[okl] != '/')
			okl--;
		ok[okl] = '\0';
	}
	free(ok);
	free(r.target);
	return rc;
}

/* A directory the scratch deleted shows as the deletions of what was in
 * it: remove the directory too (when empty then: what was not chosen
 * stays). */
static void
promote_plan_deleted_dirs(struct plan_state *ps)
{
	struct promotion *p = ps->p;
	size_t i, n = p->n, k;

	for (i = 0; i < n; i++) {
		char *slash;

		if (p->v[i].want.kind != MENTRY_ABSENT)
			continue;
		for (slash = strchr(p->v[i].path, '/'); slash != NULL;
		    slash = strchr(slash + 1, '/')) {
			size_t len = (size_t)(slash - p->v[i].path);
			const struct mentry *e;
			int have = 0;

			struct change fake;

			e = manifest_find(ps->m, p->v[i].path, len);
			if (e == NULL || e->kind != MENTRY_WHITEOUT)
				continue;
			/* only when chosen whole: --all, or a path at or
			 * above it */
			memset(&fake, 0, sizeof fake);
			fake.path = p->v[i].path;
			fake.pathlen = len;
			if (ps->o->approved || !promote_selected(ps->o, &fake))
				continue;
			for (k = 0; k < p->n && !have; k++)
				have = p->v[k].len == len && memcmp(p->v[k].path,
				    p->v[i].path, len) == 0;
			if (!have)
				promotion_add(p, p->v[i].path, len)->flags |=
				    PI_TREE;
		}
	}
}

/* ---- promote ---- */

static void
pctx_init(struct pctx *c, struct store *st, const struct session *s,
    struct buf *out, char **cause)
{
	memset(c, 0, sizeof *c);
	c->st = st;
	c->s = s;
	c->tree = s->tree;
	c->out = out;
	c->cause = cause;
	c->treefd = -1;
	c->upperfd = -1;
	buf_init(&c->pins);
}

static void
pctx_free(struct pctx *c)
{
	char *why = NULL;

	if (c->pw != NULL) {
		if (pack_writer_discard(c->pw, &why) != 0)
			free(why);
		pack_writer_close(c->pw);
		store_unlock(c->st);
	}
	if (c->rtxn != NULL)
		index_txn_abort(c->rtxn);
	blob_set_free(&c->blobs);
	buf_free(&c->pins);
	free(c->upper);
	if (c->treefd >= 0)
		close(c->treefd);
	if (c->upperfd >= 0)
		close(c->upperfd);
}

/*
 * Records p (new: allocates its number): the befores of every item as
 * pins, contents kept in memory (merges, hunks) as blobs, the plan and the
 * journal entry. 0 or -1.
 */
static int
promote_record(struct pctx *c, struct promotion *p, int capture)
{
	struct record_arg a = { c, p, 0, 0 };
	uint32_t number;
	size_t i;

	if (store_lock(c->st, c->cause) != 0)
		return -1;
	if (pack_writer_open(c->st, &c->pw, c->cause) != 0) {
		store_unlock(c->st);
		return -1;
	}
	if (index_read_begin(c->st->index, &c->rtxn, c->cause) != 0)
		return -1;
	if (promotion_last_txn(c->rtxn, p->owner, &number, c->cause) != 0)
		return -1;
	/* One writer of promotions per session (promote.lock): the next
	 * number cannot be taken meanwhile. */
	p->number = number + 1;
	for (i = 0; i < p->n; i++) {
		struct pitem *it = &p->v[i];

		if (it->flags & (PI_MERGED | PI_PARTIAL)) {
			if (promote_store_mem(c, it->want.target, it->want.size,
			    it->want.hash) != 0)
				return -1;
			free(it->want.target);
			it->want.target = NULL;
		}
		if (capture && promote_capture(c, p->number, it, 0) != 0)
			return -1;
		if (it->want.kind == MENTRY_FILE) {
			struct mentry w = it->want;

			w.path = it->path;
			w.pathlen = it->len;
			w.has_content = 1;
			promote_pin(c, 'w', p->number, &w);
		}
	}
	index_txn_abort(c->rtxn);
	c->rtxn = NULL;
	/* what the real tree had is mostly stored already (bases) */
	if (pack_writer_appended(c->pw) > 0 &&
	    pack_writer_sync(c->pw, c->cause) != 0)
		return -1;
	p->state = PSTATE_WRITING;
	if (index_write(c->st->index, promote_record_txn, &a, c->cause) != 0)
		return -1;
	pack_writer_close(c->pw);
	c->pw = NULL;
	blob_set_free(&c->blobs);
	store_unlock(c->st);
	buf_reset(&c->pins);
	return 0;
}

/* Marks p finished (state), points the bases of what it wrote at it, and
 * drops its journal entry and the approvals it used. */
static int
promote_finish(struct pctx *c, struct promotion *p, uint64_t state,
    int drop_approvals)
{
	struct record_arg a = { c, p, 1, drop_approvals };
	size_t i;
	int rc;

	p->state = state;
	for (i = 0; i < p->n; i++) {
		struct pitem *it = &p->v[i];
		struct mentry b = it->want;

		if (it->skip == 2)
			continue;
		b.path = it->path;
		b.pathlen = it->len;
		b.has_content = b.kind == MENTRY_FILE;
		if (b.kind == MENTRY_ABSENT)
			b.kind = MENTRY_WHITEOUT;  /* a base "nothing there" */
		promote_pin(c, 'b', 0, &b);
	}
	rc = index_write(c->st->index, promote_record_txn, &a, c->cause);
	buf_reset(&c->pins);
	return rc;
}

static void
promote_summary(struct pctx *c, const struct promotion *p, const char *verb)
{
	size_t i, files = 0, dirs = 0, links = 0, removed = 0, merged = 0,
	    partial = 0, left = 0;

	for (i = 0; i < p->n; i++) {
		const struct pitem *it = &p->v[i];

		if (it->skip == 2) {
			left++;
			continue;
		}
		merged += (it->flags & PI_MERGED) != 0;
		partial += (it->flags & PI_PARTIAL) != 0;
		switch (it->want.kind) {
		case MENTRY_FILE:
			files++;
			break;
		case MENTRY_DIR:
			dirs++;
			break;
		case MENTRY_SYMLINK:
			links++;
			break;
		default:
			removed++;
			break;
		}
	}
	buf_printf(c->out, "%s %u of session %u: %zu file%s, %zu director%s, "
	    "%zu link%s written, %zu removed", verb, p->number, p->owner,
	    files, files == 1 ? "" : "s", dirs, dirs == 1 ? "y" : "ies",
	    links, links == 1 ? "" : "s", removed);
	if (merged > 0)
		buf_printf(c->out, ", %zu merged", merged);
	if (partial > 0)
		buf_printf(c->out, ", %zu in part (approved hunks)", partial);
	if (left > 0)
		buf_printf(c->out, ", %zu left alone", left);
	buf_addch(c->out, '\n');
}

static void
promote_plan_line(struct pctx *c, const struct pitem *it, const char *prefix)
{
	const char *what;

	switch (it->want.kind) {
	case MENTRY_ABSENT:
		what = "remove";
		break;
	case MENTRY_DIR:
		what = "mkdir";
		break;
	case MENTRY_SYMLINK:
		what = "link";
		break;
	default:
		what = "write";
		break;
	}
	buf_printf(c->out, "%s%-6s ", prefix, what);
	promote_quote(c->out, it->path, it->len);
	if (it->flags & PI_MERGED)
		buf_addstr(c->out, " (merged)");
	if (it->flags & PI_PARTIAL)
		buf_addstr(c->out, " (approved hunks)");
	if (it->flags & PI_STRIPPED)
		buf_addstr(c->out, " (setuid/setgid dropped)");
	if (it->flags & PI_FORCED)
		buf_addstr(c->out, " (--theirs)");
	if (it->want.kind == MENTRY_ABSENT && (it->flags & PI_TREE))
		buf_addstr(c->out, " (and all below)");
	buf_addch(c->out, '\n');
}

int
promote_session(struct store *st, const struct session *s,
    const struct promote_options *o, struct buf *out, uint32_t *number,
    char **cause)
{
	struct ckpt_options co = { "user", "before promotion", 0, 0,
	    CKPT_NONE, NULL, 0 };
	struct plan_state ps;
	struct promotion p;
	struct turn turn;
	struct pctx c;
	uint32_t newest;
	char *note = NULL;
	size_t i;
	int lockfd, rc = -1;

	*number = 0;
	memset(&turn, 0, sizeof turn);
	memset(&p, 0, sizeof p);
	memset(&ps, 0, sizeof ps);
	buf_init(&ps.conflict_text);
	pctx_init(&c, st, s, out, cause);
	if ((lockfd = rollback_promote_lock(s, "promote", cause)) < 0)
		return -1;
	co.threads = session_checkpoint_threads();
	if (session_checkpoint(st, s, &co, &newest, &note, cause) < 0)
		goto out;
	free(note);
	if (turn_changes(st, s->id, TURN_REAL, newest, s->tree, &turn,
	    cause) != 0)
		goto out;
	c.treefd = open(s->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", s->tree,
		    strerror(errno));
		goto out;
	}
	c.upper = session_upper(s);
	/* A running agent may rewrite a file while it is copied: then only
	 * the store's copy is the checkpointed one. */
	if (s->state != SESSION_RUNNING)
		c.upperfd = open(c.upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	p.owner = s->id;
	p.time = time(NULL);
	ps.c = &c;
	ps.o = o;
	ps.p = &p;
	ps.m = &turn.to;
	for (i = 0; i < turn.changes.n; i++) {
		const struct change *ch = &turn.changes.v[i];

		if (!promote_selected(o, ch))
			continue;
		if (promote_plan_one(&ps, ch) != 0)
			goto out;
	}
	promote_plan_deleted_dirs(&ps);
	if (p.n > 0)
		qsort(p.v, p.n, sizeof *p.v, pitem_cmp);
	if (promote_plan_parents(&ps) != 0)
		goto out;
	if (p.n > 0)
		qsort(p.v, p.n, sizeof *p.v, pitem_cmp);
	if (ps.conflicts > 0) {
		buf_add(out, ps.conflict_text.data, ps.conflict_text.len);
		if (!o->skip_conflicts) {
			buf_printf(out, "%zu conflict%s: nothing was written "
			    "(--skip-conflicts promotes the rest; --ours or "
			    "--theirs resolves them)\n", ps.conflicts,
			    ps.conflicts == 1 ? "" : "s");
			rc = PROMOTE_CONFLICT;
			goto out;
		}
	}
	if (p.n == 0) {
		buf_addstr(out, "nothing to promote\n");
		rc = 0;
		goto out;
	}
	if (o->dry_run) {
		for (i = 0; i < p.n; i++)
			promote_plan_line(&c, &p.v[i], "would ");
		rc = 0;
		goto out;
	}
	if (promote_record(&c, &p, 1) != 0)
		goto out;
	if (promote_apply(&c, &p, 0) != 0) {
		char *why = *cause;

		*cause = xasprintf("%s (promotion %u is in the journal: the "
		    "next airlock command finishes it)", why, p.number);
		free(why);
		goto out;
	}
	if (promote_finish(&c, &p, PSTATE_DONE, 1) != 0)
		goto out;
	for (i = 0; i < p.n; i++)
		promote_plan_line(&c, &p.v[i], "");
	promote_summary(&c, &p, "promotion");
	buf_printf(out, "`airlock unpromote %u` undoes it\n", p.number);
	*number = p.number;
	rc = 0;
out:
	buf_free(&ps.conflict_text);
	promotion_free(&p);
	turn_free(&turn);
	pctx_free(&c);
	close(lockfd);
	return rc;
}

/* ---- unpromote ---- */

int
unpromote_session(struct store *st, const struct session *s,
    uint32_t number, int force, struct buf *out, char **cause)
{
	struct promotion old, p;
	struct manifest before;
	struct index_txn *txn = NULL;
	struct pctx c;
	struct real r;
	size_t i, changed = 0;
	int lockfd, rc = -1, got;

	memset(&old, 0, sizeof old);
	memset(&p, 0, sizeof p);
	memset(&before, 0, sizeof before);
	memset(&r, 0, sizeof r);
	pctx_init(&c, st, s, out, cause);
	if ((lockfd = rollback_promote_lock(s, "unpromote", cause)) < 0)
		return -1;
	if (index_read_begin(st->index, &txn, cause) != 0)
		goto out;
	if (number == 0) {
		/* The newest that is done and not undone. */
		if (promotion_last_txn(txn, s->id, &number, cause) != 0)
			goto out;
		for (; number > 0; number--) {
			if ((got = promotion_get_txn(txn, s->id, number, &old,
			    cause)) < 0)
				goto out;
			if (got == 0 && (old.state == PSTATE_DONE ||
			    old.state == PSTATE_RECOVERED))
				break;
			promotion_free(&old);
		}
		if (number == 0) {
			*cause = xasprintf("session %u has no promotion to undo",
			    s->id);
			goto out;
		}
	} else if ((got = promotion_get_txn(txn, s->id, number, &old,
	    cause)) != 0) {
		if (got == 1)
			*cause = xasprintf("session %u has no promotion %u",
			    s->id, number);
		goto out;
	}
	index_txn_abort(txn);
	txn = NULL;
	if (old.state == PSTATE_UNDONE) {
		*cause = xasprintf("promotion %u was undone already", number);
		goto out;
	}
	if (old.state == PSTATE_WRITING) {
		*cause = xasprintf("promotion %u is not finished", number);
		goto out;
	}
	c.treefd = open(s->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", s->tree,
		    strerror(errno));
		goto out;
	}
	/* Refuse where the user changed what the promotion wrote. */
	for (i = 0; i < old.n; i++) {
		const struct pitem *it = &old.v[i];

		if (promote_real(&c, it->path, 1, &r) != 0)
			goto out;
		if (!promote_real_is(&r, &it->want)) {
			changed++;
			buf_addstr(out, "changed since the promotion: ");
			promote_quote(out, it->path, it->len);
			buf_addch(out, '\n');
		}
	}
	if (changed > 0 && !force) {
		buf_printf(out, "%zu path%s changed since promotion %u: nothing "
		    "was restored (--force restores anyway; what is there now "
		    "is kept in the store, `airlock unpromote` undoes that "
		    "too)\n", changed, changed == 1 ? "" : "s", number);
		rc = PROMOTE_CONFLICT;
		goto out;
	}
	if (promote_befores(st, s->id, number, &before, cause) != 0)
		goto out;
	p.owner = s->id;
	p.time = time(NULL);
	p.undoes = number;
	for (i = 0; i < before.n; i++) {
		const struct mentry *e = &before.v[i];
		struct pitem *it;

		if (e->kind == MENTRY_SPECIAL)
			continue;   /* never made: left as the promotion left it */
		it = promotion_add(&p, e->path, e->pathlen);
		it->want.kind = e->kind;
		it->want.mode = e->mode & 07777;
		it->want.size = e->size;
		memcpy(it->want.hash, e->hash, HASH_LEN);
		if (e->target != NULL)
			it->want.target = xstrdup(e->target);
		/* what the promotion made and the user filled stays */
		it->flags = 0;
	}
	if (p.n > 0)
		qsort(p.v, p.n, sizeof *p.v, pitem_cmp);
	if (promote_record(&c, &p, 1) != 0)
		goto out;
	if (promote_apply(&c, &p, 1) != 0)
		goto out;
	if (promote_finish(&c, &p, PSTATE_DONE, 0) != 0)
		goto out;
	/* mark the old one undone */
	old.state = PSTATE_UNDONE;
	{
		struct record_arg a = { &c, &old, 1, 0 };

		if (index_write(st->index, promote_record_txn, &a, cause) != 0)
			goto out;
	}
	promote_summary(&c, &p, "unpromotion");
	buf_printf(out, "the real tree is as before promotion %u; `airlock "
	    "unpromote %u` undoes this\n", number, p.number);
	rc = 0;
out:
	if (txn != NULL)
		index_txn_abort(txn);
	free(r.target);
	manifest_free(&before);
	promotion_free(&old);
	promotion_free(&p);
	pctx_free(&c);
	close(lockfd);
	return rc;
}

/* ---- recovery ---- */

struct journal_walk {
	unsigned char *keys;
	size_t n;
};

static int
promote_journal_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct journal_walk *w = arg;

	if (klen != PROMOTE_KEY_LEN)
		return 0;
	w->keys = xreallocarray(w->keys, w->n + 1, PROMOTE_KEY_LEN);
	memcpy(w->keys + w->n++ * PROMOTE_KEY_LEN, key, PROMOTE_KEY_LEN);
	return 0;
}

static int
promote_recover_one(struct store *st, uint32_t owner, uint32_t number,
    struct buf *out, char **cause)
{
	struct session *s = NULL;
	struct promotion p;
	struct manifest before;
	struct index_txn *txn = NULL;
	struct pctx c;
	char id[16];
	size_t i;
	int lockfd = -1, rc = -1, got;

	memset(&p, 0, sizeof p);
	memset(&before, 0, sizeof before);
	snprintf(id, sizeof id, "%u", owner);
	if (session_find(st, id, &s, cause) != 0)
		return -1;
	lockfd = rollback_promote_lock(s, "promote", cause);
	if (lockfd < 0) {
		/* someone is promoting it now: not interrupted */
		free(*cause);
		*cause = NULL;
		session_free(s);
		return 0;
	}
	pctx_init(&c, st, s, out, cause);
	if (index_read_begin(st->index, &txn, cause) != 0)
		goto out;
	got = promotion_get_txn(txn, owner, number, &p, cause);
	index_txn_abort(txn);
	txn = NULL;
	if (got < 0)
		goto out;
	if (got == 1) {
		/* a journal entry without a record: nothing was written */
		p.owner = owner;
		p.number = number;
		rc = promote_finish(&c, &p, PSTATE_DONE, 0);
		goto out;
	}
	if (promote_befores(st, owner, number, &before, cause) != 0)
		goto out;
	for (i = 0; i < p.n; i++) {
		const struct mentry *e = manifest_find(&before, p.v[i].path,
		    p.v[i].len);

		if (e != NULL) {
			mentry_copy(&p.v[i].before, e);
			p.v[i].has_before = 1;
		}
	}
	c.treefd = open(s->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", s->tree,
		    strerror(errno));
		goto out;
	}
	buf_printf(out, "airlock: promotion %u of session %u was interrupted: "
	    "finishing it\n", number, owner);
	if (promote_apply(&c, &p, 1) != 0)
		goto out;
	if (promote_finish(&c, &p, PSTATE_RECOVERED, 0) != 0)
		goto out;
	if (p.undoes != 0) {
		struct promotion old;

		if (index_read_begin(st->index, &txn, cause) != 0)
			goto out;
		got = promotion_get_txn(txn, owner, p.undoes, &old, cause);
		index_txn_abort(txn);
		txn = NULL;
		if (got == 0) {
			struct record_arg a = { &c, &old, 1, 0 };

			old.state = PSTATE_UNDONE;
			got = index_write(st->index, promote_record_txn, &a,
			    cause);
			promotion_free(&old);
			if (got != 0)
				goto out;
		}
	}
	buf_addstr(out, "airlock: ");
	promote_summary(&c, &p, "finished promotion");
	rc = 0;
out:
	manifest_free(&before);
	promotion_free(&p);
	pctx_free(&c);
	if (lockfd >= 0)
		close(lockfd);
	session_free(s);
	return rc;
}

int
promote_recover(struct store *st, struct buf *out, char **cause)
{
	struct journal_walk w = { NULL, 0 };
	struct index_txn *txn;
	size_t i;
	int rc = 0;

	if (index_read_begin(st->index, &txn, cause) != 0)
		return -1;
	rc = index_walk(txn, INDEX_JOURNAL, NULL, 0, 0, promote_journal_fn,
	    &w, cause);
	index_txn_abort(txn);
	for (i = 0; rc == 0 && i < w.n; i++) {
		const unsigned char *k = w.keys + i * PROMOTE_KEY_LEN;

		rc = promote_recover_one(st, be32_get(k), be32_get(k + 4), out,
		    cause);
	}
	free(w.keys);
	return rc;
}

/* ---- list ---- */

struct list_walk {
	struct buf *out;
	uint32_t owner;
};

static int
promote_list_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct list_walk *w = arg;
	struct promotion p;
	static const char *const states[] = { "?", "writing", "done",
	    "undone", "recovered" };
	size_t i, files = 0;

	if (klen != PROMOTE_KEY_LEN)
		return 0;
	memset(&p, 0, sizeof p);
	p.number = be32_get((const unsigned char *)key + 4);
	if (promotion_decode(val, vlen, &p) != 0) {
		promotion_free(&p);
		buf_printf(w->out, "%u  (a corrupt record)\n", p.number);
		return 0;
	}
	for (i = 0; i < p.n; i++)
		files += !(p.v[i].flags & PI_IMPLICIT);
	{
		char when[32];
		time_t t = (time_t)p.time;
		struct tm tm;

		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
			strcpy(when, "?");
		buf_printf(w->out, "%-4u %s UTC  %-9s %zu path%s", p.number,
		    when, p.state < 5 ? states[p.state] : "?", files,
		    files == 1 ? "" : "s");
	}
	if (p.undoes != 0)
		buf_printf(w->out, "  (undoes %u)", p.undoes);
	buf_addch(w->out, '\n');
	promotion_free(&p);
	return 0;
}

int
promote_list(struct store *st, const struct session *s, struct buf *out,
    char **cause)
{
	struct list_walk w = { out, s->id };
	struct index_txn *txn;
	unsigned char prefix[4];
	int rc;

	be32_put(prefix, s->id);
	if (index_read_begin(st->index, &txn, cause) != 0)
		return -1;
	rc = index_walk(txn, INDEX_PROMOTIONS, prefix, sizeof prefix, 0,
	    promote_list_fn, &w, cause);
	index_txn_abort(txn);
	return rc;
}

/* ---- conflicts, for status and diff ---- */

int
promote_check(struct store *st, uint32_t owner, const struct change *ch,
    const char *tree, const char *upper, struct buf *merged, char **cause)
{
	struct session fake;
	struct pctx c;
	struct mentry base;
	struct real r;
	char *b = NULL, *o = NULL, *n = NULL;
	size_t bl, ol, nl;
	int rc = -1, got;

	memset(&fake, 0, sizeof fake);
	memset(&r, 0, sizeof r);
	fake.id = owner;
	fake.tree = (char *)tree;
	pctx_init(&c, st, &fake, NULL, cause);
	if ((got = promote_base(st, owner, ch->path, ch->pathlen, &base,
	    cause)) < 0)
		return -1;
	if (got == 1) {
		pctx_free(&c);
		return 0;
	}
	c.treefd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", tree, strerror(errno));
		goto out;
	}
	if (promote_real(&c, ch->path, 1, &r) != 0)
		goto out;
	/* below a file or link the scratch replaced by a directory */
	if (r.error != 0 && (base.kind == MENTRY_ABSENT ||
	    base.kind == MENTRY_WHITEOUT)) {
		rc = 0;
		goto out;
	}
	if (r.error == 0 && promote_real_is_base(&r, &base)) {
		rc = 0;
		goto out;
	}
	if (ch->new_entry != NULL && promote_scratch_is_base(ch->new_entry,
	    &base)) {
		rc = 1;   /* merges: into the real file as it is */
		goto out;
	}
	rc = 2;
	if (r.error != 0 || base.kind != MENTRY_FILE || !base.has_content ||
	    r.kind != MENTRY_FILE || ch->new_type != ENTRY_FILE)
		goto out;
	rc = -1;
	if ((b = blob_read_buf(st, base.hash, PROMOTE_TEXT_MAX, &bl,
	    cause)) == NULL || (o = promote_read_real(&c, ch->path, &ol)) ==
	    NULL)
		goto out;
	if (ch->new_entry != NULL)
		n = blob_read_buf(st, ch->new_entry->hash, PROMOTE_TEXT_MAX, &nl,
		    cause);
	else
		n = diff_read(upper, ch->path, ENTRY_FILE, &nl, cause);
	if (n == NULL)
		goto out;
	if (merged == NULL) {
		struct buf res = BUF_INIT;

		got = promote_merge(b, bl, o, ol, n, nl, ch->path, 0, &res,
		    cause);
		buf_free(&res);
	} else
		got = promote_merge(b, bl, o, ol, n, nl, ch->path, 0, merged,
		    cause);
	if (got < 0)
		goto out;
	/* binary (2): changed on both sides is a conflict */
	rc = got == 0 ? 1 : 2;
out:
	free(b);
	free(o);
	free(n);
	free(r.target);
	mentry_free(&base);
	pctx_free(&c);
	return rc;
}

int
promote_rebase(struct store *st, const struct session *s, const char *path,
    size_t pathlen, char **cause)
{
	struct pctx c;
	struct real r;
	struct mentry e;
	AUTOCLOSE int fd = -1;
	struct stat sb;
	int rc = -1;

	pctx_init(&c, st, s, NULL, cause);
	memset(&r, 0, sizeof r);
	memset(&e, 0, sizeof e);
	c.treefd = open(s->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", s->tree,
		    strerror(errno));
		goto out;
	}
	if (store_lock(st, cause) != 0)
		goto out;
	if (pack_writer_open(st, &c.pw, cause) != 0) {
		store_unlock(st);
		goto out;
	}
	if (index_read_begin(st->index, &c.rtxn, cause) != 0 ||
	    promote_real(&c, path, 0, &r) != 0)
		goto out;
	e.path = (char *)path;
	e.pathlen = pathlen;
	e.kind = r.kind == MENTRY_ABSENT ? MENTRY_WHITEOUT : r.kind;
	e.mode = r.mode;
	e.size = r.size;
	e.target = r.target;
	if (r.kind == MENTRY_FILE) {
		fd = beneath_open(c.treefd, path, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
		if (fd < 0 || fstat(fd, &sb) != 0) {
			*cause = xasprintf("cannot read %s/%s: %s", s->tree,
			    path, strerror(errno));
			goto out;
		}
		e.size = (uint64_t)sb.st_size;
		if (promote_store_fd(&c, fd, e.size, e.hash) != 0)
			goto out;
		e.has_content = 1;
	} else if (r.kind != MENTRY_SYMLINK && r.kind != MENTRY_ABSENT) {
		*cause = xasprintf("%s/%s is no file", s->tree, path);
		goto out;
	}
	promote_pin(&c, 'b', 0, &e);
	index_txn_abort(c.rtxn);
	c.rtxn = NULL;
	if (pack_writer_appended(c.pw) > 0 &&
	    pack_writer_sync(c.pw, cause) != 0)
		goto out;
	if (index_write(st->index, promote_pins_txn, &c, cause) != 0)
		goto out;
	pack_writer_close(c.pw);
	c.pw = NULL;
	store_unlock(st);
	rc = 0;
out:
	free(r.target);
	pctx_free(&c);
	return rc;
}
