/*
 * airlock net: the connection log of a session started with --net allow:
 * every connection its proxy allowed or refused.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

static int cmd_net_exec(int, char **);

const struct cmd_entry cmd_net_entry = {
	.name = "net",
	.usage = "[-C DIR] [--json] [--refused] [ID]",
	.summary = "list the connections of a --net allow session",
	.help =
	    "Lists the connections the proxy of a session started with --net "
	    "allow saw (default:\nthe newest session of the real tree): when, "
	    "host and port as the command asked,\nallowed or refused (and why), "
	    "bytes each way, how long. --json prints a JSON\narray of objects "
	    "{time, host, port, allowed, via, why, sent, received,\n"
	    "duration_ms}.\n\n"
	    "  --json       for scripts\n"
	    "  --refused    only the refused ones\n"
	    "  -C DIR       use DIR (its git top-level) as the real tree",
	.exec = cmd_net_exec,
};

static const struct option net_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "refused", no_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void
net_line(struct buf *out, const struct proxy_event *ev)
{
	struct tm tm;
	time_t t = (time_t)(ev->start / 1000);
	char when[32];

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	buf_printf(out, "%s  %-7s  ", when, ev->allowed ? "allowed" :
	    "refused");
	if (ev->host != NULL)
		quote_path(out, ev->host, strlen(ev->host), 0);
	else
		buf_addch(out, '?');
	buf_printf(out, ":%u  %s", ev->port, ev->via);
	if (ev->allowed || ev->sent > 0 || ev->received > 0) {
		buf_addstr(out, "  ");
		log_bytes(out, ev->sent);
		buf_addstr(out, " up, ");
		log_bytes(out, ev->received);
		buf_printf(out, " down, %lld ms", (long long)ev->duration_ms);
	}
	if (ev->why != NULL) {
		buf_addstr(out, "  (");
		quote_path(out, ev->why, strlen(ev->why), QUOTE_SPACE);
		buf_addstr(out, ")");
	}
	buf_addch(out, '\n');
}

static int
cmd_net_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_net_entry;
	struct proxy_event *v = NULL;
	struct context ctx;
	struct session *s = NULL;
	struct buf out = BUF_INIT;
	const char *dir = NULL, *which = NULL;
	char *cause = NULL, *log;
	size_t n = 0, i, shown = 0;
	int c, json = 0, refused = 0, rc = EXIT_ERROR;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:h", net_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'j': json = 1; break;
		case 'r': refused = 1; break;
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
	if (optind < argc)
		which = argv[optind];
	if (context_session(&ctx, dir, which, "net", &s) != 0)
		return EXIT_ERROR;
	log = path_join(s->dir, PROXY_LOG);
	if (access(log, F_OK) == 0 && proxy_log_read(log, &v, &n,
	    &cause) < 0) {
		log_cause("net", cause);
		goto out;
	}
	if (json)
		buf_addch(&out, '[');
	for (i = 0; i < n; i++) {
		if (refused && v[i].allowed)
			continue;
		if (json) {
			buf_addstr(&out, shown > 0 ? ",\n" : "\n");
			proxy_event_json(&out, &v[i]);
		} else
			net_line(&out, &v[i]);
		shown++;
	}
	if (json)
		buf_addstr(&out, shown > 0 ? "\n]\n" : "]\n");
	else if (n == 0)
		buf_printf(&out, "no connections%s\n", s->net == NET_ALLOW ?
		    "" : " (the session did not run with --net allow)");
	fwrite(out.data, 1, out.len, stdout);
	rc = EXIT_OK;
out:
	for (i = 0; i < n; i++)
		proxy_event_free(&v[i]);
	free(v);
	free(log);
	buf_free(&out);
	session_free(s);
	context_close(&ctx);
	return rc;
}
