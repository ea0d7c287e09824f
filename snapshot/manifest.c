/*
 * Manifests and their entries: the in-memory form, the order, and the
 * record stored in the "entries" database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

#define MENTRY_VERSION 1
#define MENTRY_GONE 255          /* a deletion marker in a delta */
#define MENTRY_OPAQUE 0x1
#define MENTRY_CONTENT 0x2
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

/* The whole path, in the value only when the key cannot hold it. */
static void
mentry_encode_path(struct buf *b, const char *path, size_t pathlen)
{
	if (pathlen <= MENTRY_PATH_INLINE)
		rec_put_u64(b, 0);
	else
		rec_put_bytes(b, path, pathlen);
}

void
mentry_encode(struct buf *b, const struct mentry *e)
{
	uint64_t flags = (e->opaque ? MENTRY_OPAQUE : 0) |
	    (e->has_content ? MENTRY_CONTENT : 0);

	rec_put_u64(b, MENTRY_VERSION);
	rec_put_u64(b, e->kind);
	rec_put_u64(b, e->mode);
	rec_put_u64(b, e->size);
	rec_put_u64(b, (uint64_t)e->mtime_ns);
	rec_put_u64(b, (uint64_t)e->ctime_ns);
	rec_put_u64(b, e->ino);
	rec_put_u64(b, flags);
	if (e->kind == MENTRY_FILE)
		rec_put_bytes(b, e->hash, HASH_LEN);
	else
		rec_put_bytes(b, NULL, 0);
	rec_put_str(b, e->kind == MENTRY_SYMLINK ? e->target : NULL);
	rec_put_u64(b, e->rdev);
	mentry_encode_path(b, e->path, e->pathlen);
}

void
mentry_encode_gone(struct buf *b, const char *path, size_t pathlen)
{
	rec_put_u64(b, MENTRY_VERSION);
	rec_put_u64(b, MENTRY_GONE);
	mentry_encode_path(b, path, pathlen);
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
