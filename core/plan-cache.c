/*
 * The cache of the secret walk: the name patterns of the policy (.env,
 * *.pem, ...) are matched against a depth-bounded walk of the real tree at
 * every start, which on a large tree costs more than the rest of the start.
 * The cache keeps what the walk found with the change time of every
 * directory it read; a directory gains, loses or renames an entry only by
 * changing its ctime, which no program can set back, so when every
 * directory's stamp still matches, so do the walk's results.
 *
 * The file is written by airlock into the store (never visible to the
 * agent) and read with bounds checks; anything unexpected is a miss.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

#define PLAN_CACHE_VERSION 1
#define PLAN_CACHE_MAX (64u << 20)
/* Directories changed this recently may change again within the same
 * timestamp tick on coarse file systems: do not trust them. */
#define PLAN_CACHE_SETTLE 2

static int plan_cache_settle = PLAN_CACHE_SETTLE;

void
plan_cache_set_settle(int seconds)
{
	plan_cache_settle = seconds;
}

void
plan_cache_init(struct plan_cache *c)
{
	memset(c, 0, sizeof *c);
	buf_init(&c->dirs);
	c->oldest_ok = 1;
}

void
plan_cache_free(struct plan_cache *c)
{
	buf_free(&c->dirs);
	for (size_t i = 0; i < c->nmatches; i++)
		free(c->matches[i].path);
	free(c->matches);
	memset(c, 0, sizeof *c);
}

void
plan_cache_add_dir(struct plan_cache *c, const char *path,
    const struct stat *st)
{
	if (plan_cache_settle >= 0 &&
	    st->st_ctim.tv_sec + plan_cache_settle >= time(NULL))
		c->oldest_ok = 0;
	c->ndirs++;
	rec_put_str(&c->dirs, path);
	rec_put_u64(&c->dirs, (uint64_t)st->st_dev);
	rec_put_u64(&c->dirs, (uint64_t)st->st_ino);
	rec_put_u64(&c->dirs, (uint64_t)st->st_ctim.tv_sec);
	rec_put_u64(&c->dirs, (uint64_t)st->st_ctim.tv_nsec);
}

void
plan_cache_add_match(struct plan_cache *c, const char *path, int is_dir)
{
	c->matches = xreallocarray(c->matches, c->nmatches + 1,
	    sizeof *c->matches);
	c->matches[c->nmatches].path = xstrdup(path);
	c->matches[c->nmatches].is_dir = is_dir;
	c->nmatches++;
}

int
plan_cache_save(const struct plan_cache *c, const char *file,
    const unsigned char key[HASH_LEN], char **cause)
{
	struct buf b = BUF_INIT;
	int rc;

	if (!c->oldest_ok || c->truncated)
		return 0;
	rec_put_u64(&b, PLAN_CACHE_VERSION);
	rec_put_bytes(&b, key, HASH_LEN);
	rec_put_u64(&b, c->nmatches);
	for (size_t i = 0; i < c->nmatches; i++) {
		rec_put_str(&b, c->matches[i].path);
		rec_put_u64(&b, (uint64_t)c->matches[i].is_dir);
	}
	rec_put_u64(&b, c->ndirs);
	buf_add(&b, c->dirs.data, c->dirs.len);
	rc = path_write_file(file, b.data, b.len, 0600, cause);
	buf_free(&b);
	return rc;
}

/* 1 when the directory still has the recorded stamp. */
static int
plan_cache_dir_same(struct rec_reader *r)
{
	char *path = rec_get_str(r);
	uint64_t dev = rec_get_u64(r), ino = rec_get_u64(r);
	uint64_t sec = rec_get_u64(r), nsec = rec_get_u64(r);
	struct stat st;
	int same;

	same = path != NULL && !r->error &&
	    lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino &&
	    (uint64_t)st.st_ctim.tv_sec == sec &&
	    (uint64_t)st.st_ctim.tv_nsec == nsec;
	free(path);
	return same;
}

int
plan_cache_load(struct plan_cache *c, const char *file,
    const unsigned char key[HASH_LEN])
{
	struct rec_reader r;
	const void *stored;
	char *data, *cause = NULL;
	uint64_t n, i;
	size_t len;
	int hit = 0;

	plan_cache_init(c);
	data = path_read_file(file, PLAN_CACHE_MAX, &len, &cause);
	free(cause);
	if (data == NULL)
		return 0;
	rec_reader_init(&r, data, len);
	if (rec_get_u64(&r) != PLAN_CACHE_VERSION)
		goto out;
	stored = rec_get_bytes(&r, &len);
	if (stored == NULL || len != HASH_LEN || memcmp(stored, key, len) != 0)
		goto out;
	n = rec_get_u64(&r);
	for (i = 0; i < n && !r.error; i++) {
		char *path = rec_get_str(&r);
		uint64_t is_dir = rec_get_u64(&r);

		if (path == NULL || r.error) {
			free(path);
			goto out;
		}
		plan_cache_add_match(c, path, is_dir != 0);
		free(path);
	}
	n = rec_get_u64(&r);
	for (i = 0; i < n; i++) {
		if (!plan_cache_dir_same(&r))
			goto out;
	}
	hit = !r.error && r.left == 0;
out:
	if (!hit)
		plan_cache_free(c);
	free(data);
	return hit;
}
