#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/*
 * hunks_compute against the numbers diff_sides prints, hunks_apply against
 * files built from known pieces (every subset of picks), a property test on
 * random files, and merge3's clean, conflicting and refused cases.
 */

/* A file of three changes: c[0] x[0] c[1] x[1] c[2] x[2] c[3], where x is
 * a (old) or b (new). */
struct three {
	const char	*name;
	char		*c[4];
	char		*a[3];
	char		*b[3];
};

static char *
lines(const char *prefix, size_t n, const char *eol)
{
	struct buf	out = BUF_INIT;
	size_t		i;

	for (i = 0; i < n; i++)
		buf_printf(&out, "%s%zu%s", prefix, i, eol);
	return buf_detach(&out, NULL);
}

static void
three_build(const struct three *t, const unsigned char *pick,
    struct buf *out)
{
	size_t	i;

	buf_reset(out);
	for (i = 0; i < 3; i++) {
		buf_addstr(out, t->c[i]);
		buf_addstr(out, pick[i] ? t->b[i] : t->a[i]);
	}
	buf_addstr(out, t->c[3]);
}

static void
three_free(struct three *t)
{
	size_t	i;

	for (i = 0; i < 4; i++)
		free(t->c[i]);
	for (i = 0; i < 3; i++) {
		free(t->a[i]);
		free(t->b[i]);
	}
}

static void
apply_ok(const char *old, size_t oldlen, const char *new, size_t newlen,
    const unsigned char *pick, size_t npick, struct buf *out)
{
	char	*cause = NULL;

	if (hunks_apply(old, oldlen, new, newlen, pick, npick, out,
	    &cause) != 0)
		fail_msg("hunks_apply: %s", cause);
}

static struct hunks
compute_ok(const char *old, size_t oldlen, const char *new, size_t newlen)
{
	struct hunks	hs;
	char		*cause = NULL;

	if (hunks_compute(old, oldlen, new, newlen, &hs, &cause) != 0)
		fail_msg("hunks_compute: %s", cause);
	return hs;
}

/* Every subset of the three hunks gives the file built from those pieces. */
static void
three_check(struct three *t)
{
	struct buf	 old = BUF_INIT, new = BUF_INIT, want = BUF_INIT;
	struct buf	 got = BUF_INIT;
	struct hunks	 hs;
	unsigned char	 none[3] = { 0, 0, 0 }, all[3] = { 1, 1, 1 }, pick[3];
	unsigned int	 mask;

	three_build(t, none, &old);
	three_build(t, all, &new);
	hs = compute_ok(old.data, old.len, new.data, new.len);
	if (hs.n != 3)
		fail_msg("%s: %zu hunks, not 3", t->name, hs.n);
	assert_false(hs.binary);
	for (mask = 0; mask < 8; mask++) {
		pick[0] = mask & 1;
		pick[1] = (mask >> 1) & 1;
		pick[2] = (mask >> 2) & 1;
		three_build(t, pick, &want);
		apply_ok(old.data, old.len, new.data, new.len, pick, 3, &got);
		if (got.len != want.len ||
		    memcmp(got.data, want.data, got.len) != 0)
			fail_msg("%s: picks %u%u%u:\ngot  [%s]\nwant [%s]",
			    t->name, pick[0], pick[1], pick[2], got.data,
			    want.data);
	}
	hunks_free(&hs);
	buf_free(&old);
	buf_free(&new);
	buf_free(&want);
	buf_free(&got);
	three_free(t);
}

/* Common runs of n lines, changes of one line. */
static void
three_plain(struct three *t, const char *name, const char *eol, size_t n)
{
	char	a[32], b[32];
	size_t	i;

	memset(t, 0, sizeof *t);
	t->name = name;
	t->c[0] = lines("head", 5, eol);
	t->c[1] = lines("mid", n, eol);
	t->c[2] = lines("body", n, eol);
	t->c[3] = lines("tail", 5, eol);
	for (i = 0; i < 3; i++) {
		snprintf(a, sizeof a, "old%zu%s", i, eol);
		snprintf(b, sizeof b, "new%zu%s", i, eol);
		t->a[i] = xstrdup(a);
		t->b[i] = xstrdup(b);
	}
}

static void
set(char **slot, const char *s)
{
	free(*slot);
	*slot = xstrdup(s);
}

static void
test_apply_three(void **state)
{
	struct three	t;

	three_plain(&t, "lf", "\n", 8);
	three_check(&t);
	three_plain(&t, "crlf", "\r\n", 8);
	three_check(&t);

	/* Hunks 7 lines apart stay two (context 3, interhunk 0); 6 apart
	 * they are one. */
	three_plain(&t, "adjacent", "\n", 7);
	three_check(&t);
	{
		const char	*o = "x\n1\n2\n3\n4\n5\n6\ny\n";
		const char	*n = "X\n1\n2\n3\n4\n5\n6\nY\n";
		struct hunks	 hs = compute_ok(o, strlen(o), n, strlen(n));

		assert_int_equal(hs.n, 1);
		hunks_free(&hs);
	}

	/* Additions at the very start and the very end. */
	three_plain(&t, "edges", "\n", 8);
	set(&t.c[0], "");
	set(&t.a[0], "");
	set(&t.b[0], "first\nsecond\n");
	set(&t.c[3], "");
	set(&t.a[2], "");
	set(&t.b[2], "last\n");
	three_check(&t);

	/* Deletions, including the whole start and end. */
	three_plain(&t, "deletions", "\n", 8);
	set(&t.c[0], "");
	set(&t.b[0], "");
	set(&t.a[1], "gone1\ngone2\ngone3\n");
	set(&t.b[1], "");
	set(&t.c[3], "");
	set(&t.b[2], "");
	three_check(&t);

	/* No newline at the end of old, of new, of both. */
	three_plain(&t, "nonl old", "\n", 8);
	set(&t.c[3], "");
	set(&t.a[2], "end old");
	set(&t.b[2], "end new\n");
	three_check(&t);
	three_plain(&t, "nonl new", "\n", 8);
	set(&t.c[3], "");
	set(&t.a[2], "end old\n");
	set(&t.b[2], "end new");
	three_check(&t);
	three_plain(&t, "nonl both", "\r\n", 8);
	set(&t.c[3], "");
	set(&t.a[2], "end old");
	set(&t.b[2], "end new");
	three_check(&t);
	three_plain(&t, "nonl only", "\n", 8);
	set(&t.c[3], "");
	set(&t.a[2], "same");
	set(&t.b[2], "same\n");
	three_check(&t);

	/* The last line is context without a newline. */
	three_plain(&t, "nonl context", "\n", 8);
	set(&t.c[3], "t1\nt2\nt3\nt4");
	three_check(&t);

	/* Line endings change: each line keeps its side's. */
	three_plain(&t, "mixed", "\n", 8);
	set(&t.b[0], "new0\r\n");
	set(&t.a[1], "old1\r\n");
	set(&t.b[1], "new1\r\nmore\n");
	three_check(&t);
}

static void
test_apply_empty(void **state)
{
	struct buf	 out = BUF_INIT;
	struct hunks	 hs;
	unsigned char	 yes = 1, no = 0;

	hs = compute_ok(NULL, 0, "a\nb\n", 4);
	assert_int_equal(hs.n, 1);
	assert_int_equal(hs.v[0].old_start, 0);
	assert_int_equal(hs.v[0].old_lines, 0);
	assert_int_equal(hs.v[0].new_start, 1);
	assert_int_equal(hs.v[0].new_lines, 2);
	assert_int_equal(hs.v[0].added, 2);
	assert_int_equal(hs.v[0].deleted, 0);
	hunks_free(&hs);
	apply_ok(NULL, 0, "a\nb\n", 4, &yes, 1, &out);
	assert_string_equal(out.data, "a\nb\n");
	apply_ok(NULL, 0, "a\nb\n", 4, &no, 1, &out);
	assert_int_equal(out.len, 0);
	apply_ok("", 0, "a", 1, &yes, 1, &out);
	assert_string_equal(out.data, "a");

	hs = compute_ok("x\ny", 3, NULL, 0);
	assert_int_equal(hs.n, 1);
	assert_int_equal(hs.v[0].deleted, 2);
	assert_int_equal(hs.v[0].new_lines, 0);
	hunks_free(&hs);
	apply_ok("x\ny", 3, NULL, 0, &yes, 1, &out);
	assert_int_equal(out.len, 0);
	apply_ok("x\ny", 3, "", 0, &no, 1, &out);
	assert_string_equal(out.data, "x\ny");

	/* No change: no hunks, and the file as it is. */
	hs = compute_ok("same\n", 5, "same\n", 5);
	assert_int_equal(hs.n, 0);
	hunks_free(&hs);
	apply_ok("same\n", 5, "same\n", 5, NULL, 0, &out);
	assert_string_equal(out.data, "same\n");
	hs = compute_ok(NULL, 0, NULL, 0);
	assert_int_equal(hs.n, 0);
	hunks_free(&hs);
	buf_free(&out);
}

static void
test_apply_errors(void **state)
{
	struct buf	 out = BUF_INIT;
	struct hunks	 hs;
	unsigned char	 pick[2] = { 1, 1 };
	char		*cause = NULL;

	assert_int_equal(hunks_apply("a\n", 2, "b\n", 2, pick, 2, &out,
	    &cause), -1);
	assert_string_equal(cause, "2 hunks picked of 1");
	free(cause);
	cause = NULL;
	assert_int_equal(hunks_apply("a\n", 2, "b\n", 2, pick, 0, &out,
	    &cause), -1);
	free(cause);
	cause = NULL;

	/* Binary as diff.c decides: a NUL in the first 8000 bytes. */
	assert_int_equal(hunks_compute("a\0b", 3, "a\n", 2, &hs, &cause), 0);
	assert_true(hs.binary);
	assert_int_equal(hs.n, 0);
	hunks_free(&hs);
	assert_int_equal(hunks_apply("a\n", 2, "a\0b", 3, pick, 1, &out,
	    &cause), -1);
	assert_string_equal(cause, "cannot pick hunks of a binary file");
	free(cause);
	cause = NULL;
	{
		char	*late = xcalloc(1, 8002);

		memset(late, 'x', 8001);
		late[8000] = '\0';  /* past the probe: text */
		late[8001] = '\n';
		hs = compute_ok(late, 8002, "x\n", 2);
		assert_false(hs.binary);
		hunks_free(&hs);
		late[7999] = '\0';
		hs = compute_ok(late, 8002, "x\n", 2);
		assert_true(hs.binary);
		hunks_free(&hs);
		free(late);
	}
	buf_free(&out);
}

/* hunks_compute(old, new) agrees with the "@@" lines diff_sides prints. */
static void
check_numbers(const char *old, size_t oldlen, const char *new,
    size_t newlen)
{
	struct diff_side	 a, b;
	struct buf		 out = BUF_INIT;
	struct hunks		 hs;
	const char		*p;
	char			*cause = NULL;
	size_t			 n = 0, os, ol, ns, nl, num;
	int			 len;

	memset(&a, 0, sizeof a);
	a.type = ENTRY_FILE;
	a.mode = S_IFREG | 0644;
	b = a;
	a.data = old;
	a.len = oldlen;
	b.data = new;
	b.len = newlen;
	if (diff_sides(&out, "f", 1, &a, &b, NULL, &cause) == -1)
		fail_msg("diff_sides: %s", cause);
	hs = compute_ok(old, oldlen, new, newlen);
	for (p = out.data; (p = strstr(p, "\n@@ -")) != NULL; p++) {
		ol = nl = 1;
		if (sscanf(p + 5, "%zu,%zu +%n", &os, &ol, &len) == 2 ||
		    (ol = 1, sscanf(p + 5, "%zu +%n", &os, &len) == 1))
			p += 5 + len;
		else
			fail_msg("bad header %.40s", p);
		if (sscanf(p, "%zu,%zu @@ hunk %zu", &ns, &nl, &num) != 3 &&
		    (nl = 1, sscanf(p, "%zu @@ hunk %zu", &ns, &num) != 2))
			fail_msg("bad header %.40s", p);
		assert_true(n < hs.n);
		assert_int_equal(num, n + 1);
		assert_int_equal(hs.v[n].old_start, os);
		assert_int_equal(hs.v[n].old_lines, ol);
		assert_int_equal(hs.v[n].new_start, ns);
		assert_int_equal(hs.v[n].new_lines, nl);
		n++;
	}
	assert_int_equal(n, hs.n);
	hunks_free(&hs);
	buf_free(&out);
}

static void
test_compute_numbers(void **state)
{
	struct hunks	hs;
	const char	*old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n";
	const char	*new = "1\n2x\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n"
	    "14\n";

	hs = compute_ok(old, strlen(old), new, strlen(new));
	assert_int_equal(hs.n, 2);
	assert_int_equal(hs.v[0].old_start, 1);
	assert_int_equal(hs.v[0].old_lines, 5);
	assert_int_equal(hs.v[0].added, 1);
	assert_int_equal(hs.v[0].deleted, 1);
	assert_int_equal(hs.v[1].old_start, 11);
	assert_int_equal(hs.v[1].old_lines, 3);
	assert_int_equal(hs.v[1].new_lines, 4);
	assert_int_equal(hs.v[1].added, 1);
	assert_int_equal(hs.v[1].deleted, 0);
	hunks_free(&hs);
	check_numbers(old, strlen(old), new, strlen(new));
}

/* 20000 lines, 2000 hunks: every third picked. */
static void
test_apply_large(void **state)
{
	struct buf	 old = BUF_INIT, new = BUF_INIT, want = BUF_INIT;
	struct buf	 got = BUF_INIT;
	struct hunks	 hs;
	unsigned char	*pick;
	size_t		 i, j, nseg = 2000;

	pick = xcalloc(nseg, 1);
	for (i = 0; i < nseg; i++) {
		pick[i] = i % 3 == 0;
		for (j = 0; j < 9; j++) {
			buf_printf(&old, "s%zu l%zu\n", i, j);
			buf_printf(&new, "s%zu l%zu\n", i, j);
			buf_printf(&want, "s%zu l%zu\n", i, j);
		}
		buf_printf(&old, "old %zu\n", i);
		buf_printf(&new, "new %zu\n", i);
		buf_printf(&want, "%s %zu\n", pick[i] ? "new" : "old", i);
	}
	hs = compute_ok(old.data, old.len, new.data, new.len);
	assert_int_equal(hs.n, nseg);
	hunks_free(&hs);
	apply_ok(old.data, old.len, new.data, new.len, pick, nseg, &got);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	free(pick);
	buf_free(&old);
	buf_free(&new);
	buf_free(&want);
	buf_free(&got);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* A line of a small alphabet (many equal lines, so diffs may align in
 * more than one way), or one never seen before. */
static void
random_line(struct buf *out, int unique)
{
	static uint32_t	 fresh;
	const char	*eol = rng(4) == 0 ? "\r\n" : "\n";

	if (unique)
		buf_printf(out, "line %u%s", fresh++, eol);
	else
		buf_printf(out, "%c%s", 'a' + rng(8), eol);
}

/* A small random file, and a random edit of it. */
static void
random_pair(struct buf *old, struct buf *new, int unique)
{
	size_t	i, end, n = rng(60);

	buf_reset(old);
	buf_reset(new);
	for (i = 0; i < n; i++)
		random_line(old, unique);
	if (old->len != 0 && rng(4) == 0)
		old->data[--old->len] = '\0';  /* no newline at the end */
	for (i = 0; i < old->len; i = end) {
		end = i;
		while (end < old->len && old->data[end] != '\n')
			end++;
		if (end < old->len)
			end++;
		switch (rng(8)) {
		case 0:  /* delete */
			break;
		case 1:  /* replace */
			random_line(new, unique);
			break;
		case 2:  /* insert before */
			random_line(new, unique);
			buf_add(new, old->data + i, end - i);
			break;
		default:
			buf_add(new, old->data + i, end - i);
			break;
		}
	}
	while (rng(3) == 0)
		random_line(new, unique);
	if (new->len != 0 && rng(4) == 0 && new->data[new->len - 1] == '\n')
		new->data[--new->len] = '\0';
}

static void
random_fail(size_t iter, struct buf *old, struct buf *new, struct buf *got,
    const unsigned char *pick, size_t n, const char *what)
{
	size_t	i;

	print_message("iteration %zu\nold [%s]\nnew [%s]\ngot [%s]\npicks:",
	    iter, old->data, new->data, got->data);
	for (i = 0; i < n; i++)
		print_message(" %u", pick[i]);
	print_message("\n");
	fail_msg("%s", what);
}

/* 1 when the hunks hs whose pick is want have the line counts of rest. */
static int
same_counts(const struct hunks *hs, const unsigned char *pick, int want,
    const struct hunks *rest)
{
	size_t	i, k = 0;

	for (i = 0; i < hs->n; i++) {
		if (pick[i] != want)
			continue;
		if (k >= rest->n || rest->v[k].added != hs->v[i].added ||
		    rest->v[k].deleted != hs->v[i].deleted)
			return 0;
		k++;
	}
	return k == rest->n;
}

static void
totals(const struct hunks *hs, const unsigned char *pick, int want,
    size_t *added, size_t *deleted)
{
	size_t	i;

	*added = *deleted = 0;
	for (i = 0; i < hs->n; i++) {
		if (pick == NULL || pick[i] == want) {
			*added += hs->v[i].added;
			*deleted += hs->v[i].deleted;
		}
	}
}

/*
 * Applying a subset leaves exactly the other hunks to do. With lines that
 * are all different the diff has one alignment, and the hunks of result ->
 * new have the line counts of the unpicked ones, in order (old -> result:
 * the picked ones). With many equal lines the diff of result -> new may
 * align differently (one unpicked hunk can come back as two), so only the
 * totals must agree: a minimal diff cannot do better than the hunks left.
 */
static void
random_check(size_t iter, int unique, size_t *multi)
{
	struct buf	 old = BUF_INIT, new = BUF_INIT, got = BUF_INIT;
	struct hunks	 hs, rest, done;
	unsigned char	*pick;
	size_t		 i, a1, d1, a2, d2;

	random_pair(&old, &new, unique);
	hs = compute_ok(old.data, old.len, new.data, new.len);
	*multi += hs.n >= 2;
	pick = xcalloc(hs.n, 1);
	for (i = 0; i < hs.n; i++)
		pick[i] = rng(2);
	apply_ok(old.data, old.len, new.data, new.len, pick, hs.n, &got);
	rest = compute_ok(got.data, got.len, new.data, new.len);
	done = compute_ok(old.data, old.len, got.data, got.len);
	if (unique && !same_counts(&hs, pick, 0, &rest))
		random_fail(iter, &old, &new, &got, pick, hs.n,
		    "result -> new is not the unpicked hunks");
	if (unique && !same_counts(&hs, pick, 1, &done))
		random_fail(iter, &old, &new, &got, pick, hs.n,
		    "old -> result is not the picked hunks");
	totals(&hs, pick, 0, &a1, &d1);
	totals(&rest, NULL, 0, &a2, &d2);
	if (a1 != a2 || d1 != d2)
		random_fail(iter, &old, &new, &got, pick, hs.n,
		    "result -> new does not total the unpicked hunks");

	memset(pick, 1, hs.n);
	apply_ok(old.data, old.len, new.data, new.len, pick, hs.n, &got);
	if (got.len != new.len || memcmp(got.data, new.data, got.len) != 0)
		random_fail(iter, &old, &new, &got, pick, hs.n, "all != new");
	memset(pick, 0, hs.n);
	apply_ok(old.data, old.len, new.data, new.len, pick, hs.n, &got);
	if (got.len != old.len || memcmp(got.data, old.data, got.len) != 0)
		random_fail(iter, &old, &new, &got, pick, hs.n, "none != old");
	if (iter % 50 == 0)
		check_numbers(old.data, old.len, new.data, new.len);

	free(pick);
	hunks_free(&hs);
	hunks_free(&rest);
	hunks_free(&done);
	buf_free(&old);
	buf_free(&new);
	buf_free(&got);
}

static void
test_apply_property(void **state)
{
	size_t	iter, multi = 0;

	for (iter = 0; iter < 10000; iter++)
		random_check(iter, 1, &multi);
	for (iter = 0; iter < 10000; iter++)
		random_check(iter, 0, &multi);
	assert_true(multi > 6000);  /* many partial picks were tried */
}

static int
merge_ok(const char *base, const char *ours, const char *theirs,
    const char *path, int favor, struct buf *out)
{
	char	*cause = NULL;
	int	 r;

	r = merge3(base, base != NULL ? strlen(base) : 0, ours, strlen(ours),
	    theirs, strlen(theirs), path, favor, out, &cause);
	if (r == -1)
		fail_msg("merge3: %s", cause);
	return r;
}

static void
test_merge_clean(void **state)
{
	struct buf	out = BUF_INIT;

	buf_addstr(&out, "stale");
	assert_int_equal(merge_ok("1\n2\n3\n4\n5\n6\n7\n8\n",
	    "1\nours\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\n5\n6\ntheirs\n8\n",
	    "f", 0, &out), 0);
	assert_string_equal(out.data, "1\nours\n3\n4\n5\n6\ntheirs\n8\n");
	/* The same change on both sides is no conflict. */
	assert_int_equal(merge_ok("a\nb\n", "a\nB\n", "a\nB\n", "f", 0, &out),
	    0);
	assert_string_equal(out.data, "a\nB\n");
	/* Keeps CRLF and a missing last newline. */
	assert_int_equal(merge_ok("1\r\n2\r\n3\r\n4\r\n5\r\n6",
	    "one\r\n2\r\n3\r\n4\r\n5\r\n6", "1\r\n2\r\n3\r\n4\r\n5\r\nsix",
	    "f", 0, &out), 0);
	assert_string_equal(out.data, "one\r\n2\r\n3\r\n4\r\n5\r\nsix");
	buf_free(&out);
}

static void
test_merge_conflict(void **state)
{
	struct buf	 out = BUF_INIT;
	const char	*base = "1\n2\n3\n", *ours = "1\nours\n3\n";
	const char	*theirs = "1\ntheirs\n3\n";

	assert_int_equal(merge_ok(base, ours, theirs, "dir/f.txt", 0, &out),
	    1);
	assert_string_equal(out.data,
	    "1\n"
	    "<<<<<<< dir/f.txt (real tree)\n"
	    "ours\n"
	    "=======\n"
	    "theirs\n"
	    ">>>>>>> dir/f.txt (scratch)\n"
	    "3\n");
	assert_int_equal(merge_ok(base, ours, theirs, "f", 1, &out), 0);
	assert_string_equal(out.data, ours);
	assert_int_equal(merge_ok(base, ours, theirs, "f", 2, &out), 0);
	assert_string_equal(out.data, theirs);

	/* A path that would break the marker line is quoted. */
	assert_int_equal(merge_ok(base, ours, theirs, "a\nb", 0, &out), 1);
	assert_non_null(strstr(out.data, "<<<<<<< \"a\\nb\" (real tree)\n"));
	buf_free(&out);
}

static void
test_merge_no_base(void **state)
{
	struct buf	out = BUF_INIT;

	/* Both sides added the same file. */
	assert_int_equal(merge_ok(NULL, "same\n", "same\n", "f", 0, &out), 0);
	assert_string_equal(out.data, "same\n");
	/* Both added different files. */
	assert_int_equal(merge_ok(NULL, "ours\n", "theirs\n", "new.c", 0,
	    &out), 1);
	assert_string_equal(out.data,
	    "<<<<<<< new.c (real tree)\n"
	    "ours\n"
	    "=======\n"
	    "theirs\n"
	    ">>>>>>> new.c (scratch)\n");
	assert_int_equal(merge_ok(NULL, "ours\n", "theirs\n", "new.c", 2,
	    &out), 0);
	assert_string_equal(out.data, "theirs\n");
	/* An empty base is a base. */
	assert_int_equal(merge_ok("", "", "added\n", "f", 0, &out), 0);
	assert_string_equal(out.data, "added\n");
	buf_free(&out);
}

static void
test_merge_binary(void **state)
{
	struct buf	 out = BUF_INIT;
	char		*cause = NULL;

	assert_int_equal(merge3("a\n", 2, "a\0b", 3, "c\n", 2, "f", 0, &out,
	    &cause), -1);
	assert_string_equal(cause, "cannot merge a binary file");
	free(cause);
	cause = NULL;
	assert_int_equal(merge3("\0", 1, "a\n", 2, "c\n", 2, "f", 2, &out,
	    &cause), -1);
	assert_string_equal(cause, "cannot merge a binary file");
	free(cause);
	cause = NULL;
	assert_int_equal(merge3(NULL, 0, "a\n", 2, "c\0", 2, "f", 1, &out,
	    &cause), -1);
	free(cause);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute_numbers),
		cmocka_unit_test(test_apply_three),
		cmocka_unit_test(test_apply_empty),
		cmocka_unit_test(test_apply_errors),
		cmocka_unit_test(test_apply_large),
		cmocka_unit_test(test_apply_property),
		cmocka_unit_test(test_merge_clean),
		cmocka_unit_test(test_merge_conflict),
		cmocka_unit_test(test_merge_no_base),
		cmocka_unit_test(test_merge_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
