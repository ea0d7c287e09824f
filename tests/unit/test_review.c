/*
 * The review model against a real store, a real tree and a scratch in a
 * temporary directory: marks and counts, renames (identical, similar,
 * unrelated, many candidates within bounds), diff lines numbered on both
 * sides, word spans, views with other context or whitespace options still
 * naming the canonical hunks and lines, binary files described, line
 * approvals promoted exactly, approval records of version 1, turn scopes,
 * conflicts, and hostile names and contents.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include <fcntl.h>
#include <pthread.h>
#include <linux/openat2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/unit/snaptest.h"

struct fx {
	char		*dir, *tree, *upper;
	struct store	*st;
	struct session	*s;
};

static int
setup(void **state)
{
	struct fx	*f = xcalloc(1, sizeof *f);
	char		*argv[] = { (char *)"true", NULL }, *cause = NULL, *sd;

	f->dir = snaptest_tmpdir("review");
	snaptest_mkdir(f->dir, "tree", 0755);
	f->tree = path_join(f->dir, "tree");
	sd = path_join(f->dir, "store");
	f->st = snaptest_store(sd);
	free(sd);
	if (session_create(f->st, "r", f->tree, argv, NET_HOST, &f->s,
	    &cause) != 0)
		fail_msg("session_create: %s", cause);
	f->upper = session_upper(f->s);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	review_set_rename_limit(0);
	session_free(f->s);
	store_close(f->st);
	snaptest_rm(f->dir);
	free(f->dir);
	free(f->tree);
	free(f->upper);
	free(f);
	return 0;
}

static void
put(const char *dir, const char *rel, const char *text)
{
	snaptest_write_str(dir, rel, text);
}

/* A deletion in the scratch (an xwhiteout: works as root and not). */
static void
gone(const char *upper, const char *rel)
{
	char	*path;

	snaptest_write(upper, rel, "", 0, 0644);
	path = path_join(upper, rel);
	if (setxattr(path, "user.overlay.whiteout", "y", 1, 0) != 0)
		fail_msg("setxattr %s", path);
	free(path);
}

/* "PREFIX1\n" ... "PREFIXn\n" */
static char *
numbered(const char *prefix, int from, int to)
{
	struct buf	out = BUF_INIT;
	int		i;

	for (i = from; i <= to; i++)
		buf_printf(&out, "%s%d\n", prefix, i);
	return buf_detach(&out, NULL);
}

/* The lines "line 1".."line n", with line k replaced by with[k] when set. */
static char *
twenty(int n, const char *const *with)
{
	struct buf	out = BUF_INIT;
	int		i;

	for (i = 1; i <= n; i++) {
		if (with != NULL && with[i] != NULL)
			buf_printf(&out, "%s", with[i]);
		else
			buf_printf(&out, "line %d\n", i);
	}
	return buf_detach(&out, NULL);
}

static char *
file_read(const char *dir, const char *rel, size_t *len)
{
	char	*cause = NULL, *data;

	data = diff_read(dir, rel, ENTRY_FILE, len, &cause);
	if (data == NULL)
		fail_msg("%s", cause);
	return data;
}

static size_t
find(const struct review *r, const char *path)
{
	size_t	i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].ch->path, path) == 0)
			return i;
	}
	fail_msg("no file %s in the review", path);
	return 0;
}

static void
load(struct fx *f, struct review *r, const struct turn_range *range)
{
	char	*cause = NULL;

	if (review_load(r, f->st, f->s, range, &cause) != 0)
		fail_msg("review_load: %s", cause);
}

static void
diff_of(struct review *r, size_t i, const struct review_opts *o,
    struct review_diff *d)
{
	char	*cause = NULL;

	if (review_diff(r, i, o, d, &cause) != 0)
		fail_msg("review_diff: %s", cause);
}

/* A line's text (NUL-terminated copy). */
static char *
text_of(const struct review_diff *d, const struct review_line *l)
{
	return xstrndup(d->text.data + l->off, l->len);
}

/* The first line of type with exactly text, or NULL. */
static const struct review_line *
line_find(const struct review_diff *d, enum review_line_type type,
    const char *text)
{
	size_t	i, n = strlen(text);

	for (i = 0; i < d->n; i++) {
		if (d->v[i].type == type && d->v[i].len == n &&
		    memcmp(d->text.data + d->v[i].off, text, n) == 0)
			return &d->v[i];
	}
	return NULL;
}

static int
has_note(const struct review_diff *d, const char *text)
{
	return line_find(d, REVIEW_LINE_NOTE, text) != NULL;
}

/* 1 when openat2(2) works (valgrind does not know it: promotion cannot
 * write there). */
static int
openat2_works(void)
{
	struct open_how	how;
	long		fd;

	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_CLOEXEC;
	fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd >= 0)
		close((int)fd);
	return fd >= 0;
}

/*
 * Promotes the approved changes and returns path's content in the real
 * tree. Where promotion cannot write (under valgrind), the content it
 * would write: the real file with the approved hunks and lines, as
 * promote.c takes them.
 */
static char *
promoted(struct fx *f, const char *path, size_t *len)
{
	struct promote_options	 po;
	struct approval		 ap;
	struct buf		 out = BUF_INIT;
	char			*cause = NULL, *o, *n;
	size_t			 ol, nl;
	uint32_t		 number;

	if (openat2_works()) {
		memset(&po, 0, sizeof po);
		po.approved = 1;
		if (promote_session(f->st, f->s, &po, &out, &number,
		    &cause) != 0)
			fail_msg("promote: %s", cause);
		assert_true(number > 0);
		buf_free(&out);
		return file_read(f->tree, path, len);
	}
	assert_int_equal(approval_get(f->st, f->s->id, path, strlen(path),
	    &ap, &cause), 0);
	n = file_read(f->upper, path, &nl);
	if (ap.whole) {
		approval_free(&ap);
		*len = nl;
		return n;
	}
	o = file_read(f->tree, path, &ol);
	if (hunks_apply_lines(o, ol, n, nl, ap.pick, ap.nhunks, ap.lines,
	    ap.nlines, &out, &cause) != 0)
		fail_msg("hunks_apply_lines: %s", cause);
	approval_free(&ap);
	free(o);
	free(n);
	/* what promotion writes is the real tree's from now on */
	snaptest_write(f->tree, path, out.data, out.len, 0644);
	return buf_detach(&out, len);
}

static void
checkpoint(struct fx *f, uint32_t *number)
{
	struct ckpt_options	 co = { "user", NULL, 0, 0, CKPT_NONE, NULL,
	    0 };
	char			*cause = NULL;

	if (session_checkpoint(f->st, f->s, &co, number, NULL, &cause) < 0)
		fail_msg("session_checkpoint: %s", cause);
}

/* ---- files ---- */

static void
test_marks(void **state)
{
	struct fx	*f = *state;
	struct review	 r;
	char		 big[1000];

	memset(big, 'd', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put(f->tree, "m.txt", "a\n");
	put(f->tree, "d.txt", big);
	snaptest_write(f->tree, "x.sh", "echo\n", 5, 0644);
	put(f->tree, "t", "file\n");
	snaptest_mkdir(f->tree, "dir", 0755);
	put(f->upper, "m.txt", "b\n");
	put(f->upper, "new.txt", "new\n");
	gone(f->upper, "d.txt");
	snaptest_write(f->upper, "x.sh", "echo\n", 5, 0755);
	put(f->upper, ".envrc", "export X=1\n");
	snaptest_symlink(f->upper, "t", "m.txt");
	snaptest_mkdir(f->upper, "dir", 0700);

	load(f, &r, NULL);
	assert_int_equal(r.n, 7);
	assert_int_equal(r.added, 2);
	assert_int_equal(r.deleted, 1);
	assert_int_equal(r.modified, 4);
	assert_int_equal(r.risky, 2);
	assert_int_equal(r.v[find(&r, "m.txt")].marks, 0);
	assert_int_equal(r.v[find(&r, "x.sh")].marks,
	    REVIEW_MODE | REVIEW_RISKY);
	assert_int_equal(r.v[find(&r, ".envrc")].marks, REVIEW_RISKY);
	assert_int_equal(r.v[find(&r, "t")].marks, REVIEW_TYPE);
	assert_int_equal(r.v[find(&r, "dir")].marks, REVIEW_MODE);
	assert_int_equal(r.v[find(&r, "d.txt")].marks, 0);
	/* sizes 4 and 999 are not within a factor of 2: nothing read */
	assert_int_equal(r.rename_reads, 0);
	assert_int_equal(r.rename_compared, 0);
	assert_int_equal(r.v[0].state_known, 0);
	review_free(&r);
}

static void
test_many_files(void **state)
{
	struct fx	*f = *state;
	struct review	 r;
	struct timespec	 t0, t1;
	char		 name[64];
	double		 secs;
	int		 i;

	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof name, "d%02d/f%05d.txt", i % 50, i);
		snaptest_write(f->upper, name, name, strlen(name), 0644);
	}
	put(f->tree, "old.txt", "tiny\n");
	gone(f->upper, "old.txt");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	load(f, &r, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(r.n, 10001);
	assert_int_equal(r.added, 10000);
	assert_int_equal(r.deleted, 1);
	/* one deletion of 5 bytes: only the additions within a factor of 2
	 * of its size are candidates, and there are none (14 bytes) */
	assert_int_equal(r.rename_reads, 0);
	assert_true(secs < 30);
	review_free(&r);
}

static void
test_renames(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	const struct review_file *rf;
	char			*forty = numbered("identical content line ", 1, 40);
	char			*b = numbered("a similar file, line number ", 1, 20);
	char			*c = numbered("unrelated old text ", 1, 20);
	char			*b2, *c2;
	const char		*with[21] = { 0 };

	snaptest_mkdir(f->tree, "old", 0755);
	put(f->tree, "old/a.c", forty);
	put(f->tree, "b.txt", b);
	put(f->tree, "c.txt", c);
	gone(f->upper, "old/a.c");
	gone(f->upper, "b.txt");
	gone(f->upper, "c.txt");
	put(f->upper, "new/a.c", forty);
	/* 4 lines of 20 changed */
	with[3] = "changed three\n";
	with[8] = "changed eight\n";
	with[13] = "changed thirteen\n";
	with[17] = "changed seventeen\n";
	{
		struct buf	out = BUF_INIT;
		int		i;

		for (i = 1; i <= 20; i++) {
			if (with[i] != NULL)
				buf_addstr(&out, with[i]);
			else
				buf_printf(&out, "a similar file, line "
				    "number %d\n", i);
		}
		b2 = buf_detach(&out, NULL);
	}
	put(f->upper, "b2.txt", b2);
	/* 12 lines of 20 changed: below the threshold, though related */
	{
		char	*head = numbered("unrelated old text ", 1, 8);
		char	*tail = numbered("completely other words ", 9, 20);

		c2 = xasprintf("%s%s", head, tail);
		free(head);
		free(tail);
	}
	put(f->upper, "c2.txt", c2);

	load(f, &r, NULL);
	rf = &r.v[find(&r, "new/a.c")];
	assert_true(rf->marks & REVIEW_RENAMED);
	assert_int_equal(rf->similarity, 100);
	assert_string_equal(rf->from->path, "old/a.c");
	/* the deletion stays listed on its own */
	assert_int_equal(r.v[find(&r, "old/a.c")].marks & REVIEW_RENAMED, 0);
	assert_int_equal(r.deleted, 3);

	rf = &r.v[find(&r, "b2.txt")];
	assert_true(rf->marks & REVIEW_RENAMED);
	assert_string_equal(rf->from->path, "b.txt");
	assert_in_range(rf->similarity, 50, 99);

	rf = &r.v[find(&r, "c2.txt")];
	assert_int_equal(rf->marks & REVIEW_RENAMED, 0);
	assert_null(rf->from);
	assert_true(r.rename_compared > 0);

	/* a rename's diff: whole only, named, the lines against its source */
	diff_of(&r, find(&r, "b2.txt"), NULL, &d);
	assert_true(d.whole_only);
	assert_int_equal(d.nhunks, 0);
	assert_int_equal(d.v[0].type, REVIEW_LINE_NOTE);
	{
		char	*t = text_of(&d, &d.v[0]);
		char	 want[64];

		snprintf(want, sizeof want, "renamed from b.txt (%d%%)",
		    r.v[find(&r, "b2.txt")].similarity);
		assert_string_equal(t, want);
		free(t);
	}
	assert_non_null(line_find(&d, REVIEW_LINE_DEL,
	    "a similar file, line number 3"));
	assert_non_null(line_find(&d, REVIEW_LINE_ADD, "changed three"));
	assert_null(line_find(&d, REVIEW_LINE_ADD,
	    "a similar file, line number 4"));
	review_diff_free(&d);
	{
		char	*cause = NULL;
		uint32_t one = 0;

		assert_int_equal(review_approve_lines(&r, find(&r, "b2.txt"),
		    &one, 1, 1, &cause), -1);
		assert_non_null(strstr(cause, "whole"));
		free(cause);
	}
	review_free(&r);
	free(forty);
	free(b);
	free(c);
	free(b2);
	free(c2);
}

static void
test_renames_bounded(void **state)
{
	struct fx	*f = *state;
	struct review	 r;
	char		 name[32], *data;
	size_t		 i, renamed = 0;

	/* 100 deletions and 100 additions of neighbouring sizes, unrelated */
	for (i = 0; i < 100; i++) {
		data = xmalloc(2000);
		snaptest_random(data, 2000, (uint32_t)i);
		for (size_t k = 0; k < 2000; k++)
			data[k] = (char)('a' + (unsigned char)data[k] % 26);
		for (size_t k = 40; k < 2000; k += 41)
			data[k] = '\n';
		snprintf(name, sizeof name, "del%03zu", i);
		snaptest_write(f->tree, name, data, 1000 + 3 * i, 0644);
		gone(f->upper, name);
		snaptest_random(data, 2000, (uint32_t)(1000 + i));
		for (size_t k = 0; k < 2000; k++)
			data[k] = (char)('A' + (unsigned char)data[k] % 26);
		for (size_t k = 40; k < 2000; k += 41)
			data[k] = '\n';
		snprintf(name, sizeof name, "add%03zu", i);
		snaptest_write(f->upper, name, data, 1001 + 3 * i, 0644);
		free(data);
	}
	review_set_rename_limit(50);
	load(f, &r, NULL);
	assert_int_equal(r.n, 200);
	assert_true(r.rename_compared > 0);
	assert_true(r.rename_compared <= 50);
	/* each comparison reads at most two files, each file once */
	assert_true(r.rename_reads <= 100);
	for (i = 0; i < r.n; i++)
		renamed += (r.v[i].marks & REVIEW_RENAMED) != 0;
	assert_int_equal(renamed, 0);
	review_free(&r);

	/* the default bound: each addition meets a few deletions only (of
	 * its name: none here; of the nearest sizes: 8) */
	review_set_rename_limit(0);
	load(f, &r, NULL);
	assert_true(r.rename_compared <= 8 * 100);
	assert_true(r.rename_reads <= 200);
	review_free(&r);
}

/* A directory moved, its files edited a little: each pairs with the file
 * of its name, though their sizes are all alike, within a small bound. */
static void
test_renames_moved(void **state)
{
	struct fx	*f = *state;
	struct review	 r;
	char		 name[64], *body;
	size_t		 i, k, renamed = 0;

	for (i = 0; i < 30; i++) {
		body = numbered("", (int)(i * 100), (int)(i * 100 + 9));
		snprintf(name, sizeof name, "src/m%02zu.c", i);
		put(f->tree, name, body);
		gone(f->upper, name);
		body[0] = 'X';       /* one line of ten changed */
		snprintf(name, sizeof name, "lib/m%02zu.c", i);
		put(f->upper, name, body);
		free(body);
	}
	review_set_rename_limit(30);
	load(f, &r, NULL);
	for (i = 0; i < r.n; i++) {
		if (!(r.v[i].marks & REVIEW_RENAMED))
			continue;
		renamed++;
		k = strlen(r.v[i].ch->path);
		assert_int_equal(strncmp(r.v[i].ch->path, "lib/", 4), 0);
		assert_int_equal(strncmp(r.v[i].from->path, "src/", 4), 0);
		assert_string_equal(r.v[i].from->path + 4,
		    r.v[i].ch->path + 4);
		assert_true(k > 4);
		assert_in_range(r.v[i].similarity, 50, 99);
	}
	assert_int_equal(renamed, 30);
	assert_int_equal(r.rename_compared, 30);
	review_free(&r);
}

/* ---- diffs ---- */

static void
test_diff_numbers(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	const char		*with[21] = { 0 };
	char			*a = twenty(20, NULL), *b, *t, *cause = NULL;
	struct hunks		 hs;
	size_t			 i, total = 0, ichange = 0;
	uint32_t		 hunk = 0;
	unsigned		 no;

	with[2] = "LINE 2\n";
	with[10] = "LINE 10\n";
	with[19] = "LINE 19\nan extra line\n";
	b = twenty(20, with);
	put(f->tree, "f.txt", a);
	put(f->upper, "f.txt", b);
	assert_int_equal(hunks_compute(a, strlen(a), b, strlen(b), &hs,
	    &cause), 0);
	for (i = 0; i < hs.n; i++)
		total += hs.v[i].added + hs.v[i].deleted;

	load(f, &r, NULL);
	diff_of(&r, 0, NULL, &d);
	assert_int_equal(d.nhunks, hs.n);
	assert_int_equal(d.nhunks, 3);
	assert_int_equal(d.nchanges, total);
	assert_false(d.whole_only);
	assert_true(r.v[0].seen);
	for (i = 0; i < d.n; i++) {
		const struct review_line *l = &d.v[i];

		t = text_of(&d, l);
		switch (l->type) {
		case REVIEW_LINE_HUNK:
			assert_int_equal(l->hunk, ++hunk);
			assert_int_equal(strncmp(t, "@@ -", 4), 0);
			break;
		case REVIEW_LINE_CONTEXT:
			/* "line N" is line N on both sides above the
			 * insertion */
			assert_int_equal(sscanf(t, "line %u", &no), 1);
			assert_int_equal(l->old_no, no);
			assert_int_equal(l->new_no, no + (no > 19));
			assert_int_equal(l->hunk, hunk);
			assert_int_equal(l->change, REVIEW_NO_LINE);
			break;
		case REVIEW_LINE_DEL:
			assert_int_equal(sscanf(t, "line %u", &no), 1);
			assert_int_equal(l->old_no, no);
			assert_int_equal(l->new_no, 0);
			assert_int_equal(l->hunk, hunk);
			assert_int_equal(l->change, ichange++);
			break;
		case REVIEW_LINE_ADD:
			if (strcmp(t, "an extra line") == 0)
				assert_int_equal(l->new_no, 20);
			else {
				assert_int_equal(sscanf(t, "LINE %u", &no), 1);
				assert_int_equal(l->new_no, no);
			}
			assert_int_equal(l->old_no, 0);
			assert_int_equal(l->hunk, hunk);
			assert_int_equal(l->change, ichange++);
			break;
		default:
			fail_msg("unexpected line %s", t);
		}
		free(t);
	}
	assert_int_equal(ichange, total);
	review_diff_free(&d);
	hunks_free(&hs);
	review_free(&r);
	free(a);
	free(b);
}

struct made {
	struct review_make	*mk;
	int			 rc;
};

static void *
make_thread(void *arg)
{
	struct made	*m = arg;

	m->rc = review_make_run(m->mk);
	return NULL;
}

/*
 * A diff in steps: started here, made on another thread, finished here,
 * is review_diff's; the preview of its first lines is a diff of the
 * files' heads with nothing to approve, cut before the heads' ends.
 */
static void
test_diff_steps(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d, whole, pv;
	struct review_make	*mk;
	struct made		 m;
	struct buf		 a = BUF_INIT, b = BUF_INIT;
	pthread_t		 th;
	char			*cause = NULL, *t, *u;
	size_t			 i, adds = 0;
	int			 k;

	for (k = 0; k < 5000; k++) {
		buf_printf(&a, "%08d some text\n", k);
		buf_printf(&b, k % 2 == 0 ? "%08d edited some text\n" :
		    "%08d some text\n", k);
	}
	/* a moved block at the end: the heads alone cannot know */
	buf_addstr(&b, "00000001 some text\n");
	snaptest_write(f->tree, "big.txt", a.data, a.len, 0644);
	snaptest_write(f->upper, "big.txt", b.data, b.len, 0644);
	load(f, &r, NULL);
	diff_of(&r, 0, NULL, &whole);

	assert_int_equal(review_diff_start(&r, 0, NULL, &mk, &cause), 0);
	assert_int_equal(review_make_size(mk), a.len + b.len);
	assert_int_equal(review_diff_preview(&r, 0, mk, 1000, &pv, &cause),
	    0);
	assert_true(pv.preview);
	assert_true(pv.n > 100);
	for (i = 0; i < pv.n; i++) {
		const struct review_line *l = &pv.v[i];

		/* nothing to approve, nothing past 3/4 of the heads */
		assert_int_equal(l->hunk, 0);
		assert_int_equal(l->change, REVIEW_NO_LINE);
		assert_true(l->old_no <= 750 && l->new_no <= 750);
		t = text_of(&pv, l);
		if (l->type == REVIEW_LINE_HUNK)
			assert_string_equal(t, "@@ -1,... +1,... @@");
		else {
			/* the same lines as the whole diff's */
			u = text_of(&whole, &whole.v[i]);
			assert_string_equal(t, u);
			assert_int_equal(l->type, whole.v[i].type);
			assert_int_equal(l->old_no, whole.v[i].old_no);
			assert_int_equal(l->new_no, whole.v[i].new_no);
			free(u);
		}
		if (l->type == REVIEW_LINE_ADD)
			adds++;
		free(t);
	}
	assert_true(adds > 300);
	review_diff_free(&pv);

	/* what approve-file checks: set from the start, preview or not */
	assert_true(r.v[0].seen);
	m.mk = mk;
	assert_int_equal(pthread_create(&th, NULL, make_thread, &m), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(m.rc, 0);
	assert_int_equal(review_diff_finish(mk, &d, &cause), 0);
	assert_false(d.preview);
	assert_int_equal(d.n, whole.n);
	assert_int_equal(d.nhunks, whole.nhunks);
	assert_int_equal(d.nchanges, whole.nchanges);
	assert_int_equal(d.text.len, whole.text.len);
	assert_memory_equal(d.text.data, whole.text.data, d.text.len);
	for (i = 0; i < d.n; i++) {
		assert_int_equal(d.v[i].hunk, whole.v[i].hunk);
		assert_int_equal(d.v[i].change, whole.v[i].change);
	}
	review_diff_free(&d);
	review_diff_free(&whole);

	/* a binary file: nothing to make on a thread, no lines to preview */
	snaptest_write(f->upper, "big.txt", "\0\1\2", 3, 0644);
	review_forget(&r, (size_t)-1);
	assert_int_equal(review_diff_start(&r, 0, NULL, &mk, &cause), 0);
	assert_int_equal(review_make_size(mk), 0);
	assert_int_equal(review_diff_preview(&r, 0, mk, 1000, &pv, &cause),
	    0);
	for (i = 0; i < pv.n; i++)
		assert_int_equal(pv.v[i].type, REVIEW_LINE_NOTE);
	review_diff_free(&pv);
	review_make_free(mk);
	review_free(&r);
	buf_free(&a);
	buf_free(&b);
}

/* The preview of file 0 with opts, against its whole diff: the same lines
 * (hunk headers aside); the number of lines kept. */
static size_t
preview_check(struct review *r, const struct review_opts *o)
{
	struct review_diff	 whole, pv;
	struct review_make	*mk;
	char			*cause = NULL, *t, *u;
	size_t			 i, n;

	diff_of(r, 0, o, &whole);
	assert_int_equal(review_diff_start(r, 0, o, &mk, &cause), 0);
	assert_int_equal(review_diff_preview(r, 0, mk, 1000, &pv, &cause), 0);
	assert_true(pv.n <= whole.n);
	for (i = 0; i < pv.n; i++) {
		assert_int_equal(pv.v[i].type, whole.v[i].type);
		if (pv.v[i].type == REVIEW_LINE_HUNK)
			continue;
		t = text_of(&pv, &pv.v[i]);
		u = text_of(&whole, &whole.v[i]);
		assert_string_equal(t, u);
		assert_int_equal(pv.v[i].old_no, whole.v[i].old_no);
		assert_int_equal(pv.v[i].new_no, whole.v[i].new_no);
		free(t);
		free(u);
	}
	n = pv.n;
	review_diff_free(&pv);
	review_diff_free(&whole);
	review_make_free(mk);
	return n;
}

/*
 * A long insertion near the top: the heads of the sides no longer line up
 * and their diff deletes what the whole files keep; the preview is cut
 * before that, with 3 lines of context and with none. A first line longer
 * than a head: no lines at all.
 */
static void
test_diff_preview_cut(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_opts	 o = { .context = 0, .ignore_ws = 0 };
	struct review_diff	 pv;
	struct review_make	*mk;
	struct buf		 a = BUF_INIT, b = BUF_INIT;
	char			*cause = NULL;
	size_t			 i;
	int			 k;

	for (k = 0; k < 3000; k++) {
		buf_printf(&a, "%08d text\n", k);
		if (k == 99) {
			for (int j = 0; j < 1200; j++)
				buf_printf(&b, "inserted %d\n", j);
		}
		buf_printf(&b, k == 20 ? "%08d changed\n" : "%08d text\n", k);
	}
	snaptest_write(f->tree, "big.txt", a.data, a.len, 0644);
	snaptest_write(f->upper, "big.txt", b.data, b.len, 0644);
	load(f, &r, NULL);
	/* the change at line 21 shows; the insertion's lines past 3/4 of
	 * the head do not */
	assert_true(preview_check(&r, NULL) >= 8);
	assert_true(preview_check(&r, &o) >= 2);
	review_free(&r);

	/* one line longer than a head */
	buf_reset(&b);
	for (k = 0; k < 300 * 1024; k++)
		buf_addch(&b, 'x');
	buf_addch(&b, '\n');
	buf_add(&b, a.data, a.len);
	snaptest_write(f->upper, "big.txt", b.data, b.len, 0644);
	load(f, &r, NULL);
	assert_int_equal(review_diff_start(&r, 0, NULL, &mk, &cause), 0);
	assert_int_equal(review_diff_preview(&r, 0, mk, 1000, &pv, &cause), 0);
	for (i = 0; i < pv.n; i++)
		assert_int_equal(pv.v[i].type, REVIEW_LINE_NOTE);
	review_diff_free(&pv);
	/* cancelled: an error, nothing made */
	review_make_cancel(mk);
	assert_int_equal(review_make_run(mk), -1);
	assert_int_not_equal(review_diff_finish(mk, &pv, &cause), 0);
	assert_string_equal(cause, "cancelled");
	free(cause);
	review_free(&r);
	buf_free(&a);
	buf_free(&b);
}

/* The text of span k of line l. */
static char *
span_text(const struct review_diff *d, const struct review_line *l, size_t k)
{
	const struct review_span *s = &d->spans[l->span + k];

	assert_true(k < l->nspan);
	assert_true(s->start + s->len <= l->len);
	return xstrndup(d->text.data + l->off + s->start, s->len);
}

static void
test_words(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	const struct review_line *dl, *al;
	struct buf		 longa = BUF_INIT, longb = BUF_INIT;
	char			*t;
	int			 i;

	put(f->tree, "w.c", "keep\nint x = compute(a, b);\nkeep\n");
	put(f->upper, "w.c", "keep\nint y = compute(a, c);\nkeep\n");
	for (i = 0; i < 300; i++) {
		buf_printf(&longa, "w%d ", i);
		buf_printf(&longb, "w%d ", i == 150 ? 9999 : i);
	}
	buf_addch(&longa, '\n');
	buf_addch(&longb, '\n');
	put(f->tree, "long.txt", longa.data);
	put(f->upper, "long.txt", longb.data);

	load(f, &r, NULL);
	diff_of(&r, find(&r, "w.c"), NULL, &d);
	dl = line_find(&d, REVIEW_LINE_DEL, "int x = compute(a, b);");
	al = line_find(&d, REVIEW_LINE_ADD, "int y = compute(a, c);");
	assert_non_null(dl);
	assert_non_null(al);
	assert_int_equal(dl->nspan, 2);
	assert_int_equal(al->nspan, 2);
	t = span_text(&d, dl, 0);
	assert_string_equal(t, "x");
	free(t);
	t = span_text(&d, dl, 1);
	assert_string_equal(t, "b");
	free(t);
	t = span_text(&d, al, 0);
	assert_string_equal(t, "y");
	free(t);
	assert_int_equal(d.spans[al->span + 1].start, 19);
	assert_int_equal(line_find(&d, REVIEW_LINE_CONTEXT, "keep")->nspan, 0);
	review_diff_free(&d);

	/* more than 1000 bytes: one span over the whole line */
	diff_of(&r, find(&r, "long.txt"), NULL, &d);
	for (i = 0; i < (int)d.n; i++) {
		if (d.v[i].type == REVIEW_LINE_DEL ||
		    d.v[i].type == REVIEW_LINE_ADD) {
			assert_true(d.v[i].len > 1000);
			assert_int_equal(d.v[i].nspan, 1);
			assert_int_equal(d.spans[d.v[i].span].start, 0);
			assert_int_equal(d.spans[d.v[i].span].len, d.v[i].len);
		}
	}
	review_diff_free(&d);
	review_free(&r);
	buf_free(&longa);
	buf_free(&longb);
}

/* change index of the ADD (new_no) or DEL (old_no) line, by number. */
struct numbered_change {
	enum review_line_type type;
	uint32_t no, hunk, change;
};

static void
test_views_map(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d, v;
	struct review_opts	 o;
	const char		*with[31] = { 0 };
	char			*a = twenty(30, NULL), *b;
	struct numbered_change	 canon[16];
	size_t			 nc = 0, i, k, matched;
	const struct review_line *l;

	with[5] = "line  5\n";     /* whitespace only */
	with[6] = "six\n";
	with[20] = "twenty\n";
	b = twenty(30, with);
	put(f->tree, "f.txt", a);
	put(f->upper, "f.txt", b);
	load(f, &r, NULL);
	diff_of(&r, 0, NULL, &d);
	assert_int_equal(d.nhunks, 2);
	assert_int_equal(d.nchanges, 6);
	for (i = 0; i < d.n; i++) {
		l = &d.v[i];
		if (l->type != REVIEW_LINE_ADD && l->type != REVIEW_LINE_DEL)
			continue;
		canon[nc].type = l->type;
		canon[nc].no = l->type == REVIEW_LINE_ADD ? l->new_no :
		    l->old_no;
		canon[nc].hunk = l->hunk;
		canon[nc].change = l->change;
		nc++;
	}
	assert_int_equal(nc, 6);

	/* context 0 and 10: the same lines, the same numbers */
	for (k = 0; k < 2; k++) {
		memset(&o, 0, sizeof o);
		o.context = k == 0 ? 0 : 10;
		diff_of(&r, 0, &o, &v);
		assert_int_equal(v.nhunks, 2);
		assert_int_equal(v.nchanges, 6);
		matched = 0;
		for (i = 0; i < v.n; i++) {
			l = &v.v[i];
			if (l->type == REVIEW_LINE_HUNK)
				assert_true(l->hunk == 1 || l->hunk == 2);
			if (l->type != REVIEW_LINE_ADD &&
			    l->type != REVIEW_LINE_DEL)
				continue;
			for (size_t j = 0; j < nc; j++) {
				if (canon[j].type == l->type && canon[j].no ==
				    (l->type == REVIEW_LINE_ADD ? l->new_no :
				    l->old_no)) {
					assert_int_equal(l->hunk,
					    canon[j].hunk);
					assert_int_equal(l->change,
					    canon[j].change);
					matched++;
				}
			}
		}
		assert_int_equal(matched, 6);
		if (k == 0)
			assert_null(line_find(&v, REVIEW_LINE_CONTEXT,
			    "line 4"));
		else {
			/* one view hunk; context past the canonical hunks
			 * belongs to none */
			l = line_find(&v, REVIEW_LINE_CONTEXT, "line 1");
			assert_non_null(l);
			assert_int_equal(l->hunk, 0);
			l = line_find(&v, REVIEW_LINE_CONTEXT, "line 8");
			assert_int_equal(l->hunk, 1);
			l = line_find(&v, REVIEW_LINE_CONTEXT, "line 18");
			assert_int_equal(l->hunk, 2);
			l = line_find(&v, REVIEW_LINE_CONTEXT, "line 13");
			assert_int_equal(l->hunk, 0);
		}
		review_diff_free(&v);
	}

	/* ignoring whitespace: line 5 is context (in hunk 1), line 6 and
	 * 20 keep their indexes */
	memset(&o, 0, sizeof o);
	o.context = 3;
	o.ignore_ws = 1;
	diff_of(&r, 0, &o, &v);
	assert_null(line_find(&v, REVIEW_LINE_ADD, "line  5"));
	assert_null(line_find(&v, REVIEW_LINE_DEL, "line 5"));
	l = line_find(&v, REVIEW_LINE_ADD, "six");
	assert_non_null(l);
	assert_int_equal(l->change, 3);
	assert_int_equal(l->hunk, 1);
	l = line_find(&v, REVIEW_LINE_DEL, "line 6");
	assert_int_equal(l->change, 1);
	l = line_find(&v, REVIEW_LINE_ADD, "twenty");
	assert_int_equal(l->change, 5);
	assert_int_equal(l->hunk, 2);
	for (i = 0; i < v.n; i++) {
		if (v.v[i].type == REVIEW_LINE_CONTEXT && v.v[i].new_no == 5)
			assert_int_equal(v.v[i].hunk, 1);
	}
	review_diff_free(&v);
	review_diff_free(&d);
	review_free(&r);
	free(a);
	free(b);
}

static void
test_binary(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	char			*png_a = xcalloc(12 * 1024, 1);
	char			*png_b = xcalloc(14 * 1024 + 100, 1);
	char			 elf[100];

	memcpy(png_a, "\211PNG\r\n\032\n", 8);
	memcpy(png_b, "\211PNG\r\n\032\n", 8);
	png_b[5000] = 'x';
	memset(elf, 0, sizeof elf);
	memcpy(elf, "\177ELF", 4);
	snaptest_write(f->tree, "img.png", png_a, 12 * 1024, 0644);
	snaptest_write(f->upper, "img.png", png_b, 14 * 1024 + 100, 0644);
	snaptest_write(f->upper, "prog", elf, sizeof elf, 0755);

	load(f, &r, NULL);
	diff_of(&r, find(&r, "img.png"), NULL, &d);
	assert_true(d.whole_only);
	assert_int_equal(d.nhunks, 0);
	assert_int_equal(d.n, 1);
	assert_true(has_note(&d, "binary file, 12.0 KiB -> 14.1 KiB, "
	    "PNG image"));
	assert_true(r.v[find(&r, "img.png")].marks & REVIEW_BINARY);
	review_diff_free(&d);
	diff_of(&r, find(&r, "prog"), NULL, &d);
	assert_true(has_note(&d, "new file mode 100755"));
	assert_true(has_note(&d, "binary file, 100 B, ELF"));
	review_diff_free(&d);
	review_forget(&r, (size_t)-1);
	assert_int_equal(r.v[find(&r, "img.png")].marks & REVIEW_BINARY, 0);
	{
		char *cause = NULL;

		assert_int_equal(review_file_state(&r, find(&r, "img.png"),
		    &cause), 0);
		assert_true(r.v[find(&r, "img.png")].marks & REVIEW_BINARY);
		assert_int_equal(r.v[find(&r, "img.png")].approval,
		    APPROVAL_NONE);
	}
	review_free(&r);
	free(png_a);
	free(png_b);
}

/* ---- approvals ---- */

static void
test_line_approval_promotes(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	struct approval		 ap;
	const char		*with[21] = { 0 };
	char			*a = twenty(20, NULL), *b, *want, *got, *cause = NULL;
	const char		*wwith[21] = { 0 };
	uint32_t		 pick[2], all[7];
	size_t			 i, len;
	const struct review_line *l;

	with[5] = "five\nsix\nextra\n";
	with[6] = "";
	with[15] = "fifteen\n";
	b = twenty(20, with);
	put(f->tree, "f.txt", a);
	put(f->upper, "f.txt", b);
	load(f, &r, NULL);

	/* no diff made yet: line numbers mean nothing */
	pick[0] = 0;
	assert_int_equal(review_approve_lines(&r, 0, pick, 1, 1, &cause), -1);
	assert_non_null(strstr(cause, "look again"));
	free(cause);
	cause = NULL;

	diff_of(&r, 0, NULL, &d);
	assert_int_equal(d.nhunks, 2);
	assert_int_equal(d.nchanges, 7);
	/* take out line 5, put "five" in; nothing else */
	l = line_find(&d, REVIEW_LINE_DEL, "line 5");
	pick[0] = l->change;
	l = line_find(&d, REVIEW_LINE_ADD, "five");
	pick[1] = l->change;
	assert_int_equal(pick[0], 0);
	assert_int_equal(pick[1], 2);
	assert_int_equal(review_approve_lines(&r, 0, pick, 2, 1, &cause), 0);
	assert_int_equal(review_file_state(&r, 0, &cause), 0);
	assert_int_equal(r.v[0].approval, APPROVAL_PARTIAL);
	assert_int_equal(r.v[0].approved, 0);
	assert_int_equal(r.v[0].nhunks, 2);
	assert_int_equal(approval_get(f->st, f->s->id, "f.txt", 5, &ap,
	    &cause), 0);
	assert_int_equal(ap.whole, 0);
	assert_int_equal(ap.nhunks, 2);
	assert_int_equal(ap.pick[0], APPROVAL_PICK_LINES);
	assert_int_equal(ap.pick[1], 0);
	assert_int_equal(ap.nlines, 7);
	assert_memory_equal(ap.lines, "\1\0\1\0\0\0\0", 7);
	approval_free(&ap);
	/* an index past the last line */
	pick[0] = 7;
	assert_int_equal(review_approve_lines(&r, 0, pick, 1, 1, &cause), -1);
	assert_non_null(strstr(cause, "7 added and deleted"));
	free(cause);
	cause = NULL;

	/* promotion writes exactly those lines: the unpicked deletion of
	 * line 6 stays, the unpicked additions are left out */
	wwith[5] = "";
	wwith[6] = "line 6\nfive\n";
	want = twenty(20, wwith);
	got = promoted(f, "f.txt", &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
	review_diff_free(&d);
	review_free(&r);

	/* the rest of the change now, every line: the whole change */
	load(f, &r, NULL);
	diff_of(&r, 0, NULL, &d);
	assert_true(d.nchanges > 0);
	for (i = 0; i < d.nchanges; i++)
		all[i] = (uint32_t)i;
	assert_int_equal(review_approve_lines(&r, 0, all, d.nchanges, 1,
	    &cause), 0);
	assert_int_equal(approval_get(f->st, f->s->id, "f.txt", 5, &ap,
	    &cause), 0);
	assert_int_equal(ap.whole, 1);
	approval_free(&ap);
	assert_int_equal(review_file_state(&r, 0, &cause), 0);
	assert_int_equal(r.v[0].approval, APPROVAL_APPROVED);
	/* withdrawing one line: partly again; all of them: none */
	assert_int_equal(review_approve_lines(&r, 0, all, 1, 0, &cause), 0);
	assert_int_equal(review_file_state(&r, 0, &cause), 0);
	assert_int_equal(r.v[0].approval, APPROVAL_PARTIAL);
	assert_int_equal(review_approve_lines(&r, 0, all, d.nchanges, 0,
	    &cause), 0);
	assert_int_equal(approval_get(f->st, f->s->id, "f.txt", 5, &ap,
	    &cause), 1);
	assert_int_equal(review_approve_file(&r, 0, 1, &cause), 0);
	assert_int_equal(review_file_state(&r, 0, &cause), 0);
	assert_int_equal(r.v[0].approval, APPROVAL_APPROVED);
	got = promoted(f, "f.txt", &len);
	assert_int_equal(len, strlen(b));
	assert_memory_equal(got, b, len);
	free(got);
	review_diff_free(&d);
	review_free(&r);
	free(a);
	free(b);
}

/* The value of an approval record as stored. */
struct raw_arg {
	uint32_t	 owner;
	const char	*path;
	struct buf	*val;
	int		 put;
};

static int
raw_txn(struct index_txn *txn, void *arg, char **cause)
{
	struct raw_arg	*a = arg;
	unsigned char	 key[4 + HASH_LEN];
	const void	*val;
	size_t		 vlen;
	int		 rc;

	be32_put(key, a->owner);
	hash_buffer(a->path, strlen(a->path), key + 4);
	if (a->put)
		return index_put(txn, INDEX_APPROVALS, key, sizeof key,
		    a->val->data, a->val->len, cause);
	rc = index_get(txn, INDEX_APPROVALS, key, sizeof key, &val, &vlen,
	    cause);
	if (rc == 0)
		buf_add(a->val, val, vlen);
	return rc < 0 ? -1 : 0;
}

static uint64_t
raw_version(struct fx *f, const char *path)
{
	struct buf		val = BUF_INIT;
	struct raw_arg		a = { f->s->id, path, &val, 0 };
	struct rec_reader	rr;
	char			*cause = NULL;
	uint64_t		v;

	assert_int_equal(index_write(f->st->index, raw_txn, &a, &cause), 0);
	rec_reader_init(&rr, val.data, val.len);
	v = rec_get_u64(&rr);
	buf_free(&val);
	return v;
}

static void
test_records(void **state)
{
	struct fx		*f = *state;
	struct buf		 val = BUF_INIT;
	struct raw_arg		 a = { 0, "v1.txt", &val, 1 };
	struct approval		 ap, got;
	unsigned char		 fp[HASH_LEN], pick[3] = { 1, 0, 5 };
	unsigned char		 lines[4] = { 1, 0, 0, 1 };
	char			*cause = NULL;
	size_t			 k;

	/* a version 1 record, as airlock wrote them before line picks */
	memset(fp, 7, sizeof fp);
	a.owner = f->s->id;
	rec_put_u64(&val, 1);
	rec_put_u64(&val, 0);
	rec_put_bytes(&val, fp, HASH_LEN);
	rec_put_bytes(&val, fp, HASH_LEN);
	rec_put_u64(&val, 3);
	rec_put_bytes(&val, pick, 3);
	rec_put_bytes(&val, "v1.txt", 6);
	assert_int_equal(index_write(f->st->index, raw_txn, &a, &cause), 0);
	assert_int_equal(approval_get(f->st, f->s->id, "v1.txt", 6, &got,
	    &cause), 0);
	assert_int_equal(got.whole, 0);
	assert_int_equal(got.nhunks, 3);
	/* any non-zero pick of version 1 meant the whole hunk */
	assert_memory_equal(got.pick, "\1\0\1", 3);
	assert_int_equal(got.nlines, 0);
	assert_null(got.lines);
	assert_int_equal(approval_state_of(&got, fp, fp, 3, &k),
	    APPROVAL_PARTIAL);
	assert_int_equal(k, 2);
	approval_free(&got);

	/* without lines, still written as version 1; with, version 2 */
	memset(&ap, 0, sizeof ap);
	memcpy(ap.new_fp, fp, HASH_LEN);
	memcpy(ap.old_fp, fp, HASH_LEN);
	ap.nhunks = 2;
	ap.pick = (unsigned char *)"\1\0";
	assert_int_equal(approval_put(f->st, f->s->id, "w", 1, &ap, &cause), 0);
	assert_int_equal(raw_version(f, "w"), 1);
	ap.pick = (unsigned char *)"\1\2";
	/* a hunk in part needs its lines */
	assert_int_equal(approval_put(f->st, f->s->id, "w", 1, &ap, &cause),
	    -1);
	free(cause);
	cause = NULL;
	ap.nlines = 4;
	ap.lines = lines;
	assert_int_equal(approval_put(f->st, f->s->id, "w", 1, &ap, &cause), 0);
	assert_int_equal(raw_version(f, "w"), 2);
	assert_int_equal(approval_get(f->st, f->s->id, "w", 1, &got, &cause),
	    0);
	assert_memory_equal(got.pick, "\1\2", 2);
	assert_int_equal(got.nlines, 4);
	assert_memory_equal(got.lines, lines, 4);
	/* a hunk in part is not approved; the file is partly */
	assert_int_equal(approval_state_of(&got, fp, fp, 2, &k),
	    APPROVAL_PARTIAL);
	assert_int_equal(k, 1);
	got.pick[0] = 0;
	assert_int_equal(approval_state_of(&got, fp, fp, 2, &k),
	    APPROVAL_PARTIAL);
	assert_int_equal(k, 0);
	approval_free(&got);
	buf_free(&val);

	/* a version 2 record with a pick past 2 is corrupt */
	buf_init(&val);
	a.path = "bad";
	rec_put_u64(&val, 2);
	rec_put_u64(&val, 0);
	rec_put_bytes(&val, fp, HASH_LEN);
	rec_put_bytes(&val, fp, HASH_LEN);
	rec_put_u64(&val, 1);
	rec_put_bytes(&val, "\3", 1);
	rec_put_u64(&val, 1);
	rec_put_bytes(&val, "\1", 1);
	rec_put_bytes(&val, "bad", 3);
	assert_int_equal(index_write(f->st->index, raw_txn, &a, &cause), 0);
	assert_int_equal(approval_get(f->st, f->s->id, "bad", 3, &got,
	    &cause), -1);
	assert_non_null(strstr(cause, "corrupt"));
	free(cause);
	buf_free(&val);
}

static void
test_apply_lines(void **state)
{
	struct buf	 out = BUF_INIT;
	char		*cause = NULL;
	const char	*old = "a\nb", *new = "a\nc";
	unsigned char	 pick = APPROVAL_PICK_LINES, lines[2];

	(void)state;
	/* -b, \ No newline, +c, \ No newline: both lines, neither, one */
	lines[0] = 1;
	lines[1] = 1;
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, lines, 2,
	    &out, &cause), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "a\nc", 3);
	lines[0] = lines[1] = 0;
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, lines, 2,
	    &out, &cause), 0);
	assert_memory_equal(out.data, "a\nb", 3);
	assert_int_equal(out.len, 3);
	/* keep b (its deletion not picked), add c: b needs its newline */
	lines[1] = 1;
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, lines, 2,
	    &out, &cause), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "a\nb\nc", 5);
	/* delete b, add nothing */
	lines[0] = 1;
	lines[1] = 0;
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, lines, 2,
	    &out, &cause), 0);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "a\n", 2);
	/* CRLF lines keep their endings */
	assert_int_equal(hunks_apply_lines("x\r\ny\r\n", 6, "x\r\nz\r\n", 6,
	    &pick, 1, lines, 2, &out, &cause), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.data, "x\r\n", 3);
	/* the wrong number of lines */
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, lines, 1,
	    &out, &cause), -1);
	assert_non_null(strstr(cause, "lines picked"));
	free(cause);
	cause = NULL;
	assert_int_equal(hunks_apply_lines(old, 3, new, 3, &pick, 1, NULL, 0,
	    &out, &cause), -1);
	free(cause);
	/* whole picks need no lines, and hunks_apply is the same */
	pick = 1;
	assert_int_equal(hunks_apply(old, 3, new, 3, &pick, 1, &out, &cause),
	    0);
	assert_memory_equal(out.data, "a\nc", 3);
	buf_free(&out);
}

/* Random files: every line picked through APPROVAL_PICK_LINES is the new
 * file, none the old one, whatever the mix of whole picks. */
static void
test_apply_lines_property(void **state)
{
	struct buf	 a = BUF_INIT, b = BUF_INIT, out = BUF_INIT;
	struct hunks	 hs;
	unsigned char	*pick, *lines;
	char		*cause = NULL;
	uint32_t	 seed = 1;
	size_t		 round, i, n, total;
	int		 all;

	(void)state;
	for (round = 0; round < 200; round++) {
		buf_reset(&a);
		buf_reset(&b);
		for (i = 0; i < 40; i++) {
			seed = seed * 1103515245 + 12345;
			buf_printf(&a, "l%u\n", (seed >> 16) % 8);
			seed = seed * 1103515245 + 12345;
			buf_printf(&b, "l%u\n", (seed >> 16) % 8);
		}
		if (round % 3 == 0)
			a.len--;     /* no newline at the end */
		if (round % 5 == 0)
			b.len--;
		assert_int_equal(hunks_compute(a.data, a.len, b.data, b.len,
		    &hs, &cause), 0);
		n = hs.n;
		for (i = 0, total = 0; i < n; i++)
			total += hs.v[i].added + hs.v[i].deleted;
		pick = xcalloc(n + 1, 1);
		lines = xcalloc(total + 1, 1);
		for (all = 0; all < 2; all++) {
			for (i = 0; i < n; i++)
				pick[i] = i % 2 ? (unsigned char)all :
				    APPROVAL_PICK_LINES;
			memset(lines, all, total);
			assert_int_equal(hunks_apply_lines(a.data, a.len,
			    b.data, b.len, pick, n, lines, total, &out,
			    &cause), 0);
			if (all) {
				assert_int_equal(out.len, b.len);
				assert_memory_equal(out.data, b.data, b.len);
			} else {
				assert_int_equal(out.len, a.len);
				assert_memory_equal(out.data, a.data, a.len);
			}
		}
		free(pick);
		free(lines);
		hunks_free(&hs);
	}
	buf_free(&a);
	buf_free(&b);
	buf_free(&out);
}

/* ---- scopes, conflicts, hostile input ---- */

static void
test_turn_scope(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	struct turn_range	 range;
	const char		*w1[21] = { 0 }, *w2[21] = { 0 };
	char			*a = twenty(20, NULL), *b1, *b2, *cause = NULL;
	const struct review_line *l;
	uint32_t		 n1, n2, one;
	size_t			 g;

	w1[2] = "TWO\n";
	b1 = twenty(20, w1);
	w2[2] = "TWO\n";
	w2[10] = "TEN\n";
	b2 = twenty(20, w2);
	put(f->tree, "f.txt", a);
	put(f->tree, "g.txt", "g\n");
	put(f->upper, "f.txt", b1);
	put(f->upper, "g.txt", "g changed\n");
	checkpoint(f, &n1);
	put(f->upper, "f.txt", b2);
	put(f->upper, "g.txt", "g\n");
	checkpoint(f, &n2);

	memset(&range, 0, sizeof range);
	range.set = 1;
	range.from = n1;
	range.to = n2;
	load(f, &r, &range);
	assert_int_equal(r.n, 2);
	diff_of(&r, find(&r, "f.txt"), NULL, &d);
	/* the turn's change only, named by the total's numbers */
	assert_null(line_find(&d, REVIEW_LINE_ADD, "TWO"));
	assert_int_equal(d.nhunks, 2);
	assert_int_equal(d.nchanges, 4);
	l = line_find(&d, REVIEW_LINE_ADD, "TEN");
	assert_non_null(l);
	assert_int_equal(l->new_no, 10);
	assert_int_equal(l->hunk, 2);
	assert_int_equal(l->change, 3);
	/* its deletion is of checkpoint n1's file, not the real one: in the
	 * total's patch too here, but from another old side */
	l = line_find(&d, REVIEW_LINE_DEL, "line 10");
	assert_non_null(l);
	assert_int_equal(l->hunk, 0);
	assert_int_equal(l->change, REVIEW_NO_LINE);
	assert_int_equal(d.v[0].type, REVIEW_LINE_HUNK);
	assert_int_equal(d.v[0].hunk, 2);
	l = line_find(&d, REVIEW_LINE_CONTEXT, "line 9");
	assert_int_equal(l->hunk, 2);
	one = 3;
	assert_int_equal(review_approve_lines(&r, find(&r, "f.txt"), &one, 1,
	    1, &cause), 0);
	assert_int_equal(review_file_state(&r, find(&r, "f.txt"), &cause), 0);
	assert_int_equal(r.v[find(&r, "f.txt")].approval, APPROVAL_PARTIAL);
	assert_int_equal(r.v[find(&r, "f.txt")].nhunks, 2);
	review_diff_free(&d);

	/* g.txt changed in the turn, but has no total change now */
	g = find(&r, "g.txt");
	assert_int_equal(review_file_state(&r, g, &cause), 0);
	assert_int_equal(r.v[g].approval, APPROVAL_NONE);
	assert_int_equal(r.v[g].nhunks, 0);
	diff_of(&r, g, NULL, &d);
	assert_true(d.whole_only);
	assert_int_equal(d.nhunks, 0);
	l = line_find(&d, REVIEW_LINE_ADD, "g");
	assert_non_null(l);
	assert_int_equal(l->change, REVIEW_NO_LINE);
	assert_int_equal(l->hunk, 0);
	assert_int_equal(review_approve_file(&r, g, 1, &cause), -1);
	assert_non_null(strstr(cause, "no change there"));
	free(cause);
	cause = NULL;
	one = 0;
	assert_int_equal(review_approve_lines(&r, g, &one, 1, 1, &cause), -1);
	free(cause);
	review_diff_free(&d);
	review_free(&r);
	free(a);
	free(b1);
	free(b2);
}

static void
test_conflict(void **state)
{
	struct fx	*f = *state;
	struct review	 r;
	struct buf	 base = BUF_INIT, ours = BUF_INIT, theirs = BUF_INIT;
	struct buf	 merged = BUF_INIT;
	const char	*w[21] = { 0 };
	char		*a = twenty(20, NULL), *real, *scratch, *g2, *gr;
	char		*cause = NULL;
	uint32_t	 n;
	size_t		 i;

	put(f->tree, "f.txt", a);
	put(f->tree, "g.txt", a);
	w[1] = "ONE\n";
	scratch = twenty(20, w);
	put(f->upper, "f.txt", scratch);
	w[1] = NULL;
	w[20] = "TWENTY\n";
	g2 = twenty(20, w);
	put(f->upper, "g.txt", g2);
	checkpoint(f, &n);     /* the bases: the real files now */
	w[20] = NULL;
	w[1] = "uno\n";
	real = twenty(20, w);
	put(f->tree, "f.txt", real);
	put(f->tree, "g.txt", real);

	load(f, &r, NULL);
	i = find(&r, "f.txt");
	assert_int_equal(review_file_state(&r, i, &cause), 0);
	assert_true(r.v[i].marks & REVIEW_CONFLICT);
	assert_int_equal(review_conflict(&r, i, &base, &ours, &theirs, &merged,
	    &cause), 1);
	assert_int_equal(base.len, strlen(a));
	assert_memory_equal(base.data, a, base.len);
	assert_memory_equal(ours.data, real, ours.len);
	assert_memory_equal(theirs.data, scratch, theirs.len);
	buf_addch(&merged, '\0');
	assert_non_null(strstr(merged.data, "<<<<<<< f.txt (real tree)\nuno\n"));
	assert_non_null(strstr(merged.data, "||||||| f.txt (base)\nline 1\n"));
	assert_non_null(strstr(merged.data, "=======\nONE\n>>>>>>>"));

	i = find(&r, "g.txt");
	assert_int_equal(review_file_state(&r, i, &cause), 0);
	assert_true(r.v[i].marks & REVIEW_MERGES);
	assert_int_equal(r.v[i].marks & REVIEW_CONFLICT, 0);
	assert_int_equal(review_conflict(&r, i, &base, &ours, &theirs, &merged,
	    &cause), 0);
	w[20] = "TWENTY\n";
	gr = twenty(20, w);
	assert_int_equal(merged.len, strlen(gr));
	assert_memory_equal(merged.data, gr, merged.len);

	/* merge3's existing callers are unchanged: no base in the markers */
	assert_int_equal(merge3(a, strlen(a), real, strlen(real), scratch,
	    strlen(scratch), "f.txt", 0, &merged, &cause), 1);
	buf_addch(&merged, '\0');
	assert_null(strstr(merged.data, "|||||||"));
	review_free(&r);
	buf_free(&base);
	buf_free(&ours);
	buf_free(&theirs);
	buf_free(&merged);
	free(a);
	free(real);
	free(scratch);
	free(g2);
	free(gr);
}

static void
test_hostile(void **state)
{
	struct fx		*f = *state;
	struct review		 r;
	struct review_diff	 d;
	const char		 weird[] = "we\nird\377.txt";
	const char		 gonename[] = "gone\n\377";
	const char		*with[11] = { 0 };
	char			*a = twenty(10, NULL), *b, *cause = NULL, *t;
	uint32_t		 one = 0;
	size_t			 i;
	const struct review_line *l;

	with[3] = "three\n";
	b = twenty(10, with);
	put(f->tree, weird, a);
	put(f->upper, weird, b);
	put(f->tree, gonename, "moved content\nmoved content 2\n");
	gone(f->upper, gonename);
	put(f->upper, "new\tname", "moved content\nmoved content 2\n");
	put(f->upper, "empty", "");
	put(f->tree, "emptied", "x\ny\n");
	put(f->upper, "emptied", "");
	put(f->tree, "noeol", "a\nb");
	put(f->upper, "noeol", "a\nc");
	put(f->tree, "race.txt", a);
	put(f->upper, "race.txt", b);

	load(f, &r, NULL);
	/* a name with a newline and a byte that is not UTF-8 */
	diff_of(&r, find(&r, weird), NULL, &d);
	assert_non_null(line_find(&d, REVIEW_LINE_ADD, "three"));
	review_diff_free(&d);
	i = find(&r, "new\tname");
	assert_true(r.v[i].marks & REVIEW_RENAMED);
	diff_of(&r, i, NULL, &d);
	t = text_of(&d, &d.v[0]);
	assert_string_equal(t, "renamed from \"gone\\n\\377\" (100%)");
	free(t);
	review_diff_free(&d);

	/* empty files */
	diff_of(&r, find(&r, "empty"), NULL, &d);
	assert_int_equal(d.n, 1);
	assert_true(has_note(&d, "new file mode 100644"));
	assert_true(d.whole_only);
	review_diff_free(&d);
	diff_of(&r, find(&r, "emptied"), NULL, &d);
	assert_non_null(line_find(&d, REVIEW_LINE_DEL, "x"));
	assert_null(line_find(&d, REVIEW_LINE_ADD, ""));
	assert_int_equal(d.nchanges, 2);
	review_diff_free(&d);

	/* no newline at the end: markers after the lines, numbered none */
	diff_of(&r, find(&r, "noeol"), NULL, &d);
	l = line_find(&d, REVIEW_LINE_DEL, "b");
	assert_non_null(l);
	assert_int_equal(l[1].type, REVIEW_LINE_NOEOL);
	assert_int_equal(l[1].change, REVIEW_NO_LINE);
	assert_int_equal(l[1].hunk, 1);
	l = line_find(&d, REVIEW_LINE_ADD, "c");
	assert_int_equal(l[1].type, REVIEW_LINE_NOEOL);
	t = text_of(&d, &l[1]);
	assert_string_equal(t, "\\ No newline at end of file");
	free(t);
	/* keep b, add c: b gets its newline in the promotion's content */
	one = l->change;
	assert_int_equal(review_approve_lines(&r, find(&r, "noeol"), &one, 1, 1,
	    &cause), 0);
	review_diff_free(&d);

	/* the file changes between its diff and the approval: refused */
	i = find(&r, "race.txt");
	diff_of(&r, i, NULL, &d);
	put(f->upper, "race.txt", "the agent wrote again\n");
	one = 0;
	assert_int_equal(review_approve_lines(&r, i, &one, 1, 1, &cause), -1);
	assert_string_equal(cause, "the file changed; look again");
	free(cause);
	cause = NULL;
	assert_int_equal(review_approve_file(&r, i, 1, &cause), -1);
	free(cause);
	cause = NULL;
	{
		struct approval	none;

		assert_int_equal(approval_get(f->st, f->s->id, "race.txt", 8,
		    &none, &cause), 1);
	}
	/* once looked at again, it goes */
	review_diff_free(&d);
	diff_of(&r, i, NULL, &d);
	assert_int_equal(review_approve_lines(&r, i, &one, 1, 1, &cause), 0);
	review_diff_free(&d);
	review_free(&r);

	{
		size_t	 len;
		char	*got = promoted(f, "noeol", &len);

		assert_int_equal(len, 5);
		assert_memory_equal(got, "a\nb\nc", 5);
		free(got);
	}
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_renames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renames_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_renames_moved, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_diff_numbers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_diff_steps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_diff_preview_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views_map, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_approval_promotes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test(test_apply_lines),
		cmocka_unit_test(test_apply_lines_property),
		cmocka_unit_test_setup_teardown(test_turn_scope, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
