/*
 * keymap.c and action.c: the shipped keymaps, the file format, its errors,
 * and hostile files (NUL bytes, huge lines, many lines, binary garbage).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"

#define K(name) key_string_lookup_string(name)

/* Parses text into a fresh keymap; the errors go to *errors. */
static struct keymap *
parse(const char *text, size_t len, struct buf *errors, int *bad)
{
	struct keymap *km = keymap_create();
	int n;

	n = keymap_parse(km, "t.keys", text, len, errors);
	if (bad != NULL)
		*bad = n;
	return km;
}

static struct keymap *
parse_str(const char *text, struct buf *errors, int *bad)
{
	return parse(text, strlen(text), errors, bad);
}

/* A keymap file of text, for $AIRLOCK_KEYS; the path (free it). */
static char *
write_keys(const char *text, size_t len)
{
	char *path = xstrdup("/tmp/airlock-test-keys.XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static struct keymap *
load_with(const char *path, struct buf *errors)
{
	struct keymap *km;

	assert_int_equal(setenv("AIRLOCK_KEYS", path, 1), 0);
	km = keymap_load(errors);
	unsetenv("AIRLOCK_KEYS");
	return km;
}

struct expect {
	enum key_mode mode;
	const char *key;
	enum action action;
};

static void
check_bindings(const struct keymap *km, const struct expect *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (keymap_lookup(km, e[i].mode, K(e[i].key)) != e[i].action)
			fail_msg("%s %s: got %d want %d",
			    key_mode_name(e[i].mode), e[i].key,
			    keymap_lookup(km, e[i].mode, K(e[i].key)),
			    e[i].action);
	}
}

static const struct expect default_bindings[] = {
	{ MODE_PREFIX, "C-]", ACTION_SEND_PREFIX },
	{ MODE_PREFIX, "c", ACTION_CHECKPOINT },
	{ MODE_PREFIX, "t", ACTION_TIMELINE },
	{ MODE_PREFIX, "T", ACTION_FOCUS_TIMELINE },
	{ MODE_PREFIX, "d", ACTION_REVIEW },
	{ MODE_PREFIX, "[", ACTION_COPY_MODE },
	{ MODE_PREFIX, "z", ACTION_ZOOM },
	{ MODE_PREFIX, "?", ACTION_HELP },
	{ MODE_PREFIX, "q", ACTION_QUIT },
	{ MODE_PREFIX, "r", ACTION_REDRAW },
	{ MODE_PREFIX, "C-l", ACTION_REDRAW },
	{ MODE_PREFIX, "]", ACTION_PASTE_BUFFER },
	{ MODE_PREFIX, "x", ACTION_NONE },
	{ MODE_COPY, "h", ACTION_LEFT },
	{ MODE_COPY, "j", ACTION_DOWN },
	{ MODE_COPY, "k", ACTION_UP },
	{ MODE_COPY, "l", ACTION_RIGHT },
	{ MODE_COPY, "w", ACTION_WORD_NEXT },
	{ MODE_COPY, "b", ACTION_WORD_PREV },
	{ MODE_COPY, "0", ACTION_LINE_START },
	{ MODE_COPY, "$", ACTION_LINE_END },
	{ MODE_COPY, "C-b", ACTION_PAGE_UP },
	{ MODE_COPY, "C-f", ACTION_PAGE_DOWN },
	{ MODE_COPY, "C-u", ACTION_HALF_UP },
	{ MODE_COPY, "C-d", ACTION_HALF_DOWN },
	{ MODE_COPY, "g", ACTION_TOP },
	{ MODE_COPY, "G", ACTION_BOTTOM },
	{ MODE_COPY, "/", ACTION_SEARCH_FORWARD },
	{ MODE_COPY, "?", ACTION_SEARCH_BACKWARD },
	{ MODE_COPY, "n", ACTION_SEARCH_NEXT },
	{ MODE_COPY, "N", ACTION_SEARCH_PREV },
	{ MODE_COPY, "v", ACTION_BEGIN_SELECTION },
	{ MODE_COPY, "V", ACTION_SELECT_LINE },
	{ MODE_COPY, "y", ACTION_COPY },
	{ MODE_COPY, "Enter", ACTION_COPY },
	{ MODE_COPY, "q", ACTION_CLOSE },
	{ MODE_COPY, "Escape", ACTION_CLOSE },
	{ MODE_COPY, "Up", ACTION_UP },
	{ MODE_COPY, "Down", ACTION_DOWN },
	{ MODE_COPY, "Left", ACTION_LEFT },
	{ MODE_COPY, "Right", ACTION_RIGHT },
	{ MODE_COPY, "PageUp", ACTION_PAGE_UP },
	{ MODE_COPY, "PageDown", ACTION_PAGE_DOWN },
	{ MODE_COPY, "C-p", ACTION_NONE },
	{ MODE_TIMELINE, "j", ACTION_DOWN },
	{ MODE_TIMELINE, "k", ACTION_UP },
	{ MODE_TIMELINE, "C-n", ACTION_DOWN },
	{ MODE_TIMELINE, "C-p", ACTION_UP },
	{ MODE_TIMELINE, "Up", ACTION_UP },
	{ MODE_TIMELINE, "Down", ACTION_DOWN },
	{ MODE_TIMELINE, "g", ACTION_TOP },
	{ MODE_TIMELINE, "G", ACTION_BOTTOM },
	{ MODE_TIMELINE, "Enter", ACTION_SELECT },
	{ MODE_TIMELINE, "R", ACTION_ROLLBACK },
	{ MODE_TIMELINE, "q", ACTION_CLOSE },
	{ MODE_TIMELINE, "Escape", ACTION_CLOSE },
	{ MODE_REVIEW, "j", ACTION_DOWN },
	{ MODE_REVIEW, "k", ACTION_UP },
	{ MODE_REVIEW, "Enter", ACTION_SELECT },
	{ MODE_REVIEW, "q", ACTION_CLOSE },
};

static const struct expect emacs_bindings[] = {
	{ MODE_PREFIX, "C-]", ACTION_SEND_PREFIX },
	{ MODE_PREFIX, "c", ACTION_CHECKPOINT },
	{ MODE_PREFIX, "[", ACTION_COPY_MODE },
	{ MODE_COPY, "C-p", ACTION_UP },
	{ MODE_COPY, "C-n", ACTION_DOWN },
	{ MODE_COPY, "C-b", ACTION_LEFT },
	{ MODE_COPY, "C-f", ACTION_RIGHT },
	{ MODE_COPY, "M-f", ACTION_WORD_NEXT },
	{ MODE_COPY, "M-b", ACTION_WORD_PREV },
	{ MODE_COPY, "C-a", ACTION_LINE_START },
	{ MODE_COPY, "C-e", ACTION_LINE_END },
	{ MODE_COPY, "M-v", ACTION_PAGE_UP },
	{ MODE_COPY, "C-v", ACTION_PAGE_DOWN },
	{ MODE_COPY, "M-<", ACTION_TOP },
	{ MODE_COPY, "M->", ACTION_BOTTOM },
	{ MODE_COPY, "C-s", ACTION_SEARCH_FORWARD },
	{ MODE_COPY, "C-r", ACTION_SEARCH_BACKWARD },
	{ MODE_COPY, "C-Space", ACTION_BEGIN_SELECTION },
	{ MODE_COPY, "M-w", ACTION_COPY },
	{ MODE_COPY, "q", ACTION_CLOSE },
	{ MODE_COPY, "C-g", ACTION_CLOSE },
	{ MODE_COPY, "Escape", ACTION_CLOSE },
	{ MODE_COPY, "h", ACTION_NONE },
	{ MODE_COPY, "j", ACTION_NONE },
	{ MODE_TIMELINE, "C-n", ACTION_DOWN },
	{ MODE_TIMELINE, "C-p", ACTION_UP },
	{ MODE_TIMELINE, "Enter", ACTION_SELECT },
	{ MODE_TIMELINE, "R", ACTION_ROLLBACK },
	{ MODE_TIMELINE, "C-g", ACTION_CLOSE },
	{ MODE_REVIEW, "Enter", ACTION_SELECT },
	{ MODE_REVIEW, "q", ACTION_CLOSE },
};

static void
test_keymap_defaults(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;

	(void)state;
	km = load_with("/nonexistent/airlock-keys", &errors);
	assert_string_equal(errors.data, "");
	check_bindings(km, default_bindings,
	    sizeof default_bindings / sizeof default_bindings[0]);
	assert_int_equal(keymap_options(km)->prefix, ']' | KEYC_CTRL);
	assert_int_equal(keymap_options(km)->idle_ms, 2000);
	keymap_free(km);
	buf_free(&errors);
}

/* The copy built into the binary is the source file, line for line. */
struct collect {
	struct buf b;
	enum key_mode mode;
};

static void
collect(key_code key, enum action action, void *arg)
{
	struct collect *c = arg;

	buf_printf(&c->b, "%s %s %s\n", key_mode_name(c->mode),
	    key_string_lookup_key(key), action_get(action)->name);
}

static char *
dump(const struct keymap *km)
{
	struct collect c;

	buf_init(&c.b);
	for (c.mode = 0; c.mode < MODE_COUNT; c.mode++)
		keymap_each(km, c.mode, collect, &c);
	buf_printf(&c.b, "prefix %s idle %d\n",
	    key_string_lookup_key(keymap_options(km)->prefix),
	    keymap_options(km)->idle_ms);
	return buf_detach(&c.b, NULL);
}

static void
check_builtin(const char *name)
{
	const char *srcdir = getenv("AIRLOCK_SRCDIR");
	struct buf errors = BUF_INIT;
	struct keymap *source, *builtin;
	char *path, *text, *cause = NULL, *line, *a, *b;
	size_t len;

	if (srcdir == NULL)
		srcdir = ".";
	path = xasprintf("%s/keymaps/%s.keys", srcdir, name);
	text = path_read_file(path, 1 << 20, &len, &cause);
	if (text == NULL)
		fail_msg("%s", cause);
	source = keymap_create();
	assert_int_equal(keymap_parse(source, path, text, len, &errors), 0);
	line = xasprintf("set keymap %s\n", name);
	builtin = parse_str(line, &errors, NULL);
	assert_string_equal(errors.data, "");
	a = dump(source);
	b = dump(builtin);
	assert_string_equal(a, b);
	assert_true(strlen(a) > 500);
	free(a);
	free(b);
	free(line);
	free(text);
	free(path);
	keymap_free(source);
	keymap_free(builtin);
	buf_free(&errors);
}

static void
test_keymap_builtin_copy(void **state)
{
	(void)state;
	check_builtin("default");
	check_builtin("emacs");
}

/* Every action is bound somewhere, only in modes that allow it. */
struct coverage {
	int bound[ACTION_COUNT];
	enum key_mode mode;
};

static void
cover(key_code key, enum action action, void *arg)
{
	struct coverage *c = arg;
	const struct action_entry *e = action_get(action);

	(void)key;
	assert_non_null(e);
	assert_true(e->modes & (1U << c->mode));
	c->bound[action]++;
}

static void
check_coverage(const char *text)
{
	struct buf errors = BUF_INIT;
	struct coverage c;
	struct keymap *km = parse_str(text, &errors, NULL);
	const struct action_entry *e;

	assert_string_equal(errors.data, "");
	memset(&c, 0, sizeof c);
	for (c.mode = 0; c.mode < MODE_COUNT; c.mode++)
		keymap_each(km, c.mode, cover, &c);
	for (e = action_table; e->name != NULL; e++) {
		if (c.bound[e->action] == 0)
			fail_msg("%s: %s is not bound", text, e->name);
	}
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_every_action(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;

	(void)state;
	check_coverage("set keymap default");
	check_coverage("set keymap emacs");
	km = parse_str("set keymap emacs\n", &errors, NULL);
	check_bindings(km, emacs_bindings,
	    sizeof emacs_bindings / sizeof emacs_bindings[0]);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_action_table(void **state)
{
	const struct action_entry *e;
	int a, n = 0;

	(void)state;
	for (a = ACTION_NONE + 1; a < ACTION_COUNT; a++) {
		e = action_get(a);
		assert_non_null(e);
		assert_int_equal(e->action, a);
		assert_ptr_equal(action_find(e->name), e);
		assert_true(e->modes != 0);
		assert_true(strlen(e->help) > 0);
	}
	for (e = action_table; e->name != NULL; e++)
		n++;
	assert_int_equal(n, ACTION_COUNT - 1);
	assert_null(action_get(ACTION_NONE));
	assert_null(action_find("nosuch"));
	assert_null(action_find(""));
	assert_int_equal(action_find("copy-mode")->action, ACTION_COPY_MODE);
	assert_int_equal(action_find("select-line")->action,
	    ACTION_SELECT_LINE);
	assert_string_equal(key_mode_name(MODE_PREFIX), "prefix");
	assert_string_equal(key_mode_name(MODE_REVIEW), "review");
	assert_null(key_mode_name(MODE_COUNT));
	assert_int_equal(key_mode_find("timeline"), MODE_TIMELINE);
	assert_int_equal(key_mode_find("copy"), MODE_COPY);
	assert_int_equal(key_mode_find("Copy"), -1);
	assert_int_equal(key_mode_find(""), -1);
}

static void
check_error(const char *text, const char *want)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int bad;

	km = parse_str(text, &errors, &bad);
	if (strstr(errors.data, want) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", text, errors.data,
		    want);
	assert_int_equal(bad, 1);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_errors(void **state)
{
	(void)state;
	check_error("bind nosuch a quit", "t.keys:1: unknown mode 'nosuch'");
	check_error("\n\nbind prefix a nosuch",
	    "t.keys:3: unknown action 'nosuch'");
	check_error("bind prefix a rollback",
	    "t.keys:1: action rollback cannot be bound in prefix mode");
	check_error("bind copy c checkpoint",
	    "t.keys:1: action checkpoint cannot be bound in copy mode");
	check_error("bind prefix Foo quit", "t.keys:1: bad key 'Foo'");
	check_error("bind prefix C- quit", "t.keys:1: bad key 'C-'");
	check_error("bind prefix a", "t.keys:1: bind: missing arguments");
	check_error("bind", "t.keys:1: bind: missing arguments");
	check_error("bind prefix a quit extra",
	    "t.keys:1: bind: extra argument 'extra'");
	check_error("bind prefix a quit x y z w v u t s",
	    "t.keys:1: bind: extra argument 'x'");
	check_error("unbind prefix", "t.keys:1: unbind: missing arguments");
	check_error("unbind prefix a b", "t.keys:1: unbind: extra argument");
	check_error("unbind nosuch a", "t.keys:1: unknown mode 'nosuch'");
	check_error("unbind prefix Nope", "t.keys:1: bad key 'Nope'");
	check_error("set prefix", "t.keys:1: set: missing arguments");
	check_error("set prefix Nope", "t.keys:1: bad key 'Nope'");
	check_error("set idle-ms 99", "t.keys:1: idle-ms '99' is not");
	check_error("set idle-ms 600001", "t.keys:1: idle-ms '600001'");
	check_error("set idle-ms 1e3", "t.keys:1: idle-ms '1e3'");
	check_error("set idle-ms -5", "t.keys:1: idle-ms '-5'");
	check_error("set idle-ms 99999999999999999999", "t.keys:1: idle-ms");
	check_error("set keymap vim", "t.keys:1: unknown keymap 'vim'");
	check_error("set colour red", "t.keys:1: unknown option 'colour'");
	check_error("frobnicate", "t.keys:1: unknown command 'frobnicate'");
	check_error("Bind prefix a quit", "unknown command 'Bind'");
	check_error("bind prefix 'ab quit", "bad key \"'ab\"");
	/* What a terminal would act on is escaped, never printed. */
	check_error("bind prefix \033[2J quit", "bad key \"\\033[2J\"");
	check_error("bind prefix a \xc2\x9b""31m", "unknown action \"\\302\\233");
}

static void
test_keymap_syntax(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int bad;

	(void)state;
	km = parse_str(
	    "# a comment\n"
	    "   \t  \n"
	    "\n"
	    "  bind\tprefix   x\tquit   # a trailing comment\n"
	    "bind prefix '#' zoom # the key # is quoted\n"
	    "bind prefix \"'\" help\n"
	    "bind prefix ' redraw\n"
	    "bind copy M-# copy\n"
	    "bind review C-M-a select\r\n"
	    "#bind prefix y quit\n"
	    "set idle-ms 100\n"
	    "bind prefix \xc3\xa9 checkpoint",   /* no final newline */
	    &errors, &bad);
	assert_string_equal(errors.data, "");
	assert_int_equal(bad, 0);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'x'), ACTION_QUIT);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, '#'), ACTION_ZOOM);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, '\''), ACTION_REDRAW);
	assert_int_equal(keymap_lookup(km, MODE_COPY, '#' | KEYC_META),
	    ACTION_COPY);
	assert_int_equal(keymap_lookup(km, MODE_REVIEW,
	    'a' | KEYC_CTRL | KEYC_META), ACTION_SELECT);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'y'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 0xe9),
	    ACTION_CHECKPOINT);
	assert_int_equal(keymap_options(km)->idle_ms, 100);
	keymap_free(km);

	km = parse_str("set idle-ms 600000", &errors, &bad);
	assert_int_equal(bad, 0);
	assert_int_equal(keymap_options(km)->idle_ms, 600000);
	keymap_free(km);
	buf_free(&errors);
}

/* Bad lines cost only themselves; the count and the lines are right. */
static void
test_keymap_rest_loads(void **state)
{
	static const char text[] =
	    "bind prefix a quit\n"          /* 1 */
	    "bind nosuch b quit\n"          /* 2 bad */
	    "bind prefix b zoom\n"          /* 3 */
	    "bind prefix c\0 quit\n"        /* 4 bad: NUL */
	    "bind prefix \xff quit\n"       /* 5 bad: UTF-8 */
	    "bind prefix d help\n"          /* 6 */
	    "bind prefix e rollback\n"      /* 7 bad */
	    "bind prefix f redraw\n";       /* 8 */
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int bad;

	(void)state;
	km = parse(text, sizeof text - 1, &errors, &bad);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(errors.data, "t.keys:2: unknown mode"));
	assert_non_null(strstr(errors.data, "t.keys:4: NUL byte"));
	assert_non_null(strstr(errors.data, "t.keys:5: not valid UTF-8"));
	assert_non_null(strstr(errors.data, "t.keys:7: action rollback"));
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'a'), ACTION_QUIT);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'b'), ACTION_ZOOM);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'd'), ACTION_HELP);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'e'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'f'), ACTION_REDRAW);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_nul_bytes(void **state)
{
	static const char text[] = "\0\0\0\nbind\0prefix a quit\n\0"
	    "\nbind prefix b zoom\n\0";
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int bad;

	(void)state;
	km = parse(text, sizeof text - 1, &errors, &bad);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(errors.data, "t.keys:1: NUL byte"));
	assert_non_null(strstr(errors.data, "t.keys:2: NUL byte"));
	assert_non_null(strstr(errors.data, "t.keys:3: NUL byte"));
	assert_non_null(strstr(errors.data, "t.keys:5: NUL byte"));
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'a'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'b'), ACTION_ZOOM);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_huge_line(void **state)
{
	size_t n = 1 << 20;
	char *text = xmalloc(n + 64);
	struct buf errors = BUF_INIT;
	struct keymap *km;
	int bad;

	(void)state;
	memcpy(text, "bind prefix a ", 14);
	memset(text + 14, 'q', n - 14);
	memcpy(text + n, "\nbind prefix x quit\n", 20);
	km = parse(text, n + 20, &errors, &bad);
	assert_int_equal(bad, 1);
	assert_string_equal(errors.data,
	    "t.keys:1: line too long (more than 1024 bytes)\n");
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'x'), ACTION_QUIT);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'a'), ACTION_NONE);
	keymap_free(km);

	/* 1024 bytes is still a line. */
	buf_reset(&errors);
	memset(text, ' ', 1024);
	memcpy(text + 1024 - 18, "bind prefix y zoom", 18);
	km = parse(text, 1024, &errors, &bad);
	assert_int_equal(bad, 0);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'y'), ACTION_ZOOM);
	keymap_free(km);
	buf_free(&errors);
	free(text);
}

static void
test_keymap_many_lines(void **state)
{
	struct buf text = BUF_INIT, errors = BUF_INIT;
	struct keymap *km;
	int bad, i;

	(void)state;
	/* 100k distinct keys: the mode fills up, the rest is refused. */
	for (i = 0; i < 100000; i++) {
		buf_addstr(&text, "bind copy ");
		/* a distinct character each (from U+10000) */
		buf_addstr(&text, key_string_lookup_key(0x10000 + i));
		buf_addstr(&text, " up\n");
	}
	km = parse(text.data, text.len, &errors, &bad);
	assert_int_equal(bad, 100000 - 1024);
	assert_non_null(strstr(errors.data,
	    "t.keys:1025: too many bindings in copy mode (at most 1024)"));
	assert_non_null(strstr(errors.data, "more bad lines not shown"));
	assert_true(errors.len < 10000);  /* the messages are bounded */
	assert_int_equal(keymap_lookup(km, MODE_COPY, 0x10000), ACTION_UP);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 0x10000 + 1023),
	    ACTION_UP);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 0x10000 + 1024),
	    ACTION_NONE);
	keymap_free(km);

	/* 100k lines rebinding, unbinding and commenting: all fine. */
	buf_reset(&text);
	buf_reset(&errors);
	for (i = 0; i < 100000; i++) {
		switch (i % 4) {
		case 0: buf_addstr(&text, "bind prefix a quit\n"); break;
		case 1: buf_addstr(&text, "unbind prefix a\n"); break;
		case 2: buf_addstr(&text, "# a comment\n"); break;
		case 3: buf_addstr(&text, "\n"); break;
		}
	}
	km = parse(text.data, text.len, &errors, &bad);
	assert_int_equal(bad, 0);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'a'), ACTION_NONE);
	keymap_free(km);
	buf_free(&text);
	buf_free(&errors);
}

static void
test_keymap_garbage(void **state)
{
	size_t n = 1 << 20, i;
	char *text = xmalloc(n + 64);
	struct buf errors = BUF_INIT;
	struct keymap *km;
	uint32_t s = 99;
	int bad;

	(void)state;
	for (i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		text[i] = (char)s;
	}
	memcpy(text + n, "\nbind prefix x quit\n", 20);
	km = parse(text, n + 20, &errors, &bad);
	assert_true(bad > 0);
	assert_true(errors.len < 20000);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'x'), ACTION_QUIT);
	/* Error lines never carry a control byte to the terminal. */
	for (i = 0; i < errors.len; i++) {
		unsigned char c = (unsigned char)errors.data[i];

		assert_true(c == '\n' || (c >= 0x20 && c != 0x7f));
	}
	keymap_free(km);
	buf_free(&errors);
	free(text);
}

static void
test_keymap_unbind_prefix(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;

	(void)state;
	km = parse_str("set keymap default\nunbind prefix c\n"
	    "unbind prefix c\nunbind copy F12\n", &errors, NULL);
	assert_string_equal(errors.data, "");
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 't'), ACTION_TIMELINE);
	keymap_free(km);

	/* The send-prefix binding moves with the prefix. */
	km = parse_str("set keymap default\nset prefix C-a\n", &errors, NULL);
	assert_string_equal(errors.data, "");
	assert_int_equal(keymap_options(km)->prefix, 'a' | KEYC_CTRL);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'a' | KEYC_CTRL),
	    ACTION_SEND_PREFIX);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, ']' | KEYC_CTRL),
	    ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'),
	    ACTION_CHECKPOINT);
	keymap_free(km);

	/* ...unless it was bound to something else. */
	km = parse_str("set keymap default\nbind prefix C-] zoom\n"
	    "set prefix C-b\nbind prefix C-b quit\n", &errors, NULL);
	assert_string_equal(errors.data, "");
	assert_int_equal(keymap_options(km)->prefix, 'b' | KEYC_CTRL);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, ']' | KEYC_CTRL),
	    ACTION_ZOOM);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'b' | KEYC_CTRL),
	    ACTION_QUIT);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_set_keymap(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;
	char *path;
	static const char text[] =
	    "set prefix C-a\n"
	    "bind copy x copy\n"
	    "set keymap emacs\n"       /* starts over: both lines above gone */
	    "bind copy y copy\n";

	(void)state;
	path = write_keys(text, sizeof text - 1);
	km = load_with(path, &errors);
	assert_string_equal(errors.data, "");
	assert_int_equal(keymap_options(km)->prefix, ']' | KEYC_CTRL);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 'x'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 'y'), ACTION_COPY);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 'p' | KEYC_CTRL),
	    ACTION_UP);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 'k'), ACTION_NONE);
	keymap_free(km);
	unlink(path);
	free(path);

	/* Back to the default keymap. */
	km = parse_str("set keymap emacs\nset keymap default\n", &errors,
	    NULL);
	assert_int_equal(keymap_lookup(km, MODE_COPY, 'k'), ACTION_UP);
	keymap_free(km);
	buf_free(&errors);
}

static void
test_keymap_user_files(void **state)
{
	struct buf errors = BUF_INIT;
	struct keymap *km;
	char *path, *big;
	static const char text[] = "bind prefix x quit\nbind prefix y nope\n"
	    "unbind prefix c\n";

	(void)state;
	path = write_keys(text, sizeof text - 1);
	km = load_with(path, &errors);
	big = xasprintf("%s:2: unknown action 'nope'\n", path);
	assert_string_equal(errors.data, big);
	free(big);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'x'), ACTION_QUIT);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'), ACTION_NONE);
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 't'), ACTION_TIMELINE);
	keymap_free(km);
	unlink(path);
	free(path);

	/* A directory, and a file too big: named, and the defaults stay. */
	buf_reset(&errors);
	km = load_with("/", &errors);
	assert_string_equal(errors.data, "/: not a regular file\n");
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'),
	    ACTION_CHECKPOINT);
	keymap_free(km);

	buf_reset(&errors);
	big = xmalloc(2 << 20);
	memset(big, '#', 2 << 20);
	path = write_keys(big, 2 << 20);
	km = load_with(path, &errors);
	assert_non_null(strstr(errors.data, "larger than 1 MiB"));
	assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'c'),
	    ACTION_CHECKPOINT);
	keymap_free(km);
	unlink(path);
	free(path);
	free(big);

	/* The XDG place when $AIRLOCK_KEYS is not set. */
	buf_reset(&errors);
	{
		char dir[] = "/tmp/airlock-test-xdg.XXXXXX";
		char *sub, *file;
		FILE *f;

		assert_non_null(mkdtemp(dir));
		sub = xasprintf("%s/airlock", dir);
		file = xasprintf("%s/keys", sub);
		assert_int_equal(mkdir(sub, 0700), 0);
		f = fopen(file, "w");
		assert_non_null(f);
		fputs("bind prefix x zoom\n", f);
		fclose(f);
		unsetenv("AIRLOCK_KEYS");
		setenv("XDG_CONFIG_HOME", dir, 1);
		km = keymap_load(&errors);
		unsetenv("XDG_CONFIG_HOME");
		assert_string_equal(errors.data, "");
		assert_int_equal(keymap_lookup(km, MODE_PREFIX, 'x'),
		    ACTION_ZOOM);
		keymap_free(km);
		unlink(file);
		rmdir(sub);
		rmdir(dir);
		free(file);
		free(sub);
	}
	buf_free(&errors);
}

static void
test_keymap_describe_each(void **state)
{
	struct buf errors = BUF_INIT, out = BUF_INIT;
	struct keymap *km;
	struct collect c;

	(void)state;
	km = parse_str("bind prefix z zoom\nbind prefix C-l redraw\n"
	    "bind prefix a quit\n", &errors, NULL);
	keymap_describe(km, MODE_PREFIX, &out);
	assert_string_equal(out.data,
	    "a    end the agent and leave\n"
	    "z    give the agent pane the whole screen, or not\n"
	    "C-l  redraw the screen\n");
	buf_reset(&out);
	keymap_describe(km, MODE_COPY, &out);
	assert_string_equal(out.data, "");

	buf_init(&c.b);
	c.mode = MODE_PREFIX;
	keymap_each(km, MODE_PREFIX, collect, &c);
	assert_string_equal(c.b.data, "prefix a quit\nprefix z zoom\n"
	    "prefix C-l redraw\n");
	buf_free(&c.b);
	assert_int_equal(keymap_lookup(km, MODE_COUNT, 'a'), ACTION_NONE);
	keymap_free(km);
	buf_free(&out);
	buf_free(&errors);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keymap_defaults),
		cmocka_unit_test(test_keymap_builtin_copy),
		cmocka_unit_test(test_keymap_every_action),
		cmocka_unit_test(test_action_table),
		cmocka_unit_test(test_keymap_errors),
		cmocka_unit_test(test_keymap_syntax),
		cmocka_unit_test(test_keymap_rest_loads),
		cmocka_unit_test(test_keymap_nul_bytes),
		cmocka_unit_test(test_keymap_huge_line),
		cmocka_unit_test(test_keymap_many_lines),
		cmocka_unit_test(test_keymap_garbage),
		cmocka_unit_test(test_keymap_unbind_prefix),
		cmocka_unit_test(test_keymap_set_keymap),
		cmocka_unit_test(test_keymap_user_files),
		cmocka_unit_test(test_keymap_describe_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
