/*
 * Manifests and their entries: the in-memory form, the order, and the
 * record stored in the "entries" database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

/*
 * Format 1 records (still read): every field a u64, then the hash, the
 * symlink target and the long path as byte strings. Format 2 (written): a
 * version byte, a header byte (the kind and flags below), then varints:
 * mode, size, mtime (zigzag), ctime - mtime (zigzag: usually 0), inode,
 * rdev; the hash as 32 raw bytes when MENTRY_V2_HASH, the target of a
 * symlink and the long path (MENTRY_V2_PATH) as byte strings. A deletion
 * marker is the version, a header of kind MENTRY_V2_GONE and maybe the
 * long path: 2 bytes, an entry of a real file some 55, an absent base 8.
 */
#define MENTRY_VERSION 1
#define MENTRY_VERSION2 2
#define MENTRY_GONE 255          /* a deletion marker in a delta */
#define MENTRY_OPAQUE 0x1
#define MENTRY_CONTENT 0x2
#define MENTRY_V2_KIND 0x07      /* the header's kind bits */
#define MENTRY_V2_GONE 0x07
#define MENTRY_V2_OPAQUE 0x08
#define MENTRY_V2_CONTENT 0x10
#define MENTRY_V2_HASH 0x20
#define MENTRY_V2_PATH 0x40
/* LMDB keys stop at 511 bytes: longer paths are keyed by their first
 * MENTRY_PATH_INLINE bytes and their SHA-256, and kept whole in the value. */
#define MENTRY_PATH_INLINE 400

int
mentry_cmp(const struct mentry *a, const struct mentry *b)
{
	size_t n = a->pathlen < b->pathlen ? a->pathlen : b->pathlen;
	int c = memcmp(a->path, b->path, n);

	if (c != 0)
		return c;
	return a->pathlen < b->pathlen ? -1 : a->pathlen > b->pathlen;
}

static int
mentry_qsort_cmp(const void *a, const void *b)
{
	return mentry_cmp(a, b);
}

int
mentry_same(const struct mentry *a, const struct mentry *b)
{
	if (a->kind != b->kind)
		return 0;
	/* A whiteout's mode means nothing (and differs by how it was made). */
	if (a->kind == MENTRY_WHITEOUT)
		return 1;
	if (a->mode != b->mode)
		return 0;
	switch (a->kind) {
	case MENTRY_FILE:
		return a->size == b->size && a->has_content == b->has_content &&
		    memcmp(a->hash, b->hash, HASH_LEN) == 0;
	case MENTRY_DIR:
		return a->opaque == b->opaque;
	case MENTRY_SYMLINK:
		return a->target != NULL && b->target != NULL &&
		    strcmp(a->target, b->target) == 0;
	case MENTRY_SPECIAL:
		return a->rdev == b->rdev;
	case MENTRY_WHITEOUT:
	case MENTRY_ABSENT:
		return 1;
	}
	return 0;
}

void
mentry_copy(struct mentry *dst, const struct mentry *src)
{
	*dst = *src;
	dst->path = xmemdup(src->path, src->pathlen + 1);
	dst->target = src->target == NULL ? NULL : xstrdup(src->target);
}

void
mentry_free(struct mentry *e)
{
	if (e == NULL)
		return;
	free(e->path);
	free(e->target);
	e->path = NULL;
	e->target = NULL;
}

void
manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		mentry_free(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

void
manifest_add(struct manifest *m, const struct mentry *e)
{
	/* Grow by doubling: n is a power of two when the array is full. */
	if (m->n == 0 || (m->n & (m->n - 1)) == 0)
		m->v = xreallocarray(m->v, m->n == 0 ? 1 : m->n * 2,
		    sizeof *m->v);
	mentry_copy(&m->v[m->n++], e);
}

void
manifest_sort(struct manifest *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof *m->v, mentry_qsort_cmp);
}

const struct mentry *
manifest_find(const struct manifest *m, const char *path, size_t pathlen)
{
	struct mentry key;
	size_t lo = 0, hi = m->n;

	memset(&key, 0, sizeof key);
	key.path = (char *)path;
	key.pathlen = pathlen;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mentry_cmp(&key, &m->v[mid]);

		if (c == 0)
			return &m->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
mentry_key(struct buf *b, uint32_t owner, uint32_t number, const char *path,
    size_t pathlen)
{
	unsigned char k[MENTRY_KEY_LEN], digest[HASH_LEN];

	be32_put(k, owner);
	be32_put(k + 4, number);
	buf_reset(b);
	buf_add(b, k, sizeof k);
	if (pathlen <= MENTRY_PATH_INLINE) {
		buf_add(b, path, pathlen);
		return;
	}
	buf_add(b, path, MENTRY_PATH_INLINE);
	hash_buffer(path, pathlen, digest);
	buf_add(b, digest, HASH_LEN);
}

void
mentry_encode(struct buf *b, const struct mentry *e)
{
	unsigned char head[2];
	int longpath = e->pathlen > MENTRY_PATH_INLINE;

	head[0] = MENTRY_VERSION2;
	head[1] = (unsigned char)(e->kind | (e->opaque ? MENTRY_V2_OPAQUE : 0) |
	    (e->has_content ? MENTRY_V2_CONTENT : 0) |
	    (e->kind == MENTRY_FILE ? MENTRY_V2_HASH : 0) |
	    (longpath ? MENTRY_V2_PATH : 0));
	buf_add(b, head, sizeof head);
	rec_put_uvar(b, e->mode);
	rec_put_uvar(b, e->size);
	rec_put_svar(b, e->mtime_ns);
	rec_put_svar(b, (int64_t)((uint64_t)e->ctime_ns -
	    (uint64_t)e->mtime_ns));
	rec_put_uvar(b, e->ino);
	rec_put_uvar(b, e->rdev);
	if (e->kind == MENTRY_FILE)
		buf_add(b, e->hash, HASH_LEN);
	if (e->kind == MENTRY_SYMLINK)
		rec_put_vstr(b, e->target);
	if (longpath)
		rec_put_vbytes(b, e->path, e->pathlen);
}

void
mentry_encode_gone(struct buf *b, const char *path, size_t pathlen)
{
	unsigned char head[2];
	int longpath = pathlen > MENTRY_PATH_INLINE;

	head[0] = MENTRY_VERSION2;
	head[1] = MENTRY_V2_GONE | (longpath ? MENTRY_V2_PATH : 0);
	buf_add(b, head, sizeof head);
	if (longpath)
		rec_put_vbytes(b, path, pathlen);
}

static int
mentry_decode_fail(struct mentry *e)
{
	mentry_free(e);
	return -1;
}

/* Sets e->path from the value's path (long ones) or the key. */
static int
mentry_decode_path(const unsigned char *key, size_t klen, char *path,
    struct mentry *e)
{
	unsigned char digest[HASH_LEN];
	size_t len;

	if (klen <= MENTRY_KEY_LEN) {
		free(path);
		return -1;
	}
	key += MENTRY_KEY_LEN;
	klen -= MENTRY_KEY_LEN;
	if (path == NULL) {
		if (klen > MENTRY_PATH_INLINE || memchr(key, '\0', klen) != NULL)
			return -1;
		e->path = xmemdup(key, klen + 1);
		e->path[klen] = '\0';
		e->pathlen = klen;
		return 0;
	}
	len = strlen(path);
	hash_buffer(path, len, digest);
	if (len <= MENTRY_PATH_INLINE ||
	    klen != MENTRY_PATH_INLINE + HASH_LEN ||
	    memcmp(key, path, MENTRY_PATH_INLINE) != 0 ||
	    memcmp(key + MENTRY_PATH_INLINE, digest, HASH_LEN) != 0) {
		free(path);
		return -1;
	}
	e->path = path;
	e->pathlen = len;
	return 0;
}

/* The long path of a format 2 record (a copy), NULL when in the key. */
static char *
mentry_decode_v2_path(struct rec_reader *r, int head)
{
	const void *p;
	size_t len;

	if (!(head & MENTRY_V2_PATH))
		return NULL;
	p = rec_get_vbytes(r, &len);
	if (p == NULL || memchr(p, '\0', len) != NULL) {
		r->error = 1;
		return NULL;
	}
	return xstrndup(p, len);
}

static int
mentry_decode_v2(const void *key, size_t klen, struct rec_reader *r,
    struct mentry *e, int *gone)
{
	const unsigned char *head = rec_get_fixed(r, 1);
	const void *hash = NULL;
	uint64_t mode;
	int64_t delta;
	int h, kind;

	if (head == NULL)
		return -1;
	h = *head;
	kind = h & MENTRY_V2_KIND;
	if (kind == MENTRY_V2_GONE) {
		*gone = 1;
		if ((h & ~(MENTRY_V2_KIND | MENTRY_V2_PATH)) != 0)
			return -1;
		return mentry_decode_path(key, klen, mentry_decode_v2_path(r, h),
		    e) != 0 || r->error || r->left != 0 ?
		    mentry_decode_fail(e) : 0;
	}
	mode = rec_get_uvar(r);
	e->size = rec_get_uvar(r);
	e->mtime_ns = rec_get_svar(r);
	delta = rec_get_svar(r);
	e->ctime_ns = (int64_t)((uint64_t)e->mtime_ns + (uint64_t)delta);
	e->ino = rec_get_uvar(r);
	e->rdev = rec_get_uvar(r);
	if (h & MENTRY_V2_HASH)
		hash = rec_get_fixed(r, HASH_LEN);
	if (kind == MENTRY_SYMLINK)
		e->target = rec_get_vstr(r);
	if (mentry_decode_path(key, klen, mentry_decode_v2_path(r, h), e) != 0 ||
	    r->error || r->left != 0 || kind > MENTRY_ABSENT ||
	    mode > UINT32_MAX || (h & 0x80) ||
	    (kind == MENTRY_FILE) != (hash != NULL) ||
	    (kind == MENTRY_SYMLINK && e->target == NULL))
		return mentry_decode_fail(e);
	e->kind = (enum mentry_kind)kind;
	e->mode = (uint32_t)mode;
	e->opaque = (h & MENTRY_V2_OPAQUE) != 0;
	e->has_content = (h & MENTRY_V2_CONTENT) != 0;
	if (hash != NULL)
		memcpy(e->hash, hash, HASH_LEN);
	return 0;
}

int
mentry_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct mentry *e, int *gone)
{
	struct rec_reader r;
	uint64_t version, kind, mode, flags;
	const void *hash;
	size_t hlen;

	memset(e, 0, sizeof *e);
	*gone = 0;
	rec_reader_init(&r, val, vlen);
	/* format 1 starts with a u64 (a zero byte), format 2 with its byte */
	if (vlen > 0 && *(const unsigned char *)val == MENTRY_VERSION2) {
		r.p++;
		r.left--;
		return mentry_decode_v2(key, klen, &r, e, gone);
	}
	version = rec_get_u64(&r);
	kind = rec_get_u64(&r);
	if (r.error || version != MENTRY_VERSION)
		return -1;
	if (kind == MENTRY_GONE) {
		*gone = 1;
		return mentry_decode_path(key, klen, rec_get_str(&r), e) != 0 ||
		    r.error || r.left != 0 ? mentry_decode_fail(e) : 0;
	}
	mode = rec_get_u64(&r);
	e->size = rec_get_u64(&r);
	e->mtime_ns = (int64_t)rec_get_u64(&r);
	e->ctime_ns = (int64_t)rec_get_u64(&r);
	e->ino = rec_get_u64(&r);
	flags = rec_get_u64(&r);
	hash = rec_get_bytes(&r, &hlen);
	e->target = rec_get_str(&r);
	e->rdev = rec_get_u64(&r);
	if (mentry_decode_path(key, klen, rec_get_str(&r), e) != 0 ||
	    r.error || r.left != 0 || kind > MENTRY_ABSENT ||
	    mode > UINT32_MAX || (hlen != 0 && hlen != HASH_LEN) ||
	    (kind == MENTRY_FILE && hlen != HASH_LEN) ||
	    (kind == MENTRY_SYMLINK && e->target == NULL))
		return mentry_decode_fail(e);
	e->kind = (enum mentry_kind)kind;
	e->mode = (uint32_t)mode;
	e->opaque = (flags & MENTRY_OPAQUE) != 0;
	e->has_content = (flags & MENTRY_CONTENT) != 0;
	if (hlen == HASH_LEN)
		memcpy(e->hash, hash, HASH_LEN);
	return 0;
}

void
manifest_quote(struct buf *b, const char *path, size_t pathlen)
{
	size_t i;

	for (i = 0; i < pathlen; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			buf_printf(b, "\\%03o", c);
		else
			buf_addch(b, c);
	}
}
