#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

/*
 * airlock status: the changes of a session against the real tree, one a
 * line like `git status --short`, or as JSON for scripts.
 */

static const struct option status_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "at", required_argument, NULL, 'a' },
	{ NULL, 0, NULL, 0 }
};

/* The path as printed: quoted, with a slash after a directory. */
static void
status_path(struct buf *out, const struct change *c)
{
	struct buf	raw = BUF_INIT;

	buf_add(&raw, c->path, c->pathlen);
	if (c->new_type == ENTRY_DIR ||
	    (c->new_type == ENTRY_NONE && c->old_type == ENTRY_DIR))
		buf_addch(&raw, '/');
	quote_path(out, raw.data, raw.len, QUOTE_SPACE);
	buf_free(&raw);
}

/* What status says of a change beyond its kind. */
struct status_marks {
	enum approval_state approval;
	size_t hunks, approved;
	int lines;             /* some hunk is approved in part (lines) */
	int conflict;          /* promote_check: 1 merges, 2 conflicts */
};

/* Approval and conflict of a change of the total (real tree to scratch). */
static void
status_marks_of(struct status_marks *m, struct store *st,
    const struct session *s, const struct change *c, const char *upper)
{
	struct change_sides sides;
	struct approval a;
	char *cause = NULL;
	int got;

	memset(m, 0, sizeof *m);
	got = approval_get(st, s->id, c->path, c->pathlen, &a, &cause);
	if (got == 0) {
		for (size_t i = 0; !a.whole && i < a.nhunks; i++)
			m->lines |= a.pick[i] == APPROVAL_PICK_LINES;
		approval_free(&a);
		if (change_sides_load(c, s->tree, upper, NULL, &sides,
		    &cause) == 0) {
			m->approval = change_approval(st, s->id, c, &sides,
			    &m->approved, &cause);
			m->hunks = sides.hunks.n;
			change_sides_free(&sides);
			if ((int)m->approval == -1) {
				log_cause("status", cause);
				m->approval = APPROVAL_NONE;
			}
		} else
			log_cause("status", cause);
	} else if (got < 0)
		log_cause("status", cause);
	else
		free(cause);
	cause = NULL;
	m->conflict = promote_check(st, s->id, c, s->tree, upper, NULL, &cause);
	if (m->conflict < 0) {
		log_cause("status", cause);
		m->conflict = 0;
	}
}

static void
status_text_one(struct buf *out, const struct change *c,
    const struct status_marks *m)
{
	buf_printf(out, "%c ", change_letter(c));
	status_path(out, c);
	if (c->old_type == c->new_type && c->old_type != ENTRY_SYMLINK &&
	    (c->old_mode & 07777) != (c->new_mode & 07777)) {
		buf_printf(out, " (mode %06o -> %06o)", (unsigned)c->old_mode,
		    (unsigned)c->new_mode);
	}
	if (change_is_risky(c))
		buf_addstr(out, " [risky]");
	if (m->approval == APPROVAL_APPROVED)
		buf_addstr(out, " [approved]");
	else if (m->approval == APPROVAL_PARTIAL)
		buf_printf(out, " [approved %zu of %zu hunks%s]", m->approved,
		    m->hunks, m->lines ? " and some lines" : "");
	else if (m->approval == APPROVAL_LAPSED)
		buf_addstr(out, " [approval lapsed]");
	if (m->conflict == 2)
		buf_addstr(out, " [conflict]");
	else if (m->conflict == 1)
		buf_addstr(out, " [real tree changed too: merges]");
	buf_addch(out, '\n');
}

static void
status_json_one(struct buf *out, const struct change *c, const char *tree,
    const char *upper, struct store *st, const struct status_marks *m)
{
	struct buf	 scratch = BUF_INIT;
	char		*cause = NULL;
	int		 hunks;

	hunks = diff_change(&scratch, c, tree, upper, st, NULL, &cause);
	buf_free(&scratch);
	if (hunks == -1) {
		/* Still list the change; say why its hunks are unknown. */
		log_cause("status", cause);
		hunks = 0;
	}
	buf_addch(out, '{');
	json_path_fields(out, c->path, c->pathlen);
	buf_printf(out, ",\"change\":\"%s\",\"approval\":\"%s\","
	    "\"hunks\":%d,\"approved_hunks\":%zu,\"risky\":%s,"
	    "\"conflict\":%s}", change_name(c),
	    approval_state_name(m->approval), hunks, m->approved,
	    change_is_risky(c) ? "true" : "false",
	    m->conflict == 2 ? "true" : "false");
}

static int
cmd_status_exec(int argc, char **argv)
{
	const struct cmd_entry	*entry = cmd_find("status");
	struct context		 ctx;
	struct session		*s = NULL;
	struct changeset	 cs = { 0 };
	struct turn_range	 range = { 0, TURN_REAL, CKPT_NONE };
	struct buf		 out = BUF_INIT;
	const char		*dir = NULL;
	char			*cause = NULL;
	size_t			 i;
	int			 c, json = 0, rc = EXIT_ERROR;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "C:", status_options, NULL)) != -1) {
		switch (c) {
		case 'C':
			dir = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'a':
			if (turn_parse_number(optarg, &range.to) != 0)
				return cmd_usage(entry, "--at takes a checkpoint "
				    "number");
			range.set = 1;
			break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (context_session(&ctx, dir, optind < argc ? argv[optind] : NULL,
	    "status", &s) != 0)
		return EXIT_ERROR;
	if (changeset_load(&cs, ctx.store, s, &range, &cause) != 0) {
		log_cause("status", cause);
		goto out;
	}
	if (json)
		buf_addch(&out, '[');
	for (i = 0; i < cs.changes->n; i++) {
		const struct change *ch = &cs.changes->v[i];
		struct status_marks m;

		memset(&m, 0, sizeof m);
		if (!range.set)
			status_marks_of(&m, ctx.store, s, ch, cs.upper);
		if (json) {
			if (i > 0)
				buf_addch(&out, ',');
			status_json_one(&out, ch, s->tree, cs.upper, cs.store,
			    &m);
		} else
			status_text_one(&out, ch, &m);
	}
	if (json)
		buf_addstr(&out, "]\n");
	fwrite(out.data, 1, out.len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("status", "cannot write the output");
		goto out;
	}
	rc = EXIT_OK;
out:
	buf_free(&out);
	changeset_free(&cs);
	if (s != NULL)
		session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "[-C DIR] [--json] [--at N] [ID]",
	.summary = "list what a session changed",
	.help = "Lists the changes of a session (default: the newest of this "
	    "tree) against the\nreal tree, one a line as `git status --short` "
	    "does:\n\n"
	    "  A path    added          D path    deleted\n"
	    "  M path    modified       T path    type changed (file, symlink, "
	    "directory)\n"
	    "  M path (mode 100644 -> 100755)    permissions changed\n\n"
	    "Risky paths (git hooks and config, shell start-up files, CI and "
	    "editor\nsettings, files gaining an exec bit) are marked [risky]. "
	    "Nothing is printed\nwhen nothing changed. Works while the session "
	    "runs and after it ended.\n\n"
	    "  -C DIR   the tree of DIR instead of the current directory's\n"
	    "  --at N   the changes as they were at checkpoint N\n"
	    "  --json   a JSON array of {path, change, approval, hunks, "
	    "approved_hunks,\n           risky, conflict}; a path that is not "
	    "UTF-8 also has path_base64",
	.exec = cmd_status_exec,
};
