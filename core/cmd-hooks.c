/*
 * airlock hooks: prints the configuration that makes an agent call `airlock
 * checkpoint` at the end of each of its turns (design §6). The
 * configuration goes to standard output, ready to parse; where to put it
 * goes to standard error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static int cmd_hooks_exec(int, char **);

const struct cmd_entry cmd_hooks_entry = {
	.name = "hooks",
	.usage = "claude|gemini|codex",
	.summary = "print the hook that checkpoints each agent turn",
	.help =
	    "Prints the configuration that makes the agent run `airlock "
	    "checkpoint\n--from-hook` at the end of every turn, so each turn "
	    "ends in a checkpoint\n(reason \"agent\"), and says on standard "
	    "error where to put it:\n\n"
	    "  claude   a Stop hook for .claude/settings.json (JSON)\n"
	    "  gemini   an AfterAgent hook for .gemini/settings.json (JSON)\n"
	    "  codex    a notify program for ~/.codex/config.toml (TOML)\n\n"
	    "Merge it with what the file holds already. Inside an airlock "
	    "sandbox the\ncommand asks the session's airlock for a checkpoint; "
	    "outside one it does\nnothing and fails harmlessly (exit 1, \"not "
	    "inside an airlock sandbox\"), which\nthe agents report and "
	    "ignore. --from-hook keeps standard output empty, ignores\nthe "
	    "arguments an agent appends (Codex adds one, in JSON) and never "
	    "exits 2,\nwhich Claude Code and Gemini CLI would take as a "
	    "request to go on with the turn.",
	.exec = cmd_hooks_exec,
};

static const struct hooks_agent {
	const char *name;
	const char *config;   /* standard output */
	const char *where;    /* standard error */
} hooks_agents[] = {
	{
		.name = "claude",
		.config =
		    "{\n"
		    "  \"hooks\": {\n"
		    "    \"Stop\": [\n"
		    "      {\n"
		    "        \"hooks\": [\n"
		    "          {\n"
		    "            \"type\": \"command\",\n"
		    "            \"command\": \"airlock checkpoint --from-hook "
		    "-m 'claude turn'\"\n"
		    "          }\n"
		    "        ]\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n",
		.where =
		    "Claude Code: merge this into .claude/settings.json in the "
		    "project (or\n~/.claude/settings.json for every project). "
		    "Claude Code runs Stop hooks when\nit finishes a turn.\n",
	},
	{
		.name = "gemini",
		.config =
		    "{\n"
		    "  \"hooks\": {\n"
		    "    \"AfterAgent\": [\n"
		    "      {\n"
		    "        \"hooks\": [\n"
		    "          {\n"
		    "            \"name\": \"airlock-checkpoint\",\n"
		    "            \"type\": \"command\",\n"
		    "            \"command\": \"airlock checkpoint --from-hook "
		    "-m 'gemini turn'\"\n"
		    "          }\n"
		    "        ]\n"
		    "      }\n"
		    "    ]\n"
		    "  }\n"
		    "}\n",
		.where =
		    "Gemini CLI: merge this into .gemini/settings.json in the "
		    "project (or\n~/.gemini/settings.json for every project). "
		    "Gemini CLI runs AfterAgent hooks\nonce per turn, after its "
		    "final answer.\n",
	},
	{
		.name = "codex",
		.config =
		    "notify = [\"airlock\", \"checkpoint\", \"--from-hook\", "
		    "\"-m\", \"codex turn\"]\n",
		.where =
		    "Codex: put this line in ~/.codex/config.toml, above the "
		    "first [table] (notify\nis a top-level key; Codex has one "
		    "notify program, so this replaces another).\nCodex runs it "
		    "when a turn completes, with a JSON argument appended, "
		    "which\n--from-hook ignores.\n",
	},
};

static int
cmd_hooks_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_hooks_entry;
	const struct hooks_agent *a = NULL;
	size_t i;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: airlock %s %s\n\n%s\n", entry->name,
		    entry->usage, entry->help);
		return EXIT_OK;
	}
	if (argc < 2)
		return cmd_usage(entry, "which agent? claude, gemini or codex");
	if (argc > 2)
		return cmd_usage(entry, "unexpected argument '%s'", argv[2]);
	for (i = 0; i < sizeof hooks_agents / sizeof hooks_agents[0]; i++) {
		if (strcmp(argv[1], hooks_agents[i].name) == 0)
			a = &hooks_agents[i];
	}
	if (a == NULL)
		return cmd_usage(entry, "unknown agent '%s' (claude, gemini or "
		    "codex)", argv[1]);
	fputs(a->config, stdout);
	fflush(stdout);
	fprintf(stderr, "%sOutside an airlock sandbox the hook fails "
	    "harmlessly: airlock checkpoint\n--from-hook does nothing there "
	    "and exits 1.\n", a->where);
	return EXIT_OK;
}
