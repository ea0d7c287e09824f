#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static const struct option gc_options[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "prune-ended", required_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 }
};

/*
 * Retention for sessions that ended: those that ended at least days ago
 * keep only their newest checkpoint (what their scratch holds; bases and
 * promotion records stay). Running sessions keep everything.
 */
static int
gc_prune_ended(struct store *st, long days, int dry_run, struct buf *out)
{
	struct session **v = NULL;
	char *cause = NULL;
	size_t n = 0, i;
	int64_t now = time(NULL);
	uint32_t kept, dropped;
	int rc = 0;

	if (session_list(st, &v, &n, &cause) != 0) {
		log_cause("gc", cause);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct session *s = v[i];

		if (s->state == SESSION_RUNNING || s->ended == 0 ||
		    now - s->ended < (int64_t)days * 86400)
			continue;
		if (dry_run) {
			buf_printf(out, "would prune session %u to its newest "
			    "checkpoint\n", s->id);
			continue;
		}
		/* the run lock: a session resumed meanwhile is left alone */
		if (session_lock(s, &cause) != 0) {
			free(cause);
			cause = NULL;
			continue;
		}
		if (checkpoint_prune(st, s->id, &kept, &dropped, &cause) != 0) {
			log_cause("gc", cause);
			cause = NULL;
			rc = -1;
		} else if (dropped > 0)
			buf_printf(out, "session %u: kept checkpoint %u, dropped "
			    "%u older one%s\n", s->id, kept, dropped,
			    dropped == 1 ? "" : "s");
	}
	for (i = 0; i < n; i++)
		session_free(v[i]);
	free(v);
	return rc;
}

static int
cmd_gc_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("gc");
	struct gc_report report = { 0 };
	struct context ctx;
	struct buf out = BUF_INIT;
	const char *dir = NULL;
	char *cause = NULL;
	char *end;
	long days = -1;
	int c, dry_run = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:n", gc_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'n': dry_run = 1; break;
		case 'p':
			days = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || days < 0 ||
			    days > 100000)
				return cmd_usage(entry, "--prune-ended takes a "
				    "number of days (0: every ended session)");
			break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'", argv[optind]);
	if (context_open(&ctx, dir, 0) != 0)
		return EXIT_ERROR;
	if (days >= 0 && gc_prune_ended(ctx.store, days, dry_run, &out) != 0) {
		fwrite(out.data, 1, out.len, stdout);
		buf_free(&out);
		context_close(&ctx);
		return EXIT_ERROR;
	}
	if (store_gc(ctx.store, dry_run, &report, &cause) != 0) {
		log_cause("gc", cause);
		context_close(&ctx);
		return EXIT_ERROR;
	}
	buf_addstr(&out, dry_run ? "would free " : "freed ");
	log_bytes(&out, report.bytes);
	buf_printf(&out, " (%llu unreferenced blob%s, %llu pack%s rewritten, "
	    "%llu removed)\n", (unsigned long long)report.blobs,
	    report.blobs == 1 ? "" : "s",
	    (unsigned long long)report.packs_rewritten,
	    report.packs_rewritten == 1 ? "" : "s",
	    (unsigned long long)report.packs_removed);
	fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	context_close(&ctx);
	return EXIT_OK;
}

const struct cmd_entry cmd_gc_entry = {
	.name = "gc",
	.usage = "[-C DIR] [--dry-run] [--prune-ended DAYS]",
	.summary = "reclaim store space no checkpoint uses",
	.help = "Removes from the tree's store the content no checkpoint of any "
	    "session refers\nto any more (after discard, or bytes a crash left "
	    "behind), rewrites packs that\nare mostly unused, and reports the "
	    "bytes freed. Every checkpoint of every\nsession that still exists "
	    "is kept unless --prune-ended says otherwise. Safe while sessions "
	    "run.\n\n"
	    "  --dry-run            only report what would be done\n"
	    "  --prune-ended DAYS   sessions that ended DAYS days ago or more "
	    "(0: all that\n                       ended) keep only their newest "
	    "checkpoint; running sessions\n                       keep every "
	    "checkpoint",
	.exec = cmd_gc_exec,
};
