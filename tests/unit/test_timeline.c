/*
 * The timeline's lines and selection, and the status line's text (drawn
 * into an ncurses window on a terminal that writes to /dev/null).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tui/tui.h"

static struct ckpt *
make_ckpts(size_t n)
{
	struct ckpt *v = xcalloc(n, sizeof *v);

	for (size_t i = 0; i < n; i++) {
		v[i].number = (uint32_t)i;
		v[i].time = 1700000000 + (int64_t)i * 60;
		v[i].reason = xstrdup(i == 0 ? "start" : "prompt");
		v[i].added = i;
		v[i].modified = 2 * i;
		v[i].deleted = 1;
	}
	return v;
}

static void
test_timeline_line(void **state)
{
	struct ckpt c;
	struct buf b = BUF_INIT;
	struct tm tm;
	time_t t = 1700000000;
	char when[16], want[128];

	(void)state;
	memset(&c, 0, sizeof c);
	c.number = 12;
	c.time = 1700000000;
	c.reason = (char *)"agent";
	c.label = (char *)"fix the \xc3\xa9 parser";
	c.added = 3;
	c.modified = 1;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	timeline_line(&c, &b);
	snprintf(want, sizeof want, "#12 %s agent fix the \xc3\xa9 parser "
	    "+3 ~1 -0", when);
	assert_string_equal(b.data, want);
	/* no label, an empty one: nothing between reason and counts */
	buf_reset(&b);
	c.label = (char *)"";
	timeline_line(&c, &b);
	snprintf(want, sizeof want, "#12 %s agent +3 ~1 -0", when);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
test_timeline_move(void **state)
{
	struct timeline tl;

	(void)state;
	memset(&tl, 0, sizeof tl);
	/* empty: nothing moves, nothing selected */
	timeline_move(&tl, ACTION_DOWN, 10);
	timeline_move(&tl, ACTION_BOTTOM, 10);
	assert_null(timeline_selection(&tl));
	assert_null(timeline_newest(&tl));

	tl.v = make_ckpts(30);
	tl.n = 30;
	tl.selected = 29;
	assert_int_equal(timeline_newest(&tl)->number, 29);
	timeline_move(&tl, ACTION_DOWN, 10);
	assert_int_equal(tl.selected, 29);
	timeline_move(&tl, ACTION_UP, 10);
	assert_int_equal(tl.selected, 28);
	timeline_move(&tl, ACTION_PAGE_UP, 10);
	assert_int_equal(tl.selected, 19);
	timeline_move(&tl, ACTION_HALF_UP, 10);
	assert_int_equal(tl.selected, 14);
	timeline_move(&tl, ACTION_TOP, 10);
	assert_int_equal(tl.selected, 0);
	timeline_move(&tl, ACTION_UP, 10);
	timeline_move(&tl, ACTION_PAGE_UP, 10);
	assert_int_equal(tl.selected, 0);
	timeline_move(&tl, ACTION_PAGE_DOWN, 100);
	assert_int_equal(tl.selected, 29);
	timeline_move(&tl, ACTION_TOP, 0);
	timeline_move(&tl, ACTION_HALF_DOWN, 0);
	assert_int_equal(tl.selected, 1);
	/* actions that are not moves leave it */
	timeline_move(&tl, ACTION_COPY, 10);
	assert_int_equal(tl.selected, 1);
	assert_int_equal(timeline_selection(&tl)->number, 1);
	timeline_clear(&tl);
	assert_int_equal(tl.n, 0);
}

/* The text of row y of win. */
static char *
win_text(WINDOW *win, int y)
{
	char line[512];
	int cols = getmaxx(win), x;
	chtype ch;

	for (x = 0; x < cols && x < (int)sizeof line - 1; x++) {
		ch = mvwinch(win, y, x);
		line[x] = (char)(ch & A_CHARTEXT);
	}
	line[x] = '\0';
	while (x > 0 && line[x - 1] == ' ')
		line[--x] = '\0';
	return xstrdup(line);
}

static void
test_draw_panes(void **state)
{
	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	SCREEN *screen;
	struct status_info si;
	struct timeline tl;
	struct ckpt newest;
	WINDOW *bar, *side;
	char *text;

	(void)state;
	assert_non_null(out);
	screen = newterm("xterm-256color", out, in);
	assert_non_null(screen);
	bar = newwin(1, 100, 0, 0);
	memset(&si, 0, sizeof si);
	si.name = "fix";
	si.id = 4;
	si.tree = "project";
	si.net = "net:none";
	si.hidden = 7;
	si.changes = 3;
	memset(&newest, 0, sizeof newest);
	newest.number = 5;
	newest.reason = (char *)"prompt";
	newest.time = time(NULL);
	si.newest = &newest;
	status_draw(&si, bar, 0);
	text = win_text(bar, 0);
	assert_non_null(strstr(text, " airlock fix | project | net:none | "
	    "7 hidden | 3 changes | #5 prompt "));
	free(text);
	/* busy and a message on the right; the prefix marked */
	si.busy = "checkpointing";
	si.busy_since = 1000;
	si.message = (char *)"checkpoint #5 (prompt)";
	si.message_until = 10000;
	si.prefix = 1;
	status_draw(&si, bar, 4000);
	text = win_text(bar, 0);
	assert_non_null(strstr(text, "[prefix]"));
	assert_non_null(strstr(text, "checkpoint #5 (prompt) "
	    "checkpointing 3s..."));
	free(text);
	/* a question takes the line; a narrow bar keeps the message */
	si.prompt = "quit? [y/N]";
	status_draw(&si, bar, 4000);
	text = win_text(bar, 0);
	assert_string_equal(text, " quit? [y/N]");
	free(text);
	si.prompt = NULL;
	delwin(bar);
	bar = newwin(1, 30, 0, 0);
	status_draw(&si, bar, 4000);
	text = win_text(bar, 0);
	assert_non_null(strstr(text, "checkpoint #5"));
	free(text);
	delwin(bar);

	/* the timeline: a title, the newest rows, the selection in view */
	memset(&tl, 0, sizeof tl);
	tl.v = make_ckpts(20);
	tl.n = 20;
	tl.selected = 19;
	side = newwin(6, 40, 0, 0);
	timeline_draw(&tl, side, 1);
	text = win_text(side, 0);
	assert_string_equal(text, "Timeline (focus)");
	free(text);
	text = win_text(side, 5);
	assert_true(strncmp(text, "#19 ", 4) == 0);
	free(text);
	tl.selected = 2;
	timeline_draw(&tl, side, 1);
	text = win_text(side, 1);
	assert_true(strncmp(text, "#2 ", 3) == 0);
	free(text);
	/* too small to draw: no crash */
	delwin(side);
	side = newwin(1, 1, 0, 0);
	timeline_draw(&tl, side, 0);
	delwin(side);
	timeline_clear(&tl);
	endwin();
	delscreen(screen);
	fclose(out);
	fclose(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeline_line),
		cmocka_unit_test(test_timeline_move),
		cmocka_unit_test(test_draw_panes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
