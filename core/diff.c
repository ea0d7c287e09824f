#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/hashsig.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * Diffs in git's unified format. libgit2 computes the hunks; the header
 * ("diff --git", mode lines, index line) is written here so that it is
 * exactly git's and `airlock diff | git apply` works. hunk.c is the only
 * other file that includes <git2.h>; it takes its patches from diff_patch
 * so that its hunk numbers are the ones printed here. libgit2 is opened on
 * the first diff or merge (see struct git_api): a promotion of whole files
 * never loads it.
 */

#define nitems(a) (sizeof (a) / sizeof (a)[0])
#define DIFF_ABBREV 7
#define DIFF_BINARY_PROBE 8000 /* git's buffer_is_binary() */

struct git_api diff_git;

/* Where dlsym() puts each function of struct git_api. */
#define DIFF_GIT(f) { .name = #f, .offset = offsetof(struct git_api, f) }
static const struct diff_git_symbol {
	const char	*name;
	size_t		 offset;
} diff_git_symbols[] = {
	DIFF_GIT(git_libgit2_init),
	DIFF_GIT(git_libgit2_version),
	DIFF_GIT(git_error_last),
	DIFF_GIT(git_odb_hash),
	DIFF_GIT(git_oid_nfmt),
	DIFF_GIT(git_oid_equal),
	DIFF_GIT(git_diff_options_init),
	DIFF_GIT(git_patch_from_buffers),
	DIFF_GIT(git_patch_num_hunks),
	DIFF_GIT(git_patch_get_hunk),
	DIFF_GIT(git_patch_get_line_in_hunk),
	DIFF_GIT(git_patch_free),
	DIFF_GIT(git_merge_file_input_init),
	DIFF_GIT(git_merge_file_options_init),
	DIFF_GIT(git_merge_file),
	DIFF_GIT(git_merge_file_result_free),
	DIFF_GIT(git_hashsig_create),
	DIFF_GIT(git_hashsig_compare),
	DIFF_GIT(git_hashsig_free),
};
_Static_assert(sizeof diff_git_symbols / sizeof diff_git_symbols[0] ==
    sizeof (struct git_api) / sizeof (void (*)(void)),
    "a function of struct git_api has no entry in diff_git_symbols");

/* Opens libgit2 and fills diff_git; untouched on error. */
static int
diff_load(char **cause)
{
	const struct diff_git_symbol	*sym;
	struct git_api			 api;
	const char			*why;
	void				*lib, *fn;
	size_t				 i, n = strlen(GIT2_SONAME);
	int				 major, minor, rev;

	if ((lib = dlopen(GIT2_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		if (why == NULL)
			why = "unknown error";
		/* glibc's message starts with the name when it has no file */
		else if (strncmp(why, GIT2_SONAME ": ", n + 2) == 0)
			why += n + 2;
		*cause = xasprintf("cannot load %s: %s", GIT2_SONAME, why);
		return -1;
	}
	for (i = 0; i < nitems(diff_git_symbols); i++) {
		sym = &diff_git_symbols[i];
		if ((fn = dlsym(lib, sym->name)) == NULL) {
			*cause = xasprintf("cannot load %s: it has no %s",
			    GIT2_SONAME, sym->name);
			dlclose(lib);
			return -1;
		}
		/* POSIX: a function's address fits in a void * */
		memcpy((char *)&api + sym->offset, &fn, sizeof fn);
	}
	/* Its structs must be those of the headers airlock was built with. */
	if (api.git_libgit2_version(&major, &minor, &rev) != 0 ||
	    major != LIBGIT2_VER_MAJOR || minor != LIBGIT2_VER_MINOR) {
		*cause = xasprintf("cannot load %s: it is libgit2 %d.%d.%d, "
		    "airlock was built for " LIBGIT2_VERSION, GIT2_SONAME,
		    major, minor, rev);
		dlclose(lib);
		return -1;
	}
	diff_git = api;
	return 0;
}

int
diff_init(char **cause)
{
	static int	done;
	const git_error	*e;

	if (done)
		return 0;
	if (diff_load(cause) != 0)
		return -1;
	if (diff_git.git_libgit2_init() < 0) {
		e = diff_git.git_error_last();
		*cause = xasprintf("cannot initialise libgit2: %s",
		    e != NULL ? e->message : "unknown error");
		return -1;
	}
	done = 1;
	return 0;
}

/* A side git can show: a file or a symlink. */
static int
diff_present(const struct diff_side *s)
{
	return s != NULL &&
	    (s->type == ENTRY_FILE || s->type == ENTRY_SYMLINK);
}

static unsigned int
diff_git_mode(const struct diff_side *s)
{
	if (s->type == ENTRY_SYMLINK)
		return 0120000;
	return (s->mode & S_IXUSR) ? 0100755 : 0100644;
}

static const char *
diff_data(const struct diff_side *s)
{
	return s->data != NULL ? s->data : "";
}

int
diff_is_binary(const char *data, size_t len)
{
	size_t	n = len < DIFF_BINARY_PROBE ? len : DIFF_BINARY_PROBE;

	return data != NULL && memchr(data, '\0', n) != NULL;
}

static int
diff_binary(const struct diff_side *s)
{
	return diff_is_binary(s->data, s->len);
}

static int
diff_hash(const struct diff_side *s, git_oid *oid, char **cause)
{
	const git_error	*e;

	if (diff_git.git_odb_hash(oid, diff_data(s), s->len,
	    GIT_OBJECT_BLOB) == 0)
		return 0;
	e = diff_git.git_error_last();
	*cause = xasprintf("cannot hash blob: %s",
	    e != NULL ? e->message : "unknown error");
	return -1;
}

static void
diff_abbrev(char out[DIFF_ABBREV + 1], const git_oid *oid)
{
	if (oid == NULL)
		memset(out, '0', DIFF_ABBREV);
	else
		diff_git.git_oid_nfmt(out, DIFF_ABBREV, oid);
	out[DIFF_ABBREV] = '\0';
}

/* "a/PATH" quoted as a whole, as git's quote_two() does. */
static void
diff_label(struct buf *out, const char *prefix, const char *path,
    size_t pathlen)
{
	struct buf	raw = BUF_INIT;

	buf_addstr(&raw, prefix);
	buf_add(&raw, path, pathlen);
	quote_path(out, raw.data, raw.len, 0);
	buf_free(&raw);
}

/* "--- LABEL": git adds a tab when the label holds a space. */
static void
diff_file_line(struct buf *out, const char *marker, const char *label)
{
	buf_printf(out, "%s %s%s\n", marker, label,
	    strchr(label, ' ') != NULL ? "\t" : "");
}

/* diff_patch with context lines and whitespace changes ignored or not:
 * for views only (diff_walk), never for hunk numbers. */
static int
diff_patch_opts(git_patch **patch, const char *old, size_t oldlen,
    const char *new, size_t newlen, int context, int ignore_ws, char **cause)
{
	git_diff_options	 opts;
	const git_error		*e;

	if (diff_init(cause) != 0)
		return -1;
	diff_git.git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	opts.flags = GIT_DIFF_FORCE_TEXT;
	if (ignore_ws)
		opts.flags |= GIT_DIFF_IGNORE_WHITESPACE_CHANGE;
	opts.context_lines = context < 0 ? 0 : (uint32_t)context;
	opts.interhunk_lines = 0;
	if (diff_git.git_patch_from_buffers(patch, old, oldlen, NULL, new,
	    newlen, NULL, &opts) != 0) {
		e = diff_git.git_error_last();
		*cause = xasprintf("cannot diff: %s",
		    e != NULL ? e->message : "unknown error");
		return -1;
	}
	return 0;
}

int
diff_patch(git_patch **patch, const char *old, size_t oldlen,
    const char *new, size_t newlen, char **cause)
{
	return diff_patch_opts(patch, old, oldlen, new, newlen, 3, 0, cause);
}

static uint32_t
diff_lineno(int n)
{
	return n > 0 ? (uint32_t)n : 0;
}

/* The kinds of patch lines a view shows, by libgit2's origin. */
static const struct diff_origin {
	char			origin;
	enum diff_line_kind	kind;
} diff_origins[] = {
	{ .origin = GIT_DIFF_LINE_CONTEXT, .kind = DIFF_LINE_CONTEXT },
	{ .origin = GIT_DIFF_LINE_ADDITION, .kind = DIFF_LINE_ADD },
	{ .origin = GIT_DIFF_LINE_DELETION, .kind = DIFF_LINE_DEL },
	{ .origin = GIT_DIFF_LINE_CONTEXT_EOFNL, .kind = DIFF_LINE_NOEOL },
	{ .origin = GIT_DIFF_LINE_ADD_EOFNL, .kind = DIFF_LINE_NOEOL },
	{ .origin = GIT_DIFF_LINE_DEL_EOFNL, .kind = DIFF_LINE_NOEOL },
};

int
diff_walk(const char *old, size_t oldlen, const char *new, size_t newlen,
    int context, int ignore_ws, diff_line_fn fn, void *arg, char **cause)
{
	static const char	 noeol[] = "\\ No newline at end of file";
	git_patch		*patch;
	const git_diff_hunk	*gh;
	const git_diff_line	*gl;
	struct diff_line	 l;
	size_t			 h, j, k, nh, nlines;

	if (context > 1000)
		context = 1000;
	if (diff_patch_opts(&patch, old, oldlen, new, newlen, context,
	    ignore_ws, cause) != 0)
		return -1;
	nh = diff_git.git_patch_num_hunks(patch);
	for (h = 0; h < nh; h++) {
		if (diff_git.git_patch_get_hunk(&gh, &nlines, patch, h) != 0)
			fatalx("libgit2 lost hunk %zu", h);
		memset(&l, 0, sizeof l);
		l.kind = DIFF_LINE_HUNK;
		l.hunk = h + 1;
		l.text = gh->header;
		l.len = gh->header_len;
		while (l.len > 0 && l.text[l.len - 1] == '\n')
			l.len--;
		fn(&l, arg);
		for (j = 0; j < nlines; j++) {
			if (diff_git.git_patch_get_line_in_hunk(&gl, patch, h,
			    j) != 0)
				fatalx("libgit2 lost line %zu", j);
			for (k = 0; k < nitems(diff_origins); k++) {
				if (diff_origins[k].origin == gl->origin)
					break;
			}
			if (k == nitems(diff_origins))
				continue;
			memset(&l, 0, sizeof l);
			l.kind = diff_origins[k].kind;
			l.hunk = h + 1;
			if (l.kind == DIFF_LINE_NOEOL) {
				/* its content is "\n\\ No newline ...\n" */
				l.text = noeol;
				l.len = sizeof noeol - 1;
				fn(&l, arg);
				continue;
			}
			l.text = gl->content;
			l.len = gl->content_len;
			if (l.len > 0 && l.text[l.len - 1] == '\n')
				l.len--;
			if (l.kind != DIFF_LINE_ADD)
				l.old_no = diff_lineno(gl->old_lineno);
			if (l.kind != DIFF_LINE_DEL)
				l.new_no = diff_lineno(gl->new_lineno);
			fn(&l, arg);
		}
	}
	diff_git.git_patch_free(patch);
	return 0;
}

struct diff_sig *
diff_sig_create(const char *data, size_t len)
{
	git_hashsig	*sig;
	char		*cause = NULL;

	if (diff_init(&cause) != 0) {
		free(cause);
		return NULL;
	}
	if (diff_git.git_hashsig_create(&sig, data, len,
	    GIT_HASHSIG_SMART_WHITESPACE | GIT_HASHSIG_ALLOW_SMALL_FILES) < 0)
		return NULL;
	return (struct diff_sig *)sig;
}

int
diff_sig_compare(const struct diff_sig *a, const struct diff_sig *b)
{
	int	score;

	score = diff_git.git_hashsig_compare((const git_hashsig *)a,
	    (const git_hashsig *)b);
	return score < 0 ? 0 : score > 100 ? 100 : score;
}

void
diff_sig_free(struct diff_sig *sig)
{
	if (sig != NULL)
		diff_git.git_hashsig_free((git_hashsig *)sig);
}

/*
 * libgit2's "@@ -1,3 +1,4 @@ context\n" with the hunk's number after the
 * second "@@", where git apply ignores it and a reviewer can pick it.
 */
static void
diff_hunk_header(struct buf *out, const git_diff_hunk *hunk, size_t number)
{
	const char	*h = hunk->header, *end;
	size_t		 len = hunk->header_len, at;

	if (len > 4 && (end = memmem(h + 2, len - 2, "@@", 2)) != NULL) {
		at = (size_t)(end - h) + 2;
		buf_add(out, h, at);
		buf_printf(out, " hunk %zu", number);
		buf_add(out, h + at, len - at);
	} else
		buf_add(out, h, len);
}

static int
diff_hunks(struct buf *out, const struct diff_side *a,
    const struct diff_side *b, const char *la, const char *lb,
    struct diff_stat *stat, char **cause)
{
	git_patch		*patch = NULL;
	const git_diff_hunk	*hunk;
	const git_diff_line	*line;
	size_t			 nhunks, nlines, i, j;

	if (diff_patch(&patch,
	    a != NULL ? diff_data(a) : NULL, a != NULL ? a->len : 0,
	    b != NULL ? diff_data(b) : NULL, b != NULL ? b->len : 0,
	    cause) != 0)
		return -1;
	nhunks = diff_git.git_patch_num_hunks(patch);
	if (nhunks != 0) {
		diff_file_line(out, "---", la);
		diff_file_line(out, "+++", lb);
	}
	for (i = 0; i < nhunks; i++) {
		if (diff_git.git_patch_get_hunk(&hunk, &nlines, patch, i) != 0)
			fatalx("libgit2 lost hunk %zu", i);
		diff_hunk_header(out, hunk, i + 1);
		for (j = 0; j < nlines; j++) {
			if (diff_git.git_patch_get_line_in_hunk(&line, patch,
			    i, j) != 0)
				fatalx("libgit2 lost line %zu", j);
			if (line->origin == GIT_DIFF_LINE_ADDITION)
				stat->added++;
			else if (line->origin == GIT_DIFF_LINE_DELETION)
				stat->deleted++;
			if (line->origin == GIT_DIFF_LINE_ADDITION ||
			    line->origin == GIT_DIFF_LINE_DELETION ||
			    line->origin == GIT_DIFF_LINE_CONTEXT)
				buf_addch(out, line->origin);
			/* EOFNL lines hold "\n\\ No newline at end of file\n". */
			buf_add(out, line->content, line->content_len);
		}
	}
	diff_git.git_patch_free(patch);
	return (int)nhunks;
}

/* One "diff --git" block: a and b are NULL when absent, never both. */
static int
diff_block(struct buf *out, const char *path, size_t pathlen,
    const struct diff_side *a, const struct diff_side *b,
    struct diff_stat *stat, char **cause)
{
	git_oid		 oa, ob;
	char		 ha[DIFF_ABBREV + 1], hb[DIFF_ABBREV + 1];
	struct buf	 la = BUF_INIT, lb = BUF_INIT;
	unsigned int	 ma = 0, mb = 0;
	int		 same, hunks = 0;

	if (a != NULL && (diff_hash(a, &oa, cause) != 0))
		return -1;
	if (b != NULL && (diff_hash(b, &ob, cause) != 0))
		return -1;
	if (a != NULL)
		ma = diff_git_mode(a);
	if (b != NULL)
		mb = diff_git_mode(b);
	same = a != NULL && b != NULL && diff_git.git_oid_equal(&oa, &ob);
	if (same && ma == mb)
		return 0;

	diff_label(&la, "a/", path, pathlen);
	diff_label(&lb, "b/", path, pathlen);
	buf_printf(out, "diff --git %s %s\n", la.data, lb.data);
	if (a == NULL) {
		buf_reset(&la);
		buf_addstr(&la, "/dev/null");
		buf_printf(out, "new file mode %06o\n", mb);
	} else if (b == NULL) {
		buf_reset(&lb);
		buf_addstr(&lb, "/dev/null");
		buf_printf(out, "deleted file mode %06o\n", ma);
	} else if (ma != mb)
		buf_printf(out, "old mode %06o\nnew mode %06o\n", ma, mb);
	if (!same) {
		diff_abbrev(ha, a != NULL ? &oa : NULL);
		diff_abbrev(hb, b != NULL ? &ob : NULL);
		buf_printf(out, "index %s..%s", ha, hb);
		if (a != NULL && b != NULL && ma == mb)
			buf_printf(out, " %06o", ma);
		buf_addch(out, '\n');
		if ((a != NULL && diff_binary(a)) ||
		    (b != NULL && diff_binary(b))) {
			buf_printf(out, "Binary files %s and %s differ\n",
			    la.data, lb.data);
			stat->binary = 1;
		} else
			hunks = diff_hunks(out, a, b, la.data, lb.data, stat,
			    cause);
	}
	buf_free(&la);
	buf_free(&lb);
	return hunks;
}

int
diff_sides(struct buf *out, const char *path, size_t pathlen,
    const struct diff_side *old, const struct diff_side *new,
    struct diff_stat *stat, char **cause)
{
	struct diff_stat	 ignored;
	const struct diff_side	*a, *b;
	int			 h1, h2;

	if (stat == NULL)
		stat = &ignored;
	memset(stat, 0, sizeof *stat);
	if (diff_init(cause) != 0)
		return -1;
	a = diff_present(old) ? old : NULL;
	b = diff_present(new) ? new : NULL;
	if (a == NULL && b == NULL)
		return 0;

	/* As git: a file <-> symlink change is a deletion, then an addition. */
	if (a != NULL && b != NULL && a->type != b->type) {
		if ((h1 = diff_block(out, path, pathlen, a, NULL, stat,
		    cause)) == -1)
			return -1;
		if ((h2 = diff_block(out, path, pathlen, NULL, b, stat,
		    cause)) == -1)
			return -1;
		return h1 + h2;
	}
	return diff_block(out, path, pathlen, a, b, stat, cause);
}

/*
 * Opens the directory holding rel below dir, one component at a time (rel
 * may be longer than PATH_MAX), never through a symlink. -1 with errno.
 */
static int
diff_open_parent(const char *dir, const char *rel, const char **base)
{
	struct open_how	 how;
	const char	*p = rel, *slash;
	char		*name;
	int		 fd, next, error;

	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	while ((slash = strchr(p, '/')) != NULL) {
		name = xstrndup(p, (size_t)(slash - p));
		next = (int)syscall(SYS_openat2, fd, name, &how, sizeof how);
		if (next == -1 && errno == ENOSYS) {
			next = openat(fd, name, O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		error = errno;
		free(name);
		close(fd);
		if (next == -1) {
			errno = error;
			return -1;
		}
		fd = next;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int
diff_bad_path(const char *rel)
{
	const char	*p = rel;
	size_t		 n;

	if (*rel == '\0' || *rel == '/')
		return 1;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* Reads to the end (the file may grow or shrink while read). */
static char *
diff_read_fd(int fd, size_t hint, size_t *len)
{
	char	*data;
	size_t	 cap = hint + 1, got = 0;
	ssize_t	 n;
	int	 error;

	data = xmalloc(cap + 1);
	for (;;) {
		if (got == cap) {
			cap *= 2;
			data = xreallocarray(data, cap + 1, 1);
		}
		n = read(fd, data + got, cap - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error = errno;
			free(data);
			errno = error;
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	data[got] = '\0';
	*len = got;
	return data;
}

char *
diff_read(const char *dir, const char *rel, enum entry_type type,
    size_t *len, char **cause)
{
	struct stat	 st;
	struct buf	 q = BUF_INIT;
	const char	*base;
	char		*data = NULL;
	ssize_t		 n;
	int		 pfd = -1, fd = -1, error = 0;

	if (diff_bad_path(rel)) {
		error = EINVAL;
		goto out;
	}
	if ((pfd = diff_open_parent(dir, rel, &base)) == -1) {
		error = errno;
		goto out;
	}
	if (type == ENTRY_SYMLINK) {
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			error = errno;
			goto out;
		}
		if (!S_ISLNK(st.st_mode)) {
			error = EINVAL;
			goto out;
		}
		data = xmalloc((size_t)st.st_size + 2);
		n = readlinkat(pfd, base, data, (size_t)st.st_size + 1);
		if (n == -1 || n > st.st_size) {
			error = n == -1 ? errno : EAGAIN;
			free(data);
			data = NULL;
			goto out;
		}
		data[n] = '\0';
		*len = (size_t)n;
		goto out;
	}
	if (type != ENTRY_FILE) {
		error = EINVAL;
		goto out;
	}
	fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) != 0) {
		error = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error = EINVAL;
		goto out;
	}
	if ((data = diff_read_fd(fd, (size_t)st.st_size, len)) == NULL)
		error = errno;
out:
	if (fd != -1)
		close(fd);
	if (pfd != -1)
		close(pfd);
	if (data == NULL) {
		quote_path(&q, rel, strlen(rel), 0);
		*cause = xasprintf("cannot read %s/%s: %s", dir, q.data,
		    error == EINVAL ? "not a regular file or symlink" :
		    strerror(error));
		buf_free(&q);
	}
	return data;
}

/* Reads one side of a change: a checkpoint entry's blob or link target, or
 * the file at dir. NULL with *cause on error. */
static char *
diff_read_side(const struct mentry *e, struct store *st, const char *dir,
    const char *path, enum entry_type type, size_t *len, char **cause)
{
	if (e == NULL)
		return diff_read(dir, path, type, len, cause);
	if (e->kind == MENTRY_SYMLINK) {
		*len = strlen(e->target);
		return xmemdup(e->target, *len + 1);
	}
	if (st == NULL || !e->has_content) {
		*cause = xasprintf("the content of %s was not stored", path);
		return NULL;
	}
	return blob_read_buf(st, e->hash, SIZE_MAX, len, cause);
}

char *
diff_change_side(const struct change *c, int new_side, const char *tree,
    const char *upper, struct store *st, size_t *len, char **cause)
{
	if (!new_side)
		return diff_read_side(c->old_entry, st, tree, c->path,
		    c->old_type, len, cause);
	return diff_read_side(c->new_entry, st, c->new_in_tree ? tree : upper,
	    c->path, c->new_type, len, cause);
}

int
diff_change(struct buf *out, const struct change *c, const char *tree,
    const char *upper, struct store *st, struct diff_stat *stat, char **cause)
{
	struct diff_side	old, new;
	char			*odata = NULL, *ndata = NULL;
	int			 hunks = -1;

	memset(&old, 0, sizeof old);
	memset(&new, 0, sizeof new);
	old.type = c->old_type;
	old.mode = c->old_mode;
	new.type = c->new_type;
	new.mode = c->new_mode;
	if (diff_present(&old)) {
		odata = diff_read_side(c->old_entry, st, tree, c->path, old.type,
		    &old.len, cause);
		if (odata == NULL)
			goto out;
		old.data = odata;
	}
	if (diff_present(&new)) {
		ndata = diff_read_side(c->new_entry, st,
		    c->new_in_tree ? tree : upper, c->path, new.type, &new.len,
		    cause);
		if (ndata == NULL)
			goto out;
		new.data = ndata;
	}
	hunks = diff_sides(out, c->path, c->pathlen, &old, &new, stat, cause);
out:
	free(odata);
	free(ndata);
	return hunks;
}
