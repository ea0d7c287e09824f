#include "config.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/*
 * Hunks, partial application and three-way merges through libgit2. The
 * patches come from diff_patch, so hunk i here is hunk i in `airlock diff`.
 * A patch line holds its line ending, and a last line without a newline is
 * stored without one (the "\ No newline" marker is a line of its own), so
 * the picked file is rebuilt from the patch lines byte for byte.
 */

/*
 * The file being rebuilt. A line without its newline can only end a side;
 * picking lines one by one may put another line after it (an old last
 * line kept, a new one added): then it gets a newline first.
 */
struct hunk_out {
	struct buf	*buf;
	int		 open;     /* what was written last has no newline */
};

static void
hunk_put(struct hunk_out *o, const char *p, size_t len)
{
	if (len == 0)
		return;
	if (o->open)
		buf_addch(o->buf, '\n');
	buf_add(o->buf, p, len);
	o->open = p[len - 1] != '\n';
}

/* Skips n lines of buf from *off, copying them to out when out is set. */
static void
hunk_lines(const char *buf, size_t len, size_t *off, size_t n,
    struct hunk_out *out)
{
	const char	*nl;
	size_t		 start = *off;

	while (n-- > 0 && *off < len) {
		nl = memchr(buf + *off, '\n', len - *off);
		*off = nl != NULL ? (size_t)(nl - buf) + 1 : len;
	}
	if (out != NULL && *off > start)
		hunk_put(out, buf + start, *off - start);
}

/* The patch of a text change; -1 with *cause when a side is binary. */
static int
hunk_patch(git_patch **patch, const char *old, size_t oldlen,
    const char *new, size_t newlen, char **cause)
{
	if (diff_is_binary(old, oldlen) || diff_is_binary(new, newlen)) {
		*cause = xstrdup("cannot pick hunks of a binary file");
		return -1;
	}
	return diff_patch(patch, old, oldlen, new, newlen, cause);
}

int
hunks_compute(const char *old, size_t oldlen, const char *new,
    size_t newlen, struct hunks *hs, char **cause)
{
	git_patch		*patch;
	const git_diff_hunk	*gh;
	const git_diff_line	*line;
	struct hunk		*h;
	size_t			 i, j, nlines;

	memset(hs, 0, sizeof *hs);
	if (diff_is_binary(old, oldlen) || diff_is_binary(new, newlen)) {
		hs->binary = 1;
		return 0;
	}
	if (diff_patch(&patch, old, oldlen, new, newlen, cause) != 0)
		return -1;
	hs->n = diff_git.git_patch_num_hunks(patch);
	hs->v = xcalloc(hs->n, sizeof *hs->v);
	for (i = 0; i < hs->n; i++) {
		if (diff_git.git_patch_get_hunk(&gh, &nlines, patch, i) != 0)
			fatalx("libgit2 lost hunk %zu", i);
		h = &hs->v[i];
		h->old_start = (size_t)gh->old_start;
		h->old_lines = (size_t)gh->old_lines;
		h->new_start = (size_t)gh->new_start;
		h->new_lines = (size_t)gh->new_lines;
		for (j = 0; j < nlines; j++) {
			if (diff_git.git_patch_get_line_in_hunk(&line, patch,
			    i, j) != 0)
				fatalx("libgit2 lost line %zu", j);
			if (line->origin == GIT_DIFF_LINE_ADDITION)
				h->added++;
			else if (line->origin == GIT_DIFF_LINE_DELETION)
				h->deleted++;
		}
	}
	diff_git.git_patch_free(patch);
	return 0;
}

void
hunks_free(struct hunks *hs)
{
	free(hs->v);
	memset(hs, 0, sizeof *hs);
}

/*
 * One hunk's lines: the new side when picked, the old side when not, and
 * with APPROVAL_PICK_LINES line by line as lines[*k...] says (*k counts
 * the change's added and deleted lines, picked or not).
 */
static void
hunk_emit(git_patch *patch, size_t i, size_t nlines, int pick,
    const unsigned char *lines, size_t *k, struct hunk_out *out)
{
	const git_diff_line	*line;
	size_t			 j;
	int			 take;

	for (j = 0; j < nlines; j++) {
		if (diff_git.git_patch_get_line_in_hunk(&line, patch, i,
		    j) != 0)
			fatalx("libgit2 lost line %zu", j);
		switch (line->origin) {
		case GIT_DIFF_LINE_CONTEXT:
			break;
		case GIT_DIFF_LINE_ADDITION:
		case GIT_DIFF_LINE_DELETION:
			take = pick == APPROVAL_PICK_LINES ? lines[*k] != 0 :
			    pick != 0;
			(*k)++;
			if (take != (line->origin == GIT_DIFF_LINE_ADDITION))
				continue;
			break;
		default:  /* "\ No newline": the line before lacks its \n */
			continue;
		}
		hunk_put(out, line->content, line->content_len);
	}
}

/* The number of added and deleted lines of a patch. */
static size_t
hunk_count_lines(git_patch *patch)
{
	const git_diff_hunk	*gh;
	const git_diff_line	*line;
	size_t			 i, j, n, nlines, count = 0;

	n = diff_git.git_patch_num_hunks(patch);
	for (i = 0; i < n; i++) {
		if (diff_git.git_patch_get_hunk(&gh, &nlines, patch, i) != 0)
			fatalx("libgit2 lost hunk %zu", i);
		for (j = 0; j < nlines; j++) {
			if (diff_git.git_patch_get_line_in_hunk(&line, patch,
			    i, j) != 0)
				fatalx("libgit2 lost line %zu", j);
			count += line->origin == GIT_DIFF_LINE_ADDITION ||
			    line->origin == GIT_DIFF_LINE_DELETION;
		}
	}
	return count;
}

int
hunks_apply(const char *old, size_t oldlen, const char *new,
    size_t newlen, const unsigned char *pick, size_t npick, struct buf *out,
    char **cause)
{
	return hunks_apply_lines(old, oldlen, new, newlen, pick, npick, NULL, 0,
	    out, cause);
}

int
hunks_apply_lines(const char *old, size_t oldlen, const char *new,
    size_t newlen, const unsigned char *pick, size_t npick,
    const unsigned char *lines, size_t nlines, struct buf *out, char **cause)
{
	git_patch		*patch;
	const git_diff_hunk	*gh;
	struct hunk_out		 o = { out, 0 };
	size_t			 i, n, nl, first, line = 1, off = 0, k = 0;
	int			 some = 0;

	buf_reset(out);
	if (hunk_patch(&patch, old, oldlen, new, newlen, cause) != 0)
		return -1;
	n = diff_git.git_patch_num_hunks(patch);
	if (npick != n) {
		*cause = xasprintf("%zu hunks picked of %zu", npick, n);
		diff_git.git_patch_free(patch);
		return -1;
	}
	for (i = 0; i < n; i++)
		some |= pick[i] == APPROVAL_PICK_LINES;
	if (some && (lines == NULL || nlines != hunk_count_lines(patch))) {
		*cause = xasprintf("%zu lines picked of %zu", nlines,
		    hunk_count_lines(patch));
		diff_git.git_patch_free(patch);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (diff_git.git_patch_get_hunk(&gh, &nl, patch, i) != 0)
			fatalx("libgit2 lost hunk %zu", i);
		/* "-3,0" inserts after line 3; "-3,2" replaces from line 3. */
		first = (size_t)gh->old_start + (gh->old_lines == 0);
		hunk_lines(old, oldlen, &off, first - line, &o);
		hunk_emit(patch, i, nl, pick[i], lines, &k, &o);
		hunk_lines(old, oldlen, &off, (size_t)gh->old_lines, NULL);
		line = first + (size_t)gh->old_lines;
	}
	if (off < oldlen)
		hunk_put(&o, old + off, oldlen - off);
	diff_git.git_patch_free(patch);
	return 0;
}

/* "PATH (SIDE)", quoted so that no byte of the path breaks a marker line. */
static char *
hunk_label(const char *path, const char *side)
{
	struct buf	label = BUF_INIT;

	quote_path(&label, path, strlen(path), 0);
	buf_printf(&label, " (%s)", side);
	return buf_detach(&label, NULL);
}

static void
hunk_input(git_merge_file_input *in, const char *data, size_t len)
{
	diff_git.git_merge_file_input_init(in, GIT_MERGE_FILE_INPUT_VERSION);
	in->ptr = data != NULL ? data : "";
	in->size = len;
}

int
merge3(const char *base, size_t baselen, const char *ours,
    size_t ourslen, const char *theirs, size_t theirslen, const char *path,
    int favor, struct buf *out, char **cause)
{
	git_merge_file_input	 in[3];
	git_merge_file_options	 opts;
	git_merge_file_result	 result;
	const git_error		*e;
	char			*label[3];
	int			 r = -1, i;

	buf_reset(out);
	if (diff_is_binary(base, baselen) || diff_is_binary(ours, ourslen) ||
	    diff_is_binary(theirs, theirslen)) {
		*cause = xstrdup("cannot merge a binary file");
		return -1;
	}
	if (diff_init(cause) != 0)
		return -1;
	hunk_input(&in[0], base, baselen);
	hunk_input(&in[1], ours, ourslen);
	hunk_input(&in[2], theirs, theirslen);
	diff_git.git_merge_file_options_init(&opts,
	    GIT_MERGE_FILE_OPTIONS_VERSION);
	opts.ancestor_label = label[0] = hunk_label(path, "base");
	opts.our_label = label[1] = hunk_label(path, "real tree");
	opts.their_label = label[2] = hunk_label(path, "scratch");
	if ((favor & ~MERGE3_DIFF3) == 1)
		opts.favor = GIT_MERGE_FILE_FAVOR_OURS;
	else if ((favor & ~MERGE3_DIFF3) == 2)
		opts.favor = GIT_MERGE_FILE_FAVOR_THEIRS;
	if (favor & MERGE3_DIFF3)
		opts.flags |= GIT_MERGE_FILE_STYLE_DIFF3;
	memset(&result, 0, sizeof result);
	/* No base: both sides added the file. */
	if (diff_git.git_merge_file(&result, base != NULL ? &in[0] : NULL,
	    &in[1], &in[2], &opts) != 0) {
		e = diff_git.git_error_last();
		*cause = xasprintf("cannot merge: %s",
		    e != NULL ? e->message : "unknown error");
		goto out;
	}
	if (result.len != 0)
		buf_add(out, result.ptr, result.len);
	r = result.automergeable ? 0 : 1;
	diff_git.git_merge_file_result_free(&result);
out:
	for (i = 0; i < 3; i++)
		free(label[i]);
	return r;
}
