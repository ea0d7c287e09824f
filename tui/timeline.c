/*
 * The timeline pane: one line per checkpoint of the session (number, time,
 * reason, label, +added ~modified -deleted), the newest highlighted, and a
 * selection the timeline keys move.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui/tui.h"

void
timeline_clear(struct timeline *tl)
{
	for (size_t i = 0; i < tl->n; i++)
		ckpt_free(&tl->v[i]);
	free(tl->v);
	tl->v = NULL;
	tl->n = 0;
}

int
timeline_load(struct timeline *tl, struct store *st,
    const struct session *s, char **cause)
{
	struct ckpt *v;
	size_t n;
	int follow = tl->n == 0 || tl->selected + 1 >= tl->n;

	if (checkpoint_list(st, s->id, &v, &n, cause) != 0)
		return -1;
	timeline_clear(tl);
	tl->v = v;
	tl->n = n;
	/* the selection follows the newest unless it was moved up */
	if (follow || tl->selected >= n)
		tl->selected = n > 0 ? n - 1 : 0;
	return 0;
}

const struct ckpt *
timeline_newest(const struct timeline *tl)
{
	return tl->n > 0 ? &tl->v[tl->n - 1] : NULL;
}

const struct ckpt *
timeline_selection(const struct timeline *tl)
{
	return tl->n > 0 ? &tl->v[tl->selected] : NULL;
}

void
timeline_move(struct timeline *tl, enum action a, int page)
{
	size_t step = page > 1 ? (size_t)page - 1 : 1;

	if (tl->n == 0)
		return;
	switch (a) {
	case ACTION_UP:
		if (tl->selected > 0)
			tl->selected--;
		break;
	case ACTION_DOWN:
		if (tl->selected + 1 < tl->n)
			tl->selected++;
		break;
	case ACTION_PAGE_UP:
	case ACTION_HALF_UP:
		if (a == ACTION_HALF_UP)
			step = step / 2 + 1;
		tl->selected = tl->selected > step ? tl->selected - step : 0;
		break;
	case ACTION_PAGE_DOWN:
	case ACTION_HALF_DOWN:
		if (a == ACTION_HALF_DOWN)
			step = step / 2 + 1;
		tl->selected += step;
		if (tl->selected >= tl->n)
			tl->selected = tl->n - 1;
		break;
	case ACTION_TOP:
		tl->selected = 0;
		break;
	case ACTION_BOTTOM:
		tl->selected = tl->n - 1;
		break;
	default:
		break;
	}
}

/* "#12 14:03:22 prompt fix the parser +3 ~1 -0" */
void
timeline_line(const struct ckpt *c, struct buf *b)
{
	struct tm tm;
	time_t t = (time_t)c->time;
	char when[16];

	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	buf_printf(b, "#%u %s %s", c->number, when, c->reason);
	if (c->label != NULL && *c->label != '\0')
		buf_printf(b, " %s", c->label);
	buf_printf(b, " +%llu ~%llu -%llu", (unsigned long long)c->added,
	    (unsigned long long)c->modified, (unsigned long long)c->deleted);
}

void
timeline_draw(struct timeline *tl, WINDOW *win, int focused)
{
	struct buf line = BUF_INIT;
	int rows, cols, body, y;
	size_t first, i;

	getmaxyx(win, rows, cols);
	werase(win);
	if (rows < 1 || cols < 2)
		return;
	wattron(win, A_BOLD);
	mvwaddnstr(win, 0, 0, focused ? "Timeline (focus)" : "Timeline",
	    cols);
	wattroff(win, A_BOLD);
	body = rows - 1;
	if (body <= 0 || tl->n == 0)
		return;
	/* keep the selection in view, the newest at the bottom by default */
	first = tl->n > (size_t)body ? tl->n - (size_t)body : 0;
	if (tl->selected < first)
		first = tl->selected;
	if (tl->top > first && tl->top <= tl->selected)
		first = tl->top;
	tl->top = first;
	for (i = first, y = 1; i < tl->n && y < rows; i++, y++) {
		buf_reset(&line);
		timeline_line(&tl->v[i], &line);
		if (i + 1 == tl->n)
			wattron(win, A_BOLD);
		if (focused && i == tl->selected)
			wattron(win, A_REVERSE);
		mvwaddnstr(win, y, 0, line.data, cols);
		wattroff(win, A_BOLD | A_REVERSE);
	}
	buf_free(&line);
}
