/*
 * The command table: one entry per cmd-*.c file, in the order `airlock
 * --help` lists them.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_diff_entry;
extern const struct cmd_entry cmd_discard_entry;
extern const struct cmd_entry cmd_log_entry;
extern const struct cmd_entry cmd_checkpoint_entry;
extern const struct cmd_entry cmd_rollback_entry;
extern const struct cmd_entry cmd_approve_entry;
extern const struct cmd_entry cmd_unapprove_entry;
extern const struct cmd_entry cmd_reject_entry;
extern const struct cmd_entry cmd_promote_entry;
extern const struct cmd_entry cmd_unpromote_entry;
extern const struct cmd_entry cmd_review_entry;   /* tui/cmd-review.c */
extern const struct cmd_entry cmd_gc_entry;
extern const struct cmd_entry cmd_fsck_entry;
extern const struct cmd_entry cmd_policy_entry;
extern const struct cmd_entry cmd_connect_entry;
extern const struct cmd_entry cmd_net_entry;
extern const struct cmd_entry cmd_keys_entry;   /* tui/cmd-keys.c */
extern const struct cmd_entry cmd_hooks_entry;
extern const struct cmd_entry cmd_version_entry;
extern const struct cmd_entry cmd_help_entry;

const struct cmd_entry *cmd_table[] = {
	&cmd_run_entry,
	&cmd_list_entry,
	&cmd_status_entry,
	&cmd_diff_entry,
	&cmd_log_entry,
	&cmd_checkpoint_entry,
	&cmd_rollback_entry,
	&cmd_approve_entry,
	&cmd_unapprove_entry,
	&cmd_reject_entry,
	&cmd_promote_entry,
	&cmd_unpromote_entry,
	&cmd_review_entry,
	&cmd_discard_entry,
	&cmd_gc_entry,
	&cmd_fsck_entry,
	&cmd_policy_entry,
	&cmd_net_entry,
	&cmd_connect_entry,
	&cmd_keys_entry,
	&cmd_hooks_entry,
	&cmd_version_entry,
	&cmd_help_entry,
	NULL
};

const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry **entry;

	for (entry = cmd_table; *entry != NULL; entry++) {
		if (strcmp((*entry)->name, name) == 0)
			return *entry;
	}
	return NULL;
}

int
cmd_usage(const struct cmd_entry *entry, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_error(entry->name, "%s", b.data);
	fprintf(stderr, "usage: airlock %s %s\n", entry->name, entry->usage);
	buf_free(&b);
	return EXIT_USAGE;
}
