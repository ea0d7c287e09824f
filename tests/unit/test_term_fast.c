#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

/*
 * term.c's fast path for bursts of plain text must leave exactly what
 * libvterm leaves: the same bytes are fed to a term with it and to one
 * without (AIRLOCK_TERM_NO_FAST=1 when it is created), and everything a
 * caller can see is compared.
 */

extern uint64_t term_fast_taken;  /* term.c, for the tests */
extern uint64_t term_fast_redraws;

static uint64_t rng_state;

static unsigned
rng(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n == 0 ? 0 : (unsigned)(rng_state % n);
}

struct pair {
	struct term	*fast, *slow;
	int		 rows, cols;
};

static void
pair_create(struct pair *p, int rows, int cols)
{
	setenv("AIRLOCK_TERM_NO_FAST", "1", 1);
	p->slow = term_create(rows, cols);
	unsetenv("AIRLOCK_TERM_NO_FAST");
	p->fast = term_create(rows, cols);
	term_size(p->fast, &p->rows, &p->cols);
}

static void
pair_free(struct pair *p)
{
	term_free(p->fast);
	term_free(p->slow);
}

static void
cell_equal(const struct term_cell *a, const struct term_cell *b, int row,
    int col)
{
	int	i;

	for (i = 0; i < TERM_MAX_CHARS; i++) {
		if (a->chars[i] != b->chars[i])
			fail_msg("cell %d,%d char %d: %x != %x", row, col, i,
			    a->chars[i], b->chars[i]);
	}
	if (a->width != b->width || a->attrs != b->attrs ||
	    a->fg.type != b->fg.type || a->fg.index != b->fg.index ||
	    a->fg.r != b->fg.r || a->fg.g != b->fg.g || a->fg.b != b->fg.b ||
	    a->bg.type != b->bg.type || a->bg.index != b->bg.index ||
	    a->bg.r != b->bg.r || a->bg.g != b->bg.g || a->bg.b != b->bg.b)
		fail_msg("cell %d,%d: style differs: w %d/%d attrs %x/%x fg %d.%d/%d.%d bg %d.%d/%d.%d ch %x", row, col, a->width, b->width, a->attrs, b->attrs, a->fg.type, a->fg.index, b->fg.type, b->fg.index, a->bg.type, a->bg.index, b->bg.type, b->bg.index, a->chars[0]);
}

/* Everything a caller sees, compared. */
static void
pair_check(struct pair *p)
{
	const struct term_state	*a = term_state(p->fast), *b = term_state(p->slow);
	struct term_cell	 ca, cb;
	int			 row, col, sb;

	assert_int_equal(a->cursor_row, b->cursor_row);
	assert_int_equal(a->cursor_col, b->cursor_col);
	assert_int_equal(a->altscreen, b->altscreen);
	assert_int_equal(term_take_damage(p->fast), term_take_damage(p->slow));
	sb = term_scrollback_lines(p->slow);
	assert_int_equal(term_scrollback_lines(p->fast), sb);
	assert_true(term_lines_scrolled(p->fast) ==
	    term_lines_scrolled(p->slow));
	for (row = -sb; row < p->rows; row++) {
		for (col = 0; col < p->cols; col++) {
			term_cell(p->fast, row, col, &ca);
			term_cell(p->slow, row, col, &cb);
			cell_equal(&ca, &cb, row, col);
		}
	}
}

static void
pair_feed(struct pair *p, const char *s, size_t len)
{
	term_feed(p->fast, s, len);
	term_feed(p->slow, s, len);
}

/* Some plain text of n characters. */
static void
add_text(struct buf *b, int n)
{
	static const char	chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "+/=  ~!#_";
	int			i;

	for (i = 0; i < n; i++)
		buf_addch(b, chars[rng(sizeof chars - 1)]);
}

/* Screen content before the burst: colours, wide characters, moves. */
static void
add_prior(struct buf *b, int rows, int cols)
{
	static const char	*pieces[] = {
		"\033[31mred\033[m", "\033[1;4;7mbold\033[0m",
		"\033[48;5;200m bg \033[m", "\033[38;2;1;2;3mrgb\033[m",
		"\xe6\x97\xa5\xe6\x9c\xac", "e\xcc\x81", "\r\n", "\n", "\r",
		"\t", "\033[K", "\033[3;5H", "\033[2J", "\033[44m\033[K\033[m",
		"\0337", "\0338", "\033[?25l", "\033]0;title\007",
	};
	int			i, n = (int)rng(12);

	for (i = 0; i < n; i++) {
		if (rng(3) == 0)
			add_text(b, (int)rng((unsigned)(2 * cols)));
		else
			buf_addstr(b, pieces[rng(sizeof pieces / sizeof pieces[0])]);
	}
	/* Usually the shell's prompt at the bottom and the command. */
	if (rng(4) != 0) {
		buf_printf(b, "\033[%d;1H", rows);
		buf_addstr(b, "\033[32muser@host\033[m:~$ cat f\r\n");
	}
}

/* n lines of plain text ending in CR LF, the shapes that matter. */
static void
add_lines(struct buf *b, int n, int cols)
{
	int	i;

	for (i = 0; i < n; i++) {
		switch (rng(6)) {
		case 0:
			add_text(b, cols * (int)rng(4));  /* exact multiples */
			break;
		case 1:
			add_text(b, cols + (int)rng(3) - 1);
			break;
		default:
			add_text(b, (int)rng((unsigned)(3 * cols + 1)));
			break;
		}
		buf_addstr(b, "\r\n");
	}
}

/* A burst: lines, maybe a partial one, maybe something that ends the
 * plain text and more lines after it. */
static void
add_burst(struct buf *b, int rows, int cols)
{
	static const char	*breaks[] = {
		"\t", "\n", "\r", "\033[m", "\xc3\xa9", "\033[31m", "\b",
		"\033(0", "\033", "\xe6\x97",
	};

	add_lines(b, (int)rng((unsigned)(3 * rows + 8)), cols);
	if (rng(2))
		add_text(b, (int)rng((unsigned)(2 * cols)));
	if (rng(3) == 0) {
		buf_addstr(b, breaks[rng(sizeof breaks / sizeof breaks[0])]);
		add_lines(b, (int)rng((unsigned)(3 * rows + 8)), cols);
		if (rng(2))
			add_text(b, (int)rng((unsigned)cols));
	}
}

static const int sizes[][2] = {
	{ 1, 1 }, { 1, 3 }, { 2, 5 }, { 3, 2 }, { 24, 80 }, { 40, 120 },
};

/* Feeds prior, then burst in one write or a few, and compares. */
static void
run_case(int rows, int cols, const struct buf *prior, const struct buf *burst,
    int split)
{
	struct pair	p;
	size_t		off, n;

	pair_create(&p, rows, cols);
	pair_feed(&p, prior->data, prior->len);
	pair_check(&p);
	for (off = 0; off < burst->len; off += n) {
		n = burst->len - off;
		if (split && n > 1)
			n = 1 + rng((unsigned)n);
		/* As the pty is read: libvterm 0.1.4 puts a write's text in
		 * an array on the stack. */
		if (n > 65536)
			n = 65536;
		term_feed(p.fast, burst->data + off, n);
		/* The one without it sees the same bytes in the same writes. */
		term_feed(p.slow, burst->data + off, n);
		if (split && rng(20) == 0)
			pair_feed(&p, "\033[m", 3);
		if (split && rng(40) == 0) {
			term_resize(p.fast, rows + 1, cols);
			term_resize(p.slow, rows + 1, cols);
			term_size(p.fast, &p.rows, &p.cols);
			pair_check(&p);
		}
	}
	pair_check(&p);
	/* What is not on the screen (a pending wrap, the pen) shows next. */
	pair_feed(&p, "Z", 1);
	pair_check(&p);
	pair_feed(&p, "\r\nabc\033[31mdef\r\n", 16);
	pair_check(&p);
	pair_free(&p);
}

static void
test_random_bursts(void **state)
{
	struct buf	prior, burst;
	uint64_t	taken = term_fast_taken;
	int		i, s, rows, cols;

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ULL;
	buf_init(&prior);
	buf_init(&burst);
	for (i = 0; i < 400; i++) {
		s = (int)rng(sizeof sizes / sizeof sizes[0]);
		rows = sizes[s][0];
		cols = sizes[s][1] < 2 ? 2 : sizes[s][1];  /* term's minimum */
		buf_reset(&prior);
		buf_reset(&burst);
		add_prior(&prior, rows, cols);
		add_burst(&burst, rows, cols);
		run_case(rows, cols, &prior, &burst, rng(4) == 0);
	}
	/* It was taken, or this compared nothing. */
	assert_true(term_fast_taken - taken > 100);
	buf_free(&prior);
	buf_free(&burst);
}

/* Before the burst, something after which it must not be taken (or
 * must be taken with care); then the burst; then maybe an undo. */
static const struct {
	const char	*set;
	const char	*unset;
	int		 taken;  /* whether the burst may take it */
} modes[] = {
	{ "\033[?1049h", "\033[?1049l", 0 },   /* the alternate screen */
	{ "\033[?1047h", "\033[?1047l", 0 },
	{ "\033[?47h", "\033[?47l", 1 },      /* not in libvterm 0.1.4 */
	{ "\033[2;5r", "\033[r", 0 },           /* a scroll region */
	{ "\033[2;99r", "\033[1r", 0 },
	{ "\033[1;3r", "\033[r", 1 },         /* the whole of 3 rows */
	{ "\033[?69h\033[2;4s", "\033[?69l", 0 },
	{ "\033[?7l", "\033[?7h", 0 },          /* no autowrap */
	{ "\033[4h", "\033[4l", 0 },            /* insert */
	{ "\033[?6h", "\033[?6l", 0 },          /* origin */
	{ "\033[31m", "\033[39m", 0 },          /* the pen */
	{ "\033[44m", "\033[49m", 0 },
	{ "\033[1m", "\033[22m", 0 },
	{ "\033[4m", "\033[24m", 0 },
	{ "\033[7m", "\033[27m", 0 },
	{ "\033[11m", "\033[10m", 0 },
	{ "\033(0", "\033(B", 0 },              /* charsets */
	{ "\033)0\016", "\033)B", 0 },
	{ "\033*A\033n", "\033*B", 0 },
	{ "\033+0\033o", "\033c", 0 },
	{ "\033-A\016", "\033c", 0 },
	{ "\033#6", "\033[2J", 0 },             /* a double-width line */
	{ "\033#3", "\033[2J", 0 },
	{ "\033[2;3r\033c", "", 1 },
	{ "\033(0\0337\033(B\0338", "", 1 },
	{ "\033[?7l\0337\033[?7h\0338", "", 1 },
	{ "\033[2;5r\033[!p", "\033[r", 0 },    /* DECSTR keeps the region */
	{ "\033[1;4;7m\033[m", "", 1 },
	{ "\033N", "", 1 },                     /* a single shift */
	{ "\xe6\x97", "", 1 },                  /* half a character */
	{ "\033[3;3r\033[?6h\033[1;1H", "\033[?6l\033[r", 0 },
	{ "\033[999;999r", "\033[r", 0 },
	{ "\033[;r", "\033[r", 0 },
	{ "\033[0r", "\033[r", 0 },
	{ "\033[?7;4l", "\033[?7h", 0 },
	{ "\033[?1;7l", "\033[?7h", 0 },
	{ "\033[1;2$r", "", 1 },
};

static void
test_modes(void **state)
{
	struct buf	prior, burst, lines;
	size_t		m;
	int		s, rows, cols, k;
	uint64_t	before;

	(void)state;
	rng_state = 12345;
	buf_init(&prior);
	buf_init(&burst);
	buf_init(&lines);
	for (m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		for (s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++) {
			rows = sizes[s][0];
			cols = sizes[s][1] < 2 ? 2 : sizes[s][1];
			for (k = 0; k < 3; k++) {
				buf_reset(&prior);
				buf_reset(&burst);
				add_prior(&prior, rows, cols);
				buf_addstr(&prior, "\033[41mred\033[m\r\n");
				buf_addstr(&prior, modes[m].set);
				buf_printf(&prior, "\033[%d;1H", rows);
				add_text(&prior, (int)rng((unsigned)cols));
				add_lines(&burst, 3 * rows + 10, cols);
				if (k == 1)
					buf_addstr(&burst, modes[m].unset);
				if (k >= 1)
					add_burst(&burst, rows, cols);
				before = term_fast_taken;
				run_case(rows, cols, &prior, &burst, k == 2);
				if (!modes[m].taken && k == 0)
					assert_true(term_fast_taken == before);
			}
		}
	}
	buf_free(&prior);
	buf_free(&burst);
	buf_free(&lines);
}

/* Far more lines than the scrollback keeps, in one write. */
static void
test_scrollback_full(void **state)
{
	struct buf	burst;
	int		s;

	(void)state;
	rng_state = 777;
	buf_init(&burst);
	for (s = 0; s < 3; s++) {
		struct buf	prior;
		int		rows = s == 0 ? 1 : 24, cols = s == 2 ? 300 : 80;

		buf_init(&prior);
		buf_reset(&burst);
		add_prior(&prior, rows, cols);
		buf_printf(&prior, "\033[%d;1H", rows);
		add_lines(&burst, TERM_SCROLLBACK + 500, cols);
		run_case(rows, cols, &prior, &burst, 0);
		buf_free(&prior);
	}
	buf_free(&burst);
}

/* As a pty is read: pieces of 4095 bytes, or a few, some ending
 * between CR and LF. */
static void
test_chunks(void **state)
{
	struct buf	prior, burst;
	struct pair	p;
	size_t		off, n;
	int		i, s, rows, cols, size;
	uint64_t	taken = term_fast_taken;

	(void)state;
	rng_state = 4242;
	buf_init(&prior);
	buf_init(&burst);
	for (i = 0; i < 60; i++) {
		s = (int)rng(sizeof sizes / sizeof sizes[0]);
		rows = sizes[s][0];
		cols = sizes[s][1] < 2 ? 2 : sizes[s][1];
		buf_reset(&prior);
		buf_reset(&burst);
		add_prior(&prior, rows, cols);
		add_lines(&burst, 200 + (int)rng(400), cols);
		add_burst(&burst, rows, cols);
		size = i % 3 == 0 ? 4095 : 1 + (int)rng(300);
		pair_create(&p, rows, cols);
		pair_feed(&p, prior.data, prior.len);
		for (off = 0; off < burst.len; off += n) {
			n = burst.len - off < (size_t)size ? burst.len - off :
			    (size_t)size;
			/* A CR at the end of a read, the LF in the next. */
			if (rng(4) == 0 && memchr(burst.data + off, '\n', n)) {
				n = (size_t)((char *)memchr(burst.data + off,
				    '\n', n) - (burst.data + off));
				if (n == 0)
					n = 1;
			}
			pair_feed(&p, burst.data + off, n);
			if (rng(10) == 0)
				pair_check(&p);
		}
		pair_check(&p);
		pair_feed(&p, "Z\r\n", 3);
		pair_check(&p);
		pair_free(&p);
	}
	assert_true(term_fast_taken - taken > 200);
	buf_free(&prior);
	buf_free(&burst);
}

/*
 * A flood read a pty's 4095 bytes at a time puts libvterm's screen right
 * once, when something needs it, rather than once a read: until then the
 * cells and the cursor come from the shadow, and are the same.
 */
static void
test_deferred(void **state)
{
	struct buf	burst;
	struct pair	p;
	size_t		off, n;
	uint64_t	redraws;
	int		i;

	(void)state;
	rng_state = 99;
	buf_init(&burst);
	for (i = 0; i < 3; i++) {
		pair_create(&p, 39, 120);
		pair_feed(&p, "\033[32m$\033[m cat f\r\n", 17);
		buf_reset(&burst);
		add_lines(&burst, 3000, 120);
		add_text(&burst, 50);
		redraws = term_fast_redraws;
		for (off = 0; off < burst.len; off += n) {
			n = burst.len - off < 4095 ? burst.len - off : 4095;
			pair_feed(&p, burst.data + off, n);
			if (off % (40 * 4095) == 0)
				pair_check(&p);
		}
		pair_check(&p);
		assert_true(term_fast_redraws == redraws);
		/* Then what libvterm must see: the screen first, once. */
		switch (i) {
		case 0:
			pair_feed(&p, "\033[31mred\033[m\r\n", 13);
			break;
		case 1:
			term_resize(p.fast, 30, 100);
			term_resize(p.slow, 30, 100);
			term_size(p.fast, &p.rows, &p.cols);
			break;
		case 2:
			pair_feed(&p, "\b\bxy\033[A\033[2K", 11);
			break;
		}
		assert_true(term_fast_redraws == redraws + 1);
		pair_check(&p);
		pair_feed(&p, "more\r\n", 6);
		pair_check(&p);
		pair_free(&p);
	}
	buf_free(&burst);
}

/* One feed of several MB, plain or coloured (never the fast path): libvterm
 * gets it in pieces its stack can hold. */
static void
test_huge_feed(void **state)
{
	size_t len = 6 * 1024 * 1024, i;
	char *data = malloc(len);
	struct term *t = term_create(24, 80);
	struct term_cell c;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = i % 81 == 80 ? '\n' : (char)('a' + i % 26);
	term_feed(t, data, len);
	/* colour on every line: the normal path */
	for (i = 0; i + 8 < len; i += 81)
		memcpy(data + i, "\033[31mX", 7);
	term_feed(t, data, len);
	term_cell(t, 0, 0, &c);
	assert_int_equal(term_scrollback_lines(t), TERM_SCROLLBACK);
	term_free(t);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_feed),
		cmocka_unit_test(test_random_bursts),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_scrollback_full),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
