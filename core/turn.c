/*
 * Changes between two states of a session: the real tree with checkpoint
 * A's manifest laid over it, and the same with checkpoint B's (or the real
 * tree alone). The candidates are the paths of both manifests, plus the real
 * tree's entries below a directory that either manifest deleted or made
 * opaque; each candidate is looked up in both states and compared.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define TURN_LOWER_DEPTH 4096

/* One path in one state. */
struct turn_view {
	enum entry_type type;   /* ENTRY_NONE: absent */
	mode_t mode;
	off_t size;
	const struct mentry *e; /* NULL: from the real tree */
};

struct turn_build {
	struct turn *t;
	int treefd;
	char **paths;           /* candidates, NUL-terminated copies */
	size_t *lens;
	size_t n, cap;
	size_t outcap;
	char **cause;
};

static void
turn_add(struct turn_build *b, const char *path, size_t len)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->paths = xreallocarray(b->paths, b->cap, sizeof *b->paths);
		b->lens = xreallocarray(b->lens, b->cap, sizeof *b->lens);
	}
	b->paths[b->n] = xmemdup(path, len + 1);
	b->lens[b->n++] = len;
}

static enum entry_type
turn_type_of_mode(mode_t mode)
{
	if (S_ISREG(mode))
		return ENTRY_FILE;
	if (S_ISDIR(mode))
		return ENTRY_DIR;
	if (S_ISLNK(mode))
		return ENTRY_SYMLINK;
	return ENTRY_SPECIAL;
}

/* Opens the real directory holding path (never through a symlink) and
 * points *name at the last component; -1 when it is not there. */
static int
turn_open_parent(int treefd, const char *path, size_t len, const char **name)
{
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS };
	const char *slash = memrchr(path, '/', len);
	char *dir;
	long fd;

	if (slash == NULL) {
		*name = path;
		return (int)syscall(SYS_openat2, treefd, ".", &how, sizeof how);
	}
	*name = slash + 1;
	dir = xstrndup(path, (size_t)(slash - path));
	fd = syscall(SYS_openat2, treefd, dir, &how, sizeof how);
	free(dir);
	return (int)fd;
}

static void
turn_view_real(int treefd, const char *path, size_t len, struct turn_view *v)
{
	const char *name;
	struct stat st;
	int fd = turn_open_parent(treefd, path, len, &name);

	if (fd < 0)
		return;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		v->type = turn_type_of_mode(st.st_mode);
		v->mode = st.st_mode;
		v->size = S_ISDIR(st.st_mode) ? 0 : st.st_size;
	}
	close(fd);
}

static enum entry_type
turn_type_of_entry(const struct mentry *e)
{
	switch (e->kind) {
	case MENTRY_FILE:
		return ENTRY_FILE;
	case MENTRY_DIR:
		return ENTRY_DIR;
	case MENTRY_SYMLINK:
		return ENTRY_SYMLINK;
	case MENTRY_SPECIAL:
		return ENTRY_SPECIAL;
	default:
		return ENTRY_NONE;
	}
}

/* What path is in the state of manifest m. */
static void
turn_view(const struct manifest *m, int treefd, const char *path, size_t len,
    struct turn_view *v)
{
	const struct mentry *e;
	size_t k;

	memset(v, 0, sizeof *v);
	e = manifest_find(m, path, len);
	if (e != NULL) {
		v->type = turn_type_of_entry(e);
		v->mode = e->mode;
		v->size = (off_t)e->size;
		v->e = v->type == ENTRY_NONE ? NULL : e;
		return;
	}
	/* An ancestor that is deleted, opaque or not a directory hides the
	 * real tree below it. */
	for (k = 0; k < len; k++) {
		if (path[k] != '/')
			continue;
		e = manifest_find(m, path, k);
		if (e != NULL && (e->kind != MENTRY_DIR || e->opaque))
			return;
	}
	turn_view_real(treefd, path, len, v);
}

/* Adds the real tree's entries below dir (path of len bytes) as candidates. */
static void
turn_add_real_below(struct turn_build *b, int fd, struct buf *path,
    int depth)
{
	DIR *d;
	struct dirent *de;
	size_t len = path->len;

	if (depth > TURN_LOWER_DEPTH || (d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path->len = len;
		buf_addch(path, '/');
		buf_addstr(path, de->d_name);
		turn_add(b, path->data, path->len);
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = openat(dirfd(d), de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			turn_add_real_below(b, sub, path, depth + 1);
	}
	path->len = len;
	path->data[len] = '\0';
	closedir(d);
}

/* Candidates from one manifest: its paths, and the real tree below the
 * directories it deleted or replaced. */
static void
turn_add_manifest(struct turn_build *b, const struct manifest *m)
{
	struct buf path = BUF_INIT;
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct mentry *e = &m->v[i];
		const char *name;
		int parent, fd;

		turn_add(b, e->path, e->pathlen);
		if (e->kind != MENTRY_WHITEOUT && !(e->kind == MENTRY_DIR &&
		    e->opaque))
			continue;
		parent = turn_open_parent(b->treefd, e->path, e->pathlen, &name);
		if (parent < 0)
			continue;
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(parent);
		if (fd < 0)
			continue;
		buf_reset(&path);
		buf_add(&path, e->path, e->pathlen);
		turn_add_real_below(b, fd, &path, 0);
	}
	buf_free(&path);
}

static int
turn_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
turn_index_cmp(const void *x, const void *y, void *arg)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct turn_build *b = arg;

	return turn_path_cmp(b->paths[i], b->lens[i], b->paths[j], b->lens[j]);
}

/* SHA-256 of a real file, for comparing it with a stored blob. */
static int
turn_hash_real(int treefd, const char *path, size_t len,
    unsigned char out[HASH_LEN])
{
	const char *name;
	int parent = turn_open_parent(treefd, path, len, &name), fd, rc;

	if (parent < 0)
		return -1;
	fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(parent);
	if (fd < 0)
		return -1;
	rc = hash_fd(fd, out, NULL);
	close(fd);
	return rc;
}

static int
turn_real_target(int treefd, const char *path, size_t len, struct buf *out)
{
	const char *name;
	char target[4096];
	ssize_t n;
	int parent = turn_open_parent(treefd, path, len, &name);

	if (parent < 0)
		return -1;
	n = readlinkat(parent, name, target, sizeof target);
	close(parent);
	if (n < 0)
		return -1;
	buf_add(out, target, (size_t)n);
	return 0;
}

/* 1 when two files or symlinks have the same content (or target). */
static int
turn_same_content(const struct turn_build *b, const char *path, size_t len,
    const struct turn_view *x, const struct turn_view *y)
{
	const struct turn_view *entry = x->e != NULL ? x : y;
	const struct turn_view *other = x->e != NULL ? y : x;
	unsigned char h[HASH_LEN];
	struct buf target = BUF_INIT;
	int same;

	if (x->e == NULL && y->e == NULL)
		return 1;
	if (x->type == ENTRY_SYMLINK) {
		if (other->e != NULL)
			return strcmp(x->e->target, y->e->target) == 0;
		same = turn_real_target(b->treefd, path, len, &target) == 0 &&
		    strcmp(target.data, entry->e->target) == 0;
		buf_free(&target);
		return same;
	}
	if (x->size != y->size)
		return 0;
	if (other->e != NULL)
		return memcmp(x->e->hash, y->e->hash, HASH_LEN) == 0;
	return turn_hash_real(b->treefd, path, len, h) == 0 &&
	    memcmp(h, entry->e->hash, HASH_LEN) == 0;
}

static enum change_kind
turn_kind(const struct turn_build *b, const char *path, size_t len,
    const struct turn_view *x, const struct turn_view *y, int *changed)
{
	int perms = (x->mode & 07777) != (y->mode & 07777);

	*changed = 1;
	if (x->type == ENTRY_NONE)
		return CHANGE_ADDED;
	if (y->type == ENTRY_NONE)
		return CHANGE_DELETED;
	if (x->type != y->type)
		return CHANGE_TYPE;
	if (x->type == ENTRY_FILE || x->type == ENTRY_SYMLINK) {
		if (!turn_same_content(b, path, len, x, y))
			return CHANGE_MODIFIED;
	}
	if (perms && x->type != ENTRY_SYMLINK)
		return CHANGE_MODE;
	*changed = 0;
	return CHANGE_MODIFIED;
}

static void
turn_emit(struct turn_build *b, const char *path, size_t len,
    enum change_kind kind, const struct turn_view *x,
    const struct turn_view *y)
{
	struct changes *out = &b->t->changes;
	struct change *c;

	if (out->n == b->outcap) {
		b->outcap = b->outcap ? b->outcap * 2 : 64;
		out->v = xreallocarray(out->v, b->outcap, sizeof *out->v);
	}
	c = &out->v[out->n++];
	memset(c, 0, sizeof *c);
	c->path = xmemdup(path, len + 1);
	c->pathlen = len;
	c->kind = kind;
	c->old_type = x->type;
	c->old_mode = x->mode;
	c->old_size = x->size;
	c->new_type = y->type;
	c->new_mode = y->mode;
	c->new_size = y->size;
	c->old_entry = x->e;
	c->new_entry = y->e;
	c->new_in_tree = y->e == NULL;
}

/* 1 when a change after i lies below the directory v[i]. Sorted bytewise,
 * the paths that extend v[i]'s follow it: those going on with a byte below
 * '/' ("d-x"), then "d/...", then the rest. */
static int
turn_has_below(const struct changes *ch, size_t i)
{
	const struct change *c = &ch->v[i];
	size_t j;

	for (j = i + 1; j < ch->n; j++) {
		const struct change *o = &ch->v[j];

		if (o->pathlen <= c->pathlen ||
		    memcmp(o->path, c->path, c->pathlen) != 0)
			return 0;
		if (o->path[c->pathlen] == '/')
			return 1;
		if ((unsigned char)o->path[c->pathlen] > '/')
			return 0;
	}
	return 0;
}

/* Drops added or deleted directories that have a listed change below. */
static void
turn_prune_dirs(struct changes *ch)
{
	size_t i, kept = 0;

	for (i = 0; i < ch->n; i++) {
		struct change *c = &ch->v[i];

		if (((c->kind == CHANGE_ADDED && c->new_type == ENTRY_DIR) ||
		    (c->kind == CHANGE_DELETED && c->old_type == ENTRY_DIR)) &&
		    turn_has_below(ch, i)) {
			free(c->path);
			continue;
		}
		ch->v[kept++] = *c;
	}
	ch->n = kept;
}

static void
turn_compare(struct turn_build *b)
{
	size_t *order = xcalloc(b->n ? b->n : 1, sizeof *order), i;

	for (i = 0; i < b->n; i++)
		order[i] = i;
	qsort_r(order, b->n, sizeof *order, turn_index_cmp, b);
	for (i = 0; i < b->n; i++) {
		size_t k = order[i];
		const char *path = b->paths[k];
		size_t len = b->lens[k];
		struct turn_view x, y;
		enum change_kind kind;
		int changed;

		if (i > 0 && turn_path_cmp(path, len, b->paths[order[i - 1]],
		    b->lens[order[i - 1]]) == 0)
			continue;
		turn_view(&b->t->from, b->treefd, path, len, &x);
		turn_view(&b->t->to, b->treefd, path, len, &y);
		if (x.type == ENTRY_NONE && y.type == ENTRY_NONE)
			continue;
		kind = turn_kind(b, path, len, &x, &y, &changed);
		if (changed)
			turn_emit(b, path, len, kind, &x, &y);
	}
	free(order);
	turn_prune_dirs(&b->t->changes);
}

int
turn_changes(struct store *st, uint32_t owner, uint32_t a, uint32_t b,
    const char *tree, struct turn *t, char **cause)
{
	struct turn_build build = { 0 };
	size_t i;

	memset(t, 0, sizeof *t);
	if (a != TURN_REAL && checkpoint_manifest(st, owner, a, &t->from,
	    cause) != 0)
		return -1;
	if (b != TURN_REAL && checkpoint_manifest(st, owner, b, &t->to,
	    cause) != 0) {
		turn_free(t);
		return -1;
	}
	build.t = t;
	build.cause = cause;
	build.treefd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (build.treefd < 0) {
		*cause = xasprintf("cannot open %s: %s", tree, strerror(errno));
		turn_free(t);
		return -1;
	}
	turn_add_manifest(&build, &t->from);
	turn_add_manifest(&build, &t->to);
	turn_compare(&build);
	for (i = 0; i < build.n; i++)
		free(build.paths[i]);
	free(build.paths);
	free(build.lens);
	close(build.treefd);
	return 0;
}

void
turn_free(struct turn *t)
{
	changes_free(&t->changes);
	manifest_free(&t->from);
	manifest_free(&t->to);
}

int
turn_parse_number(const char *arg, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v >= CKPT_NONE)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The newest checkpoint of a session. */
static int
turn_newest(struct store *st, uint32_t owner, uint32_t *out, char **cause)
{
	struct ckpt *v = NULL;
	size_t n = 0, i;

	if (checkpoint_list(st, owner, &v, &n, cause) != 0)
		return -1;
	if (n == 0) {
		*cause = xasprintf("session %u has no checkpoints", owner);
		free(v);
		return -1;
	}
	*out = v[n - 1].number;
	for (i = 0; i < n; i++)
		ckpt_free(&v[i]);
	free(v);
	return 0;
}

int
changeset_load(struct changeset *cs, struct store *st,
    const struct session *s, const struct turn_range *r, char **cause)
{
	uint32_t to;

	memset(cs, 0, sizeof *cs);
	cs->upper = session_upper(s);
	if (!r->set) {
		cs->changes = &cs->scan;
		return changes_scan(cs->upper, s->tree, &cs->scan, cause);
	}
	to = r->to;
	if (to == CKPT_NONE && turn_newest(st, s->id, &to, cause) != 0)
		return -1;
	cs->store = st;
	cs->changes = &cs->turn.changes;
	return turn_changes(st, s->id, r->from, to, s->tree, &cs->turn, cause);
}

void
changeset_free(struct changeset *cs)
{
	changes_free(&cs->scan);
	turn_free(&cs->turn);
	free(cs->upper);
	memset(cs, 0, sizeof *cs);
}

int
turn_range_option(struct turn_range *r, int c, const char *arg,
    const struct cmd_entry *entry)
{
	if (c == 't') {
		if (turn_parse_number(arg, &r->to) != 0 || r->to == 0)
			return cmd_usage(entry, "--turn takes a checkpoint "
			    "number from 1 on");
		r->from = r->to - 1;
		r->set |= 1;
		return 0;
	}
	if (turn_parse_number(arg, c == 'f' ? &r->from : &r->to) != 0)
		return cmd_usage(entry, "%s takes a checkpoint number",
		    c == 'f' ? "--from" : "--to");
	r->set |= 2;
	return 0;
}

int
turn_range_done(const struct turn_range *r, const struct cmd_entry *entry)
{
	if (r->set == 3)
		return cmd_usage(entry, "--turn and --from/--to are exclusive");
	if (r->set == 2 && r->from == TURN_REAL)
		return cmd_usage(entry, "--to needs --from");
	return 0;
}
