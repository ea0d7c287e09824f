/*
 * The LMDB index: the only file that includes lmdb.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "snapshot/snapshot.h"

static const char *index_db_names[INDEX_NDB] = {
	[INDEX_SESSIONS] = "sessions",
	[INDEX_CHECKPOINTS] = "checkpoints",
	[INDEX_ENTRIES] = "entries",
	[INDEX_BLOBS] = "blobs",
	[INDEX_APPROVALS] = "approvals",
	[INDEX_PROMOTIONS] = "promotions",
	[INDEX_JOURNAL] = "journal",
	[INDEX_META] = "meta",
};

#define INDEX_META_FORMAT "format"

static size_t index_initial_mapsize = (size_t)64 << 20;

struct index {
	MDB_env *env;
	MDB_dbi dbi[INDEX_NDB];
	char *path;
	int map_full;   /* set by index_put and index_del */
};

struct index_txn {
	struct index *index;
	MDB_txn *txn;
};

void
index_set_initial_mapsize(size_t size)
{
	index_initial_mapsize = size;
}

static int
index_fail(struct index *ix, const char *what, int rc, char **cause)
{
	*cause = xasprintf("%s: %s: %s", ix->path, what, mdb_strerror(rc));
	return -1;
}

/* Begins a transaction, adopting a map another process has grown. */
static int
index_begin(struct index *ix, unsigned int flags, MDB_txn **txn, char **cause)
{
	int rc = mdb_txn_begin(ix->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		rc = mdb_env_set_mapsize(ix->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(ix->env, NULL, flags, txn);
	}
	if (rc != 0)
		return index_fail(ix, "cannot begin a transaction", rc, cause);
	return 0;
}

static int
index_grow(struct index *ix, char **cause)
{
	MDB_envinfo info;
	int rc;

	mdb_env_info(ix->env, &info);
	rc = mdb_env_set_mapsize(ix->env, info.me_mapsize * 2);
	if (rc != 0)
		return index_fail(ix, "cannot grow the map", rc, cause);
	return 0;
}

static int
index_setup(struct index_txn *t, void *arg, char **cause)
{
	struct index *ix = t->index;
	unsigned char version[8];
	const void *val;
	size_t vlen;
	int i, rc;

	for (i = 0; i < INDEX_NDB; i++) {
		rc = mdb_dbi_open(t->txn, index_db_names[i], MDB_CREATE,
		    &ix->dbi[i]);
		if (rc != 0)
			return index_fail(ix, index_db_names[i], rc, cause);
	}
	rc = index_get(t, INDEX_META, INDEX_META_FORMAT,
	    strlen(INDEX_META_FORMAT), &val, &vlen, cause);
	if (rc < 0)
		return -1;
	if (rc == 0 && vlen != 8) {
		*cause = xasprintf("%s: the format version is corrupt", ix->path);
		return -1;
	}
	if (rc == 0 && be64_get(val) > INDEX_FORMAT_VERSION) {
		*cause = xasprintf("%s: written by a newer airlock (format %llu, "
		    "this one reads %d)", ix->path,
		    (unsigned long long)be64_get(val), INDEX_FORMAT_VERSION);
		return -1;
	}
	if (rc == 0 && be64_get(val) == INDEX_FORMAT_VERSION)
		return 0;
	/* New, or older: older records are read as they are, but what is
	 * written from now on an older airlock would misread. */
	be64_put(version, INDEX_FORMAT_VERSION);
	return index_put(t, INDEX_META, INDEX_META_FORMAT,
	    strlen(INDEX_META_FORMAT), version, sizeof version, cause);
}

int
index_open(const char *path, struct index **out, char **cause)
{
	struct index *ix = xcalloc(1, sizeof *ix);
	int rc;

	ix->path = xstrdup(path);
	rc = mdb_env_create(&ix->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(ix->env, INDEX_NDB + 4);
	if (rc == 0)
		rc = mdb_env_set_mapsize(ix->env, index_initial_mapsize);
	if (rc == 0)
		rc = mdb_env_open(ix->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
	if (rc != 0) {
		index_fail(ix, "cannot open", rc, cause);
		index_close(ix);
		return -1;
	}
	if (index_write(ix, index_setup, NULL, cause) != 0) {
		index_close(ix);
		return -1;
	}
	*out = ix;
	return 0;
}

void
index_close(struct index *ix)
{
	if (ix == NULL)
		return;
	if (ix->env != NULL)
		mdb_env_close(ix->env);
	free(ix->path);
	free(ix);
}

int
index_read_begin(struct index *ix, struct index_txn **out, char **cause)
{
	struct index_txn *t = xcalloc(1, sizeof *t);

	t->index = ix;
	if (index_begin(ix, MDB_RDONLY, &t->txn, cause) != 0) {
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void
index_txn_abort(struct index_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int
index_write(struct index *ix, index_write_fn fn, void *arg, char **cause)
{
	struct index_txn t = { ix, NULL };
	int rc;

	for (;;) {
		ix->map_full = 0;
		if (index_begin(ix, 0, &t.txn, cause) != 0)
			return -1;
		if (fn(&t, arg, cause) != 0) {
			mdb_txn_abort(t.txn);
			if (!ix->map_full)
				return -1;
			free(*cause);
			*cause = NULL;
		} else {
			rc = mdb_txn_commit(t.txn);
			if (rc == 0)
				return 0;
			if (rc != MDB_MAP_FULL)
				return index_fail(ix, "cannot commit", rc, cause);
		}
		if (index_grow(ix, cause) != 0)
			return -1;
	}
}

int
index_get(struct index_txn *t, enum index_db db, const void *key, size_t klen,
    const void **val, size_t *vlen, char **cause)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(t->txn, t->index->dbi[db], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return index_fail(t->index, index_db_names[db], rc, cause);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int
index_put(struct index_txn *t, enum index_db db, const void *key, size_t klen,
    const void *val, size_t vlen, char **cause)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_put(t->txn, t->index->dbi[db], &k, &v, 0);

	if (rc == MDB_MAP_FULL)
		t->index->map_full = 1;
	if (rc != 0)
		return index_fail(t->index, index_db_names[db], rc, cause);
	return 0;
}

int
index_del(struct index_txn *t, enum index_db db, const void *key, size_t klen,
    char **cause)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(t->txn, t->index->dbi[db], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc == MDB_MAP_FULL)
		t->index->map_full = 1;
	if (rc != 0)
		return index_fail(t->index, index_db_names[db], rc, cause);
	return 0;
}

/* Positions the cursor on the last key starting with prefix. */
static int
index_walk_last(MDB_cursor *c, const void *prefix, size_t plen, MDB_val *k,
    MDB_val *v)
{
	unsigned char *next;
	size_t n = plen;
	int rc;

	if (plen == 0)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	/* Seek to the first key after the prefix range, then step back. */
	next = xmemdup(prefix, plen);
	while (n > 0 && next[n - 1] == 0xff)
		n--;
	if (n == 0) {
		free(next);
		return mdb_cursor_get(c, k, v, MDB_LAST);
	}
	next[n - 1]++;
	k->mv_data = next;
	k->mv_size = n;
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	free(next);
	if (rc == MDB_NOTFOUND)
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc != 0)
		return rc;
	return mdb_cursor_get(c, k, v, MDB_PREV);
}

int
index_walk(struct index_txn *t, enum index_db db, const void *prefix,
    size_t plen, int reverse, index_walk_fn fn, void *arg, char **cause)
{
	MDB_cursor *c;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc, r = 0;

	rc = mdb_cursor_open(t->txn, t->index->dbi[db], &c);
	if (rc != 0)
		return index_fail(t->index, index_db_names[db], rc, cause);
	if (reverse)
		rc = index_walk_last(c, prefix, plen, &k, &v);
	else if (plen == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	else
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (plen > 0 && (k.mv_size < plen ||
		    memcmp(k.mv_data, prefix, plen) != 0))
			break;
		r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg, cause);
		if (r != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (r < 0)
		return -1;
	if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
		return index_fail(t->index, index_db_names[db], rc, cause);
	return 0;
}
