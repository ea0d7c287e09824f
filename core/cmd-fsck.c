#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static int
cmd_fsck_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = cmd_find("fsck");
	struct context ctx;
	struct buf problems = BUF_INIT;
	const char *dir = NULL;
	char *cause = NULL;
	int c, n;

	opterr = 0;
	optind = 1;
	while ((c = getopt(argc, argv, "C:")) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		default:
			return cmd_usage(entry, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'", argv[optind]);
	if (context_open(&ctx, dir, 0) != 0)
		return EXIT_ERROR;
	n = store_fsck(ctx.store, &problems, &cause);
	if (n < 0) {
		log_cause("fsck", cause);
		buf_free(&problems);
		context_close(&ctx);
		return EXIT_ERROR;
	}
	fwrite(problems.data, 1, problems.len, n > 0 ? stderr : stdout);
	if (n > 0)
		log_error("fsck", "%d problem%s in the store %s", n,
		    n == 1 ? "" : "s", ctx.store->dir);
	else
		printf("the store %s is consistent\n", ctx.store->dir);
	buf_free(&problems);
	context_close(&ctx);
	return n > 0 ? EXIT_ERROR : EXIT_OK;
}

const struct cmd_entry cmd_fsck_entry = {
	.name = "fsck",
	.usage = "[-C DIR]",
	.summary = "verify the store of this tree",
	.help = "Reads every stored blob and checks it against its SHA-256, and "
	    "checks that\nevery checkpoint's manifest refers only to blobs that "
	    "exist. Prints each\nproblem (naming the session, checkpoint and "
	    "path whose content is lost) and\nexits 1 when there is any. Bytes "
	    "that no checkpoint refers to (left by a\ncrash) are reported as a "
	    "note: `airlock gc` reclaims them.",
	.exec = cmd_fsck_exec,
};
