#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

static void
feed(struct term *t, const char *s)
{
	term_feed(t, s, strlen(s));
}

static void
act(struct copy_mode *cm, enum action a)
{
	char	*text = (char *)"untouched";

	assert_int_equal(copy_action(cm, a, &text), 0);
	assert_null(text);
}

static void
act_n(struct copy_mode *cm, enum action a, int n)
{
	while (n-- > 0)
		act(cm, a);
}

/* Copies the selection (copy mode ends); the text, or NULL. */
static char *
copy(struct copy_mode *cm)
{
	char	*text = (char *)"untouched";

	assert_int_equal(copy_action(cm, ACTION_COPY, &text), 1);
	return text;
}

static void
assert_copy(struct copy_mode *cm, const char *want)
{
	char	*got = copy(cm);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* The character under the copy cursor (a one-cell selection). */
static void
assert_cursor_on(struct copy_mode *cm, const char *want)
{
	act(cm, ACTION_BEGIN_SELECTION);
	assert_copy(cm, want);
}

/* 100 numbered lines on a 5x20 terminal, one of them with a needle. */
static struct term *
numbered(void)
{
	struct term	*t = term_create(5, 20);
	char		 line[64];

	for (int i = 0; i < 100; i++) {
		if (i == 30)
			snprintf(line, sizeof line, "%d a needle here\r\n", i);
		else
			snprintf(line, sizeof line, "%d plain\r\n", i);
		feed(t, line);
	}
	feed(t, "prompt$ ");
	return t;
}

static void
test_copy_search_scrollback(void **state)
{
	struct term		*t = numbered();
	struct copy_mode	*cm = copy_enter(t);

	/* 100 lines and the prompt on 5 rows: 96 scrolled. */
	assert_int_equal(term_scrollback_lines(t), 96);
	assert_string_equal(copy_position(cm), "[0/96]");
	assert_cursor_on(cm, "");  /* after the prompt: a blank */
	copy_search_text(cm, "needle", 0);
	assert_cursor_on(cm, "n");
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "needle here");
	/* The view follows the cursor up to line 30. */
	assert_string_equal(copy_position(cm), "[66/96]");
	copy_free(cm);

	/* Forward from the bottom wraps to the top and finds it. */
	cm = copy_enter(t);
	copy_search_text(cm, "needle", 1);
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "30 a needle here");
	/* Not found: the cursor stays. */
	act(cm, ACTION_LINE_START);
	copy_search_text(cm, "haystack", 1);
	assert_cursor_on(cm, "3");
	copy_search_text(cm, "Needle", 1);  /* case matters */
	assert_cursor_on(cm, "3");
	copy_search_text(cm, "", 1);
	assert_cursor_on(cm, "3");
	copy_free(cm);
	term_free(t);
}

static void
test_copy_search_next(void **state)
{
	struct term		*t = term_create(6, 30);
	struct copy_mode	*cm;

	feed(t, "x1 foo\r\nx2 foo foo\r\nx3 foo\r\nend");
	cm = copy_enter(t);
	copy_search_text(cm, "foo", 0);  /* up, from the bottom */
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "foo");
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_SEARCH_NEXT);     /* up: the second foo of x2 */
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "foo");
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_SEARCH_NEXT);     /* up from x2's start: x1 */
	act(cm, ACTION_SEARCH_NEXT);     /* wraps to the bottom: x3 */
	act(cm, ACTION_LINE_START);
	assert_cursor_on(cm, "x");
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_RIGHT);
	assert_copy(cm, "x3");
	act(cm, ACTION_SEARCH_PREV);     /* down: x3's own foo */
	act(cm, ACTION_SEARCH_PREV);     /* down, wrapping: x1 */
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_RIGHT);
	assert_copy(cm, "x1");
	/* Two matches on a line, forward. */
	act(cm, ACTION_DOWN);
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_SEARCH_FORWARD);
	act(cm, ACTION_SEARCH_NEXT);
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "foo");
	copy_free(cm);
	term_free(t);
}

static void
test_copy_selection(void **state)
{
	struct term		*t = term_create(6, 20);
	struct copy_mode	*cm;

	feed(t, "alpha beta\r\ngamma   \033[41m  \033[m\r\n"
	    "\xe4\xb8\xad\xe6\x96\x87 e\xcc\x81x\r\nlast");
	cm = copy_enter(t);
	act(cm, ACTION_TOP);
	act_n(cm, ACTION_RIGHT, 6);
	assert_cursor_on(cm, "b");
	/* From b to the second wide character (RIGHT skips the first's
	 * right half). */
	act(cm, ACTION_BEGIN_SELECTION);
	act_n(cm, ACTION_DOWN, 2);
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_RIGHT);
	assert_copy(cm, "beta\ngamma\n\xe4\xb8\xad\xe6\x96\x87");
	/* Backwards works the same; combining marks come along. */
	act(cm, ACTION_LINE_END);
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_UP);
	act(cm, ACTION_LINE_START);
	assert_copy(cm, "gamma\n\xe4\xb8\xad\xe6\x96\x87 e\xcc\x81x");
	/* Whole lines. */
	act(cm, ACTION_TOP);
	act(cm, ACTION_SELECT_LINE);
	act(cm, ACTION_DOWN);
	assert_copy(cm, "alpha beta\ngamma");
	/* Nothing selected: copy mode ends with no text. */
	copy_free(cm);
	cm = copy_enter(t);
	assert_null(copy(cm));
	copy_free(cm);
	term_free(t);
}

static void
test_copy_movement(void **state)
{
	struct term		*t = term_create(4, 30);
	struct copy_mode	*cm;

	feed(t, "foo bar-baz  qux\r\n  next_word\r\n\r\nend");
	cm = copy_enter(t);
	act(cm, ACTION_TOP);
	assert_cursor_on(cm, "f");
	act(cm, ACTION_WORD_NEXT);
	assert_cursor_on(cm, "b");
	act(cm, ACTION_WORD_NEXT);
	assert_cursor_on(cm, "-");
	act(cm, ACTION_WORD_NEXT);
	act(cm, ACTION_BEGIN_SELECTION);
	act_n(cm, ACTION_RIGHT, 2);
	assert_copy(cm, "baz");
	act(cm, ACTION_WORD_NEXT);
	assert_cursor_on(cm, "q");
	act(cm, ACTION_WORD_NEXT);  /* over the line end and the blanks */
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "next_word");
	act(cm, ACTION_WORD_NEXT);  /* over an empty line */
	assert_cursor_on(cm, "e");
	act(cm, ACTION_WORD_PREV);
	assert_cursor_on(cm, "n");
	act(cm, ACTION_WORD_PREV);
	assert_cursor_on(cm, "q");
	act(cm, ACTION_WORD_PREV);
	assert_cursor_on(cm, "b");  /* baz */
	act(cm, ACTION_LINE_END);
	assert_cursor_on(cm, "x");
	act(cm, ACTION_LINE_START);
	assert_cursor_on(cm, "f");
	act(cm, ACTION_WORD_PREV);  /* the first cell: stays */
	assert_cursor_on(cm, "f");
	act_n(cm, ACTION_LEFT, 3);
	act_n(cm, ACTION_UP, 3);
	assert_cursor_on(cm, "f");
	act(cm, ACTION_BOTTOM);
	assert_cursor_on(cm, "e");
	act_n(cm, ACTION_DOWN, 5);
	act_n(cm, ACTION_RIGHT, 100);
	act(cm, ACTION_WORD_NEXT);  /* the last cell: stays */
	assert_string_equal(copy_position(cm), "[0/0]");
	copy_free(cm);

	/* Over a wide character: never on its right half. */
	feed(t, "\r\n\xe4\xb8\xad" "ab");
	cm = copy_enter(t);
	act(cm, ACTION_LINE_START);
	act(cm, ACTION_RIGHT);
	assert_cursor_on(cm, "a");
	act(cm, ACTION_LEFT);
	assert_cursor_on(cm, "\xe4\xb8\xad");
	copy_free(cm);
	term_free(t);
}

static void
test_copy_pages(void **state)
{
	struct term		*t = numbered();
	struct copy_mode	*cm = copy_enter(t);
	char			*text = (char *)"x";

	act(cm, ACTION_PAGE_UP);
	assert_string_equal(copy_position(cm), "[4/96]");
	act(cm, ACTION_HALF_UP);
	assert_string_equal(copy_position(cm), "[6/96]");
	act(cm, ACTION_HALF_DOWN);
	act(cm, ACTION_PAGE_DOWN);
	assert_string_equal(copy_position(cm), "[0/96]");
	act(cm, ACTION_TOP);
	assert_string_equal(copy_position(cm), "[96/96]");
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "0 plain");
	act_n(cm, ACTION_PAGE_UP, 3);
	assert_string_equal(copy_position(cm), "[96/96]");
	act(cm, ACTION_BOTTOM);
	assert_string_equal(copy_position(cm), "[0/96]");
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	assert_copy(cm, "prompt$");
	/* Close: no text. */
	assert_int_equal(copy_action(cm, ACTION_CLOSE, &text), 1);
	assert_null(text);
	/* Actions copy mode does not have do nothing. */
	act(cm, ACTION_ROLLBACK);
	act(cm, ACTION_CHECKPOINT);
	act(cm, ACTION_NONE);
	copy_free(cm);
	term_free(t);
}

/* Output keeps coming: the selection stays on its text. */
static void
test_copy_output_arrives(void **state)
{
	struct term		*t = numbered();
	struct copy_mode	*cm = copy_enter(t);
	char			 line[32];

	copy_search_text(cm, "needle", 0);
	act(cm, ACTION_BEGIN_SELECTION);
	act(cm, ACTION_LINE_END);
	for (int i = 0; i < 50; i++) {
		snprintf(line, sizeof line, "more %d\r\n", i);
		feed(t, line);
	}
	assert_string_equal(copy_position(cm), "[116/146]");
	assert_copy(cm, "needle here");
	copy_free(cm);

	/* So much that the selection's line left the scrollback: it is
	 * clamped to what is left, without a crash. */
	cm = copy_enter(t);
	act(cm, ACTION_TOP);
	act(cm, ACTION_SELECT_LINE);
	for (int i = 0; i < TERM_SCROLLBACK + 10; i++)
		feed(t, "flood\r\n");
	act(cm, ACTION_DOWN);
	assert_copy(cm, "flood\nflood");
	copy_free(cm);
	term_free(t);
}

static void
test_copy_hostile(void **state)
{
	static const enum action actions[] = {
		ACTION_UP, ACTION_DOWN, ACTION_LEFT, ACTION_RIGHT,
		ACTION_PAGE_UP, ACTION_PAGE_DOWN, ACTION_HALF_UP,
		ACTION_HALF_DOWN, ACTION_TOP, ACTION_BOTTOM, ACTION_WORD_NEXT,
		ACTION_WORD_PREV, ACTION_LINE_START, ACTION_LINE_END,
		ACTION_SEARCH_FORWARD, ACTION_SEARCH_BACKWARD,
		ACTION_SEARCH_NEXT, ACTION_SEARCH_PREV, ACTION_BEGIN_SELECTION,
		ACTION_SELECT_LINE, ACTION_COPY, ACTION_SELECT, ACTION_CLOSE,
		ACTION_COUNT, (enum action)-1,
	};
	struct term		*t = term_create(1, 1);
	struct copy_mode	*cm = copy_enter(t);
	char			*text, pattern[600];
	unsigned		 seed = 99;
	size_t			 i;

	/* An empty 1x1 terminal. */
	for (i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		text = NULL;
		copy_action(cm, actions[i], &text);
		free(text);
		copy_action(cm, actions[i], NULL);
	}
	copy_search_text(cm, "x", 1);
	copy_free(cm);
	term_free(t);

	/* Random actions over text that keeps changing and resizing. */
	t = numbered();
	cm = copy_enter(t);
	memset(pattern, 'p', sizeof pattern - 1);
	pattern[sizeof pattern - 1] = '\0';
	copy_search_text(cm, pattern, 0);
	for (i = 0; i < 3000; i++) {
		seed = seed * 1103515245 + 12345;
		text = NULL;
		copy_action(cm, actions[(seed >> 16) % 23], &text);
		free(text);
		if (i % 100 == 0) {
			copy_search_text(cm, i % 200 ? "plain" : "\xe4", i % 3);
			feed(t, "x\r\n\xe4\xb8\xad\033[2J");
		}
		if (i % 250 == 0)
			term_resize(t, 1 + (int)(seed % 9), 1 + (int)(seed % 30));
		copy_position(cm);
	}
	copy_free(cm);
	term_free(t);
}

static void
test_copy_draw(void **state)
{
	struct term		*t = numbered();
	struct copy_mode	*cm;
	FILE			*out = fopen("/dev/null", "w");
	FILE			*in = fopen("/dev/null", "r");
	SCREEN			*sp;
	WINDOW			*win;
	cchar_t			 cc;
	wchar_t			 wc[CCHARW_MAX + 1];
	attr_t			 attrs;
	short			 small;
	int			 pair, x, y;

	setlocale(LC_ALL, "C.UTF-8");
	assert_non_null(out);
	assert_non_null(in);
	sp = newterm("xterm-256color", out, in);
	assert_non_null(sp);
	start_color();
	use_default_colors();
	win = newwin(5, 20, 0, 0);

	cm = copy_enter(t);
	copy_search_text(cm, "needle", 0);
	act(cm, ACTION_BEGIN_SELECTION);
	act_n(cm, ACTION_RIGHT, 2);
	copy_draw(cm, win);
	/* Line 30 is on the window's top row: "30 a needle here". */
	getyx(win, y, x);
	assert_int_equal(y, 0);
	assert_int_equal(x, 7);
	for (x = 0; x < 20; x++) {
		assert_int_equal(mvwin_wch(win, 0, x, &cc), OK);
		assert_int_equal(getcchar(&cc, wc, &attrs, &small, &pair), OK);
		/* needle's first three cells are selected; the last of them
		 * is the cursor, shown reversed once more. */
		assert_int_equal(!!(attrs & A_REVERSE), x >= 5 && x <= 6);
		assert_int_equal(wc[0], (wchar_t)"30 a needle here    "[x]);
	}
	assert_int_equal(mvwin_wch(win, 1, 0, &cc), OK);
	assert_int_equal(getcchar(&cc, wc, &attrs, &small, &pair), OK);
	assert_int_equal(wc[0], L'3');
	/* A smaller window: the cursor stays in view. */
	delwin(win);
	win = newwin(2, 20, 0, 0);
	act(cm, ACTION_DOWN);
	act(cm, ACTION_DOWN);
	copy_draw(cm, win);
	getyx(win, y, x);
	assert_int_equal(y, 1);
	copy_free(cm);

	delwin(win);
	endwin();
	delscreen(sp);
	fclose(out);
	fclose(in);
	term_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_search_scrollback),
		cmocka_unit_test(test_copy_search_next),
		cmocka_unit_test(test_copy_selection),
		cmocka_unit_test(test_copy_movement),
		cmocka_unit_test(test_copy_pages),
		cmocka_unit_test(test_copy_output_arrives),
		cmocka_unit_test(test_copy_hostile),
		cmocka_unit_test(test_copy_draw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
