/*
 * airlock rollback: make a session's merged view equal one of its
 * checkpoints again. A running session is rolled back by its own airlock
 * (asked through ctl.sock) while the command keeps running; one that does
 * not run has its scratch restored here.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const struct option rollback_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct rollback_args {
	const char *dir;
	uint32_t to;
	const char *which;
};

/* -1 after a usage error, 1 after --help, 0 to go on. */
static int
rollback_parse(int argc, char **argv, struct rollback_args *a)
{
	const struct cmd_entry *entry = cmd_find("rollback");
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:h", rollback_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': a->dir = optarg; break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			return 1;
		default:
			cmd_usage(entry, "unknown or incomplete option '%s'",
			    argv[optind - 1]);
			return -1;
		}
	}
	if (optind == argc) {
		cmd_usage(entry, "which checkpoint? (see airlock log)");
		return -1;
	}
	if (turn_parse_number(argv[optind], &a->to) != 0) {
		cmd_usage(entry, "'%s' is not a checkpoint number",
		    argv[optind]);
		return -1;
	}
	if (argc - optind > 2) {
		cmd_usage(entry, "unexpected argument '%s'", argv[optind + 2]);
		return -1;
	}
	a->which = optind + 1 < argc ? argv[optind + 1] : NULL;
	return 0;
}

/* Through the session's ctl.sock: 0, 1 when it does not run, -1. */
static int
rollback_remote(const struct session *s, uint32_t to, uint32_t *now,
    char **cause)
{
	struct control_reply reply = { 0 };
	AUTOFREE char *request = xasprintf("rollback %u\n", to);
	int rc;

	rc = control_session_call(s, request, &reply, cause);
	if (rc == 0 && reply.status != CONTROL_OK) {
		*cause = reply.why != NULL ? reply.why :
		    xstrdup("the session answered with no checkpoint");
		reply.why = NULL;
		rc = -1;
	}
	*now = reply.number;
	control_reply_free(&reply);
	return rc;
}

static int
rollback_run(struct store *st, struct session *s, uint32_t to)
{
	char *cause = NULL;
	uint32_t now = 0;
	int rc;

	rc = rollback_remote(s, to, &now, &cause);
	if (rc == 1) {
		rc = session_lock(s, &cause);
		if (rc == 0)
			rc = rollback_session(st, s, NULL, to, &now, &cause);
	}
	if (rc != 0) {
		log_cause("rollback", cause);
		return EXIT_ERROR;
	}
	printf("rolled back session %u to checkpoint %u (now checkpoint %u)\n",
	    s->id, to, now);
	return EXIT_OK;
}

static int
cmd_rollback_exec(int argc, char **argv)
{
	struct rollback_args a = { 0 };
	struct context ctx;
	struct session *s;
	int rc;

	if ((rc = rollback_parse(argc, argv, &a)) != 0)
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	if (control_inside()) {
		log_error("rollback", "not available inside the sandbox: the "
		    "user rolls back from outside (agent.sock takes "
		    "checkpoints only)");
		return EXIT_ERROR;
	}
	if (context_session(&ctx, a.dir, a.which, "rollback", &s) != 0)
		return EXIT_ERROR;
	rc = rollback_run(ctx.store, s, a.to);
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_rollback_entry = {
	.name = "rollback",
	.usage = "[-C DIR] N [ID]",
	.summary = "make a session's files equal checkpoint N again",
	.help =
	    "Makes the merged view of session ID (default: the newest of the "
	    "real tree)\nequal checkpoint N: contents, modes, symlinks, deleted "
	    "files back, added ones\ngone, empty directories. Nothing is lost: "
	    "the state before is checkpointed\nfirst when it changed (label "
	    "\"before rollback to N\"), and the result is\nrecorded as a new "
	    "checkpoint (reason \"rollback\"), so a rollback is undone by\n"
	    "rolling back to the checkpoint before it.\n\n"
	    "A running session is rolled back by its own airlock while the "
	    "command keeps\nrunning: only what differs is changed, and "
	    "directories that exist in both\nstates stay (a shell inside keeps "
	    "its working directory). A session that does\nnot run has its "
	    "scratch restored directly.\n\n"
	    "Refuses while a promotion of the session is in progress (it holds "
	    "promote.lock\nin the session's directory). Not available inside "
	    "the sandbox.\n\n"
	    "  -C DIR      use DIR (its git top-level) as the real tree",
	.exec = cmd_rollback_exec,
};
