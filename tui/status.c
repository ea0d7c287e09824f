/*
 * The status line: what the session is and what airlock is doing, one row
 * at the bottom. Left: " airlock NAME | TREE | net:none | 7 hidden |
 * 3 changes | #4 prompt 14:03". Right: what airlock is busy with, or the
 * last message. A question or copy mode's search takes the whole line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui/tui.h"

static void
status_left(const struct status_info *si, struct buf *b)
{
	struct tm tm;
	time_t t;
	char when[8];

	buf_printf(b, " airlock %s", si->prefix ? "[prefix] " : "");
	if (si->name != NULL && *si->name != '\0')
		buf_printf(b, "%s", si->name);
	else
		buf_printf(b, "#%u", si->id);
	buf_printf(b, " | %s | %s", si->tree, si->net);
	if (si->refused > 0)
		buf_printf(b, " %ld refused", si->refused);
	buf_printf(b, " | %zu hidden", si->hidden);
	if (si->changes >= 0)
		buf_printf(b, " | %ld change%s", si->changes,
		    si->changes == 1 ? "" : "s");
	if (si->newest != NULL) {
		t = (time_t)si->newest->time;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%H:%M", &tm);
		buf_printf(b, " | #%u %s %s", si->newest->number,
		    si->newest->reason, when);
	}
	if (si->copy != NULL)
		buf_printf(b, " | copy %s", si->copy);
}

void
status_draw(const struct status_info *si, WINDOW *win, int64_t now_ms)
{
	struct buf left = BUF_INIT, right = BUF_INIT;
	int cols, rows, x;

	getmaxyx(win, rows, cols);
	(void)rows;
	werase(win);
	wbkgdset(win, A_REVERSE);
	wattrset(win, A_REVERSE);
	if (si->prompt != NULL) {
		buf_printf(&left, " %s%s", si->search ? "search: " : "",
		    si->prompt);
		mvwaddnstr(win, 0, 0, left.data, cols);
		buf_free(&left);
		/* the rest of the line keeps the bar's look */
		for (x = getcurx(win); x < cols; x++)
			waddch(win, ' ');
		return;
	}
	status_left(si, &left);
	/* the message first: it is what a narrow line keeps */
	if (si->message != NULL && now_ms < si->message_until)
		buf_printf(&right, "%s ", si->message);
	if (si->busy != NULL && now_ms - si->busy_since >= 1000)
		buf_printf(&right, "%s %llds... ", si->busy,
		    (long long)((now_ms - si->busy_since) / 1000));
	else if (si->busy != NULL)
		buf_printf(&right, "%s... ", si->busy);
	for (x = 0; x < cols; x++)
		mvwaddch(win, 0, x, ' ');
	/* the message wins over the facts when the line is short */
	if ((int)(left.len + right.len) > cols && right.len > 0) {
		size_t keep = (size_t)cols > right.len + 1 ?
		    (size_t)cols - right.len - 1 : 0;
		mvwaddnstr(win, 0, 0, left.data, (int)keep);
		mvwaddnstr(win, 0, (int)keep, right.data, cols - (int)keep);
	} else {
		mvwaddnstr(win, 0, 0, left.data, cols);
		if (right.len > 0)
			mvwaddnstr(win, 0, cols - (int)right.len, right.data,
			    (int)right.len);
	}
	wattrset(win, A_NORMAL);
	buf_free(&left);
	buf_free(&right);
}
