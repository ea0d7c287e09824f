#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vterm.h>

#include "tui/tui.h"

/*
 * The agent's terminal: libvterm 0.1.4 keeps the screen; this file keeps
 * what it does not: the scrollback (packed, below), the modes it consumes
 * without reporting (bracketed paste, focus events, SGR mouse, keypad), and
 * every string sequence. libvterm 0.1.4 loses the start of an OSC or DCS
 * string split across two writes, which a pty read does at random, so
 * strings are collected here whole: OSC is handled here (title,
 * notifications), DCS is handed to libvterm in one write, the rest dropped.
 * The same scanner keeps from libvterm 0.1.4 the input that makes it read
 * or write outside its buffers (each guard says which), as agent output is
 * untrusted.
 */

#define TERM_ROWS_MAX 300   /* an 8K screen in a small font */
#define TERM_COLS_MAX 1000
/* libvterm 0.1.4 writes a wide character's right half past a one-column
 * screen. */
#define TERM_COLS_MIN 2
#define TERM_STRING_MAX 4096           /* longer strings are dropped */
#define TERM_TITLE_MAX 1024
#define TERM_ANSWER_MAX (1024 * 1024)  /* unread answers kept at most */
/* Whatever the lines hold, the scrollback stops at this many bytes. */
#define TERM_SCROLLBACK_BYTES (24 * 1024 * 1024)
/* base + combining marks: libvterm may fill all six without a terminator */
#define TERM_CHARS (TERM_MAX_CHARS - 1)

/*
 * A scrollback line, packed: trailing blanks dropped, then runs of cells
 * sharing a style. A run is a style byte (bits 0-1 the foreground's
 * enum term_color_type, bits 2-3 the background's, bit 4 attributes
 * follow), the attributes byte, the colours (1 byte for an index, 3 for
 * RGB), a count byte, then each cell: 0x00 blank, 0xff the right half of
 * a wide character, else the character in UTF-8 and each combining mark as
 * 0xfe and its UTF-8 (UTF-8 never holds 0xfe or 0xff).
 */
struct sb_line {
	uint32_t	len;
	uint16_t	cells;
	unsigned char	data[];
};
#define SB_BLANK 0x00
#define SB_COMBINING 0xfe
#define SB_RIGHT_HALF 0xff
#define SB_ATTRS 0x10

/* The last scrollback line unpacked, for term_cell (which is const). */
struct sb_cache {
	int			 valid;
	int			 line;         /* 1 the newest */
	int			 ncells;
	int			 size;
	struct term_cell	*cells;
};

enum scan_state {
	SCAN_GROUND,
	SCAN_ESC,        /* an ESC held back until the next byte says what */
	SCAN_ESC_INTER,  /* ESC and intermediates: nothing to see */
	SCAN_CSI,
	SCAN_CSI_DROP,   /* a CSI libvterm must not see the rest of */
	SCAN_STRING,     /* OSC, DCS, APC, PM or SOS contents */
	SCAN_STRING_ESC, /* an ESC inside a string: ST, or the end of it */
	SCAN_E3,         /* held: maybe one of the marks below */
	SCAN_E3_80,
	SCAN_E3_82,
};
/*
 * libvterm 0.1.4 writes past its array on a CSI of more than 16 parameters
 * and overflows a long on a long run of digits: such a CSI is cancelled
 * (CAN) and the rest of it kept from libvterm.
 */
#define SCAN_PARAMS 16
#define SCAN_PARAM_MAX 99999

#define TERM_WRITE_MAX 65536

struct term {
	VTerm			*vt;
	VTermScreen		*screen;
	VTermState		*vstate;
	int			 rows, cols;
	struct term_state	 state;
	char			 title[TERM_TITLE_MAX];
	int			 keypad_app;
	int			 region_reset;  /* due after a resize */
	int			 rep_safe;      /* see term_scan_text */
	int			 utf8_left;
	int			 damage, bells, notifications;
	uint64_t		 output_bytes;
	uint64_t		 scrolled;

	struct buf		 answers;
	struct buf		*sink;         /* where libvterm's output goes */

	struct sb_line		**sb;          /* ring of TERM_SCROLLBACK */
	int			 sb_first;      /* the oldest line's slot */
	int			 sb_count;
	size_t			 sb_bytes;
	struct sb_cache		*cache;
	struct buf		 pack;          /* reused to pack a line */
	struct term_cell	*cells;         /* reused to unpack a line */
	int			 cells_size;

	enum scan_state		 scan;
	int			 csi_leader;
	int			 csi_inter;
	int			 csi_nparams;
	unsigned		 csi_params[SCAN_PARAMS];
	int			 string_kind;   /* ']' 'P' '_' '^' 'X' */
	int			 string_over;   /* longer than TERM_STRING_MAX */
	struct buf		 string;

	/* What term_fast_feed must know and libvterm does not tell. */
	int			 fast_off;      /* AIRLOCK_TERM_NO_FAST */
	int			 fast_unsafe;   /* TERM_FAST_* */
	int			 fast_charsets; /* bit n: Gn may not be ASCII */
	int			 fast_inter;    /* ESC's first intermediate */
	int			 fast_ninter;
	/* The screen when fast_shadow: rows of plain text, the cursor after
	 * the last one's (or at its start after a CR). */
	int			 fast_shadow;
	unsigned char		*fast_text;     /* rows x cols, a ring */
	int			*fast_len;
	int			 fast_first;    /* the ring's top row */
	int			 fast_cr;
	int			 fast_skip;     /* scrolls already pushed */
	/* libvterm's screen is behind the shadow: term_fast_flush puts the
	 * shadow there before anything else reads or writes it. */
	int			 fast_pending;
	struct buf		 fast_out;
};

static const struct term_cell term_blank = { .width = 1 };

static int	term_fast_disabled(void);

/* Appends the UTF-8 of code point c (a valid one: callers check). */
static size_t
term_utf8(unsigned char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (unsigned char)(0xc0 | (c >> 6));
		out[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (c >> 12));
		out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (c >> 18));
	out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/* Decodes what term_utf8 wrote at p (at most end - p bytes). */
static size_t
term_utf8_decode(const unsigned char *p, const unsigned char *end,
    uint32_t *c)
{
	size_t	n, i;

	if (p[0] < 0x80) {
		*c = p[0];
		return 1;
	}
	if (p[0] >= 0xf0) {
		n = 4;
		*c = p[0] & 0x07;
	} else if (p[0] >= 0xe0) {
		n = 3;
		*c = p[0] & 0x0f;
	} else {
		n = 2;
		*c = p[0] & 0x1f;
	}
	if ((size_t)(end - p) < n) {
		*c = 0xfffd;
		return (size_t)(end - p);
	}
	for (i = 1; i < n; i++)
		*c = (*c << 6) | (p[i] & 0x3f);
	return n;
}

static int
term_codepoint_valid(uint32_t c)
{
	return c > 0 && c <= 0x10ffff && (c < 0xd800 || c > 0xdfff);
}

static void
term_color_from_vterm(struct term_color *to, const VTermColor *from)
{
	memset(to, 0, sizeof *to);
	if (from->type & VTERM_COLOR_DEFAULT_MASK)
		to->type = TERM_COLOR_DEFAULT;
	else if (VTERM_COLOR_IS_INDEXED(from)) {
		to->type = TERM_COLOR_INDEX;
		to->index = from->indexed.idx;
	} else {
		to->type = TERM_COLOR_RGB;
		to->r = from->rgb.red;
		to->g = from->rgb.green;
		to->b = from->rgb.blue;
	}
}

static void
term_cell_from_vterm(struct term_cell *to, const VTermScreenCell *from)
{
	int	i;

	memset(to->chars, 0, sizeof to->chars);
	if (from->chars[0] == (uint32_t)-1)
		to->width = 0;  /* libvterm's right half of a wide character */
	else {
		for (i = 0; i < TERM_CHARS && from->chars[i] != 0; i++)
			to->chars[i] = from->chars[i];
		to->width = from->width == 2 ? 2 : 1;
	}
	to->attrs = 0;
	if (from->attrs.bold)
		to->attrs |= TERM_BOLD;
	if (from->attrs.italic)
		to->attrs |= TERM_ITALIC;
	if (from->attrs.underline)
		to->attrs |= TERM_UNDERLINE;
	if (from->attrs.reverse)
		to->attrs |= TERM_REVERSE;
	if (from->attrs.blink)
		to->attrs |= TERM_BLINK;
	if (from->attrs.strike)
		to->attrs |= TERM_STRIKE;
	term_color_from_vterm(&to->fg, &from->fg);
	term_color_from_vterm(&to->bg, &from->bg);
}

static void
term_color_to_vterm(const struct term *t, VTermColor *to,
    const struct term_color *from, int bg)
{
	VTermColor	fg_default, bg_default;

	switch (from->type) {
	case TERM_COLOR_INDEX:
		vterm_color_indexed(to, from->index);
		break;
	case TERM_COLOR_RGB:
		vterm_color_rgb(to, from->r, from->g, from->b);
		break;
	default:
		vterm_state_get_default_colors(t->vstate, &fg_default,
		    &bg_default);
		*to = bg ? bg_default : fg_default;
		break;
	}
}

static void
term_cell_to_vterm(const struct term *t, VTermScreenCell *to,
    const struct term_cell *from)
{
	int	i;

	memset(to, 0, sizeof *to);
	for (i = 0; i < TERM_CHARS && from->chars[i] != 0; i++)
		to->chars[i] = from->chars[i];
	to->width = from->width == 2 ? 2 : 1;
	to->attrs.bold = !!(from->attrs & TERM_BOLD);
	to->attrs.italic = !!(from->attrs & TERM_ITALIC);
	to->attrs.underline = (from->attrs & TERM_UNDERLINE) ?
	    VTERM_UNDERLINE_SINGLE : VTERM_UNDERLINE_OFF;
	to->attrs.reverse = !!(from->attrs & TERM_REVERSE);
	to->attrs.blink = !!(from->attrs & TERM_BLINK);
	to->attrs.strike = !!(from->attrs & TERM_STRIKE);
	term_color_to_vterm(t, &to->fg, &from->fg, 0);
	term_color_to_vterm(t, &to->bg, &from->bg, 1);
}

/* A cell that looks like nothing: trailing ones are not kept. */
static int
term_cell_is_blank(const struct term_cell *c)
{
	return (c->chars[0] == 0 || (c->chars[0] == ' ' && c->chars[1] == 0)) &&
	    c->width == 1 && c->bg.type == TERM_COLOR_DEFAULT &&
	    (c->attrs & (TERM_REVERSE | TERM_UNDERLINE | TERM_STRIKE)) == 0;
}

static int
term_color_equal(const struct term_color *a, const struct term_color *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type == TERM_COLOR_INDEX)
		return a->index == b->index;
	if (a->type == TERM_COLOR_RGB)
		return a->r == b->r && a->g == b->g && a->b == b->b;
	return 1;
}

static int
term_style_equal(const struct term_cell *a, const struct term_cell *b)
{
	return a->attrs == b->attrs && term_color_equal(&a->fg, &b->fg) &&
	    term_color_equal(&a->bg, &b->bg);
}

static void
term_pack_color(struct buf *b, const struct term_color *c)
{
	if (c->type == TERM_COLOR_INDEX)
		buf_addch(b, c->index);
	else if (c->type == TERM_COLOR_RGB) {
		buf_addch(b, c->r);
		buf_addch(b, c->g);
		buf_addch(b, c->b);
	}
}

static void
term_pack_cell(struct buf *b, const struct term_cell *c)
{
	unsigned char	u[4];
	int		i;

	if (c->width == 0) {
		buf_addch(b, SB_RIGHT_HALF);
		return;
	}
	if (!term_codepoint_valid(c->chars[0])) {
		buf_addch(b, SB_BLANK);
		return;
	}
	buf_add(b, u, term_utf8(u, c->chars[0]));
	for (i = 1; i < TERM_CHARS && c->chars[i] != 0; i++) {
		if (!term_codepoint_valid(c->chars[i]))
			continue;
		buf_addch(b, SB_COMBINING);
		buf_add(b, u, term_utf8(u, c->chars[i]));
	}
}

/* Packs n cells into t->pack and returns a new line. */
static struct sb_line *
term_pack(struct term *t, const struct term_cell *cells, int n)
{
	struct buf	*b = &t->pack;
	struct sb_line	*line;
	int		 i, j;

	while (n > 0 && term_cell_is_blank(&cells[n - 1]))
		n--;
	buf_reset(b);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && j - i < 255; j++) {
			if (!term_style_equal(&cells[i], &cells[j]))
				break;
		}
		buf_addch(b, cells[i].fg.type | (cells[i].bg.type << 2) |
		    (cells[i].attrs != 0 ? SB_ATTRS : 0));
		if (cells[i].attrs != 0)
			buf_addch(b, (int)cells[i].attrs);
		term_pack_color(b, &cells[i].fg);
		term_pack_color(b, &cells[i].bg);
		buf_addch(b, j - i);
		for (; i < j; i++)
			term_pack_cell(b, &cells[i]);
	}
	line = xmalloc(sizeof *line + b->len);
	line->len = (uint32_t)b->len;
	line->cells = (uint16_t)n;
	memcpy(line->data, b->data, b->len);
	return line;
}

static const unsigned char *
term_unpack_color(const unsigned char *p, const unsigned char *end,
    struct term_color *c, unsigned type)
{
	memset(c, 0, sizeof *c);
	if (type == TERM_COLOR_INDEX && end - p >= 1) {
		c->type = TERM_COLOR_INDEX;
		c->index = p[0];
		return p + 1;
	}
	if (type == TERM_COLOR_RGB && end - p >= 3) {
		c->type = TERM_COLOR_RGB;
		c->r = p[0];
		c->g = p[1];
		c->b = p[2];
		return p + 3;
	}
	c->type = TERM_COLOR_DEFAULT;
	return p;
}

/* Unpacks line into cells (at least line->cells of them); returns the
 * number of cells filled. */
static int
term_unpack(const struct sb_line *line, struct term_cell *cells)
{
	const unsigned char	*p = line->data, *end = line->data + line->len;
	struct term_cell	 style, *c;
	unsigned		 kind, count;
	int			 n = 0, i;

	while (p < end && n < line->cells) {
		memset(&style, 0, sizeof style);
		style.width = 1;
		kind = *p++;
		if ((kind & SB_ATTRS) && p < end)
			style.attrs = *p++;
		p = term_unpack_color(p, end, &style.fg, kind & 3);
		p = term_unpack_color(p, end, &style.bg, (kind >> 2) & 3);
		count = p < end ? *p++ : 0;
		for (; count > 0 && p < end && n < line->cells; count--) {
			c = &cells[n++];
			*c = style;
			if (*p == SB_RIGHT_HALF) {
				p++;
				c->width = 0;
				if (n >= 2 && cells[n - 2].chars[0] != 0)
					cells[n - 2].width = 2;
				continue;
			}
			if (*p == SB_BLANK) {
				p++;
				continue;
			}
			p += term_utf8_decode(p, end, &c->chars[0]);
			for (i = 1; i < TERM_CHARS && p < end &&
			    *p == SB_COMBINING; i++)
				p += 1 + term_utf8_decode(p + 1, end, &c->chars[i]);
		}
	}
	return n;
}

static void
term_sb_drop_oldest(struct term *t)
{
	struct sb_line	*line = t->sb[t->sb_first];

	t->sb_bytes -= sizeof *line + line->len;
	free(line);
	t->sb[t->sb_first] = NULL;
	t->sb_first = (t->sb_first + 1) % TERM_SCROLLBACK;
	t->sb_count--;
}

static void
term_cells_reserve(struct term *t, int n)
{
	if (n <= t->cells_size)
		return;
	t->cells = xreallocarray(t->cells, (size_t)n, sizeof *t->cells);
	t->cells_size = n;
}

static void
term_sb_add(struct term *t, struct sb_line *line)
{
	while (t->sb_count > 0 && (t->sb_count == TERM_SCROLLBACK ||
	    t->sb_bytes + sizeof *line + line->len > TERM_SCROLLBACK_BYTES))
		term_sb_drop_oldest(t);
	t->sb[(t->sb_first + t->sb_count) % TERM_SCROLLBACK] = line;
	t->sb_count++;
	t->sb_bytes += sizeof *line + line->len;
	t->scrolled++;
	t->cache->valid = 0;
}

static int
term_sb_pushline(int cols, const VTermScreenCell *cells, void *arg)
{
	struct term	*t = arg;
	int		 i;

	term_cells_reserve(t, cols);
	for (i = 0; i < cols; i++)
		term_cell_from_vterm(&t->cells[i], &cells[i]);
	term_sb_add(t, term_pack(t, t->cells, cols));
	return 1;
}

static int
term_sb_popline(int cols, VTermScreenCell *cells, void *arg)
{
	struct term	*t = arg;
	struct sb_line	*line;
	int		 slot, n, i;

	if (t->sb_count == 0)
		return 0;
	slot = (t->sb_first + t->sb_count - 1) % TERM_SCROLLBACK;
	line = t->sb[slot];
	term_cells_reserve(t, line->cells);
	n = term_unpack(line, t->cells);
	for (i = 0; i < cols; i++) {
		if (i >= n || t->cells[i].width == 0)
			term_cell_to_vterm(t, &cells[i], &term_blank);
		else if (t->cells[i].width == 2 && i + 1 >= cols)
			term_cell_to_vterm(t, &cells[i], &term_blank);
		else
			term_cell_to_vterm(t, &cells[i], &t->cells[i]);
	}
	t->sb_bytes -= sizeof *line + line->len;
	free(line);
	t->sb[slot] = NULL;
	t->sb_count--;
	t->scrolled--;
	t->cache->valid = 0;
	return 1;
}

static int
term_damage(VTermRect rect, void *arg)
{
	struct term	*t = arg;

	t->damage = 1;
	return 1;
}

static int
term_moverect(VTermRect dest, VTermRect src, void *arg)
{
	struct term	*t = arg;

	t->damage = 1;
	return 1;
}

static int
term_movecursor(VTermPos pos, VTermPos oldpos, int visible, void *arg)
{
	struct term	*t = arg;

	t->state.cursor_row = pos.row;
	t->state.cursor_col = pos.col;
	t->damage = 1;
	return 1;
}

static int
term_settermprop(VTermProp prop, VTermValue *val, void *arg)
{
	struct term		*t = arg;
	struct term_state	*s = &t->state;

	switch (prop) {
	case VTERM_PROP_CURSORVISIBLE:
		s->cursor_visible = val->boolean;
		break;
	case VTERM_PROP_CURSORBLINK:
		s->cursor_blink = val->boolean;
		break;
	case VTERM_PROP_ALTSCREEN:
		s->altscreen = val->boolean;
		break;
	case VTERM_PROP_CURSORSHAPE:
		if (val->number == VTERM_PROP_CURSORSHAPE_UNDERLINE)
			s->cursor_shape = TERM_CURSOR_UNDERLINE;
		else if (val->number == VTERM_PROP_CURSORSHAPE_BAR_LEFT)
			s->cursor_shape = TERM_CURSOR_BAR;
		else
			s->cursor_shape = TERM_CURSOR_BLOCK;
		break;
	case VTERM_PROP_MOUSE:
		s->mouse = val->number;
		break;
	default:
		return 0;  /* the title never gets here: OSC is read here */
	}
	t->damage = 1;
	return 1;
}

static int
term_bell(void *arg)
{
	struct term	*t = arg;

	t->bells++;
	return 1;
}

static void
term_output(const char *s, size_t len, void *arg)
{
	struct term	*t = arg;

	/* An agent asking for answers it never reads gets no more. */
	if (t->sink == &t->answers && t->answers.len + len > TERM_ANSWER_MAX)
		return;
	buf_add(t->sink, s, len);
}

static const VTermScreenCallbacks term_callbacks = {
	.damage = term_damage,
	.moverect = term_moverect,
	.movecursor = term_movecursor,
	.settermprop = term_settermprop,
	.bell = term_bell,
	.sb_pushline = term_sb_pushline,
	.sb_popline = term_sb_popline,
};

static int
term_clamp(int n, int min, int max)
{
	if (n < min)
		return min;
	if (n > max)
		return max;
	return n;
}

/* The modes this file tracks, as a reset (RIS) leaves them. */
static void
term_reset_modes(struct term *t)
{
	t->state.bracketed_paste = 0;
	t->state.focus_events = 0;
	t->state.mouse_sgr = 0;
	t->state.mouse = 0;  /* libvterm resets it without saying so */
	t->keypad_app = 0;
}

struct term *
term_create(int rows, int cols)
{
	struct term	*t = xcalloc(1, sizeof *t);

	t->rows = term_clamp(rows, 1, TERM_ROWS_MAX);
	t->cols = term_clamp(cols, TERM_COLS_MIN, TERM_COLS_MAX);
	t->vt = vterm_new(t->rows, t->cols);
	if (t->vt == NULL)
		fatalx("vterm_new failed");
	vterm_set_utf8(t->vt, 1);
	buf_init(&t->answers);
	buf_init(&t->pack);
	buf_init(&t->string);
	buf_init(&t->fast_out);
	t->sink = &t->answers;
	vterm_output_set_callback(t->vt, term_output, t);
	t->sb = xcalloc(TERM_SCROLLBACK, sizeof *t->sb);
	t->cache = xcalloc(1, sizeof *t->cache);
	t->title[0] = '\0';
	t->state.title = t->title;
	t->state.cursor_visible = 1;
	t->fast_off = term_fast_disabled();

	t->vstate = vterm_obtain_state(t->vt);
	t->screen = vterm_obtain_screen(t->vt);
	vterm_screen_set_callbacks(t->screen, &term_callbacks, t);
	vterm_screen_set_damage_merge(t->screen, VTERM_DAMAGE_SCREEN);
	vterm_screen_enable_altscreen(t->screen, 1);
	vterm_screen_reset(t->screen, 1);
	t->damage = 1;
	return t;
}

void
term_free(struct term *t)
{
	if (t == NULL)
		return;
	vterm_free(t->vt);
	while (t->sb_count > 0)
		term_sb_drop_oldest(t);
	free(t->sb);
	free(t->cache->cells);
	free(t->cache);
	free(t->cells);
	buf_free(&t->answers);
	buf_free(&t->pack);
	buf_free(&t->string);
	buf_free(&t->fast_out);
	free(t->fast_text);
	free(t->fast_len);
	free(t);
}

static void
term_write(struct term *t, const void *data, size_t len)
{
	const char *p = data;
	size_t n;

	/* libvterm 0.1.4 keeps a write's text in an array on its stack: a
	 * few MB at once would overflow it */
	while (len > 0) {
		n = len > TERM_WRITE_MAX ? TERM_WRITE_MAX : len;
		vterm_input_write(t->vt, p, n);
		p += n;
		len -= n;
	}
}

/*
 * The fast path. libvterm moves every cell of its screen for each line
 * scrolled, so a long burst of plain text (cat of a big file) costs lines
 * times screen size. Lines that would scroll off anyway are put in the
 * scrollback here, as libvterm would have pushed them, and libvterm is
 * given only the text of the rows left on the screen. It is taken only
 * when the result is certain to be the same: nothing held by the scanner,
 * the primary screen, none of the modes below, ASCII in every G set, the
 * default pen, no double-width line, and the cursor on the last row.
 */
#define TERM_FAST_REGION	0x01   /* a scroll region may be set */
#define TERM_FAST_NOWRAP	0x02   /* DECAWM off */
#define TERM_FAST_INSERT	0x04   /* IRM */
#define TERM_FAST_ORIGIN	0x08   /* DECOM */
#define TERM_FAST_MARGINS	0x10   /* DECLRMM: left and right margins */
/* Below this many rows scrolled it is not worth it. */
#define TERM_FAST_ROWS		4

/* How many times it was taken and libvterm's screen drawn again from the
 * shadow, for the tests. */
uint64_t term_fast_taken;
uint64_t term_fast_redraws;

/* AIRLOCK_TERM_NO_FAST=1 turns it off, to compare. */
static int
term_fast_disabled(void)
{
	const char	*s = getenv("AIRLOCK_TERM_NO_FAST");

	return s != NULL && *s != '\0' && strcmp(s, "0") != 0;
}

/* A CSI as the scanner read it (the final byte in final). */
static void
term_fast_csi(struct term *t, int final)
{
	const unsigned	*p = t->csi_params;
	int		 i, n = t->csi_nparams, bit;

	if (n > SCAN_PARAMS)
		n = SCAN_PARAMS;
	if (t->csi_inter) {
		/* Who knows what libvterm makes of it. */
		if (final == 'h' || final == 'l' || final == 'r')
			t->fast_unsafe = ~0;
		return;
	}
	if (final == 'r' && t->csi_leader == 0) {
		/* Only the whole screen, said plainly, is no region. */
		if (n == 0 || (p[0] == 1 && (n == 1 ||
		    (n == 2 && p[1] == (unsigned)t->rows))))
			t->fast_unsafe &= ~TERM_FAST_REGION;
		else
			t->fast_unsafe |= TERM_FAST_REGION;
		return;
	}
	if (final != 'h' && final != 'l')
		return;
	for (i = 0; i < n; i++) {
		bit = 0;
		if (t->csi_leader == 0 && p[i] == 4)
			bit = TERM_FAST_INSERT;
		else if (t->csi_leader == '?' && p[i] == 6)
			bit = TERM_FAST_ORIGIN;
		else if (t->csi_leader == '?' && p[i] == 69)
			bit = TERM_FAST_MARGINS;
		if (bit != 0 && final == 'h')
			t->fast_unsafe |= bit;
		else if (bit != 0)
			t->fast_unsafe &= ~bit;
		if (t->csi_leader == '?' && p[i] == 7) {
			if (final == 'l')
				t->fast_unsafe |= TERM_FAST_NOWRAP;
			else
				t->fast_unsafe &= ~TERM_FAST_NOWRAP;
		}
	}
}

/* The byte after an ESC. */
static void
term_fast_escape(struct term *t, unsigned char c)
{
	if (c == 'c') {
		/* RIS: libvterm resets all of it (DECSTR does not). */
		t->fast_unsafe = 0;
		t->fast_charsets = 0;
	}
	t->fast_inter = c;
	t->fast_ninter = 1;
}

/* A byte after ESC and intermediates: a designation is ESC ( B and the
 * like, and only B (US-ASCII) is ASCII. */
static void
term_fast_escape_inter(struct term *t, unsigned char c)
{
	static const char	 sets[] = "()*+-./";
	static const int	 setnum[] = { 0, 1, 2, 3, 1, 2, 3 };
	const char		*s;

	if (c >= 0x20 && c <= 0x2f) {
		t->fast_ninter++;
		return;
	}
	if (c < 0x30 || c > 0x7e || t->fast_inter == 0)
		return;
	s = strchr(sets, t->fast_inter);
	if (s != NULL) {
		if (c == 'B' && t->fast_ninter == 1 && s - sets < 4)
			t->fast_charsets &= ~(1 << setnum[s - sets]);
		else
			t->fast_charsets |= 1 << setnum[s - sets];
	}
	t->fast_inter = 0;
}

static int
term_fast_pen_default(struct term *t)
{
	static const VTermAttr	 attrs[] = {
		VTERM_ATTR_BOLD, VTERM_ATTR_UNDERLINE, VTERM_ATTR_ITALIC,
		VTERM_ATTR_BLINK, VTERM_ATTR_REVERSE, VTERM_ATTR_STRIKE,
		VTERM_ATTR_FONT,
	};
	VTermValue		 v;
	size_t			 i;

	for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		memset(&v, 0, sizeof v);
		if (!vterm_state_get_penattr(t->vstate, attrs[i], &v) ||
		    v.number != 0)
			return 0;
	}
	if (!vterm_state_get_penattr(t->vstate, VTERM_ATTR_FOREGROUND, &v) ||
	    !VTERM_COLOR_IS_DEFAULT_FG(&v.color))
		return 0;
	if (!vterm_state_get_penattr(t->vstate, VTERM_ATTR_BACKGROUND, &v) ||
	    !VTERM_COLOR_IS_DEFAULT_BG(&v.color))
		return 0;
	return 1;
}

static int
term_fast_ok(struct term *t)
{
	const VTermLineInfo	*info;
	VTermPos		 pos;
	int			 row;

	/* On one row libvterm scrolls by erasing: nothing is pushed. */
	if (t->fast_off || t->rows < 2 || t->scan != SCAN_GROUND ||
	    t->state.altscreen || t->fast_unsafe != 0 || t->fast_charsets != 0)
		return 0;
	vterm_state_get_cursorpos(t->vstate, &pos);
	if (pos.row != t->rows - 1 || !term_fast_pen_default(t))
		return 0;
	for (row = 0; row < t->rows; row++) {
		info = vterm_state_get_lineinfo(t->vstate, row);
		if (info == NULL || info->doublewidth || info->doubleheight)
			return 0;
	}
	return 1;
}

/* Pushes a row of plain text as term_pack packs it (runs of at most 255
 * cells in the default style), written in place. */
static void
term_fast_push_text(struct term *t, const unsigned char *s, int n)
{
	struct sb_line	*line;
	unsigned char	*out;
	int		 i, run;

	while (n > 0 && s[n - 1] == ' ')
		n--;
	line = xmalloc(sizeof *line + (size_t)n + 2 * (((size_t)n + 254) / 255));
	out = line->data;
	for (i = 0; i < n; i += run) {
		run = n - i < 255 ? n - i : 255;
		*out++ = 0;  /* default colours, no attributes */
		*out++ = (unsigned char)run;
		memcpy(out, s + i, (size_t)run);
		out += run;
	}
	line->len = (uint32_t)(out - line->data);
	line->cells = (uint16_t)n;
	term_sb_add(t, line);
}

/* The ring's row r (0 the top). */
static unsigned char *
term_fast_row(const struct term *t, int r, int **len)
{
	int	slot = (t->fast_first + r) % t->rows;

	*len = &t->fast_len[slot];
	return t->fast_text + (size_t)slot * (size_t)t->cols;
}

/* A line feed on the last row: the top row leaves the shadow (and goes to
 * the scrollback when libvterm does not see it). */
static void
term_fast_scroll(struct term *t, int push)
{
	unsigned char	*top;
	int		*len;

	top = term_fast_row(t, 0, &len);
	if (t->fast_skip > 0)
		t->fast_skip--;
	else if (push)
		term_fast_push_text(t, top, *len);
	*len = 0;
	t->fast_first = (t->fast_first + 1) % t->rows;
}

/* Plain text (as term_fast_plain takes it) on the shadow. */
static void
term_fast_sim(struct term *t, const unsigned char *p, size_t n, int push)
{
	unsigned char	*row;
	int		*len, k;
	size_t		 i, j;

	for (i = 0; i < n; i = j) {
		if (p[i] == '\r' && i + 1 < n) {
			term_fast_scroll(t, push);
			j = i + 2;
			continue;
		}
		if (p[i] == '\r') {
			t->fast_cr = 1;
			break;
		}
		if (p[i] == '\n') {  /* after a CR at the end of the last */
			t->fast_cr = 0;
			term_fast_scroll(t, push);
			j = i + 1;
			continue;
		}
		row = term_fast_row(t, t->rows - 1, &len);
		if (*len == t->cols) {
			/* Pending in the last column: the next one wraps. */
			term_fast_scroll(t, push);
			row = term_fast_row(t, t->rows - 1, &len);
		}
		for (j = i; j < n && j - i < (size_t)(t->cols - *len) &&
		    p[j] != '\r'; j++)
			/* nothing */;
		k = (int)(j - i);
		memcpy(row + *len, p + i, (size_t)k);
		*len += k;
	}
}

/* How long the plain text at p is (printable ASCII, CR LF, a CR last, a
 * LF first after a CR) and how many times it scrolls the shadow. */
static size_t
term_fast_plain(struct term *t, const unsigned char *p, size_t len,
    uint64_t *scrolls)
{
	int		*last, col;
	size_t		 i = 0;

	term_fast_row(t, t->rows - 1, &last);
	col = *last;
	*scrolls = 0;
	if (t->fast_cr) {
		if (len == 0 || p[0] != '\n')
			return 0;
		col = 0;
		(*scrolls)++;
		i = 1;
	}
	for (; i < len; i++) {
		if (p[i] >= 0x20 && p[i] <= 0x7e) {
			if (col == t->cols) {
				(*scrolls)++;
				col = 0;
			}
			col++;
		} else if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			(*scrolls)++;
			col = 0;
			i++;
		} else if (p[i] == '\r' && i + 1 == len)
			return len;
		else
			break;
	}
	return i;
}

/* Puts the shadow on libvterm's screen: cleared (which pushes nothing)
 * and written again, ending with the cursor where it was. */
static void
term_fast_redraw(struct term *t)
{
	struct buf	*b = &t->fast_out;
	unsigned char	*row;
	int		*len, r;

	term_fast_redraws++;
	buf_reset(b);
	buf_add(b, "\033[H\033[2J", 7);
	for (r = 0; r < t->rows; r++) {
		row = term_fast_row(t, r, &len);
		if (r > 0)
			buf_add(b, "\r\n", 2);
		buf_add(b, row, (size_t)*len);
	}
	if (t->fast_cr)
		buf_addch(b, '\r');
	term_write(t, b->data, b->len);
}

/* libvterm is given the screen the shadow holds, when it is behind. */
static void
term_fast_flush(struct term *t)
{
	if (!t->fast_pending)
		return;
	t->fast_pending = 0;
	term_fast_redraw(t);
}

/* The shadow's cursor, as libvterm would have it: on the last column when
 * a wrap is pending there. */
static void
term_fast_cursor(struct term *t, VTermPos *pos)
{
	int	*len;

	term_fast_row(t, t->rows - 1, &len);
	pos->row = t->rows - 1;
	pos->col = t->fast_cr ? 0 : (*len < t->cols ? *len : t->cols - 1);
}

/*
 * The first burst: the head, up to the first CR LF after some text, goes
 * through libvterm, which leaves the cursor at the start of a blank last
 * row and no half character or single shift held. Then one scroll up (SU)
 * for what is on the screen (libvterm pushes what leaves it) and the lines
 * after the head on the blank screen, with the shadow following them.
 * Returns how much of p it took.
 */
static size_t
term_fast_start(struct term *t, const unsigned char *p, size_t len)
{
	size_t	 i, head, end, start, n;
	uint64_t rows = 0;
	int	 seen = 0, r;
	char	 csi[32];

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] <= 0x7e)
			seen = 1;
		else if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			if (seen)
				break;
			i++;
		} else
			return 0;
	}
	if (i == len)
		return 0;
	head = i + 2;
	/* The whole lines after it, and the rows they take: a line of
	 * exactly cols characters leaves the cursor pending in the last
	 * column, and CR LF there takes it to the next row. */
	end = start = head;
	for (i = head; i < len; i++) {
		if (p[i] >= 0x20 && p[i] <= 0x7e)
			continue;
		if (p[i] != '\r' || i + 1 >= len || p[i + 1] != '\n')
			break;
		n = i - start;
		rows += n == 0 ? 1 : (n + t->cols - 1) / t->cols;
		end = start = i + 2;
		i++;
	}
	if (rows < (uint64_t)t->rows - 1 || rows < TERM_FAST_ROWS)
		return 0;

	term_write(t, p, head);
	n = (size_t)snprintf(csi, sizeof csi, "\033[%dS", t->rows - 1);
	term_write(t, csi, n);
	t->fast_text = xreallocarray(t->fast_text, (size_t)t->rows,
	    (size_t)t->cols);
	t->fast_len = xreallocarray(t->fast_len, (size_t)t->rows,
	    sizeof *t->fast_len);
	for (r = 0; r < t->rows; r++)
		t->fast_len[r] = 0;
	t->fast_first = 0;
	t->fast_cr = 0;
	t->fast_skip = t->rows - 1;  /* what SU pushed */
	/* The shadow is blank rows with the cursor on the last: the lines
	 * go to the scrollback but for the last rows - 1, which libvterm is
	 * given. */
	term_fast_sim(t, p + head, end - head, 1);
	t->fast_shadow = 1;
	t->fast_pending = 1;
	return end;
}

/*
 * Takes plain text from the start of p, when it can and when it is worth
 * it; returns how much it took, all of which libvterm has then seen as if
 * fed normally. With the shadow, the scrollback gets the lines scrolling
 * off and libvterm only the screen as it ends up, and only when something
 * needs it (term_fast_flush): a flood of text, read a few KB at a time,
 * redraws libvterm's screen once rather than once a read. Until then
 * libvterm's state but for the screen's cells and the cursor's column is
 * what the flush leaves, as plain text changes nothing else.
 */
static size_t
term_fast_feed(struct term *t, const unsigned char *p, size_t len)
{
	size_t		n = 0, plain;
	uint64_t	scrolls;

	if (!term_fast_ok(t)) {
		term_fast_flush(t);
		t->fast_shadow = 0;
		return 0;
	}
	if (!t->fast_shadow) {
		n = term_fast_start(t, p, len);
		if (!t->fast_shadow)
			return n;
	}
	plain = term_fast_plain(t, p + n, len - n, &scrolls);
	if (!t->fast_pending && scrolls < TERM_FAST_ROWS) {
		/* Cheaper through libvterm, which pushes what scrolls. */
		term_write(t, p + n, plain);
		term_fast_sim(t, p + n, plain, 0);
	} else if (plain > 0) {
		term_fast_sim(t, p + n, plain, 1);
		t->fast_pending = 1;
		t->damage = 1;
	}
	term_fast_taken++;
	return n + plain;
}

/* A DECSET or DECRST of the modes libvterm keeps to itself. */
static void
term_csi_done(struct term *t, int final)
{
	int	i, on = final == 'h';

	term_fast_csi(t, final);
	if (t->csi_leader != '?' || t->csi_inter || (final != 'h' &&
	    final != 'l'))
		return;
	for (i = 0; i < t->csi_nparams && i < SCAN_PARAMS; i++) {
		switch (t->csi_params[i]) {
		case 1004:
			t->state.focus_events = on;
			break;
		case 1006:
			t->state.mouse_sgr = on;
			break;
		case 2004:
			t->state.bracketed_paste = on;
			break;
		}
	}
}

static void
term_set_title(struct term *t, const char *s, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; i < len && n < sizeof t->title - 1; i++) {
		/* It is shown and may be sent on: no controls. */
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			continue;
		t->title[n++] = s[i];
	}
	t->title[n] = '\0';
	t->damage = 1;
}

/*
 * OSC 9 (iTerm2, and the notification most tools send) and
 * OSC 777;notify;TITLE;BODY (urxvt). ConEmu's OSC 9;N;... (progress bars
 * and the like) are not notifications.
 */
static int
term_osc_is_notification(const char *s, size_t len)
{
	size_t	i;

	if (len >= 11 && memcmp(s, "777;notify;", 11) == 0)
		return 1;
	if (len < 2 || memcmp(s, "9;", 2) != 0)
		return 0;
	for (i = 2; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		/* nothing */;
	return !(i > 2 && (i == len || s[i] == ';'));
}

static void
term_string_done(struct term *t)
{
	const char	*s = t->string.data;
	size_t		 len = t->string.len;

	if (t->string_over)
		return;
	switch (t->string_kind) {
	case ']':
		if (len >= 2 && (s[0] == '0' || s[0] == '2') && s[1] == ';')
			term_set_title(t, s + 2, len - 2);
		else if (term_osc_is_notification(s, len))
			t->notifications++;
		break;
	case 'P':
		/* DECRQSS and friends: libvterm answers them, given whole. */
		buf_add(&t->string, "\033\\", 2);
		term_write(t, "\033P", 2);
		term_write(t, t->string.data, t->string.len);
		break;
	}
}

static void
term_string_add(struct term *t, unsigned char c)
{
	if (t->string.len >= TERM_STRING_MAX)
		t->string_over = 1;
	else
		buf_addch(&t->string, c);
}

/*
 * libvterm 0.1.4 restores a cursor saved (DECSC) before the screen shrank
 * where it was, off the screen, and the next DECDHL or erase there reads
 * and writes outside its buffers. Put it back on the screen.
 */
static void
term_cursor_check(struct term *t)
{
	VTermPos	pos;
	char		cup[32];
	int		n;

	vterm_state_get_cursorpos(t->vstate, &pos);
	if (pos.row < t->rows && pos.col < t->cols)
		return;
	n = snprintf(cup, sizeof cup, "\033[%d;%dH",
	    (pos.row < t->rows ? pos.row : t->rows - 1) + 1,
	    (pos.col < t->cols ? pos.col : t->cols - 1) + 1);
	term_write(t, cup, (size_t)n);
}

/*
 * REP (CSI b) repeats the last character. libvterm 0.1.4 loops forever when
 * there is none yet or it is a combining mark, so REP is let through only
 * after a character below U+0300 (none is combining or wide; ncurses uses
 * REP for those only).
 */
static void
term_scan_text(struct term *t, unsigned char c)
{
	if (c >= 0x20 && c < 0x7f) {
		t->rep_safe = 1;
		t->utf8_left = 0;
	} else if (c >= 0xc0) {
		t->rep_safe = 0;
		t->utf8_left = (c >= 0xc2 && c <= 0xcb);  /* U+0080-02FF */
	} else if (c >= 0x80 && c < 0xc0 && t->utf8_left) {
		t->rep_safe = 1;
		t->utf8_left = 0;
	}
}

/*
 * libvterm 0.1.4 takes U+302A-302F and U+3099-309A, combining marks, for
 * wide: after a character on the last column, or two in a row, it writes
 * outside its buffers. The kana voicing marks (decomposed Japanese) become
 * the combining diaeresis and ring above, which look alike; the tone marks
 * go. Their UTF-8 is E3 80 AA-AF and E3 82 99-9A: a leading E3 is held
 * until the bytes after it say.
 */
static int
term_scan_e3(struct term *t, unsigned char c)
{
	static const char	diaeresis[] = "\xcc\x88", ring[] = "\xcc\x8a";

	if (t->scan == SCAN_E3) {
		if (c == 0x80 || c == 0x82) {
			t->scan = c == 0x80 ? SCAN_E3_80 : SCAN_E3_82;
			return 1;
		}
		term_write(t, "\xe3", 1);
	} else if (t->scan == SCAN_E3_80) {
		if (c >= 0xaa && c <= 0xaf) {
			t->scan = SCAN_GROUND;
			return 1;
		}
		term_write(t, "\xe3\x80", 2);
	} else {
		if (c == 0x99 || c == 0x9a) {
			term_write(t, c == 0x99 ? diaeresis : ring, 2);
			t->scan = SCAN_GROUND;
			return 1;
		}
		term_write(t, "\xe3\x82", 2);
	}
	t->scan = SCAN_GROUND;
	return 0;  /* c is read as usual */
}

/*
 * A resize resets the scroll region, as xterm and tmux do: libvterm 0.1.4
 * keeps one that no longer fits (its top under the new last row) and
 * scrolls outside its buffers. DECSTBM homes the cursor, so it is put back.
 * The bytes go in between sequences only.
 */
static void
term_region_reset(struct term *t)
{
	VTermPos	pos;
	char		seq[48];
	int		n;

	t->region_reset = 0;
	t->fast_unsafe &= ~TERM_FAST_REGION;  /* no region now */
	vterm_state_get_cursorpos(t->vstate, &pos);
	n = snprintf(seq, sizeof seq, "\033[r\033[%d;%dH",
	    (pos.row < t->rows ? pos.row : t->rows - 1) + 1,
	    (pos.col < t->cols ? pos.col : t->cols - 1) + 1);
	term_write(t, seq, (size_t)n);
}

/* The byte after a held ESC that did not start a string: it is passed on
 * with what follows. Returns 1 when the cursor may need term_cursor_check
 * after it. */
static int
term_scan_escape(struct term *t, unsigned char c)
{
	term_fast_escape(t, c);
	t->scan = SCAN_GROUND;
	if (c == '[') {
		t->scan = SCAN_CSI;
		t->csi_leader = 0;
		t->csi_inter = 0;
		t->csi_nparams = 0;
		memset(t->csi_params, 0, sizeof t->csi_params);
	} else if (c >= 0x20 && c <= 0x2f)
		t->scan = SCAN_ESC_INTER;
	else if (c == 'c')
		term_reset_modes(t);
	else if (c == '=')
		t->keypad_app = 1;
	else if (c == '>')
		t->keypad_app = 0;
	return c == '8';
}

/* Reads one byte of a CSI; returns 0 when the CSI must be dropped. */
static int
term_scan_csi(struct term *t, unsigned char c)
{
	unsigned	*p;

	if (c >= '0' && c <= '9') {
		if (t->csi_nparams == 0)
			t->csi_nparams = 1;
		p = &t->csi_params[t->csi_nparams - 1];
		*p = *p * 10 + (c - '0');
		if (*p > SCAN_PARAM_MAX)
			return 0;
	} else if (c == ';' || c == ':') {
		if (t->csi_nparams == 0)
			t->csi_nparams = 1;
		if (t->csi_nparams == SCAN_PARAMS)
			return 0;
		t->csi_nparams++;
	} else if (c >= 0x3c && c <= 0x3f) {
		if (t->csi_nparams == 0 && t->csi_leader == 0)
			t->csi_leader = c;
		else
			t->csi_inter = 1;  /* malformed: ignore the sequence */
	} else if (c >= 0x20 && c <= 0x2f)
		t->csi_inter = 1;
	else if (c >= 0x40 && c <= 0x7e) {
		t->scan = SCAN_GROUND;
		if (c == 'b' && !t->rep_safe)
			return 0;
		term_csi_done(t, c);
	} else if (c == 0x18 || c == 0x1a || c >= 0x80)
		t->scan = SCAN_GROUND;  /* cancelled, as libvterm does */
	/* controls are done inside a CSI, DEL ignored: nothing here */
	return 1;
}

static int
term_string_start(unsigned char c)
{
	return c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X';
}

/*
 * Passes data to libvterm, watching it for the modes and taking the
 * strings out. An ESC is held back until the next byte (maybe in the next
 * feed) says whether it starts a string.
 */
static void
term_scan_feed(struct term *t, const unsigned char *p, size_t len)
{
	size_t		i, start = 0;  /* p[start..i) is passed on */
	unsigned char	c;

	for (i = 0; i < len; i++) {
		c = p[i];
		if (t->region_reset && t->scan == SCAN_GROUND) {
			term_write(t, p + start, i - start);
			start = i;
			term_region_reset(t);
		}
		switch (t->scan) {
		case SCAN_E3:
		case SCAN_E3_80:
		case SCAN_E3_82:
			if (term_scan_e3(t, c)) {
				start = i + 1;
				continue;
			}
			start = i;
			break;
		case SCAN_STRING:
			if (c == 0x07) {
				term_string_done(t);
				t->scan = SCAN_GROUND;
			} else if (c == 0x18 || c == 0x1a)
				t->scan = SCAN_GROUND;
			else if (c == 0x1b)
				t->scan = SCAN_STRING_ESC;
			else
				term_string_add(t, c);
			start = i + 1;
			continue;
		case SCAN_STRING_ESC:
			term_string_done(t);  /* ST, or an ESC ending it */
			if (c == '\\') {
				t->scan = SCAN_GROUND;
				start = i + 1;
				continue;
			}
			/* That ESC starts what follows: c is read after it. */
			t->scan = SCAN_ESC;
			start = i;
			break;
		default:
			break;
		}
		if (c == 0x1b) {
			term_write(t, p + start, i - start);
			if (t->scan == SCAN_ESC)
				term_write(t, "\033", 1);  /* the held one */
			t->scan = SCAN_ESC;
			start = i + 1;
			continue;
		}
		switch (t->scan) {
		case SCAN_ESC:
			/* As libvterm: inside an escape, controls are done
			 * and bytes from DEL up ignored. */
			if (c == 0x18 || c == 0x1a) {
				t->scan = SCAN_GROUND;  /* cancelled */
				start = i;
				break;
			}
			if (c < 0x20) {
				term_write(t, p + i, 1);
				start = i + 1;
				break;
			}
			if (c >= 0x7f) {
				start = i + 1;
				break;
			}
			if (term_string_start(c)) {
				t->scan = SCAN_STRING;
				t->string_kind = c;
				t->string_over = 0;
				buf_reset(&t->string);
				start = i + 1;
				break;
			}
			term_write(t, "\033", 1);
			start = i;
			if (term_scan_escape(t, c)) {
				term_write(t, p + start, i + 1 - start);
				start = i + 1;
				term_cursor_check(t);
			}
			break;
		case SCAN_ESC_INTER:
			if (c == 0x18 || c == 0x1a)
				t->fast_inter = 0;  /* cancelled */
			else
				term_fast_escape_inter(t, c);
			if ((c >= 0x30 && c <= 0x7e) || c == 0x18 || c == 0x1a)
				t->scan = SCAN_GROUND;
			break;
		case SCAN_CSI:
			if (!term_scan_csi(t, c)) {
				term_write(t, p + start, i - start);
				term_write(t, "\030", 1);
				if (t->scan != SCAN_GROUND)
					t->scan = SCAN_CSI_DROP;
				start = i + 1;
			}
			break;
		case SCAN_CSI_DROP:
			if ((c >= 0x40 && c <= 0x7e) || c >= 0x80 || c == 0x18 ||
			    c == 0x1a)
				t->scan = SCAN_GROUND;
			start = i + 1;
			break;
		case SCAN_GROUND:
			term_scan_text(t, c);
			if (c == 0xe3) {
				term_write(t, p + start, i - start);
				t->scan = SCAN_E3;
				start = i + 1;
			}
			break;
		default:
			break;
		}
	}
	if (t->scan != SCAN_STRING && t->scan != SCAN_STRING_ESC &&
	    t->scan != SCAN_E3 && t->scan != SCAN_E3_80 && t->scan != SCAN_E3_82)
		term_write(t, p + start, len - start);
}

void
term_feed(struct term *t, const char *data, size_t len)
{
	VTermPos	pos;
	size_t		n;

	t->output_bytes += len;
	n = term_fast_feed(t, (const unsigned char *)data, len);
	if (n < len) {
		term_fast_flush(t);
		t->fast_shadow = 0;  /* libvterm sees what it does not know */
		term_scan_feed(t, (const unsigned char *)data + n, len - n);
	}
	vterm_screen_flush_damage(t->screen);
	if (t->fast_pending)
		term_fast_cursor(t, &pos);
	else
		vterm_state_get_cursorpos(t->vstate, &pos);
	t->state.cursor_row = pos.row;
	t->state.cursor_col = pos.col;
}

void
term_resize(struct term *t, int rows, int cols)
{
	VTermPos	pos;

	rows = term_clamp(rows, 1, TERM_ROWS_MAX);
	cols = term_clamp(cols, TERM_COLS_MIN, TERM_COLS_MAX);
	if (rows == t->rows && cols == t->cols)
		return;
	term_fast_flush(t);
	vterm_set_size(t->vt, rows, cols);
	t->fast_shadow = 0;
	t->rows = rows;
	t->cols = cols;
	t->region_reset = 1;
	if (t->scan == SCAN_GROUND)
		term_region_reset(t);
	vterm_screen_flush_damage(t->screen);
	t->cache->valid = 0;
	t->damage = 1;
	vterm_state_get_cursorpos(t->vstate, &pos);
	t->state.cursor_row = pos.row;
	t->state.cursor_col = pos.col;
}

void
term_size(const struct term *t, int *rows, int *cols)
{
	*rows = t->rows;
	*cols = t->cols;
}

const struct term_state *
term_state(const struct term *t)
{
	return &t->state;
}

static VTermModifier
term_key_modifiers(key_code key)
{
	VTermModifier	mod = VTERM_MOD_NONE;

	if (key & KEYC_SHIFT)
		mod |= VTERM_MOD_SHIFT;
	if (key & KEYC_META)
		mod |= VTERM_MOD_ALT;
	if (key & KEYC_CTRL)
		mod |= VTERM_MOD_CTRL;
	return mod;
}

/* The control byte for C-c as xterm sends it, or -1 when there is none. */
static int
term_key_control(key_code c)
{
	if (c >= 'a' && c <= 'z')
		return (int)(c - 'a' + 1);
	if (c >= 'A' && c <= 'Z')
		return (int)(c - 'A' + 1);
	if (c >= '3' && c <= '7')
		return (int)(c - '3' + 0x1b);
	switch (c) {
	case ' ': case '@': case '2':
		return 0;
	case '[': return 0x1b;
	case '\\': return 0x1c;
	case ']': return 0x1d;
	case '^': case '~': return 0x1e;
	case '_': case '/': case '-': return 0x1f;
	case '?': case '8': return 0x7f;
	}
	return -1;
}

static const VTermKey term_special_keys[] = {
	[KEYC_F1 - KEYC_BASE] = VTERM_KEY_FUNCTION(1),
	[KEYC_F2 - KEYC_BASE] = VTERM_KEY_FUNCTION(2),
	[KEYC_F3 - KEYC_BASE] = VTERM_KEY_FUNCTION(3),
	[KEYC_F4 - KEYC_BASE] = VTERM_KEY_FUNCTION(4),
	[KEYC_F5 - KEYC_BASE] = VTERM_KEY_FUNCTION(5),
	[KEYC_F6 - KEYC_BASE] = VTERM_KEY_FUNCTION(6),
	[KEYC_F7 - KEYC_BASE] = VTERM_KEY_FUNCTION(7),
	[KEYC_F8 - KEYC_BASE] = VTERM_KEY_FUNCTION(8),
	[KEYC_F9 - KEYC_BASE] = VTERM_KEY_FUNCTION(9),
	[KEYC_F10 - KEYC_BASE] = VTERM_KEY_FUNCTION(10),
	[KEYC_F11 - KEYC_BASE] = VTERM_KEY_FUNCTION(11),
	[KEYC_F12 - KEYC_BASE] = VTERM_KEY_FUNCTION(12),
	[KEYC_IC - KEYC_BASE] = VTERM_KEY_INS,
	[KEYC_DC - KEYC_BASE] = VTERM_KEY_DEL,
	[KEYC_HOME - KEYC_BASE] = VTERM_KEY_HOME,
	[KEYC_END - KEYC_BASE] = VTERM_KEY_END,
	[KEYC_NPAGE - KEYC_BASE] = VTERM_KEY_PAGEDOWN,
	[KEYC_PPAGE - KEYC_BASE] = VTERM_KEY_PAGEUP,
	[KEYC_BTAB - KEYC_BASE] = VTERM_KEY_TAB,
	[KEYC_UP - KEYC_BASE] = VTERM_KEY_UP,
	[KEYC_DOWN - KEYC_BASE] = VTERM_KEY_DOWN,
	[KEYC_LEFT - KEYC_BASE] = VTERM_KEY_LEFT,
	[KEYC_RIGHT - KEYC_BASE] = VTERM_KEY_RIGHT,
	[KEYC_KP_ENTER - KEYC_BASE] = VTERM_KEY_KP_ENTER,
};

static void
term_key_special(struct term *t, key_code base, VTermModifier mod)
{
	VTermKey	vkey;

	if (base >= KEYC_END_SPECIAL)
		return;
	vkey = term_special_keys[base - KEYC_BASE];
	if (base == KEYC_BTAB)
		mod |= VTERM_MOD_SHIFT;
	/* Keypad Enter is Enter unless the agent asked for the keypad. */
	if (base == KEYC_KP_ENTER && !t->keypad_app)
		vkey = VTERM_KEY_ENTER;
	if (vkey != VTERM_KEY_NONE)
		vterm_keyboard_key(t->vt, vkey, mod);
}

static const VTermKey term_plain_keys[0x80] = {
	['\r'] = VTERM_KEY_ENTER,
	['\t'] = VTERM_KEY_TAB,
	[0x1b] = VTERM_KEY_ESCAPE,
	[0x7f] = VTERM_KEY_BACKSPACE,
};

void
term_key(struct term *t, key_code key, struct buf *out)
{
	key_code	base = key & KEYC_MASK_KEY;
	VTermModifier	mod = term_key_modifiers(key);
	int		ctrl;

	if (base == KEYC_NONE)
		return;
	t->sink = out;
	if (base >= KEYC_BASE)
		term_key_special(t, base, mod);
	else if (base < 0x80 && term_plain_keys[base] != VTERM_KEY_NONE)
		vterm_keyboard_key(t->vt, term_plain_keys[base], mod);
	else if ((key & KEYC_CTRL) && (ctrl = term_key_control(base)) != -1) {
		if (key & KEYC_META)
			buf_addch(out, 0x1b);
		buf_addch(out, ctrl);
	} else if (base < 0x20) {
		if (key & KEYC_META)
			buf_addch(out, 0x1b);
		buf_addch(out, (int)base);
	} else if (term_codepoint_valid((uint32_t)base))
		vterm_keyboard_unichar(t->vt, (uint32_t)base, mod);
	t->sink = &t->answers;
}

void
term_paste(struct term *t, const char *data, size_t len, struct buf *out)
{
	static const char	end[] = "\033[201~";
	size_t			i;

	if (t->state.bracketed_paste)
		buf_add(out, "\033[200~", 6);
	for (i = 0; i < len; i++) {
		/* Newlines are CR, as typed (and as xterm and tmux paste). */
		if (data[i] == '\n') {
			if (i == 0 || data[i - 1] != '\r')
				buf_addch(out, '\r');
			continue;
		}
		/* The paste cannot end itself early. */
		if (t->state.bracketed_paste && len - i >= sizeof end - 1 &&
		    memcmp(data + i, end, sizeof end - 1) == 0) {
			i += sizeof end - 2;
			continue;
		}
		buf_addch(out, data[i]);
	}
	if (t->state.bracketed_paste)
		buf_add(out, end, sizeof end - 1);
}

/* Whether the agent asked for this kind of mouse event. */
static int
term_mouse_wanted(const struct term *t, const struct input_mouse *m)
{
	int	mode = t->state.mouse, b = m->button;

	if (mode == VTERM_PROP_MOUSE_NONE)
		return 0;
	if (b & 64)
		return !m->release;  /* wheels have no release */
	if (b & 32) {
		if (mode == VTERM_PROP_MOUSE_MOVE)
			return 1;
		return mode == VTERM_PROP_MOUSE_DRAG && (b & 3) != 3;
	}
	return 1;
}

void
term_mouse(struct term *t, const struct input_mouse *m, struct buf *out)
{
	int	code = m->button;

	if (m->row < 0 || m->col < 0 || m->row >= t->rows ||
	    m->col >= t->cols || !term_mouse_wanted(t, m))
		return;
	if (m->mods & KEYC_SHIFT)
		code |= 4;
	if (m->mods & KEYC_META)
		code |= 8;
	if (m->mods & KEYC_CTRL)
		code |= 16;
	if (t->state.mouse_sgr) {
		buf_printf(out, "\033[<%d;%d;%d%c", code, m->col + 1,
		    m->row + 1, m->release ? 'm' : 'M');
		return;
	}
	/* X10: a release does not say which button; 223 is the last
	 * position a byte can hold. */
	if (m->release)
		code |= 3;
	if (m->col + 1 > 223 || m->row + 1 > 223 || code + 32 > 255)
		return;
	buf_add(out, "\033[M", 3);
	buf_addch(out, 32 + code);
	buf_addch(out, 32 + m->col + 1);
	buf_addch(out, 32 + m->row + 1);
}

void
term_take_output(struct term *t, struct buf *out)
{
	buf_add(out, t->answers.data, t->answers.len);
	buf_reset(&t->answers);
}

void
term_cell(const struct term *t, int row, int col, struct term_cell *cell)
{
	struct sb_cache		*cache = t->cache;
	const struct sb_line	*line;
	VTermScreenCell		 vc;
	VTermPos		 pos = { .row = row, .col = col };
	unsigned char		*text;
	int			*len;

	if (row >= t->rows || col < 0 || col >= t->cols || row < -t->sb_count) {
		*cell = term_blank;
		return;
	}
	if (row >= 0 && t->fast_pending) {
		/* The shadow: plain text in the default pen. */
		text = term_fast_row(t, row, &len);
		*cell = term_blank;
		if (col < *len)
			cell->chars[0] = text[col];
		return;
	}
	if (row >= 0) {
		if (!vterm_screen_get_cell(t->screen, pos, &vc))
			*cell = term_blank;
		else
			term_cell_from_vterm(cell, &vc);
		return;
	}
	if (!cache->valid || cache->line != -row) {
		line = t->sb[(t->sb_first + t->sb_count + row) %
		    TERM_SCROLLBACK];
		if (line->cells > cache->size) {
			cache->cells = xreallocarray(cache->cells, line->cells,
			    sizeof *cache->cells);
			cache->size = line->cells;
		}
		cache->ncells = term_unpack(line, cache->cells);
		cache->line = -row;
		cache->valid = 1;
	}
	if (col < cache->ncells)
		*cell = cache->cells[col];
	else
		*cell = term_blank;
}

int
term_scrollback_lines(const struct term *t)
{
	return t->sb_count;
}

uint64_t
term_lines_scrolled(const struct term *t)
{
	return t->scrolled;
}

int
term_take_damage(struct term *t)
{
	int	damage = t->damage;

	t->damage = 0;
	return damage;
}

int
term_take_bells(struct term *t)
{
	int	bells = t->bells;

	t->bells = 0;
	return bells;
}

int
term_take_notifications(struct term *t)
{
	int	n = t->notifications;

	t->notifications = 0;
	return n;
}

uint64_t
term_output_bytes(const struct term *t)
{
	return t->output_bytes;
}
