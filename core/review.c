/*
 * The review pane's model, without a screen: the files of a scope with
 * their marks, renames paired by libgit2's similarity signatures, and one
 * file's diff as lines. Whatever a view's context and whitespace options,
 * its lines carry the hunk and line numbers of the total change's
 * canonical patch (the one `airlock diff` prints), so that what the user
 * approves in a view is what promotion takes.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define REVIEW_TEXT_MAX ((off_t)64 << 20)         /* bigger: whole only */
#define REVIEW_RENAME_FILE_MAX ((off_t)8 << 20)   /* bigger: never paired */
#define REVIEW_RENAME_BYTES ((uint64_t)256 << 20) /* read at most, in all */
#define REVIEW_RENAME_READS 20000                 /* files read at most */
#define REVIEW_RENAME_NAMED 4     /* deletions of its name tried per addition */
#define REVIEW_RENAME_NEAR 8      /* and of the nearest sizes */
#define REVIEW_RENAME_PAIRS 10000 /* similarity comparisons at most */
#define REVIEW_RENAME_MIN 50     /* percent */
#define REVIEW_WORD_LINE_MAX 1000 /* longer lines: one span */
#define REVIEW_PREVIEW_BYTES (256 * 1024) /* of a side's head, at most */
#define REVIEW_WORD_TOKENS 256    /* more tokens: prefix and suffix only */
#define REVIEW_CONTEXT_MAX 1000

static size_t review_rename_limit = REVIEW_RENAME_PAIRS;

void
review_set_rename_limit(size_t pairs)
{
	review_rename_limit = pairs != 0 ? pairs : REVIEW_RENAME_PAIRS;
}

/* ---- the files ---- */

static unsigned
review_marks(const struct change *c)
{
	unsigned	m = 0;

	if (change_is_risky(c))
		m |= REVIEW_RISKY;
	if (c->kind == CHANGE_TYPE)
		m |= REVIEW_TYPE;
	else if (c->old_type == c->new_type && c->old_type != ENTRY_SYMLINK &&
	    (c->old_mode & 07777) != (c->new_mode & 07777))
		m |= REVIEW_MODE;
	return m;
}

/* A file of rename detection: one side of an addition or a deletion. */
struct rename_file {
	size_t		 i;        /* in r->v */
	uint64_t	 size;     /* as listed */
	int		 state;    /* 0 unread, 1 read, -1 not to be paired */
	size_t		 len;      /* as read */
	unsigned char	 hash[HASH_LEN];
	struct diff_sig	*sig;      /* NULL: none (libgit2 missing or refused) */
	int		 paired;
};

struct rename_pair {
	struct rename_file	*add, *del;
	int			 same_name;
	uint64_t		 dist;     /* size difference */
	int			 score;
};

struct renames {
	struct review		*r;
	struct rename_file	*adds, *dels;
	size_t			 nadds, ndels;
	struct rename_file	**named;   /* dels by name */
	uint64_t		 bytes;
	int			 git;
};

static int
rename_size_cmp(const void *a, const void *b)
{
	const struct rename_file *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int
rename_pair_cmp(const void *a, const void *b)
{
	const struct rename_pair *x = a, *y = b;

	if (x->same_name != y->same_name)
		return y->same_name - x->same_name;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	if (x->add->i != y->add->i)
		return x->add->i < y->add->i ? -1 : 1;
	return x->del->i < y->del->i ? -1 : x->del->i > y->del->i;
}

static int
rename_score_cmp(const void *a, const void *b)
{
	const struct rename_pair *x = a, *y = b;

	if (x->score != y->score)
		return y->score - x->score;
	return rename_pair_cmp(a, b);
}

/* The last component of a path. */
static const char *
review_basename(const struct change *c, size_t *len)
{
	const char	*slash = memrchr(c->path, '/', c->pathlen);
	const char	*base = slash != NULL ? slash + 1 : c->path;

	*len = c->pathlen - (size_t)(base - c->path);
	return base;
}

static int
review_name_cmp(const struct change *x, const struct change *y)
{
	const char	*a, *b;
	size_t		 al, bl;
	int		 cmp;

	a = review_basename(x, &al);
	b = review_basename(y, &bl);
	cmp = memcmp(a, b, al < bl ? al : bl);
	if (cmp != 0)
		return cmp;
	return al < bl ? -1 : al > bl;
}

static int
rename_named_cmp(const void *a, const void *b, void *arg)
{
	const struct rename_file *x = *(const struct rename_file *const *)a;
	const struct rename_file *y = *(const struct rename_file *const *)b;
	const struct review *r = arg;
	int cmp;

	cmp = review_name_cmp(r->v[x->i].ch, r->v[y->i].ch);
	if (cmp != 0)
		return cmp;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int
rename_same_name(const struct review *r, const struct rename_file *a,
    const struct rename_file *d)
{
	return review_name_cmp(r->v[a->i].ch, r->v[d->i].ch) == 0;
}

/* Reads f's content once for its hash and signature, within the budget.
 * 0, or -1 when it is not to be paired. */
static int
rename_read(struct renames *rn, struct rename_file *f, int new_side)
{
	struct review	*r = rn->r;
	char		*data, *cause = NULL;
	size_t		 len;

	if (f->state != 0)
		return f->state == 1 ? 0 : -1;
	f->state = -1;
	if (r->rename_reads >= REVIEW_RENAME_READS ||
	    rn->bytes + f->size > REVIEW_RENAME_BYTES)
		return -1;
	r->rename_reads++;
	data = diff_change_side(r->v[f->i].ch, new_side, r->s->tree, r->upper,
	    r->cs.store, &len, &cause);
	if (data == NULL) {
		free(cause);
		return -1;
	}
	rn->bytes += len;
	if (len == 0 || len > (size_t)REVIEW_RENAME_FILE_MAX) {
		free(data);
		return -1;
	}
	f->len = len;
	hash_buffer(data, len, f->hash);
	if (rn->git)
		f->sig = diff_sig_create(data, len);
	free(data);
	f->state = 1;
	return 0;
}

static void
rename_pair(struct renames *rn, struct rename_file *a, struct rename_file *d,
    int score)
{
	struct review_file	*f = &rn->r->v[a->i];

	a->paired = d->paired = 1;
	f->marks |= REVIEW_RENAMED;
	f->from = rn->r->v[d->i].ch;
	f->similarity = score;
}

/* Identical content first: files of the same size, compared by hash. */
static void
rename_exact(struct renames *rn)
{
	struct rename_file	*a, *d;
	size_t			 ia = 0, id = 0, ea, ed, x, y;

	while (ia < rn->nadds && id < rn->ndels) {
		if (rn->adds[ia].size != rn->dels[id].size) {
			if (rn->adds[ia].size < rn->dels[id].size)
				ia++;
			else
				id++;
			continue;
		}
		for (ea = ia; ea < rn->nadds &&
		    rn->adds[ea].size == rn->adds[ia].size; ea++)
			;
		for (ed = id; ed < rn->ndels &&
		    rn->dels[ed].size == rn->dels[id].size; ed++)
			;
		for (x = ia; x < ea; x++) {
			a = &rn->adds[x];
			if (rename_read(rn, a, 1) != 0)
				continue;
			for (y = id; y < ed; y++) {
				d = &rn->dels[y];
				if (d->paired || rename_read(rn, d, 0) != 0)
					continue;
				if (a->len == d->len &&
				    memcmp(a->hash, d->hash, HASH_LEN) == 0) {
					rename_pair(rn, a, d, 100);
					break;
				}
			}
		}
		ia = ea;
		id = ed;
	}
}

/* A candidate pair of addition a and deletion d. */
static void
rename_candidate(struct rename_pair **pairs, size_t *n, size_t *cap,
    struct rename_file *a, struct rename_file *d, int same_name)
{
	struct rename_pair	*p;

	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*pairs = xreallocarray(*pairs, *cap, sizeof **pairs);
	}
	p = &(*pairs)[(*n)++];
	p->add = a;
	p->del = d;
	p->same_name = same_name;
	p->dist = a->size > d->size ? a->size - d->size : d->size - a->size;
	p->score = 0;
}

/* 1 when sizes a and b are within a factor of 2. */
static int
rename_near(uint64_t a, uint64_t b)
{
	return a <= 2 * b && b <= 2 * a;
}

/* The deletions of a's name (a directory moved), a few. */
static void
rename_named(struct renames *rn, struct rename_pair **pairs, size_t *n,
    size_t *cap, struct rename_file *a)
{
	const struct change	*ac = rn->r->v[a->i].ch;
	struct rename_file	*d;
	size_t			 lo = 0, hi = rn->ndels, mid, k = 0;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (review_name_cmp(rn->r->v[rn->named[mid]->i].ch, ac) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < rn->ndels && k < REVIEW_RENAME_NAMED; lo++) {
		d = rn->named[lo];
		if (review_name_cmp(rn->r->v[d->i].ch, ac) != 0)
			break;
		if (d->paired || d->state == -1 || !rename_near(a->size,
		    d->size))
			continue;
		rename_candidate(pairs, n, cap, a, d, 1);
		k++;
	}
}

/* The deletions nearest a in size (of other names), a few. */
static void
rename_nearest(struct renames *rn, struct rename_pair **pairs, size_t *n,
    size_t *cap, struct rename_file *a)
{
	struct rename_file	*d;
	size_t			 lo = 0, hi = rn->ndels, mid, k = 0;
	int			 down, up;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (rn->dels[mid].size < a->size)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo - 1 going down, hi going up, the nearer first */
	hi = lo;
	while (k < REVIEW_RENAME_NEAR) {
		down = lo > 0 && rename_near(rn->dels[lo - 1].size, a->size);
		up = hi < rn->ndels && rename_near(rn->dels[hi].size, a->size);
		if (!down && !up)
			break;
		if (down && (!up || a->size - rn->dels[lo - 1].size <
		    rn->dels[hi].size - a->size))
			d = &rn->dels[--lo];
		else
			d = &rn->dels[hi++];
		if (d->paired || d->state == -1 || rename_same_name(rn->r, a, d))
			continue;
		rename_candidate(pairs, n, cap, a, d, 0);
		k++;
	}
}

/*
 * Similar content: each addition against the few deletions of its name
 * and of the nearest sizes, at most review_rename_limit comparisons in
 * all (same names first, then the nearest sizes); then the best scores
 * pair first.
 */
static void
rename_similar(struct renames *rn)
{
	struct rename_pair	*pairs = NULL, *p;
	struct rename_file	*a;
	size_t			 npairs = 0, cap = 0, x, kept = 0;
	int			 score;

	rn->named = xcalloc(rn->ndels, sizeof *rn->named);
	for (x = 0; x < rn->ndels; x++)
		rn->named[x] = &rn->dels[x];
	qsort_r(rn->named, rn->ndels, sizeof *rn->named, rename_named_cmp,
	    rn->r);
	for (x = 0; x < rn->nadds; x++) {
		a = &rn->adds[x];
		if (a->paired || a->state == -1)
			continue;
		rename_named(rn, &pairs, &npairs, &cap, a);
		rename_nearest(rn, &pairs, &npairs, &cap, a);
	}
	free(rn->named);
	rn->named = NULL;
	if (npairs == 0)
		return;
	qsort(pairs, npairs, sizeof *pairs, rename_pair_cmp);
	for (x = 0; x < npairs; x++) {
		p = &pairs[x];
		if (rn->r->rename_compared >= review_rename_limit)
			break;
		if (rename_read(rn, p->add, 1) != 0 ||
		    rename_read(rn, p->del, 0) != 0 ||
		    p->add->sig == NULL || p->del->sig == NULL)
			continue;
		rn->r->rename_compared++;
		score = diff_sig_compare(p->add->sig, p->del->sig);
		/* 100 is for identical content only */
		if (score > 99)
			score = 99;
		if (score >= REVIEW_RENAME_MIN) {
			p->score = score;
			pairs[kept++] = *p;
		}
	}
	qsort(pairs, kept, sizeof *pairs, rename_score_cmp);
	for (x = 0; x < kept; x++) {
		p = &pairs[x];
		if (!p->add->paired && !p->del->paired)
			rename_pair(rn, p->add, p->del, p->score);
	}
	free(pairs);
}

/* Pairs deleted files with added ones whose content came from them. */
static void
review_renames(struct review *r)
{
	struct renames		 rn;
	const struct change	*c;
	char			*cause = NULL;
	size_t			 i;

	memset(&rn, 0, sizeof rn);
	rn.r = r;
	rn.adds = xcalloc(r->n > 0 ? r->n : 1, sizeof *rn.adds);
	rn.dels = xcalloc(r->n > 0 ? r->n : 1, sizeof *rn.dels);
	for (i = 0; i < r->n; i++) {
		c = r->v[i].ch;
		if (c->kind == CHANGE_ADDED && c->new_type == ENTRY_FILE &&
		    c->new_size > 0 && c->new_size <= REVIEW_RENAME_FILE_MAX) {
			rn.adds[rn.nadds].i = i;
			rn.adds[rn.nadds++].size = (uint64_t)c->new_size;
		} else if (c->kind == CHANGE_DELETED &&
		    c->old_type == ENTRY_FILE && c->old_size > 0 &&
		    c->old_size <= REVIEW_RENAME_FILE_MAX) {
			rn.dels[rn.ndels].i = i;
			rn.dels[rn.ndels++].size = (uint64_t)c->old_size;
		}
	}
	if (rn.nadds > 0 && rn.ndels > 0) {
		qsort(rn.adds, rn.nadds, sizeof *rn.adds, rename_size_cmp);
		qsort(rn.dels, rn.ndels, sizeof *rn.dels, rename_size_cmp);
		/* without libgit2, identical content is still found */
		rn.git = diff_init(&cause) == 0;
		free(cause);
		rename_exact(&rn);
		if (rn.git)
			rename_similar(&rn);
	}
	for (i = 0; i < rn.nadds; i++)
		diff_sig_free(rn.adds[i].sig);
	for (i = 0; i < rn.ndels; i++)
		diff_sig_free(rn.dels[i].sig);
	free(rn.adds);
	free(rn.dels);
}

int
review_load(struct review *r, struct store *st, const struct session *s,
    const struct turn_range *range, char **cause)
{
	struct review_file	*f;
	size_t			 i;

	memset(r, 0, sizeof *r);
	r->st = st;
	r->s = s;
	r->range.from = TURN_REAL;
	r->range.to = CKPT_NONE;
	if (range != NULL && range->set)
		r->range = *range;
	if (changeset_load(&r->cs, st, s, &r->range, cause) != 0) {
		changeset_free(&r->cs);
		return -1;
	}
	r->upper = session_upper(s);
	r->n = r->cs.changes->n;
	r->v = xcalloc(r->n > 0 ? r->n : 1, sizeof *r->v);
	for (i = 0; i < r->n; i++) {
		f = &r->v[i];
		f->ch = &r->cs.changes->v[i];
		f->marks = review_marks(f->ch);
		switch (f->ch->kind) {
		case CHANGE_ADDED:
			r->added++;
			break;
		case CHANGE_DELETED:
			r->deleted++;
			break;
		default:
			r->modified++;
			break;
		}
		if (f->marks & REVIEW_RISKY)
			r->risky++;
	}
	review_renames(r);
	return 0;
}

static void
review_sides_drop(struct review *r)
{
	if (r->have_sides)
		change_sides_free(&r->sides);
	r->have_sides = 0;
}

void
review_move(struct review *dst, struct review *src)
{
	/* the changeset points at one of its own members */
	int scan = src->cs.changes == &src->cs.scan;

	review_free(dst);
	*dst = *src;
	if (src->cs.changes != NULL)
		dst->cs.changes = scan ? &dst->cs.scan : &dst->cs.turn.changes;
	memset(src, 0, sizeof *src);
}

void
review_free(struct review *r)
{
	review_sides_drop(r);
	changeset_free(&r->cs);
	changes_free(&r->total);
	free(r->v);
	free(r->upper);
	memset(r, 0, sizeof *r);
}

/*
 * The total change (real tree to scratch) of file i's path: the file's own
 * change in the total scope, else looked up in a scan of the scratch made
 * once. *out is NULL when the path has no total change. 0 or -1.
 */
static int
review_total(struct review *r, size_t i, const struct change **out,
    char **cause)
{
	const struct change	*c = r->v[i].ch;
	size_t			 lo = 0, hi, mid;
	int			 cmp;

	*out = NULL;
	if (!r->range.set) {
		*out = c;
		return 0;
	}
	if (!r->total_loaded) {
		if (changes_scan(r->upper, r->s->tree, &r->total, cause) != 0)
			return -1;
		r->total_loaded = 1;
	}
	hi = r->total.n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		cmp = strcmp(c->path, r->total.v[mid].path);
		if (cmp == 0) {
			*out = &r->total.v[mid];
			return 0;
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Whether a file side of the change is binary (content in memory only). */
static int
review_binary(const struct change *c, const struct change_sides *cs)
{
	return cs->hunks.binary ||
	    (c->old_type == ENTRY_FILE && diff_is_binary(cs->old, cs->oldlen)) ||
	    (c->new_type == ENTRY_FILE && diff_is_binary(cs->new, cs->newlen));
}

int
review_file_state(struct review *r, size_t i, char **cause)
{
	struct review_file	*f = &r->v[i];
	const struct change	*t;
	struct change_sides	 cs;
	enum approval_state	 state;
	size_t			 approved = 0;
	int			 got;

	if (f->state_known)
		return 0;
	if (review_total(r, i, &t, cause) != 0)
		return -1;
	f->marks &= ~(unsigned)(REVIEW_CONFLICT | REVIEW_MERGES);
	f->approval = APPROVAL_NONE;
	f->nhunks = f->approved = 0;
	if (t != NULL) {
		struct approval	 a;
		int		 rec;

		/* without an approval its hunks are not needed: a diff less */
		if ((rec = approval_get(r->st, r->s->id, t->path, t->pathlen,
		    &a, cause)) < 0)
			return -1;
		if (rec == 0)
			approval_free(&a);
		if ((rec == 0 ? change_sides_load(t, r->s->tree, r->upper,
		    NULL, &cs, cause) : change_sides_load_text(t, r->s->tree,
		    r->upper, NULL, &cs, cause)) != 0)
			return -1;
		state = change_approval(r->st, r->s->id, t, &cs, &approved,
		    cause);
		if ((int)state == -1) {
			change_sides_free(&cs);
			return -1;
		}
		f->approval = state;
		f->approved = approved;
		f->nhunks = cs.hunks.n;
		if (review_binary(t, &cs))
			f->marks |= REVIEW_BINARY;
		/* kept for the diff that usually follows: read once */
		review_sides_drop(r);
		r->sides = cs;
		r->sides_file = i;
		r->have_sides = 1;
		if ((got = promote_check(r->st, r->s->id, t, r->s->tree,
		    r->upper, NULL, cause)) < 0)
			return -1;
		if (got == 1)
			f->marks |= REVIEW_MERGES;
		else if (got == 2)
			f->marks |= REVIEW_CONFLICT;
	}
	f->state_known = 1;
	return 0;
}

static void
review_forget_one(struct review_file *f)
{
	f->state_known = 0;
	f->seen = 0;
	f->marks &= ~(unsigned)(REVIEW_BINARY | REVIEW_CONFLICT |
	    REVIEW_MERGES);
}

void
review_forget(struct review *r, size_t i)
{
	size_t	j;

	if (r->have_sides && (i == (size_t)-1 || i == r->sides_file))
		review_sides_drop(r);
	if (i != (size_t)-1) {
		if (i < r->n)
			review_forget_one(&r->v[i]);
		return;
	}
	for (j = 0; j < r->n; j++)
		review_forget_one(&r->v[j]);
	changes_free(&r->total);
	r->total_loaded = 0;
}

/* ---- one file's diff ---- */

struct diff_build {
	struct review_diff	*d;
	size_t			 cap, spancap;
};

static struct review_line *
review_add(struct diff_build *b, enum review_line_type type, const char *text,
    size_t len)
{
	struct review_diff	*d = b->d;
	struct review_line	*l;

	if (d->n == b->cap) {
		b->cap = b->cap == 0 ? 64 : b->cap * 2;
		d->v = xreallocarray(d->v, b->cap, sizeof *d->v);
	}
	l = &d->v[d->n++];
	memset(l, 0, sizeof *l);
	l->type = type;
	l->off = d->text.len;
	l->len = len;
	l->change = REVIEW_NO_LINE;
	buf_add(&d->text, text, len);
	return l;
}

static void review_note(struct diff_build *, const char *, ...)
    PRINTFLIKE(2, 3);
static void
review_note(struct diff_build *b, const char *fmt, ...)
{
	struct buf	note = BUF_INIT;
	va_list		ap;

	va_start(ap, fmt);
	buf_vprintf(&note, fmt, ap);
	va_end(ap);
	review_add(b, REVIEW_LINE_NOTE, note.data, note.len);
	buf_free(&note);
}

/* A note with a quoted path or link target in it. */
static void
review_note_quoted(struct diff_build *b, const char *before, const char *p,
    size_t len, const char *after)
{
	struct buf	note = BUF_INIT;

	buf_addstr(&note, before);
	quote_path(&note, p, len, 0);
	buf_addstr(&note, after);
	review_add(b, REVIEW_LINE_NOTE, note.data, note.len);
	buf_free(&note);
}

/* The mode as git writes it (120000 for every symlink). */
static unsigned
review_git_mode(enum entry_type type, mode_t mode)
{
	if (type == ENTRY_SYMLINK)
		return 0120000;
	return (unsigned)(mode & (S_IFMT | 07777));
}

static const char *
review_type_name(enum entry_type type)
{
	static const char *const names[] = {
		[ENTRY_NONE] = "nothing",
		[ENTRY_FILE] = "file",
		[ENTRY_DIR] = "directory",
		[ENTRY_SYMLINK] = "symlink",
		[ENTRY_SPECIAL] = "special file",
	};

	return names[type];
}

/* What a binary file probably is, from its first bytes. */
static const struct review_magic {
	const char	*bytes;
	size_t		 len;
	const char	*name;
} review_magics[] = {
	{ .bytes = "\177ELF", .len = 4, .name = "ELF" },
	{ .bytes = "\211PNG\r\n\032\n", .len = 8, .name = "PNG image" },
	{ .bytes = "\377\330\377", .len = 3, .name = "JPEG image" },
	{ .bytes = "\037\213", .len = 2, .name = "gzip" },
	{ .bytes = "PK\003\004", .len = 4, .name = "zip" },
	{ .bytes = "PK\005\006", .len = 4, .name = "zip" },
	{ .bytes = "%PDF-", .len = 5, .name = "PDF" },
};

static const char *
review_magic(const char *data, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof review_magics / sizeof review_magics[0]; i++) {
		if (data != NULL && len >= review_magics[i].len &&
		    memcmp(data, review_magics[i].bytes,
		    review_magics[i].len) == 0)
			return review_magics[i].name;
	}
	return "data";
}

/* One side of the view: what its lines are made of. */
struct review_side {
	enum entry_type	 type;
	mode_t		 mode;
	off_t		 size;
	const char	*data;     /* content or link target; NULL: absent,
				      or a file too big to hold */
	size_t		 len;
};

static void
review_side_set(struct review_side *v, enum entry_type type, mode_t mode,
    off_t size, const char *data, size_t len)
{
	v->type = type;
	v->mode = mode;
	v->size = size;
	v->data = data;
	v->len = len;
}

/* "12.0 KiB -> 14.1 KiB", or one size when a side is not a file. */
static void
review_sizes(struct buf *out, const struct review_side *o,
    const struct review_side *n)
{
	if (o->type == ENTRY_FILE)
		log_bytes(out, (uint64_t)o->size);
	if (o->type == ENTRY_FILE && n->type == ENTRY_FILE)
		buf_addstr(out, " -> ");
	if (n->type == ENTRY_FILE)
		log_bytes(out, (uint64_t)n->size);
}

/* The notes above the lines: kind, modes, rename, links, big or binary. */
static void
review_notes(struct diff_build *b, const struct review_file *f,
    const struct review_side *o, const struct review_side *n, int huge,
    int binary)
{
	struct buf	 text = BUF_INIT;
	const char	*ko, *kn;

	if (f->marks & REVIEW_RENAMED) {
		quote_path(&text, f->from->path, f->from->pathlen, 0);
		review_note(b, "renamed from %s (%d%%)", text.data,
		    f->similarity);
		buf_reset(&text);
	}
	if (o->type == ENTRY_NONE && !(f->marks & REVIEW_RENAMED)) {
		if (n->type == ENTRY_DIR)
			review_note(b, "new directory mode %06o",
			    review_git_mode(n->type, n->mode));
		else if (n->type == ENTRY_SPECIAL)
			review_note(b, "new special file (never promoted)");
		else
			review_note(b, "new file mode %06o",
			    review_git_mode(n->type, n->mode));
	} else if (n->type == ENTRY_NONE) {
		if (o->type == ENTRY_DIR)
			review_note(b, "deleted directory mode %06o",
			    review_git_mode(o->type, o->mode));
		else
			review_note(b, "deleted %s mode %06o", o->type ==
			    ENTRY_SPECIAL ? "special file" : "file",
			    review_git_mode(o->type, o->mode));
	} else if (o->type != n->type)
		review_note(b, "type changed: %s -> %s",
		    review_type_name(o->type), review_type_name(n->type));
	else if (review_git_mode(o->type, o->mode) !=
	    review_git_mode(n->type, n->mode)) {
		review_note(b, "old mode %06o", review_git_mode(o->type,
		    o->mode));
		review_note(b, "new mode %06o", review_git_mode(n->type,
		    n->mode));
	}
	if (o->type == ENTRY_SPECIAL || n->type == ENTRY_SPECIAL)
		review_note(b, "a fifo, socket or device: never promoted");
	if (o->type == ENTRY_SYMLINK && n->type == ENTRY_SYMLINK) {
		quote_path(&text, o->data, o->len, 0);
		buf_addstr(&text, " -> ");
		quote_path(&text, n->data, n->len, 0);
		review_note(b, "symlink: %s", text.data);
	} else if (o->type == ENTRY_SYMLINK)
		review_note_quoted(b, "was a symlink to ", o->data, o->len, "");
	else if (n->type == ENTRY_SYMLINK)
		review_note_quoted(b, "symlink to ", n->data, n->len, "");
	buf_reset(&text);
	if (huge) {
		review_sizes(&text, o, n);
		review_note(b, "large file, %s: not shown", text.data);
	} else if (binary) {
		review_sizes(&text, o, n);
		ko = o->type == ENTRY_FILE ? review_magic(o->data, o->len) :
		    NULL;
		kn = n->type == ENTRY_FILE ? review_magic(n->data, n->len) :
		    NULL;
		if (ko != NULL && kn != NULL && strcmp(ko, kn) != 0)
			review_note(b, "binary file, %s, %s -> %s", text.data,
			    ko, kn);
		else
			review_note(b, "binary file, %s, %s", text.data,
			    kn != NULL ? kn : ko);
	}
	buf_free(&text);
}

/* A line of the canonical patch: its number on its side, its hunk and
 * its index among the change's added and deleted lines. */
struct canon_line {
	uint32_t	no, hunk, change;
};

struct canon {
	struct canon_line	*adds, *dels;
	size_t			 nadds, ndels, addcap, delcap;
	const struct hunks	*hunks;
};

static void
canon_free(struct canon *cn)
{
	free(cn->adds);
	free(cn->dels);
	memset(cn, 0, sizeof *cn);
}

static void
canon_line(const struct diff_line *dl, void *arg)
{
	struct canon		*cn = arg;
	struct canon_line	*cl;

	if (dl->kind == DIFF_LINE_ADD) {
		if (cn->nadds == cn->addcap) {
			cn->addcap = cn->addcap != 0 ? cn->addcap * 2 : 64;
			cn->adds = xreallocarray(cn->adds, cn->addcap,
			    sizeof *cn->adds);
		}
		cl = &cn->adds[cn->nadds++];
		cl->no = dl->new_no;
	} else if (dl->kind == DIFF_LINE_DEL) {
		if (cn->ndels == cn->delcap) {
			cn->delcap = cn->delcap != 0 ? cn->delcap * 2 : 64;
			cn->dels = xreallocarray(cn->dels, cn->delcap,
			    sizeof *cn->dels);
		}
		cl = &cn->dels[cn->ndels++];
		cl->no = dl->old_no;
	} else
		return;
	cl->hunk = (uint32_t)dl->hunk;
	cl->change = (uint32_t)(cn->nadds + cn->ndels - 1);
}

/* The added and deleted lines of the total change's canonical patch. */
static int
canon_load(struct canon *cn, const struct change_sides *cs, char **cause)
{
	memset(cn, 0, sizeof *cn);
	cn->hunks = &cs->hunks;
	return diff_walk(cs->old, cs->oldlen, cs->new, cs->newlen, 3, 0,
	    canon_line, cn, cause);
}

static const struct canon_line *
canon_find(const struct canon_line *v, size_t n, uint32_t no)
{
	size_t	lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid].no == no)
			return &v[mid];
		if (v[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The canonical hunk whose range on one side holds line no; 0: none. */
static uint32_t
canon_hunk_of(const struct canon *cn, uint32_t no, int new_side)
{
	const struct hunk	*h;
	size_t			 i, start, count;

	for (i = 0; i < cn->hunks->n; i++) {
		h = &cn->hunks->v[i];
		start = new_side ? h->new_start : h->old_start;
		count = new_side ? h->new_lines : h->old_lines;
		if (no >= start && no < start + count)
			return (uint32_t)i + 1;
	}
	return 0;
}

/* What maps the view's lines to the canonical patch. */
struct review_map {
	const struct canon	*cn;     /* NULL: nothing maps */
	int			 same_old, same_new;
	int			 identity;  /* the view is the canonical patch:
					       its lines are numbered as
					       they come, no canon */
};

static void
review_map_line(const struct review_map *m, struct review_line *l)
{
	const struct canon_line	*cl = NULL;

	if (m->cn == NULL)
		return;
	switch (l->type) {
	case REVIEW_LINE_ADD:
		if (m->same_new)
			cl = canon_find(m->cn->adds, m->cn->nadds, l->new_no);
		break;
	case REVIEW_LINE_DEL:
		if (m->same_old)
			cl = canon_find(m->cn->dels, m->cn->ndels, l->old_no);
		break;
	case REVIEW_LINE_CONTEXT:
		if (m->same_new)
			l->hunk = canon_hunk_of(m->cn, l->new_no, 1);
		else if (m->same_old)
			l->hunk = canon_hunk_of(m->cn, l->old_no, 0);
		return;
	default:
		return;
	}
	if (cl != NULL) {
		l->hunk = cl->hunk;
		l->change = cl->change;
	}
}

/* Building the view's lines from its patch. */
struct review_walk {
	struct diff_build	*b;
	const struct review_map	*m;
	size_t			 header;    /* the current hunk's line */
	uint32_t		 hunk, change;  /* identity: counted */
};

static const enum review_line_type review_kinds[] = {
	[DIFF_LINE_HUNK] = REVIEW_LINE_HUNK,
	[DIFF_LINE_CONTEXT] = REVIEW_LINE_CONTEXT,
	[DIFF_LINE_ADD] = REVIEW_LINE_ADD,
	[DIFF_LINE_DEL] = REVIEW_LINE_DEL,
	[DIFF_LINE_NOEOL] = REVIEW_LINE_NOEOL,
};

static void
review_walk_line(const struct diff_line *dl, void *arg)
{
	struct review_walk	*w = arg;
	struct review_line	*l, *h;

	l = review_add(w->b, review_kinds[dl->kind], dl->text, dl->len);
	l->old_no = dl->old_no;
	l->new_no = dl->new_no;
	if (w->m->identity) {
		if (dl->kind == DIFF_LINE_HUNK)
			w->hunk++;
		l->hunk = w->hunk;
		if (dl->kind == DIFF_LINE_ADD || dl->kind == DIFF_LINE_DEL)
			l->change = w->change++;
		return;
	}
	switch (dl->kind) {
	case DIFF_LINE_HUNK:
		w->header = w->b->d->n - 1;
		break;
	case DIFF_LINE_NOEOL:
		/* it ends the line before: that line's hunk */
		l->hunk = l[-1].hunk;
		break;
	default:
		review_map_line(w->m, l);
		/* a header takes the hunk of its first changed line mapped */
		h = &w->b->d->v[w->header];
		if (h->hunk == 0 && l->type != REVIEW_LINE_CONTEXT)
			h->hunk = l->hunk;
		break;
	}
}

/* The view's patch as lines. */
static int
review_lines(struct diff_build *b, const struct review_side *o,
    const struct review_side *n, const struct review_opts *opts,
    const struct review_map *m, char **cause)
{
	struct review_walk	w = { b, m, 0, 0, 0 };

	if (diff_walk(o->type == ENTRY_FILE ? o->data : NULL,
	    o->type == ENTRY_FILE ? o->len : 0,
	    n->type == ENTRY_FILE ? n->data : NULL,
	    n->type == ENTRY_FILE ? n->len : 0, opts->context, opts->ignore_ws,
	    review_walk_line, &w, cause) != 0)
		return -1;
	if (m->identity) {
		/* the canonical patch's hunks and changed lines, counted */
		b->d->nhunks = w.hunk;
		b->d->nchanges = w.change;
	}
	return 0;
}

/* ---- word-level spans ---- */

struct token {
	uint32_t	start, len;
};

static int
review_word_byte(unsigned char c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int
review_space_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits a line into words, runs of blanks and single other bytes.
 * Returns the count, or max + 1 when there are more. */
static size_t
review_tokens(const char *s, size_t len, struct token *t, size_t max)
{
	size_t	i = 0, n = 0, start;

	while (i < len) {
		if (n == max)
			return max + 1;
		start = i;
		if (review_word_byte((unsigned char)s[i])) {
			while (i < len && review_word_byte((unsigned char)s[i]))
				i++;
		} else if (review_space_byte((unsigned char)s[i])) {
			while (i < len && review_space_byte((unsigned char)s[i]))
				i++;
		} else
			i++;
		t[n].start = (uint32_t)start;
		t[n].len = (uint32_t)(i - start);
		n++;
	}
	return n;
}

static int
review_token_eq(const char *a, const struct token *x, const char *b,
    const struct token *y)
{
	return x->len == y->len && memcmp(a + x->start, b + y->start,
	    x->len) == 0;
}

static void
review_add_span(struct diff_build *b, uint32_t start, uint32_t len)
{
	struct review_diff	*d = b->d;

	if (d->nspans == b->spancap) {
		b->spancap = b->spancap == 0 ? 64 : b->spancap * 2;
		d->spans = xreallocarray(d->spans, b->spancap,
		    sizeof *d->spans);
	}
	d->spans[d->nspans].start = start;
	d->spans[d->nspans].len = len;
	d->nspans++;
}

/* Spans of a line from its tokens' changed flags: runs of changed tokens,
 * with blanks between two changed tokens taken in. */
static void
review_spans_of(struct diff_build *b, struct review_line *l, const char *s,
    const struct token *t, size_t n, unsigned char *changed)
{
	size_t	i, j;

	for (i = 1; i + 1 < n; i++) {
		if (!changed[i] && changed[i - 1] && changed[i + 1] &&
		    review_space_byte((unsigned char)s[t[i].start]))
			changed[i] = 1;
	}
	l->span = (uint32_t)b->d->nspans;
	for (i = 0; i < n; i = j) {
		if (!changed[i]) {
			j = i + 1;
			continue;
		}
		for (j = i; j < n && changed[j]; j++)
			;
		review_add_span(b, t[i].start,
		    t[j - 1].start + t[j - 1].len - t[i].start);
	}
	l->nspan = (uint32_t)b->d->nspans - l->span;
}

/* One span over a whole line (when it is not empty). */
static void
review_span_whole(struct diff_build *b, struct review_line *l)
{
	l->span = (uint32_t)b->d->nspans;
	if (l->len > 0)
		review_add_span(b, 0, (uint32_t)l->len);
	l->nspan = (uint32_t)b->d->nspans - l->span;
}

/*
 * Marks what differs between a deleted line and the added line paired
 * with it: the tokens outside their longest common subsequence (only the
 * common prefix and suffix for lines of many tokens).
 */
static void
review_words(struct diff_build *b, struct review_line *dl,
    struct review_line *al)
{
	struct token		 ta[REVIEW_WORD_TOKENS + 1];
	struct token		 tb[REVIEW_WORD_TOKENS + 1];
	unsigned char		 ca[REVIEW_WORD_TOKENS + 1];
	unsigned char		 cb[REVIEW_WORD_TOKENS + 1];
	const char		*a = b->d->text.data + dl->off;
	const char		*s = b->d->text.data + al->off;
	uint16_t		*lcs;
	size_t			 na, nb, pre = 0, suf = 0, i, j, w;
	int			 many;

	if (dl->len > REVIEW_WORD_LINE_MAX || al->len > REVIEW_WORD_LINE_MAX) {
		review_span_whole(b, dl);
		review_span_whole(b, al);
		return;
	}
	na = review_tokens(a, dl->len, ta, REVIEW_WORD_TOKENS);
	nb = review_tokens(s, al->len, tb, REVIEW_WORD_TOKENS);
	many = na > REVIEW_WORD_TOKENS || nb > REVIEW_WORD_TOKENS;
	if (many) {
		/* a line of 1000 one-byte tokens: whole spans */
		review_span_whole(b, dl);
		review_span_whole(b, al);
		return;
	}
	while (pre < na && pre < nb && review_token_eq(a, &ta[pre], s,
	    &tb[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre && review_token_eq(a,
	    &ta[na - 1 - suf], s, &tb[nb - 1 - suf]))
		suf++;
	memset(ca, 1, na);
	memset(cb, 1, nb);
	memset(ca, 0, pre);
	memset(cb, 0, pre);
	memset(ca + na - suf, 0, suf);
	memset(cb + nb - suf, 0, suf);
	/* the middle: a classic LCS table, at most 257 x 257 */
	{
		size_t	ma = na - pre - suf, mb = nb - pre - suf;

		w = mb + 1;
		lcs = xcalloc((ma + 1) * w, sizeof *lcs);
		for (i = ma; i-- > 0; ) {
			for (j = mb; j-- > 0; ) {
				if (review_token_eq(a, &ta[pre + i], s,
				    &tb[pre + j]))
					lcs[i * w + j] = (uint16_t)
					    (lcs[(i + 1) * w + j + 1] + 1);
				else if (lcs[(i + 1) * w + j] >=
				    lcs[i * w + j + 1])
					lcs[i * w + j] = lcs[(i + 1) * w + j];
				else
					lcs[i * w + j] = lcs[i * w + j + 1];
			}
		}
		for (i = 0, j = 0; i < ma && j < mb; ) {
			if (review_token_eq(a, &ta[pre + i], s, &tb[pre + j])) {
				ca[pre + i++] = 0;
				cb[pre + j++] = 0;
			} else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
				i++;
			else
				j++;
		}
		free(lcs);
	}
	review_spans_of(b, dl, a, ta, na, ca);
	review_spans_of(b, al, s, tb, nb, cb);
}

/* Pairs each run of deleted lines with the added lines that follow. */
static void
review_pair_words(struct diff_build *b)
{
	struct review_diff	*d = b->d;
	size_t			*dels, *adds, nd, na, i = 0, k;

	dels = xcalloc(d->n > 0 ? d->n : 1, sizeof *dels);
	adds = xcalloc(d->n > 0 ? d->n : 1, sizeof *adds);
	while (i < d->n) {
		if (d->v[i].type != REVIEW_LINE_DEL) {
			i++;
			continue;
		}
		nd = na = 0;
		for (; i < d->n && (d->v[i].type == REVIEW_LINE_DEL ||
		    d->v[i].type == REVIEW_LINE_NOEOL); i++) {
			if (d->v[i].type == REVIEW_LINE_DEL)
				dels[nd++] = i;
		}
		for (; i < d->n && (d->v[i].type == REVIEW_LINE_ADD ||
		    d->v[i].type == REVIEW_LINE_NOEOL); i++) {
			if (d->v[i].type == REVIEW_LINE_ADD)
				adds[na++] = i;
		}
		for (k = 0; k < nd && k < na; k++)
			review_words(b, &d->v[dels[k]], &d->v[adds[k]]);
	}
	free(dels);
	free(adds);
}

static int
review_same(const struct review_side *v, enum entry_type type,
    const char *data, size_t len)
{
	return v->type == type && (type != ENTRY_FILE ||
	    (v->data != NULL && data != NULL && v->len == len &&
	    memcmp(v->data, data, len) == 0));
}

/* A diff being made (see core.h): what review_diff_start took from the
 * review, so that review_make_run needs nothing else. Never moved: its
 * diff_build points into it. */
struct review_make {
	struct review_opts	 o;
	struct change_sides	 tcs, vcs, fcs;
	int			 have_t, have_v, have_f;
	struct review_side	 vo, vn;
	struct review_map	 m;
	struct canon		 cn;
	int			 lines;      /* a text diff to make */
	int			 need_canon; /* the view is not the canonical
					        patch: map to it */
	int			 ran;
	atomic_int		 cancelled;
	struct review_diff	 d;
	struct diff_build	 b;
	char			*cause;
};

void
review_make_free(struct review_make *mk)
{
	if (mk == NULL)
		return;
	review_diff_free(&mk->d);
	canon_free(&mk->cn);
	if (mk->have_t)
		change_sides_free(&mk->tcs);
	if (mk->have_v)
		change_sides_free(&mk->vcs);
	if (mk->have_f)
		change_sides_free(&mk->fcs);
	free(mk->cause);
	free(mk);
}

size_t
review_make_size(const struct review_make *mk)
{
	if (!mk->lines)
		return 0;
	return (mk->vo.type == ENTRY_FILE ? mk->vo.len : 0) +
	    (mk->vn.type == ENTRY_FILE ? mk->vn.len : 0);
}

int
review_diff_start(struct review *r, size_t i, const struct review_opts *opts,
    struct review_make **out, char **cause)
{
	struct review_make	*mk;
	struct review_file	*f = &r->v[i];
	const struct change	*ch = f->ch, *t;
	const struct change_sides *view, *from = NULL;
	int			 huge, binary;

	*out = NULL;
	mk = xcalloc(1, sizeof *mk);
	mk->o.context = 3;
	if (opts != NULL)
		mk->o = *opts;
	if (mk->o.context < 0)
		mk->o.context = 0;
	if (mk->o.context > REVIEW_CONTEXT_MAX)
		mk->o.context = REVIEW_CONTEXT_MAX;
	buf_init(&mk->d.text);
	mk->b.d = &mk->d;
	view = &mk->tcs;
	f->seen = 0;

	if (review_total(r, i, &t, cause) != 0)
		goto fail;
	if (t != NULL && r->have_sides && r->sides_file == i) {
		/* what review_file_state just read */
		mk->tcs = r->sides;
		r->have_sides = 0;
		mk->have_t = 1;
	} else if (t != NULL) {
		/* hunks are made below only when the view needs them */
		if (change_sides_load_text(t, r->s->tree, r->upper, NULL,
		    &mk->tcs, cause) != 0)
			goto fail;
		mk->have_t = 1;
	}
	if (r->range.set) {
		if (change_sides_load(ch, r->s->tree, r->upper, r->cs.store,
		    &mk->vcs, cause) != 0)
			goto fail;
		mk->have_v = 1;
		view = &mk->vcs;
	}
	if (f->marks & REVIEW_RENAMED) {
		if (change_sides_load(f->from, r->s->tree, r->upper,
		    r->cs.store, &mk->fcs, cause) != 0)
			goto fail;
		mk->have_f = 1;
		from = &mk->fcs;
	}
	if (from != NULL)
		review_side_set(&mk->vo, f->from->old_type, f->from->old_mode,
		    f->from->old_size, from->old, from->oldlen);
	else
		review_side_set(&mk->vo, ch->old_type, ch->old_mode,
		    ch->old_size, view->old, view->oldlen);
	review_side_set(&mk->vn, ch->new_type, ch->new_mode, ch->new_size,
	    view->new, view->newlen);

	/* the total's canonical patch: what approvals name */
	if (mk->have_t && mk->tcs.text && !(f->marks & REVIEW_RENAMED)) {
		mk->m.same_old = review_same(&mk->vo, t->old_type,
		    mk->tcs.old, mk->tcs.oldlen);
		mk->m.same_new = review_same(&mk->vn, t->new_type,
		    mk->tcs.new, mk->tcs.newlen);
		/* the view is the canonical patch itself: one walk, not two,
		 * and its hunks counted as they come */
		mk->m.identity = mk->m.same_old && mk->m.same_new &&
		    mk->o.context == 3 && !mk->o.ignore_ws;
		mk->need_canon = !mk->m.identity;
	}

	huge = (mk->vo.type == ENTRY_FILE && mk->vo.data == NULL) ||
	    (mk->vn.type == ENTRY_FILE && mk->vn.data == NULL);
	binary = !huge && ((mk->vo.type == ENTRY_FILE &&
	    diff_is_binary(mk->vo.data, mk->vo.len)) ||
	    (mk->vn.type == ENTRY_FILE && diff_is_binary(mk->vn.data,
	    mk->vn.len)));
	if (binary || (mk->have_t && review_binary(t, &mk->tcs)))
		f->marks |= REVIEW_BINARY;
	review_notes(&mk->b, f, &mk->vo, &mk->vn, huge, binary);
	mk->lines = !huge && !binary && (mk->vo.type == ENTRY_FILE ||
	    mk->vn.type == ENTRY_FILE);
	if (mk->have_t) {
		/* what approve-file checks: the sides shown, the preview's
		 * as the whole diff's */
		f->seen = 1;
		memcpy(f->seen_old, mk->tcs.old_fp, HASH_LEN);
		memcpy(f->seen_new, mk->tcs.new_fp, HASH_LEN);
	}
	*out = mk;
	return 0;
fail:
	review_make_free(mk);
	return -1;
}

int
review_make_run(struct review_make *mk)
{
	struct review_diff	*d = &mk->d;
	size_t			 h;

	if (mk->ran)
		return mk->cause != NULL ? -1 : 0;
	mk->ran = 1;
	if (atomic_load(&mk->cancelled))
		goto cancelled;
	if (mk->need_canon && mk->tcs.no_hunks) {
		if (hunks_compute(mk->tcs.old, mk->tcs.oldlen, mk->tcs.new,
		    mk->tcs.newlen, &mk->tcs.hunks, &mk->cause) != 0)
			return -1;
		mk->tcs.no_hunks = 0;
	}
	if (mk->need_canon && mk->tcs.hunks.n > 0) {
		if (canon_load(&mk->cn, &mk->tcs, &mk->cause) != 0)
			return -1;
		mk->m.cn = &mk->cn;
		d->nhunks = mk->tcs.hunks.n;
		for (h = 0; h < mk->tcs.hunks.n; h++)
			d->nchanges += mk->tcs.hunks.v[h].added +
			    mk->tcs.hunks.v[h].deleted;
	}
	d->whole_only = mk->m.cn == NULL && !mk->m.identity;
	if (mk->lines) {
		if (atomic_load(&mk->cancelled))
			goto cancelled;
		if (review_lines(&mk->b, &mk->vo, &mk->vn, &mk->o, &mk->m,
		    &mk->cause) != 0)
			return -1;
		if (atomic_load(&mk->cancelled))
			goto cancelled;
		review_pair_words(&mk->b);
	}
	if (mk->m.identity && d->nhunks == 0)
		d->whole_only = 1;
	return 0;
cancelled:
	mk->cause = xstrdup("cancelled");
	return -1;
}

void
review_make_cancel(struct review_make *mk)
{
	atomic_store(&mk->cancelled, 1);
}

/* The first n whole lines of data within max bytes (all of it when it is
 * shorter). */
static size_t
review_head(const char *data, size_t len, size_t n, size_t max)
{
	const char	*p = data, *end = data + (len < max ? len : max), *nl;

	if (len <= max && memchr(data, '\n', len) == NULL)
		return len;
	while (n > 0 && p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p = nl + 1;
		n--;
	}
	if (len <= max && n > 0)
		return len;
	return (size_t)(p - data);
}

/* The start lines of both sides a hunk header names; -1 when it names
 * none. */
static int
review_hunk_starts(const struct review_diff *d, const struct review_line *l,
    unsigned *a, unsigned *c)
{
	char	head[64];

	memset(head, 0, sizeof head);
	memcpy(head, d->text.data + l->off, l->len < sizeof head - 1 ? l->len :
	    sizeof head - 1);
	return sscanf(head, "@@ -%u%*[^+]+%u", a, c) == 2 ? 0 : -1;
}

/*
 * Where a diff of the sides' heads stops being the whole files' diff: near
 * the cut the heads pair lines the whole files do not (a long insertion
 * seen as lines deleted). Kept: what lies before the first run of changes,
 * context line or hunk that reaches past line told of the old side or
 * tnew of the new one, and no hunk header left without its lines.
 */
static size_t
review_preview_keep(const struct review_diff *d, size_t told, size_t tnew)
{
	const struct review_line	*l;
	size_t				 j, run = 0, keep = d->n;
	unsigned			 a, c;

	for (j = 0; j < d->n && keep == d->n; j++) {
		l = &d->v[j];
		switch (l->type) {
		case REVIEW_LINE_ADD:
		case REVIEW_LINE_DEL:
			if (j == 0 || (d->v[j - 1].type != REVIEW_LINE_ADD &&
			    d->v[j - 1].type != REVIEW_LINE_DEL &&
			    d->v[j - 1].type != REVIEW_LINE_NOEOL))
				run = j;
			if (l->old_no > told || l->new_no > tnew)
				keep = run;
			break;
		case REVIEW_LINE_CONTEXT:
			if (l->old_no > told || l->new_no > tnew)
				keep = j;
			break;
		case REVIEW_LINE_HUNK:
			if (review_hunk_starts(d, l, &a, &c) != 0 ||
			    a > told || c > tnew)
				keep = j;
			break;
		default:
			break;
		}
	}
	while (keep > 0 && d->v[keep - 1].type == REVIEW_LINE_HUNK)
		keep--;
	return keep;
}

/* A side cut to its head; *trust: the last line of it the preview may
 * show (3/4 of the head, all of a whole side). -1: no head at all. */
static int
review_preview_side(struct review_side *v, size_t lines, size_t *trust)
{
	const char	*p, *end;
	size_t		 n = 0, len;

	*trust = SIZE_MAX;
	if (v->type != ENTRY_FILE)
		return 0;
	len = review_head(v->data, v->len, lines, REVIEW_PREVIEW_BYTES);
	if (len == v->len)
		return 0;
	if (len == 0)
		return -1;
	for (p = v->data, end = p + len; (p = memchr(p, '\n',
	    (size_t)(end - p))) != NULL; p++)
		n++;
	v->len = len;
	*trust = n - n / 4;
	return 0;
}

int
review_diff_preview(struct review *r, size_t i, const struct review_make *mk,
    size_t lines, struct review_diff *d, char **cause)
{
	struct review_side	 vo = mk->vo, vn = mk->vn;
	struct review_map	 m;
	struct diff_build	 b;
	struct review_line	*l;
	size_t			 j, told, tnew;
	unsigned		 a, c;
	char			 head[64];

	memset(d, 0, sizeof *d);
	buf_init(&d->text);
	memset(&b, 0, sizeof b);
	b.d = d;
	memset(&m, 0, sizeof m);
	d->preview = 1;
	d->whole_only = 1;
	review_notes(&b, &r->v[i], &mk->vo, &mk->vn, 0, 0);
	if (!mk->lines)
		return 0;
	if (review_preview_side(&vo, lines, &told) != 0 ||
	    review_preview_side(&vn, lines, &tnew) != 0)
		return 0;    /* a first line too long for a head: none */
	if (review_lines(&b, &vo, &vn, &mk->o, &m, cause) != 0) {
		review_diff_free(d);
		return -1;
	}
	d->n = review_preview_keep(d, told, tnew);
	for (j = 0; j < d->n; j++) {
		l = &d->v[j];
		l->hunk = 0;
		l->change = REVIEW_NO_LINE;
		if (l->type != REVIEW_LINE_HUNK)
			continue;
		/* its counts are the heads', not the files': left out */
		if (review_hunk_starts(d, l, &a, &c) != 0)
			a = c = 0;
		snprintf(head, sizeof head, "@@ -%u,... +%u,... @@", a, c);
		l->off = d->text.len;
		l->len = strlen(head);
		buf_add(&d->text, head, l->len);
	}
	review_pair_words(&b);
	return 0;
}

int
review_diff_finish(struct review_make *mk, struct review_diff *d,
    char **cause)
{
	int			 rc = 0;

	memset(d, 0, sizeof *d);
	if (review_make_run(mk) != 0) {
		*cause = mk->cause;
		mk->cause = NULL;
		rc = -1;
	} else {
		*d = mk->d;
		memset(&mk->d, 0, sizeof mk->d);
	}
	review_make_free(mk);
	return rc;
}

int
review_diff(struct review *r, size_t i, const struct review_opts *opts,
    struct review_diff *d, char **cause)
{
	struct review_make	*mk;

	memset(d, 0, sizeof *d);
	if (review_diff_start(r, i, opts, &mk, cause) != 0)
		return -1;
	return review_diff_finish(mk, d, cause);
}

void
review_diff_free(struct review_diff *d)
{
	buf_free(&d->text);
	free(d->v);
	free(d->spans);
	memset(d, 0, sizeof *d);
}

/* ---- approvals ---- */

/* The total change of file i with its sides as they are now, checked
 * against what its last diff showed (check). 0 or -1. */
static int
review_sides_now(struct review *r, size_t i, int check,
    const struct change **t, struct change_sides *cs, char **cause)
{
	struct review_file	*f = &r->v[i];

	if (review_total(r, i, t, cause) != 0)
		return -1;
	if (*t == NULL) {
		*cause = xstrdup("no change there now (the agent undid it)");
		return -1;
	}
	if (change_sides_load(*t, r->s->tree, r->upper, NULL, cs, cause) != 0)
		return -1;
	if (check && f->seen && (memcmp(f->seen_old, cs->old_fp,
	    HASH_LEN) != 0 || memcmp(f->seen_new, cs->new_fp,
	    HASH_LEN) != 0)) {
		change_sides_free(cs);
		*cause = xstrdup("the file changed; look again");
		return -1;
	}
	return 0;
}

int
review_approve_lines(struct review *r, size_t i, const uint32_t *changes,
    size_t n, int on, char **cause)
{
	struct review_file	*f = &r->v[i];
	const struct change	*t;
	struct change_sides	 cs;
	int			 rc;

	if (f->marks & REVIEW_RENAMED) {
		*cause = xstrdup("a rename is approved whole");
		return -1;
	}
	if (!f->seen) {
		*cause = xstrdup("the file changed; look again (its diff is "
		    "not made)");
		return -1;
	}
	if (review_sides_now(r, i, 1, &t, &cs, cause) != 0)
		return -1;
	rc = approval_set_lines(r->st, r->s->id, t, &cs, changes, n, on, cause);
	change_sides_free(&cs);
	f->state_known = 0;
	return rc;
}

int
review_approve_file(struct review *r, size_t i, int on, char **cause)
{
	struct review_file	*f = &r->v[i];
	const struct change	*t;
	struct change_sides	 cs;
	struct approval		 a;
	int			 rc;

	if (review_sides_now(r, i, on, &t, &cs, cause) != 0)
		return -1;
	if (on) {
		memset(&a, 0, sizeof a);
		a.whole = 1;
		memcpy(a.new_fp, cs.new_fp, HASH_LEN);
		memcpy(a.old_fp, cs.old_fp, HASH_LEN);
		rc = approval_put(r->st, r->s->id, t->path, t->pathlen, &a,
		    cause);
	} else
		rc = approval_del(r->st, r->s->id, t->path, t->pathlen,
		    cause) < 0 ? -1 : 0;
	change_sides_free(&cs);
	f->state_known = 0;
	return rc;
}

/* ---- conflicts ---- */

int
review_conflict(struct review *r, size_t i, struct buf *base,
    struct buf *ours, struct buf *theirs, struct buf *merged, char **cause)
{
	const struct change	*t;
	struct mentry		 be;
	char			*b = NULL, *o = NULL, *n = NULL;
	size_t			 bl = 0, ol = 0, nl = 0;
	int			 got, rc = -1;

	buf_reset(base);
	buf_reset(ours);
	buf_reset(theirs);
	buf_reset(merged);
	memset(&be, 0, sizeof be);
	if (review_total(r, i, &t, cause) != 0)
		return -1;
	if (t == NULL) {
		*cause = xstrdup("no change there now (the agent undid it)");
		return -1;
	}
	if (t->new_type != ENTRY_FILE) {
		*cause = xasprintf("the scratch has a %s there: no merge",
		    review_type_name(t->new_type));
		return -1;
	}
	if ((got = promote_base(r->st, r->s->id, t->path, t->pathlen, &be,
	    cause)) < 0)
		return -1;
	if (got == 0 && be.kind == MENTRY_FILE) {
		if (!be.has_content) {
			*cause = xstrdup("the base's content was not stored");
			goto out;
		}
		if ((b = blob_read_buf(r->st, be.hash, (size_t)REVIEW_TEXT_MAX,
		    &bl, cause)) == NULL)
			goto out;
	} else if (got == 0 && be.kind != MENTRY_ABSENT &&
	    be.kind != MENTRY_WHITEOUT) {
		*cause = xstrdup("the base is not a file: no merge");
		goto out;
	}
	if ((n = diff_read(r->upper, t->path, ENTRY_FILE, &nl, cause)) == NULL)
		goto out;
	if (t->old_type == ENTRY_FILE || got == 0) {
		if ((o = diff_read(r->s->tree, t->path, ENTRY_FILE, &ol,
		    cause)) == NULL)
			goto out;
	}
	if (b != NULL)
		buf_add(base, b, bl);
	if (o != NULL)
		buf_add(ours, o, ol);
	buf_add(theirs, n, nl);
	if (got == 1) {
		/* no base: promotion writes the scratch's */
		buf_add(merged, n, nl);
		rc = 0;
		goto out;
	}
	rc = merge3(b, bl, o, ol, n, nl, t->path, MERGE3_DIFF3, merged, cause);
out:
	free(b);
	free(o);
	free(n);
	mentry_free(&be);
	return rc;
}
