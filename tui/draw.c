#include "config.h"

#include <string.h>
#include <wchar.h>

#include "tui/tui.h"

/*
 * Term cells into an ncurses window. Colour pairs come from ncurses'
 * alloc_pair (which reuses the oldest pair when the table is full), asked
 * once per run of cells of one colour; loop.c calls start_color and
 * use_default_colors so -1 is the terminal's own colour.
 */

/* xterm's first 16 colours. */
static const uint8_t draw_ansi[16][3] = {
	{ 0, 0, 0 }, { 205, 0, 0 }, { 0, 205, 0 }, { 205, 205, 0 },
	{ 0, 0, 238 }, { 205, 0, 205 }, { 0, 205, 205 }, { 229, 229, 229 },
	{ 127, 127, 127 }, { 255, 0, 0 }, { 0, 255, 0 }, { 255, 255, 0 },
	{ 92, 92, 255 }, { 255, 0, 255 }, { 0, 255, 255 }, { 255, 255, 255 },
};
/* The six levels of each component in xterm's 6x6x6 cube. */
static const int draw_cube[6] = { 0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff };

/* The RGB of xterm's colour i (0-255). */
static void
draw_palette(int i, int *r, int *g, int *b)
{
	if (i < 16) {
		*r = draw_ansi[i][0];
		*g = draw_ansi[i][1];
		*b = draw_ansi[i][2];
	} else if (i < 232) {
		i -= 16;
		*r = draw_cube[i / 36];
		*g = draw_cube[(i / 6) % 6];
		*b = draw_cube[i % 6];
	} else
		*r = *g = *b = 8 + 10 * (i - 232);
}

static int
draw_distance(int r1, int g1, int b1, int r2, int g2, int b2)
{
	return (r1 - r2) * (r1 - r2) + (g1 - g2) * (g1 - g2) +
	    (b1 - b2) * (b1 - b2);
}

/*
 * The nearest of the first n (8 or 16) colours. A grey goes to a grey:
 * by plain distance mid grey is nearer yellow than white.
 */
static int
draw_nearest_ansi(int r, int g, int b, int n)
{
	int	i, best = 0, d, best_d = -1, grey, ansi_grey;
	int	max = r > g ? (r > b ? r : b) : (g > b ? g : b);
	int	min = r < g ? (r < b ? r : b) : (g < b ? g : b);

	grey = max - min < 32;
	for (i = 0; i < n; i++) {
		ansi_grey = draw_ansi[i][0] == draw_ansi[i][1] &&
		    draw_ansi[i][1] == draw_ansi[i][2];
		if (grey && !ansi_grey)
			continue;
		d = draw_distance(r, g, b, draw_ansi[i][0], draw_ansi[i][1],
		    draw_ansi[i][2]);
		if (best_d == -1 || d < best_d) {
			best = i;
			best_d = d;
		}
	}
	return best;
}

static int
draw_cube_level(int v)
{
	if (v < 48)
		return 0;
	if (v < 115)
		return 1;
	return (v - 35) / 40;
}

/* The nearest of the cube and the grey ramp (as tmux finds it). */
static int
draw_nearest_256(int r, int g, int b)
{
	int	qr = draw_cube_level(r), qg = draw_cube_level(g);
	int	qb = draw_cube_level(b);
	int	cr = draw_cube[qr], cg = draw_cube[qg], cb = draw_cube[qb];
	int	avg, grey_index, grey;

	if (cr == r && cg == g && cb == b)
		return 16 + 36 * qr + 6 * qg + qb;
	avg = (r + g + b) / 3;
	grey_index = avg > 238 ? 23 : (avg < 3 ? 0 : (avg - 3) / 10);
	grey = 8 + 10 * grey_index;
	if (draw_distance(r, g, b, grey, grey, grey) <
	    draw_distance(r, g, b, cr, cg, cb))
		return 232 + grey_index;
	return 16 + 36 * qr + 6 * qg + qb;
}

int
draw_color(const struct term_color *c, int ncolors)
{
	int	r, g, b;

	if (c->type == TERM_COLOR_DEFAULT || ncolors < 8)
		return -1;
	if (c->type == TERM_COLOR_INDEX) {
		if (ncolors >= 256 || c->index < (ncolors >= 16 ? 16 : 8))
			return c->index;
		/* Bright ones too: bright black (grey text) becomes white,
		 * which stays readable on a black background. */
		draw_palette(c->index, &r, &g, &b);
	} else {
		r = c->r;
		g = c->g;
		b = c->b;
		if (ncolors >= 256)
			return draw_nearest_256(r, g, b);
	}
	return draw_nearest_ansi(r, g, b, ncolors >= 16 ? 16 : 8);
}

static const struct {
	unsigned	term;
	attr_t		curses;
} draw_attr_table[] = {
	{ TERM_BOLD, A_BOLD },
	{ TERM_ITALIC, A_ITALIC },
	{ TERM_UNDERLINE, A_UNDERLINE },
	{ TERM_REVERSE, A_REVERSE },
	{ TERM_BLINK, A_BLINK },
	{ TERM_DIM, A_DIM },
	/* ncurses has no strikethrough: TERM_STRIKE is not shown */
};

unsigned long
draw_attrs(unsigned attrs)
{
	unsigned long	a = A_NORMAL;
	size_t		i;

	for (i = 0; i < sizeof draw_attr_table / sizeof draw_attr_table[0];
	    i++) {
		if (attrs & draw_attr_table[i].term)
			a |= draw_attr_table[i].curses;
	}
	return a;
}

/* The colour pair asked last, so a run of cells asks ncurses once. */
struct draw_pairs {
	int	ncolors;
	int	fg, bg;
	int	pair;
};

static int
draw_pair(struct draw_pairs *p, const struct term_cell *c)
{
	int	fg, bg;

	if (p->ncolors == 0)
		return 0;
	fg = draw_color(&c->fg, p->ncolors);
	bg = draw_color(&c->bg, p->ncolors);
	if (fg == p->fg && bg == p->bg)
		return p->pair;
	p->fg = fg;
	p->bg = bg;
	if (fg == -1 && bg == -1)
		p->pair = 0;
	else if ((p->pair = alloc_pair(fg, bg)) == -1)
		p->pair = 0;  /* no pair to be had: the default colours */
	return p->pair;
}

/* The selection with its start first, in term_cell rows. */
static void
draw_sel_order(const struct draw_sel *in, struct draw_sel *out)
{
	*out = *in;
	if (in->start_row > in->end_row || (in->start_row == in->end_row &&
	    in->start_col > in->end_col)) {
		out->start_row = in->end_row;
		out->start_col = in->end_col;
		out->end_row = in->start_row;
		out->end_col = in->start_col;
	}
}

static int
draw_selected(const struct draw_sel *sel, int row, int col)
{
	if (sel == NULL || !sel->active || row < sel->start_row ||
	    row > sel->end_row)
		return 0;
	if (sel->line_mode)
		return 1;
	if (row == sel->start_row && col < sel->start_col)
		return 0;
	if (row == sel->end_row && col > sel->end_col)
		return 0;
	return 1;
}

/* Fills cc with cell c; returns the columns it takes (1 or 2). */
static int
draw_cchar(cchar_t *cc, const struct term_cell *c, attr_t attrs, int pair,
    int room)
{
	wchar_t	wc[CCHARW_MAX + 1];
	int	i, width = c->width;

	if (c->chars[0] == 0 || (width == 2 && room < 2)) {
		wc[0] = L' ';
		wc[1] = L'\0';
		width = 1;
	} else {
		for (i = 0; i < CCHARW_MAX && i < TERM_MAX_CHARS &&
		    c->chars[i] != 0; i++)
			wc[i] = (wchar_t)c->chars[i];
		wc[i] = L'\0';
		/* ncurses moves by wcwidth: when it disagrees with libvterm
		 * the columns would slide, so show a replacement. */
		if (c->chars[0] >= 0x80 && wcwidth(wc[0]) != width) {
			wc[0] = 0xfffd;
			wc[1] = L'\0';
			width = 1;
		}
	}
	setcchar(cc, wc, attrs, 0, &pair);
	return width;
}

void
draw_term(WINDOW *win, const struct term *t, int offset,
    const struct draw_sel *sel)
{
	struct draw_pairs	 pairs = { .fg = -1, .bg = -1, .pair = 0 };
	struct draw_sel		 order;
	struct term_cell	 c;
	cchar_t			 cc;
	attr_t			 attrs;
	int			 wrows, wcols, rows, cols, y, x, row, width;
	int			 pair, shown;

	getmaxyx(win, wrows, wcols);
	term_size(t, &rows, &cols);
	if (offset > term_scrollback_lines(t))
		offset = term_scrollback_lines(t);
	if (offset < 0)
		offset = 0;
	pairs.ncolors = has_colors() ? COLORS : 0;
	if (sel != NULL) {
		draw_sel_order(sel, &order);
		sel = &order;
	}
	for (y = 0; y < wrows; y++) {
		row = y - offset;
		wmove(win, y, 0);
		for (x = 0; x < wcols && x < cols && row < rows; x += width) {
			term_cell(t, row, x, &c);
			if (c.width == 0)
				c = (struct term_cell){ .width = 1 };  /* stray */
			width = c.width == 2 ? 2 : 1;
			attrs = draw_attrs(c.attrs);
			if (draw_selected(sel, row, x))
				attrs ^= A_REVERSE;
			pair = draw_pair(&pairs, &c);
			shown = draw_cchar(&cc, &c, attrs, pair, wcols - x);
			wadd_wch(win, &cc);
			if (shown < width && x + 1 < wcols) {
				/* the right half of what is shown narrow */
				setcchar(&cc, L" ", attrs, 0, &pair);
				wadd_wch(win, &cc);
			}
		}
		if (x < wcols) {
			wattrset(win, A_NORMAL);
			wclrtoeol(win);
		}
	}
}
