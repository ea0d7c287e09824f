/*
 * airlock checkpoint: record a session's scratch now. From another
 * terminal it asks the session's supervisor through ctl.sock, or, when the
 * session does not run, checkpoints the scratch itself; inside the sandbox
 * it asks through agent.sock, the only way the agent has.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const struct option checkpoint_options[] = {
	{ "message", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct checkpoint_args {
	const char *dir;
	const char *label;
	const char *which;
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

/* Prints the outcome; the exit code. */
static int
checkpoint_report(const char *session, int rc, uint32_t number, char *cause)
{
	if (rc < 0) {
		log_cause("checkpoint", cause);
		return EXIT_ERROR;
	}
	if (rc == 1)
		printf("no changes since checkpoint %u\n", number);
	else
		printf("checkpoint %u of session %s\n", number, session);
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
	return checkpoint_report(id, rc, number, cause);
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
	return checkpoint_report(id, rc, number, cause);
}

static int
cmd_checkpoint_exec(int argc, char **argv)
{
	struct checkpoint_args a = { 0 };
	struct context ctx;
	struct session *s;
	AUTOFREE char *request = NULL;
	int rc;

	if ((rc = checkpoint_parse(argc, argv, &a)) != 0)
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	request = a.label != NULL ? xasprintf("checkpoint %s\n", a.label) :
	    xstrdup("checkpoint\n");
	if (control_inside())
		return checkpoint_inside(&a, request);
	if (context_session(&ctx, a.dir, a.which, "checkpoint", &s) != 0)
		return EXIT_ERROR;
	rc = checkpoint_outside(ctx.store, s, a.label, request);
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_checkpoint_entry = {
	.name = "checkpoint",
	.usage = "[-C DIR] [-m LABEL] [ID]",
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
	    "at most 256\n              bytes",
	.exec = cmd_checkpoint_exec,
};
