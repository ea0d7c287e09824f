/*
 * Garbage collection: mark every blob an entry references (all checkpoints
 * and bases of all owners), sweep the other blob records, then give the
 * bytes back: delete packs with nothing live, copy the live frames of
 * mostly dead packs to a new pack, and cut unreferenced tails.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

#define GC_LIVE 0x1

struct gc_pack {
	uint32_t number;
	uint64_t size;
	uint64_t live_bytes;
	uint64_t live_end;
	enum { GC_KEEP, GC_REMOVE, GC_REPACK, GC_CUT } action;
};

struct gc {
	struct store *st;
	struct blob_set live;     /* hashes entries reference */
	struct blob_set blobs;    /* every blob record; flags GC_LIVE */
	struct gc_pack *packs;
	size_t npacks;
	struct gc_report *report;
};

static int
gc_mark_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct gc *g = arg;
	struct buf q = BUF_INIT;
	struct mentry e;
	int gone, added;

	if (mentry_decode(key, klen, val, vlen, &e, &gone) != 0) {
		manifest_quote(&q, (const char *)key + MENTRY_KEY_LEN,
		    klen > MENTRY_KEY_LEN ? klen - MENTRY_KEY_LEN : 0);
		*cause = xasprintf("session %u: corrupt entry %s (run airlock "
		    "fsck; nothing was collected)", klen >= 4 ?
		    be32_get(key) : 0, q.data);
		buf_free(&q);
		return -1;
	}
	if (!gone && e.kind == MENTRY_FILE && e.has_content)
		blob_set_add(&g->live, e.hash, &added);
	mentry_free(&e);
	return 0;
}

static int
gc_blobs_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct gc *g = arg;
	struct blob_set_item *it;
	struct blob_ref ref;
	char hex[HASH_HEX_LEN + 1];
	int added;

	if (klen != HASH_LEN || blob_decode(val, vlen, &ref) != 0) {
		if (klen == HASH_LEN)
			hash_hex(key, hex);
		*cause = xasprintf("blob %s: corrupt record (run airlock fsck; "
		    "nothing was collected)", klen == HASH_LEN ? hex : "?");
		return -1;
	}
	it = blob_set_add(&g->blobs, key, &added);
	it->ref = ref;
	if (blob_set_find(&g->live, key) != NULL)
		it->flags |= GC_LIVE;
	return 0;
}

static int
gc_mark(struct gc *g, char **cause)
{
	struct index_txn *t;
	int rc;

	if (index_read_begin(g->st->index, &t, cause) != 0)
		return -1;
	rc = index_walk(t, INDEX_ENTRIES, NULL, 0, 0, gc_mark_fn, g, cause);
	if (rc == 0)
		rc = index_walk(t, INDEX_BLOBS, NULL, 0, 0, gc_blobs_fn, g,
		    cause);
	index_txn_abort(t);
	return rc;
}

static struct gc_pack *
gc_pack(struct gc *g, uint32_t number)
{
	size_t lo = 0, hi = g->npacks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->packs[mid].number == number)
			return &g->packs[mid];
		if (g->packs[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Decides what happens to each pack and fills the report. */
static int
gc_plan(struct gc *g, char **cause)
{
	struct pack_info *info;
	size_t i, n;

	if (pack_list(g->st, &info, &n, cause) != 0)
		return -1;
	g->packs = xcalloc(n, sizeof *g->packs);
	g->npacks = n;
	for (i = 0; i < n; i++) {
		g->packs[i].number = info[i].number;
		g->packs[i].size = info[i].size;
	}
	free(info);
	for (i = 0; i < g->blobs.cap; i++) {
		const struct blob_set_item *it = &g->blobs.v[i];
		struct gc_pack *p;

		if (!it->used)
			continue;
		if (!(it->flags & GC_LIVE)) {
			g->report->blobs++;
			continue;
		}
		if ((p = gc_pack(g, it->ref.pack)) == NULL)
			continue;   /* missing: fsck's business */
		p->live_bytes += it->ref.clen;
		if (it->ref.offset + it->ref.clen > p->live_end)
			p->live_end = it->ref.offset + it->ref.clen;
	}
	for (i = 0; i < g->npacks; i++) {
		struct gc_pack *p = &g->packs[i];

		if (p->live_end > p->size)
			continue;   /* truncated under live blobs: fsck says so */
		if (p->live_bytes == 0 && p->size > 0) {
			p->action = GC_REMOVE;
			g->report->bytes += p->size;
			g->report->packs_removed++;
		} else if (p->size - p->live_bytes > p->size / 2) {
			p->action = GC_REPACK;
			g->report->bytes += p->size - p->live_bytes;
			g->report->packs_rewritten++;
		} else if (p->size > p->live_end) {
			p->action = GC_CUT;
			g->report->bytes += p->size - p->live_end;
		}
	}
	return 0;
}

static int
gc_sweep_txn(struct index_txn *t, void *arg, char **cause)
{
	struct gc *g = arg;
	size_t i;

	for (i = 0; i < g->blobs.cap; i++) {
		const struct blob_set_item *it = &g->blobs.v[i];

		if (it->used && !(it->flags & GC_LIVE) &&
		    index_del(t, INDEX_BLOBS, it->hash, HASH_LEN, cause) < 0)
			return -1;
	}
	return 0;
}

/* The live blobs of the packs to rewrite, in pack order. */
struct gc_move {
	const struct blob_set_item *it;
	struct blob_ref to;
};
struct gc_moves {
	struct gc_move *v;
	size_t n;
};

static int
gc_move_cmp(const void *a, const void *b)
{
	const struct blob_ref *x = &((const struct gc_move *)a)->it->ref;
	const struct blob_ref *y = &((const struct gc_move *)b)->it->ref;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void
gc_moves_collect(struct gc *g, struct gc_moves *mv)
{
	size_t i;

	for (i = 0; i < g->blobs.cap; i++) {
		const struct blob_set_item *it = &g->blobs.v[i];
		struct gc_pack *p;

		if (!it->used || !(it->flags & GC_LIVE) ||
		    (p = gc_pack(g, it->ref.pack)) == NULL ||
		    p->action != GC_REPACK)
			continue;
		mv->v = xreallocarray(mv->v, mv->n + 1, sizeof *mv->v);
		mv->v[mv->n].it = it;
		mv->n++;
	}
	if (mv->n > 1)
		qsort(mv->v, mv->n, sizeof *mv->v, gc_move_cmp);
}

static int
gc_moves_txn(struct index_txn *t, void *arg, char **cause)
{
	struct gc_moves *mv = arg;
	size_t i;

	for (i = 0; i < mv->n; i++) {
		if (blob_put(t, mv->v[i].it->hash, &mv->v[i].to, cause) != 0)
			return -1;
	}
	return 0;
}

/* Copies live frames to a new pack and commits their new places. */
static int
gc_repack(struct gc *g, char **cause)
{
	struct gc_moves mv = { NULL, 0 };
	struct pack_writer *pw = NULL;
	char *why = NULL;
	size_t i;
	int rc = 0;

	gc_moves_collect(g, &mv);
	if (mv.n > 0)
		rc = pack_writer_new(g->st, &pw, cause);
	for (i = 0; i < mv.n && rc == 0; i++)
		rc = pack_writer_copy(pw, &mv.v[i].it->ref, &mv.v[i].to, cause);
	if (rc == 0 && pw != NULL)
		rc = pack_writer_sync(pw, cause);
	if (rc == 0 && mv.n > 0)
		rc = index_write(g->st->index, gc_moves_txn, &mv, cause);
	if (rc != 0 && pw != NULL && pack_writer_discard(pw, &why) != 0)
		free(why);
	pack_writer_close(pw);
	free(mv.v);
	return rc;
}

/* Gives the bytes back once the index no longer points at them. */
static int
gc_shrink(struct gc *g, char **cause)
{
	size_t i;

	for (i = 0; i < g->npacks; i++) {
		struct gc_pack *p = &g->packs[i];
		uint64_t size;

		switch (p->action) {
		case GC_REMOVE:
		case GC_REPACK:
			size = 0;
			break;
		case GC_CUT:
			size = p->live_end;
			break;
		default:
			continue;
		}
		if (pack_shrink(g->st, p->number, size, cause) != 0)
			return -1;
	}
	return 0;
}

static int
gc_run(struct gc *g, int dry_run, char **cause)
{
	if (gc_mark(g, cause) != 0 || gc_plan(g, cause) != 0)
		return -1;
	if (dry_run)
		return 0;
	if (g->report->blobs > 0 &&
	    index_write(g->st->index, gc_sweep_txn, g, cause) != 0)
		return -1;
	if (gc_repack(g, cause) != 0)
		return -1;
	return gc_shrink(g, cause);
}

int
store_gc(struct store *st, int dry_run, struct gc_report *report,
    char **cause)
{
	struct gc g;
	int rc;

	memset(report, 0, sizeof *report);
	memset(&g, 0, sizeof g);
	g.st = st;
	g.report = report;
	if (store_lock(st, cause) != 0)
		return -1;
	rc = gc_run(&g, dry_run, cause);
	store_unlock(st);
	blob_set_free(&g.live);
	blob_set_free(&g.blobs);
	free(g.packs);
	return rc;
}
