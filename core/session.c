/*
 * Sessions: one supervised run of a command over a real tree. The record
 * lives in the index's "sessions" database under the 4-byte big-endian id;
 * the scratch lives in <store>/sessions/<id>/. A running session holds an
 * exclusive flock on <id>/lock: a record that says running while the lock is
 * free belongs to an airlock that died, and is reported as crashed.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define SESSION_RECORD_VERSION 1
#define SESSION_META_NEXT "next-session"

static const char *session_state_names[] = {
	[SESSION_RUNNING] = "running",
	[SESSION_EXITED] = "exited",
	[SESSION_CRASHED] = "crashed",
};

const char *
session_state_name(const struct session *s)
{
	return session_state_names[s->state];
}

long
session_count_changes(const struct session *s)
{
	struct changes ch = { 0 };
	char *upper = session_upper(s), *cause = NULL;
	long n = -1;

	if (changes_scan(upper, s->tree, &ch, &cause) == 0)
		n = (long)ch.n;
	free(cause);
	changes_free(&ch);
	free(upper);
	return n;
}

char *
session_upper(const struct session *s)
{
	return path_join(s->dir, "upper");
}

char *
session_work(const struct session *s)
{
	return path_join(s->dir, "work");
}

void
session_free(struct session *s)
{
	char **arg;

	if (s == NULL)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->name);
	free(s->tree);
	if (s->argv != NULL) {
		for (arg = s->argv; *arg != NULL; arg++)
			free(*arg);
		free(s->argv);
	}
	free(s->dir);
	free(s);
}

static void
session_encode(const struct session *s, struct buf *b)
{
	size_t argc = 0;

	while (s->argv[argc] != NULL)
		argc++;
	rec_put_u64(b, SESSION_RECORD_VERSION);
	rec_put_str(b, s->name);
	rec_put_str(b, s->tree);
	rec_put_u64(b, argc);
	for (size_t i = 0; i < argc; i++)
		rec_put_str(b, s->argv[i]);
	rec_put_u64(b, (uint64_t)s->started);
	rec_put_u64(b, (uint64_t)s->ended);
	rec_put_u64(b, s->state);
	rec_put_u64(b, (uint64_t)(int64_t)s->exit_status);
	rec_put_u64(b, s->net);
}

static struct session *
session_decode(struct store *st, uint32_t id, const void *val, size_t len,
    char **cause)
{
	struct session *s = xcalloc(1, sizeof *s);
	struct rec_reader r;
	uint64_t argc, state, net;

	s->id = id;
	s->lock_fd = -1;
	rec_reader_init(&r, val, len);
	if (rec_get_u64(&r) != SESSION_RECORD_VERSION)
		goto bad;
	s->name = rec_get_str(&r);
	s->tree = rec_get_str(&r);
	argc = rec_get_u64(&r);
	if (r.error || s->tree == NULL || argc == 0 || argc > len)
		goto bad;
	s->argv = xcalloc((size_t)argc + 1, sizeof *s->argv);
	for (uint64_t i = 0; i < argc; i++) {
		s->argv[i] = rec_get_str(&r);
		if (s->argv[i] == NULL)
			goto bad;
	}
	s->started = (int64_t)rec_get_u64(&r);
	s->ended = (int64_t)rec_get_u64(&r);
	state = rec_get_u64(&r);
	s->exit_status = (int)(int64_t)rec_get_u64(&r);
	net = rec_get_u64(&r);
	if (r.error || state > SESSION_CRASHED || net > NET_ALLOW)
		goto bad;
	s->state = (enum session_state)state;
	s->net = (enum net_mode)net;
	s->dir = xasprintf("%s/sessions/%u", st->dir, id);
	return s;
bad:
	*cause = xasprintf("the record of session %u is corrupt", id);
	session_free(s);
	return NULL;
}

/* 1 when another process holds the session's run lock. */
static int
session_is_locked(const struct session *s)
{
	char *path = path_join(s->dir, "lock");
	int fd, locked = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		locked = errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

int
session_lock(struct session *s, char **cause)
{
	char *path = path_join(s->dir, "lock");
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*cause = errno == EWOULDBLOCK ?
		    xasprintf("session %u is running in another airlock", s->id) :
		    xasprintf("cannot lock session %u: %s", s->id,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = fd;
	return 0;
}

struct session_put {
	struct session *s;
	int allocate;
};

static int
session_put_txn(struct index_txn *t, void *arg, char **cause)
{
	struct session_put *p = arg;
	unsigned char key[4], next[8];
	struct buf b = BUF_INIT;
	const void *val;
	size_t vlen;
	int rc;

	if (p->allocate) {
		rc = index_get(t, INDEX_META, SESSION_META_NEXT,
		    strlen(SESSION_META_NEXT), &val, &vlen, cause);
		if (rc < 0)
			return -1;
		p->s->id = (rc == 0 && vlen == 8) ? (uint32_t)be64_get(val) : 1;
		be64_put(next, (uint64_t)p->s->id + 1);
		if (index_put(t, INDEX_META, SESSION_META_NEXT,
		    strlen(SESSION_META_NEXT), next, sizeof next, cause) != 0)
			return -1;
	}
	be32_put(key, p->s->id);
	session_encode(p->s, &b);
	rc = index_put(t, INDEX_SESSIONS, key, sizeof key, b.data, b.len, cause);
	buf_free(&b);
	return rc;
}

int
session_save(struct store *st, struct session *s, char **cause)
{
	struct session_put p = { s, 0 };

	return index_write(st->index, session_put_txn, &p, cause);
}

/*
 * Makes upper and work. The root of the merged view takes its mode from
 * upper's root, so upper gets the real tree's permission bits.
 */
static int
session_make_dirs(struct session *s, char **cause)
{
	char *upper = path_join(s->dir, "upper"), *work = path_join(s->dir, "work");
	struct stat st;
	int rc = -1;

	if (stat(s->tree, &st) != 0) {
		*cause = xasprintf("cannot stat %s: %s", s->tree, strerror(errno));
		goto out;
	}
	if (path_mkdirs(upper, 0700, cause) != 0 ||
	    path_mkdirs(work, 0700, cause) != 0)
		goto out;
	if (chmod(upper, st.st_mode & 07777) != 0) {
		*cause = xasprintf("cannot chmod %s: %s", upper, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(upper);
	free(work);
	return rc;
}

int
session_create(struct store *st, const char *name, const char *tree,
    char *const *argv, enum net_mode net, struct session **out, char **cause)
{
	struct session *s = xcalloc(1, sizeof *s);
	struct session_put p = { s, 1 };
	size_t argc = 0;

	s->lock_fd = -1;
	s->name = name != NULL ? xstrdup(name) : NULL;
	s->tree = xstrdup(tree);
	while (argv[argc] != NULL)
		argc++;
	s->argv = xcalloc(argc + 1, sizeof *s->argv);
	for (size_t i = 0; i < argc; i++)
		s->argv[i] = xstrdup(argv[i]);
	s->started = (int64_t)time(NULL);
	s->state = SESSION_RUNNING;
	s->exit_status = -1;
	s->net = net;
	/* Allocate the id in a record marked exited, so that nobody sees it
	 * running before its lock is held. */
	s->state = SESSION_EXITED;
	if (index_write(st->index, session_put_txn, &p, cause) != 0)
		goto fail;
	s->dir = xasprintf("%s/sessions/%u", st->dir, s->id);
	if (path_mkdirs(s->dir, 0700, cause) != 0 ||
	    session_make_dirs(s, cause) != 0 || session_lock(s, cause) != 0)
		goto fail;
	s->state = SESSION_RUNNING;
	if (session_save(st, s, cause) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	session_free(s);
	return -1;
}

struct session_walk {
	struct store *st;
	struct session **v;
	size_t n;
	const char *name;   /* only sessions of this name, when set */
	size_t limit;       /* stop after this many (0: all) */
};

static int
session_walk_one(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct session_walk *w = arg;
	struct session *s;

	if (klen != 4)
		return 0;
	s = session_decode(w->st, be32_get(key), val, vlen, cause);
	if (s == NULL)
		return -1;
	if (s->state == SESSION_RUNNING && !session_is_locked(s))
		s->state = SESSION_CRASHED;
	if (w->name != NULL && (s->name == NULL || strcmp(s->name, w->name))) {
		session_free(s);
		return 0;
	}
	w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
	w->v[w->n++] = s;
	return w->limit != 0 && w->n == w->limit;
}

static int
session_walk(struct store *st, struct session_walk *w, int reverse,
    char **cause)
{
	struct index_txn *t;
	int rc;

	w->st = st;
	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	rc = index_walk(t, INDEX_SESSIONS, NULL, 0, reverse, session_walk_one,
	    w, cause);
	index_txn_abort(t);
	return rc;
}

int
session_list(struct store *st, struct session ***out, size_t *n, char **cause)
{
	struct session_walk w = { 0 };

	if (session_walk(st, &w, 0, cause) != 0) {
		for (size_t i = 0; i < w.n; i++)
			session_free(w.v[i]);
		free(w.v);
		return -1;
	}
	*out = w.v;
	*n = w.n;
	return 0;
}

static int
session_parse_id(const char *which, uint32_t *id)
{
	char *end;
	unsigned long v;

	if (which[0] < '0' || which[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(which, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > UINT32_MAX)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

static int
session_find_id(struct store *st, uint32_t id, struct session **out,
    char **cause)
{
	struct index_txn *t;
	unsigned char key[4];
	const void *val;
	size_t vlen;
	int rc;

	if (index_read_begin(st->index, &t, cause) != 0)
		return -1;
	be32_put(key, id);
	rc = index_get(t, INDEX_SESSIONS, key, sizeof key, &val, &vlen, cause);
	if (rc == 0) {
		*out = session_decode(st, id, val, vlen, cause);
		if (*out == NULL)
			rc = -1;
		else if ((*out)->state == SESSION_RUNNING &&
		    !session_is_locked(*out))
			(*out)->state = SESSION_CRASHED;
	}
	index_txn_abort(t);
	return rc;
}

int
session_find(struct store *st, const char *which, struct session **out,
    char **cause)
{
	struct session_walk w = { 0 };
	uint32_t id;
	int rc;

	if (which != NULL && session_parse_id(which, &id) == 0) {
		rc = session_find_id(st, id, out, cause);
		if (rc == 1)
			*cause = xasprintf("no session %s in this tree (see "
			    "airlock list)", which);
		return rc == 0 ? 0 : -1;
	}
	if (which != NULL && which[0] == '\0') {
		*cause = xstrdup("empty session name");
		return -1;
	}
	/* The newest (of that name): the first match walking backwards. */
	w.name = which;
	w.limit = 1;
	rc = session_walk(st, &w, 1, cause);
	if (rc != 0) {
		for (size_t i = 0; i < w.n; i++)
			session_free(w.v[i]);
		free(w.v);
		return -1;
	}
	if (w.n == 0) {
		*cause = which != NULL ?
		    xasprintf("no session named %s in this tree (see airlock "
		    "list)", which) :
		    xstrdup("no sessions yet in this tree (start one with "
		    "airlock run)");
		free(w.v);
		return -1;
	}
	*out = w.v[0];
	free(w.v);
	return 0;
}

struct session_del {
	uint32_t id;
};

static int
session_del_txn(struct index_txn *t, void *arg, char **cause)
{
	struct session_del *d = arg;
	unsigned char key[4];

	be32_put(key, d->id);
	return index_del(t, INDEX_SESSIONS, key, sizeof key, cause) < 0 ? -1 : 0;
}

int
session_discard(struct store *st, struct session *s, char **cause)
{
	struct session_del d = { s->id };

	if (s->lock_fd < 0 && session_lock(s, cause) != 0)
		return -1;
	if (path_remove_tree(s->dir, cause) != 0)
		return -1;
	/* The checkpoints go with the session; gc reclaims their content. */
	if (checkpoint_forget(st, s->id, cause) != 0)
		return -1;
	return index_write(st->index, session_del_txn, &d, cause);
}
