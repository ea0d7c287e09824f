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
#include <time.h>

#include "tui/tui.h"

static struct term_color
rgb(int r, int g, int b)
{
	return (struct term_color){ .type = TERM_COLOR_RGB, .r = (uint8_t)r,
	    .g = (uint8_t)g, .b = (uint8_t)b };
}

static struct term_color
indexed(int i)
{
	return (struct term_color){ .type = TERM_COLOR_INDEX,
	    .index = (uint8_t)i };
}

static void
test_draw_color_default(void **state)
{
	struct term_color	c = { .type = TERM_COLOR_DEFAULT };

	assert_int_equal(draw_color(&c, 256), -1);
	assert_int_equal(draw_color(&c, 8), -1);
	/* A terminal without colours shows none. */
	c = indexed(1);
	assert_int_equal(draw_color(&c, 0), -1);
	assert_int_equal(draw_color(&c, 2), -1);
}

static void
test_draw_color_index(void **state)
{
	struct term_color	c;
	int			i;

	/* Kept as they are where they exist. */
	for (i = 0; i < 256; i++) {
		c = indexed(i);
		assert_int_equal(draw_color(&c, 256), i);
		assert_int_equal(draw_color(&c, 1 << 24), i);
		if (i < 16)
			assert_int_equal(draw_color(&c, 16), i);
		if (i < 8)
			assert_int_equal(draw_color(&c, 8), i);
		assert_in_range(draw_color(&c, 16), 0, 15);
		assert_in_range(draw_color(&c, 8), 0, 7);
		assert_in_range(draw_color(&c, 88), 0, 15);
	}
	/* Bright colours on 8: their normal selves, but grey is not black. */
	c = indexed(9);
	assert_int_equal(draw_color(&c, 8), 1);
	c = indexed(12);
	assert_int_equal(draw_color(&c, 8), 4);
	c = indexed(15);
	assert_int_equal(draw_color(&c, 8), 7);
	c = indexed(8);
	assert_int_equal(draw_color(&c, 8), 7);
	/* The cube and the grey ramp, by nearest. */
	c = indexed(196);  /* ff0000 */
	assert_int_equal(draw_color(&c, 16), 9);
	assert_int_equal(draw_color(&c, 8), 1);
	c = indexed(21);   /* 0000ff: nearer 0000ee than 5c5cff */
	assert_int_equal(draw_color(&c, 16), 4);
	assert_int_equal(draw_color(&c, 8), 4);
	c = indexed(46);   /* 00ff00 */
	assert_int_equal(draw_color(&c, 16), 10);
	assert_int_equal(draw_color(&c, 8), 2);
	c = indexed(16);   /* 000000 */
	assert_int_equal(draw_color(&c, 16), 0);
	c = indexed(231);  /* ffffff */
	assert_int_equal(draw_color(&c, 16), 15);
	assert_int_equal(draw_color(&c, 8), 7);
	c = indexed(232);  /* 080808 */
	assert_int_equal(draw_color(&c, 16), 0);
	c = indexed(244);  /* 808080 */
	assert_int_equal(draw_color(&c, 16), 8);
	assert_int_equal(draw_color(&c, 8), 7);
	c = indexed(239);  /* 4e4e4e */
	assert_int_equal(draw_color(&c, 16), 8);
	assert_int_equal(draw_color(&c, 8), 0);
	c = indexed(226);  /* ffff00 */
	assert_int_equal(draw_color(&c, 16), 11);
	assert_int_equal(draw_color(&c, 8), 3);
}

static void
test_draw_color_rgb(void **state)
{
	struct term_color	c;

	/* Exact cube colours. */
	c = rgb(0, 0, 0);
	assert_int_equal(draw_color(&c, 256), 16);
	c = rgb(255, 255, 255);
	assert_int_equal(draw_color(&c, 256), 231);
	c = rgb(255, 0, 0);
	assert_int_equal(draw_color(&c, 256), 196);
	c = rgb(0x5f, 0x87, 0xaf);
	assert_int_equal(draw_color(&c, 256), 16 + 36 * 1 + 6 * 2 + 3);
	/* Near the cube. */
	c = rgb(250, 5, 3);
	assert_int_equal(draw_color(&c, 256), 196);
	c = rgb(0x80, 0x80, 0xd0);  /* 87 87 d7 */
	assert_int_equal(draw_color(&c, 256), 16 + 36 * 2 + 6 * 2 + 4);
	/* Greys go to the ramp. */
	c = rgb(128, 128, 128);
	assert_int_equal(draw_color(&c, 256), 244);
	c = rgb(30, 30, 30);
	assert_int_equal(draw_color(&c, 256), 234);
	c = rgb(240, 240, 240);
	assert_int_equal(draw_color(&c, 256), 255);
	c = rgb(1, 1, 1);
	assert_int_equal(draw_color(&c, 256), 16);
	/* Down to 16 and 8 from the colour itself. */
	c = rgb(250, 5, 3);
	assert_int_equal(draw_color(&c, 16), 9);
	assert_int_equal(draw_color(&c, 8), 1);
	c = rgb(200, 10, 10);
	assert_int_equal(draw_color(&c, 16), 1);
	assert_int_equal(draw_color(&c, 8), 1);
	c = rgb(10, 10, 230);
	assert_int_equal(draw_color(&c, 16), 4);
	assert_int_equal(draw_color(&c, 8), 4);
	c = rgb(120, 120, 130);
	assert_int_equal(draw_color(&c, 16), 8);
	c = rgb(250, 250, 250);
	assert_int_equal(draw_color(&c, 16), 15);
	assert_int_equal(draw_color(&c, 8), 7);
	c = rgb(0, 200, 200);
	assert_int_equal(draw_color(&c, 16), 6);
	assert_int_equal(draw_color(&c, 8), 6);
	/* Every colour lands somewhere valid. */
	for (int r = 0; r < 256; r += 15) {
		for (int g = 0; g < 256; g += 17) {
			for (int b = 0; b < 256; b += 51) {
				c = rgb(r, g, b);
				assert_in_range(draw_color(&c, 256), 16, 255);
				assert_in_range(draw_color(&c, 16), 0, 15);
				assert_in_range(draw_color(&c, 8), 0, 7);
			}
		}
	}
}

static void
test_draw_attrs(void **state)
{
	assert_int_equal(draw_attrs(0), A_NORMAL);
	assert_int_equal(draw_attrs(TERM_BOLD), A_BOLD);
	assert_int_equal(draw_attrs(TERM_ITALIC), A_ITALIC);
	assert_int_equal(draw_attrs(TERM_UNDERLINE), A_UNDERLINE);
	assert_int_equal(draw_attrs(TERM_REVERSE), A_REVERSE);
	assert_int_equal(draw_attrs(TERM_BLINK), A_BLINK);
	assert_int_equal(draw_attrs(TERM_DIM), A_DIM);
	assert_int_equal(draw_attrs(TERM_BOLD | TERM_UNDERLINE | TERM_STRIKE),
	    A_BOLD | A_UNDERLINE);
}

/* An ncurses screen writing to /dev/null, 256 colours. */
struct screen {
	SCREEN	*sp;
	FILE	*out, *in;
};

static int
screen_open(void **state, const char *term)
{
	struct screen	*s = calloc(1, sizeof *s);

	setlocale(LC_ALL, "C.UTF-8");
	s->out = fopen("/dev/null", "w");
	s->in = fopen("/dev/null", "r");
	if (s->out == NULL || s->in == NULL)
		return -1;
	setenv("COLUMNS", "220", 1);
	setenv("LINES", "70", 1);
	s->sp = newterm(term, s->out, s->in);
	if (s->sp == NULL)
		return -1;
	start_color();
	use_default_colors();
	*state = s;
	return 0;
}

static int
screen_setup(void **state)
{
	return screen_open(state, "xterm-256color");
}

/* xterm: 8 colours and 64 pairs. */
static int
screen_setup_8(void **state)
{
	return screen_open(state, "xterm");
}

static int
screen_teardown(void **state)
{
	struct screen	*s = *state;

	endwin();
	delscreen(s->sp);
	fclose(s->out);
	fclose(s->in);
	free(s);
	return 0;
}

/* What the window holds at y, x: the characters, attributes and pair. */
static void
window_cell(WINDOW *win, int y, int x, wchar_t *wc, attr_t *attrs,
    int *pair)
{
	cchar_t	cc;
	short	small;

	assert_int_equal(mvwin_wch(win, y, x, &cc), OK);
	assert_int_equal(getcchar(&cc, wc, attrs, &small, pair), OK);
}

static void
assert_window_char(WINDOW *win, int y, int x, wchar_t want)
{
	wchar_t	wc[CCHARW_MAX + 1];
	attr_t	attrs;
	int	pair;

	window_cell(win, y, x, wc, &attrs, &pair);
	if (wc[0] != want)
		fail_msg("cell %d,%d is U+%04X, not U+%04X", y, x,
		    (unsigned)wc[0], (unsigned)want);
}

static void
assert_pair_colors(int pair, int fg, int bg)
{
	int	f, b;

	assert_int_equal(extended_pair_content(pair, &f, &b), OK);
	assert_int_equal(f, fg);
	assert_int_equal(b, bg);
}

static void
test_draw_term_cells(void **state)
{
	struct term	*t = term_create(5, 20);
	WINDOW		*win = newwin(5, 20, 0, 0);
	wchar_t		 wc[CCHARW_MAX + 1];
	attr_t		 attrs;
	int		 pair;
	const char	*s;

	assert_non_null(win);
	s = "a\033[1;31mb\033[0;4;48;5;17mc\033[m\xe4\xb8\xad" "d"
	    "e\xcc\x81\033[38;2;255;0;0mr\033[m\r\nline two";
	term_feed(t, s, strlen(s));
	/* Something old in the window is overwritten. */
	mvwaddstr(win, 3, 0, "stale stale stale");
	draw_term(win, t, 0, NULL);

	window_cell(win, 0, 0, wc, &attrs, &pair);
	assert_int_equal(wc[0], L'a');
	assert_int_equal(pair, 0);
	assert_int_equal(attrs & (A_BOLD | A_UNDERLINE), 0);
	window_cell(win, 0, 1, wc, &attrs, &pair);
	assert_int_equal(wc[0], L'b');
	assert_true(attrs & A_BOLD);
	assert_pair_colors(pair, 1, -1);
	window_cell(win, 0, 2, wc, &attrs, &pair);
	assert_int_equal(wc[0], L'c');
	assert_true(attrs & A_UNDERLINE);
	assert_false(attrs & A_BOLD);
	assert_pair_colors(pair, -1, 17);
	/* The wide character takes columns 3 and 4. */
	assert_window_char(win, 0, 3, 0x4e2d);
	assert_window_char(win, 0, 5, L'd');
	window_cell(win, 0, 6, wc, &attrs, &pair);
	assert_int_equal(wc[0], L'e');
	assert_int_equal(wc[1], 0x301);
	window_cell(win, 0, 7, wc, &attrs, &pair);
	assert_int_equal(wc[0], L'r');
	assert_pair_colors(pair, 196, -1);
	assert_window_char(win, 0, 8, L' ');
	assert_window_char(win, 1, 0, L'l');
	assert_window_char(win, 1, 7, L'o');
	assert_window_char(win, 3, 0, L' ');
	assert_window_char(win, 3, 10, L' ');
	delwin(win);
	term_free(t);
}

static void
test_draw_term_offset_selection(void **state)
{
	struct term	*t = term_create(4, 10);
	WINDOW		*win = newwin(4, 10, 0, 0);
	struct draw_sel	 sel = { 0 };
	wchar_t		 wc[CCHARW_MAX + 1];
	attr_t		 attrs;
	int		 pair, x;
	char		 line[32];

	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof line, "row%d\r\n", i);
		term_feed(t, line, strlen(line));
	}
	/* row0 .. row6 scrolled off; row7 row8 row9 and the cursor line. */
	assert_int_equal(term_scrollback_lines(t), 7);
	draw_term(win, t, 2, NULL);
	assert_window_char(win, 0, 3, L'5');
	assert_window_char(win, 1, 3, L'6');
	assert_window_char(win, 2, 3, L'7');
	assert_window_char(win, 3, 3, L'8');
	/* Past the top: the oldest line first. */
	draw_term(win, t, 100, NULL);
	assert_window_char(win, 0, 3, L'0');
	draw_term(win, t, -3, NULL);
	assert_window_char(win, 0, 3, L'7');

	/* A selection from the end of row6 back to row5, column 2. */
	sel.active = 1;
	sel.start_row = -1;
	sel.start_col = 1;
	sel.end_row = -2;
	sel.end_col = 2;
	draw_term(win, t, 2, &sel);
	for (x = 0; x < 10; x++) {
		window_cell(win, 0, x, wc, &attrs, &pair);
		assert_int_equal(!!(attrs & A_REVERSE), x >= 2);
		window_cell(win, 1, x, wc, &attrs, &pair);
		assert_int_equal(!!(attrs & A_REVERSE), x <= 1);
		window_cell(win, 2, x, wc, &attrs, &pair);
		assert_false(attrs & A_REVERSE);
	}
	sel.line_mode = 1;
	draw_term(win, t, 2, &sel);
	for (x = 0; x < 10; x++) {
		window_cell(win, 0, x, wc, &attrs, &pair);
		assert_true(attrs & A_REVERSE);
		window_cell(win, 1, x, wc, &attrs, &pair);
		assert_true(attrs & A_REVERSE);
		window_cell(win, 2, x, wc, &attrs, &pair);
		assert_false(attrs & A_REVERSE);
	}
	delwin(win);
	term_free(t);
}

static void
test_draw_term_edges(void **state)
{
	struct term	*t = term_create(3, 6);
	WINDOW		*win = newwin(4, 5, 0, 0);
	const char	*s = "abcd\xe4\xb8\xad";

	/* The wide character sits on columns 4-5, the window ends at 4. */
	term_feed(t, s, strlen(s));
	draw_term(win, t, 0, NULL);
	assert_window_char(win, 0, 3, L'd');
	assert_window_char(win, 0, 4, L' ');
	/* The row under the terminal is cleared. */
	assert_window_char(win, 3, 0, L' ');
	delwin(win);
	/* A window wider than the terminal. */
	win = newwin(3, 12, 0, 0);
	mvwaddstr(win, 0, 0, "xxxxxxxxxxxx");
	draw_term(win, t, 0, NULL);
	assert_window_char(win, 0, 4, 0x4e2d);
	assert_window_char(win, 0, 8, L' ');
	assert_window_char(win, 0, 11, L' ');
	delwin(win);
	term_free(t);
}

/* Many colours: the pairs run out and are reused, nothing breaks. */
static void
test_draw_term_many_colors(void **state)
{
	struct term	*t = term_create(60, 200);
	WINDOW		*win = newwin(60, 200, 0, 0);
	struct timespec	 a, b;
	char		 seq[64];
	double		 ms;
	int		 i, n, rounds = 20;

	for (i = 0; i < 60 * 200 - 1; i++) {
		n = snprintf(seq, sizeof seq, "\033[38;2;%d;%d;%d;48;5;%dm%c",
		    i % 256, (i / 7) % 256, (i / 3) % 256, i % 256,
		    'a' + i % 26);
		term_feed(t, seq, (size_t)n);
	}
	draw_term(win, t, 0, NULL);
	assert_window_char(win, 0, 0, L'a');
	assert_window_char(win, 59, 198, (wchar_t)('a' + (60 * 200 - 2) % 26));

	/* A full redraw of plain text, timed. */
	term_feed(t, "\033[m\033[2J\033[H", 10);
	for (i = 0; i < 60; i++) {
		n = snprintf(seq, sizeof seq, "\033[%d;1H", i + 1);
		term_feed(t, seq, (size_t)n);
		for (int j = 0; j < 10; j++)
			term_feed(t, "\033[32mtext \033[1mmore ",
			    strlen("\033[32mtext \033[1mmore "));
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < rounds; i++)
		draw_term(win, t, 0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) /
	    rounds;
	print_message("# draw_term 200x60: %.3f ms\n", ms);
	assert_true(ms < 100);  /* loose: valgrind runs this too */
	delwin(win);
	term_free(t);
}

/* More colour combinations than pairs: they are reused, nothing breaks,
 * and what was drawn last has its colours. */
static void
test_draw_term_few_pairs(void **state)
{
	struct term	*t = term_create(10, 40);
	WINDOW		*win = newwin(10, 40, 0, 0);
	wchar_t		 wc[CCHARW_MAX + 1];
	attr_t		 attrs;
	char		 seq[64];
	int		 i, n, pair;

	assert_int_equal(COLORS, 8);
	assert_int_equal(COLOR_PAIRS, 64);
	for (i = 0; i < 400; i++) {
		n = snprintf(seq, sizeof seq, "\033[38;5;%d;48;5;%dm%c",
		    i % 16, (i / 16) % 16, 'A' + i % 26);
		term_feed(t, seq, (size_t)n);
	}
	for (int round = 0; round < 3; round++)
		draw_term(win, t, 0, NULL);
	window_cell(win, 9, 39, wc, &attrs, &pair);
	assert_int_equal(wc[0], (wchar_t)('A' + 399 % 26));
	/* 399: fg 15 on bg 8, both shown as 7 (white) with 8 colours */
	assert_pair_colors(pair, 7, 7);
	window_cell(win, 9, 38, wc, &attrs, &pair);
	assert_pair_colors(pair, 6, 7);  /* 14 on 8 */
	delwin(win);
	term_free(t);
}

int
main(void)
{
	/* one group: TAP allows one plan per program */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draw_color_default),
		cmocka_unit_test(test_draw_color_index),
		cmocka_unit_test(test_draw_color_rgb),
		cmocka_unit_test(test_draw_attrs),
		cmocka_unit_test_setup_teardown(test_draw_term_cells,
		    screen_setup, screen_teardown),
		cmocka_unit_test_setup_teardown(test_draw_term_offset_selection,
		    screen_setup, screen_teardown),
		cmocka_unit_test_setup_teardown(test_draw_term_edges,
		    screen_setup, screen_teardown),
		cmocka_unit_test_setup_teardown(test_draw_term_many_colors,
		    screen_setup, screen_teardown),
		cmocka_unit_test_setup_teardown(test_draw_term_few_pairs,
		    screen_setup_8, screen_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
