/*
 * Checkpoints as stored: their records, and their manifests put together
 * from a whole manifest (a keyframe) and the changes after it. Taking one
 * is checkpoint-take.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

#define CKPT_VERSION 1

/* Records. */

static void
ckpt_key(unsigned char key[8], uint32_t owner, uint32_t number)
{
	be32_put(key, owner);
	be32_put(key + 4, number);
}

static void
ckpt_encode(struct buf *b, const struct ckpt *c,
    const struct ckpt_chain *chain)
{
	rec_put_u64(b, CKPT_VERSION);
	rec_put_u64(b, (uint64_t)c->time);
	rec_put_str(b, c->reason);
	rec_put_str(b, c->label);
	rec_put_u64(b, c->added);
	rec_put_u64(b, c->modified);
	rec_put_u64(b, c->deleted);
	rec_put_u64(b, c->bytes);
	rec_put_u64(b, c->entries);
	rec_put_u64(b, c->restored_from);
	rec_put_u64(b, chain->keyframe);
	rec_put_u64(b, chain->length);
	rec_put_str(b, c->note);
}

static int
ckpt_decode(const void *key, const void *val, size_t vlen, struct ckpt *c,
    struct ckpt_chain *chain, char **cause)
{
	struct rec_reader r;
	uint64_t version, restored, kf;

	memset(c, 0, sizeof *c);
	c->number = be32_get((const unsigned char *)key + 4);
	rec_reader_init(&r, val, vlen);
	version = rec_get_u64(&r);
	c->time = (int64_t)rec_get_u64(&r);
	c->reason = rec_get_str(&r);
	c->label = rec_get_str(&r);
	c->added = rec_get_u64(&r);
	c->modified = rec_get_u64(&r);
	c->deleted = rec_get_u64(&r);
	c->bytes = rec_get_u64(&r);
	c->entries = rec_get_u64(&r);
	restored = rec_get_u64(&r);
	kf = rec_get_u64(&r);
	chain->length = rec_get_u64(&r);
	c->note = rec_get_str(&r);
	if (r.error || version != CKPT_VERSION || restored > UINT32_MAX ||
	    kf > c->number) {
		*cause = xasprintf("checkpoint %u of owner %u: corrupt record",
		    c->number, be32_get(key));
		ckpt_free(c);
		return -1;
	}
	c->restored_from = (uint32_t)restored;
	chain->keyframe = (uint32_t)kf;
	return 0;
}

void
ckpt_free(struct ckpt *c)
{
	if (c == NULL)
		return;
	free(c->reason);
	free(c->label);
	free(c->note);
	c->reason = c->label = c->note = NULL;
}

int
checkpoint_get_txn(struct index_txn *t, uint32_t owner, uint32_t number,
    struct ckpt *c, struct ckpt_chain *chain, char **cause)
{
	unsigned char key[8];
	const void *val;
	size_t vlen;
	int rc;

	ckpt_key(key, owner, number);
	rc = index_get(t, INDEX_CHECKPOINTS, key, sizeof key, &val, &vlen,
	    cause);
	if (rc != 0)
		return rc;
	return ckpt_decode(key, val, vlen, c, chain, cause);
}

int
checkpoint_put_txn(struct index_txn *t, uint32_t owner, const struct ckpt *c,
    const struct ckpt_chain *chain, char **cause)
{
	struct buf val = BUF_INIT;
	unsigned char key[8];
	int rc;

	ckpt_encode(&val, c, chain);
	ckpt_key(key, owner, c->number);
	rc = index_put(t, INDEX_CHECKPOINTS, key, sizeof key, val.data,
	    val.len, cause);
	buf_free(&val);
	return rc;
}

static int
ckpt_last_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	uint32_t *number = arg;

	if (klen != 8) {
		*cause = xstrdup("corrupt checkpoint key");
		return -1;
	}
	*number = be32_get((const unsigned char *)key + 4);
	return 1;
}

int
checkpoint_last_txn(struct index_txn *t, uint32_t owner, uint32_t *number,
    char **cause)
{
	unsigned char prefix[4];

	be32_put(prefix, owner);
	*number = CKPT_NONE;
	return index_walk(t, INDEX_CHECKPOINTS, prefix, sizeof prefix, 1,
	    ckpt_last_fn, number, cause);
}

/* Manifests. */

struct ckpt_item {
	struct mentry e;
	uint32_t number;
	int gone;
};
struct ckpt_items {
	struct ckpt_item *v;
	size_t n, cap;
	uint32_t owner, number;
};

static int
ckpt_items_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct ckpt_items *items = arg;
	struct ckpt_item *it;
	struct buf q = BUF_INIT;
	const char *path = (const char *)key + MENTRY_KEY_LEN;
	size_t pathlen = klen < MENTRY_KEY_LEN ? 0 : klen - MENTRY_KEY_LEN;

	if (items->n == items->cap) {
		items->cap = items->cap == 0 ? 256 : items->cap * 2;
		items->v = xreallocarray(items->v, items->cap, sizeof *items->v);
	}
	it = &items->v[items->n];
	if (mentry_decode(key, klen, val, vlen, &it->e, &it->gone) != 0) {
		manifest_quote(&q, path, pathlen);
		*cause = xasprintf("session %u checkpoint %u: %s: corrupt entry",
		    items->owner, items->number, q.data);
		buf_free(&q);
		return -1;
	}
	it->number = items->number;
	items->n++;
	return 0;
}

static int
ckpt_item_cmp(const void *a, const void *b)
{
	const struct ckpt_item *x = a, *y = b;
	int c = mentry_cmp(&x->e, &y->e);

	if (c != 0)
		return c;
	return x->number < y->number ? -1 : x->number > y->number;
}

/* Keeps the newest item of each path, drops deletion markers. */
static void
ckpt_items_fold(struct ckpt_items *items, struct manifest *m)
{
	size_t i;

	m->v = xcalloc(items->n, sizeof *m->v);
	m->n = 0;
	for (i = 0; i < items->n; i++) {
		struct ckpt_item *it = &items->v[i];
		int newest = i + 1 == items->n ||
		    mentry_cmp(&it->e, &items->v[i + 1].e) != 0;

		if (newest && !it->gone)
			m->v[m->n++] = it->e;
		else
			mentry_free(&it->e);
	}
	free(items->v);
}

int
checkpoint_manifest_txn(struct index_txn *t, uint32_t owner, uint32_t number,
    struct manifest *m, char **cause)
{
	struct ckpt_items items = { NULL, 0, 0, owner, 0 };
	struct ckpt_chain chain;
	struct ckpt c;
	unsigned char prefix[8];
	uint32_t n;
	size_t i;
	int rc;

	m->v = NULL;
	m->n = 0;
	rc = checkpoint_get_txn(t, owner, number, &c, &chain, cause);
	if (rc == 1)
		*cause = xasprintf("session %u has no checkpoint %u", owner,
		    number);
	if (rc != 0)
		return -1;
	ckpt_free(&c);
	for (n = chain.keyframe; n <= number; n++) {
		ckpt_key(prefix, owner, n);
		items.number = n;
		if (index_walk(t, INDEX_ENTRIES, prefix, sizeof prefix, 0,
		    ckpt_items_fn, &items, cause) != 0) {
			for (i = 0; i < items.n; i++)
				mentry_free(&items.v[i].e);
			free(items.v);
			return -1;
		}
	}
	/* Keys of long paths do not sort like the paths: check. */
	for (i = 1; i < items.n; i++) {
		if (ckpt_item_cmp(&items.v[i - 1], &items.v[i]) > 0) {
			qsort(items.v, items.n, sizeof *items.v, ckpt_item_cmp);
			break;
		}
	}
	ckpt_items_fold(&items, m);
	return 0;
}

int
checkpoint_manifest(struct store *st, uint32_t owner, uint32_t number,
    struct manifest *m, char **cause)
{
	struct index_txn *t;
	int rc;

	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	rc = checkpoint_manifest_txn(t, owner, number, m, cause);
	index_txn_abort(t);
	return rc;
}

int
checkpoint_get(struct store *st, uint32_t owner, uint32_t number,
    struct ckpt *c, char **cause)
{
	struct ckpt_chain chain;
	struct index_txn *t;
	int rc;

	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	rc = checkpoint_get_txn(t, owner, number, c, &chain, cause);
	index_txn_abort(t);
	return rc;
}

struct ckpt_list {
	struct ckpt *v;
	size_t n;
};

static int
ckpt_list_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct ckpt_list *l = arg;
	struct ckpt_chain chain;

	if (klen != 8) {
		*cause = xstrdup("corrupt checkpoint key");
		return -1;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	if (ckpt_decode(key, val, vlen, &l->v[l->n], &chain, cause) != 0)
		return -1;
	l->n++;
	return 0;
}

int
checkpoint_list(struct store *st, uint32_t owner, struct ckpt **out,
    size_t *n, char **cause)
{
	struct ckpt_list l = { NULL, 0 };
	struct index_txn *t;
	unsigned char prefix[4];
	size_t i;
	int rc;

	be32_put(prefix, owner);
	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	rc = index_walk(t, INDEX_CHECKPOINTS, prefix, sizeof prefix, 0,
	    ckpt_list_fn, &l, cause);
	index_txn_abort(t);
	if (rc != 0) {
		for (i = 0; i < l.n; i++)
			ckpt_free(&l.v[i]);
		free(l.v);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int
checkpoint_base(struct store *st, uint32_t owner, const char *path,
    size_t pathlen, struct mentry *e, char **cause)
{
	struct index_txn *t;
	struct buf key = BUF_INIT, q = BUF_INIT;
	const void *val;
	size_t vlen;
	int rc, gone;

	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	mentry_key(&key, owner, CKPT_BASES, path, pathlen);
	rc = index_get(t, INDEX_ENTRIES, key.data, key.len, &val, &vlen, cause);
	if (rc == 0 && (mentry_decode(key.data, key.len, val, vlen, e,
	    &gone) != 0 || gone || e->pathlen != pathlen ||
	    memcmp(e->path, path, pathlen) != 0)) {
		mentry_free(e);
		manifest_quote(&q, path, pathlen);
		*cause = xasprintf("session %u: the base of %s is corrupt", owner,
		    q.data);
		buf_free(&q);
		rc = -1;
	}
	index_txn_abort(t);
	buf_free(&key);
	return rc;
}

/* Deletes every key with the prefix (collected first: no cursor is
 * disturbed by the deletes). */
struct ckpt_keys {
	struct buf *v;
	size_t n;
};

static int
ckpt_keys_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct ckpt_keys *k = arg;

	k->v = xreallocarray(k->v, k->n + 1, sizeof *k->v);
	buf_init(&k->v[k->n]);
	buf_add(&k->v[k->n++], key, klen);
	return 0;
}

static int
ckpt_delete_prefix(struct index_txn *t, enum index_db db,
    const unsigned char *prefix, size_t plen, char **cause)
{
	struct ckpt_keys k = { NULL, 0 };
	size_t i;
	int rc;

	rc = index_walk(t, db, prefix, plen, 0, ckpt_keys_fn, &k, cause);
	for (i = 0; i < k.n; i++) {
		if (rc == 0 && index_del(t, db, k.v[i].data, k.v[i].len,
		    cause) < 0)
			rc = -1;
		buf_free(&k.v[i]);
	}
	free(k.v);
	return rc;
}

static int
ckpt_forget_txn(struct index_txn *t, void *arg, char **cause)
{
	unsigned char prefix[4];

	be32_put(prefix, *(uint32_t *)arg);
	if (ckpt_delete_prefix(t, INDEX_CHECKPOINTS, prefix, 4, cause) != 0)
		return -1;
	return ckpt_delete_prefix(t, INDEX_ENTRIES, prefix, 4, cause);
}

int
checkpoint_forget(struct store *st, uint32_t owner, char **cause)
{
	return index_write(st->index, ckpt_forget_txn, &owner, cause);
}

/* checkpoint_prune: the newest checkpoint alone, as a whole manifest. */
struct ckpt_prune {
	uint32_t owner;
	uint32_t kept;     /* out: the checkpoint kept */
	uint32_t dropped;  /* out: how many went */
};

static int
ckpt_prune_txn(struct index_txn *t, void *arg, char **cause)
{
	struct ckpt_prune *p = arg;
	struct manifest m = { NULL, 0 };
	struct ckpt_chain chain;
	struct buf key = BUF_INIT, val = BUF_INIT;
	unsigned char prefix[8];
	struct ckpt c;
	uint32_t last, n;
	size_t i;
	int rc = -1;

	memset(&c, 0, sizeof c);
	p->dropped = 0;
	if (checkpoint_last_txn(t, p->owner, &last, cause) != 0)
		return -1;
	p->kept = last;
	if (last == CKPT_NONE || last == 0)
		return 0;
	if (checkpoint_manifest_txn(t, p->owner, last, &m, cause) != 0)
		return -1;
	if (checkpoint_get_txn(t, p->owner, last, &c, &chain, cause) != 0)
		goto out;
	for (n = 0; n <= last; n++) {
		ckpt_key(prefix, p->owner, n);
		if (ckpt_delete_prefix(t, INDEX_ENTRIES, prefix, sizeof prefix,
		    cause) != 0)
			goto out;
		if (n == last)
			break;
		rc = index_del(t, INDEX_CHECKPOINTS, prefix, sizeof prefix,
		    cause);
		if (rc < 0)
			goto out;
		p->dropped += rc == 0;
		rc = -1;
	}
	for (i = 0; i < m.n; i++) {
		mentry_key(&key, p->owner, last, m.v[i].path, m.v[i].pathlen);
		buf_reset(&val);
		mentry_encode(&val, &m.v[i]);
		if (index_put(t, INDEX_ENTRIES, key.data, key.len, val.data,
		    val.len, cause) != 0)
			goto out;
	}
	chain.keyframe = last;
	chain.length = m.n;
	rc = checkpoint_put_txn(t, p->owner, &c, &chain, cause);
out:
	ckpt_free(&c);
	manifest_free(&m);
	buf_free(&key);
	buf_free(&val);
	return rc;
}

int
checkpoint_prune(struct store *st, uint32_t owner, uint32_t *kept,
    uint32_t *dropped, char **cause)
{
	struct ckpt_prune p = { owner, 0, 0 };

	if (index_write(st->index, ckpt_prune_txn, &p, cause) != 0)
		return -1;
	*kept = p.kept;
	*dropped = p.dropped;
	return 0;
}
