/*
 * The outer terminal's bytes into events: keys (UTF-8, control bytes,
 * Escape-prefixed Meta, CSI and SS3 keys with xterm modifiers), SGR mouse
 * reports, focus changes, bracketed pastes; anything else arrives as
 * INPUT_RAW with its exact bytes so it can go on to the agent.
 *
 * Bytes are taken one at a time into a small pending buffer and parsed from
 * its start, so how the input is split across input_feed calls never
 * changes the events. Only time does: a sequence left incomplete for
 * INPUT_ESC_MS is taken as typed keys by input_flush (a lone Escape).
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

#define nitems(a) (sizeof (a) / sizeof (a)[0])

/* A sequence longer than this is not one we know: it is passed on raw. */
#define INPUT_PENDING_MAX 256

#define ESC 0x1b

/* How a sequence too long to hold ends, while it is streamed raw. */
enum input_long {
	INPUT_LONG_NONE,
	INPUT_LONG_CSI,     /* a final byte 0x40-0x7e */
	INPUT_LONG_STRING,  /* BEL or ESC \ (OSC, DCS, APC, PM, SOS) */
};

struct input {
	unsigned char pending[INPUT_PENDING_MAX];
	size_t npending;
	int64_t held_ms;             /* when the pending bytes began to wait */

	enum input_long longseq;
	int long_esc;                /* the last byte held is an ESC */

	int pasting;
	struct buf paste;
	size_t marker;               /* bytes of the end marker seen */
};

/* What input_parse found at the start of the pending bytes. */
enum input_parse {
	PARSE_PARTIAL,      /* more bytes may change it */
	PARSE_EVENT,
	PARSE_PASTE_START,
	PARSE_SKIP,         /* consumed, no event (a stray paste end) */
	PARSE_META,         /* not a sequence after all: ESC is Meta */
};

static const char input_paste_end[] = "\033[201~";
#define INPUT_PASTE_END_LEN (sizeof input_paste_end - 1)

/* CSI n ~ keys (vt220, xterm, rxvt's 7 and 8). */
static const struct input_tilde {
	int number;
	key_code key;
} input_tilde_keys[] = {
	{ 1, KEYC_HOME }, { 2, KEYC_IC }, { 3, KEYC_DC }, { 4, KEYC_END },
	{ 5, KEYC_PPAGE }, { 6, KEYC_NPAGE }, { 7, KEYC_HOME },
	{ 8, KEYC_END }, { 11, KEYC_F1 }, { 12, KEYC_F2 }, { 13, KEYC_F3 },
	{ 14, KEYC_F4 }, { 15, KEYC_F5 }, { 17, KEYC_F6 }, { 18, KEYC_F7 },
	{ 19, KEYC_F8 }, { 20, KEYC_F9 }, { 21, KEYC_F10 }, { 23, KEYC_F11 },
	{ 24, KEYC_F12 },
};

/* CSI and SS3 keys named by their final byte. */
static const struct input_final {
	unsigned char final;
	key_code key;
} input_final_keys[] = {
	{ 'A', KEYC_UP }, { 'B', KEYC_DOWN }, { 'C', KEYC_RIGHT },
	{ 'D', KEYC_LEFT }, { 'H', KEYC_HOME }, { 'F', KEYC_END },
	{ 'P', KEYC_F1 }, { 'Q', KEYC_F2 }, { 'R', KEYC_F3 }, { 'S', KEYC_F4 },
	{ 'Z', KEYC_BTAB },
};

static enum input_parse input_parse(const unsigned char *, size_t, int,
    struct input_event *, size_t *);

struct input *
input_create(void)
{
	struct input *in = xcalloc(1, sizeof *in);

	buf_init(&in->paste);
	return in;
}

void
input_free(struct input *in)
{
	if (in == NULL)
		return;
	buf_free(&in->paste);
	free(in);
}

static enum input_parse
input_key(struct input_event *ev, key_code key)
{
	memset(ev, 0, sizeof *ev);
	ev->type = INPUT_KEY;
	ev->key = key;
	return PARSE_EVENT;
}

static enum input_parse
input_raw(struct input_event *ev, const unsigned char *p, size_t len,
    size_t *used)
{
	memset(ev, 0, sizeof *ev);
	ev->type = INPUT_RAW;
	ev->data = (const char *)p;
	ev->len = len;
	*used = len;
	return PARSE_EVENT;
}

/* A control byte as the key it is typed as. */
static key_code
input_control(unsigned char c)
{
	switch (c) {
	case 0x00: return ' ' | KEYC_CTRL;
	case 0x09: return '\t';
	case 0x0d: return '\r';
	case 0x1b: return ESC;
	case 0x7f: return 0x7f;
	}
	if (c >= 0x1c && c <= 0x1f)
		return ("\\]^_")[c - 0x1c] | KEYC_CTRL;
	return ('a' + c - 1) | KEYC_CTRL;
}

/* The length a UTF-8 lead byte announces, 0 when it cannot lead. */
static size_t
input_utf8_length(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

static enum input_parse
input_parse_utf8(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	size_t want = input_utf8_length(p[0]), i;
	char s[5];
	key_code key;

	if (want == 0)
		return input_raw(ev, p, 1, used);
	for (i = 1; i < want && i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return input_raw(ev, p, i, used);
	}
	if (n < want)
		return final ? input_raw(ev, p, n, used) : PARSE_PARTIAL;
	memcpy(s, p, want);
	s[want] = '\0';
	/* key-string.c decodes it and turns away overlong forms, surrogates
	 * and C1 controls, which go on raw. */
	key = key_string_lookup_string(s);
	if (key == KEYC_NONE || (key & ~KEYC_MASK_KEY) != 0)
		return input_raw(ev, p, want, used);
	*used = want;
	return input_key(ev, key);
}

/* xterm's modifier parameter (1 + shift 1, alt 2, ctrl 4, meta 8). */
static int
input_modifiers(long m, key_code *mods)
{
	*mods = 0;
	if (m < 0)
		return 0;
	if (m < 1 || m > 16)
		return -1;
	m--;
	if (m & 1)
		*mods |= KEYC_SHIFT;
	if (m & (2 | 8))
		*mods |= KEYC_META;
	if (m & 4)
		*mods |= KEYC_CTRL;
	return 0;
}

/*
 * Splits "a;b;c" (digits only, at most max numbers of 5 digits) into v; an
 * empty number is -1. The count, or -1 when it is not of that form.
 */
static int
input_numbers(const unsigned char *p, size_t len, long *v, int max)
{
	size_t i, digits = 0;
	int n = 0;

	v[0] = -1;
	for (i = 0; i < len; i++) {
		if (p[i] == ';') {
			if (++n == max)
				return -1;
			v[n] = -1;
			digits = 0;
		} else if (p[i] >= '0' && p[i] <= '9' && digits++ < 5)
			v[n] = (v[n] < 0 ? 0 : v[n] * 10) + (p[i] - '0');
		else
			return -1;
	}
	return n + 1;
}

/* An SGR mouse report: p holds "<b;x;y", final is M (press) or m. */
static int
input_mouse(const unsigned char *p, size_t len, unsigned char final,
    struct input_event *ev)
{
	long v[3];

	if ((final != 'M' && final != 'm') ||
	    input_numbers(p + 1, len - 1, v, 3) != 3 ||
	    v[0] < 0 || v[0] > 255 || v[1] < 1 || v[2] < 1)
		return -1;
	memset(ev, 0, sizeof *ev);
	ev->type = INPUT_MOUSE;
	ev->mouse.button = (int)(v[0] & ~(4 | 8 | 16));
	ev->mouse.col = (int)v[1] - 1;
	ev->mouse.row = (int)v[2] - 1;
	ev->mouse.release = final == 'm';
	if (v[0] & 4)
		ev->mouse.mods |= KEYC_SHIFT;
	if (v[0] & 8)
		ev->mouse.mods |= KEYC_META;
	if (v[0] & 16)
		ev->mouse.mods |= KEYC_CTRL;
	return 0;
}

/* A key named by final with an optional "1;m" or "m" parameter. */
static int
input_final_key(unsigned char final, const long *v, int nv,
    struct input_event *ev)
{
	key_code mods;
	size_t i;

	if (nv > 2 || (nv == 2 && v[0] != 1 && v[0] != -1))
		return -1;
	if (nv == 1 && v[0] != -1 && v[0] != 1) {
		/* old xterm: ESC O 5 A */
		if (input_modifiers(v[0], &mods) != 0)
			return -1;
	} else if (input_modifiers(nv == 2 ? v[1] : -1, &mods) != 0)
		return -1;
	for (i = 0; i < nitems(input_final_keys); i++) {
		if (input_final_keys[i].final != final)
			continue;
		if (input_final_keys[i].key == KEYC_BTAB)
			mods &= ~KEYC_SHIFT;
		input_key(ev, input_final_keys[i].key | mods);
		return 0;
	}
	return -1;
}

/* CSI n ~ and CSI n ; m ~. */
static int
input_tilde_key(const long *v, int nv, struct input_event *ev)
{
	key_code mods;
	size_t i;

	if (nv > 2 || input_modifiers(nv == 2 ? v[1] : -1, &mods) != 0)
		return -1;
	for (i = 0; i < nitems(input_tilde_keys); i++) {
		if (input_tilde_keys[i].number == v[0]) {
			input_key(ev, input_tilde_keys[i].key | mods);
			return 0;
		}
	}
	return -1;
}

/* Decodes a complete CSI sequence p[0..len) (ESC [ params final). */
static enum input_parse
input_csi(const unsigned char *p, size_t len, struct input_event *ev,
    size_t *used)
{
	const unsigned char *params = p + 2;
	size_t nparams = len - 3;
	unsigned char final = p[len - 1];
	long v[2];
	int nv;

	*used = len;
	if (nparams > 0 && params[0] == '<') {
		if (input_mouse(params, nparams, final, ev) == 0)
			return PARSE_EVENT;
		return input_raw(ev, p, len, used);
	}
	if (nparams == 0 && (final == 'I' || final == 'O')) {
		memset(ev, 0, sizeof *ev);
		ev->type = final == 'I' ? INPUT_FOCUS_IN : INPUT_FOCUS_OUT;
		return PARSE_EVENT;
	}
	nv = input_numbers(params, nparams, v, 2);
	if (nv < 0)
		return input_raw(ev, p, len, used);
	if (final == '~' && nv == 1 && v[0] == 200)
		return PARSE_PASTE_START;
	if (final == '~' && nv == 1 && v[0] == 201)
		return PARSE_SKIP;
	if (final == '~' && input_tilde_key(v, nv, ev) == 0)
		return PARSE_EVENT;
	if (final != '~' && input_final_key(final, v, nv, ev) == 0)
		return PARSE_EVENT;
	return input_raw(ev, p, len, used);
}

/* ESC [ ... */
static enum input_parse
input_parse_csi(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	size_t i = 2;

	while (i < n && p[i] >= 0x30 && p[i] <= 0x3f)
		i++;
	while (i < n && p[i] >= 0x20 && p[i] <= 0x2f)
		i++;
	if (i == n)
		return final ? PARSE_META : PARSE_PARTIAL;
	if (p[i] < 0x40 || p[i] > 0x7e) {
		if (i == 2)
			return PARSE_META;  /* M-[, then the byte */
		return input_raw(ev, p, i, used);
	}
	/* The Linux console's F1-F5: ESC [ [ A ... */
	if (i == 2 && p[2] == '[') {
		if (n == 3)
			return final ? PARSE_META : PARSE_PARTIAL;
		if (p[3] >= 'A' && p[3] <= 'E') {
			*used = 4;
			return input_key(ev, KEYC_F1 + (p[3] - 'A'));
		}
		return input_raw(ev, p, 3, used);
	}
	if (i > 2 && p[i - 1] <= 0x2f)  /* intermediates: not a key */
		return input_raw(ev, p, i + 1, used);
	return input_csi(p, i + 1, ev, used);
}

/* ESC O ... */
static enum input_parse
input_parse_ss3(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	long v[2];
	size_t i = 2;
	int nv;

	while (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == ';'))
		i++;
	if (i == n)
		return final ? PARSE_META : PARSE_PARTIAL;
	if (p[i] < 0x40 || p[i] > 0x7e) {
		if (i == 2)
			return PARSE_META;
		return input_raw(ev, p, i, used);
	}
	*used = i + 1;
	nv = input_numbers(p + 2, i - 2, v, 2);
	if (nv < 0)
		return input_raw(ev, p, i + 1, used);
	if (p[i] == 'M' && i == 2)
		return input_key(ev, KEYC_KP_ENTER);
	if (p[i] != 'Z' && input_final_key(p[i], v, i == 2 ? 0 : nv, ev) == 0)
		return PARSE_EVENT;
	return input_raw(ev, p, i + 1, used);
}

/* ESC ] (OSC), ESC P (DCS), ESC _, ESC ^, ESC X: up to BEL or ESC \. */
static enum input_parse
input_parse_string(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	size_t i;

	for (i = 2; i < n; i++) {
		if (p[i] == 0x07)
			return input_raw(ev, p, i + 1, used);
		if (p[i] != ESC)
			continue;
		if (i + 1 == n)
			break;
		if (p[i + 1] == '\\')
			return input_raw(ev, p, i + 2, used);
		return input_raw(ev, p, i, used);  /* cut short by a new ESC */
	}
	return final ? PARSE_META : PARSE_PARTIAL;
}

/* ESC then anything: Meta on the key that follows, else Escape alone. */
static enum input_parse
input_parse_escape(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	struct input_event sub;
	enum input_parse r = PARSE_META;
	size_t subused;

	if (n == 1) {
		*used = 1;
		return final ? input_key(ev, ESC) : PARSE_PARTIAL;
	}
	switch (p[1]) {
	case '[':
		r = input_parse_csi(p, n, final, ev, used);
		break;
	case 'O':
		r = input_parse_ss3(p, n, final, ev, used);
		break;
	case ']': case 'P': case '_': case '^': case 'X':
		r = input_parse_string(p, n, final, ev, used);
		break;
	}
	if (r != PARSE_META)
		return r;
	/* ESC ESC ESC: the first can only be an Escape of its own. */
	if (p[1] == ESC && n > 2 && p[2] == ESC) {
		*used = 1;
		return input_key(ev, ESC);
	}
	r = input_parse(p + 1, n - 1, final, &sub, &subused);
	if (r == PARSE_PARTIAL)
		return r;
	if (r == PARSE_EVENT && sub.type == INPUT_KEY &&
	    !(sub.key & KEYC_META)) {
		*used = subused + 1;
		return input_key(ev, sub.key | KEYC_META);
	}
	*used = 1;
	return input_key(ev, ESC);
}

/*
 * Parses one event at the start of p[0..n) into ev; *used is set to the
 * bytes it took. final: no more bytes will come, so nothing is partial.
 */
static enum input_parse
input_parse(const unsigned char *p, size_t n, int final,
    struct input_event *ev, size_t *used)
{
	if (p[0] == ESC)
		return input_parse_escape(p, n, final, ev, used);
	if (p[0] < 0x20 || p[0] == 0x7f) {
		*used = 1;
		return input_key(ev, input_control(p[0]));
	}
	if (p[0] >= 0x80)
		return input_parse_utf8(p, n, final, ev, used);
	*used = 1;
	return input_key(ev, p[0]);
}

/* Adds paste content, handing it out in pieces of INPUT_PASTE_MAX. */
static void
input_paste_add(struct input *in, const void *data, size_t len,
    input_fn fn, void *arg)
{
	struct input_event ev;
	const char *p = data;
	size_t take;

	while (len > 0) {
		take = INPUT_PASTE_MAX - in->paste.len;
		if (take > len)
			take = len;
		buf_add(&in->paste, p, take);
		p += take;
		len -= take;
		if (in->paste.len < INPUT_PASTE_MAX)
			break;
		memset(&ev, 0, sizeof ev);
		ev.type = INPUT_PASTE;
		ev.data = in->paste.data;
		ev.len = in->paste.len;
		fn(&ev, arg);
		buf_reset(&in->paste);
	}
}

static void
input_paste_done(struct input *in, input_fn fn, void *arg)
{
	struct input_event ev;

	if (in->paste.len > 0) {
		memset(&ev, 0, sizeof ev);
		ev.type = INPUT_PASTE;
		ev.data = in->paste.data;
		ev.len = in->paste.len;
		fn(&ev, arg);
	}
	buf_free(&in->paste);
	in->pasting = 0;
	in->marker = 0;
}

/* Inside a paste: everything up to ESC[201~ is content. The bytes used. */
static size_t
input_paste(struct input *in, const unsigned char *p, size_t n,
    input_fn fn, void *arg)
{
	const unsigned char *esc;
	size_t i = 0, upto;

	while (i < n) {
		if (in->marker == 0) {
			esc = memchr(p + i, ESC, n - i);
			upto = esc != NULL ? (size_t)(esc - p) : n;
			input_paste_add(in, p + i, upto - i, fn, arg);
			i = upto;
			if (esc == NULL)
				break;
		}
		if (p[i] == (unsigned char)input_paste_end[in->marker]) {
			i++;
			if (++in->marker == INPUT_PASTE_END_LEN) {
				input_paste_done(in, fn, arg);
				return i;
			}
			continue;
		}
		/* Not the end after all: what looked like it is content. */
		input_paste_add(in, input_paste_end, in->marker, fn, arg);
		in->marker = 0;
	}
	return i;
}

static void
input_emit_pending_raw(struct input *in, input_fn fn, void *arg)
{
	struct input_event ev;
	size_t used;

	if (in->npending == 0)
		return;
	input_raw(&ev, in->pending, in->npending, &used);
	fn(&ev, arg);
	in->npending = 0;
}

/* How a pending sequence that outgrew the buffer ends. */
static enum input_long
input_long_kind(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i + 1 < n && p[i] == ESC && p[i + 1] == ESC)
		i++;
	if (i + 1 < n && p[i] == ESC && (p[i + 1] == '[' || p[i + 1] == 'O'))
		return INPUT_LONG_CSI;
	return INPUT_LONG_STRING;
}

/*
 * One byte of a sequence too long to hold, passed on raw in pieces of
 * INPUT_PENDING_MAX until it ends. 0 when the byte is not part of it (and
 * the sequence is over).
 */
static int
input_long_byte(struct input *in, unsigned char c, input_fn fn, void *arg)
{
	int end = 0;

	if (in->longseq == INPUT_LONG_CSI) {
		if (c < 0x20 || c > 0x7e) {
			input_emit_pending_raw(in, fn, arg);
			in->longseq = INPUT_LONG_NONE;
			return 0;
		}
		end = c >= 0x40;
	} else if (in->long_esc) {
		in->long_esc = 0;
		if (c != '\\') {
			/* The ESC held starts something new. */
			in->longseq = INPUT_LONG_NONE;
			return 0;
		}
		end = 1;
	} else if (c == ESC) {
		input_emit_pending_raw(in, fn, arg);
		in->long_esc = 1;
	} else
		end = c == 0x07;
	in->pending[in->npending++] = c;
	if (end || in->npending == INPUT_PENDING_MAX)
		input_emit_pending_raw(in, fn, arg);
	if (end)
		in->longseq = INPUT_LONG_NONE;
	return 1;
}

/* Parses the pending bytes into events while they make any. */
static void
input_drain(struct input *in, int final, input_fn fn, void *arg)
{
	struct input_event ev;
	enum input_parse r;
	size_t used;

	while (in->npending > 0) {
		if (in->pasting)
			used = input_paste(in, in->pending, in->npending, fn,
			    arg);
		else {
			r = input_parse(in->pending, in->npending, final, &ev,
			    &used);
			if (r == PARSE_PARTIAL) {
				if (in->npending < INPUT_PENDING_MAX)
					return;
				in->longseq = input_long_kind(in->pending,
				    in->npending);
				input_emit_pending_raw(in, fn, arg);
				return;
			}
			if (r == PARSE_EVENT)
				fn(&ev, arg);
			else if (r == PARSE_PASTE_START)
				in->pasting = 1;
		}
		memmove(in->pending, in->pending + used, in->npending - used);
		in->npending -= used;
	}
}

void
input_feed(struct input *in, const char *data, size_t len, input_fn fn,
    void *arg)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		if (in->pasting) {
			i += input_paste(in, p + i, len - i, fn, arg);
			continue;
		}
		if (in->longseq != INPUT_LONG_NONE &&
		    input_long_byte(in, p[i], fn, arg)) {
			i++;
			continue;
		}
		in->pending[in->npending++] = p[i++];
		input_drain(in, 0, fn, arg);
	}
	if (in->npending > 0 || in->longseq != INPUT_LONG_NONE)
		in->held_ms = control_now();
}

int
input_timeout(const struct input *in, int64_t now_ms)
{
	int64_t left;

	if (in->pasting ||
	    (in->npending == 0 && in->longseq == INPUT_LONG_NONE))
		return -1;
	left = in->held_ms + INPUT_ESC_MS - now_ms;
	if (left < 0)
		return 0;
	return left > INPUT_ESC_MS ? INPUT_ESC_MS : (int)left;
}

void
input_flush(struct input *in, input_fn fn, void *arg)
{
	if (in->pasting)
		return;  /* a paste lasts until its end marker */
	if (in->longseq != INPUT_LONG_NONE) {
		input_emit_pending_raw(in, fn, arg);
		in->longseq = INPUT_LONG_NONE;
		in->long_esc = 0;
		return;
	}
	input_drain(in, 1, fn, arg);
}

int
input_line_key(struct buf *line, key_code key, size_t max)
{
	char utf8[MB_LEN_MAX];
	int n;

	if (key == '\r' || key == KEYC_KP_ENTER)
		return 1;
	if (key == 0x1b || key == ('c' | KEYC_CTRL) || key == ('g' | KEYC_CTRL))
		return -1;
	if (key == 0x7f || key == ('h' | KEYC_CTRL)) {
		/* a whole UTF-8 character goes */
		while (line->len > 0 &&
		    (line->data[--line->len] & 0xc0) == 0x80)
			;
		if (line->data != NULL)
			line->data[line->len] = '\0';
	} else if ((key & KEYC_MASK_MODIFIERS) == 0 && key < KEYC_BASE &&
	    key >= ' ' && key != 0x7f && line->len < max) {
		n = wctomb(utf8, (wchar_t)key);
		if (n > 0)
			buf_add(line, utf8, (size_t)n);
	}
	return 0;
}
