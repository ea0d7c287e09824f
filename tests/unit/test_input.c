/*
 * input.c: the outer terminal's bytes into events. Every event is written
 * to a log line, and the logs of the same bytes fed whole, split at every
 * byte, or one byte at a time must be the same.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

struct log {
	struct buf b;
	size_t events;
	size_t max_raw;
	size_t max_paste;
	size_t paste_bytes;
	size_t raw_bytes;
	int keep_paste;      /* 0: log a paste's length only */
	struct buf raw;      /* every RAW byte, in order */
};

static void
events_init(struct log *l)
{
	memset(l, 0, sizeof *l);
	buf_init(&l->b);
	buf_init(&l->raw);
	l->keep_paste = 1;
}

static void
events_free(struct log *l)
{
	buf_free(&l->b);
	buf_free(&l->raw);
}

static void
escape_bytes(struct buf *b, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x21 && p[i] < 0x7f && p[i] != '\\')
			buf_addch(b, p[i]);
		else
			buf_printf(b, "\\x%02x", p[i]);
	}
}

static void
events_add(const struct input_event *ev, void *arg)
{
	struct log *l = arg;

	l->events++;
	switch (ev->type) {
	case INPUT_KEY:
		buf_printf(&l->b, "K %s\n", key_string_lookup_key(ev->key));
		break;
	case INPUT_RAW:
		assert_true(ev->len > 0);
		if (ev->len > l->max_raw)
			l->max_raw = ev->len;
		l->raw_bytes += ev->len;
		buf_add(&l->raw, ev->data, ev->len);
		buf_addstr(&l->b, "R ");
		escape_bytes(&l->b, ev->data, ev->len);
		buf_addch(&l->b, '\n');
		break;
	case INPUT_PASTE:
		assert_true(ev->len > 0);
		if (ev->len > l->max_paste)
			l->max_paste = ev->len;
		l->paste_bytes += ev->len;
		if (l->keep_paste) {
			buf_addstr(&l->b, "P ");
			escape_bytes(&l->b, ev->data, ev->len);
			buf_addch(&l->b, '\n');
		} else
			buf_printf(&l->b, "P %zu\n", ev->len);
		break;
	case INPUT_MOUSE:
		buf_printf(&l->b, "M %d %d,%d%s%s%s%s\n", ev->mouse.button,
		    ev->mouse.row, ev->mouse.col,
		    ev->mouse.release ? " up" : "",
		    (ev->mouse.mods & KEYC_CTRL) ? " C" : "",
		    (ev->mouse.mods & KEYC_META) ? " M" : "",
		    (ev->mouse.mods & KEYC_SHIFT) ? " S" : "");
		break;
	case INPUT_FOCUS_IN:
		buf_addstr(&l->b, "FI\n");
		break;
	case INPUT_FOCUS_OUT:
		buf_addstr(&l->b, "FO\n");
		break;
	}
}

/* Feeds data split at the given offsets (sorted, may be empty), then
 * flushes when flush is set; the log. */
static char *
run_split(const char *data, size_t len, const size_t *cuts, size_t ncuts,
    int flush)
{
	struct input *in = input_create();
	struct log l;
	size_t i, from = 0;

	events_init(&l);
	for (i = 0; i < ncuts; i++) {
		input_feed(in, data + from, cuts[i] - from, events_add, &l);
		from = cuts[i];
	}
	input_feed(in, data + from, len - from, events_add, &l);
	if (flush)
		input_flush(in, events_add, &l);
	input_free(in);
	buf_free(&l.raw);
	return buf_detach(&l.b, NULL);
}

static char *
run(const char *data, size_t len, int flush)
{
	return run_split(data, len, NULL, 0, flush);
}

/* The log of data, checked to be the same for every split of it. */
static void
check_splits(const char *data, size_t len, int flush, const char *want)
{
	char *whole = run(data, len, flush), *got;
	size_t a, b, cuts[2];

	assert_string_equal(whole, want);
	for (a = 0; a <= len; a++) {
		cuts[0] = a;
		got = run_split(data, len, cuts, 1, flush);
		if (strcmp(got, whole) != 0)
			fail_msg("split at %zu:\n%s\nwhole:\n%s", a, got, whole);
		free(got);
	}
	/* Two cuts as well, while that stays small. */
	for (a = 0; len <= 64 && a <= len; a++) {
		for (b = a; b <= len; b++) {
			cuts[0] = a;
			cuts[1] = b;
			got = run_split(data, len, cuts, 2, flush);
			if (strcmp(got, whole) != 0)
				fail_msg("split at %zu,%zu", a, b);
			free(got);
		}
	}
	free(whole);
}

#define CHECK(s, want) check_splits(s, sizeof s - 1, 1, want)

static void
test_input_characters(void **state)
{
	(void)state;
	CHECK("a", "K a\n");
	CHECK("aZ~", "K a\nK Z\nK ~\n");
	CHECK(" ", "K Space\n");
	CHECK("\xc3\xa9", "K \xc3\xa9\n");
	CHECK("\xe6\x97\xa5\xf0\x9f\x98\x80", "K \xe6\x97\xa5\nK \xf0\x9f\x98\x80\n");
}

static void
test_input_controls(void **state)
{
	(void)state;
	check_splits("\0", 1, 1, "K C-Space\n");
	CHECK("\x01", "K C-a\n");
	CHECK("\x08", "K C-h\n");
	CHECK("\x09", "K Tab\n");
	CHECK("\x0a", "K C-j\n");
	CHECK("\x0d", "K Enter\n");
	CHECK("\x1a", "K C-z\n");
	CHECK("\x1c", "K C-\\\n");
	CHECK("\x1d", "K C-]\n");
	CHECK("\x1e", "K C-^\n");
	CHECK("\x1f", "K C-_\n");
	CHECK("\x7f", "K BSpace\n");
	/* What input.c makes of a control byte is what key-string reads. */
	assert_int_equal(key_string_lookup_string("C-]"), ']' | KEYC_CTRL);
}

static void
test_input_meta(void **state)
{
	(void)state;
	CHECK("\033a", "K M-a\n");
	CHECK("\033\x01", "K C-M-a\n");
	CHECK("\033\x7f", "K M-BSpace\n");
	CHECK("\033\xc3\xa9", "K M-\xc3\xa9\n");
	CHECK("\033\033[A", "K M-Up\n");
	CHECK("\033\033", "K M-Escape\n");
	CHECK("\033\033\033", "K Escape\nK M-Escape\n");
	CHECK("\033\033\033\033", "K Escape\nK Escape\nK M-Escape\n");
	CHECK("\033", "K Escape\n");
	/* Meta on a report is not a key: Escape, then the report. */
	CHECK("\033\033[I", "K Escape\nFI\n");
	CHECK("\033\x80", "K Escape\nR \\x80\n");
}

static void
test_input_cursor_keys(void **state)
{
	(void)state;
	CHECK("\033[A\033[B\033[C\033[D\033[H\033[F",
	    "K Up\nK Down\nK Right\nK Left\nK Home\nK End\n");
	CHECK("\033OA\033OB\033OC\033OD\033OH\033OF",
	    "K Up\nK Down\nK Right\nK Left\nK Home\nK End\n");
	CHECK("\033[1;5A", "K C-Up\n");
	CHECK("\033[1;2A", "K S-Up\n");
	CHECK("\033[1;3B", "K M-Down\n");
	CHECK("\033[1;9C", "K M-Right\n");
	CHECK("\033[1;8D", "K C-M-S-Left\n");
	CHECK("\033[1;6H", "K C-S-Home\n");
	CHECK("\033O5A", "K C-Up\n");
	CHECK("\033[Z", "K BTab\n");
	CHECK("\033[1;2Z", "K BTab\n");
	CHECK("\033OM", "K KPEnter\n");
}

static void
test_input_function_keys(void **state)
{
	(void)state;
	CHECK("\033[1~\033[2~\033[3~\033[4~\033[5~\033[6~\033[7~\033[8~",
	    "K Home\nK Insert\nK Delete\nK End\nK PageUp\nK PageDown\n"
	    "K Home\nK End\n");
	CHECK("\033OP\033OQ\033OR\033OS", "K F1\nK F2\nK F3\nK F4\n");
	CHECK("\033[11~\033[12~\033[13~\033[14~\033[15~\033[17~\033[18~"
	    "\033[19~\033[20~\033[21~\033[23~\033[24~",
	    "K F1\nK F2\nK F3\nK F4\nK F5\nK F6\nK F7\nK F8\nK F9\nK F10\n"
	    "K F11\nK F12\n");
	CHECK("\033[1;5P", "K C-F1\n");
	CHECK("\033[15;2~", "K S-F5\n");
	CHECK("\033[3;5~", "K C-Delete\n");
	CHECK("\033[5;3~", "K M-PageUp\n");
	CHECK("\033[[A\033[[E", "K F1\nK F5\n");
}

static void
test_input_mouse_focus(void **state)
{
	(void)state;
	CHECK("\033[<0;10;5M", "M 0 4,9\n");
	CHECK("\033[<0;10;5m", "M 0 4,9 up\n");
	CHECK("\033[<2;1;1M", "M 2 0,0\n");
	CHECK("\033[<64;3;4M\033[<65;3;4M", "M 64 3,2\nM 65 3,2\n");
	CHECK("\033[<32;7;8M", "M 32 7,6\n");
	CHECK("\033[<20;1;1M", "M 0 0,0 C S\n");
	CHECK("\033[<8;1;1M", "M 0 0,0 M\n");
	CHECK("\033[<0;300;200M", "M 0 199,299\n");
	/* Not reports: passed on as they are. */
	CHECK("\033[<0;0;5M", "R \\x1b[<0;0;5M\n");
	CHECK("\033[<1;2M", "R \\x1b[<1;2M\n");
	CHECK("\033[<1;2;3;4M", "R \\x1b[<1;2;3;4M\n");
	CHECK("\033[<999;1;1M", "R \\x1b[<999;1;1M\n");
	CHECK("\033[<0;1;1x", "R \\x1b[<0;1;1x\n");
	CHECK("\033[I\033[O", "FI\nFO\n");
}

static void
test_input_raw(void **state)
{
	(void)state;
	CHECK("\033[?1;2c", "R \\x1b[?1;2c\n");
	CHECK("\033[>0;276;0c", "R \\x1b[>0;276;0c\n");
	CHECK("\033]11;rgb:0000/0000/0000\007",
	    "R \\x1b]11;rgb:0000/0000/0000\\x07\n");
	CHECK("\033]52;c;aGVsbG8=\033\\", "R \\x1b]52;c;aGVsbG8=\\x1b\\x5c\n");
	CHECK("\033P1$r0m\033\\", "R \\x1bP1$r0m\\x1b\\x5c\n");
	CHECK("\033_Gi=1\033\\", "R \\x1b_Gi=1\\x1b\\x5c\n");
	CHECK("\033Ox", "R \\x1bOx\n");
	CHECK("\033[99~", "R \\x1b[99~\n");
	CHECK("\033[1;99A", "R \\x1b[1;99A\n");
	CHECK("\033[1;2;3A", "R \\x1b[1;2;3A\n");
	CHECK("\033[1 q", "R \\x1b[1\\x20q\n");
	CHECK("\033[123456A", "R \\x1b[123456A\n");
	CHECK("\033[97;5u", "R \\x1b[97;5u\n");
	/* A control byte cuts a sequence short. */
	CHECK("\033[12\x01", "R \\x1b[12\nK C-a\n");
	CHECK("\033[\x01", "K M-[\nK C-a\n");
	CHECK("\033]0;x\033[A", "R \\x1b]0;x\nK Up\n");
	/* A stray paste end is dropped. */
	CHECK("\033[201~a", "K a\n");
}

static void
test_input_bad_utf8(void **state)
{
	(void)state;
	CHECK("\x80", "R \\x80\n");
	CHECK("\xff", "R \\xff\n");
	CHECK("\xc3\x28", "R \\xc3\nK (\n");
	CHECK("\xc0\xaf", "R \\xc0\nR \\xaf\n");
	CHECK("\xe0\x80\xaf", "R \\xe0\\x80\\xaf\n");
	CHECK("\xed\xa0\x80", "R \\xed\\xa0\\x80\n");
	CHECK("\xc2\x85", "R \\xc2\\x85\n");
	CHECK("\xf4\x90\x80\x80", "R \\xf4\\x90\\x80\\x80\n");
	CHECK("\xe6\x97", "R \\xe6\\x97\n");  /* flushed unfinished */
}

static void
test_input_paste(void **state)
{
	(void)state;
	CHECK("\033[200~hello\r\nworld\033[201~",
	    "P hello\\x0d\\x0aworld\n");
	CHECK("x\033[200~\033[A\033\033[20\033[201\033[201~y",
	    "K x\nP \\x1b[A\\x1b\\x1b[20\\x1b[201\nK y\n");
	CHECK("\033[200~\033[201~a", "K a\n");
	CHECK("\033[200~\xc3\033[201~", "P \\xc3\n");
	CHECK("\033[200~\033[201~\033[200~b\033[201~", "P b\n");
	/* Flushing never ends a paste. */
	CHECK("\033[200~abc", "");
}

static void
test_input_paste_big(void **state)
{
	size_t len = 2 * INPUT_PASTE_MAX + INPUT_PASTE_MAX / 2, n, i;
	char *data = xmalloc(len + 32), *want;
	struct input *in;
	struct log l;

	(void)state;
	memcpy(data, "\033[200~", 6);
	for (i = 0; i < len; i++)
		data[6 + i] = (char)('a' + i % 26);
	memcpy(data + 6 + len, "\033[201~z", 7);
	n = len + 13;

	/* Whole, and in uneven feeds: the same three pieces. */
	for (i = 0; i < 2; i++) {
		size_t from = 0, step = i == 0 ? n : 65521;

		in = input_create();
		events_init(&l);
		l.keep_paste = 0;
		while (from < n) {
			size_t take = n - from < step ? n - from : step;

			input_feed(in, data + from, take, events_add, &l);
			from += take;
		}
		want = xasprintf("P %d\nP %d\nP %d\nK z\n", INPUT_PASTE_MAX,
		    INPUT_PASTE_MAX, INPUT_PASTE_MAX / 2);
		assert_string_equal(l.b.data, want);
		assert_int_equal(l.paste_bytes, len);
		assert_int_equal(input_timeout(in, control_now()), -1);
		free(want);
		events_free(&l);
		input_free(in);
	}
	free(data);
}

static void
test_input_escape_timeout(void **state)
{
	struct input *in = input_create();
	struct log l;
	int64_t now;
	int t;

	(void)state;
	events_init(&l);
	assert_int_equal(input_timeout(in, control_now()), -1);
	input_feed(in, "\033", 1, events_add, &l);
	now = control_now();
	t = input_timeout(in, now);
	assert_true(t >= 0 && t <= INPUT_ESC_MS);
	assert_int_equal(input_timeout(in, now + 1000), 0);
	assert_int_equal(l.events, 0);
	input_flush(in, events_add, &l);
	assert_string_equal(l.b.data, "K Escape\n");
	assert_int_equal(input_timeout(in, control_now()), -1);

	/* An unfinished sequence is taken as the keys typed. */
	buf_reset(&l.b);
	input_feed(in, "\033[1;", 4, events_add, &l);
	assert_true(input_timeout(in, control_now()) >= 0);
	input_flush(in, events_add, &l);
	assert_string_equal(l.b.data, "K M-[\nK 1\nK ;\n");

	buf_reset(&l.b);
	input_feed(in, "\033O", 2, events_add, &l);
	input_flush(in, events_add, &l);
	input_feed(in, "\033]0;t", 5, events_add, &l);
	input_flush(in, events_add, &l);
	input_feed(in, "\033P", 2, events_add, &l);
	input_flush(in, events_add, &l);
	assert_string_equal(l.b.data,
	    "K M-O\nK M-]\nK 0\nK ;\nK t\nK M-P\n");

	/* Nothing held after whole keys, or inside a paste. */
	input_feed(in, "ab\033[A", 5, events_add, &l);
	assert_int_equal(input_timeout(in, control_now()), -1);
	input_feed(in, "\033[200~x\033", 8, events_add, &l);
	assert_int_equal(input_timeout(in, control_now()), -1);
	buf_reset(&l.b);
	input_flush(in, events_add, &l);
	assert_string_equal(l.b.data, "");
	input_feed(in, "[201~", 5, events_add, &l);
	assert_string_equal(l.b.data, "P x\n");

	events_free(&l);
	input_free(in);
}

/* A sequence that never ends is passed on raw in bounded pieces. */
static void
check_long(const char *start, size_t fill, int c, const char *end)
{
	size_t slen = strlen(start), elen = strlen(end);
	size_t n = slen + fill + elen + 1, i, step;
	char *data = xmalloc(n);
	struct input *in;
	struct log l;

	memcpy(data, start, slen);
	memset(data + slen, c, fill);
	memcpy(data + slen + fill, end, elen);
	data[n - 1] = 'x';
	for (step = 1; step <= n; step = step * 7 + 1) {
		in = input_create();
		events_init(&l);
		for (i = 0; i < n; i += step)
			input_feed(in, data + i, n - i < step ? n - i : step,
			    events_add, &l);
		assert_true(l.max_raw <= 256);
		assert_int_equal(l.raw_bytes, n - 1);
		assert_memory_equal(l.raw.data, data, n - 1);
		assert_string_equal(l.b.data + l.b.len - 4, "K x\n");
		assert_int_equal(input_timeout(in, control_now()), -1);
		events_free(&l);
		input_free(in);
	}
	free(data);
}

static void
test_input_bounded(void **state)
{
	(void)state;
	check_long("\033[", 10000, '1', "A");
	check_long("\033[", 300, ';', "~");
	check_long("\033]", 100000, 'q', "\007");
	check_long("\033]", 5000, 'q', "\033\\");
	check_long("\033P", 1000, 'p', "\033\\");
	check_long("\033\033[", 1000, '2', "~");
	check_long("\033O", 600, '5', "A");
}

/* After garbage that never ends, a pause gives the keyboard back. */
static void
test_input_bounded_flush(void **state)
{
	struct input *in = input_create();
	char data[1000];
	struct log l;

	(void)state;
	events_init(&l);
	memset(data, 'z', sizeof data);
	data[0] = '\033';
	data[1] = ']';
	input_feed(in, data, sizeof data, events_add, &l);
	assert_true(input_timeout(in, control_now()) >= 0);
	input_flush(in, events_add, &l);
	assert_int_equal(l.raw_bytes, sizeof data);
	assert_int_equal(input_timeout(in, control_now()), -1);
	input_feed(in, "\x1d", 1, events_add, &l);
	assert_string_equal(l.b.data + l.b.len - 6, "K C-]\n");
	events_free(&l);
	input_free(in);
}

/* A little deterministic generator for garbage. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_input_garbage(void **state)
{
	static const char *const pieces[] = {
		"\033", "[", "O", "]", "P", "<", ";", "~", "1", "5", "200~",
		"201~", "\007", "\\", "\xc3", "\xa9", "\xff", "M", "A", "a",
	};
	size_t n = 1 << 20, i, from, take;
	char *data = xmalloc(n), *whole, *bytewise;
	const char *p;
	struct input *in;
	struct log l;
	uint32_t s = 12345;

	(void)state;
	/* Half random bytes, half pieces of sequences. */
	for (i = 0; i < n; ) {
		if (rnd(&s) % 2) {
			data[i++] = (char)rnd(&s);
			continue;
		}
		p = pieces[rnd(&s) % (sizeof pieces / sizeof pieces[0])];
		while (*p != '\0' && i < n)
			data[i++] = *p++;
	}

	in = input_create();
	events_init(&l);
	l.keep_paste = 0;
	input_feed(in, data, n, events_add, &l);
	input_flush(in, events_add, &l);
	assert_true(l.max_raw <= 256);
	assert_true(l.max_paste <= INPUT_PASTE_MAX);
	assert_true(l.events > 1000);
	whole = buf_detach(&l.b, NULL);
	events_free(&l);
	input_free(in);

	in = input_create();
	events_init(&l);
	l.keep_paste = 0;
	for (from = 0; from < n; from += take) {
		take = 1 + rnd(&s) % 300;
		if (take > n - from)
			take = n - from;
		input_feed(in, data + from, take, events_add, &l);
	}
	input_flush(in, events_add, &l);
	assert_true(strcmp(l.b.data, whole) == 0);
	events_free(&l);
	input_free(in);

	in = input_create();
	events_init(&l);
	l.keep_paste = 0;
	for (i = 0; i < n; i++)
		input_feed(in, data + i, 1, events_add, &l);
	input_flush(in, events_add, &l);
	bytewise = buf_detach(&l.b, NULL);
	assert_true(strcmp(bytewise, whole) == 0);
	free(bytewise);
	events_free(&l);
	input_free(in);

	free(whole);
	free(data);
}

/* Everything above in one stream, split everywhere. */
static void
test_input_mixed_splits(void **state)
{
	static const char mixed[] =
	    "a\xc3\xa9\x01\033x\033[1;5A\033OP\033[15;2~\033[<0;10;5M"
	    "\033[I\033[200~p\033[Aste\033[201~\033]11;rgb:1/2/3\007"
	    "\033[?1;2c\033[Z\033\033[B\x7f\r\033OM\033[[A\033[<64;1;1m";
	char *whole = run(mixed, sizeof mixed - 1, 1), *got;
	size_t i;

	(void)state;
	assert_string_equal(whole,
	    "K a\nK \xc3\xa9\nK C-a\nK M-x\nK C-Up\nK F1\nK S-F5\n"
	    "M 0 4,9\nFI\nP p\\x1b[Aste\n"
	    "R \\x1b]11;rgb:1/2/3\\x07\nR \\x1b[?1;2c\nK BTab\nK M-Down\n"
	    "K BSpace\nK Enter\nK KPEnter\nK F1\nM 64 0,0 up\n");
	check_splits(mixed, sizeof mixed - 1, 1, whole);
	/* One byte at a time. */
	{
		struct input *in = input_create();
		struct log l;

		events_init(&l);
		for (i = 0; i < sizeof mixed - 1; i++)
			input_feed(in, mixed + i, 1, events_add, &l);
		input_flush(in, events_add, &l);
		got = buf_detach(&l.b, NULL);
		assert_string_equal(got, whole);
		free(got);
		events_free(&l);
		input_free(in);
	}
	free(whole);
}

/* The line a question on the status line or in the review reads. */
static void
test_input_line_key(void **state)
{
	struct buf line = BUF_INIT;

	(void)state;
	setlocale(LC_CTYPE, "C.UTF-8");
	assert_int_equal(input_line_key(&line, 'a', 8), 0);
	assert_int_equal(input_line_key(&line, 0xe9, 8), 0);   /* é: 2 bytes */
	assert_int_equal(input_line_key(&line, 0x4e2d, 8), 0); /* 中: 3 bytes */
	assert_int_equal(line.len, 6);
	assert_memory_equal(line.data, "a\xc3\xa9\xe4\xb8\xad", 6);
	/* BSpace takes a whole character, C-h too */
	assert_int_equal(input_line_key(&line, 0x7f, 8), 0);
	assert_int_equal(line.len, 3);
	assert_int_equal(input_line_key(&line, 'h' | KEYC_CTRL, 8), 0);
	assert_string_equal(line.data, "a");
	/* controls, modified and special keys are not text */
	assert_int_equal(input_line_key(&line, 0x01, 8), 0);
	assert_int_equal(input_line_key(&line, 'x' | KEYC_META, 8), 0);
	assert_int_equal(input_line_key(&line, KEYC_UP, 8), 0);
	assert_string_equal(line.data, "a");
	/* bounded: nothing past max */
	for (int i = 0; i < 20; i++)
		input_line_key(&line, 'z', 8);
	assert_int_equal(line.len, 8);
	assert_int_equal(input_line_key(&line, '\r', 8), 1);
	assert_int_equal(input_line_key(&line, KEYC_KP_ENTER, 8), 1);
	assert_int_equal(input_line_key(&line, 0x1b, 8), -1);
	assert_int_equal(input_line_key(&line, 'g' | KEYC_CTRL, 8), -1);
	assert_int_equal(input_line_key(&line, 'c' | KEYC_CTRL, 8), -1);
	/* BSpace on an empty line */
	buf_reset(&line);
	assert_int_equal(input_line_key(&line, 0x7f, 8), 0);
	assert_int_equal(line.len, 0);
	buf_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_characters),
		cmocka_unit_test(test_input_controls),
		cmocka_unit_test(test_input_meta),
		cmocka_unit_test(test_input_cursor_keys),
		cmocka_unit_test(test_input_function_keys),
		cmocka_unit_test(test_input_mouse_focus),
		cmocka_unit_test(test_input_raw),
		cmocka_unit_test(test_input_bad_utf8),
		cmocka_unit_test(test_input_paste),
		cmocka_unit_test(test_input_paste_big),
		cmocka_unit_test(test_input_escape_timeout),
		cmocka_unit_test(test_input_bounded),
		cmocka_unit_test(test_input_bounded_flush),
		cmocka_unit_test(test_input_garbage),
		cmocka_unit_test(test_input_mixed_splits),
		cmocka_unit_test(test_input_line_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
