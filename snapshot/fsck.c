/*
 * fsck: every blob is read back and checked against its hash; every file
 * entry of every checkpoint and base must name a good blob. What is lost is
 * said per owner, path and run of checkpoints, so a user knows exactly which
 * turns can no longer be restored.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

#define FSCK_CORRUPT 0x1
#define FSCK_NO_PACK 0x2

struct fsck {
	struct store *st;
	struct index_txn *t;
	struct buf *out;
	int problems;
	struct blob_set blobs;
	struct pack_info *packs;
	size_t npacks;
};

/* A path whose blob is bad in checkpoints first..last of one owner. */
struct fsck_run {
	char *path;
	size_t pathlen;
	unsigned char hash[HASH_LEN];
	uint32_t first, last;
};
struct fsck_runs {
	struct fsck_run *v;
	size_t n;
};

static void PRINTFLIKE(2, 3)
fsck_problem(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(f->out, fmt, ap);
	va_end(ap);
	buf_addch(f->out, '\n');
	f->problems++;
}

static int
fsck_blobs_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct fsck *f = arg;
	struct blob_set_item *it;
	char hex[HASH_HEX_LEN + 1];
	int added;

	if (klen != HASH_LEN) {
		fsck_problem(f, "a blob record has a bad key (%zu bytes)", klen);
		return 0;
	}
	it = blob_set_add(&f->blobs, key, &added);
	if (blob_decode(val, vlen, &it->ref) != 0) {
		hash_hex(key, hex);
		fsck_problem(f, "blob %s: corrupt record", hex);
		it->flags |= FSCK_CORRUPT;
	}
	return 0;
}

static const struct pack_info *
fsck_pack(const struct fsck *f, uint32_t number)
{
	size_t i;

	for (i = 0; i < f->npacks; i++) {
		if (f->packs[i].number == number)
			return &f->packs[i];
	}
	return NULL;
}

struct fsck_check {
	struct hash_ctx *hash;
	uint64_t size;
};

static int
fsck_check_sink(const void *p, size_t n, void *arg, char **cause)
{
	struct fsck_check *c = arg;

	hash_update(c->hash, p, n);
	c->size += n;
	return 0;
}

static void
fsck_verify(struct fsck *f, struct blob_set_item *it)
{
	struct fsck_check c = { hash_new(), 0 };
	unsigned char got[HASH_LEN];
	char hex[HASH_HEX_LEN + 1], *why = NULL, *name;

	hash_hex(it->hash, hex);
	name = pack_name(it->ref.pack);
	if (pack_read(f->st, &it->ref, fsck_check_sink, &c, &why) != 0) {
		fsck_problem(f, "blob %s (%s at offset %llu): %s", hex, name,
		    (unsigned long long)it->ref.offset, why);
		it->flags |= FSCK_CORRUPT;
	} else {
		hash_final(c.hash, got);
		if (c.size != it->ref.size || memcmp(got, it->hash,
		    HASH_LEN) != 0) {
			fsck_problem(f, "blob %s (%s at offset %llu): the "
			    "content does not match its hash", hex, name,
			    (unsigned long long)it->ref.offset);
			it->flags |= FSCK_CORRUPT;
		}
	}
	free(why);
	free(name);
	hash_free(c.hash);
}

/* Reads every blob back; reports missing packs and unreferenced bytes. */
static void
fsck_blobs(struct fsck *f)
{
	uint64_t *used = xcalloc(f->npacks + 1, sizeof *used);
	struct blob_set missing = { NULL, 0, 0 };
	unsigned char key[HASH_LEN];
	size_t i;
	int added;

	for (i = 0; i < f->blobs.cap; i++) {
		struct blob_set_item *it = &f->blobs.v[i];
		const struct pack_info *p;

		if (!it->used || (it->flags & FSCK_CORRUPT))
			continue;
		if ((p = fsck_pack(f, it->ref.pack)) == NULL) {
			it->flags |= FSCK_NO_PACK;
			memset(key, 0, sizeof key);
			be32_put(key, it->ref.pack);
			blob_set_add(&missing, key, &added)->ref.size++;
			continue;
		}
		used[p - f->packs] += it->ref.clen;
		fsck_verify(f, it);
	}
	for (i = 0; i < missing.cap; i++) {
		char *name;

		if (!missing.v[i].used)
			continue;
		name = pack_name(be32_get(missing.v[i].hash));
		fsck_problem(f, "%s is missing (%llu blobs)", name,
		    (unsigned long long)missing.v[i].ref.size);
		free(name);
	}
	for (i = 0; i < f->npacks; i++) {
		char *name = pack_name(f->packs[i].number);

		if (f->packs[i].size > used[i])
			buf_printf(f->out, "note: %s: %llu bytes no blob "
			    "references (airlock gc reclaims them)\n", name,
			    (unsigned long long)(f->packs[i].size - used[i]));
		free(name);
	}
	blob_set_free(&missing);
	free(used);
}

/* Why a file entry's content is lost, or NULL when it is fine. */
static const char *
fsck_lost(const struct fsck *f, const struct mentry *e)
{
	const struct blob_set_item *it;

	if (e->kind != MENTRY_FILE || !e->has_content)
		return NULL;
	it = blob_set_find(&f->blobs, e->hash);
	if (it == NULL)
		return "is missing";
	if (it->flags & FSCK_NO_PACK)
		return "is in a missing pack";
	if (it->flags & FSCK_CORRUPT)
		return "is corrupt";
	return NULL;
}

static void
fsck_run_emit(struct fsck *f, uint32_t owner, struct fsck_run *r)
{
	struct mentry e;
	struct buf q = BUF_INIT;
	char hex[HASH_HEX_LEN + 1];

	memset(&e, 0, sizeof e);
	e.kind = MENTRY_FILE;
	e.has_content = 1;
	memcpy(e.hash, r->hash, HASH_LEN);
	manifest_quote(&q, r->path, r->pathlen);
	hash_hex(r->hash, hex);
	if (r->first == r->last)
		fsck_problem(f, "session %u checkpoint %u: %s: blob %s %s", owner,
		    r->first, q.data, hex, fsck_lost(f, &e));
	else
		fsck_problem(f, "session %u checkpoints %u-%u: %s: blob %s %s",
		    owner, r->first, r->last, q.data, hex, fsck_lost(f, &e));
	buf_free(&q);
	free(r->path);
}

static void
fsck_runs_end(struct fsck *f, uint32_t owner, struct fsck_runs *runs)
{
	size_t i;

	for (i = 0; i < runs->n; i++)
		fsck_run_emit(f, owner, &runs->v[i]);
	free(runs->v);
	runs->v = NULL;
	runs->n = 0;
}

static void
fsck_run_add(struct fsck_runs *runs, const struct fsck_run *r)
{
	runs->v = xreallocarray(runs->v, runs->n + 1, sizeof *runs->v);
	runs->v[runs->n++] = *r;
}

/* Extends the runs that go on in checkpoint n, ends the others, starts
 * new ones: a merge of two lists sorted by path. */
static void
fsck_runs_step(struct fsck *f, uint32_t owner, struct fsck_runs *runs,
    uint32_t prev, uint32_t n, const struct manifest *m)
{
	struct fsck_runs next = { NULL, 0 };
	struct fsck_run r;
	size_t i = 0, j;

	for (j = 0; j < m->n; j++) {
		const struct mentry *e = &m->v[j];
		struct mentry key;
		int d = 1;

		if (fsck_lost(f, e) == NULL)
			continue;
		memset(&key, 0, sizeof key);
		for (; i < runs->n; i++) {
			key.path = runs->v[i].path;
			key.pathlen = runs->v[i].pathlen;
			if ((d = mentry_cmp(&key, e)) >= 0)
				break;
			fsck_run_emit(f, owner, &runs->v[i]);
		}
		if (i < runs->n && d == 0 && runs->v[i].last == prev &&
		    memcmp(runs->v[i].hash, e->hash, HASH_LEN) == 0) {
			runs->v[i].last = n;
			fsck_run_add(&next, &runs->v[i++]);
			continue;
		}
		if (i < runs->n && d == 0)
			fsck_run_emit(f, owner, &runs->v[i++]);
		r.path = xmemdup(e->path, e->pathlen + 1);
		r.pathlen = e->pathlen;
		memcpy(r.hash, e->hash, HASH_LEN);
		r.first = r.last = n;
		fsck_run_add(&next, &r);
	}
	for (; i < runs->n; i++)
		fsck_run_emit(f, owner, &runs->v[i]);
	free(runs->v);
	*runs = next;
}

/* The checkpoints of every owner, in key order. */
struct fsck_ckpts {
	uint32_t (*v)[2];
	size_t n;
};

static int
fsck_ckpts_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct fsck_ckpts *c = arg;

	if (klen != 8)
		return 0;
	c->v = xreallocarray(c->v, c->n + 1, sizeof *c->v);
	c->v[c->n][0] = be32_get(key);
	c->v[c->n][1] = be32_get((const unsigned char *)key + 4);
	c->n++;
	return 0;
}

/* Bases and pinned entries: kept apart from the checkpoints. */
static int
fsck_kept_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct fsck *f = arg;
	const char *path = (const char *)key + MENTRY_KEY_LEN;
	struct buf q = BUF_INIT;
	char hex[HASH_HEX_LEN + 1];
	const char *why, *what;
	struct mentry e;
	uint32_t owner, number;
	int gone;

	if (klen <= MENTRY_KEY_LEN)
		return 0;
	owner = be32_get(key);
	number = be32_get((const unsigned char *)key + 4);
	if (number != CKPT_BASES && number != CKPT_PINS &&
	    number != CKPT_COPIES && number != CKPT_COPIES_REAL)
		return 0;
	what = number == CKPT_BASES ? "the base of" :
	    number == CKPT_PINS ? "the pinned" : "the record of the copy";
	if (mentry_decode(key, klen, val, vlen, &e, &gone) != 0 || gone) {
		manifest_quote(&q, path, klen - MENTRY_KEY_LEN);
		fsck_problem(f, "session %u: %s %s is corrupt", owner, what,
		    q.data);
	} else if ((why = fsck_lost(f, &e)) != NULL) {
		manifest_quote(&q, e.path, e.pathlen);
		hash_hex(e.hash, hex);
		fsck_problem(f, "session %u: %s %s: blob %s %s", owner, what,
		    q.data, hex, why);
	}
	mentry_free(&e);
	buf_free(&q);
	return 0;
}

static int
fsck_entries(struct fsck *f, char **cause)
{
	struct fsck_ckpts c = { NULL, 0 };
	struct fsck_runs runs = { NULL, 0 };
	struct manifest m;
	char *why = NULL;
	size_t i;
	int rc;

	rc = index_walk(f->t, INDEX_CHECKPOINTS, NULL, 0, 0, fsck_ckpts_fn, &c,
	    cause);
	for (i = 0; i < c.n && rc == 0; i++) {
		uint32_t owner = c.v[i][0], n = c.v[i][1];
		uint32_t prev = i > 0 && c.v[i - 1][0] == owner ?
		    c.v[i - 1][1] : CKPT_NONE;

		if (checkpoint_manifest_txn(f->t, owner, n, &m, &why) != 0) {
			fsck_problem(f, "%s", why);
			free(why);
			why = NULL;
			m.v = NULL;
			m.n = 0;
		}
		fsck_runs_step(f, owner, &runs, prev, n, &m);
		manifest_free(&m);
		if (i + 1 == c.n || c.v[i + 1][0] != owner)
			fsck_runs_end(f, owner, &runs);
	}
	fsck_runs_end(f, 0, &runs);
	free(c.v);
	if (rc != 0)
		return -1;
	return index_walk(f->t, INDEX_ENTRIES, NULL, 0, 0, fsck_kept_fn, f,
	    cause);
}

static int
fsck_run(struct fsck *f, char **cause)
{
	if (pack_list(f->st, &f->packs, &f->npacks, cause) != 0 ||
	    index_read_begin(f->st->index, &f->t, cause) != 0)
		return -1;
	if (index_walk(f->t, INDEX_BLOBS, NULL, 0, 0, fsck_blobs_fn, f,
	    cause) != 0)
		return -1;
	fsck_blobs(f);
	return fsck_entries(f, cause);
}

int
store_fsck(struct store *st, struct buf *problems, char **cause)
{
	struct fsck f;
	int rc;

	memset(&f, 0, sizeof f);
	f.st = st;
	f.out = problems;
	if (store_lock(st, cause) != 0)
		return -1;
	rc = fsck_run(&f, cause);
	store_unlock(st);
	index_txn_abort(f.t);
	blob_set_free(&f.blobs);
	free(f.packs);
	return rc == 0 ? f.problems : -1;
}
