/*
 * airlock keys: prints the key bindings in effect, as keymap file lines, and
 * the errors of the user's keymap file.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

static int cmd_keys_exec(int, char **);

const struct cmd_entry cmd_keys_entry = {
	.name = "keys",
	.usage = "[--mode MODE]",
	.summary = "print the key bindings in effect",
	.help =
	    "Prints the key bindings of the terminal UI in effect, in the "
	    "format of a keymap\nfile: the prefix, then for each mode (prefix, "
	    "timeline, copy, review, net) one line\n\"bind MODE KEY ACTION\" per "
	    "key, with what the action does.\n\n"
	    "The bindings are the default keymap, then ~/.config/airlock/keys "
	    "(or the file\n$AIRLOCK_KEYS names); see airlock(1), KEYMAPS. Bad "
	    "lines of that file are printed\non standard error as FILE:LINE: "
	    "WHY and make the exit status 1; the other\nlines still apply.\n\n"
	    "  --mode MODE   only the bindings of MODE",
	.exec = cmd_keys_exec,
};

static const struct option keys_options[] = {
	{ "mode", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* The bindings of one mode as lines, to align their comments. */
struct keys_lines {
	enum key_mode mode;
	char **line;
	const char **help;
	size_t n;
};

/* A key as a keymap file token: # would start a comment. */
static const char *
keys_token(key_code key)
{
	const char *name = key_string_lookup_key(key);

	return name[0] == '#' ? "'#'" : name;
}

static void
keys_collect(key_code key, enum action action, void *arg)
{
	struct keys_lines *l = arg;
	const struct action_entry *e = action_get(action);

	l->line = xreallocarray(l->line, l->n + 1, sizeof *l->line);
	l->help = xreallocarray(l->help, l->n + 1, sizeof *l->help);
	l->line[l->n] = xasprintf("bind %s %s %s", key_mode_name(l->mode),
	    keys_token(key), e != NULL ? e->name : "?");
	l->help[l->n] = e != NULL ? e->help : "";
	l->n++;
}

static void
keys_print(const struct keymap *km, int only)
{
	struct keys_lines l[MODE_COUNT];
	const struct keymap_options *o = keymap_options(km);
	size_t i, len, width = 0;
	int mode;

	memset(l, 0, sizeof l);
	for (mode = 0; mode < MODE_COUNT; mode++) {
		if (only >= 0 && mode != only)
			continue;
		l[mode].mode = mode;
		keymap_each(km, mode, keys_collect, &l[mode]);
		for (i = 0; i < l[mode].n; i++) {
			if ((len = strlen(l[mode].line[i])) > width)
				width = len;
		}
	}
	if (only < 0) {
		printf("set prefix %s\n", keys_token(o->prefix));
		printf("set idle-ms %d\n", o->idle_ms);
	}
	for (mode = 0; mode < MODE_COUNT; mode++) {
		for (i = 0; i < l[mode].n; i++) {
			printf("%-*s  # %s\n", (int)width, l[mode].line[i],
			    l[mode].help[i]);
			free(l[mode].line[i]);
		}
		free(l[mode].line);
		free(l[mode].help);
	}
}

/* Prints each error line as "airlock: keys: FILE:LINE: WHY". */
static void
keys_errors(const struct buf *errors)
{
	const char *p = errors->data, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		fprintf(stderr, "airlock: keys: %.*s\n", (int)(nl - p), p);
		p = *nl == '\n' ? nl + 1 : nl;
	}
}

static int
cmd_keys_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_keys_entry;
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int c, only = -1;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", keys_options, NULL)) != -1) {
		switch (c) {
		case 'm':
			if ((only = key_mode_find(optarg)) < 0)
				return cmd_usage(entry, "unknown mode '%s' "
				    "(prefix, timeline, copy, review or net)",
				    optarg);
			break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			return EXIT_OK;
		default:
			return cmd_usage(entry, "unknown or incomplete option "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind]);

	km = keymap_load(&errors);
	keys_print(km, only);
	fflush(stdout);
	keys_errors(&errors);
	keymap_free(km);
	c = errors.len > 0 ? EXIT_ERROR : EXIT_OK;
	buf_free(&errors);
	return c;
}
