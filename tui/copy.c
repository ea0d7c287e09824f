#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/tui.h"

/*
 * Copy mode over the agent pane, as tmux's: a cursor that moves over the
 * scrollback and the screen, a selection, searches. Lines are counted from
 * the first one the terminal ever scrolled (term_lines_scrolled() + row),
 * so the cursor, the selection and the view stay on their text while the
 * agent keeps writing.
 */

struct copy_mode {
	struct term	*term;
	int64_t		 cy;           /* the cursor's line */
	int		 cx;
	int64_t		 top;          /* the line at the window's top */
	int		 height;       /* the window's, at the last draw */

	int		 sel_active;
	int		 sel_line;     /* whole lines */
	int64_t		 sel_y;        /* where the selection began */
	int		 sel_x;

	char		*search;
	int		 search_forward;

	struct buf	 line;         /* a line's text, for search */
	int		*line_cols;    /* the column of each byte of line */
	size_t		 line_cols_size;
	char		 position[48];
};

/* The lines copy mode may visit: the oldest kept to the screen's last. */
static void
copy_bounds(const struct copy_mode *cm, int64_t *first, int64_t *last)
{
	int64_t	scrolled = (int64_t)term_lines_scrolled(cm->term);
	int	rows, cols;

	term_size(cm->term, &rows, &cols);
	*first = scrolled - term_scrollback_lines(cm->term);
	*last = scrolled + rows - 1;
}

static int
copy_row(const struct copy_mode *cm, int64_t y)
{
	return (int)(y - (int64_t)term_lines_scrolled(cm->term));
}

static int
copy_cols(const struct copy_mode *cm)
{
	int	rows, cols;

	term_size(cm->term, &rows, &cols);
	return cols;
}

static void
copy_cell(const struct copy_mode *cm, int64_t y, int x, struct term_cell *c)
{
	term_cell(cm->term, copy_row(cm, y), x, c);
}

static int64_t
copy_clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/* Off the right half of a wide character, to its left half. */
static void
copy_fix_x(struct copy_mode *cm)
{
	struct term_cell	c;

	copy_cell(cm, cm->cy, cm->cx, &c);
	if (c.width == 0 && cm->cx > 0)
		cm->cx--;
}

/* Everything back in range, and the view over the cursor. */
static void
copy_clamp(struct copy_mode *cm)
{
	int64_t	first, last, scrolled;
	int	cols = copy_cols(cm), h = cm->height;

	copy_bounds(cm, &first, &last);
	scrolled = (int64_t)term_lines_scrolled(cm->term);
	cm->cy = copy_clamp64(cm->cy, first, last);
	cm->sel_y = copy_clamp64(cm->sel_y, first, last);
	cm->cx = (int)copy_clamp64(cm->cx, 0, cols - 1);
	cm->sel_x = (int)copy_clamp64(cm->sel_x, 0, cols - 1);
	if (h < 1)
		h = 1;
	if (cm->cy < cm->top)
		cm->top = cm->cy;
	if (cm->cy >= cm->top + h)
		cm->top = cm->cy - h + 1;
	cm->top = copy_clamp64(cm->top, first, scrolled);
}

/* Lines of scrollback shown above the screen: draw_term's offset. */
static int
copy_offset(const struct copy_mode *cm)
{
	return (int)((int64_t)term_lines_scrolled(cm->term) - cm->top);
}

struct copy_mode *
copy_enter(struct term *t)
{
	struct copy_mode	*cm = xcalloc(1, sizeof *cm);
	const struct term_state	*s = term_state(t);
	int			 cols;

	cm->term = t;
	term_size(t, &cm->height, &cols);
	cm->top = (int64_t)term_lines_scrolled(t);
	cm->cy = cm->top + s->cursor_row;
	cm->cx = s->cursor_col;
	buf_init(&cm->line);
	copy_clamp(cm);
	return cm;
}

void
copy_free(struct copy_mode *cm)
{
	if (cm == NULL)
		return;
	free(cm->search);
	free(cm->line_cols);
	buf_free(&cm->line);
	free(cm);
}

static size_t
copy_utf8(char *out, uint32_t c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Appends a cell's text (a blank is a space); returns the bytes added. */
static size_t
copy_add_cell(struct buf *b, const struct term_cell *c)
{
	char	u[4];
	size_t	before = b->len;
	int	i;

	if (c->chars[0] == 0) {
		buf_addch(b, ' ');
		return 1;
	}
	for (i = 0; i < TERM_MAX_CHARS && c->chars[i] != 0; i++) {
		if (c->chars[i] > 0x10ffff ||
		    (c->chars[i] >= 0xd800 && c->chars[i] <= 0xdfff))
			continue;
		buf_add(b, u, copy_utf8(u, c->chars[i]));
	}
	return b->len - before;
}

/* Appends columns from..to (inclusive) of line y, trailing blanks
 * dropped. */
static void
copy_add_line(struct copy_mode *cm, struct buf *b, int64_t y, int from,
    int to)
{
	struct term_cell	c;
	size_t			start = b->len;
	int			x;

	copy_cell(cm, y, from, &c);
	if (c.width == 0 && from > 0)
		from--;  /* a wide character's right half: all of it */
	for (x = from; x <= to; x++) {
		copy_cell(cm, y, x, &c);
		if (c.width != 0)
			copy_add_cell(b, &c);
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->len--;
	b->data[b->len] = '\0';
}

static char *
copy_selection(struct copy_mode *cm)
{
	struct buf	b = BUF_INIT;
	int64_t		sy = cm->sel_y, ey = cm->cy, y;
	int		sx = cm->sel_x, ex = cm->cx, cols = copy_cols(cm);

	if (sy > ey || (sy == ey && sx > ex)) {
		sy = cm->cy;
		sx = cm->cx;
		ey = cm->sel_y;
		ex = cm->sel_x;
	}
	if (cm->sel_line) {
		sx = 0;
		ex = cols - 1;
	}
	for (y = sy; y <= ey; y++) {
		if (y != sy)
			buf_addch(&b, '\n');
		copy_add_line(cm, &b, y, y == sy ? sx : 0,
		    y == ey ? ex : cols - 1);
	}
	return buf_detach(&b, NULL);
}

/* Word classes for word movement: blank, punctuation, the rest. */
static int
copy_class(const struct term_cell *c)
{
	uint32_t	ch = c->chars[0];

	if (ch == 0 || ch == ' ')
		return 0;
	if (ch < 0x80 && ch != '_' && !((ch >= '0' && ch <= '9') ||
	    (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
		return 1;
	return 2;
}

/* One cell forward or back over right halves and line ends; 0 at the
 * first or last cell. */
static int
copy_step(struct copy_mode *cm, int64_t *y, int *x, int forward)
{
	struct term_cell	c;
	int64_t			first, last;
	int			cols = copy_cols(cm);

	copy_bounds(cm, &first, &last);
	do {
		if (forward) {
			if (*x + 1 < cols)
				(*x)++;
			else if (*y < last) {
				(*y)++;
				*x = 0;
			} else
				return 0;
		} else {
			if (*x > 0)
				(*x)--;
			else if (*y > first) {
				(*y)--;
				*x = cols - 1;
			} else
				return 0;
		}
		copy_cell(cm, *y, *x, &c);
	} while (c.width == 0);
	return 1;
}

static int
copy_class_at(struct copy_mode *cm, int64_t y, int x)
{
	struct term_cell	c;

	copy_cell(cm, y, x, &c);
	return copy_class(&c);
}

static void
copy_word_next(struct copy_mode *cm)
{
	int64_t	y = cm->cy;
	int	x = cm->cx, class = copy_class_at(cm, y, x);

	/* Off this word, over any blanks (and line ends). */
	while (class != 0 && copy_class_at(cm, y, x) == class) {
		if (!copy_step(cm, &y, &x, 1))
			return;
		if (y != cm->cy)
			break;
	}
	while (copy_class_at(cm, y, x) == 0) {
		if (!copy_step(cm, &y, &x, 1))
			return;
	}
	cm->cy = y;
	cm->cx = x;
}

static void
copy_word_prev(struct copy_mode *cm)
{
	int64_t	y = cm->cy, py;
	int	x = cm->cx, px, class;

	if (!copy_step(cm, &y, &x, 0))
		return;
	while (copy_class_at(cm, y, x) == 0) {
		if (!copy_step(cm, &y, &x, 0))
			break;
	}
	class = copy_class_at(cm, y, x);
	for (;;) {
		py = y;
		px = x;
		if (!copy_step(cm, &py, &px, 0) || py != y ||
		    copy_class_at(cm, py, px) != class)
			break;
		x = px;
	}
	cm->cy = y;
	cm->cx = x;
}

static void
copy_line_end(struct copy_mode *cm)
{
	struct term_cell	c;
	int			x;

	for (x = copy_cols(cm) - 1; x > 0; x--) {
		copy_cell(cm, cm->cy, x, &c);
		if (c.width != 0 && copy_class(&c) != 0)
			break;
	}
	cm->cx = x;
}

/* Line y's text in cm->line, and the column each byte came from. */
static void
copy_line_text(struct copy_mode *cm, int64_t y)
{
	struct term_cell	c;
	size_t			n, i;
	int			x, cols = copy_cols(cm);

	buf_reset(&cm->line);
	for (x = 0; x < cols; x++) {
		copy_cell(cm, y, x, &c);
		if (c.width == 0)
			continue;
		n = copy_add_cell(&cm->line, &c);
		if (cm->line.len > cm->line_cols_size) {
			cm->line_cols_size = cm->line.len * 2;
			cm->line_cols = xreallocarray(cm->line_cols,
			    cm->line_cols_size, sizeof *cm->line_cols);
		}
		for (i = cm->line.len - n; i < cm->line.len; i++)
			cm->line_cols[i] = x;
	}
}

/*
 * The column of the match on line y nearest after (forward) or before x;
 * with any, the first (forward) or last one. -1 when there is none.
 */
static int
copy_search_line(struct copy_mode *cm, int64_t y, int x, int forward,
    int any)
{
	const char	*p, *end;
	size_t		 len = strlen(cm->search);
	int		 col, found = -1;

	copy_line_text(cm, y);
	p = cm->line.data;
	end = cm->line.data + cm->line.len;
	while ((p = memmem(p, (size_t)(end - p), cm->search, len)) != NULL) {
		col = cm->line_cols[p - cm->line.data];
		if (forward && (any || col > x))
			return col;
		if (!forward && (any || col < x))
			found = col;
		p++;
	}
	return found;
}

/* Moves to the next match, wrapping around; 0 when there is none. */
static int
copy_search(struct copy_mode *cm, int forward)
{
	int64_t	first, last, y, n, lines;
	int	col;

	if (cm->search == NULL || *cm->search == '\0')
		return 0;
	copy_bounds(cm, &first, &last);
	lines = last - first + 1;
	col = copy_search_line(cm, cm->cy, cm->cx, forward, 0);
	for (n = 1, y = cm->cy; col == -1 && n <= lines; n++) {
		y = forward ? y + 1 : y - 1;
		if (y > last)
			y = first;
		if (y < first)
			y = last;
		col = copy_search_line(cm, y, cm->cx, forward, 1);
	}
	if (col == -1)
		return 0;
	cm->cy = y;
	cm->cx = col;
	return 1;
}

void
copy_search_text(struct copy_mode *cm, const char *pattern, int forward)
{
	free(cm->search);
	cm->search = xstrdup(pattern);
	cm->search_forward = forward;
	copy_search(cm, forward);
	copy_clamp(cm);
}

static void
copy_move_lines(struct copy_mode *cm, int64_t n)
{
	cm->cy += n;
	cm->top += n;
}

int
copy_action(struct copy_mode *cm, enum action action, char **text)
{
	int64_t	first, last;
	int	page = cm->height > 1 ? cm->height - 1 : 1;
	int	half = cm->height > 1 ? cm->height / 2 : 1;

	if (text != NULL)
		*text = NULL;
	copy_clamp(cm);
	copy_bounds(cm, &first, &last);
	switch (action) {
	case ACTION_UP:
		cm->cy--;
		break;
	case ACTION_DOWN:
		cm->cy++;
		break;
	case ACTION_LEFT:
		if (cm->cx > 0)
			cm->cx--;
		copy_clamp(cm);
		copy_fix_x(cm);
		return 0;
	case ACTION_RIGHT: {
		int64_t	y = cm->cy;
		int	x = cm->cx;

		if (copy_step(cm, &y, &x, 1) && y == cm->cy)
			cm->cx = x;
		return 0;
	}
	case ACTION_PAGE_UP:
		copy_move_lines(cm, -page);
		break;
	case ACTION_PAGE_DOWN:
		copy_move_lines(cm, page);
		break;
	case ACTION_HALF_UP:
		copy_move_lines(cm, -half);
		break;
	case ACTION_HALF_DOWN:
		copy_move_lines(cm, half);
		break;
	case ACTION_TOP:
		cm->cy = first;
		cm->cx = 0;
		break;
	case ACTION_BOTTOM:
		cm->cy = last;
		cm->cx = 0;
		break;
	case ACTION_WORD_NEXT:
		copy_word_next(cm);
		break;
	case ACTION_WORD_PREV:
		copy_word_prev(cm);
		break;
	case ACTION_LINE_START:
		cm->cx = 0;
		break;
	case ACTION_LINE_END:
		copy_line_end(cm);
		break;
	case ACTION_SEARCH_FORWARD:
	case ACTION_SEARCH_BACKWARD:
		cm->search_forward = action == ACTION_SEARCH_FORWARD;
		copy_search(cm, cm->search_forward);
		break;
	case ACTION_SEARCH_NEXT:
		copy_search(cm, cm->search_forward);
		break;
	case ACTION_SEARCH_PREV:
		copy_search(cm, !cm->search_forward);
		break;
	case ACTION_BEGIN_SELECTION:
		cm->sel_active = 1;
		cm->sel_line = 0;
		cm->sel_y = cm->cy;
		cm->sel_x = cm->cx;
		break;
	case ACTION_SELECT_LINE:
		cm->sel_active = 1;
		cm->sel_line = 1;
		cm->sel_y = cm->cy;
		cm->sel_x = 0;
		break;
	case ACTION_COPY:
	case ACTION_SELECT:
		if (cm->sel_active && text != NULL)
			*text = copy_selection(cm);
		return 1;
	case ACTION_CLOSE:
		return 1;
	default:
		break;
	}
	copy_clamp(cm);
	copy_fix_x(cm);
	return 0;
}

void
copy_draw(struct copy_mode *cm, WINDOW *win)
{
	struct draw_sel	 sel = { 0 };
	cchar_t		 cc;
	wchar_t		 wc[CCHARW_MAX + 1];
	attr_t		 attrs;
	short		 small;
	int		 pair, wy, wx, wrows, wcols;
	int64_t		 scrolled;

	getmaxyx(win, wrows, wcols);
	cm->height = wrows;
	copy_clamp(cm);
	scrolled = (int64_t)term_lines_scrolled(cm->term);
	if (cm->sel_active) {
		sel.active = 1;
		sel.line_mode = cm->sel_line;
		sel.start_row = (int)(cm->sel_y - scrolled);
		sel.start_col = cm->sel_x;
		sel.end_row = (int)(cm->cy - scrolled);
		sel.end_col = cm->cx;
	}
	draw_term(win, cm->term, copy_offset(cm), &sel);

	/* The copy cursor: its cell reversed, and the window's cursor. */
	wy = (int)(cm->cy - cm->top);
	wx = cm->cx;
	if (wy < 0 || wy >= wrows || wx >= wcols)
		return;
	if (mvwin_wch(win, wy, wx, &cc) == OK &&
	    getcchar(&cc, wc, &attrs, &small, &pair) == OK)
		mvwchgat(win, wy, wx, 1, attrs ^ A_REVERSE, 0, &pair);
	wmove(win, wy, wx);
}

const char *
copy_position(struct copy_mode *cm)
{
	copy_clamp(cm);
	snprintf(cm->position, sizeof cm->position, "[%d/%d]",
	    copy_offset(cm), term_scrollback_lines(cm->term));
	return cm->position;
}
