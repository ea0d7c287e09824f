#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static const struct option list_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 }
};

/* The argv as one line a shell would read back. */
static void
list_command(struct buf *out, char *const *argv)
{
	for (size_t i = 0; argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (i > 0)
			buf_addch(out, ' ');
		if (a[0] != '\0' && strspn(a, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
		    strlen(a)) {
			buf_addstr(out, a);
			continue;
		}
		buf_addch(out, '\'');
		for (; *a != '\0'; a++) {
			if (*a == '\'')
				buf_addstr(out, "'\\''");
			else
				buf_addch(out, *a);
		}
		buf_addch(out, '\'');
	}
}

/* The number of checkpoints of a session, or -1 when unreadable. */
static long
list_count_checkpoints(struct store *st, const struct session *s)
{
	struct ckpt *v = NULL;
	size_t n = 0, i;
	char *cause = NULL;

	if (checkpoint_list(st, s->id, &v, &n, &cause) != 0) {
		free(cause);
		return -1;
	}
	for (i = 0; i < n; i++)
		ckpt_free(&v[i]);
	free(v);
	return (long)n;
}

static void
list_json_one(struct buf *out, const struct session *s, long changes,
    long checkpoints)
{
	buf_printf(out, "{\"id\":%u,\"name\":", s->id);
	if (s->name != NULL)
		json_string(out, s->name, strlen(s->name));
	else
		buf_addstr(out, "null");
	buf_addstr(out, ",\"tree\":");
	json_string(out, s->tree, strlen(s->tree));
	buf_addstr(out, ",\"command\":[");
	for (size_t i = 0; s->argv[i] != NULL; i++) {
		if (i > 0)
			buf_addch(out, ',');
		json_string(out, s->argv[i], strlen(s->argv[i]));
	}
	buf_printf(out, "],\"state\":\"%s\",\"exit_status\":",
	    session_state_name(s));
	if (s->state == SESSION_EXITED && s->exit_status >= 0)
		buf_printf(out, "%d", s->exit_status);
	else
		buf_addstr(out, "null");
	buf_addstr(out, ",\"started\":");
	json_time(out, s->started);
	buf_addstr(out, ",\"ended\":");
	json_time(out, s->state == SESSION_RUNNING ? 0 : s->ended);
	buf_addstr(out, ",\"checkpoints\":");
	if (checkpoints >= 0)
		buf_printf(out, "%ld", checkpoints);
	else
		buf_addstr(out, "null");
	buf_addstr(out, ",\"changes\":");
	if (changes >= 0)
		buf_printf(out, "%ld}", changes);
	else
		buf_addstr(out, "null}");
}

static void
list_text_one(struct buf *out, const struct session *s, long changes)
{
	char when[32], state[32];
	time_t t = (time_t)s->started;
	struct tm tm;

	strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
	if (s->state == SESSION_EXITED && s->exit_status >= 0)
		snprintf(state, sizeof state, "exited(%d)", s->exit_status);
	else
		snprintf(state, sizeof state, "%s", session_state_name(s));
	buf_printf(out, "%-4u %-12s %-11s %-16s ", s->id,
	    s->name != NULL ? s->name : "-", state, when);
	if (changes >= 0)
		buf_printf(out, "%7ld  ", changes);
	else
		buf_addstr(out, "      ?  ");
	list_command(out, s->argv);
	buf_addch(out, '\n');
}

static int
cmd_list_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("list");
	struct context ctx;
	struct session **v = NULL;
	struct buf out = BUF_INIT;
	const char *dir = NULL;
	char *cause = NULL;
	size_t n = 0;
	int c, json = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:", list_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'j': json = 1; break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'", argv[optind]);
	if (context_open(&ctx, dir, 1) != 0)
		return EXIT_ERROR;
	if (session_list(ctx.store, &v, &n, &cause) != 0) {
		log_cause("list", cause);
		context_close(&ctx);
		return EXIT_ERROR;
	}
	if (json)
		buf_addch(&out, '[');
	else if (n > 0)
		buf_printf(&out, "%-4s %-12s %-11s %-16s %7s  %s\n", "ID", "NAME",
		    "STATE", "STARTED", "CHANGES", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		long changes = session_count_changes(v[i]);

		if (json && i > 0)
			buf_addch(&out, ',');
		if (json)
			list_json_one(&out, v[i], changes,
			    list_count_checkpoints(ctx.store, v[i]));
		else
			list_text_one(&out, v[i], changes);
		session_free(v[i]);
	}
	if (json)
		buf_addstr(&out, "]\n");
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	free(v);
	context_close(&ctx);
	return EXIT_OK;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.usage = "[-C DIR] [--json]",
	.summary = "list the sessions of this tree",
	.help = "Lists the sessions of the real tree: id, name, state (running, "
	    "exited with its\nstatus, or crashed when airlock died), start "
	    "time, number of changes and command.\n\n"
	    "  --json   a JSON array of {id, name, tree, command, state, "
	    "exit_status,\n           started, ended, checkpoints, changes}; "
	    "times in RFC 3339 UTC",
	.exec = cmd_list_exec,
};
