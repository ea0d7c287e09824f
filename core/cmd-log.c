#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static const struct option log_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 }
};

static void
log_json_one(struct buf *out, const struct ckpt *c)
{
	buf_printf(out, "{\"number\":%u,\"time\":", c->number);
	json_time(out, c->time);
	buf_addstr(out, ",\"reason\":");
	json_string(out, c->reason, strlen(c->reason));
	buf_addstr(out, ",\"label\":");
	if (c->label != NULL)
		json_string(out, c->label, strlen(c->label));
	else
		buf_addstr(out, "null");
	buf_printf(out, ",\"added\":%llu,\"modified\":%llu,\"deleted\":%llu,"
	    "\"bytes\":%llu}", (unsigned long long)c->added,
	    (unsigned long long)c->modified, (unsigned long long)c->deleted,
	    (unsigned long long)c->bytes);
}

static void
log_text_one(struct buf *out, const struct ckpt *c)
{
	char when[32], added[24], modified[24], deleted[24];
	time_t t = (time_t)c->time;
	struct tm tm;
	struct buf size = BUF_INIT;

	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	log_bytes(&size, c->bytes);
	snprintf(added, sizeof added, "+%llu", (unsigned long long)c->added);
	snprintf(modified, sizeof modified, "~%llu",
	    (unsigned long long)c->modified);
	snprintf(deleted, sizeof deleted, "-%llu",
	    (unsigned long long)c->deleted);
	buf_printf(out, "%4u  %s  %-9s %6s %6s %6s %10s", c->number, when,
	    c->reason, added, modified, deleted, size.data);
	if (c->restored_from != CKPT_NONE)
		buf_printf(out, "  = %u", c->restored_from);
	if (c->label != NULL) {
		buf_addstr(out, "  ");
		quote_path(out, c->label, strlen(c->label), 0);
	}
	buf_addch(out, '\n');
	buf_free(&size);
}

static int
cmd_log_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("log");
	struct context ctx;
	struct session *s = NULL;
	struct ckpt *v = NULL;
	struct buf out = BUF_INIT;
	const char *dir = NULL;
	char *cause = NULL;
	size_t n = 0, i;
	int c, json = 0, rc = EXIT_ERROR;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:", log_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'j': json = 1; break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind + 1]);
	if (context_session(&ctx, dir, optind < argc ? argv[optind] : NULL,
	    "log", &s) != 0)
		return EXIT_ERROR;
	if (checkpoint_list(ctx.store, s->id, &v, &n, &cause) != 0) {
		log_cause("log", cause);
		goto out;
	}
	if (json)
		buf_addch(&out, '[');
	else if (n > 0)
		buf_printf(&out, "%4s  %-19s  %-9s %6s %6s %6s %10s\n", "#",
		    "TIME", "REASON", "ADDED", "MOD", "DEL", "STORED");
	for (i = 0; i < n; i++) {
		if (json && i > 0)
			buf_addch(&out, ',');
		if (json)
			log_json_one(&out, &v[i]);
		else
			log_text_one(&out, &v[i]);
	}
	if (json)
		buf_addstr(&out, "]\n");
	fwrite(out.data, 1, out.len, stdout);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
out:
	for (i = 0; i < n; i++)
		ckpt_free(&v[i]);
	free(v);
	buf_free(&out);
	session_free(s);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_log_entry = {
	.name = "log",
	.usage = "[-C DIR] [--json] [ID]",
	.summary = "list the checkpoints of a session",
	.help = "Lists the checkpoints of a session (default: the newest of "
	    "this tree), oldest\nfirst: number, time, why it was taken (start, "
	    "exit, agent, user, rollback,\nresume), what that turn changed "
	    "against the checkpoint before (+added\n~modified -deleted), the "
	    "bytes it added to the store, the checkpoint a\nrollback restored "
	    "(= N) and its label.\n\n"
	    "  --json   a JSON array of {number, time, reason, label, added, "
	    "modified,\n           deleted, bytes}; times in RFC 3339 UTC",
	.exec = cmd_log_exec,
};
