/*
 * Content-addressed blobs: the "blobs" database maps a SHA-256 to where its
 * frame lies in a pack. Reading checks the content against the hash.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

/* Format 1 (still read): version, pack, offset, clen, size as u64s.
 * Format 2 (written): a version byte, then the same as varints: some 10
 * bytes instead of 40. */
#define BLOB_VERSION 1
#define BLOB_VERSION2 2

int
blob_decode(const void *val, size_t vlen, struct blob_ref *ref)
{
	struct rec_reader r;
	uint64_t version, pack;

	rec_reader_init(&r, val, vlen);
	/* format 1 starts with a u64 (a zero byte), format 2 with its byte */
	if (vlen > 0 && *(const unsigned char *)val == BLOB_VERSION2) {
		version = BLOB_VERSION;   /* checked below as format 1's */
		rec_get_fixed(&r, 1);
		pack = rec_get_uvar(&r);
		ref->offset = rec_get_uvar(&r);
		ref->clen = rec_get_uvar(&r);
		ref->size = rec_get_uvar(&r);
		if (r.left != 0)
			r.error = 1;
	} else {
		version = rec_get_u64(&r);
		pack = rec_get_u64(&r);
		ref->offset = rec_get_u64(&r);
		ref->clen = rec_get_u64(&r);
		ref->size = rec_get_u64(&r);
	}
	if (r.error || version != BLOB_VERSION || pack == 0 ||
	    pack > UINT32_MAX || ref->offset > INT64_MAX ||
	    ref->clen > INT64_MAX - ref->offset)
		return -1;
	ref->pack = (uint32_t)pack;
	return 0;
}

int
blob_find(struct index_txn *t, const unsigned char hash[HASH_LEN],
    struct blob_ref *ref, char **cause)
{
	char hex[HASH_HEX_LEN + 1];
	const void *val;
	size_t vlen;
	int rc;

	rc = index_get(t, INDEX_BLOBS, hash, HASH_LEN, &val, &vlen, cause);
	if (rc != 0)
		return rc;
	if (blob_decode(val, vlen, ref) != 0) {
		hash_hex(hash, hex);
		*cause = xasprintf("blob %s: corrupt record", hex);
		return -1;
	}
	return 0;
}

int
blob_put(struct index_txn *t, const unsigned char hash[HASH_LEN],
    const struct blob_ref *ref, char **cause)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_addch(&b, BLOB_VERSION2);
	rec_put_uvar(&b, ref->pack);
	rec_put_uvar(&b, ref->offset);
	rec_put_uvar(&b, ref->clen);
	rec_put_uvar(&b, ref->size);
	rc = index_put(t, INDEX_BLOBS, hash, HASH_LEN, b.data, b.len, cause);
	buf_free(&b);
	return rc;
}

/* Hashes and counts what passes on its way to the caller's sink. */
struct blob_check {
	struct hash_ctx *hash;
	uint64_t size;
	zstd_sink sink;
	void *arg;
};

static int
blob_check_sink(const void *p, size_t n, void *arg, char **cause)
{
	struct blob_check *c = arg;

	hash_update(c->hash, p, n);
	c->size += n;
	return c->sink(p, n, c->arg, cause);
}

static int
blob_lookup(struct store *st, const unsigned char hash[HASH_LEN],
    struct blob_ref *ref, char **cause)
{
	struct index_txn *t;
	char hex[HASH_HEX_LEN + 1];
	int rc;

	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	rc = blob_find(t, hash, ref, cause);
	index_txn_abort(t);
	if (rc == 1) {
		hash_hex(hash, hex);
		*cause = xasprintf("blob %s is not stored", hex);
		return -1;
	}
	return rc;
}

/* One try at reading; *delivered says whether the sink saw any byte. */
static int
blob_read_once(struct store *st, const unsigned char hash[HASH_LEN],
    zstd_sink sink, void *arg, int *delivered, char **cause)
{
	struct blob_check c = { hash_new(), 0, sink, arg };
	unsigned char got[HASH_LEN];
	char hex[HASH_HEX_LEN + 1];
	struct blob_ref ref;
	int rc = -1;

	if (blob_lookup(st, hash, &ref, cause) != 0)
		goto out;
	if (pack_read(st, &ref, blob_check_sink, &c, cause) != 0)
		goto out;
	hash_final(c.hash, got);
	if (c.size != ref.size || memcmp(got, hash, HASH_LEN) != 0) {
		hash_hex(hash, hex);
		*cause = xasprintf("blob %s: the content does not match its "
		    "hash", hex);
		errno = EIO;
		goto out;
	}
	rc = 0;
out:
	*delivered = c.size > 0;
	hash_free(c.hash);
	return rc;
}

int
blob_read(struct store *st, const unsigned char hash[HASH_LEN],
    zstd_sink sink, void *arg, char **cause)
{
	int delivered;

	if (blob_read_once(st, hash, sink, arg, &delivered, cause) == 0)
		return 0;
	/* gc may have moved the blob to a new pack since it was looked up. */
	if (errno != ENOENT || delivered)
		return -1;
	free(*cause);
	*cause = NULL;
	return blob_read_once(st, hash, sink, arg, &delivered, cause);
}

struct blob_buf {
	struct buf b;
	size_t max;
};

static int
blob_buf_sink(const void *p, size_t n, void *arg, char **cause)
{
	struct blob_buf *bb = arg;

	if (n > bb->max - bb->b.len) {
		*cause = xasprintf("the blob is larger than %zu bytes", bb->max);
		return -1;
	}
	buf_add(&bb->b, p, n);
	return 0;
}

char *
blob_read_buf(struct store *st, const unsigned char hash[HASH_LEN],
    size_t max, size_t *len, char **cause)
{
	struct blob_buf bb = { BUF_INIT, max };

	if (blob_read(st, hash, blob_buf_sink, &bb, cause) != 0) {
		buf_free(&bb.b);
		return NULL;
	}
	return buf_detach(&bb.b, len);
}

static int
blob_fd_sink(const void *p, size_t n, void *arg, char **cause)
{
	const char *at = p;
	int fd = *(int *)arg;

	while (n > 0) {
		ssize_t w = write(fd, at, n);

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

int
blob_write_fd(struct store *st, const unsigned char hash[HASH_LEN], int fd,
    char **cause)
{
	return blob_read(st, hash, blob_fd_sink, &fd, cause);
}

/* The first 8 bytes of a SHA-256 are as good as any hash of it. */
static size_t
blob_set_slot(const struct blob_set *s, const unsigned char hash[HASH_LEN])
{
	return (size_t)be64_get(hash) & (s->cap - 1);
}

struct blob_set_item *
blob_set_find(const struct blob_set *s, const unsigned char hash[HASH_LEN])
{
	size_t i;

	if (s->cap == 0)
		return NULL;
	for (i = blob_set_slot(s, hash); s->v[i].used; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->v[i].hash, hash, HASH_LEN) == 0)
			return &s->v[i];
	return NULL;
}

static void
blob_set_grow(struct blob_set *s)
{
	struct blob_set old = *s;
	size_t i, j;

	s->cap = old.cap == 0 ? 64 : old.cap * 2;
	s->v = xcalloc(s->cap, sizeof *s->v);
	for (i = 0; i < old.cap; i++) {
		if (!old.v[i].used)
			continue;
		j = blob_set_slot(s, old.v[i].hash);
		while (s->v[j].used)
			j = (j + 1) & (s->cap - 1);
		s->v[j] = old.v[i];
	}
	free(old.v);
}

struct blob_set_item *
blob_set_add(struct blob_set *s, const unsigned char hash[HASH_LEN],
    int *added)
{
	struct blob_set_item *it = blob_set_find(s, hash);
	size_t i;

	*added = 0;
	if (it != NULL)
		return it;
	if (2 * (s->n + 1) > s->cap)
		blob_set_grow(s);
	i = blob_set_slot(s, hash);
	while (s->v[i].used)
		i = (i + 1) & (s->cap - 1);
	it = &s->v[i];
	memset(it, 0, sizeof *it);
	it->used = 1;
	memcpy(it->hash, hash, HASH_LEN);
	s->n++;
	*added = 1;
	return it;
}

void
blob_set_free(struct blob_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}
