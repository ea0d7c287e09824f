#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

/* Prints the list of commands for `airlock --help`. */
static void
main_help(FILE *f)
{
	const struct cmd_entry **entry;

	fprintf(f, "usage: airlock [run] [-C DIR] [--headless] [--name N] "
	    "[--net MODE] [--policy FILE]\n"
	    "               [--resume ID] [--] [CMD...]\n"
	    "       airlock COMMAND [ARGS...]\n\n"
	    "Runs a command (your shell by default) in a sandbox where the "
	    "project tree is\nan overlay: every write lands in a scratch "
	    "layer and the real tree is never\ntouched. Review what changed "
	    "with `airlock status` and `airlock diff`.\n\n"
	    "Commands:\n");
	for (entry = cmd_table; *entry != NULL; entry++)
		fprintf(f, "  %-11s %s\n", (*entry)->name, (*entry)->summary);
	fprintf(f, "\nSee `airlock help COMMAND` and man airlock(1).\n");
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *entry;

	setlocale(LC_CTYPE, "");
	/* Writing past a file size limit is an error (EFBIG) to report, not a
	 * signal that kills airlock mid-checkpoint. The agent gets the default
	 * back (warden-agent.c). */
	signal(SIGXFSZ, SIG_IGN);
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		main_help(stdout);
		return EXIT_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
		return cmd_find("version")->exec(1, (char *[]){ "version", NULL });
	/* `airlock`, `airlock -C dir`, `airlock -- cmd`: all mean run. */
	if (argc < 2 || argv[1][0] == '-')
		return cmd_find("run")->exec(argc, argv);
	entry = cmd_find(argv[1]);
	if (entry == NULL) {
		log_error(argv[1], "unknown command; to run a program in the "
		    "sandbox use `airlock -- %s`", argv[1]);
		fprintf(stderr, "usage: airlock [run] [OPTIONS] [--] [CMD...] | "
		    "airlock COMMAND (see airlock --help)\n");
		return EXIT_USAGE;
	}
	return entry->exec(argc - 1, argv + 1);
}
