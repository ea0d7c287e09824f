/*
 * airlock checkpoint: record a session's scratch now. From another
 * terminal it asks the session's supervisor through ctl.sock, or, when the
 * session does not run, checkpoints the scratch itself; inside the sandbox
 * it asks through agent.sock, the only way the agent has.
 *
 * --from-hook is the form an agent's end-of-turn hook runs (airlock hooks):
 * the hook's runner may append arguments, may read standard output as its
 * own protocol, and takes exit status 2 as "go on with the turn", so that
 * form ignores operands, reports on standard error only, never exits 2,
 * and does nothing outside a sandbox.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const struct option checkpoint_options[] = {
	{ "message", required_argument, NULL, 'm' },
	{ "from-hook", no_argument, NULL, 'H' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct checkpoint_args {
	const char *dir;
	const char *label;
	const char *which;
	int from_hook;
};

static const struct cmd_entry *
checkpoint_entry(void)
{
	return cmd_find("checkpoint");
}

/* -1 after a usage error, 1 after --help, 0 to go on. */
static int
checkpoint_parse(int argc, char **argv, struct checkpoint_args *a)
{
	const struct cmd_entry *entry = checkpoint_entry();
	char *cause = NULL;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:m:h", checkpoint_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': a->dir = optarg; break;
		case 'm': a->label = optarg; break;
		case 'H': a->from_hook = 1; break;
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
	if (a->from_hook)
		optind = argc;  /* what the agent appended */
	if (argc - optind > 1) {
		cmd_usage(entry, "unexpected argument '%s'", argv[optind + 1]);
		return -1;
	}
	a->which = optind < argc ? argv[optind] : NULL;
	if (a->label != NULL &&
	    control_label_check(a->label, strlen(a->label), &cause) != 0) {
		cmd_usage(entry, "-m: %s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* Prints the outcome to out; the exit code. */
static int
checkpoint_report(FILE *out, const char *session, int rc, uint32_t number,
    char *cause)
{
	if (rc < 0) {
		log_cause("checkpoint", cause);
		return EXIT_ERROR;
	}
	if (rc == 1)
		fprintf(out, "no changes since checkpoint %u\n", number);
	else
		fprintf(out, "checkpoint %u of session %s\n", number, session);
	return EXIT_OK;
}

/* The reply of a supervisor, as session_checkpoint would return it. */
static int
checkpoint_reply(struct control_reply *reply, uint32_t *number, char **cause)
{
	*number = reply->number;
	switch (reply->status) {
	case CONTROL_OK:
		return 0;
	case CONTROL_UNCHANGED:
		return 1;
	case CONTROL_FAILED:
		break;
	}
	*cause = reply->why;
	reply->why = NULL;
	return -1;
}

/* Inside the sandbox: the agent's request, through agent.sock. */
static int
checkpoint_inside(const struct checkpoint_args *a, const char *request)
{
	const char *id = getenv("AIRLOCK_SESSION");
	struct control_reply reply = { 0 };
	char *cause = NULL;
	uint32_t number = 0;
	int rc;

	if (a->which != NULL && strcmp(a->which, id) != 0) {
		log_error("checkpoint", "inside the sandbox only this session "
		    "(%s) can be checkpointed", id);
		return EXIT_ERROR;
	}
	rc = control_call(SANDBOX_AGENT_SOCK, request, &reply, &cause);
	if (rc == 1)
		cause = xstrdup(SANDBOX_AGENT_SOCK " does not answer: the "
		    "session's airlock is gone");
	else if (rc == 0)
		rc = checkpoint_reply(&reply, &number, &cause);
	control_reply_free(&reply);
	return checkpoint_report(a->from_hook ? stderr : stdout, id, rc,
	    number, cause);
}

/* From outside: through ctl.sock, else on the store under the lock. */
static int
checkpoint_outside(struct store *st, struct session *s, const char *label,
    const char *request)
{
	struct control_reply reply = { 0 };
	struct ckpt_options o;
	AUTOFREE char *id = xasprintf("%u", s->id);
	char *cause = NULL;
	uint32_t number = 0;
	int rc;

	rc = control_session_call(s, request, &reply, &cause);
	if (rc == 0)
		rc = checkpoint_reply(&reply, &number, &cause);
	else if (rc == 1) {
		memset(&o, 0, sizeof o);
		o.reason = "user";
		o.label = label;
		o.threads = session_checkpoint_threads();
		o.restored_from = CKPT_NONE;
		rc = session_lock(s, &cause);
		if (rc == 0)
			rc = session_checkpoint(st, s, &o, &number, NULL, &cause);
	}
	control_reply_free(&reply);
	return checkpoint_report(stdout, id, rc, number, cause);
}

/* 1 when argv asks for the hook's form (before any "--"). */
static int
checkpoint_from_hook(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--from-hook") == 0)
			return 1;
	}
	return 0;
}

static int
cmd_checkpoint_exec(int argc, char **argv)
{
	struct checkpoint_args a = { 0 };
	struct context ctx;
	struct session *s;
	AUTOFREE char *request = NULL;
	int rc;

	if ((rc = checkpoint_parse(argc, argv, &a)) != 0) {
		if (rc > 0)
			return EXIT_OK;
		/* 2 would tell the agent to go on with its turn. */
		return checkpoint_from_hook(argc, argv) ? EXIT_ERROR :
		    EXIT_USAGE;
	}
	request = a.label != NULL ? xasprintf("checkpoint %s\n", a.label) :
	    xstrdup("checkpoint\n");
	if (control_inside())
		return checkpoint_inside(&a, request);
	if (a.from_hook) {
		log_error("checkpoint", "not inside an airlock sandbox: nothing "
		    "to checkpoint (--from-hook)");
		return EXIT_ERROR;
	}
	if (context_session(&ctx, a.dir, a.which, "checkpoint", &s) != 0)
		return EXIT_ERROR;
	rc = checkpoint_outside(ctx.store, s, a.label, request);
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_checkpoint_entry = {
	.name = "checkpoint",
	.usage = "[-C DIR] [-m LABEL] [ID] | --from-hook [-m LABEL] [ARG...]",
	.summary = "record a session's scratch as a new checkpoint",
	.help =
	    "Records the scratch of session ID (default: the newest of the real "
	    "tree) as a\nnew checkpoint, with reason \"user\" and LABEL when "
	    "given. When nothing changed\nsince the last checkpoint, none is "
	    "made and airlock says so (exit 0).\n\n"
	    "A running session is checkpointed by its own airlock, asked "
	    "through the\nsession's ctl.sock; one that does not run is "
	    "checkpointed directly.\n\n"
	    "Inside the sandbox, the command asks the session's airlock through "
	    "\n/run/airlock/agent.sock (reason \"agent\"), so an agent can mark "
	    "the end of each\nturn. Requests there are rate limited (a burst "
	    "of 5, then one a second).\n\n"
	    "  -C DIR      use DIR (its git top-level) as the real tree\n"
	    "  -m LABEL    a label for the checkpoint: one line of UTF-8 text, "
	    "at most 256\n              bytes\n"
	    "  --from-hook the form for an agent's end-of-turn hook (airlock "
	    "hooks): ignores\n              the ARGs the agent appends, "
	    "prints nothing on standard output,\n              never exits 2 "
	    "(usage errors exit 1), and outside a sandbox\n              "
	    "does nothing and exits 1",
	.exec = cmd_checkpoint_exec,
};
