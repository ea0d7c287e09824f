/*
 * airlock approve, unapprove and reject: the review's decisions per path
 * and per hunk. Approvals are bound to the content they were given for
 * (approval.c); reject takes a change (or some hunks of it) out of the
 * scratch and checkpoints the result: here for a session that has ended,
 * through ctl.sock for a running one, whose airlock has its warden change
 * the merged view (reject.c).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

enum approve_verb { VERB_APPROVE, VERB_UNAPPROVE, VERB_REJECT };

static const struct option approve_options[] = {
	{ "hunk", required_argument, NULL, 'H' },
	{ "lines", required_argument, NULL, 'L' },
	{ "session", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct approve_args {
	enum approve_verb verb;
	const char *name;
	const char *dir, *which;
	size_t *hunks;
	size_t nhunks;
	size_t *lines;        /* --lines: added and deleted lines, from 1 */
	size_t nlines;
	char **paths;
	size_t npaths;
};

/* "3", "1,2", "2-4": hunk or line numbers, 1 and up. 0 or -1. */
static int
approve_parse_numbers(size_t **v, size_t *nv, const char *arg)
{
	const char *p = arg;
	char *end;
	unsigned long lo, hi, k;

	while (*p != '\0') {
		errno = 0;
		lo = strtoul(p, &end, 10);
		if (end == p || errno != 0 || lo == 0 || lo > 1000000)
			return -1;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || errno != 0 || hi < lo || hi > 1000000)
				return -1;
		}
		for (k = lo; k <= hi; k++) {
			*v = xreallocarray(*v, *nv + 1, sizeof **v);
			(*v)[(*nv)++] = k;
		}
		if (*end == ',')
			end++;
		else if (*end != '\0')
			return -1;
		p = end;
	}
	return *nv > 0 ? 0 : -1;
}

static void
approve_args_free(struct approve_args *a)
{
	free(a->hunks);
	free(a->lines);
}

/* --lines: approve or withdraw those lines of one text change. */
static int
approve_lines_one(struct approve_args *a, struct store *st,
    const struct session *s, const struct change *c,
    const struct change_sides *cs, struct buf *out, char **cause)
{
	uint32_t *v;
	size_t i;
	int rc;

	v = xcalloc(a->nlines, sizeof *v);
	for (i = 0; i < a->nlines; i++)
		v[i] = (uint32_t)(a->lines[i] - 1);
	rc = approval_set_lines(st, s->id, c, cs, v, a->nlines,
	    a->verb == VERB_APPROVE, cause);
	free(v);
	if (rc != 0) {
		char *why = *cause;

		*cause = xasprintf("--lines: %s", why);
		free(why);
		return -1;
	}
	buf_printf(out, "%s %zu line%s of ", a->verb == VERB_APPROVE ?
	    "approved" : "unapproved", a->nlines, a->nlines == 1 ? "" : "s");
	quote_path(out, c->path, c->pathlen, QUOTE_SPACE);
	buf_addch(out, '\n');
	return 0;
}

static int
approve_matches(const struct change *c, const char *path)
{
	size_t n = strlen(path);

	if (n == 0)
		return 1;
	return c->pathlen >= n && memcmp(c->path, path, n) == 0 &&
	    (c->pathlen == n || c->path[n] == '/');
}

/* Approve or unapprove one change. */
static int
approve_one(struct approve_args *a, struct store *st,
    const struct session *s, const struct change *c,
    const struct change_sides *cs, struct buf *out, char **cause)
{
	struct approval ap;
	size_t i;
	int got;

	if (a->nlines > 0)
		return approve_lines_one(a, st, s, c, cs, out, cause);
	if (a->nhunks > 0 && !cs->text) {
		*cause = xstrdup("--hunk: not a text change (approve it whole)");
		return -1;
	}
	for (i = 0; i < a->nhunks; i++) {
		if (a->hunks[i] > cs->hunks.n) {
			*cause = xasprintf("--hunk %zu: the change has %zu "
			    "hunk%s (airlock diff shows them)", a->hunks[i],
			    cs->hunks.n, cs->hunks.n == 1 ? "" : "s");
			return -1;
		}
	}
	if (a->verb == VERB_UNAPPROVE && a->nhunks == 0) {
		if ((got = approval_del(st, s->id, c->path, c->pathlen,
		    cause)) < 0)
			return -1;
		buf_addstr(out, got == 0 ? "unapproved " : "was not approved: ");
		quote_path(out, c->path, c->pathlen, QUOTE_SPACE);
		buf_addch(out, '\n');
		return 0;
	}
	memset(&ap, 0, sizeof ap);
	if (a->nhunks == 0) {
		ap.whole = 1;
		memcpy(ap.new_fp, cs->new_fp, HASH_LEN);
		memcpy(ap.old_fp, cs->old_fp, HASH_LEN);
	} else {
		/* add to (or take from) what is approved and still holds */
		if (approval_picks(st, s->id, c, cs, &ap, cause) != 0)
			return -1;
		for (i = 0; i < a->nhunks; i++)
			ap.pick[a->hunks[i] - 1] = a->verb == VERB_APPROVE;
	}
	got = approval_put(st, s->id, c->path, c->pathlen, &ap, cause);
	if (got == 0) {
		buf_addstr(out, a->verb == VERB_APPROVE ? "approved " :
		    "unapproved ");
		quote_path(out, c->path, c->pathlen, QUOTE_SPACE);
		if (a->nhunks > 0) {
			size_t k = 0;

			for (i = 0; i < ap.nhunks; i++)
				k += ap.pick[i] == 1;
			buf_printf(out, " (%zu of %zu hunks approved)", k,
			    ap.nhunks);
		}
		buf_addch(out, '\n');
	}
	approval_free(&ap);
	return got;
}

/* Writes data as upper/path (an ended session's scratch): a temporary
 * next to it, then a rename. */
static int
approve_write_upper(const char *upper, const char *path, const void *data,
    size_t len, mode_t mode, char **cause)
{
	AUTOCLOSE int root = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	AUTOCLOSE int dir = -1, fd = -1;
	const char *name;
	char tmp[64];
	size_t done = 0;
	ssize_t n;

	if (root < 0 || (dir = beneath_parent(root, path, &name)) < 0) {
		*cause = xasprintf("cannot open the scratch's %s: %s", path,
		    strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof tmp, ".airlock-reject-%ld.tmp", (long)getpid());
	unlinkat(dir, tmp, 0);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	while (done < len) {
		n = write(fd, (const char *)data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (fchmod(fd, mode & 07777) != 0 || fsync(fd) != 0 ||
	    renameat(dir, tmp, dir, name) != 0)
		goto fail;
	return 0;
fail:
	*cause = xasprintf("cannot write the scratch's %s: %s", path,
	    strerror(errno));
	unlinkat(dir, tmp, 0);
	return -1;
}

/*
 * Reject (ended session): the path goes back to the real tree's content.
 * Its entry leaves the scratch when nothing above it in the scratch hides
 * the real tree (an opaque or replaced directory); else the real content
 * is copied in.
 */
static int
approve_reject_path(const char *tree, const char *upper,
    const struct change *c, char **cause)
{
	AUTOCLOSE int root = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *why = NULL;
	char *slash, *prefix;
	int hidden = 0;

	if (root < 0) {
		*cause = xasprintf("cannot open %s: %s", upper, strerror(errno));
		return -1;
	}
	prefix = xstrdup(c->path);
	for (slash = strchr(prefix, '/'); slash != NULL && !hidden;
	    slash = strchr(slash + 1, '/')) {
		struct mentry e;
		AUTOCLOSE int dir = -1;
		const char *name;

		*slash = '\0';
		memset(&e, 0, sizeof e);
		dir = beneath_parent(root, prefix, &name);
		if (dir >= 0 && dirtree_stat(dir, name, DIRTREE_UPPER, &e,
		    &why) == 0)
			hidden = e.kind != MENTRY_DIR || e.opaque;
		free(why);
		why = NULL;
		mentry_free(&e);
		*slash = '/';
	}
	free(prefix);
	if (hidden) {
		*cause = xasprintf("%s: a directory above it was replaced in the "
		    "scratch; reject that directory instead", c->path);
		return -1;
	}
	{
		AUTOFREE char *full = path_join(upper, c->path);
		struct stat sb;

		if (lstat(full, &sb) != 0)
			return 0;
		if (S_ISDIR(sb.st_mode))
			return path_remove_tree(full, cause);
		if (unlink(full) != 0) {
			*cause = xasprintf("cannot remove %s: %s", full,
			    strerror(errno));
			return -1;
		}
	}
	(void)tree;
	return 0;
}

/* Whether --hunk fits the change: a text file with that many hunks. */
static int
approve_reject_check(struct approve_args *a, const struct change *c,
    const struct change_sides *cs, char **cause)
{
	size_t i;

	if (a->nhunks == 0)
		return 0;
	if (!cs->text || c->new_type != ENTRY_FILE) {
		*cause = xstrdup("--hunk: not a text change (reject it whole)");
		return -1;
	}
	for (i = 0; i < a->nhunks; i++) {
		if (a->hunks[i] > cs->hunks.n) {
			*cause = xasprintf("--hunk %zu: the change has %zu hunk%s",
			    a->hunks[i], cs->hunks.n,
			    cs->hunks.n == 1 ? "" : "s");
			return -1;
		}
	}
	return 0;
}

static void
approve_reject_report(struct approve_args *a, const struct change *c,
    struct buf *out)
{
	buf_addstr(out, "rejected ");
	if (a->nhunks > 0)
		buf_printf(out, "%zu hunk%s of ", a->nhunks,
		    a->nhunks == 1 ? "" : "s");
	quote_path(out, c->path, c->pathlen, QUOTE_SPACE);
	buf_addch(out, '\n');
}

static int
approve_reject_one(struct approve_args *a, const struct session *s,
    const char *upper, const struct change *c, const struct change_sides *cs,
    struct buf *out, char **cause)
{
	struct buf res = BUF_INIT;
	unsigned char *pick;
	size_t i;
	int rc;

	if (approve_reject_check(a, c, cs, cause) != 0)
		return -1;
	if (a->nhunks == 0) {
		if (approve_reject_path(s->tree, upper, c, cause) != 0)
			return -1;
		approve_reject_report(a, c, out);
		return 0;
	}
	pick = xmalloc(cs->hunks.n);
	memset(pick, 1, cs->hunks.n);
	for (i = 0; i < a->nhunks; i++)
		pick[a->hunks[i] - 1] = 0;
	rc = hunks_apply(cs->old, cs->oldlen, cs->new, cs->newlen, pick,
	    cs->hunks.n, &res, cause);
	free(pick);
	if (rc == 0)
		rc = approve_write_upper(upper, c->path, res.data, res.len,
		    c->new_mode, cause);
	buf_free(&res);
	if (rc == 0)
		approve_reject_report(a, c, out);
	return rc;
}

/* What the requests to a running session's airlock have done so far. */
struct approve_live {
	char **dirs;          /* rejected whole: what is below went too */
	size_t ndirs;
	uint32_t checkpoint;  /* the newest answer's */
	int answered;
};

static void
approve_live_free(struct approve_live *lv)
{
	size_t i;

	for (i = 0; i < lv->ndirs; i++)
		free(lv->dirs[i]);
	free(lv->dirs);
}

/* 1 when c is below a directory rejected whole already. */
static int
approve_live_below(const struct approve_live *lv, const struct change *c)
{
	size_t i, n;

	for (i = 0; i < lv->ndirs; i++) {
		n = strlen(lv->dirs[i]);
		if (c->pathlen > n && memcmp(c->path, lv->dirs[i], n) == 0 &&
		    c->path[n] == '/')
			return 1;
	}
	return 0;
}

/* "reject HUNKS PATHHEX\n" for c, or -1 when it does not fit a line. */
static int
approve_live_request(struct approve_args *a, const struct change *c,
    struct buf *req, char **cause)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	buf_addstr(req, "reject ");
	if (a->nhunks == 0)
		buf_addch(req, '-');
	for (i = 0; i < a->nhunks; i++)
		buf_printf(req, "%s%zu", i > 0 ? "," : "", a->hunks[i]);
	buf_addch(req, ' ');
	for (i = 0; i < c->pathlen; i++) {
		buf_addch(req, hex[(unsigned char)c->path[i] >> 4]);
		buf_addch(req, hex[(unsigned char)c->path[i] & 0xf]);
	}
	buf_addch(req, '\n');
	if (req->len <= CONTROL_LINE_MAX)
		return 0;
	*cause = xstrdup("too long a path or too many hunks to reject while "
	    "the session runs: reject once it has ended");
	return -1;
}

/*
 * Reject in a running session: its airlock has the warden change the
 * merged view and checkpoints, one request per path.
 */
static int
approve_reject_live(struct approve_args *a, const struct session *s,
    const struct change *c, const struct change_sides *cs,
    struct approve_live *lv, struct buf *out, char **cause)
{
	struct control_reply reply = { 0 };
	struct buf req = BUF_INIT;
	int rc;

	if (approve_reject_check(a, c, cs, cause) != 0)
		return -1;
	if (approve_live_below(lv, c)) {
		approve_reject_report(a, c, out);
		return 0;
	}
	if (approve_live_request(a, c, &req, cause) != 0) {
		buf_free(&req);
		return -1;
	}
	rc = control_session_call(s, req.data, &reply, cause);
	buf_free(&req);
	if (rc == 1) {
		*cause = xasprintf("session %u does not answer on its ctl.sock: "
		    "reject once it has ended", s->id);
		return -1;
	}
	if (rc == 0 && reply.status == CONTROL_FAILED) {
		*cause = reply.why;
		reply.why = NULL;
		rc = -1;
	}
	control_reply_free(&reply);
	if (rc != 0)
		return -1;
	lv->checkpoint = reply.number;
	lv->answered = 1;
	if (a->nhunks == 0 && c->old_type != c->new_type &&
	    (c->old_type == ENTRY_DIR || c->new_type == ENTRY_DIR)) {
		lv->dirs = xreallocarray(lv->dirs, lv->ndirs + 1,
		    sizeof *lv->dirs);
		lv->dirs[lv->ndirs++] = xstrdup(c->path);
	}
	approve_reject_report(a, c, out);
	return 0;
}

static int
approve_run(struct approve_args *a)
{
	const struct cmd_entry *entry = cmd_find(a->name);
	struct context ctx;
	struct session *s = NULL;
	struct changeset cs = { 0 };
	struct turn_range range = { 0, TURN_REAL, CKPT_NONE };
	struct approve_live live = { 0 };
	struct buf out = BUF_INIT;
	char **rel = NULL, *cause = NULL;
	size_t i, j, matched;
	int rc = EXIT_ERROR, fail = 0, running;

	if (context_session(&ctx, a->dir, a->which, a->name, &s) != 0)
		return EXIT_ERROR;
	/* a running session's airlock holds its lock and rejects itself */
	running = s->state == SESSION_RUNNING;
	if (a->verb == VERB_REJECT && !running &&
	    session_lock(s, &cause) != 0) {
		log_cause(a->name, cause);
		goto out;
	}
	rel = xcalloc(a->npaths, sizeof *rel);
	for (i = 0; i < a->npaths; i++) {
		if ((rel[i] = tree_relative(s->tree, a->paths[i], &cause)) ==
		    NULL) {
			log_cause(a->name, cause);
			goto out;
		}
	}
	if (changeset_load(&cs, ctx.store, s, &range, &cause) != 0) {
		log_cause(a->name, cause);
		goto out;
	}
	for (i = 0; i < a->npaths; i++) {
		matched = 0;
		for (j = 0; j < cs.changes->n; j++) {
			const struct change *c = &cs.changes->v[j];
			struct change_sides sides;
			int got;

			if (!approve_matches(c, rel[i]))
				continue;
			matched++;
			if ((a->nhunks > 0 || a->nlines > 0) &&
			    c->pathlen != strlen(rel[i])) {
				log_error(a->name, "%s takes one file, and %s "
				    "holds several changes", a->nhunks > 0 ?
				    "--hunk" : "--lines", a->paths[i]);
				goto out;
			}
			if (change_sides_load(c, s->tree, cs.upper, cs.store,
			    &sides, &cause) != 0) {
				log_cause(a->name, cause);
				fail = 1;
				continue;
			}
			if (a->verb != VERB_REJECT)
				got = approve_one(a, ctx.store, s, c, &sides,
				    &out, &cause);
			else if (running)
				got = approve_reject_live(a, s, c, &sides,
				    &live, &out, &cause);
			else
				got = approve_reject_one(a, s, cs.upper, c,
				    &sides, &out, &cause);
			if (got != 0) {
				struct buf what = BUF_INIT;

				quote_path(&what, c->path, c->pathlen,
				    QUOTE_SPACE);
				log_error(a->name, "%s: %s", what.data, cause);
				free(cause);
				cause = NULL;
				buf_free(&what);
				fail = 1;
			}
			change_sides_free(&sides);
		}
		if (matched == 0) {
			log_error(a->name, "%s: no change there (airlock status "
			    "lists them)", a->paths[i]);
			fail = 1;
		}
	}
	if (a->verb == VERB_REJECT && running && live.answered)
		buf_printf(&out, "checkpoint %u (reject)\n", live.checkpoint);
	if (a->verb == VERB_REJECT && !running && out.len > 0) {
		struct ckpt_options co = { "reject", NULL, 0, 0, CKPT_NONE,
		    NULL, 0 };
		uint32_t number;
		char *note = NULL;
		int got;

		co.threads = session_checkpoint_threads();
		got = session_checkpoint(ctx.store, s, &co, &number, &note,
		    &cause);
		free(note);
		if (got < 0) {
			log_cause(a->name, cause);
			fail = 1;
		} else if (got == 0)
			buf_printf(&out, "checkpoint %u (reject)\n", number);
	}
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	rc = fail ? EXIT_ERROR : EXIT_OK;
	(void)entry;
out:
	if (rel != NULL) {
		for (i = 0; i < a->npaths; i++)
			free(rel[i]);
		free(rel);
	}
	approve_live_free(&live);
	buf_free(&out);
	changeset_free(&cs);
	if (s != NULL)
		session_free(s);
	context_close(&ctx);
	return rc;
}

static int
approve_exec(int argc, char **argv, enum approve_verb verb)
{
	struct approve_args a;
	const struct cmd_entry *entry;
	int c, rc;

	memset(&a, 0, sizeof a);
	a.verb = verb;
	a.name = verb == VERB_APPROVE ? "approve" : verb == VERB_UNAPPROVE ?
	    "unapprove" : "reject";
	entry = cmd_find(a.name);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:h", approve_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': a.dir = optarg; break;
		case 'S': a.which = optarg; break;
		case 'H':
			if (approve_parse_numbers(&a.hunks, &a.nhunks,
			    optarg) != 0) {
				approve_args_free(&a);
				return cmd_usage(entry, "--hunk takes hunk "
				    "numbers like 2, 1,3 or 2-4 (airlock diff "
				    "shows them)");
			}
			break;
		case 'L':
			if (verb == VERB_REJECT ||
			    approve_parse_numbers(&a.lines, &a.nlines,
			    optarg) != 0) {
				approve_args_free(&a);
				return cmd_usage(entry, verb == VERB_REJECT ?
				    "reject takes --hunk, not --lines" :
				    "--lines takes line numbers like 2, 1,3 "
				    "or 2-4 (the added and deleted lines of "
				    "the file's airlock diff, counted from 1)");
			}
			break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			approve_args_free(&a);
			return EXIT_OK;
		default:
			approve_args_free(&a);
			return cmd_usage(entry, "unknown or incomplete option "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (optind == argc) {
		approve_args_free(&a);
		return cmd_usage(entry, "which paths? (airlock status lists "
		    "the changes)");
	}
	if (a.nhunks > 0 && a.nlines > 0) {
		approve_args_free(&a);
		return cmd_usage(entry, "--hunk or --lines, not both");
	}
	if ((a.nhunks > 0 || a.nlines > 0) && argc - optind > 1) {
		approve_args_free(&a);
		return cmd_usage(entry, "%s takes one path", a.nhunks > 0 ?
		    "--hunk" : "--lines");
	}
	if (control_inside()) {
		approve_args_free(&a);
		log_error(a.name, "not available inside the sandbox: the user "
		    "reviews from outside");
		return EXIT_ERROR;
	}
	a.paths = argv + optind;
	a.npaths = (size_t)(argc - optind);
	rc = approve_run(&a);
	approve_args_free(&a);
	return rc;
}

static int
cmd_approve_exec(int argc, char **argv)
{
	return approve_exec(argc, argv, VERB_APPROVE);
}

static int
cmd_unapprove_exec(int argc, char **argv)
{
	return approve_exec(argc, argv, VERB_UNAPPROVE);
}

static int
cmd_reject_exec(int argc, char **argv)
{
	return approve_exec(argc, argv, VERB_REJECT);
}

#define APPROVE_COMMON \
	"  --hunk N      only these hunks (2, 1,3, 2-4; airlock diff numbers " \
	"them)\n" \
	"  --lines N     (approve, unapprove) only these added or deleted " \
	"lines of\n" \
	"                one file: the Nth '+' or '-' line of its airlock " \
	"diff,\n" \
	"                counted from 1 over all hunks (1,3 or 2-4)\n" \
	"  --session ID  the session (default: the newest of the real tree)\n" \
	"  -C DIR        use DIR (its git top-level) as the real tree"

const struct cmd_entry cmd_approve_entry = {
	.name = "approve",
	.usage = "[-C DIR] [--session ID] PATH... | PATH --hunk N... | "
	    "PATH --lines N...",
	.summary = "approve changes (or hunks) for promote --approved",
	.help =
	    "Approves the changes under each PATH, or only the given hunks of "
	    "one file's\nchange (the numbers `airlock diff` prints on each hunk "
	    "header). An approval\nis bound to the content it was given for: "
	    "when the agent changes the path\nagain it lapses, and `airlock "
	    "status` says so. `airlock promote --approved`\npromotes what is "
	    "approved (only the approved hunks of a file).\n\n" APPROVE_COMMON,
	.exec = cmd_approve_exec,
};

const struct cmd_entry cmd_unapprove_entry = {
	.name = "unapprove",
	.usage = "[-C DIR] [--session ID] PATH... | PATH --hunk N... | "
	    "PATH --lines N...",
	.summary = "withdraw approvals",
	.help =
	    "Withdraws the approval of the changes under each PATH, or of the "
	    "given hunks\nof one file's change.\n\n" APPROVE_COMMON,
	.exec = cmd_unapprove_exec,
};

const struct cmd_entry cmd_reject_entry = {
	.name = "reject",
	.usage = "[-C DIR] [--session ID] PATH... | PATH --hunk N...",
	.summary = "take changes (or hunks) out of the scratch",
	.help =
	    "Takes the changes under each PATH out of the scratch: the path goes "
	    "back to the\nreal tree's content; with --hunk, only those hunks of "
	    "one file go (the\nothers stay). The result is checkpointed with "
	    "the reason \"reject\", so\n`airlock rollback` brings a rejected "
	    "change back.\n\n"
	    "A running session is changed by its own airlock while the "
	    "command keeps\nrunning, which sees the result at once (one "
	    "checkpoint per path; refused\nwhile a promotion of the session "
	    "is in progress). A session that has ended\nhas its scratch "
	    "edited directly.\n\n" APPROVE_COMMON,
	.exec = cmd_reject_exec,
};
