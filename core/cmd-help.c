#include "config.h"

#include <stdio.h>

#include "core/core.h"

static int
cmd_help_exec(int argc, char **argv)
{
	const struct cmd_entry **e, *entry;

	if (argc > 2)
		return cmd_usage(cmd_find("help"), "too many arguments");
	if (argc < 2) {
		printf("usage: airlock COMMAND [ARGS...]\n\nCommands:\n");
		for (e = cmd_table; *e != NULL; e++)
			printf("  %-11s %s\n", (*e)->name, (*e)->summary);
		printf("\nSee `airlock help COMMAND` and man airlock(1).\n");
		return EXIT_OK;
	}
	entry = cmd_find(argv[1]);
	if (entry == NULL) {
		log_error("help", "unknown command '%s' (see airlock --help)",
		    argv[1]);
		return EXIT_USAGE;
	}
	printf("usage: airlock %s %s\n\n%s\n", entry->name, entry->usage,
	    entry->help);
	return EXIT_OK;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.usage = "[COMMAND]",
	.summary = "show the help of a command",
	.help = "Shows the usage and description of COMMAND, or lists the "
	    "commands.",
	.exec = cmd_help_exec,
};
