/*
 * Approvals: what the user let through, per path, bound to the content it
 * was given for. Keys are the owner and the SHA-256 of the path (fixed
 * width, whatever the path's length); the value holds the path too, so a
 * walk can name it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Version 2 adds the lines of hunks approved in part; an approval without
 * any is still written as version 1, which every airlock reads. */
#define APPROVAL_VERSION 1
#define APPROVAL_VERSION_LINES 2
#define APPROVAL_KEY_LEN (4 + HASH_LEN)
#define APPROVAL_TEXT_MAX ((size_t)64 << 20)  /* hunks of bigger files: none */

static const char *const approval_names[] = {
	[APPROVAL_NONE] = "none",
	[APPROVAL_APPROVED] = "approved",
	[APPROVAL_PARTIAL] = "partial",
	[APPROVAL_LAPSED] = "lapsed",
};

const char *
approval_state_name(enum approval_state state)
{
	return approval_names[state];
}

void
approval_fingerprint(enum entry_type type, mode_t mode, const void *content,
    size_t len, unsigned char out[HASH_LEN])
{
	struct hash_ctx *h = hash_new();
	unsigned char head[8];

	/* Directories and absent sides have no content: the type says it. */
	head[0] = 'a';
	head[1] = 'l';
	head[2] = 'f';
	head[3] = (unsigned char)type;
	be32_put(head + 4, type == ENTRY_NONE ? 0 : (uint32_t)(mode & 07777));
	hash_update(h, head, sizeof head);
	if (content != NULL && (type == ENTRY_FILE || type == ENTRY_SYMLINK))
		hash_update(h, content, len);
	hash_final(h, out);
	hash_free(h);
}

static void
approval_key(unsigned char key[APPROVAL_KEY_LEN], uint32_t owner,
    const char *path, size_t pathlen)
{
	be32_put(key, owner);
	hash_buffer(path, pathlen, key + 4);
}

void
approval_free(struct approval *a)
{
	free(a->pick);
	free(a->lines);
	memset(a, 0, sizeof *a);
}

/* 1 when some hunk of a is approved in part. */
static int
approval_has_lines(const struct approval *a)
{
	size_t i;

	for (i = 0; i < a->nhunks; i++) {
		if (a->pick[i] == APPROVAL_PICK_LINES)
			return 1;
	}
	return 0;
}

static int
approval_decode(const void *val, size_t vlen, struct approval *a)
{
	struct rec_reader r;
	const void *nfp, *ofp, *pick, *lines = NULL, *path;
	size_t nlen, olen, plen, llen = 0, pathlen, i;
	uint64_t version, whole, nhunks, nlines = 0;

	memset(a, 0, sizeof *a);
	rec_reader_init(&r, val, vlen);
	version = rec_get_u64(&r);
	whole = rec_get_u64(&r);
	nfp = rec_get_bytes(&r, &nlen);
	ofp = rec_get_bytes(&r, &olen);
	nhunks = rec_get_u64(&r);
	pick = rec_get_bytes(&r, &plen);
	if (version == APPROVAL_VERSION_LINES) {
		nlines = rec_get_u64(&r);
		lines = rec_get_bytes(&r, &llen);
	}
	path = rec_get_bytes(&r, &pathlen);
	if (r.error || r.left != 0 || (version != APPROVAL_VERSION &&
	    version != APPROVAL_VERSION_LINES) ||
	    whole > 1 || nlen != HASH_LEN || olen != HASH_LEN ||
	    nhunks != plen || nlines != llen || path == NULL)
		return -1;
	a->whole = (int)whole;
	memcpy(a->new_fp, nfp, HASH_LEN);
	memcpy(a->old_fp, ofp, HASH_LEN);
	a->nhunks = (size_t)nhunks;
	if (plen > 0)
		a->pick = xmemdup(pick, plen);
	for (i = 0; i < plen; i++) {
		/* version 1 knew only picked (any value) or not */
		if (version == APPROVAL_VERSION)
			a->pick[i] = a->pick[i] != 0;
		else if (a->pick[i] > APPROVAL_PICK_LINES) {
			approval_free(a);
			return -1;
		}
	}
	if (llen > 0) {
		a->nlines = llen;
		a->lines = xmemdup(lines, llen);
	}
	if (approval_has_lines(a) && a->nlines == 0) {
		approval_free(a);
		return -1;
	}
	return 0;
}

int
approval_get(struct store *st, uint32_t owner, const char *path,
    size_t pathlen, struct approval *a, char **cause)
{
	unsigned char key[APPROVAL_KEY_LEN];
	struct index_txn *txn;
	const void *val;
	size_t vlen;
	int rc;

	memset(a, 0, sizeof *a);
	approval_key(key, owner, path, pathlen);
	if (index_read_begin(st->index, &txn, cause) != 0)
		return -1;
	rc = index_get(txn, INDEX_APPROVALS, key, sizeof key, &val, &vlen,
	    cause);
	if (rc == 0 && approval_decode(val, vlen, a) != 0) {
		*cause = xstrdup("a corrupt approval record");
		rc = -1;
	}
	index_txn_abort(txn);
	return rc;
}

struct approval_put_arg {
	unsigned char key[APPROVAL_KEY_LEN];
	struct buf val;
	int del;
	int found;
};

static int
approval_write(struct index_txn *txn, void *arg, char **cause)
{
	struct approval_put_arg *p = arg;
	int rc;

	if (!p->del)
		return index_put(txn, INDEX_APPROVALS, p->key, sizeof p->key,
		    p->val.data, p->val.len, cause);
	rc = index_del(txn, INDEX_APPROVALS, p->key, sizeof p->key, cause);
	if (rc < 0)
		return -1;
	p->found = rc == 0;
	return 0;
}

int
approval_put(struct store *st, uint32_t owner, const char *path,
    size_t pathlen, const struct approval *a, char **cause)
{
	struct approval_put_arg p;
	int rc;

	size_t i;
	int lines = !a->whole && approval_has_lines(a);

	if (lines && (a->nlines == 0 || a->lines == NULL)) {
		*cause = xstrdup("a hunk approved in part without its lines");
		return -1;
	}
	for (i = 0; i < a->nhunks; i++) {
		if (a->pick[i] > APPROVAL_PICK_LINES) {
			*cause = xasprintf("hunk %zu: no such pick", i + 1);
			return -1;
		}
	}
	memset(&p, 0, sizeof p);
	buf_init(&p.val);
	approval_key(p.key, owner, path, pathlen);
	rec_put_u64(&p.val, lines ? APPROVAL_VERSION_LINES : APPROVAL_VERSION);
	rec_put_u64(&p.val, a->whole ? 1 : 0);
	rec_put_bytes(&p.val, a->new_fp, HASH_LEN);
	rec_put_bytes(&p.val, a->old_fp, HASH_LEN);
	rec_put_u64(&p.val, a->nhunks);
	rec_put_bytes(&p.val, a->pick, a->nhunks);
	if (lines) {
		rec_put_u64(&p.val, a->nlines);
		rec_put_bytes(&p.val, a->lines, a->nlines);
	}
	rec_put_bytes(&p.val, path, pathlen);
	rc = index_write(st->index, approval_write, &p, cause);
	buf_free(&p.val);
	return rc;
}

int
approval_del_txn(struct index_txn *txn, uint32_t owner, const char *path,
    size_t pathlen, char **cause)
{
	unsigned char key[APPROVAL_KEY_LEN];

	approval_key(key, owner, path, pathlen);
	return index_del(txn, INDEX_APPROVALS, key, sizeof key, cause);
}

int
approval_del(struct store *st, uint32_t owner, const char *path,
    size_t pathlen, char **cause)
{
	struct approval_put_arg p;

	memset(&p, 0, sizeof p);
	buf_init(&p.val);
	p.del = 1;
	approval_key(p.key, owner, path, pathlen);
	if (index_write(st->index, approval_write, &p, cause) != 0)
		return -1;
	return p.found ? 0 : 1;
}

struct approval_forget_arg {
	unsigned char prefix[4];
	struct buf keys;    /* whole keys, APPROVAL_KEY_LEN each */
};

static int
approval_collect(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct approval_forget_arg *f = arg;

	if (klen == APPROVAL_KEY_LEN)
		buf_add(&f->keys, key, klen);
	return 0;
}

static int
approval_forget_txn(struct index_txn *txn, void *arg, char **cause)
{
	struct approval_forget_arg *f = arg;
	size_t i;

	buf_reset(&f->keys);
	if (index_walk(txn, INDEX_APPROVALS, f->prefix, sizeof f->prefix, 0,
	    approval_collect, f, cause) != 0)
		return -1;
	for (i = 0; i < f->keys.len; i += APPROVAL_KEY_LEN) {
		if (index_del(txn, INDEX_APPROVALS, f->keys.data + i,
		    APPROVAL_KEY_LEN, cause) < 0)
			return -1;
	}
	return 0;
}

int
approval_forget(struct store *st, uint32_t owner, char **cause)
{
	struct approval_forget_arg f;
	int rc;

	be32_put(f.prefix, owner);
	buf_init(&f.keys);
	rc = index_write(st->index, approval_forget_txn, &f, cause);
	buf_free(&f.keys);
	return rc;
}

enum approval_state
approval_state_of(const struct approval *a, const unsigned char old_fp[HASH_LEN],
    const unsigned char new_fp[HASH_LEN], size_t nhunks, size_t *approved)
{
	size_t i, k = 0;
	int some = 0;

	*approved = 0;
	if (a == NULL)
		return APPROVAL_NONE;
	if (memcmp(a->new_fp, new_fp, HASH_LEN) != 0)
		return APPROVAL_LAPSED;
	if (a->whole) {
		*approved = nhunks;
		return APPROVAL_APPROVED;
	}
	/* Hunk numbers hold only for the same two sides. */
	if (memcmp(a->old_fp, old_fp, HASH_LEN) != 0 || a->nhunks != nhunks)
		return APPROVAL_LAPSED;
	for (i = 0; i < a->nhunks; i++) {
		k += a->pick[i] == 1;
		some |= a->pick[i] == APPROVAL_PICK_LINES;
	}
	*approved = k;
	if (k == 0 && !some)
		return APPROVAL_NONE;
	return k == nhunks ? APPROVAL_APPROVED : APPROVAL_PARTIAL;
}

/* The SHA-256 of dir/rel read without following symlinks. */
static int
approval_hash_file(const char *dir, const char *rel, unsigned char out[HASH_LEN],
    char **cause)
{
	AUTOCLOSE int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	AUTOCLOSE int fd = -1;

	if (root < 0 || (fd = beneath_open(root, rel, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY)) < 0) {
		*cause = xasprintf("cannot open %s/%s: %s", dir, rel,
		    strerror(errno));
		return -1;
	}
	if (hash_fd(fd, out, NULL) != 0) {
		*cause = xasprintf("cannot read %s/%s: %s", dir, rel,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* One side: content in memory when it is text-sized, and its
 * fingerprint. */
static int
approval_side(const struct mentry *e, struct store *st, const char *dir,
    const char *path, enum entry_type type, mode_t mode, off_t size,
    char **data, size_t *len, unsigned char fp[HASH_LEN], char **cause)
{
	unsigned char hash[HASH_LEN];

	*data = NULL;
	*len = 0;
	if (type == ENTRY_SYMLINK) {
		if (e != NULL && e->target != NULL)
			*data = xstrdup(e->target);
		else if ((*data = diff_read(dir, path, type, len, cause)) == NULL)
			return -1;
		*len = strlen(*data);
		approval_fingerprint(type, mode, *data, *len, fp);
		return 0;
	}
	if (type != ENTRY_FILE) {
		approval_fingerprint(type, mode, NULL, 0, fp);
		return 0;
	}
	if ((uint64_t)size <= APPROVAL_TEXT_MAX) {
		if (e != NULL)
			*data = blob_read_buf(st, e->hash, APPROVAL_TEXT_MAX, len,
			    cause);
		else
			*data = diff_read(dir, path, type, len, cause);
		if (*data == NULL)
			return -1;
		hash_buffer(*data, *len, hash);
	} else if (e != NULL)
		memcpy(hash, e->hash, HASH_LEN);
	else if (approval_hash_file(dir, path, hash, cause) != 0)
		return -1;
	approval_fingerprint(type, mode, hash, HASH_LEN, fp);
	return 0;
}

static int
change_sides_read(const struct change *c, const char *tree,
    const char *upper, struct store *st, struct change_sides *cs, int hunks,
    char **cause)
{
	memset(cs, 0, sizeof *cs);
	if (approval_side(c->old_entry, st, tree, c->path, c->old_type,
	    c->old_mode, c->old_size, &cs->old, &cs->oldlen, cs->old_fp,
	    cause) != 0 ||
	    approval_side(c->new_entry, st, c->new_in_tree ? tree : upper,
	    c->path, c->new_type, c->new_mode, c->new_size, &cs->new,
	    &cs->newlen, cs->new_fp, cause) != 0) {
		change_sides_free(cs);
		return -1;
	}
	cs->text = c->old_type != ENTRY_SYMLINK && c->new_type != ENTRY_SYMLINK &&
	    (c->old_type == ENTRY_FILE || c->new_type == ENTRY_FILE) &&
	    (c->old_type != ENTRY_FILE || cs->old != NULL) &&
	    (c->new_type != ENTRY_FILE || cs->new != NULL) &&
	    (c->old_type == ENTRY_FILE) == (c->new_type == ENTRY_FILE);
	if (!hunks) {
		cs->no_hunks = 1;
		if (cs->text && (diff_is_binary(cs->old, cs->oldlen) ||
		    diff_is_binary(cs->new, cs->newlen)))
			cs->text = 0;
		return 0;
	}
	if (cs->text && hunks_compute(cs->old, cs->oldlen, cs->new, cs->newlen,
	    &cs->hunks, cause) != 0) {
		change_sides_free(cs);
		return -1;
	}
	if (cs->hunks.binary)
		cs->text = 0;
	return 0;
}

int
change_sides_load(const struct change *c, const char *tree, const char *upper,
    struct store *st, struct change_sides *cs, char **cause)
{
	return change_sides_read(c, tree, upper, st, cs, 1, cause);
}

int
change_sides_load_text(const struct change *c, const char *tree,
    const char *upper, struct store *st, struct change_sides *cs,
    char **cause)
{
	return change_sides_read(c, tree, upper, st, cs, 0, cause);
}

void
change_sides_free(struct change_sides *cs)
{
	free(cs->old);
	free(cs->new);
	hunks_free(&cs->hunks);
	memset(cs, 0, sizeof *cs);
}

enum approval_state
change_approval(struct store *st, uint32_t owner, const struct change *c,
    const struct change_sides *cs, size_t *approved, char **cause)
{
	struct approval a;
	enum approval_state state;
	int rc;

	*approved = 0;
	rc = approval_get(st, owner, c->path, c->pathlen, &a, cause);
	if (rc < 0)
		return (enum approval_state)-1;
	if (rc == 1)
		return APPROVAL_NONE;
	state = approval_state_of(&a, cs->old_fp, cs->new_fp, cs->hunks.n,
	    approved);
	approval_free(&a);
	return state;
}

int
approval_picks(struct store *st, uint32_t owner, const struct change *c,
    const struct change_sides *cs, struct approval *a, char **cause)
{
	struct approval old;
	enum approval_state state;
	size_t approved;
	int got;

	memset(a, 0, sizeof *a);
	a->nhunks = cs->hunks.n;
	a->pick = xcalloc(a->nhunks > 0 ? a->nhunks : 1, 1);
	memcpy(a->new_fp, cs->new_fp, HASH_LEN);
	memcpy(a->old_fp, cs->old_fp, HASH_LEN);
	if ((got = approval_get(st, owner, c->path, c->pathlen, &old,
	    cause)) < 0) {
		approval_free(a);
		return -1;
	}
	if (got == 1)
		return 0;
	state = approval_state_of(&old, cs->old_fp, cs->new_fp, cs->hunks.n,
	    &approved);
	if (state == APPROVAL_APPROVED)
		memset(a->pick, 1, a->nhunks);
	else if (state == APPROVAL_PARTIAL) {
		/* the same two sides (approval_state_of checked): the same
		 * hunks and lines */
		memcpy(a->pick, old.pick, a->nhunks);
		a->nlines = old.nlines;
		a->lines = old.lines;
		old.lines = NULL;
	}
	approval_free(&old);
	return 0;
}

int
approval_set_lines(struct store *st, uint32_t owner, const struct change *c,
    const struct change_sides *cs, const uint32_t *changes, size_t n, int on,
    char **cause)
{
	struct approval a;
	unsigned char *lines;
	size_t total = 0, h, i, j, k, m, got, all = 1, none = 1;
	int rc;

	if (!cs->text) {
		*cause = xstrdup("not a text change (approve it whole)");
		return -1;
	}
	for (h = 0; h < cs->hunks.n; h++)
		total += cs->hunks.v[h].added + cs->hunks.v[h].deleted;
	if (total == 0) {
		*cause = xstrdup("no changed lines (approve it whole)");
		return -1;
	}
	for (j = 0; j < n; j++) {
		if (changes[j] >= total) {
			*cause = xasprintf("line %lu: the change has %zu added "
			    "and deleted lines", (unsigned long)changes[j] + 1,
			    total);
			return -1;
		}
	}
	if (approval_picks(st, owner, c, cs, &a, cause) != 0)
		return -1;
	/* every line's flag, from what holds */
	lines = xcalloc(total, 1);
	for (h = 0, k = 0; h < a.nhunks; h++) {
		m = cs->hunks.v[h].added + cs->hunks.v[h].deleted;
		for (i = 0; i < m; i++, k++) {
			if (a.pick[h] == APPROVAL_PICK_LINES)
				lines[k] = a.nlines == total && a.lines[k] != 0;
			else
				lines[k] = a.pick[h] != 0;
		}
	}
	for (j = 0; j < n; j++)
		lines[changes[j]] = on != 0;
	/* and back to hunk picks */
	for (h = 0, k = 0; h < a.nhunks; h++) {
		m = cs->hunks.v[h].added + cs->hunks.v[h].deleted;
		for (i = 0, got = 0; i < m; i++, k++)
			got += lines[k];
		a.pick[h] = got == m ? 1 : got == 0 ? 0 :
		    APPROVAL_PICK_LINES;
		all &= a.pick[h] == 1;
		none &= a.pick[h] == 0;
	}
	free(a.lines);
	a.lines = lines;
	a.nlines = total;
	if (none) {
		rc = approval_del(st, owner, c->path, c->pathlen, cause);
		approval_free(&a);
		return rc < 0 ? -1 : 0;
	}
	if (all) {
		/* every line: the whole change */
		free(a.pick);
		free(a.lines);
		a.pick = a.lines = NULL;
		a.nhunks = a.nlines = 0;
		a.whole = 1;
	}
	rc = approval_put(st, owner, c->path, c->pathlen, &a, cause);
	approval_free(&a);
	return rc;
}
