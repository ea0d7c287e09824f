/*
 * airlock promote and unpromote: the chosen changes of a session into the
 * real tree, journaled and undoable (promote.c does the work).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const struct option promote_options[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "approved", no_argument, NULL, 'A' },
	{ "include-risky", no_argument, NULL, 'r' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "skip-conflicts", no_argument, NULL, 's' },
	{ "ours", no_argument, NULL, 'o' },
	{ "theirs", no_argument, NULL, 't' },
	{ "session", required_argument, NULL, 'S' },
	{ "list", no_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
promote_print(struct buf *out)
{
	fwrite(out->data, 1, out->len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("promote", "cannot write the output");
		return -1;
	}
	return 0;
}

static int
cmd_promote_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("promote");
	struct promote_options o;
	struct context ctx;
	struct session *s = NULL;
	struct buf out = BUF_INIT;
	const char *dir = NULL, *which = NULL;
	char **paths = NULL, *cause = NULL;
	uint32_t number;
	size_t i, npaths = 0;
	int c, list = 0, rc = EXIT_ERROR, got;

	memset(&o, 0, sizeof o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:h", promote_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'a': o.all = 1; break;
		case 'A': o.approved = 1; break;
		case 'r': o.include_risky = 1; break;
		case 'n': o.dry_run = 1; break;
		case 's': o.skip_conflicts = 1; break;
		case 'o': o.favor = PROMOTE_FAVOR_OURS; break;
		case 't': o.favor = PROMOTE_FAVOR_THEIRS; break;
		case 'S': which = optarg; break;
		case 'l': list = 1; break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			return EXIT_OK;
		default:
			return cmd_usage(entry, "unknown or incomplete option "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (control_inside()) {
		log_error("promote", "not available inside the sandbox: the "
		    "user promotes from outside");
		return EXIT_ERROR;
	}
	/* `promote --all ID`, as the other commands take a session */
	if ((o.all || o.approved) && which == NULL && argc - optind == 1)
		which = argv[optind++];
	if (o.all + o.approved + (optind < argc) > 1 && !list)
		return cmd_usage(entry, "give paths, --approved or --all, "
		    "not several");
	if (!list && !o.all && !o.approved && optind == argc)
		return cmd_usage(entry, "what to promote? give paths, "
		    "--approved or --all");
	if (context_session(&ctx, dir, which, "promote", &s) != 0)
		return EXIT_ERROR;
	if (list) {
		if (promote_list(ctx.store, s, &out, &cause) != 0) {
			log_cause("promote", cause);
			goto out;
		}
		rc = promote_print(&out) == 0 ? EXIT_OK : EXIT_ERROR;
		goto out;
	}
	paths = xreallocarray(NULL, (size_t)(argc - optind) + 1, sizeof *paths);
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if ((paths[npaths] = tree_relative(s->tree, argv[i],
		    &cause)) == NULL) {
			log_cause("promote", cause);
			goto out;
		}
		npaths++;
	}
	o.paths = paths;
	o.npaths = npaths;
	got = promote_session(ctx.store, s, &o, &out, &number, &cause);
	if (promote_print(&out) != 0)
		goto out;
	if (got < 0) {
		log_cause("promote", cause);
		goto out;
	}
	rc = got == PROMOTE_CONFLICT ? EXIT_CONFLICT : EXIT_OK;
out:
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	buf_free(&out);
	if (s != NULL)
		session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_promote_entry = {
	.name = "promote",
	.usage = "[-C DIR] [--session ID] [--dry-run] [--include-risky] "
	    "[--skip-conflicts] [--ours|--theirs] (PATH...|--approved [ID]|"
	    "--all [ID]) | --list",
	.summary = "copy chosen changes into the real tree (undoable)",
	.help =
	    "Copies changes of the session (default: the newest of the real "
	    "tree) into the\nreal tree: those under PATH..., the approved ones "
	    "(`airlock approve`; only the\napproved hunks of a file approved in "
	    "part), or all of them. The session is\ncheckpointed first and the "
	    "promotion copies from that checkpoint: the scratch\nkeeps "
	    "everything, and every checkpoint still restores.\n\n"
	    "Writes never leave the real tree: no symlink is followed, special "
	    "files are\nrefused, setuid and setgid bits dropped. When the real "
	    "file changed since the\nagent first touched it, the change is "
	    "merged three ways; when that conflicts,\nor the real tree changed "
	    "shape under a path, nothing is written and the exit\nstatus is 3 "
	    "(each conflict listed). Risky paths (.git/hooks, .git/config,\n"
	    "shell rc files, CI workflows, editor settings, new exec bits) are "
	    "skipped by\n--all and --approved without --include-risky.\n\n"
	    "Before writing, the real tree's state of every path is kept in the "
	    "store and\nthe plan journaled: an interrupted promotion is "
	    "finished by the next airlock\ncommand, and `airlock unpromote` "
	    "restores the real tree as it was.\n\n"
	    "  --all             every change\n"
	    "  --approved        approved changes and hunks\n"
	    "  --include-risky   risky paths too\n"
	    "  --dry-run         show what would be written, write nothing\n"
	    "  --skip-conflicts  promote the rest when some paths conflict\n"
	    "  --ours            resolve conflicts with the real tree's side\n"
	    "  --theirs          resolve conflicts with the scratch's side\n"
	    "  --session ID      the session to promote from\n"
	    "  --list            list the session's promotions\n"
	    "  -C DIR            use DIR (its git top-level) as the real tree\n\n"
	    "Exit status: 0 done, 1 error, 2 usage, 3 conflicts (nothing "
	    "written).",
	.exec = cmd_promote_exec,
};

static const struct option unpromote_options[] = {
	{ "force", no_argument, NULL, 'f' },
	{ "session", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_unpromote_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("unpromote");
	struct context ctx;
	struct session *s = NULL;
	struct buf out = BUF_INIT;
	const char *dir = NULL, *which = NULL;
	char *cause = NULL;
	uint32_t number = 0;
	int c, force = 0, rc = EXIT_ERROR, got;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:fh", unpromote_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'f': force = 1; break;
		case 'S': which = optarg; break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			return EXIT_OK;
		default:
			return cmd_usage(entry, "unknown or incomplete option "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (optind < argc && (turn_parse_number(argv[optind], &number) != 0 ||
	    number == 0))
		return cmd_usage(entry, "'%s' is not a promotion number "
		    "(see airlock promote --list)", argv[optind]);
	if (control_inside()) {
		log_error("unpromote", "not available inside the sandbox");
		return EXIT_ERROR;
	}
	if (context_session(&ctx, dir, which, "unpromote", &s) != 0)
		return EXIT_ERROR;
	got = unpromote_session(ctx.store, s, number, force, &out, &cause);
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	if (got < 0)
		log_cause("unpromote", cause);
	else
		rc = got == PROMOTE_CONFLICT ? EXIT_CONFLICT : EXIT_OK;
	buf_free(&out);
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_unpromote_entry = {
	.name = "unpromote",
	.usage = "[-C DIR] [--session ID] [--force] [PROMOTION]",
	.summary = "restore the real tree as it was before a promotion",
	.help =
	    "Restores every path promotion PROMOTION (default: the newest not "
	    "undone yet;\n`airlock promote --list` lists them) wrote or removed "
	    "to what the real tree\nhad before it, from the copy kept in the "
	    "store. Refuses, listing them, when\nthe user changed any of those "
	    "paths since, unless --force (what is there then\nis kept in the "
	    "store too: unpromote is itself a promotion, and undoable).\n"
	    "Directories the promotion made are removed only when empty.\n\n"
	    "  --force       restore even the paths changed since\n"
	    "  --session ID  the session the promotion was made from\n"
	    "  -C DIR        use DIR (its git top-level) as the real tree\n\n"
	    "Exit status: 0 done, 1 error, 2 usage, 3 changed since (nothing "
	    "restored).",
	.exec = cmd_unpromote_exec,
};
