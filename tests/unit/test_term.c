#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

/*
 * The test binary is linked with --wrap for malloc, calloc, realloc and
 * free, so the bytes the scrollback holds can be counted (mallinfo2 reads
 * 0 under valgrind).
 */
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
void __wrap_free(void *);

static long long live_bytes;

void *
__wrap_malloc(size_t n)
{
	void	*p = __real_malloc(n);

	if (p != NULL)
		live_bytes += (long long)malloc_usable_size(p);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void	*p = __real_calloc(n, size);

	if (p != NULL)
		live_bytes += (long long)malloc_usable_size(p);
	return p;
}

void *
__wrap_realloc(void *old, size_t n)
{
	size_t	 before = old != NULL ? malloc_usable_size(old) : 0;
	void	*p = __real_realloc(old, n);

	if (p != NULL)
		live_bytes += (long long)malloc_usable_size(p) - (long long)before;
	return p;
}

void
__wrap_free(void *p)
{
	if (p != NULL)
		live_bytes -= (long long)malloc_usable_size(p);
	__real_free(p);
}

static void
feed(struct term *t, const char *s)
{
	term_feed(t, s, strlen(s));
}

/* The text of a row (term_cell rows), UTF-8, trailing blanks trimmed. */
static char *
row_text(struct term *t, int row)
{
	struct buf		b = BUF_INIT;
	struct term_cell	c;
	int			rows, cols, col, i;
	size_t			keep = 0;

	term_size(t, &rows, &cols);
	for (col = 0; col < cols; col++) {
		term_cell(t, row, col, &c);
		if (c.width == 0)
			continue;
		if (c.chars[0] == 0) {
			buf_addch(&b, ' ');
			continue;
		}
		for (i = 0; i < TERM_MAX_CHARS && c.chars[i] != 0; i++) {
			uint32_t	u = c.chars[i];

			if (u < 0x80)
				buf_addch(&b, (int)u);
			else if (u < 0x800) {
				buf_addch(&b, (int)(0xc0 | (u >> 6)));
				buf_addch(&b, (int)(0x80 | (u & 0x3f)));
			} else if (u < 0x10000) {
				buf_addch(&b, (int)(0xe0 | (u >> 12)));
				buf_addch(&b, (int)(0x80 | ((u >> 6) & 0x3f)));
				buf_addch(&b, (int)(0x80 | (u & 0x3f)));
			} else {
				buf_addch(&b, (int)(0xf0 | (u >> 18)));
				buf_addch(&b, (int)(0x80 | ((u >> 12) & 0x3f)));
				buf_addch(&b, (int)(0x80 | ((u >> 6) & 0x3f)));
				buf_addch(&b, (int)(0x80 | (u & 0x3f)));
			}
		}
		keep = b.len;
	}
	b.len = keep;
	b.data[keep] = '\0';
	return buf_detach(&b, NULL);
}

static void
assert_row(struct term *t, int row, const char *want)
{
	char	*got = row_text(t, row);

	assert_string_equal(got, want);
	free(got);
}

static struct term_cell
cell_at(struct term *t, int row, int col)
{
	struct term_cell	c;

	term_cell(t, row, col, &c);
	return c;
}

/* What term_key / term_paste / term_mouse / term_take_output produced. */
static void
assert_bytes(struct buf *b, const char *want)
{
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
	buf_reset(b);
}

static void
test_term_text(void **state)
{
	struct term		*t = term_create(24, 80);
	const struct term_state	*s = term_state(t);
	struct term_cell	 c;

	feed(t, "hello\r\nworld");
	assert_row(t, 0, "hello");
	assert_row(t, 1, "world");
	assert_int_equal(s->cursor_row, 1);
	assert_int_equal(s->cursor_col, 5);
	c = cell_at(t, 0, 0);
	assert_int_equal(c.chars[0], 'h');
	assert_int_equal(c.chars[1], 0);
	assert_int_equal(c.width, 1);
	assert_int_equal(c.attrs, 0);
	assert_int_equal(c.fg.type, TERM_COLOR_DEFAULT);
	assert_int_equal(c.bg.type, TERM_COLOR_DEFAULT);
	c = cell_at(t, 0, 79);
	assert_int_equal(c.chars[0], 0);
	/* Out of range is blank, not a crash. */
	c = cell_at(t, 24, 0);
	assert_int_equal(c.chars[0], 0);
	c = cell_at(t, 0, 80);
	assert_int_equal(c.chars[0], 0);
	c = cell_at(t, -1, 0);
	assert_int_equal(c.chars[0], 0);
	assert_int_equal(term_output_bytes(t), 12);
	assert_int_equal(term_take_damage(t), 1);
	assert_int_equal(term_take_damage(t), 0);
	feed(t, "!");
	assert_int_equal(term_take_damage(t), 1);
	term_free(t);
}

static void
test_term_unicode(void **state)
{
	struct term		*t = term_create(24, 80);
	struct term_cell	 c;

	/* CJK, an emoji, e + two combining marks, a full-width A. */
	feed(t, "\xe4\xb8\xad" "x" "\xf0\x9f\x98\x80" "e\xcc\x81\xcc\x82"
	    "\xef\xbc\xa1|");
	c = cell_at(t, 0, 0);
	assert_int_equal(c.chars[0], 0x4e2d);
	assert_int_equal(c.width, 2);
	c = cell_at(t, 0, 1);
	assert_int_equal(c.width, 0);
	assert_int_equal(c.chars[0], 0);
	assert_int_equal(cell_at(t, 0, 2).chars[0], 'x');
	c = cell_at(t, 0, 3);
	assert_int_equal(c.chars[0], 0x1f600);
	assert_int_equal(c.width, 2);
	assert_int_equal(cell_at(t, 0, 4).width, 0);
	c = cell_at(t, 0, 5);
	assert_int_equal(c.chars[0], 'e');
	assert_int_equal(c.chars[1], 0x301);
	assert_int_equal(c.chars[2], 0x302);
	assert_int_equal(c.chars[3], 0);
	assert_int_equal(c.width, 1);
	assert_int_equal(cell_at(t, 0, 6).chars[0], 0xff21);
	assert_int_equal(cell_at(t, 0, 6).width, 2);
	assert_int_equal(cell_at(t, 0, 8).chars[0], '|');
	assert_int_equal(term_state(t)->cursor_col, 9);

	/* Ten combining marks: the cell keeps what fits, 0-terminated. */
	feed(t, "\r\nq");
	for (int i = 0; i < 10; i++)
		feed(t, "\xcc\x81");
	c = cell_at(t, 1, 0);
	assert_int_equal(c.chars[0], 'q');
	assert_int_equal(c.chars[TERM_MAX_CHARS - 1], 0);
	/* Invalid UTF-8 shows as U+FFFD, and the next character is intact. */
	feed(t, "\r\n\xff" "a\xc3" "b");
	assert_int_equal(cell_at(t, 2, 0).chars[0], 0xfffd);
	assert_int_equal(cell_at(t, 2, 1).chars[0], 'a');
	term_free(t);
}

static void
test_term_sgr(void **state)
{
	struct term		*t = term_create(24, 80);
	struct term_cell	 c;

	feed(t, "\033[1mB\033[0;3mI\033[0;4mU\033[0;7mR\033[0;9mS\033[0;5mK"
	    "\033[0;1;3;4mX\033[22;23;24mN\033[0m");
	assert_int_equal(cell_at(t, 0, 0).attrs, TERM_BOLD);
	assert_int_equal(cell_at(t, 0, 1).attrs, TERM_ITALIC);
	assert_int_equal(cell_at(t, 0, 2).attrs, TERM_UNDERLINE);
	assert_int_equal(cell_at(t, 0, 3).attrs, TERM_REVERSE);
	assert_int_equal(cell_at(t, 0, 4).attrs, TERM_STRIKE);
	assert_int_equal(cell_at(t, 0, 5).attrs, TERM_BLINK);
	assert_int_equal(cell_at(t, 0, 6).attrs,
	    TERM_BOLD | TERM_ITALIC | TERM_UNDERLINE);
	assert_int_equal(cell_at(t, 0, 7).attrs, 0);

	feed(t, "\r\n\033[31ma\033[97mb\033[38;5;200mc\033[48;5;17md"
	    "\033[38;2;1;2;3me\033[39;49mf\033[48;2;250;128;7mg\033[m");
	c = cell_at(t, 1, 0);
	assert_int_equal(c.fg.type, TERM_COLOR_INDEX);
	assert_int_equal(c.fg.index, 1);
	assert_int_equal(c.bg.type, TERM_COLOR_DEFAULT);
	c = cell_at(t, 1, 1);
	assert_int_equal(c.fg.type, TERM_COLOR_INDEX);
	assert_int_equal(c.fg.index, 15);
	c = cell_at(t, 1, 2);
	assert_int_equal(c.fg.index, 200);
	c = cell_at(t, 1, 3);
	assert_int_equal(c.fg.index, 200);
	assert_int_equal(c.bg.type, TERM_COLOR_INDEX);
	assert_int_equal(c.bg.index, 17);
	c = cell_at(t, 1, 4);
	assert_int_equal(c.fg.type, TERM_COLOR_RGB);
	assert_int_equal(c.fg.r, 1);
	assert_int_equal(c.fg.g, 2);
	assert_int_equal(c.fg.b, 3);
	c = cell_at(t, 1, 5);
	assert_int_equal(c.fg.type, TERM_COLOR_DEFAULT);
	assert_int_equal(c.bg.type, TERM_COLOR_DEFAULT);
	c = cell_at(t, 1, 6);
	assert_int_equal(c.bg.type, TERM_COLOR_RGB);
	assert_int_equal(c.bg.r, 250);
	assert_int_equal(c.bg.g, 128);
	assert_int_equal(c.bg.b, 7);
	term_free(t);
}

static void
test_term_altscreen(void **state)
{
	struct term		*t = term_create(10, 40);
	const struct term_state	*s = term_state(t);

	feed(t, "main one\r\nmain two");
	assert_int_equal(s->altscreen, 0);
	feed(t, "\033[?1049h\033[H\033[2Jalt screen");
	assert_int_equal(s->altscreen, 1);
	assert_row(t, 0, "alt screen");
	assert_row(t, 1, "");
	/* Lines scrolled on the alternate screen do not reach the scrollback. */
	for (int i = 0; i < 30; i++)
		feed(t, "x\r\n");
	assert_int_equal(term_scrollback_lines(t), 0);
	feed(t, "\033[?1049l");
	assert_int_equal(s->altscreen, 0);
	assert_row(t, 0, "main one");
	assert_row(t, 1, "main two");
	assert_int_equal(s->cursor_row, 1);
	assert_int_equal(s->cursor_col, 8);
	/* 1047 too. */
	feed(t, "\033[?1047h");
	assert_int_equal(s->altscreen, 1);
	feed(t, "\033[?1047l");
	assert_int_equal(s->altscreen, 0);
	term_free(t);
}

static void
test_term_cursor(void **state)
{
	struct term		*t = term_create(24, 80);
	const struct term_state	*s = term_state(t);

	assert_int_equal(s->cursor_visible, 1);
	assert_int_equal(s->cursor_shape, TERM_CURSOR_BLOCK);
	feed(t, "\033[?25l");
	assert_int_equal(s->cursor_visible, 0);
	feed(t, "\033[?25h");
	assert_int_equal(s->cursor_visible, 1);
	feed(t, "\033[4 q");
	assert_int_equal(s->cursor_shape, TERM_CURSOR_UNDERLINE);
	assert_int_equal(s->cursor_blink, 0);
	feed(t, "\033[5 q");
	assert_int_equal(s->cursor_shape, TERM_CURSOR_BAR);
	assert_int_equal(s->cursor_blink, 1);
	feed(t, "\033[6 q");
	assert_int_equal(s->cursor_shape, TERM_CURSOR_BAR);
	assert_int_equal(s->cursor_blink, 0);
	feed(t, "\033[3 q");
	assert_int_equal(s->cursor_shape, TERM_CURSOR_UNDERLINE);
	assert_int_equal(s->cursor_blink, 1);
	feed(t, "\033[2 q");
	assert_int_equal(s->cursor_shape, TERM_CURSOR_BLOCK);
	assert_int_equal(s->cursor_blink, 0);
	feed(t, "\033[5;12H");
	assert_int_equal(s->cursor_row, 4);
	assert_int_equal(s->cursor_col, 11);
	term_free(t);
}

static void
test_term_title(void **state)
{
	struct term		*t = term_create(24, 80);
	const struct term_state	*s = term_state(t);
	char			 big[8192];

	assert_string_equal(s->title, "");
	feed(t, "\033]0;first\007");
	assert_string_equal(s->title, "first");
	feed(t, "\033]2;second title\033\\");
	assert_string_equal(s->title, "second title");
	/* The icon name is not the title; controls are dropped. */
	feed(t, "\033]1;icon\007");
	assert_string_equal(s->title, "second title");
	feed(t, "\033]2;a\tb\x7f" "c\007");
	assert_string_equal(s->title, "abc");
	/* Split anywhere: libvterm 0.1.4 alone loses the start. */
	feed(t, "\033]");
	feed(t, "2");
	feed(t, ";sp");
	feed(t, "lit\033");
	feed(t, "\\after");
	assert_string_equal(s->title, "split");
	assert_row(t, 0, "after");
	/* A string too long is dropped whole; the next one works. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	feed(t, "\033]2;");
	feed(t, big);
	feed(t, "\007");
	assert_string_equal(s->title, "split");
	feed(t, "\033]2;ok\007");
	assert_string_equal(s->title, "ok");
	/* A title of a few hundred bytes is kept whole. */
	memset(big, 'y', 600);
	memcpy(big, "\033]2;", 4);
	memcpy(big + 600, "\007", 2);
	feed(t, big);
	assert_int_equal(strlen(s->title), 596);
	term_free(t);
}

static void
test_term_bell_notify(void **state)
{
	struct term	*t = term_create(24, 80);

	assert_int_equal(term_take_bells(t), 0);
	feed(t, "a\007b\007\007");
	assert_int_equal(term_take_bells(t), 3);
	assert_int_equal(term_take_bells(t), 0);
	/* A BEL ending an OSC is no bell. */
	feed(t, "\033]2;x\007");
	assert_int_equal(term_take_bells(t), 0);

	feed(t, "\033]9;build done\007");
	feed(t, "\033]777;notify;Claude;waiting for you\033\\");
	feed(t, "\033]9;");
	feed(t, "split\007");
	assert_int_equal(term_take_notifications(t), 3);
	assert_int_equal(term_take_notifications(t), 0);
	/* Not notifications: ConEmu progress, other 777s, other OSCs. */
	feed(t, "\033]9;4;1;50\007\033]9;4\007\033]777;preexec\007"
	    "\033]52;c;aGk=\007\033]99;x\007");
	assert_int_equal(term_take_notifications(t), 0);
	assert_int_equal(term_take_bells(t), 0);
	/* A message that starts with a digit still counts. */
	feed(t, "\033]9;3 tests failed\007");
	assert_int_equal(term_take_notifications(t), 1);
	term_free(t);
}

static void
test_term_paste(void **state)
{
	struct term		*t = term_create(24, 80);
	const struct term_state	*s = term_state(t);
	struct buf		 out = BUF_INIT;

	term_paste(t, "ls\nx", 4, &out);
	assert_bytes(&out, "ls\rx");
	assert_int_equal(s->bracketed_paste, 0);
	feed(t, "\033[?20");
	feed(t, "04h");
	assert_int_equal(s->bracketed_paste, 1);
	term_paste(t, "a\r\nb", 4, &out);
	assert_bytes(&out, "\033[200~a\rb\033[201~");
	/* The pasted text cannot end the paste early. */
	term_paste(t, "x\033[201~rm", 9, &out);
	assert_bytes(&out, "\033[200~xrm\033[201~");
	feed(t, "\033[?2004l");
	assert_int_equal(s->bracketed_paste, 0);
	term_paste(t, "y", 1, &out);
	assert_bytes(&out, "y");
	/* Several modes at once, and a reset clears them. */
	feed(t, "\033[?1004;2004;1006h");
	assert_int_equal(s->bracketed_paste, 1);
	assert_int_equal(s->focus_events, 1);
	assert_int_equal(s->mouse_sgr, 1);
	feed(t, "\033[?1004l");
	assert_int_equal(s->focus_events, 0);
	feed(t, "\033c");
	assert_int_equal(s->bracketed_paste, 0);
	assert_int_equal(s->mouse_sgr, 0);
	/* Not DECSET: no leader, another leader, an intermediate. */
	feed(t, "\033[2004h\033[>2004h\033[?2004$h");
	assert_int_equal(s->bracketed_paste, 0);
	/* Inside an OSC it is text. */
	feed(t, "\033]2;\033[?2004h\007");
	assert_int_equal(s->bracketed_paste, 1);  /* the ESC ended the OSC */
	feed(t, "\033[?2004l\033]2;[?2004h\007");
	assert_int_equal(s->bracketed_paste, 0);
	/* As libvterm reads them: high bytes and DEL inside an escape are
	 * ignored, a high byte cancels a CSI. */
	feed(t, "\033\xe3\x7f[?2004h");
	assert_int_equal(s->bracketed_paste, 1);
	feed(t, "\033[?20\xe3" "04l");
	assert_int_equal(s->bracketed_paste, 1);
	feed(t, "\033[?2004l\033\x18[?2004h");
	assert_int_equal(s->bracketed_paste, 0);
	feed(t, "\033\n]2;esc-lf\007");
	assert_string_equal(s->title, "esc-lf");
	buf_free(&out);
	term_free(t);
}

static void
mouse(struct term *t, int button, int row, int col, int release,
    key_code mods, struct buf *out)
{
	struct input_mouse	m = {
		.button = button, .row = row, .col = col, .release = release,
		.mods = mods
	};

	term_mouse(t, &m, out);
}

static void
test_term_mouse(void **state)
{
	struct term	*t = term_create(24, 80);
	struct buf	 out = BUF_INIT;

	/* Nothing until the agent asks. */
	mouse(t, 0, 1, 2, 0, 0, &out);
	mouse(t, 0, 1, 2, 1, 0, &out);
	mouse(t, 64, 1, 2, 0, 0, &out);
	mouse(t, 35, 1, 2, 0, 0, &out);
	assert_bytes(&out, "");

	feed(t, "\033[?1000h");
	assert_int_equal(term_state(t)->mouse, 1);
	mouse(t, 0, 1, 2, 0, 0, &out);
	assert_bytes(&out, "\033[M" " #\"");
	mouse(t, 2, 0, 0, 1, 0, &out);
	assert_bytes(&out, "\033[M#!!");
	mouse(t, 64, 4, 9, 0, 0, &out);
	assert_bytes(&out, "\033[M`*%");
	mouse(t, 0, 0, 0, 0, KEYC_CTRL | KEYC_SHIFT, &out);
	assert_bytes(&out, "\033[M4!!");
	/* Click mode: no motion at all. */
	mouse(t, 32, 1, 2, 0, 0, &out);
	mouse(t, 35, 1, 2, 0, 0, &out);
	assert_bytes(&out, "");
	/* Outside the pane. */
	mouse(t, 0, 24, 0, 0, 0, &out);
	mouse(t, 0, 0, 80, 0, 0, &out);
	mouse(t, 0, -1, 0, 0, 0, &out);
	assert_bytes(&out, "");

	feed(t, "\033[?1006h");
	mouse(t, 0, 1, 2, 0, 0, &out);
	assert_bytes(&out, "\033[<0;3;2M");
	mouse(t, 0, 1, 2, 1, 0, &out);
	assert_bytes(&out, "\033[<0;3;2m");
	mouse(t, 65, 9, 99 - 20, 0, KEYC_META, &out);
	assert_bytes(&out, "\033[<73;80;10M");

	/* Drag: motion with a button only. */
	feed(t, "\033[?1002h");
	assert_int_equal(term_state(t)->mouse, 2);
	mouse(t, 32, 3, 4, 0, 0, &out);
	assert_bytes(&out, "\033[<32;5;4M");
	mouse(t, 35, 3, 4, 0, 0, &out);
	assert_bytes(&out, "");
	/* Any motion. */
	feed(t, "\033[?1003h");
	assert_int_equal(term_state(t)->mouse, 3);
	mouse(t, 35, 3, 4, 0, 0, &out);
	assert_bytes(&out, "\033[<35;5;4M");
	feed(t, "\033[?1006l");
	mouse(t, 35, 3, 4, 0, 0, &out);
	assert_bytes(&out, "\033[MC%$");
	/* Off again. */
	feed(t, "\033[?1003l");
	assert_int_equal(term_state(t)->mouse, 0);
	mouse(t, 0, 1, 2, 0, 0, &out);
	assert_bytes(&out, "");
	/* A reset turns it off (libvterm does not say so itself). */
	feed(t, "\033[?1000h\033c");
	assert_int_equal(term_state(t)->mouse, 0);
	mouse(t, 0, 1, 2, 0, 0, &out);
	assert_bytes(&out, "");
	buf_free(&out);
	term_free(t);

	/* X10 cannot say a column past 223; SGR can. */
	t = term_create(10, 300);
	feed(t, "\033[?1000h");
	mouse(t, 0, 0, 250, 0, 0, &out);
	assert_bytes(&out, "");
	feed(t, "\033[?1006h");
	mouse(t, 0, 0, 250, 0, 0, &out);
	assert_bytes(&out, "\033[<0;251;1M");
	buf_free(&out);
	term_free(t);
}

static void
test_term_keys(void **state)
{
	struct term	*t = term_create(24, 80);
	struct buf	 out = BUF_INIT;

	term_key(t, KEYC_UP, &out);
	assert_bytes(&out, "\033[A");
	feed(t, "\033[?1h");
	term_key(t, KEYC_UP, &out);
	assert_bytes(&out, "\033OA");
	term_key(t, KEYC_HOME, &out);
	assert_bytes(&out, "\033OH");
	feed(t, "\033[?1l");
	term_key(t, KEYC_UP, &out);
	assert_bytes(&out, "\033[A");
	term_key(t, KEYC_UP | KEYC_SHIFT, &out);
	assert_bytes(&out, "\033[1;2A");
	term_key(t, KEYC_LEFT | KEYC_CTRL, &out);
	assert_bytes(&out, "\033[1;5D");

	term_key(t, '\r', &out);
	assert_bytes(&out, "\r");
	term_key(t, '\t', &out);
	assert_bytes(&out, "\t");
	term_key(t, 0x7f, &out);
	assert_bytes(&out, "\x7f");
	term_key(t, 0x1b, &out);
	assert_bytes(&out, "\033");
	term_key(t, KEYC_BTAB, &out);
	assert_bytes(&out, "\033[Z");
	term_key(t, 'a', &out);
	assert_bytes(&out, "a");
	term_key(t, 0xe9, &out);
	assert_bytes(&out, "\xc3\xa9");
	term_key(t, 0x4e2d, &out);
	assert_bytes(&out, "\xe4\xb8\xad");
	term_key(t, 'a' | KEYC_CTRL, &out);
	assert_bytes(&out, "\x01");
	term_key(t, 'Z' | KEYC_CTRL, &out);
	assert_bytes(&out, "\x1a");
	term_key(t, ']' | KEYC_CTRL, &out);
	assert_bytes(&out, "\x1d");
	term_key(t, ' ' | KEYC_CTRL, &out);
	assert_int_equal(out.len, 1);
	assert_int_equal(out.data[0], 0);
	buf_reset(&out);
	term_key(t, 'x' | KEYC_META, &out);
	assert_bytes(&out, "\033x");
	term_key(t, 'a' | KEYC_META | KEYC_CTRL, &out);
	assert_bytes(&out, "\033\x01");
	term_key(t, '\r' | KEYC_META, &out);
	assert_bytes(&out, "\033\r");
	term_key(t, KEYC_F1, &out);
	assert_bytes(&out, "\033OP");
	term_key(t, KEYC_F12, &out);
	assert_bytes(&out, "\033[24~");
	term_key(t, KEYC_DC, &out);
	assert_bytes(&out, "\033[3~");
	term_key(t, KEYC_PPAGE, &out);
	assert_bytes(&out, "\033[5~");
	term_key(t, KEYC_NPAGE, &out);
	assert_bytes(&out, "\033[6~");
	term_key(t, KEYC_KP_ENTER, &out);
	assert_bytes(&out, "\r");
	feed(t, "\033=");
	term_key(t, KEYC_KP_ENTER, &out);
	assert_bytes(&out, "\033OM");
	feed(t, "\033>");
	term_key(t, KEYC_KP_ENTER, &out);
	assert_bytes(&out, "\r");
	/* Newline mode: Enter is CR LF. */
	feed(t, "\033[20h");
	term_key(t, '\r', &out);
	assert_bytes(&out, "\r\n");
	/* Not keys: nothing, and no crash. */
	term_key(t, KEYC_NONE, &out);
	term_key(t, KEYC_END_SPECIAL, &out);
	term_key(t, KEYC_MASK_KEY, &out);
	term_key(t, 0xd800, &out);
	assert_bytes(&out, "");
	/* Keys never leak into the answers. */
	term_take_output(t, &out);
	assert_bytes(&out, "");
	buf_free(&out);
	term_free(t);
}

static void
test_term_answers(void **state)
{
	struct term	*t = term_create(24, 80);
	struct buf	 out = BUF_INIT;

	feed(t, "\033[c");
	term_take_output(t, &out);
	assert_bytes(&out, "\033[?1;2c");
	term_take_output(t, &out);
	assert_bytes(&out, "");
	feed(t, "\033[3;5H\033[6n");
	term_take_output(t, &out);
	assert_bytes(&out, "\033[3;5R");
	feed(t, "\033[5n");
	term_take_output(t, &out);
	assert_bytes(&out, "\033[0n");
	/* DECRQSS goes through a DCS string, split on purpose. */
	feed(t, "\033P$");
	feed(t, "qm\033");
	feed(t, "\\");
	term_take_output(t, &out);
	assert_true(out.len > 0);
	assert_non_null(memmem(out.data, out.len, "$r", 2));
	buf_reset(&out);
	/* An agent that never reads its answers cannot grow them forever. */
	for (int i = 0; i < 300000; i++)
		feed(t, "\033[c");
	term_take_output(t, &out);
	assert_true(out.len <= 1024 * 1024);
	assert_true(out.len > 0);
	buf_free(&out);
	term_free(t);
}

/* Every cell, the cursor and the modes of a and b are the same. */
static void
assert_same_term(struct term *a, struct term *b)
{
	const struct term_state	*sa = term_state(a), *sb = term_state(b);
	struct term_cell	 ca, cb;
	int			 rows, cols, row, col;

	term_size(a, &rows, &cols);
	assert_int_equal(term_scrollback_lines(a), term_scrollback_lines(b));
	for (row = -term_scrollback_lines(a); row < rows; row++) {
		for (col = 0; col < cols; col++) {
			term_cell(a, row, col, &ca);
			term_cell(b, row, col, &cb);
			if (memcmp(&ca, &cb, sizeof ca) != 0)
				fail_msg("cell %d,%d differs", row, col);
		}
	}
	assert_int_equal(sa->cursor_row, sb->cursor_row);
	assert_int_equal(sa->cursor_col, sb->cursor_col);
	assert_int_equal(sa->cursor_visible, sb->cursor_visible);
	assert_int_equal(sa->cursor_shape, sb->cursor_shape);
	assert_int_equal(sa->altscreen, sb->altscreen);
	assert_int_equal(sa->mouse, sb->mouse);
	assert_int_equal(sa->mouse_sgr, sb->mouse_sgr);
	assert_int_equal(sa->bracketed_paste, sb->bracketed_paste);
	assert_int_equal(sa->focus_events, sb->focus_events);
	assert_string_equal(sa->title, sb->title);
}

static const char split_sample[] =
    "\033]2;a title\007plain \033[1;31mbold red\033[0m \xe4\xb8\xad\xe6\x96\x87"
    " e\xcc\x81 \xf0\x9f\x98\x80\r\n"
    "\033[38;2;10;20;30;48;5;200mrgb\033[m\033[?2004h\033[?1002;1006h"
    "\033[5 q\033[?25l\033]9;note\033\\\033[3;10Hmoved\033[K\r\n"
    "\033P$qm\033\\\033[2J\033[Hcleared\033[1;10r\033[10;1H\n\n\nscrolled"
    "\033[r\033[?1049hALT\033[?1049l\033]0;last\033\\\033(0lqk\033(B"
    "\033[?1h\033=\033[4h!\033[4l\0337\033[20;1Hsave\0338restore\a";

static void
test_term_split(void **state)
{
	size_t		 len = sizeof split_sample - 1, cut, i;
	struct term	*whole, *part;
	struct buf	 a = BUF_INIT, b = BUF_INIT;

	whole = term_create(12, 40);
	term_feed(whole, split_sample, len);
	term_take_output(whole, &a);
	assert_true(a.len > 0);  /* the DECRQSS answer */
	assert_string_equal(term_state(whole)->title, "last");
	assert_int_equal(term_take_notifications(whole), 1);
	assert_int_equal(term_take_bells(whole), 1);
	for (cut = 0; cut <= len; cut++) {
		part = term_create(12, 40);
		term_feed(part, split_sample, cut);
		term_feed(part, split_sample + cut, len - cut);
		assert_same_term(whole, part);
		term_take_output(part, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		buf_reset(&b);
		assert_int_equal(term_take_notifications(part), 1);
		assert_int_equal(term_take_bells(part), 1);
		term_free(part);
	}
	/* One byte at a time. */
	part = term_create(12, 40);
	for (i = 0; i < len; i++)
		term_feed(part, split_sample + i, 1);
	assert_same_term(whole, part);
	assert_int_equal(term_take_notifications(part), 1);
	term_free(part);
	buf_free(&a);
	buf_free(&b);
	term_free(whole);
}

static void
test_term_scrollback(void **state)
{
	struct term	*t = term_create(24, 80);
	char		 line[64];
	int		 i;

	for (i = 0; i < 12000; i++) {
		snprintf(line, sizeof line, "line %d\r\n", i);
		feed(t, line);
	}
	/* 12000 lines and the empty one under the cursor: 11977 scrolled. */
	assert_int_equal(term_scrollback_lines(t), TERM_SCROLLBACK);
	assert_int_equal(term_lines_scrolled(t), 11977);
	assert_row(t, -1, "line 11976");
	assert_row(t, -TERM_SCROLLBACK, "line 1977");
	assert_row(t, -TERM_SCROLLBACK - 1, "");
	assert_row(t, 0, "line 11977");
	assert_row(t, 22, "line 11999");
	assert_row(t, 23, "");
	/* Random access in any order through the unpacked-line cache. */
	assert_row(t, -5000, "line 6977");
	assert_row(t, -1, "line 11976");
	assert_row(t, -5000, "line 6977");
	term_free(t);
}

/* Cells keep everything when they scroll into the scrollback and back. */
static void
test_term_scrollback_cells(void **state)
{
	struct term		*t = term_create(4, 30);
	struct term_cell	 before[30], after;
	int			 col;

	feed(t, "\033[1;4;38;5;123;48;2;9;8;7mab\033[0m\xe4\xb8\xad"
	    "e\xcc\x81\033[7m  \033[0;3;31mi\033[m\033[44m \033[m   "
	    "\xf0\x9f\x98\x80z");
	for (col = 0; col < 30; col++)
		term_cell(t, 0, col, &before[col]);
	feed(t, "\r\n\n\n\n");
	assert_int_equal(term_scrollback_lines(t), 1);
	for (col = 0; col < 30; col++) {
		term_cell(t, -1, col, &after);
		if (memcmp(&before[col], &after, sizeof after) != 0)
			fail_msg("scrollback cell %d differs", col);
	}
	/* Taller: the line comes back to the screen intact. */
	term_resize(t, 8, 30);
	assert_int_equal(term_scrollback_lines(t), 0);
	assert_int_equal(term_lines_scrolled(t), 0);
	for (col = 0; col < 30; col++) {
		term_cell(t, 0, col, &after);
		if (memcmp(&before[col], &after, sizeof after) != 0)
			fail_msg("popped cell %d differs", col);
	}
	term_free(t);

	/* Back into fewer columns with a wide character on the edge: it is
	 * not split. */
	t = term_create(4, 10);
	feed(t, "abc\xe4\xb8\xad\r\n\n\n\n");
	assert_int_equal(term_scrollback_lines(t), 1);
	term_resize(t, 4, 4);
	term_resize(t, 5, 4);
	assert_int_equal(term_scrollback_lines(t), 0);
	assert_int_equal(cell_at(t, 0, 2).chars[0], 'c');
	after = cell_at(t, 0, 3);
	assert_int_equal(after.chars[0], 0);
	assert_int_equal(after.width, 1);
	term_free(t);
}

static void
test_term_scrollback_memory(void **state)
{
	struct term	*t;
	long long	 before, used;
	char		 line[16384];
	int		 i, j, n;

	/* Full lines of 200 columns of text (few rows: libvterm moves the
	 * whole screen on each scroll). */
	before = live_bytes;
	t = term_create(4, 200);
	for (i = 0; i < TERM_SCROLLBACK + 50; i++) {
		for (j = 0; j < 200; j++)
			line[j] = (char)('a' + (i + j) % 26);
		memcpy(line + 200, "\r\n", 3);
		feed(t, line);
	}
	used = live_bytes - before;
	print_message("# scrollback: %lld bytes for %d lines of 200 "
	    "columns, %lld per line\n", used, TERM_SCROLLBACK,
	    used / TERM_SCROLLBACK);
	assert_int_equal(term_scrollback_lines(t), TERM_SCROLLBACK);
	assert_true(used < 5 * 1024 * 1024);
	term_free(t);
	assert_true(live_bytes - before < 1024);

	/*
	 * The worst: a new true colour and four combining marks in every
	 * cell. The scrollback stops at its byte budget before 10,000 lines.
	 */
	before = live_bytes;
	t = term_create(4, 200);
	for (i = 0; i < TERM_SCROLLBACK; i++) {
		for (j = n = 0; j < 200; j++) {
			n += snprintf(line + n, sizeof line - (size_t)n,
			    "\033[1;38;2;%d;%d;7;48;2;%d;9;%dm\xf0\x9f\x98\x80"
			    "\xcc\x81\xcc\x82\xcc\x83\xcc\x84", i & 255, j, j,
			    i & 255);
		}
		n += snprintf(line + n, sizeof line - (size_t)n, "\033[m\r\n");
		term_feed(t, line, (size_t)n);
		if (term_scrollback_lines(t) < i - 100)
			break;
	}
	used = live_bytes - before;
	print_message("# scrollback worst case: %lld bytes, %d lines, %lld "
	    "per line\n", used, term_scrollback_lines(t),
	    used / term_scrollback_lines(t));
	assert_true(term_scrollback_lines(t) < i - 100);
	assert_true(used < 30 * 1024 * 1024);
	term_free(t);
}

/* The sequences that made libvterm 0.1.4 read or write out of bounds. */
static void
test_term_libvterm_bugs(void **state)
{
	static const char *const restores[] = {
		"\0338", "\033\xe3" "8", "\033\x7f" "8", "\033\n8",
		"\033\x80\xff" "8",
	};
	struct term	*t;
	size_t		 i;
	int		 rows, cols;

	/* A cursor saved on a bigger screen comes back on the screen (and
	 * DECDHL there does not write outside libvterm's buffers). */
	for (i = 0; i < sizeof restores / sizeof restores[0]; i++) {
		t = term_create(58, 168);
		feed(t, "\033[50;100H\0337");
		term_resize(t, 6, 36);
		feed(t, restores[i]);
		assert_int_equal(term_state(t)->cursor_row, 5);
		assert_int_equal(term_state(t)->cursor_col, 35);
		feed(t, "\033#4\033[2K\033#5\033[6;36Hx");
		assert_int_equal(cell_at(t, 5, 35).chars[0], 'x');
		term_free(t);
	}
	/* More than 16 parameters, or too many digits: dropped whole. */
	t = term_create(24, 80);
	feed(t, "\033[1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1mA\033[;;;;;;;;;;;;"
	    ";;;;;;;;;;;;;;;;;;;;;;;;HB\033[31;99999999999999999999mC");
	assert_row(t, 0, "ABC");
	assert_int_equal(cell_at(t, 0, 0).attrs, 0);
	assert_int_equal(cell_at(t, 0, 2).fg.type, TERM_COLOR_DEFAULT);
	/* Sixteen are fine. */
	feed(t, "\033[1;1;1;1;1;1;1;1;1;1;1;1;1;1;1;1mD");
	assert_int_equal(cell_at(t, 0, 3).attrs, TERM_BOLD);
	term_free(t);
	/* A resize resets the scroll region (libvterm 0.1.4 scrolled one
	 * whose top was under the new last row outside its buffers) and
	 * leaves the cursor where it was. */
	t = term_create(24, 80);
	feed(t, "\033[9r\033[5;10H");
	term_resize(t, 2, 167);
	feed(t, "\n\n");
	assert_int_equal(term_state(t)->cursor_row, 1);
	term_free(t);
	t = term_create(10, 40);
	feed(t, "top\033[3;5r\033[4;7H");
	term_resize(t, 20, 40);
	assert_int_equal(term_state(t)->cursor_row, 3);
	assert_int_equal(term_state(t)->cursor_col, 6);
	/* The whole screen scrolls now, not rows 3-5. */
	feed(t, "\033[20;1H\n");
	assert_row(t, -1, "top");
	/* A resize in the middle of a sequence waits for its end. */
	feed(t, "\033[3;4");
	term_resize(t, 20, 100);
	feed(t, "Hx");
	assert_int_equal(cell_at(t, 2, 3).chars[0], 'x');
	feed(t, "\033[9r\033]2;");
	term_resize(t, 3, 100);
	feed(t, "t\007\n\n\n");
	assert_string_equal(term_state(t)->title, "t");
	term_free(t);
	/* Combining marks libvterm takes for wide: the kana voicing marks
	 * become look-alikes it reads right, the tone marks go. */
	t = term_create(3, 2);
	feed(t, "xy\xe3\x80\xad\xe3\x80\xad");
	feed(t, "\xe3\x80\xad\xe3\x80\xad\xe3\x82\x99");
	feed(t, "\r\n\xe3\x82\x99\xe3\x82\x9a\xe3\x82\x99");
	term_free(t);
	t = term_create(3, 4);
	feed(t, "\xe3\x81\x8b\xe3\x82\x99");  /* ka + voicing */
	feed(t, "\r\n");
	assert_int_equal(cell_at(t, 0, 0).chars[0], 0x304b);
	assert_int_equal(cell_at(t, 0, 0).chars[1], 0x308);
	assert_int_equal(cell_at(t, 0, 0).width, 2);
	feed(t, "\r\na\xe3");
	feed(t, "\x82");
	feed(t, "\x9a\xe3");
	feed(t, "\x82\xa2");  /* a, semi-voicing, then katakana A */
	assert_int_equal(cell_at(t, 2, 0).chars[0], 'a');
	assert_int_equal(cell_at(t, 2, 0).chars[1], 0x30a);
	assert_int_equal(cell_at(t, 2, 0).width, 1);
	feed(t, "\033[3;1H\033[2K\xe3\x80\x81\xe3\033[m\xe3\x80");
	feed(t, "z");
	assert_int_equal(cell_at(t, 2, 0).chars[0], 0x3001);
	assert_int_equal(cell_at(t, 0, 0).chars[0], 0x304b);
	term_free(t);
	/* REP before any text made libvterm 0.1.4 loop forever. */
	t = term_create(5, 10);
	feed(t, "\033[b\033[5b\033(0\033[");
	feed(t, "0b\033[b");
	assert_row(t, 0, "");
	feed(t, "\033(Bx\033[3b");
	assert_row(t, 0, "xxxx");
	/* Nor after a combining mark, or anything from U+0300 up. */
	feed(t, "\r\nl\033[I\033[P\xcc\x81\033[b\xe4\xb8\xad\033[b");
	feed(t, "\r\n\xc3\xa9\033[2b");
	assert_row(t, 2, "\xc3\xa9\xc3\xa9\xc3\xa9");
	term_free(t);
	/* A screen of one column would not hold a wide character: two. */
	t = term_create(0, 1);
	term_size(t, &rows, &cols);
	assert_int_equal(rows, 1);
	assert_int_equal(cols, 2);
	feed(t, "x\r\n\xe4\xb8\xad\xe4\xb8\xad");
	term_free(t);
}

/* A few MB of hostile output: nothing crashes, the terminal still works. */
static void
test_term_hostile(void **state)
{
	static const char *const nasty[] = {
		"\033[999999999999999999999999999;99999999999999999H",
		"\033[99999999L", "\033[99999999M", "\033[99999999@",
		"\033[99999999P", "\033[99999999X", "\033[99999999S",
		"\033[99999999T", "\033[99999999;99999999r",
		"\033[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;"
		"23;24;25;26;27;28;29;30;31;32;33;34;35;36;37;38;39;40m",
		"\033[38;5;99999m", "\033[38;2;999;999;999m", "\033[38;2m",
		"\033[?99999h", "\033[99999 q", "\033[99999;99999t",
		"\033]2;\033]9;", "\033P", "\033_apc", "\033^pm", "\033Xsos",
		"\033[", "\033", "\033[?", "\033]", "\033]777;notify",
		"\033#8", "\033(0", "\033[10;5r\033[99B\n\n\n",
		"\xf0\x9f", "\xe4", "\xcc\x81\xcc\x81\xcc\x81",
		"\033[?1049h", "\033[?1049l", "\033[?47h", "\033[3J",
		"\033[2J", "\033[0;0H", "\033[-5A", "\033[1;1;1;1;1;1H",
	};
	struct term	*t = term_create(24, 80);
	struct buf	 out = BUF_INIT;
	unsigned	 seed = 12345;
	char		 chunk[4096];
	size_t		 i, j, total = 0;

	for (i = 0; total < 4 * 1024 * 1024; i++) {
		for (j = 0; j < sizeof chunk; j++) {
			seed = seed * 1103515245 + 12345;
			chunk[j] = (char)(seed >> 16);
			/* Half the chunks are mostly escapes and digits. */
			if ((i & 1) && (seed >> 8) % 4 == 0)
				chunk[j] = "\033[;?0123456789mhlHJK]P\\\007"[
				    (seed >> 20) % 25];
		}
		term_feed(t, chunk, sizeof chunk);
		total += sizeof chunk;
		if (i % 16 == 0) {
			j = (seed >> 4) % (sizeof nasty / sizeof nasty[0]);
			feed(t, nasty[j]);
		}
		if (i % 64 == 0)
			term_resize(t, 1 + (int)(seed % 60), 1 + (int)(seed % 250));
		term_take_output(t, &out);
		buf_reset(&out);
	}
	for (i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
		feed(t, nasty[i]);
		feed(t, "\033\\\007\030");
	}
	term_take_bells(t);
	term_take_notifications(t);
	term_resize(t, 0, -5);
	term_resize(t, 100000, 100000);
	term_resize(t, 24, 80);
	/* Still a terminal. */
	feed(t, "\030\033c\033[2J\033[Hstill ok");
	assert_row(t, 0, "still ok");
	assert_int_equal(term_state(t)->cursor_col, 8);
	buf_free(&out);
	term_free(t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term_text),
		cmocka_unit_test(test_term_unicode),
		cmocka_unit_test(test_term_sgr),
		cmocka_unit_test(test_term_altscreen),
		cmocka_unit_test(test_term_cursor),
		cmocka_unit_test(test_term_title),
		cmocka_unit_test(test_term_bell_notify),
		cmocka_unit_test(test_term_paste),
		cmocka_unit_test(test_term_mouse),
		cmocka_unit_test(test_term_keys),
		cmocka_unit_test(test_term_answers),
		cmocka_unit_test(test_term_split),
		cmocka_unit_test(test_term_scrollback),
		cmocka_unit_test(test_term_scrollback_cells),
		cmocka_unit_test(test_term_scrollback_memory),
		cmocka_unit_test(test_term_libvterm_bugs),
		cmocka_unit_test(test_term_hostile),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
