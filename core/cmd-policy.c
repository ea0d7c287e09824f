/*
 * airlock policy: prints the effective sandbox policy of a tree, the same
 * text the agent reads at /run/airlock/policy.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static int cmd_policy_exec(int, char **);

const struct cmd_entry cmd_policy_entry = {
	.name = "policy",
	.usage = "[-C DIR] [--policy FILE] [--net MODE]",
	.summary = "print the sandbox policy of the tree",
	.help =
	    "Prints the effective sandbox policy of the real tree (the git "
	    "top-level of the\nworking directory, or -C DIR): the network, "
	    "every mount in the order the\nsandbox makes it, the rules that "
	    "mount nothing (absent paths, no-ops) and why,\nthe name patterns "
	    "hidden in the tree and the environment rules. The agent reads\n"
	    "the same text at /run/airlock/policy.\n\n"
	    "The policy is the defaults, then ~/.config/airlock/policy, then "
	    "--policy FILE,\nthen <tree>/.airlock-policy (which may only add "
	    "restrictions); see airlock(1).\n\n"
	    "  -C DIR         use DIR (its git top-level) as the real tree\n"
	    "  --policy FILE  read FILE after ~/.config/airlock/policy\n"
	    "  --net MODE     none, host or allow:HOST[:PORT],... (as for "
	    "run)",
	.exec = cmd_policy_exec,
};

static const struct option policy_options[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "net", required_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
cmd_policy_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_policy_entry;
	const char *dir = NULL, *extra = NULL, *net = NULL;
	const char *home = getenv("HOME");
	struct policy policy;
	struct plan plan = { 0 };
	struct buf out = BUF_INIT;
	char *tree, *root, *cause = NULL;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:h", policy_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C': dir = optarg; break;
		case 'p': extra = optarg; break;
		case 'n': net = optarg; break;
		case 'h':
			printf("usage: airlock policy %s\n\n%s\n", entry->usage,
			    entry->help);
			return EXIT_OK;
		default:
			return cmd_usage(entry, "unknown or incomplete option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'", argv[optind]);

	/* Not context_open: the store need not exist to print a policy. */
	tree = tree_find(dir, &cause);
	if (tree == NULL) {
		log_cause("policy", cause);
		return EXIT_ERROR;
	}
	root = store_root(&cause);
	if (root == NULL) {
		log_cause("policy", cause);
		free(tree);
		return EXIT_ERROR;
	}
	policy_init(&policy);
	rc = EXIT_USAGE;
	if (policy_load(&policy, home, tree, extra, &cause) != 0 ||
	    (net != NULL && policy_set_net(&policy, net, &cause) != 0) ||
	    policy_plan(&policy, tree, home, root, &plan, &cause) != 0)
		log_cause("policy", cause);
	else {
		plan_print(&out, &policy, &plan);
		fwrite(out.data, 1, out.len, stdout);
		rc = fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK :
		    EXIT_ERROR;
	}
	buf_free(&out);
	plan_free(&plan);
	policy_free(&policy);
	free(root);
	free(tree);
	return rc;
}
