#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static const struct option discard_options[] = {
	{ "yes", no_argument, NULL, 'y' },
	{ NULL, 0, NULL, 0 }
};

/* Asks on the terminal; 1 for yes. */
static int
discard_confirm(const struct session *s, long changes)
{
	char line[16];
	FILE *tty;
	int yes;

	tty = fopen("/dev/tty", "r+");
	if (tty == NULL)
		return -1;
	fprintf(tty, "Discard session %u", s->id);
	if (s->name != NULL)
		fprintf(tty, " (%s)", s->name);
	if (changes >= 0)
		fprintf(tty, " and its %ld unpromoted change%s", changes,
		    changes == 1 ? "" : "s");
	fprintf(tty, "? [y/N] ");
	fflush(tty);
	yes = fgets(line, sizeof line, tty) != NULL &&
	    (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}

static int
cmd_discard_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("discard");
	struct context ctx;
	struct session *s;
	const char *dir = NULL;
	char *cause = NULL;
	int c, yes = 0, rc = EXIT_ERROR, answer;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:y", discard_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'y': yes = 1; break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (context_session(&ctx, dir, optind < argc ? argv[optind] : NULL,
	    "discard", &s) != 0)
		return EXIT_ERROR;
	if (s->state == SESSION_RUNNING) {
		log_error("discard", "session %u is running; end it first", s->id);
		goto out;
	}
	if (!yes) {
		answer = discard_confirm(s, session_count_changes(s));
		if (answer < 0) {
			log_error("discard", "no terminal to ask on: pass --yes to "
			    "discard session %u", s->id);
			goto out;
		}
		if (answer == 0) {
			fprintf(stderr, "airlock: discard: kept session %u\n", s->id);
			goto out;
		}
	}
	if (session_discard(ctx.store, s, &cause) != 0) {
		log_cause("discard", cause);
		goto out;
	}
	printf("discarded session %u\n", s->id);
	rc = EXIT_OK;
out:
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_discard_entry = {
	.name = "discard",
	.usage = "[-C DIR] [--yes] [ID]",
	.summary = "remove a session's scratch and record",
	.help = "Removes the scratch (everything the command changed) and the "
	    "record of a\nsession (default: the newest). The real tree is not "
	    "touched. Asks first on the\nterminal unless --yes is given; refuses "
	    "while the session runs.",
	.exec = cmd_discard_exec,
};
