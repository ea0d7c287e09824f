#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* An interrupted promotion is finished before anything else looks at the
 * tree; one that cannot be is reported each time, never silently left. */
static void
context_recover(struct context *ctx)
{
	struct buf out = BUF_INIT;
	char *cause = NULL;

	if (promote_recover(ctx->store, &out, &cause) != 0) {
		fwrite(out.data, 1, out.len, stderr);
		log_error("promote", "an interrupted promotion could not be "
		    "finished: %s (the real tree is partly promoted; see "
		    "airlock promote --list)", cause);
		free(cause);
	} else
		fwrite(out.data, 1, out.len, stderr);
	buf_free(&out);
}

int
context_open(struct context *ctx, const char *dir, int create)
{
	char *cause = NULL, *sdir;
	int rc;

	memset(ctx, 0, sizeof *ctx);
	ctx->tree = tree_find(dir, &cause);
	if (ctx->tree == NULL) {
		log_error(dir != NULL ? "-C" : "tree", "%s", cause);
		free(cause);
		return -1;
	}
	ctx->store_root = store_root(&cause);
	if (ctx->store_root == NULL) {
		log_cause("store", cause);
		context_close(ctx);
		return -1;
	}
	sdir = store_dir_for_tree(ctx->store_root, ctx->tree);
	rc = store_open(sdir, create, &ctx->store, &cause);
	free(sdir);
	if (rc == 1) {
		log_error("store", "no sessions yet for %s (start one with "
		    "airlock run)", ctx->tree);
		context_close(ctx);
		return -1;
	}
	if (rc != 0) {
		log_cause("store", cause);
		context_close(ctx);
		return -1;
	}
	context_recover(ctx);
	return 0;
}

int
context_session(struct context *ctx, const char *dir, const char *which,
    const char *what, struct session **s)
{
	char *cause = NULL;

	if (context_open(ctx, dir, 0) != 0)
		return -1;
	if (session_find(ctx->store, which, s, &cause) != 0) {
		log_cause(what, cause);
		context_close(ctx);
		return -1;
	}
	return 0;
}

void
context_close(struct context *ctx)
{
	store_close(ctx->store);
	free(ctx->tree);
	free(ctx->store_root);
	memset(ctx, 0, sizeof *ctx);
}
