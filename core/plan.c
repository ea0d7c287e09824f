/*
 * The mount plan (design §3): the policy's rules turned into the ordered
 * list of mounts the warden carries out, with name patterns resolved by a
 * depth-bounded walk of the real tree.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define POLICY_WALK_DEPTH 8
#define POLICY_WALK_ENTRIES 1000000

#define nitems(a) (sizeof (a) / sizeof (a)[0])

static int policy_walk_depth = POLICY_WALK_DEPTH;
static size_t policy_walk_entries = POLICY_WALK_ENTRIES;

void
policy_set_walk_limits(int depth, size_t entries)
{
	policy_walk_depth = depth > 0 ? depth : POLICY_WALK_DEPTH;
	policy_walk_entries = entries > 0 ? entries : POLICY_WALK_ENTRIES;
}

/*
 * The plan. Every path in it is canonical up to its last component, which is
 * never followed for a deny (a symlink is masked as a file), so ordering by
 * depth puts each mount after the mounts of its real ancestors.
 */

struct plan_cand {
	struct plan_entry e;
	size_t depth;
	size_t order;
	int via_link;    /* a ro/rw/tmp rule that named a symlink */
};

struct plan_match {
	char *path;
	size_t rule;
	int is_dir;
};

struct plan_build {
	const struct policy *p;
	char *tree;
	char *home;      /* NULL when $HOME is unset or absent */
	char *tmp;
	char *store;     /* NULL when not given */
	char **canon;    /* per rule: its canonical path, NULL when none */
	struct plan_cand *c;
	size_t nc;
	struct plan_entry *skip;
	size_t nskip;
	struct plan_match *m;
	size_t nm;
	long home_idx, tmp_idx;
	/* The walk. */
	struct buf path;
	size_t entries;
	int truncated;
	struct plan_cache cache;
};

static int
plan_is_deny(enum plan_kind kind)
{
	return kind == PLAN_DENY_DIR || kind == PLAN_DENY_FILE;
}

static size_t
plan_depth(const char *path)
{
	size_t depth = 0;

	for (const char *s = path; *s != '\0'; s++) {
		if (*s != '/' && (s == path || s[-1] == '/'))
			depth++;
	}
	return depth;
}

/* Takes path and origin. */
static long
plan_add(struct plan_build *b, enum plan_kind kind, char *path, char *origin)
{
	struct plan_cand *c;

	b->c = xreallocarray(b->c, b->nc + 1, sizeof *b->c);
	c = &b->c[b->nc];
	c->e.kind = kind;
	c->e.path = path;
	c->e.origin = origin;
	c->depth = plan_depth(path);
	c->order = b->nc;
	c->via_link = 0;
	return (long)b->nc++;
}

static void
plan_skip(struct plan_entry **v, size_t *n, enum plan_kind kind,
    const char *path, const char *origin, const char *why)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n].kind = kind;
	(*v)[*n].path = xstrdup(path);
	(*v)[*n].origin = xasprintf("%s; %s", origin, why);
	(*n)++;
}

static enum plan_kind
plan_kind_of(enum policy_action action, int is_dir)
{
	switch (action) {
	case POLICY_DENY:
		return is_dir ? PLAN_DENY_DIR : PLAN_DENY_FILE;
	case POLICY_RO:
		return PLAN_RO;
	case POLICY_RW:
		return PLAN_RW;
	case POLICY_TMP:
		return PLAN_TMP;
	}
	return PLAN_DENY_FILE;
}

/*
 * The path with every component but the last resolved (the last one is what
 * a rule is about, even when it is a symlink). NULL when the parent is gone.
 */
static char *
plan_canonical(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent, *real, *out;

	if (slash == NULL)
		return NULL;
	if (slash[1] == '\0')
		return realpath(path, NULL);
	parent = slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	real = realpath(parent, NULL);
	free(parent);
	if (real == NULL)
		return NULL;
	out = path_join(real, slash + 1);
	free(real);
	return out;
}

/* The last pattern rule that matches name, or -1. */
static long
plan_walk_match(const struct policy *p, const char *name)
{
	for (size_t i = p->nrules; i-- > 0;) {
		const struct policy_rule *r = &p->rules[i];

		if (r->is_pattern && r->action == POLICY_DENY &&
		    policy_glob_match(r->path, name))
			return (long)i;
	}
	return -1;
}

/*
 * Walks the directory open at fd (b->path names it), at depth (1 for the
 * tree's own entries). Never follows a symlink, stats only when the file
 * system gives no d_type, and stops for good after the entry limit.
 */
static void
plan_walk_found(struct plan_build *b, const char *path, size_t rule,
    int is_dir)
{
	b->m = xreallocarray(b->m, b->nm + 1, sizeof *b->m);
	b->m[b->nm].path = xstrdup(path);
	b->m[b->nm].rule = rule;
	b->m[b->nm].is_dir = is_dir;
	b->nm++;
}

/* What the cache of the walk is for: the tree, the patterns, the limits. */
static void
plan_walk_key(const struct plan_build *b, unsigned char key[HASH_LEN])
{
	struct buf k = BUF_INIT;
	size_t i;

	buf_printf(&k, "%s%c%d%c%zu%c", b->tree, 0, policy_walk_depth, 0,
	    policy_walk_entries, 0);
	for (i = 0; i < b->p->nrules; i++) {
		if (b->p->rules[i].is_pattern)
			buf_printf(&k, "%s%c", b->p->rules[i].path, 0);
	}
	hash_buffer(k.data, k.len, key);
	buf_free(&k);
}

/* Takes the walk's results from the cache; 1 on a hit. */
static int
plan_walk_cached(struct plan_build *b, const unsigned char key[HASH_LEN])
{
	struct plan_cache hit;
	size_t i;

	if (b->p->walk_cache == NULL ||
	    !plan_cache_load(&hit, b->p->walk_cache, key))
		return 0;
	for (i = 0; i < hit.nmatches; i++) {
		const char *slash = strrchr(hit.matches[i].path, '/');
		long rule = plan_walk_match(b->p, slash ? slash + 1 :
		    hit.matches[i].path);

		if (rule >= 0)
			plan_walk_found(b, hit.matches[i].path, (size_t)rule,
			    hit.matches[i].is_dir);
	}
	plan_cache_free(&hit);
	return 1;
}

static void
plan_walk_dir(struct plan_build *b, int fd, int depth)
{
	DIR *d;
	struct dirent *de;
	struct stat dst;

	if (fstat(fd, &dst) != 0 || (d = fdopendir(fd)) == NULL) {
		close(fd);
		b->cache.oldest_ok = 0;
		return;
	}
	plan_cache_add_dir(&b->cache, b->path.len ? b->path.data : "/", &dst);
	while (!b->truncated && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		unsigned char type = de->d_type;
		size_t len = b->path.len;
		struct stat st;
		long rule;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (++b->entries > policy_walk_entries) {
			b->truncated = 1;
			break;
		}
		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		buf_addch(&b->path, '/');
		buf_addstr(&b->path, name);
		rule = plan_walk_match(b->p, name);
		if (rule >= 0) {
			plan_walk_found(b, b->path.data, (size_t)rule,
			    type == DT_DIR);
			plan_cache_add_match(&b->cache, b->path.data,
			    type == DT_DIR);
		} else if (type == DT_DIR && depth < policy_walk_depth &&
		    strcmp(name, ".git") != 0 &&
		    strcmp(name, "node_modules") != 0) {
			int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				plan_walk_dir(b, sub, depth + 1);
		}
		b->path.len = len;
		b->path.data[len] = '\0';
	}
	closedir(d);
}

static void
plan_walk(struct plan_build *b)
{
	unsigned char key[HASH_LEN];
	char *cause = NULL;
	size_t i;
	int fd;

	for (i = 0; i < b->p->nrules; i++) {
		if (b->p->rules[i].is_pattern)
			break;
	}
	if (i == b->p->nrules)
		return;
	plan_walk_key(b, key);
	if (plan_walk_cached(b, key))
		return;
	fd = open(b->tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	plan_cache_init(&b->cache);
	buf_addstr(&b->path, strcmp(b->tree, "/") == 0 ? "" : b->tree);
	plan_walk_dir(b, fd, 1);
	buf_free(&b->path);
	b->cache.truncated = b->truncated;
	if (b->p->walk_cache != NULL &&
	    plan_cache_save(&b->cache, b->p->walk_cache, key, &cause) != 0)
		log_cause("policy", cause);
	plan_cache_free(&b->cache);
	if (b->truncated) {
		log_warn("policy", "stopped looking for name patterns (.env, "
		    "*.pem, ...) in %s after %zu entries: files deeper in the "
		    "walk are not hidden; add 'deny PATH' rules for them to "
		    "%s/.airlock-policy", b->tree, policy_walk_entries, b->tree);
	}
}

/* Replaces a base entry ($HOME or /tmp) by a rule for the same path. */
static void
plan_replace(struct plan_build *b, long idx, enum plan_kind kind,
    const char *origin)
{
	struct plan_entry *e = &b->c[idx].e;

	plan_skip(&b->skip, &b->nskip, e->kind, e->path, e->origin,
	    "replaced by a rule for the same path");
	e->kind = kind;
	free(e->origin);
	e->origin = xstrdup(origin);
}

/* Adds what a non-pattern rule mounts; -1 with *cause when it may not. */
static int
plan_rule(struct plan_build *b, size_t i, char **cause)
{
	const struct policy_rule *r = &b->p->rules[i];
	const char *canon = b->canon[i], *where;
	enum plan_kind kind = plan_kind_of(r->action, 0);
	struct stat st;
	char *target, *why;
	long idx;

	if (canon == NULL || lstat(canon, &st) != 0) {
		plan_skip(&b->skip, &b->nskip, kind, r->path, r->origin,
		    "absent");
		return 0;
	}
	for (size_t j = 0; j < b->nm; j++) {
		if (b->m[j].rule > i && strcmp(b->m[j].path, canon) == 0) {
			why = xasprintf("overridden by the later 'deny %s' (%s)",
			    b->p->rules[b->m[j].rule].path,
			    b->p->rules[b->m[j].rule].origin);
			plan_skip(&b->skip, &b->nskip, kind, r->path, r->origin,
			    why);
			free(why);
			return 0;
		}
	}
	/* A mount follows a symlink: plan what it will really cover. */
	target = realpath(canon, NULL);
	if (r->action != POLICY_DENY) {
		if (target == NULL) {
			plan_skip(&b->skip, &b->nskip, kind, r->path, r->origin,
			    "absent (a dangling symlink)");
			return 0;
		}
		if (b->store != NULL && (path_is_under(target, b->store) ||
		    path_is_under(canon, b->store))) {
			*cause = xasprintf("%s: %s %s: inside the airlock store "
			    "%s, which is never visible in the sandbox",
			    r->origin, r->action == POLICY_RO ? "ro" :
			    r->action == POLICY_RW ? "rw" : "tmp", r->path,
			    b->store);
			free(target);
			return -1;
		}
		if (r->action == POLICY_TMP &&
		    (stat(target, &st) != 0 || !S_ISDIR(st.st_mode))) {
			plan_skip(&b->skip, &b->nskip, kind, r->path, r->origin,
			    "not a directory (tmp needs one)");
			free(target);
			return 0;
		}
		where = target;
	} else {
		/* A deny masks the link itself, never what it points to. */
		kind = plan_kind_of(r->action, S_ISDIR(st.st_mode));
		where = canon;
	}
	if (strcmp(where, b->tree) == 0) {
		plan_skip(&b->skip, &b->nskip, kind, r->path, r->origin,
		    "ignored: the real tree is always an overlay");
		free(target);
		return 0;
	}
	idx = -1;
	if (b->home != NULL && strcmp(where, b->home) == 0)
		idx = b->home_idx;
	else if (strcmp(where, b->tmp) == 0)
		idx = b->tmp_idx;
	if (idx >= 0) {
		plan_replace(b, idx, r->action == POLICY_DENY ? PLAN_DENY_DIR :
		    kind, r->origin);
		free(target);
		return 0;
	}
	if (r->action != POLICY_DENY) {
		idx = plan_add(b, kind, target, xstrdup(r->origin));
		b->c[idx].via_link = strcmp(target, canon) != 0;
		return 0;
	}
	plan_add(b, kind, xstrdup(canon), xstrdup(r->origin));
	/*
	 * Masking a symlink hides the link, not what it points to, which
	 * stays readable by its own path (dotfile managers link ~/.aws and
	 * the like): mask the target too, unless it holds the tree or $HOME.
	 */
	if (S_ISLNK(st.st_mode) && target != NULL && strcmp(target, "/") != 0 &&
	    !path_is_under(b->tree, target) &&
	    (b->home == NULL || !path_is_under(b->home, target)) &&
	    stat(target, &st) == 0) {
		plan_add(b, plan_kind_of(POLICY_DENY, S_ISDIR(st.st_mode)),
		    target, xasprintf("%s: the target of %s", r->origin,
		    r->path));
		return 0;
	}
	free(target);
	return 0;
}

static void
plan_matches(struct plan_build *b)
{
	const struct policy *p = b->p;

	for (size_t i = 0; i < b->nm; i++) {
		const struct plan_match *m = &b->m[i];
		const struct policy_rule *r = &p->rules[m->rule];
		char *origin = xasprintf("%s: name %s", r->origin, r->path);
		size_t j;

		/* A later rule for this very path wins over the pattern. */
		for (j = m->rule + 1; j < p->nrules; j++) {
			if (b->canon[j] != NULL &&
			    strcmp(b->canon[j], m->path) == 0)
				break;
		}
		if (j < p->nrules) {
			char *why = xasprintf("overridden by %s",
			    p->rules[j].origin);

			plan_skip(&b->skip, &b->nskip, plan_kind_of(POLICY_DENY,
			    m->is_dir), m->path, origin, why);
			free(why);
			free(origin);
			continue;
		}
		plan_add(b, plan_kind_of(POLICY_DENY, m->is_dir),
		    xstrdup(m->path), origin);
	}
}

static int
plan_cand_cmp(const void *a, const void *b)
{
	const struct plan_cand *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Sorts the candidates into mount order and drops those that would mount
 * nothing useful: a deny below a deny, a ro where everything is read-only
 * already, a second entry for a path (a deny wins).
 */
static void
plan_finish(struct plan_build *b, struct plan *plan)
{
	qsort(b->c, b->nc, sizeof *b->c, plan_cand_cmp);
	plan->v = xcalloc(b->nc + 1, sizeof *plan->v);
	for (size_t i = 0; i < b->nc; i++) {
		struct plan_entry *e = &b->c[i].e, *anc = NULL;
		char *why;

		for (size_t j = plan->n; j-- > 0;) {
			if (path_is_under(e->path, plan->v[j].path)) {
				anc = &plan->v[j];
				break;
			}
		}
		if (anc != NULL && strcmp(anc->path, e->path) == 0) {
			if (plan_is_deny(e->kind) && !plan_is_deny(anc->kind)) {
				struct plan_entry old = *anc;

				*anc = *e;
				e = &old;
				plan_skip(&b->skip, &b->nskip, e->kind, e->path,
				    e->origin, "replaced by a deny of the same path");
				free(e->path);
				free(e->origin);
				continue;
			}
			why = xasprintf("the same path as %s", anc->origin);
		} else if (plan_is_deny(e->kind) && anc != NULL &&
		    plan_is_deny(anc->kind))
			why = xasprintf("covered by the mask of %s", anc->path);
		else if (b->c[i].via_link && anc != NULL &&
		    plan_is_deny(anc->kind)) {
			/* Uncovering a masked path takes a rule naming it. */
			why = xasprintf("a symlink into the mask of %s",
			    anc->path);
		} else if (e->kind == PLAN_RO &&
		    (anc == NULL || anc->kind == PLAN_RO))
			why = xstrdup("no-op: already read-only");
		else {
			plan->v[plan->n++] = *e;
			if (plan_is_deny(e->kind))
				plan->hidden++;
			continue;
		}
		plan_skip(&b->skip, &b->nskip, e->kind, e->path, e->origin, why);
		free(why);
		free(e->path);
		free(e->origin);
	}
	/* hidden counts the masks that stayed; recount after replacements. */
	plan->hidden = 0;
	for (size_t i = 0; i < plan->n; i++) {
		if (plan_is_deny(plan->v[i].kind))
			plan->hidden++;
	}
	free(b->c);
	b->c = NULL;
	b->nc = 0;
	plan->skipped = b->skip;
	plan->nskipped = b->nskip;
	b->skip = NULL;
	b->nskip = 0;
	plan->truncated = b->truncated;
}

static void
plan_build_free(struct plan_build *b)
{
	for (size_t i = 0; i < b->nc; i++) {
		free(b->c[i].e.path);
		free(b->c[i].e.origin);
	}
	free(b->c);
	for (size_t i = 0; i < b->nskip; i++) {
		free(b->skip[i].path);
		free(b->skip[i].origin);
	}
	free(b->skip);
	for (size_t i = 0; i < b->nm; i++)
		free(b->m[i].path);
	free(b->m);
	if (b->canon != NULL) {
		for (size_t i = 0; i < b->p->nrules; i++)
			free(b->canon[i]);
	}
	free(b->canon);
	buf_free(&b->path);
	free(b->tree);
	free(b->home);
	free(b->tmp);
	free(b->store);
}

/* The tree, $HOME, /tmp and the store, canonical; checks they fit. */
static int
plan_start(struct plan_build *b, const char *tree, const char *home,
    const char *store_root, char **cause)
{
	b->tree = realpath(tree, NULL);
	if (b->tree == NULL) {
		*cause = xasprintf("%s: %s", tree, strerror(errno));
		return -1;
	}
	if (home != NULL && home[0] == '/')
		b->home = realpath(home, NULL);
	b->tmp = realpath("/tmp", NULL);
	if (b->tmp == NULL)
		b->tmp = xstrdup("/tmp");
	if (store_root != NULL) {
		b->store = realpath(store_root, NULL);
		if (b->store == NULL)
			b->store = plan_canonical(store_root);
		if (b->store == NULL)
			b->store = xstrdup(store_root);
		if (path_is_under(b->tree, b->store)) {
			*cause = xasprintf("the real tree %s is inside the "
			    "airlock store %s", b->tree, b->store);
			return -1;
		}
		if (b->home != NULL && path_is_under(b->home, b->store)) {
			*cause = xasprintf("the airlock store %s holds $HOME "
			    "(%s): it is always hidden, so set AIRLOCK_HOME "
			    "to a directory below $HOME", b->store, b->home);
			return -1;
		}
	}
	return 0;
}

/* $HOME behind a throwaway layer, the real tree, a private /tmp. */
static void
plan_base(struct plan_build *b, const char *home)
{
	b->home_idx = b->tmp_idx = -1;
	if (b->home == NULL) {
		if (home != NULL && home[0] != '\0') {
			plan_skip(&b->skip, &b->nskip, PLAN_TMP, home,
			    "default: $HOME is a throwaway layer", "absent");
		}
	} else if (strcmp(b->home, b->tree) == 0) {
		plan_skip(&b->skip, &b->nskip, PLAN_TMP, b->home,
		    "default: $HOME is a throwaway layer",
		    "the real tree is $HOME");
	} else {
		b->home_idx = plan_add(b, PLAN_TMP, xstrdup(b->home),
		    xstrdup("default: $HOME is a throwaway layer"));
	}
	plan_add(b, PLAN_TREE, xstrdup(b->tree),
	    xstrdup("the real tree: writes go to the scratch"));
	if (strcmp(b->tmp, b->tree) == 0 ||
	    (b->home != NULL && strcmp(b->tmp, b->home) == 0)) {
		plan_skip(&b->skip, &b->nskip, PLAN_PRIVATE, b->tmp,
		    "always: a private /tmp", "the same path as $HOME or the "
		    "real tree");
	} else {
		b->tmp_idx = plan_add(b, PLAN_PRIVATE, xstrdup(b->tmp),
		    xstrdup("always: a private /tmp"));
	}
}

int
policy_plan(const struct policy *p, const char *tree, const char *home,
    const char *store_root, struct plan *plan, char **cause)
{
	struct plan_build b;
	struct stat st;
	size_t i;
	int pass;

	memset(plan, 0, sizeof *plan);
	memset(&b, 0, sizeof b);
	b.p = p;
	buf_init(&b.path);
	if (plan_start(&b, tree, home, store_root, cause) != 0)
		goto fail;
	plan_base(&b, home);
	b.canon = xcalloc(p->nrules + 1, sizeof *b.canon);
	for (i = 0; i < p->nrules; i++) {
		if (!p->rules[i].is_pattern)
			b.canon[i] = plan_canonical(p->rules[i].path);
	}
	plan_walk(&b);
	/* ro, rw and tmp first, then the masks; the sort keeps this order
	 * between paths of the same depth. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->nrules; i++) {
			const struct policy_rule *r = &p->rules[i];

			if (r->is_pattern || (r->action == POLICY_DENY) != pass)
				continue;
			if (plan_rule(&b, i, cause) != 0)
				goto fail;
		}
	}
	plan_matches(&b);
	if (b.store != NULL) {
		if (lstat(b.store, &st) == 0) {
			plan_add(&b, S_ISDIR(st.st_mode) ? PLAN_DENY_DIR :
			    PLAN_DENY_FILE, xstrdup(b.store),
			    xstrdup("always: the airlock store"));
		} else {
			plan_skip(&b.skip, &b.nskip, PLAN_DENY_DIR, b.store,
			    "always: the airlock store", "absent");
		}
	}
	plan_finish(&b, plan);
	plan_build_free(&b);
	return 0;

fail:
	plan_build_free(&b);
	return -1;
}

void
plan_free(struct plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->v[i].path);
		free(plan->v[i].origin);
	}
	free(plan->v);
	for (size_t i = 0; i < plan->nskipped; i++) {
		free(plan->skipped[i].path);
		free(plan->skipped[i].origin);
	}
	free(plan->skipped);
	memset(plan, 0, sizeof *plan);
}

static const char *
plan_action(enum plan_kind kind)
{
	switch (kind) {
	case PLAN_TREE:
		return "overlay";
	case PLAN_RO:
		return "ro";
	case PLAN_RW:
		return "rw";
	case PLAN_TMP:
		return "tmp";
	case PLAN_DENY_DIR:
	case PLAN_DENY_FILE:
		return "deny";
	case PLAN_PRIVATE:
		return "private";
	}
	return "?";
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t
plan_width(const struct buf *b)
{
	size_t w = 0;

	for (size_t i = 0; i < b->len; i++) {
		if (((unsigned char)b->data[i] & 0xc0) != 0x80)
			w++;
	}
	return w;
}

#define PLAN_PATH_COLUMNS 64

/* One "ACTION PATH  (ORIGIN)" line, PATH padded to width columns. */
static void
plan_line(struct buf *out, const char *action, const char *path,
    int quote, const char *origin, size_t width)
{
	struct buf q = BUF_INIT;
	size_t w;

	if (quote)
		quote_path(&q, path, strlen(path), QUOTE_SPACE);
	else
		buf_addstr(&q, path);
	w = plan_width(&q);
	buf_printf(out, "  %-8s %s", action, q.data);
	for (; w < width; w++)
		buf_addch(out, ' ');
	buf_reset(&q);
	quote_path(&q, origin, strlen(origin), 0);
	buf_printf(out, "  (%s)\n", q.data);
	buf_free(&q);
}

static size_t
plan_path_width(const char *path, size_t width)
{
	struct buf q = BUF_INIT;
	size_t w;

	quote_path(&q, path, strlen(path), QUOTE_SPACE);
	w = plan_width(&q);
	buf_free(&q);
	return w > width && w <= PLAN_PATH_COLUMNS ? w : width;
}

void
plan_print(struct buf *out, const struct policy *p, const struct plan *plan)
{
	const char *tree = "?", *net_origin;
	size_t width = 0, i;
	struct buf q = BUF_INIT;

	for (i = 0; i < plan->n; i++) {
		if (plan->v[i].kind == PLAN_TREE)
			tree = plan->v[i].path;
		width = plan_path_width(plan->v[i].path, width);
	}
	for (i = 0; i < plan->nskipped; i++)
		width = plan_path_width(plan->skipped[i].path, width);
	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].is_pattern)
			width = plan_path_width(p->rules[i].path, width);
	}
	for (i = 0; i < p->nenv; i++)
		width = plan_path_width(p->env[i].name, width);

	net_origin = p->net_origin != NULL ? p->net_origin : "default";
	quote_path(&q, tree, strlen(tree), 0);
	buf_printf(out, "airlock sandbox policy\ntree: %s\n", q.data);
	buf_reset(&q);
	quote_path(&q, net_origin, strlen(net_origin), 0);
	switch (p->net) {
	case NET_HOST:
		buf_printf(out, "net:  host (%s)\n      (net host is the "
		    "default; `--net none` or `net none` in a policy file cuts "
		    "the network,\n      `--net allow:HOST[:PORT],...` or "
		    "`net allow HOST...` lets only those hosts through\n      "
		    "airlock's proxy)\n", q.data);
		break;
	case NET_NONE:
		buf_printf(out, "net:  none (%s): no network, loopback only\n",
		    q.data);
		break;
	case NET_ALLOW:
		buf_addstr(out, "net:  allow");
		for (i = 0; i < p->nnet_allow; i++)
			buf_printf(out, "%s %s", i > 0 ? "," : "", p->net_allow[i]);
		buf_printf(out, " (%s): other hosts are refused\n", q.data);
		break;
	}
	buf_free(&q);
	buf_addstr(out, "The rest of the file system is read-only.\n");

	buf_addstr(out, "\nmounts, in order:\n");
	for (i = 0; i < plan->n; i++) {
		plan_line(out, plan_action(plan->v[i].kind), plan->v[i].path, 1,
		    plan->v[i].origin, width);
	}
	if (plan->nskipped > 0) {
		buf_addstr(out, "\nnot mounted:\n");
		for (i = 0; i < plan->nskipped; i++) {
			plan_line(out, plan_action(plan->skipped[i].kind),
			    plan->skipped[i].path, 1, plan->skipped[i].origin,
			    width);
		}
	}
	buf_printf(out, "\nname patterns denied in the tree (%d levels deep, "
	    "skipping .git and node_modules):\n", policy_walk_depth);
	for (i = 0; i < p->nrules; i++) {
		if (p->rules[i].is_pattern && p->rules[i].action == POLICY_DENY) {
			plan_line(out, "deny", p->rules[i].path, 1,
			    p->rules[i].origin, width);
		}
	}
	if (plan->truncated) {
		buf_printf(out, "  (the walk stopped after %zu entries: deeper "
		    "matches are not hidden; add deny rules for them)\n",
		    policy_walk_entries);
	}
	buf_addstr(out, "\nenvironment:\n");
	for (i = 0; i < p->nenv; i++) {
		plan_line(out, p->env[i].pass ? "pass" : "drop", p->env[i].name,
		    0, p->env[i].origin, width);
	}
	buf_printf(out, "\n%zu path%s hidden.\n", plan->hidden,
	    plan->hidden == 1 ? "" : "s");
}
