#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static const struct option gc_options[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_gc_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("gc");
	struct gc_report report = { 0 };
	struct context ctx;
	struct buf out = BUF_INIT;
	const char *dir = NULL;
	char *cause = NULL;
	int c, dry_run = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:n", gc_options, NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'n': dry_run = 1; break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'", argv[optind]);
	if (context_open(&ctx, dir, 0) != 0)
		return EXIT_ERROR;
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
	.usage = "[-C DIR] [--dry-run]",
	.summary = "reclaim store space no checkpoint uses",
	.help = "Removes from the tree's store the content no checkpoint of any "
	    "session refers\nto any more (after discard, or bytes a crash left "
	    "behind), rewrites packs that\nare mostly unused, and reports the "
	    "bytes freed. Every checkpoint of every\nsession that still exists "
	    "is kept. Safe while sessions run.\n\n"
	    "  --dry-run   only report what would be freed",
	.exec = cmd_gc_exec,
};
