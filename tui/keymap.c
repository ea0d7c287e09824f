/*
 * Keymap files: `bind MODE KEY ACTION`, `unbind MODE KEY`, `set prefix KEY`,
 * `set idle-ms N`, `set keymap NAME`, comments. The keymaps airlock ships
 * (keymaps/NAME.keys) are also built into the binary, so an airlock that is
 * not installed has them too.
 *
 * Keymap files are read as hostile input: every line is bounded, checked
 * for NUL bytes and UTF-8, and a bad line costs only itself.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"
#include "tui/keymap-data.h"

#define nitems(a) (sizeof (a) / sizeof (a)[0])

#define KEYMAP_LINE_MAX 1024
#define KEYMAP_FILE_MAX (1024 * 1024)
#define KEYMAP_BINDINGS_MAX 1024     /* per mode; real keymaps have ~50 */
#define KEYMAP_ERRORS_MAX 50         /* messages per file; the rest counted */
#define KEYMAP_TOKENS_MAX 8
#define KEYMAP_PREFIX_DEFAULT (']' | KEYC_CTRL)
#define KEYMAP_IDLE_DEFAULT 2000
#define KEYMAP_IDLE_MIN 100
#define KEYMAP_IDLE_MAX 600000

struct keymap_binding {
	key_code key;
	enum action action;
};

struct keymap {
	struct keymap_binding *bindings[MODE_COUNT];  /* sorted by key */
	size_t nbindings[MODE_COUNT];
	struct keymap_options options;
	int builtin_depth;   /* > 0 while a shipped keymap is read */
};

/* The keymaps airlock ships, generated from keymaps/NAME.keys. */
static const struct keymap_builtin {
	const char *name;
	const char *text;
	size_t len;
} keymap_builtins[] = {
	{ "default", keymap_data_default, sizeof keymap_data_default - 1 },
	{ "emacs", keymap_data_emacs, sizeof keymap_data_emacs - 1 },
};

/* One line being read: where it is, and the errors of its file. */
struct keymap_line {
	const char *name;
	size_t number;
	struct buf *errors;
	int bad;             /* bad lines in this file */
};

static int keymap_set(struct keymap *, char **, int, struct keymap_line *,
    struct buf *);
static int keymap_bind(struct keymap *, char **, int, struct keymap_line *,
    struct buf *);
static int keymap_unbind(struct keymap *, char **, int,
    struct keymap_line *, struct buf *);

static const struct keymap_command {
	const char *name;
	int args;            /* after the command's name */
	const char *usage;
	int (*fn)(struct keymap *, char **, int, struct keymap_line *,
	    struct buf *);
} keymap_commands[] = {
	{ "bind", 3, "bind MODE KEY ACTION", keymap_bind },
	{ "unbind", 2, "unbind MODE KEY", keymap_unbind },
	{ "set", 2, "set prefix KEY | set idle-ms N | set keymap NAME",
	  keymap_set },
};

static void
keymap_reset(struct keymap *km)
{
	int mode;

	for (mode = 0; mode < MODE_COUNT; mode++) {
		free(km->bindings[mode]);
		km->bindings[mode] = NULL;
		km->nbindings[mode] = 0;
	}
	km->options.prefix = KEYMAP_PREFIX_DEFAULT;
	km->options.idle_ms = KEYMAP_IDLE_DEFAULT;
}

struct keymap *
keymap_create(void)
{
	struct keymap *km = xcalloc(1, sizeof *km);

	keymap_reset(km);
	return km;
}

void
keymap_free(struct keymap *km)
{
	if (km == NULL)
		return;
	keymap_reset(km);
	free(km);
}

/* The index of key in mode, or where it would go (*found 0). */
static size_t
keymap_position(const struct keymap *km, enum key_mode mode, key_code key,
    int *found)
{
	const struct keymap_binding *b = km->bindings[mode];
	size_t lo = 0, hi = km->nbindings[mode], mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (b[mid].key == key) {
			*found = 1;
			return mid;
		}
		if (b[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* 0, or -1 when mode is full. */
static int
keymap_add(struct keymap *km, enum key_mode mode, key_code key,
    enum action action)
{
	size_t i, n = km->nbindings[mode];
	int found;

	i = keymap_position(km, mode, key, &found);
	if (!found) {
		if (n == KEYMAP_BINDINGS_MAX)
			return -1;
		km->bindings[mode] = xreallocarray(km->bindings[mode], n + 1,
		    sizeof *km->bindings[mode]);
		memmove(km->bindings[mode] + i + 1, km->bindings[mode] + i,
		    (n - i) * sizeof *km->bindings[mode]);
		km->nbindings[mode]++;
		km->bindings[mode][i].key = key;
	}
	km->bindings[mode][i].action = action;
	return 0;
}

static void
keymap_remove(struct keymap *km, enum key_mode mode, key_code key)
{
	size_t i;
	int found;

	i = keymap_position(km, mode, key, &found);
	if (!found)
		return;
	memmove(km->bindings[mode] + i, km->bindings[mode] + i + 1,
	    (km->nbindings[mode] - i - 1) * sizeof *km->bindings[mode]);
	km->nbindings[mode]--;
}

enum action
keymap_lookup(const struct keymap *km, enum key_mode mode, key_code key)
{
	size_t i;
	int found;

	if ((unsigned)mode >= MODE_COUNT)
		return ACTION_NONE;
	i = keymap_position(km, mode, key, &found);
	return found ? km->bindings[mode][i].action : ACTION_NONE;
}

const struct keymap_options *
keymap_options(const struct keymap *km)
{
	return &km->options;
}

void
keymap_each(const struct keymap *km, enum key_mode mode,
    void (*fn)(key_code, enum action, void *), void *arg)
{
	size_t i;

	if ((unsigned)mode >= MODE_COUNT)
		return;
	for (i = 0; i < km->nbindings[mode]; i++)
		fn(km->bindings[mode][i].key, km->bindings[mode][i].action, arg);
}

void
keymap_describe(const struct keymap *km, enum key_mode mode, struct buf *out)
{
	const struct action_entry *e;
	size_t i, len, width = 0;

	if ((unsigned)mode >= MODE_COUNT)
		return;
	for (i = 0; i < km->nbindings[mode]; i++) {
		len = strlen(key_string_lookup_key(km->bindings[mode][i].key));
		if (len > width)
			width = len;
	}
	for (i = 0; i < km->nbindings[mode]; i++) {
		e = action_get(km->bindings[mode][i].action);
		buf_printf(out, "%-*s  %s\n", (int)width,
		    key_string_lookup_key(km->bindings[mode][i].key),
		    e != NULL ? e->help : "");
	}
}

/* A token for an error message: 'word', or quoted with C escapes when it
 * holds anything a terminal would act on. */
static void
keymap_quote(struct buf *out, const char *token)
{
	struct buf q = BUF_INIT;

	quote_path(&q, token, strlen(token), QUOTE_SPACE);
	if (q.data[0] == '"')
		buf_add(out, q.data, q.len);
	else if (strchr(token, '\'') != NULL)
		buf_printf(out, "\"%s\"", q.data);
	else
		buf_printf(out, "'%s'", q.data);
	buf_free(&q);
}

/* Appends "NAME:LINE: why" to why (the message is kept in why). */
static int
keymap_error(struct keymap_line *l, struct buf *why)
{
	l->bad++;
	if (l->bad <= KEYMAP_ERRORS_MAX)
		buf_printf(l->errors, "%s:%zu: %s\n", l->name, l->number,
		    why->data);
	buf_reset(why);
	return -1;
}

static int
keymap_bad_token(struct keymap_line *l, struct buf *why, const char *what,
    const char *token, const char *hint)
{
	buf_printf(why, "%s ", what);
	keymap_quote(why, token);
	if (hint != NULL)
		buf_printf(why, " %s", hint);
	return keymap_error(l, why);
}

static int
keymap_mode(const char *token, struct keymap_line *l, struct buf *why)
{
	int mode = key_mode_find(token);

	if (mode < 0)
		keymap_bad_token(l, why, "unknown mode", token,
		    "(prefix, timeline, copy, review or net)");
	return mode;
}

static key_code
keymap_key(const char *token, struct keymap_line *l, struct buf *why)
{
	key_code key = key_string_lookup_string(token);

	if (key == KEYC_NONE)
		keymap_bad_token(l, why, "bad key", token,
		    "(tmux notation: C-a, M-x, Enter, F1, a character)");
	return key;
}

static int
keymap_bind(struct keymap *km, char **argv, int argc, struct keymap_line *l,
    struct buf *why)
{
	const struct action_entry *e;
	key_code key;
	int mode;

	(void)argc;
	if ((mode = keymap_mode(argv[1], l, why)) < 0)
		return -1;
	if ((key = keymap_key(argv[2], l, why)) == KEYC_NONE)
		return -1;
	if ((e = action_find(argv[3])) == NULL)
		return keymap_bad_token(l, why, "unknown action", argv[3],
		    NULL);
	if (!(e->modes & (1U << mode))) {
		buf_printf(why, "action %s cannot be bound in %s mode",
		    e->name, key_mode_name(mode));
		return keymap_error(l, why);
	}
	if (keymap_add(km, mode, key, e->action) != 0) {
		buf_printf(why, "too many bindings in %s mode (at most %d)",
		    key_mode_name(mode), KEYMAP_BINDINGS_MAX);
		return keymap_error(l, why);
	}
	return 0;
}

static int
keymap_unbind(struct keymap *km, char **argv, int argc,
    struct keymap_line *l, struct buf *why)
{
	key_code key;
	int mode;

	(void)argc;
	if ((mode = keymap_mode(argv[1], l, why)) < 0)
		return -1;
	if ((key = keymap_key(argv[2], l, why)) == KEYC_NONE)
		return -1;
	keymap_remove(km, mode, key);
	return 0;
}

/* The send-prefix binding follows the prefix (prefix twice sends it). */
static void
keymap_set_prefix(struct keymap *km, key_code key)
{
	key_code old = km->options.prefix;

	if (key != old &&
	    keymap_lookup(km, MODE_PREFIX, old) == ACTION_SEND_PREFIX) {
		keymap_remove(km, MODE_PREFIX, old);
		keymap_add(km, MODE_PREFIX, key, ACTION_SEND_PREFIX);
	}
	km->options.prefix = key;
}

static int
keymap_set_idle(struct keymap *km, const char *value, struct keymap_line *l,
    struct buf *why)
{
	long ms = 0;
	size_t i;

	for (i = 0; value[i] != '\0' && i < 7; i++) {
		if (value[i] < '0' || value[i] > '9')
			break;
		ms = ms * 10 + (value[i] - '0');
	}
	if (i == 0 || value[i] != '\0' || ms < KEYMAP_IDLE_MIN ||
	    ms > KEYMAP_IDLE_MAX)
		return keymap_bad_token(l, why, "idle-ms", value,
		    "is not a number of milliseconds from 100 to 600000");
	km->options.idle_ms = (int)ms;
	return 0;
}

static int keymap_load_builtin(struct keymap *, const char *, struct buf *);

static int
keymap_set(struct keymap *km, char **argv, int argc, struct keymap_line *l,
    struct buf *why)
{
	key_code key;
	size_t i;

	(void)argc;
	if (strcmp(argv[1], "prefix") == 0) {
		if ((key = keymap_key(argv[2], l, why)) == KEYC_NONE)
			return -1;
		keymap_set_prefix(km, key);
		return 0;
	}
	if (strcmp(argv[1], "idle-ms") == 0)
		return keymap_set_idle(km, argv[2], l, why);
	if (strcmp(argv[1], "keymap") != 0)
		return keymap_bad_token(l, why, "unknown option", argv[1],
		    "(prefix, idle-ms or keymap)");
	for (i = 0; i < nitems(keymap_builtins); i++) {
		if (strcmp(argv[2], keymap_builtins[i].name) == 0)
			break;
	}
	if (i == nitems(keymap_builtins))
		return keymap_bad_token(l, why, "unknown keymap", argv[2],
		    "(default or emacs)");
	if (km->builtin_depth > 0) {
		buf_addstr(why, "set keymap is for your own keymap file");
		return keymap_error(l, why);
	}
	keymap_reset(km);
	keymap_load_builtin(km, argv[2], l->errors);
	return 0;
}

/*
 * Splits line (NUL-terminated, no newline) into tokens at spaces and tabs,
 * up to a token starting with '#'. A token quoted whole as '...' or "..."
 * stands for what is inside ('#' is the key #). The count; more than max
 * tokens count as max + 1.
 */
static int
keymap_tokens(char *line, char **argv, int max)
{
	char *s = line, *end;
	size_t len;
	int argc = 0;

	for (;;) {
		s += strspn(s, " \t");
		if (*s == '\0' || *s == '#')
			break;
		end = s + strcspn(s, " \t");
		if (*end != '\0')
			*end++ = '\0';
		len = strlen(s);
		if (len >= 3 && (s[0] == '\'' || s[0] == '"') &&
		    s[len - 1] == s[0]) {
			s[len - 1] = '\0';
			s++;
		}
		if (argc == max)
			return max + 1;
		argv[argc++] = s;
		s = end;
	}
	return argc;
}

/* One line (len bytes, no newline). 0, or -1 when it was bad. */
static int
keymap_line(struct keymap *km, const char *text, size_t len,
    struct keymap_line *l, struct buf *why)
{
	const struct keymap_command *c = NULL;
	char line[KEYMAP_LINE_MAX + 1], *argv[KEYMAP_TOKENS_MAX];
	size_t i;
	int argc;

	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len > KEYMAP_LINE_MAX) {
		buf_printf(why, "line too long (more than %d bytes)",
		    KEYMAP_LINE_MAX);
		return keymap_error(l, why);
	}
	if (memchr(text, '\0', len) != NULL) {
		buf_addstr(why, "NUL byte in the line");
		return keymap_error(l, why);
	}
	if (!utf8_valid(text, len)) {
		buf_addstr(why, "not valid UTF-8");
		return keymap_error(l, why);
	}
	memcpy(line, text, len);
	line[len] = '\0';
	argc = keymap_tokens(line, argv, KEYMAP_TOKENS_MAX - 1);
	if (argc == 0)
		return 0;
	for (i = 0; i < nitems(keymap_commands); i++) {
		if (strcmp(argv[0], keymap_commands[i].name) == 0)
			c = &keymap_commands[i];
	}
	if (c == NULL)
		return keymap_bad_token(l, why, "unknown command", argv[0],
		    "(bind, unbind or set)");
	if (argc - 1 < c->args) {
		buf_printf(why, "%s: missing arguments (%s)", c->name,
		    c->usage);
		return keymap_error(l, why);
	}
	if (argc - 1 > c->args) {
		buf_printf(why, "%s: extra argument ", c->name);
		keymap_quote(why, argv[c->args + 1]);
		return keymap_error(l, why);
	}
	return c->fn(km, argv, argc, l, why);
}

int
keymap_parse(struct keymap *km, const char *name, const char *text,
    size_t len, struct buf *errors)
{
	struct keymap_line l = { .name = name, .number = 0,
	    .errors = errors, .bad = 0 };
	struct buf why = BUF_INIT;
	const char *p = text, *end = text + len, *nl;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		l.number++;
		keymap_line(km, p, (size_t)(nl - p), &l, &why);
		p = nl + 1;
	}
	if (l.bad > KEYMAP_ERRORS_MAX)
		buf_printf(errors, "%s: %d more bad lines not shown\n", name,
		    l.bad - KEYMAP_ERRORS_MAX);
	buf_free(&why);
	return l.bad;
}

/*
 * Reads a keymap file into *text. 1 when there is none, 0, or -1 with a
 * line in errors.
 */
static int
keymap_read(const char *path, char **text, size_t *len, struct buf *errors)
{
	struct stat st;
	char *cause = NULL;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		buf_printf(errors, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(errors, "%s: not a regular file\n", path);
		return -1;
	}
	if (st.st_size > KEYMAP_FILE_MAX) {
		buf_printf(errors, "%s: larger than 1 MiB, not a keymap file\n",
		    path);
		return -1;
	}
	*text = path_read_file(path, KEYMAP_FILE_MAX, len, &cause);
	if (*text == NULL) {
		buf_printf(errors, "%s\n", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/*
 * A shipped keymap: the installed file when it can be read, else the copy
 * built in. The number of bad lines.
 */
static int
keymap_load_builtin(struct keymap *km, const char *name, struct buf *errors)
{
	const struct keymap_builtin *b = NULL;
	char *path, *text = NULL;
	size_t i, len;
	int bad;

	for (i = 0; i < nitems(keymap_builtins); i++) {
		if (strcmp(keymap_builtins[i].name, name) == 0)
			b = &keymap_builtins[i];
	}
	if (b == NULL)
		return 0;
	km->builtin_depth++;
	path = xasprintf("%s/keymaps/%s.keys", PKGDATADIR, name);
	if (access(path, R_OK) == 0 &&
	    keymap_read(path, &text, &len, errors) == 0) {
		bad = keymap_parse(km, path, text, len, errors);
		free(text);
	} else {
		free(path);
		path = xasprintf("(built-in %s.keys)", name);
		bad = keymap_parse(km, path, b->text, b->len, errors);
	}
	free(path);
	km->builtin_depth--;
	return bad;
}

/* The user's keymap file: $AIRLOCK_KEYS, else the XDG place. */
static char *
keymap_user_path(void)
{
	const char *env = getenv("AIRLOCK_KEYS");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if (xdg != NULL && xdg[0] == '/')
		return path_join(xdg, "airlock/keys");
	if (home != NULL && home[0] == '/')
		return path_join(home, ".config/airlock/keys");
	return NULL;
}

struct keymap *
keymap_load(struct buf *errors)
{
	struct keymap *km = keymap_create();
	char *path, *text = NULL;
	size_t len;

	keymap_load_builtin(km, "default", errors);
	path = keymap_user_path();
	if (path != NULL && keymap_read(path, &text, &len, errors) == 0) {
		keymap_parse(km, path, text, len, errors);
		free(text);
	}
	free(path);
	return km;
}
