#include "config.h"

#include <stdio.h>

#include "core/core.h"

static int
cmd_version_exec(int argc, char **argv)
{
	if (argc > 1)
		return cmd_usage(cmd_find("version"), "takes no arguments");
	printf("%s\n", PACKAGE_STRING);
	return EXIT_OK;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.usage = "",
	.summary = "print airlock's version",
	.help = "Prints the version of airlock (also `airlock --version`).",
	.exec = cmd_version_exec,
};
