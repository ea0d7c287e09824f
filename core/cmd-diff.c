#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * airlock diff: the changes of a session as a git patch (so that `airlock
 * diff | git apply` reproduces them on a clean copy of the tree), or as
 * git's --stat and --name-status summaries.
 */

enum cmd_diff_format {
	CMD_DIFF_PATCH,
	CMD_DIFF_STAT,
	CMD_DIFF_NAME_STATUS,
};

static const struct option cmd_diff_options[] = {
	{ "stat", no_argument, NULL, 's' },
	{ "name-status", no_argument, NULL, 'n' },
	{ "turn", required_argument, NULL, 't' },
	{ "conflicts", no_argument, NULL, 'c' },
	{ "from", required_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 'T' },
	{ NULL, 0, NULL, 0 }
};

/* One line of --stat. */
struct cmd_diff_stat_line {
	char		*name;     /* quoted */
	size_t		 width;
	struct diff_stat stat;
	off_t		 old_size, new_size;
};

static int
cmd_diff_git_visible(enum entry_type t)
{
	return t == ENTRY_FILE || t == ENTRY_SYMLINK;
}

/*
 * The letter git's --name-status gives the change, or 0 when git would not
 * show it (directories, special files, permission bits git ignores).
 */
static char
cmd_diff_git_letter(const struct change *c)
{
	int	old = cmd_diff_git_visible(c->old_type);
	int	new = cmd_diff_git_visible(c->new_type);

	if (old && new) {
		if (c->old_type != c->new_type)
			return 'T';
		if (c->kind == CHANGE_MODE && (c->old_type == ENTRY_SYMLINK ||
		    ((c->old_mode ^ c->new_mode) & S_IXUSR) == 0))
			return 0;
		return 'M';
	}
	if (old)
		return 'D';
	if (new)
		return 'A';
	return 0;
}

/*
 * Turns a PATH argument into a path relative to the tree: relative to base
 * (the current directory, or -C DIR) when base lies inside the tree, else
 * to the tree. "" is the whole tree. NULL with *cause when outside.
 */
static char *
cmd_diff_filter_path(const char *arg, const char *tree, const char *base,
    char **cause)
{
	struct buf	 in = BUF_INIT, out = BUF_INIT;
	const char	*p;
	char		*slash;
	size_t		 n, tlen = strlen(tree);

	if (arg[0] == '/') {
		if (strncmp(arg, tree, tlen) != 0 ||
		    (arg[tlen] != '\0' && arg[tlen] != '/' && tlen != 1))
			goto outside;
		buf_addstr(&in, arg + tlen);
	} else {
		if (base != NULL && path_is_under(base, tree) &&
		    strlen(base) > tlen) {
			buf_addstr(&in, base + tlen + (tlen != 1));
			buf_addch(&in, '/');
		}
		buf_addstr(&in, arg);
	}
	for (p = in.data; *p != '\0'; p += n) {
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (out.len == 0)
				goto outside;
			slash = memrchr(out.data, '/', out.len);
			out.len = slash != NULL ? (size_t)(slash - out.data) : 0;
			out.data[out.len] = '\0';
			continue;
		}
		if (out.len != 0)
			buf_addch(&out, '/');
		buf_add(&out, p, n);
	}
	buf_free(&in);
	return buf_detach(&out, NULL);

outside:
	buf_free(&in);
	buf_free(&out);
	*cause = xasprintf("%s is outside the tree %s", arg, tree);
	return NULL;
}

/* 1 when a path component is ".git" (git apply refuses such paths). */
static int
cmd_diff_in_git_dir(const char *path)
{
	const char	*p;

	for (p = path; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, ".git", 4) == 0 && (p[4] == '/' || p[4] == '\0'))
			return 1;
	}
	return 0;
}

static int
cmd_diff_filter_match(const struct change *c, char **filters, size_t n)
{
	size_t	i, len;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		len = strlen(filters[i]);
		if (len == 0)
			return 1;
		if (c->pathlen >= len && memcmp(c->path, filters[i], len) == 0 &&
		    (c->pathlen == len || c->path[len] == '/'))
			return 1;
	}
	return 0;
}

/* 1 when a filter names a path in a .git directory. */
static int
cmd_diff_git_dir_asked(char **filters, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (cmd_diff_in_git_dir(filters[i]))
			return 1;
	}
	return 0;
}

/* Columns of the output terminal, as git's term_columns(). */
static int
cmd_diff_columns(void)
{
	struct winsize	 ws;
	const char	*s = getenv("COLUMNS");
	int		 n;

	if (s != NULL && (n = atoi(s)) > 0)
		return n;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static size_t
cmd_diff_decimal_width(uintmax_t n)
{
	size_t	w = 1;

	while (n >= 10) {
		n /= 10;
		w++;
	}
	return w;
}

/* Display width of a quoted name: code points (the name is UTF-8 or ASCII). */
static size_t
cmd_diff_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

static int
cmd_diff_scale(uintmax_t it, int width, uintmax_t max)
{
	if (it == 0)
		return 0;
	return 1 + (int)(it * (uintmax_t)(width - 1) / max);
}

static void
cmd_diff_graph(struct buf *out, int c, int n)
{
	while (n-- > 0)
		buf_addch(out, c);
}

/* git's show_stats(), widths and scaling included. */
static void
cmd_diff_stat_print(struct buf *out, struct cmd_diff_stat_line *v, size_t n)
{
	uintmax_t	 max_change = 0, change, adds = 0, dels = 0;
	size_t		 i, max_len = 0, bin_width = 0, w, number_width = 0;
	int		 width, name_width, graph_width, add, del, total, len,
			 padding;
	const char	*name, *prefix;

	for (i = 0; i < n; i++) {
		if (max_len < v[i].width)
			max_len = v[i].width;
		if (v[i].stat.binary) {
			w = 14 +
			    cmd_diff_decimal_width((uintmax_t)v[i].new_size) +
			    cmd_diff_decimal_width((uintmax_t)v[i].old_size);
			if (bin_width < w)
				bin_width = w;
			number_width = 3;
			continue;
		}
		change = v[i].stat.added + v[i].stat.deleted;
		if (max_change < change)
			max_change = change;
	}
	width = cmd_diff_columns();
	if (cmd_diff_decimal_width(max_change) > number_width)
		number_width = cmd_diff_decimal_width(max_change);
	if (width < 16 + 6 + (int)number_width)
		width = 16 + 6 + (int)number_width;
	graph_width = max_change + 4 > bin_width ? (int)max_change :
	    (int)bin_width - 4;
	name_width = (int)max_len;
	if (name_width + (int)number_width + 6 + graph_width > width) {
		if (graph_width > width * 3 / 8 - (int)number_width - 6) {
			graph_width = width * 3 / 8 - (int)number_width - 6;
			if (graph_width < 6)
				graph_width = 6;
		}
		if (name_width > width - (int)number_width - 6 - graph_width)
			name_width = width - (int)number_width - 6 - graph_width;
		else
			graph_width = width - (int)number_width - 6 - name_width;
	}

	for (i = 0; i < n; i++) {
		name = v[i].name;
		prefix = "";
		len = name_width;
		if ((size_t)name_width < v[i].width) {
			/* Keep the end of the name, from a slash if any. */
			size_t	nlen = v[i].width;

			prefix = "...";
			len = len < 3 ? 0 : len - 3;
			while (nlen > (size_t)len) {
				name++;
				while (((unsigned char)*name & 0xc0) == 0x80)
					name++;
				nlen--;
			}
			if (strchr(name, '/') != NULL)
				name = strchr(name, '/');
		}
		padding = len - (int)cmd_diff_width(name);
		if (padding < 0)
			padding = 0;
		if (v[i].stat.binary) {
			buf_printf(out, " %s%s%*s | %*s", prefix, name, padding,
			    "", (int)number_width, "Bin");
			buf_printf(out, " %jd -> %jd bytes\n",
			    (intmax_t)v[i].old_size, (intmax_t)v[i].new_size);
			continue;
		}
		adds += v[i].stat.added;
		dels += v[i].stat.deleted;
		add = (int)v[i].stat.added;
		del = (int)v[i].stat.deleted;
		if ((uintmax_t)graph_width <= max_change) {
			total = cmd_diff_scale((uintmax_t)add + (uintmax_t)del,
			    graph_width, max_change);
			if (total < 2 && add != 0 && del != 0)
				total = 2;
			if (add < del) {
				add = cmd_diff_scale((uintmax_t)add, graph_width,
				    max_change);
				del = total - add;
			} else {
				del = cmd_diff_scale((uintmax_t)del, graph_width,
				    max_change);
				add = total - del;
			}
		}
		change = v[i].stat.added + v[i].stat.deleted;
		buf_printf(out, " %s%s%*s | %*ju%s", prefix, name, padding, "",
		    (int)number_width, change, change != 0 ? " " : "");
		cmd_diff_graph(out, '+', add);
		cmd_diff_graph(out, '-', del);
		buf_addch(out, '\n');
	}

	if (n == 0)
		return;
	buf_printf(out, " %zu file%s changed", n, n == 1 ? "" : "s");
	if (adds != 0 || dels == 0)
		buf_printf(out, ", %ju insertion%s(+)", adds,
		    adds == 1 ? "" : "s");
	if (dels != 0 || adds == 0)
		buf_printf(out, ", %ju deletion%s(-)", dels,
		    dels == 1 ? "" : "s");
	buf_addch(out, '\n');
}

/*
 * diff --conflicts: for each change whose promotion would conflict, the
 * three-way merge of base, real tree and scratch as a patch over the real
 * file, with git's conflict markers; a change of shape is named.
 */
static int
cmd_diff_conflicts(const struct changes *ch, char **filters, size_t nfilters,
    const struct session *s, const char *upper, struct store *st)
{
	struct buf out = BUF_INIT, merged = BUF_INIT;
	struct diff_side old, new;
	char *cause = NULL, *real;
	size_t i, n = 0, len;
	int got, rc = 0;

	for (i = 0; i < ch->n; i++) {
		const struct change *c = &ch->v[i];

		if (!cmd_diff_filter_match(c, filters, nfilters))
			continue;
		buf_reset(&merged);
		got = promote_check(st, s->id, c, s->tree, upper, &merged,
		    &cause);
		if (got < 0) {
			log_cause("diff", cause);
			cause = NULL;
			rc = -1;
			continue;
		}
		if (got != 2)
			continue;
		n++;
		if (merged.len == 0 || c->old_type != ENTRY_FILE) {
			log_warn("diff", "%s: the real tree changed its kind or "
			    "deleted it since the checkpoint (no merge to show)",
			    c->path);
			continue;
		}
		real = diff_read(s->tree, c->path, ENTRY_FILE, &len, &cause);
		if (real == NULL) {
			log_cause("diff", cause);
			cause = NULL;
			rc = -1;
			continue;
		}
		memset(&old, 0, sizeof old);
		memset(&new, 0, sizeof new);
		old.type = new.type = ENTRY_FILE;
		old.mode = c->old_mode;
		new.mode = c->new_mode;
		old.data = real;
		old.len = len;
		new.data = merged.data;
		new.len = merged.len;
		if (diff_sides(&out, c->path, c->pathlen, &old, &new, NULL,
		    &cause) < 0) {
			log_cause("diff", cause);
			cause = NULL;
			rc = -1;
		}
		free(real);
		fwrite(out.data, 1, out.len, stdout);
		buf_reset(&out);
	}
	if (n == 0)
		fprintf(stderr, "airlock: diff: no conflicts\n");
	buf_free(&out);
	buf_free(&merged);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("diff", "cannot write the output");
		rc = -1;
	}
	return rc;
}

/* Writes out the patch (or summary) of the changes that match. */
/* The approval of a change of the total, when it lapsed: said on stderr
 * (the patch itself stays what git apply takes). */
static void
cmd_diff_lapsed(struct store *st, const struct session *s,
    const struct change *c, const char *upper)
{
	struct change_sides sides;
	struct approval a;
	struct buf shown = BUF_INIT;
	char *cause = NULL;
	size_t approved;
	int got;

	got = approval_get(st, s->id, c->path, c->pathlen, &a, &cause);
	if (got != 0) {
		free(cause);
		return;
	}
	approval_free(&a);
	if (change_sides_load(c, s->tree, upper, NULL, &sides, &cause) != 0) {
		free(cause);
		return;
	}
	if (change_approval(st, s->id, c, &sides, &approved, &cause) ==
	    APPROVAL_LAPSED) {
		quote_path(&shown, c->path, c->pathlen, 0);
		log_warn("diff", "%s: its approval lapsed (the agent changed it "
		    "since it was approved)", shown.data);
		buf_free(&shown);
	}
	free(cause);
	change_sides_free(&sides);
}

static int
cmd_diff_print(enum cmd_diff_format format, const struct changes *ch,
    char **filters, size_t nfilters, const struct session *s,
    const char *upper, struct store *st, struct store *total)
{
	const char *tree = s->tree;
	struct cmd_diff_stat_line	*lines = NULL;
	struct buf		 out = BUF_INIT, name = BUF_INIT;
	struct diff_stat	 stat;
	const struct change	*c;
	char			*cause = NULL, letter;
	size_t			 i, n = 0, hidden = 0;
	int			 rc = 0;

	for (i = 0; i < ch->n; i++) {
		c = &ch->v[i];
		if (!cmd_diff_filter_match(c, filters, nfilters))
			continue;
		if ((letter = cmd_diff_git_letter(c)) == 0)
			continue;
		/*
		 * Like git, leave a repository's own files out of the patch
		 * unless asked for by path: git apply refuses the whole
		 * patch when it names one.
		 */
		if (cmd_diff_in_git_dir(c->path) &&
		    !cmd_diff_git_dir_asked(filters, nfilters)) {
			hidden++;
			continue;
		}
		if (total != NULL)
			cmd_diff_lapsed(total, s, c, upper);
		if (format == CMD_DIFF_NAME_STATUS) {
			buf_printf(&out, "%c\t", letter);
			quote_path(&out, c->path, c->pathlen, 0);
			buf_addch(&out, '\n');
		} else if (diff_change(&out, c, tree, upper, st, &stat,
		    &cause) == -1) {
			log_cause("diff", cause);
			cause = NULL;
			rc = -1;
			continue;
		}
		if (format == CMD_DIFF_STAT) {
			buf_reset(&out);
			lines = xreallocarray(lines, n + 1, sizeof *lines);
			buf_reset(&name);
			quote_path(&name, c->path, c->pathlen, 0);
			lines[n].name = xstrdup(name.data);
			lines[n].width = cmd_diff_width(lines[n].name);
			lines[n].stat = stat;
			lines[n].old_size = c->old_size;
			lines[n].new_size = c->new_size;
			n++;
		}
		fwrite(out.data, 1, out.len, stdout);
		buf_reset(&out);
	}
	if (format == CMD_DIFF_STAT) {
		cmd_diff_stat_print(&out, lines, n);
		fwrite(out.data, 1, out.len, stdout);
	}
	if (hidden != 0) {
		log_warn("diff", "%zu change%s inside .git not shown (see "
		    "airlock status, or name the path after --)", hidden,
		    hidden == 1 ? "" : "s");
	}
	for (i = 0; i < n; i++)
		free(lines[i].name);
	free(lines);
	buf_free(&out);
	buf_free(&name);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("diff", "cannot write the output");
		rc = -1;
	}
	return rc;
}

static int
cmd_diff_exec(int argc, char **argv)
{
	const struct cmd_entry	*entry = cmd_find("diff");
	enum cmd_diff_format	 format = CMD_DIFF_PATCH;
	struct context		 ctx;
	struct session		*s = NULL;
	struct changeset	 cs = { 0 };
	struct turn_range	 range = { 0, TURN_REAL, CKPT_NONE };
	const char		*dir = NULL, *which = NULL;
	char			*cause = NULL, *base = NULL;
	char			**filters = NULL, *cwd;
	size_t			 nfilters = 0, i;
	int			 c, nopts, rc = EXIT_ERROR, conflicts = 0;

	/* Options and ID come before "--", paths after it. */
	for (nopts = 1; nopts < argc; nopts++) {
		if (strcmp(argv[nopts], "--") == 0)
			break;
	}
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(nopts, argv, "C:", cmd_diff_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C':
			dir = optarg;
			break;
		case 's':
		case 'n':
			if (format != CMD_DIFF_PATCH)
				return cmd_usage(entry, "--stat and "
				    "--name-status are exclusive");
			format = c == 's' ? CMD_DIFF_STAT : CMD_DIFF_NAME_STATUS;
			break;
		case 'c':
			conflicts = 1;
			break;
		case 't':
		case 'f':
		case 'T':
			if ((rc = turn_range_option(&range, c, optarg,
			    entry)) != 0)
				return rc;
			break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (nopts - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s' (paths go "
		    "after --)", argv[optind + 1]);
	if ((rc = turn_range_done(&range, entry)) != 0)
		return rc;
	if (conflicts && (range.set || format != CMD_DIFF_PATCH))
		return cmd_usage(entry, "--conflicts shows the total, as a patch");
	rc = EXIT_ERROR;
	if (optind < nopts)
		which = argv[optind];

	if (context_open(&ctx, dir, 0) != 0)
		return EXIT_ERROR;
	if (dir != NULL)
		base = realpath(dir, NULL);
	else if ((cwd = getcwd(NULL, 0)) != NULL) {
		base = realpath(cwd, NULL);
		free(cwd);
	}
	if (nopts < argc)
		filters = xcalloc((size_t)(argc - nopts), sizeof *filters);
	for (i = (size_t)nopts + 1; i < (size_t)argc; i++) {
		filters[nfilters] = cmd_diff_filter_path(argv[i], ctx.tree, base,
		    &cause);
		if (filters[nfilters] == NULL) {
			log_cause("diff", cause);
			goto out;
		}
		nfilters++;
	}

	if (session_find(ctx.store, which, &s, &cause) != 0) {
		log_cause("diff", cause);
		goto out;
	}
	if (changeset_load(&cs, ctx.store, s, &range, &cause) != 0) {
		log_cause("diff", cause);
		goto out;
	}
	if (conflicts) {
		if (cmd_diff_conflicts(cs.changes, filters, nfilters, s,
		    cs.upper, ctx.store) == 0)
			rc = EXIT_OK;
	} else if (cmd_diff_print(format, cs.changes, filters, nfilters,
	    s, cs.upper, cs.store, range.set ? NULL : ctx.store) == 0)
		rc = EXIT_OK;
out:
	for (i = 0; i < nfilters; i++)
		free(filters[i]);
	free(filters);
	free(base);
	changeset_free(&cs);
	if (s != NULL)
		session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_diff_entry = {
	.name = "diff",
	.usage = "[-C DIR] [--stat|--name-status] [--turn N|--from A [--to B]|"
	    "--conflicts] [ID] [-- PATH...]",
	.summary = "show what a session changed as a git patch",
	.help = "Prints the changes of a session (default: the newest of this "
	    "tree) against the\nreal tree in git's unified format: "
	    "`airlock diff | git apply` in a clean copy\nof the tree "
	    "reproduces them (binary files show as \"Binary files ... "
	    "differ\").\nEach hunk header carries its number (\"@@ -1,3 +1,4 @@ hunk 1\"), as\n`airlock approve --hunk` and `airlock reject --hunk` take them.\nDirectories, fifos, sockets and devices have no "
	    "patch form: see airlock status.\n\n"
	    "  -C DIR          the tree of DIR instead of the current "
	    "directory's\n"
	    "  --stat          a diffstat, as git diff --stat\n"
	    "  --name-status   one line a path: A, M, D or T, a tab, the path\n"
	    "  --turn N        what turn N did: checkpoint N-1 to checkpoint N\n"
	    "  --from A        from checkpoint A (to the newest, or --to B)\n"
	    "  --to B          up to checkpoint B\n"
	    "  --conflicts     the three-way merges a promotion would stop on, "
	    "with\n                  conflict markers, as patches over the "
	    "real files\n"
	    "  -- PATH...      only these paths (a directory means everything "
	    "below it);\n                  relative to the current "
	    "directory",
	.exec = cmd_diff_exec,
};
